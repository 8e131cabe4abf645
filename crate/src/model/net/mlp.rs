//! An MLP as a network of layers: `nn.Sequential(Linear, act, Dropout(p_1), Linear, act,
//! Dropout(p_2), …, Linear)`, so whatever takes a network takes an MLP. The other way, a network
//! that is such a chain is recognised (`NetSpec::as_mlp`), so the analyses with a dense-only fast
//! path (the fused exact HVP pass, the expected Hessian over masks, the noise and split steps) can
//! choose it for any all-dense network.
//!
//! Every hidden layer gets its Dropout layer, rate 0 included (a pass skips it), so the state_dict
//! keys do not depend on the rates: Linear layer l is `layers.{3l}`, as in PyTorch's Sequential.

use super::params::NetParams;
use super::spec::{Layer, NetSpec};
use crate::error::{LabError, LabResult};
use crate::model::{Activation, HostParams, InitScheme, MlpConfig};

impl MlpConfig {
    /// The MLP as a network on flat inputs of `widths[0]` features (the map [widths[0], 1, 1]).
    pub fn net_spec(&self) -> NetSpec {
        let last = self.widths.len().saturating_sub(2);
        let mut layers = Vec::with_capacity(3 * self.widths.len());
        for (l, &out) in self.widths.iter().skip(1).enumerate() {
            layers.push(Layer::Dense { out });
            if l < last {
                layers.push(match self.activation {
                    Activation::Relu => Layer::Relu,
                    Activation::Tanh => Layer::Tanh,
                });
                layers.push(Layer::Dropout {
                    rate: self.drop_rates.get(l).copied().unwrap_or(0.0),
                    channelwise: false,
                });
            }
        }
        NetSpec {
            input: [self.widths.first().copied().unwrap_or(0), 1, 1],
            classes: self.widths.last().copied().unwrap_or(0),
            layers,
        }
    }
}

impl NetSpec {
    /// The MLP this network is, when it is one: an optional leading Flatten, then Linear layers
    /// with one activation (the same throughout) after each hidden one, each optionally followed
    /// by an element-wise Dropout. PyTorch does not store an initialisation, so `init` is the one
    /// for the activation (it matters only for a fresh start).
    pub fn as_mlp(&self) -> Option<MlpConfig> {
        let mut layers = self.layers.as_slice();
        let [c, h, w] = self.input;
        if let [Layer::Flatten, rest @ ..] = layers {
            layers = rest;
        } else if h != 1 || w != 1 {
            return None;
        }
        let mut widths = vec![c * h * w];
        let mut drop_rates = Vec::new();
        let mut activation = None;
        while let [Layer::Dense { out }, rest @ ..] = layers {
            widths.push(*out);
            layers = rest;
            if layers.is_empty() {
                break;
            }
            let act = match layers[0] {
                Layer::Relu => Activation::Relu,
                Layer::Tanh => Activation::Tanh,
                _ => return None,
            };
            if activation.is_some_and(|a| a != act) {
                return None;
            }
            activation = Some(act);
            layers = &layers[1..];
            match layers {
                [Layer::Dropout {
                    rate,
                    channelwise: false,
                }, rest @ ..] => {
                    drop_rates.push(*rate);
                    layers = rest;
                }
                _ => drop_rates.push(0.0),
            }
        }
        if !layers.is_empty() || widths.len() < 2 || widths.last() != Some(&self.classes) {
            return None;
        }
        let activation = activation.unwrap_or(Activation::Relu);
        Some(MlpConfig {
            widths,
            activation,
            drop_rates,
            init: InitScheme::for_activation(activation),
        })
    }
}

/// [rows, cols] row-major -> [cols, rows] row-major.
pub fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = v[r * cols + c];
        }
    }
    t
}

impl HostParams {
    /// The same weights as the parameters of `config.net_spec()`: each W_l from the lab's
    /// [in, out] to PyTorch's [out, in], biases as they are.
    pub fn to_net(&self, config: &MlpConfig) -> LabResult<NetParams> {
        if self.widths != config.widths || self.layers.len() + 1 != self.widths.len() {
            return Err(LabError::Weights(format!(
                "weights of widths {:?} for an MLP of widths {:?}",
                self.widths, config.widths
            )));
        }
        let mut params = Vec::with_capacity(2 * self.layers.len());
        for ((w, b), dims) in self.layers.iter().zip(self.widths.windows(2)) {
            if w.len() != dims[0] * dims[1] || b.len() != dims[1] {
                return Err(LabError::Weights(format!(
                    "a {}x{} layer holds {} weights and {} biases",
                    dims[0],
                    dims[1],
                    w.len(),
                    b.len()
                )));
            }
            params.push(transpose(w, dims[0], dims[1]));
            params.push(b.clone());
        }
        let out = NetParams {
            spec: config.net_spec(),
            params,
            running: Vec::new(),
        };
        out.validate()?;
        Ok(out)
    }
}

impl NetParams {
    /// The MLP and its weights in the lab's [in, out] layout, when the network is an MLP.
    pub fn as_mlp(&self) -> Option<(MlpConfig, HostParams)> {
        let config = self.spec.as_mlp()?;
        if self.params.len() != 2 * (config.widths.len() - 1) {
            return None;
        }
        let layers = self
            .params
            .chunks_exact(2)
            .zip(config.widths.windows(2))
            .map(|(wb, dims)| (transpose(&wb[0], dims[1], dims[0]), wb[1].clone()))
            .collect();
        let widths = config.widths.clone();
        Some((config, HostParams { widths, layers }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::initial_params;
    use crate::model::net::{Arch, ArchConfig};
    use crate::rng::{stream, Stream};

    fn cfg(act: Activation, drop_rates: Vec<f32>) -> MlpConfig {
        MlpConfig {
            widths: vec![6, 5, 4, 3],
            activation: act,
            drop_rates,
            init: InitScheme::for_activation(act),
        }
    }

    #[test]
    fn an_mlp_is_a_sequential_of_linear_activation_dropout() {
        let c = cfg(Activation::Tanh, vec![0.0, 0.5]);
        let spec = c.net_spec();
        assert_eq!(spec.input, [6, 1, 1]);
        let names: Vec<String> = spec.params().unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "layers.0.weight",
                "layers.0.bias",
                "layers.3.weight",
                "layers.3.bias",
                "layers.6.weight",
                "layers.6.bias"
            ]
        );
        assert_eq!(spec.params().unwrap()[2].shape, vec![4, 5]);
        let sites = spec.dropout_sites().unwrap();
        assert_eq!(sites.len(), 1, "a rate-0 layer is no site");
        assert_eq!((sites[0].layer, sites[0].rate), (5, 0.5));
        assert_eq!(
            spec.param_count().unwrap(),
            c.param_count(),
            "same parameters"
        );
        assert_eq!(spec.as_mlp(), Some(c));
    }

    #[test]
    fn weights_convert_both_ways_bit_for_bit() {
        let c = cfg(Activation::Relu, vec![0.2, 0.0]);
        let host = initial_params(&c, &mut stream(3, Stream::Init));
        let net = host.to_net(&c).unwrap();
        // W_0[in = 2, out = 1] of the lab is weight[out = 1, in = 2] of PyTorch.
        assert_eq!(net.params[0][6 + 2], host.layers[0].0[2 * 5 + 1]);
        let (back_cfg, back) = net.as_mlp().unwrap();
        assert_eq!((back_cfg, back), (c.clone(), host.clone()));
        let mut other = c.clone();
        other.widths[1] = 7;
        assert!(host.to_net(&other).is_err());
    }

    #[test]
    fn only_dense_chains_are_mlps() {
        let lenet = ArchConfig::new(Arch::Lenet5)
            .build([1, 28, 28], 10)
            .unwrap();
        assert_eq!(lenet.as_mlp(), None);
        let mut spec = cfg(Activation::Relu, vec![0.1, 0.1]).net_spec();
        spec.layers[4] = Layer::Tanh;
        assert_eq!(spec.as_mlp(), None, "two activations are not one MLP");
        let flat = NetSpec {
            input: [1, 2, 2],
            classes: 3,
            layers: vec![
                Layer::Flatten,
                Layer::Dense { out: 5 },
                Layer::Relu,
                Layer::Dense { out: 3 },
            ],
        };
        let m = flat.as_mlp().unwrap();
        assert_eq!((m.widths, m.drop_rates), (vec![4, 5, 3], vec![0.0]));
        let channelwise = NetSpec {
            input: [4, 1, 1],
            classes: 3,
            layers: vec![
                Layer::Dense { out: 5 },
                Layer::Relu,
                Layer::Dropout {
                    rate: 0.5,
                    channelwise: true,
                },
                Layer::Dense { out: 3 },
            ],
        };
        assert_eq!(channelwise.as_mlp(), None);
    }
}

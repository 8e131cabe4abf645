//! The MLP as plain tensors: layer l maps h to act(h W_l + b_l); the last layer gives logits.
//! Dropout multiplies a hidden layer's activations by an explicit mask (see `dropout.rs`).

use burn::tensor::{activation, Device, Tensor, TensorData};

use super::config::{Activation, MlpConfig};
use super::dropout::LayerMask;
use super::host::HostParams;
use super::loss::cross_entropy;
use super::net::Net;
use crate::backend::read_f32;
use crate::error::LabResult;
use crate::kernels::matmul;

#[derive(Debug, Clone)]
pub struct Dense {
    /// [fan_in, fan_out]
    pub weight: Tensor<2>,
    /// [fan_out]
    pub bias: Tensor<1>,
}

#[derive(Debug, Clone)]
pub struct Mlp {
    pub config: MlpConfig,
    pub layers: Vec<Dense>,
}

impl Mlp {
    pub fn from_host(config: &MlpConfig, params: &HostParams, device: &Device) -> Self {
        let layers = params
            .layers
            .iter()
            .zip(params.widths.windows(2))
            .map(|((w, b), dims)| Dense {
                weight: Tensor::from_data(TensorData::new(w.clone(), [dims[0], dims[1]]), device),
                bias: Tensor::from_data(TensorData::new(b.clone(), [dims[1]]), device),
            })
            .collect();
        Mlp {
            config: config.clone(),
            layers,
        }
    }

    pub async fn to_host(&self) -> LabResult<HostParams> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            layers.push((
                read_f32(l.weight.clone()).await?,
                read_f32(l.bias.clone()).await?,
            ));
        }
        Ok(HostParams {
            widths: self.config.widths.clone(),
            layers,
        })
    }

    /// The same network as a `Net` of layers (`net::mlp`): each W_l transposed to PyTorch's
    /// [out, in] and flattened, on the device.
    pub fn to_net(&self) -> LabResult<Net> {
        let spec = self.config.net_spec();
        let param_specs = spec.params()?;
        let mut params = Vec::with_capacity(2 * self.layers.len());
        for l in &self.layers {
            let [fan_in, fan_out] = l.weight.dims();
            params.push(l.weight.clone().transpose().reshape([fan_in * fan_out]));
            params.push(l.bias.clone());
        }
        Ok(Net {
            spec,
            param_specs,
            params,
            running: Vec::new(),
            batches_tracked: 0,
        })
    }

    /// Logits [batch, classes]. `masks[i]` multiplies the activations of hidden layer i.
    pub fn forward(&self, x: Tensor<2>, masks: &[Option<Tensor<2>>]) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = matmul(h, layer.weight.clone()) + layer.bias.clone().unsqueeze_dim(0);
            if i < last {
                h = match self.config.activation {
                    Activation::Relu => activation::relu(h),
                    Activation::Tanh => activation::tanh(h),
                };
                if let Some(Some(mask)) = masks.get(i) {
                    h = h * mask.clone();
                }
            }
        }
        h
    }

    /// Logits under dropout modes (dropout.rs `LayerMask`): the same value as `forward` with
    /// the forward masks, the gradients of the mode.
    pub fn forward_modes(&self, x: Tensor<2>, masks: &[LayerMask]) -> Tensor<2> {
        let last = self.layers.len() - 1;
        // The input of the next layer: its value, and for a split mask the backward view.
        let mut h = x;
        let mut split: Option<(Tensor<2>, Tensor<2>)> = None;
        for (i, layer) in self.layers.iter().enumerate() {
            let z = match split.take() {
                None => matmul(h, layer.weight.clone()),
                Some((a_f, a_b)) => {
                    matmul(a_b.clone(), layer.weight.clone())
                        + matmul(a_f - a_b, layer.weight.clone()).detach()
                }
            };
            h = z + layer.bias.clone().unsqueeze_dim(0);
            if i < last {
                h = match self.config.activation {
                    Activation::Relu => activation::relu(h),
                    Activation::Tanh => activation::tanh(h),
                };
                match masks.get(i) {
                    Some(LayerMask::Same(m)) => h = h * m.clone(),
                    Some(LayerMask::Split { forward, backward }) => {
                        let view = |m: &Option<Tensor<2>>| match m {
                            Some(m) => h.clone() * m.clone(),
                            None => h.clone(),
                        };
                        split = Some((view(forward), view(backward)));
                    }
                    Some(LayerMask::None) | None => {}
                }
            }
        }
        h
    }

    /// θ + α d, layer by layer, on the device.
    pub fn axpy(&self, alpha: f64, d: &Mlp) -> Mlp {
        let layers = self
            .layers
            .iter()
            .zip(&d.layers)
            .map(|(t, d)| Dense {
                weight: t.weight.clone() + d.weight.clone().mul_scalar(alpha),
                bias: t.bias.clone() + d.bias.clone().mul_scalar(alpha),
            })
            .collect();
        Mlp {
            config: self.config.clone(),
            layers,
        }
    }

    /// The same weights as autodiff leaves that retain their gradients, for one backward pass.
    pub fn as_grad_leaves(&self) -> Self {
        Mlp {
            config: self.config.clone(),
            layers: self
                .layers
                .iter()
                .map(|l| Dense {
                    weight: l.weight.clone().autodiff().require_grad(),
                    bias: l.bias.clone().autodiff().require_grad(),
                })
                .collect(),
        }
    }

    /// Mean cross-entropy on (x, one-hot y) with the given masks, and its gradient per layer
    /// (weight, bias), by burn's reverse-mode autodiff.
    pub fn loss_and_grads(
        &self,
        x: Tensor<2>,
        y: Tensor<2>,
        masks: &[Option<Tensor<2>>],
    ) -> (Tensor<1>, Vec<(Tensor<2>, Tensor<1>)>) {
        let masks: Vec<LayerMask> = masks
            .iter()
            .map(|m| m.clone().map_or(LayerMask::None, LayerMask::Same))
            .collect();
        self.loss_and_grads_modes(x, y, &masks)
    }

    /// As `loss_and_grads`, with the gradient rule of each layer's dropout mode.
    pub fn loss_and_grads_modes(
        &self,
        x: Tensor<2>,
        y: Tensor<2>,
        masks: &[LayerMask],
    ) -> (Tensor<1>, Vec<(Tensor<2>, Tensor<1>)>) {
        self.grads_of(|m| cross_entropy(m.forward_modes(x, masks), y))
    }

    /// The value of a scalar function of the weights and its gradient per layer (weight, bias),
    /// by one reverse-mode pass.
    pub fn grads_of(
        &self,
        f: impl FnOnce(&Mlp) -> Tensor<1>,
    ) -> (Tensor<1>, Vec<(Tensor<2>, Tensor<1>)>) {
        let leaves = self.as_grad_leaves();
        let loss = f(&leaves);
        let grads = loss.backward();
        let g = leaves
            .layers
            .iter()
            // A weight the function does not depend on has no gradient entry: its gradient is 0.
            .map(|l| {
                (
                    l.weight
                        .grad(&grads)
                        .unwrap_or_else(|| l.weight.clone().inner().zeros_like()),
                    l.bias
                        .grad(&grads)
                        .unwrap_or_else(|| l.bias.clone().inner().zeros_like()),
                )
            })
            .collect();
        (loss.inner(), g)
    }
}

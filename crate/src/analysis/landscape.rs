//! 1-D loss and accuracy landscapes f(α) = L(θ + α d) along filter-normalised random directions
//! (Li et al. 2018, as paper 000 Sec. 5 / Fig. 1 uses them), on any network.
//!
//! Filter normalisation: d is Gaussian and each filter d_ij is replaced by d_ij / ‖d_ij‖ · ‖θ_ij‖
//! (Frobenius norms). What a filter is depends on the network (`Filter`): paper 000 says "for
//! FNN, one layer is one filter", so in an MLP each weight matrix is one filter; in a conv net
//! Li et al.'s code cuts every weight tensor along its first dimension, one output channel's
//! kernel (a dense layer's one output unit's row) a filter. One-dimensional parameters (biases,
//! BatchNorm's γ and β) get d = 0, Li et al.'s choice, and BatchNorm's running statistics are
//! kept: the curve probes the weights of the evaluation-mode network.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{LabError, LabResult};
use crate::model::net::{Net, NetParams, NetSpec};
use crate::train::eval::{evaluate_logits, DeviceData};

/// What one filter of the normalisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// A whole weight tensor (paper 000's FNNs).
    Layer,
    /// One output unit or channel of a weight tensor (Li et al.'s conv nets).
    Output,
}

impl Filter {
    /// Paper 000's choice for the network: a layer for an MLP, an output channel otherwise.
    pub fn for_net(spec: &NetSpec) -> Filter {
        if spec.as_mlp().is_some() {
            Filter::Layer
        } else {
            Filter::Output
        }
    }
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
}

/// A Gaussian direction over every parameter tensor (state_dict order), each filter of a weight
/// rescaled to the norm of θ's, one-dimensional tensors zero.
pub fn filter_normalised_direction(
    theta: &NetParams,
    filter: Filter,
    rng: &mut impl Rng,
) -> LabResult<Vec<Vec<f32>>> {
    let specs = theta.spec.params()?;
    Ok(specs
        .iter()
        .zip(&theta.params)
        .map(|(s, w)| {
            if s.shape.len() < 2 {
                return vec![0.0; w.len()];
            }
            let per = match filter {
                Filter::Layer => w.len(),
                Filter::Output => w.len() / s.shape[0],
            }
            .max(1);
            let mut d: Vec<f32> = (0..w.len())
                .map(|_| rng.sample::<f32, _>(StandardNormal))
                .collect();
            for (df, wf) in d.chunks_mut(per).zip(w.chunks(per)) {
                let scale = norm(wf) / norm(df).max(f64::MIN_POSITIVE);
                df.iter_mut().for_each(|x| *x = (*x as f64 * scale) as f32);
            }
            d
        })
        .collect())
}

/// Evenly spaced α values from `from` to `to` inclusive.
pub fn grid(from: f64, to: f64, points: usize) -> Vec<f64> {
    match points {
        0 => vec![],
        1 => vec![from],
        n => (0..n)
            .map(|i| from + (to - from) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

/// (mean cross-entropy, accuracy) of the evaluation-mode network at θ + α d for each α, on one
/// data set. θ and d stay on the device; each point costs one evaluation.
pub async fn curve(
    theta: &NetParams,
    direction: &[Vec<f32>],
    alphas: &[f64],
    data: &DeviceData,
    device: &Device,
) -> LabResult<Vec<(f32, f32)>> {
    let base = Net::from_host(theta, device)?;
    if direction.len() != base.params.len()
        || direction
            .iter()
            .zip(&base.param_specs)
            .any(|(d, s)| d.len() != s.len())
    {
        return Err(LabError::Config(
            "the direction does not have the network's parameter shapes".into(),
        ));
    }
    let dir: Vec<Tensor<1>> = direction
        .iter()
        .map(|d| Tensor::from_data(TensorData::new(d.clone(), [d.len()]), device))
        .collect();
    let mut out = Vec::with_capacity(alphas.len());
    for &alpha in alphas {
        let mut moved = base.clone();
        moved.params = base
            .params
            .iter()
            .zip(&dir)
            .map(|(p, d)| p.clone() + d.clone().mul_scalar(alpha))
            .collect();
        out.push(evaluate_logits(data, |x| moved.logits(x)).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, InitScheme, MlpConfig};
    use crate::rng::{stream, Stream};

    #[test]
    fn each_layer_of_an_mlp_is_one_filter_with_the_norm_of_thetas_layer() {
        let cfg = MlpConfig {
            widths: vec![30, 20, 10, 5],
            activation: Activation::Relu,
            drop_rates: vec![0.0, 0.0],
            init: InitScheme::Xavier,
        };
        let spec = cfg.net_spec();
        assert_eq!(Filter::for_net(&spec), Filter::Layer);
        let theta = NetParams::init(&spec, &mut stream(1, Stream::Init)).unwrap();
        let d =
            filter_normalised_direction(&theta, Filter::Layer, &mut stream(1, Stream::Directions))
                .unwrap();
        assert_eq!(d.len(), 6);
        for (l, (dv, tv)) in d.iter().zip(&theta.params).enumerate() {
            assert_eq!(dv.len(), tv.len());
            if l % 2 == 1 {
                assert!(dv.iter().all(|&x| x == 0.0), "bias {l} stays put");
                continue;
            }
            assert!(
                (norm(dv) / norm(tv) - 1.0).abs() < 1e-6,
                "{} vs {}",
                norm(dv),
                norm(tv)
            );
            // Only the layer is normalised, not each output unit's row: the rows' norm ratios
            // spread (they would all be 1 with `Filter::Output`).
            let outputs = [20, 10, 5][l / 2];
            let per = tv.len() / outputs;
            let spread = (0..outputs)
                .map(|o| {
                    let r = o * per..(o + 1) * per;
                    (norm(&dv[r.clone()]) / norm(&tv[r]) - 1.0).abs()
                })
                .fold(0.0, f64::max);
            assert!(spread > 0.05, "layer {l}: rows normalised one by one");
        }
        // A direction, not a copy of θ: nearly orthogonal in high dimension.
        let (tw, dw) = (&theta.params[0], &d[0]);
        let cos = tw
            .iter()
            .zip(dw)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum::<f64>()
            / (norm(tw) * norm(dw));
        assert!(cos.abs() < 0.2, "cosine {cos}");
    }

    #[test]
    fn grid_is_inclusive() {
        let g = grid(-1.0, 1.0, 51);
        assert_eq!((g.len(), g[0], g[25], g[50]), (51, -1.0, 0.0, 1.0));
    }
}

//! 1-D loss and accuracy landscapes of conv nets, f(α) = L(θ + α d), with Li et al.'s (2018)
//! filter normalisation as their code applies it to conv nets (paper 000 Fig. 1b/1c use it on
//! VGG-9 and ResNet-20): every weight tensor of two or more dimensions is cut along its first
//! dimension, so a filter is one output channel's kernel (a dense layer's filter is one output
//! unit's row), and each filter of d gets the Frobenius norm of θ's filter. One-dimensional
//! parameters (biases, BatchNorm's γ and β) get d = 0, and BatchNorm's running statistics are
//! kept: the curve probes the weights of the evaluation-mode network. (For MLPs paper 000 takes
//! a whole layer as one filter: `analysis::landscape`.)

use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{LabError, LabResult};
use crate::model::net::{Net, NetParams};
use crate::train::eval::{evaluate_logits, DeviceData};

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
}

/// A Gaussian direction over every parameter tensor (state_dict order), filter-normalised.
pub fn net_filter_normalised_direction(
    theta: &NetParams,
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
            let filters = s.shape[0];
            let per = w.len() / filters;
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

/// (mean cross-entropy, accuracy) of the evaluation-mode network at θ + α d for each α.
pub async fn net_curve(
    theta: &NetParams,
    direction: &[Vec<f32>],
    alphas: &[f64],
    data: &DeviceData,
    device: &burn::tensor::Device,
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

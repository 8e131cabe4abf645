//! Training steps with noise other than Bernoulli dropout (paper 002 Sec. 4.1 and 5.3):
//! Gaussian dropout, the disentanglement noise of Algorithm 2 (analysis/reverse_noise.rs) and
//! stochastic weight noise, the contraction baseline. All draws are host-side from the step's
//! stream, so a seed gives the same noise on every backend.

use burn::tensor::{activation, Device, Tensor, TensorData};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};
use crate::kernels::matmul;
use crate::model::dropout::{sample_gaussian_mask, LayerMask};
use crate::model::loss::cross_entropy;
use crate::model::net::{Net, Role};
use crate::model::{Activation, Mlp};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoiseInjection {
    /// h ← h ⊙ (1 + ε), ε ~ N(0, q/(1−q)) per unit and example: the mean and variance of inverted
    /// dropout at the layer's drop rate q, Gaussian.
    GaussianDropout,
    /// Algorithm 2: λ1 η_a on hidden activations (forward), λ2 η_h on the back-propagated error
    /// at hidden pre-activations (backward); Σ_a, Σ_h re-estimated every `refresh_every` steps
    /// from K-FAC factors over the first `rows` training examples with relative `damping`.
    Disentanglement {
        lambda_a: f64,
        lambda_h: f64,
        refresh_every: usize,
        rows: usize,
        damping: f64,
    },
    /// Each step's gradient is taken at W + σ z (z ~ N(0, I) over the weight matrices) and
    /// applied to W.
    WeightNoise { std: f64 },
}

impl NoiseInjection {
    pub fn validate(&self, drop_rates: &[f32]) -> LabResult<()> {
        let dropout = drop_rates.iter().any(|&q| q > 0.0);
        match *self {
            NoiseInjection::GaussianDropout if !dropout => Err(LabError::Config(
                "Gaussian dropout takes its variance from the drop rates: set a rate > 0".into(),
            )),
            NoiseInjection::Disentanglement { .. } | NoiseInjection::WeightNoise { .. }
                if dropout =>
            {
                Err(LabError::Config(
                    "disentanglement and weight noise replace dropout: set the drop rates to 0"
                        .into(),
                ))
            }
            NoiseInjection::Disentanglement {
                lambda_a,
                lambda_h,
                refresh_every,
                rows,
                damping,
            } if !(lambda_a >= 0.0 && lambda_h >= 0.0 && refresh_every > 0 && rows > 0 && damping > 0.0) => {
                Err(LabError::Config(
                    "disentanglement noise needs λ1, λ2 ≥ 0, refresh_every ≥ 1, rows ≥ 1 and damping > 0".into(),
                ))
            }
            NoiseInjection::WeightNoise { std } if !(std >= 0.0 && std.is_finite()) => Err(
                LabError::Config(format!("weight noise needs a standard deviation ≥ 0, got {std}")),
            ),
            _ => Ok(()),
        }
    }
}

fn normal(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

/// Gaussian dropout multipliers 1 + sqrt(q/(1−q)) z per hidden layer.
pub fn gaussian_masks(
    rng: &mut impl Rng,
    rows: usize,
    hidden_widths: &[usize],
    rates: &[f32],
    device: &Device,
) -> Vec<LayerMask> {
    rates
        .iter()
        .zip(hidden_widths)
        .map(|(&q, &w)| match sample_gaussian_mask(rng, rows, w, q) {
            None => LayerMask::None,
            Some(m) => LayerMask::Same(Tensor::from_data(TensorData::new(m, [rows, w]), device)),
        })
        .collect()
}

/// η = Z Bᵀ for each layer's `bt` = Bᵀ [w, w] on the device, Z standard normal [rows, w].
pub fn correlated_noise(
    rng: &mut impl Rng,
    rows: usize,
    bt: &[Tensor<2>],
    scale: f64,
) -> Vec<Option<Tensor<2>>> {
    bt.iter()
        .map(|b| {
            let w = b.dims()[0];
            let z = Tensor::from_data(
                TensorData::new(normal(rng, rows * w), [rows, w]),
                &b.device(),
            );
            Some(matmul(z, b.clone()).mul_scalar(scale))
        })
        .collect()
}

/// The mean cross-entropy with `act[i]` added to hidden layer i's activations, plus a term of
/// value zero whose gradient adds `node[i]` to ∂/∂z_i (z_i: hidden layer i's pre-activation):
/// Σ node ⊙ z − (Σ node ⊙ z).detach(). Back-propagation then carries the added error down.
pub fn noisy_objective(
    model: &Mlp,
    x: Tensor<2>,
    y: Tensor<2>,
    act: &[Option<Tensor<2>>],
    node: &[Option<Tensor<2>>],
) -> Tensor<1> {
    let last = model.layers.len() - 1;
    let mut h = x;
    let mut extra: Option<Tensor<1>> = None;
    for (i, layer) in model.layers.iter().enumerate() {
        let z = matmul(h, layer.weight.clone()) + layer.bias.clone().unsqueeze_dim(0);
        if i == last {
            h = z;
            break;
        }
        if let Some(Some(c)) = node.get(i) {
            let term = (z.clone() * c.clone()).sum();
            extra = Some(match extra {
                Some(e) => e + term,
                None => term,
            });
        }
        h = match model.config.activation {
            Activation::Relu => activation::relu(z),
            Activation::Tanh => activation::tanh(z),
        };
        if let Some(Some(e)) = act.get(i) {
            h = h + e.clone();
        }
    }
    let loss = cross_entropy(h, y);
    match extra {
        Some(e) => loss + e.clone() - e.detach(),
        None => loss,
    }
}

/// The model with σ z added to every weight matrix (biases unchanged).
pub fn with_weight_noise(model: &Mlp, rng: &mut impl Rng, std: f64) -> Mlp {
    let mut noisy = model.clone();
    for layer in &mut noisy.layers {
        let [r, c] = layer.weight.dims();
        let z = Tensor::from_data(
            TensorData::new(normal(rng, r * c), [r, c]),
            &layer.weight.device(),
        );
        layer.weight = layer.weight.clone() + z.mul_scalar(std);
    }
    noisy
}

/// A network's parameters with σ z added to every convolution and dense weight (biases and
/// BatchNorm's parameters untouched, as the MLP's weight matrices only).
pub fn net_with_weight_noise(net: &Net, rng: &mut impl Rng, std: f64) -> Vec<Tensor<1>> {
    net.params
        .iter()
        .zip(&net.param_specs)
        .map(|(p, s)| match s.role {
            Role::Weight { .. } => {
                let z = Tensor::from_data(
                    TensorData::new(normal(rng, s.len()), [s.len()]),
                    &p.device(),
                );
                p.clone() + z.mul_scalar(std)
            }
            _ => p.clone(),
        })
        .collect()
}

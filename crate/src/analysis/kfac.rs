//! Kronecker-factored Laplace estimate of each layer's weight volume (paper 002 eq. 9-11,
//! App. I eq. 20-23; Botev et al. 2017, Ritter et al. 2018): Σ_l ≈ (E[A_{l-1}])⁻¹ ⊗ (E[H_l])⁻¹.
//!
//! - A_{l-1} = a aᵀ, a the layer's input (the previous layer's activations after its dropout
//!   mask; the image for the first layer).
//! - H_l = ∂²ℓ/∂z_l∂z_l, z_l the layer's pre-activation. At the output, softmax cross-entropy
//!   gives exactly diag(p) - ppᵀ. Hidden layers use the Gauss-Newton back-propagation of
//!   Botev et al.: H_l = B_l W_{l+1} H_{l+1} W_{l+1}ᵀ B_l with B_l = diag(act'(z_l) ⊙ m_l) (the
//!   term with act'' is dropped; it is exactly zero for ReLU).
//! - Dropout-aware (App. I note): the expectations run over the data and over `mask_draws`
//!   independent dropout masks at the model's rates.
//! - Both factors get damping τ·mean(diag) added to the diagonal before inversion (the Laplace
//!   prior precision): A is singular for MNIST, whose border pixels are always 0.
//!
//! Host-side f64: the factors are at most width x width and the nets of paper 002 are small.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::volume::kronecker_log_volume;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::dropout::sample_mask;
use crate::model::{Activation, HostParams, MlpConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerVolume {
    pub layer: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    pub log_volume: f64,
}

/// E[A_{l-1}] and E[H_l] per layer.
pub struct Factors {
    pub a: Vec<DMatrix<f64>>,
    pub h: Vec<DMatrix<f64>>,
}

pub fn factors(
    cfg: &MlpConfig,
    theta: &HostParams,
    data: &Dataset,
    mask_draws: usize,
    rng: &mut impl Rng,
) -> LabResult<Factors> {
    let layers = cfg.widths.len() - 1;
    if data.is_empty() || data.dim != cfg.widths[0] || data.classes != cfg.widths[layers] {
        return Err(LabError::Config(
            "K-FAC needs data matching the model's input and output widths".into(),
        ));
    }
    let dropout = cfg.drop_rates.iter().any(|&p| p > 0.0);
    let draws = if dropout { mask_draws.max(1) } else { 1 };
    let weights: Vec<DMatrix<f64>> = theta
        .layers
        .iter()
        .enumerate()
        .map(|(l, (w, _))| {
            DMatrix::from_row_slice(
                cfg.widths[l],
                cfg.widths[l + 1],
                &w.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            )
        })
        .collect();
    let biases: Vec<DVector<f64>> = theta
        .layers
        .iter()
        .map(|(_, b)| DVector::from_iterator(b.len(), b.iter().map(|&x| x as f64)))
        .collect();
    let mut a: Vec<DMatrix<f64>> = (0..layers)
        .map(|l| DMatrix::zeros(cfg.widths[l], cfg.widths[l]))
        .collect();
    let mut h: Vec<DMatrix<f64>> = (0..layers)
        .map(|l| DMatrix::zeros(cfg.widths[l + 1], cfg.widths[l + 1]))
        .collect();
    let n = data.len();
    for _ in 0..draws {
        // One mask per hidden layer for the whole set, rows = samples.
        let masks: Vec<Option<Vec<f32>>> = cfg
            .drop_rates
            .iter()
            .zip(&cfg.widths[1..])
            .map(|(&p, &w)| sample_mask(rng, n, w, p))
            .collect();
        // Forward, keeping each layer's input (rows = samples) and act'(z) ⊙ m.
        let mut input = DMatrix::from_row_slice(
            n,
            cfg.widths[0],
            &data.features.iter().map(|&x| x as f64).collect::<Vec<_>>(),
        );
        let mut slopes: Vec<DMatrix<f64>> = Vec::new();
        for l in 0..layers {
            a[l] += input.transpose() * &input;
            let mut z = &input * &weights[l];
            for mut row in z.row_iter_mut() {
                row += biases[l].transpose();
            }
            if l == layers - 1 {
                input = z;
                break;
            }
            let mask = |r: usize, c: usize| {
                masks
                    .get(l)
                    .and_then(|m| m.as_ref())
                    .map_or(1.0, |m| m[r * cfg.widths[l + 1] + c] as f64)
            };
            let (act, slope) = match cfg.activation {
                Activation::Relu => (
                    z.map(|v| v.max(0.0)),
                    z.map(|v| if v > 0.0 { 1.0 } else { 0.0 }),
                ),
                Activation::Tanh => {
                    let t = z.map(f64::tanh);
                    let s = t.map(|v| 1.0 - v * v);
                    (t, s)
                }
            };
            slopes.push(DMatrix::from_fn(n, cfg.widths[l + 1], |r, c| {
                slope[(r, c)] * mask(r, c)
            }));
            input = DMatrix::from_fn(n, cfg.widths[l + 1], |r, c| act[(r, c)] * mask(r, c));
        }
        // Backward, per sample: H_L = diag(p) - ppᵀ, then the Gauss-Newton recursion.
        let logits = input;
        for s in 0..n {
            let row = logits.row(s);
            let m = row.max();
            let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
            let total: f64 = e.iter().sum();
            let p = DVector::from_iterator(e.len(), e.iter().map(|v| v / total));
            let mut hs = DMatrix::from_diagonal(&p) - &p * p.transpose();
            for l in (0..layers).rev() {
                h[l] += &hs;
                if l == 0 {
                    break;
                }
                let back = &weights[l] * &hs * weights[l].transpose();
                let b = slopes[l - 1].row(s);
                hs = DMatrix::from_fn(back.nrows(), back.ncols(), |i, j| {
                    b[i] * back[(i, j)] * b[j]
                });
            }
        }
    }
    let count = (n * draws) as f64;
    Ok(Factors {
        a: a.into_iter().map(|m| m / count).collect(),
        h: h.into_iter().map(|m| m / count).collect(),
    })
}

/// m + τ·mean(diag m)·I: the Laplace prior precision relative to the factor's scale.
pub(crate) fn damped(m: &DMatrix<f64>, tau: f64) -> DMatrix<f64> {
    let mean = m.diagonal().mean().max(f64::MIN_POSITIVE);
    m + DMatrix::identity(m.nrows(), m.ncols()) * (tau * mean)
}

/// log vol per layer from the Kronecker factors, damping τ relative to each factor's mean diagonal.
pub fn laplace_volumes(cfg: &MlpConfig, f: &Factors, damping: f64) -> LabResult<Vec<LayerVolume>> {
    if !(damping > 0.0) {
        return Err(LabError::Config(format!(
            "the K-FAC damping must be positive, got {damping}"
        )));
    }
    f.a.iter()
        .zip(&f.h)
        .enumerate()
        .map(|(l, (a, h))| {
            Ok(LayerVolume {
                layer: l,
                fan_in: cfg.widths[l],
                fan_out: cfg.widths[l + 1],
                log_volume: kronecker_log_volume(&damped(a, damping), &damped(h, damping))?,
            })
        })
        .collect()
}

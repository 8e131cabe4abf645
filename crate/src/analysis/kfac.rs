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
//! The factors themselves live in objectives/kfac_factors.rs (paper 002's reverse noise trains
//! with them); this file turns them into volumes.

use serde::{Deserialize, Serialize};

use super::volume::kronecker_log_volume;
use crate::error::{LabError, LabResult};
use crate::model::MlpConfig;
pub use crate::objectives::kfac_factors::{damped, factors, Factors, MaskNoise};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerVolume {
    pub layer: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    pub log_volume: f64,
}

/// The noise a network was trained with, for its dropout-aware factors: Gaussian dropout's
/// multipliers for a Gaussian-dropout network (paper 002 Sec. 5.3), Bernoulli masks otherwise.
pub fn trained_noise(tc: &crate::train::TrainConfig) -> MaskNoise {
    match tc.noise {
        Some(crate::train::noise_step::NoiseInjection::GaussianDropout) => MaskNoise::Gaussian,
        _ => MaskNoise::Bernoulli,
    }
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

//! 1-D loss landscapes f(α) = L(θ + α d) along filter-normalised random directions
//! (Li et al. 2018, as used in paper 000 Sec. 5 / Fig. 1).
//!
//! Filter normalisation: d is Gaussian and each filter d_ij is replaced by d_ij / ‖d_ij‖ · ‖θ_ij‖
//! (Frobenius norms). Paper 000: "for FNN, one layer is one filter", so each weight matrix is one
//! filter. Biases get d = 0, Li et al.'s choice for bias parameters, so the curve probes the
//! weights only.

use burn::tensor::Device;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::LabResult;
use crate::model::{HostParams, Mlp, MlpConfig};
use crate::train::eval::{evaluate, DeviceData};

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

/// A Gaussian direction with each layer's weight rescaled to the norm of θ's, biases zero.
pub fn filter_normalised_direction(theta: &HostParams, rng: &mut impl Rng) -> HostParams {
    let layers = theta
        .layers
        .iter()
        .map(|(w, b)| {
            let d: Vec<f32> = (0..w.len())
                .map(|_| rng.sample::<f32, _>(StandardNormal))
                .collect();
            let scale = norm(w) / norm(&d).max(f64::MIN_POSITIVE);
            (
                d.iter().map(|&x| (x as f64 * scale) as f32).collect(),
                vec![0.0; b.len()],
            )
        })
        .collect();
    HostParams {
        widths: theta.widths.clone(),
        layers,
    }
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

/// The loss (mean cross-entropy, dropout off) at θ + α d for each α, on one data set.
/// θ and d stay on the device; each point costs one evaluation.
pub async fn loss_curve(
    config: &MlpConfig,
    theta: &HostParams,
    direction: &HostParams,
    alphas: &[f64],
    data: &DeviceData,
    device: &Device,
) -> LabResult<Vec<f32>> {
    let base = Mlp::from_host(config, theta, device);
    let dir = Mlp::from_host(config, direction, device);
    let mut out = Vec::with_capacity(alphas.len());
    for &alpha in alphas {
        let (loss, _) = evaluate(&base.axpy(alpha, &dir), data).await?;
        out.push(loss);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::initial_params;
    use crate::model::{Activation, InitScheme};
    use crate::rng::{stream, Stream};

    #[test]
    fn each_filter_has_the_norm_of_thetas_filter() {
        let cfg = MlpConfig {
            widths: vec![30, 20, 10, 5],
            activation: Activation::Relu,
            drop_rates: vec![0.0, 0.0],
            init: InitScheme::Xavier,
        };
        let theta = initial_params(&cfg, &mut stream(1, Stream::Init));
        let d = filter_normalised_direction(&theta, &mut stream(1, Stream::Directions));
        for ((tw, tb), (dw, db)) in theta.layers.iter().zip(&d.layers) {
            assert_eq!(dw.len(), tw.len());
            assert!(
                (norm(dw) / norm(tw) - 1.0).abs() < 1e-6,
                "{} vs {}",
                norm(dw),
                norm(tw)
            );
            assert!(db.iter().all(|&x| x == 0.0) && db.len() == tb.len());
        }
        // A direction, not a copy of θ: nearly orthogonal in high dimension.
        let (tw, dw) = (&theta.layers[0].0, &d.layers[0].0);
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

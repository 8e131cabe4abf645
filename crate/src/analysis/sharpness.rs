//! The sharpness method of paper 002 Sec. 5.2 (after Keskar et al. 2016, Jiang et al. 2019):
//! σ is the largest number with max_{σ' ≤ σ} |L(f_{W+U'}) − L(f_W)| ≤ ε, vec(U') ~ N(0, σ'² I).
//!
//! The maximum over the Gaussian is taken over `draws` fixed standard-normal directions z_j
//! (common random numbers: U' = σ' z_j for every σ'), which makes the deviation a continuous
//! function of σ'. The search walks σ' up a geometric grid from `first_sigma` until the
//! deviation exceeds ε, then bisects (in log σ) between the last grid point within ε and the
//! first beyond it. Walking up from small σ' honours the max over σ' ≤ σ: the answer is the
//! first crossing (to the grid's resolution), not any crossing.

use std::future::Future;

use burn::tensor::Device;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::{HostParams, Mlp, MlpConfig};
use crate::rng::{stream, Stream};
use crate::train::eval::{evaluate, DeviceData};

/// σ' ↦ max_j |L(W + σ' z_j) − L(W)|, possibly evaluated on a device (hence async).
pub trait Deviation {
    fn max_deviation(&mut self, sigma: f64) -> impl Future<Output = LabResult<f64>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SharpnessOptions {
    /// Allowed loss change ε (paper 002: 0.05 for CIFAR-10, 0.1 for CIFAR-100).
    pub epsilon: f64,
    /// Gaussian directions the maximum runs over.
    pub draws: usize,
    pub first_sigma: f64,
    /// Grid ratio between consecutive σ'.
    pub factor: f64,
    /// The search stops here; a net within ε at max_sigma reports it as `capped`.
    pub max_sigma: f64,
    /// Bisection steps after the grid (each halves the log-bracket).
    pub bisections: usize,
    /// Sign-gradient ascent steps of the worst-case search (worst_case_sharpness.rs).
    #[serde(default = "default_ascent_steps")]
    pub ascent_steps: usize,
}

fn default_ascent_steps() -> usize {
    5
}

impl Default for SharpnessOptions {
    fn default() -> Self {
        SharpnessOptions {
            epsilon: 0.05,
            draws: 5,
            first_sigma: 1e-4,
            factor: 2.0,
            max_sigma: 10.0,
            bisections: 8,
            ascent_steps: default_ascent_steps(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SharpnessSigma {
    pub sigma: f64,
    /// max_j |ΔL| at `sigma` (≤ ε).
    pub deviation: f64,
    /// True when no σ' ≤ max_sigma exceeded ε.
    pub capped: bool,
    pub evaluations: usize,
}

pub async fn sharpness_sigma<D: Deviation>(
    dev: &mut D,
    opts: &SharpnessOptions,
) -> LabResult<SharpnessSigma> {
    if !(opts.epsilon > 0.0
        && opts.first_sigma > 0.0
        && opts.factor > 1.0
        && opts.max_sigma >= opts.first_sigma
        && opts.draws > 0)
    {
        return Err(LabError::Config(format!(
            "sharpness search needs ε > 0, draws ≥ 1, 0 < first σ ≤ max σ and a grid factor > 1, got {opts:?}"
        )));
    }
    let mut evaluations = 0;
    let mut eval = async |s: f64| {
        evaluations += 1;
        dev.max_deviation(s).await
    };
    let first = eval(opts.first_sigma).await?;
    if !(first <= opts.epsilon) {
        return Err(LabError::Numerical(format!(
            "the loss already changes by {first:.3e} > ε = {} at σ = {:e}: raise ε or lower the first σ",
            opts.epsilon, opts.first_sigma
        )));
    }
    let (mut lo, mut lo_dev) = (opts.first_sigma, first);
    let mut hi = None;
    while lo < opts.max_sigma {
        let s = (lo * opts.factor).min(opts.max_sigma);
        let d = eval(s).await?;
        // NaN (a blown-up net) counts as beyond ε.
        if d <= opts.epsilon {
            (lo, lo_dev) = (s, d);
        } else {
            hi = Some(s);
            break;
        }
    }
    let Some(mut hi) = hi else {
        return Ok(SharpnessSigma {
            sigma: lo,
            deviation: lo_dev,
            capped: true,
            evaluations,
        });
    };
    for _ in 0..opts.bisections {
        let mid = (lo * hi).sqrt();
        let d = eval(mid).await?;
        if d <= opts.epsilon {
            (lo, lo_dev) = (mid, d);
        } else {
            hi = mid;
        }
    }
    Ok(SharpnessSigma {
        sigma: lo,
        deviation: lo_dev,
        capped: false,
        evaluations,
    })
}

/// The deviation of a network's loss on a data set under weight noise (biases untouched, as
/// the measures of complexity.rs are over W_l).
pub struct NetDeviation {
    cfg: MlpConfig,
    theta: HostParams,
    data: DeviceData,
    device: Device,
    base_loss: f64,
    /// `draws` standard-normal directions over all weight matrices, layer by layer.
    directions: Vec<Vec<f32>>,
}

impl NetDeviation {
    pub async fn new(
        cfg: &MlpConfig,
        theta: &HostParams,
        data: &Dataset,
        draws: usize,
        seed: u64,
        device: &Device,
    ) -> LabResult<Self> {
        let data = DeviceData::upload(data, device);
        let model = Mlp::from_host(cfg, theta, device);
        let (base_loss, _) = evaluate(&model, &data).await?;
        let weights: usize = theta.layers.iter().map(|(w, _)| w.len()).sum();
        let mut rng = stream(seed, Stream::Sharpness);
        let directions = (0..draws)
            .map(|_| (0..weights).map(|_| rng.sample(StandardNormal)).collect())
            .collect();
        Ok(NetDeviation {
            cfg: cfg.clone(),
            theta: theta.clone(),
            data,
            device: device.clone(),
            base_loss: base_loss as f64,
            directions,
        })
    }

    pub fn base_loss(&self) -> f64 {
        self.base_loss
    }

    /// The loss at W + σ z_j.
    pub async fn loss_at(&self, sigma: f64, j: usize) -> LabResult<f64> {
        let moved = perturb_weights(&self.theta, &self.directions[j], sigma);
        let model = Mlp::from_host(&self.cfg, &moved, &self.device);
        Ok(evaluate(&model, &self.data).await?.0 as f64)
    }
}

impl Deviation for NetDeviation {
    async fn max_deviation(&mut self, sigma: f64) -> LabResult<f64> {
        let mut worst = 0.0f64;
        for j in 0..self.directions.len() {
            let d = (self.loss_at(sigma, j).await? - self.base_loss).abs();
            if !d.is_finite() {
                return Ok(f64::INFINITY);
            }
            worst = worst.max(d);
        }
        Ok(worst)
    }
}

/// θ with σ·z added to the weight matrices (z laid out layer by layer), biases unchanged.
pub fn perturb_weights(theta: &HostParams, z: &[f32], sigma: f64) -> HostParams {
    let mut moved = theta.clone();
    let mut offset = 0;
    for (w, _) in &mut moved.layers {
        for (x, &zi) in w.iter_mut().zip(&z[offset..]) {
            *x += (sigma * zi as f64) as f32;
        }
        offset += w.len();
    }
    moved
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    struct Quadratic {
        a: f64,
        calls: usize,
    }
    impl Deviation for Quadratic {
        async fn max_deviation(&mut self, sigma: f64) -> LabResult<f64> {
            self.calls += 1;
            Ok(self.a * sigma * sigma)
        }
    }

    #[test]
    fn finds_the_closed_form_crossing_of_a_quadratic() {
        // a σ² = ε at σ* = sqrt(ε / a); after 8 bisections of a factor-2 bracket the log-bracket is
        // ln 2 / 256, so σ lies within 0.3 % below σ*.
        let mut q = Quadratic { a: 40.0, calls: 0 };
        let opts = SharpnessOptions::default();
        let s = pollster::block_on(sharpness_sigma(&mut q, &opts)).unwrap();
        let exact = (opts.epsilon / 40.0).sqrt();
        assert!(
            s.sigma <= exact && s.sigma > exact * 0.997,
            "{s:?} vs {exact}"
        );
        assert!(s.deviation <= opts.epsilon && !s.capped);
        assert_eq!(s.evaluations, q.calls);
    }

    #[test]
    fn takes_the_first_crossing_not_a_later_one() {
        // Deviation above ε only on [0.01, 0.02], back within ε beyond: the max over σ' ≤ σ rules
        // out every σ ≥ 0.01.
        struct Bump;
        impl Deviation for Bump {
            async fn max_deviation(&mut self, s: f64) -> LabResult<f64> {
                Ok(if (0.01..0.02).contains(&s) { 1.0 } else { 0.0 })
            }
        }
        let opts = SharpnessOptions {
            first_sigma: 1e-3,
            ..SharpnessOptions::default()
        };
        let s = pollster::block_on(sharpness_sigma(&mut Bump, &opts)).unwrap();
        assert!(s.sigma < 0.01 && s.sigma > 0.0099 * 0.99, "{s:?}");
    }

    #[test]
    fn reports_a_cap_and_refuses_an_impossible_epsilon() {
        let mut flat = Quadratic { a: 0.0, calls: 0 };
        let s =
            pollster::block_on(sharpness_sigma(&mut flat, &SharpnessOptions::default())).unwrap();
        assert!(s.capped && s.sigma == 10.0);
        let mut steep = Quadratic { a: 1e12, calls: 0 };
        let err = pollster::block_on(sharpness_sigma(&mut steep, &SharpnessOptions::default()))
            .unwrap_err();
        assert!(err.to_string().contains("raise ε"), "{err}");
    }
}

//! Worst-case sharpness α′ (Jiang et al. 2019, "Fantastic generalization measures", the
//! "Sharpness α′" row of paper 002's Table 2): the largest α with
//! max_{|u_i| ≤ α} L(f_{W+U}) − L(f_W) ≤ ε, U over the weight matrices (biases untouched, as the
//! other measures of complexity.rs). The table reports 1/α′², larger for a sharper minimum.
//!
//! The inner maximum over the box is found by projected sign-gradient ascent (Jiang et al. use
//! gradient ascent too): start at a fixed random corner α·s, then `steps` times
//! u ← clip(u + (α/2)·sign(∇L(W + u)), −α, α), keeping the largest increase seen. It is a lower
//! bound of the true maximum (exact where the maximum sits at a corner the ascent reaches), so α′
//! is an upper bound. The outer search over α is `sharpness::sharpness_sigma`'s walk and
//! bisection, with α in place of σ.

use burn::tensor::Device;
use rand::Rng;

use super::sharpness::{perturb_weights, Deviation};
use crate::backend::read_f32;
use crate::data::Dataset;
use crate::error::LabResult;
use crate::model::loss::cross_entropy;
use crate::model::{HostParams, Mlp, MlpConfig};
use crate::rng::{stream, Stream};
use crate::train::batch::upload;

pub struct WorstCaseDeviation {
    cfg: MlpConfig,
    theta: HostParams,
    /// All rows at once: the ascent needs the full-batch gradient anyway.
    x: burn::tensor::Tensor<2>,
    y: burn::tensor::Tensor<2>,
    device: Device,
    base_loss: f64,
    /// ±1 per weight, layer by layer: the ascent's starting corner.
    start: Vec<f64>,
    steps: usize,
}

impl WorstCaseDeviation {
    pub async fn new(
        cfg: &MlpConfig,
        theta: &HostParams,
        data: &Dataset,
        steps: usize,
        seed: u64,
        device: &Device,
    ) -> LabResult<Self> {
        let (x, y) = upload(data, &(0..data.len()).collect::<Vec<_>>(), device);
        let base = cross_entropy(
            Mlp::from_host(cfg, theta, device).forward(x.clone(), &[]),
            y.clone(),
        );
        let base_loss = read_f32(base).await?[0];
        let weights: usize = theta.layers.iter().map(|(w, _)| w.len()).sum();
        // Its own stream offset: the Gaussian sharpness draws from `Stream::Sharpness` at `seed`.
        let mut rng = stream(seed.wrapping_add(1), Stream::Sharpness);
        let start = (0..weights)
            .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
            .collect();
        Ok(WorstCaseDeviation {
            cfg: cfg.clone(),
            theta: theta.clone(),
            x,
            y,
            device: device.clone(),
            base_loss: base_loss as f64,
            start,
            steps,
        })
    }

    pub fn base_loss(&self) -> f64 {
        self.base_loss
    }

    /// The largest increase L(W + u) − L(W) the ascent finds in the box of half-width `alpha`.
    pub async fn worst_increase(&self, alpha: f64) -> LabResult<f64> {
        let mut u: Vec<f64> = self.start.iter().map(|s| alpha * s).collect();
        let mut worst = f64::NEG_INFINITY;
        for k in 0..=self.steps {
            let shift: Vec<f32> = u.iter().map(|&v| v as f32).collect();
            let model = Mlp::from_host(
                &self.cfg,
                &perturb_weights(&self.theta, &shift, 1.0),
                &self.device,
            );
            if k == self.steps {
                let loss = cross_entropy(model.forward(self.x.clone(), &[]), self.y.clone());
                worst = worst.max(read_f32(loss).await?[0] as f64 - self.base_loss);
                break;
            }
            let (loss, grads) = model.loss_and_grads(self.x.clone(), self.y.clone(), &[]);
            let loss = read_f32(loss).await?[0] as f64;
            if !loss.is_finite() {
                return Ok(f64::INFINITY);
            }
            worst = worst.max(loss - self.base_loss);
            let mut offset = 0;
            for (gw, _) in grads {
                let g = read_f32(gw).await?;
                for (ui, gi) in u[offset..offset + g.len()].iter_mut().zip(&g) {
                    let step = if *gi > 0.0 {
                        0.5 * alpha
                    } else if *gi < 0.0 {
                        -0.5 * alpha
                    } else {
                        0.0
                    };
                    *ui = (*ui + step).clamp(-alpha, alpha);
                }
                offset += g.len();
            }
        }
        Ok(if worst.is_finite() {
            worst.max(0.0)
        } else {
            f64::INFINITY
        })
    }
}

impl Deviation for WorstCaseDeviation {
    async fn max_deviation(&mut self, alpha: f64) -> LabResult<f64> {
        self.worst_increase(alpha).await
    }
}

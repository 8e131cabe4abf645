//! The sampling estimate of the weight volume, paper 002 Sec. 4 and Algorithm 1, on any network:
//! from a converged network W, add N(0, σ_U² I) noise to the weights, train one epoch at
//! learning rate 1e-4, and keep the result as a posterior sample when |L(f_W') − L(f_W)| ≤ ε (L:
//! the evaluation-mode loss on the training set). The kept samples' covariance gives each weight
//! layer's volume (eq. 2).
//!
//! Choices, stated:
//! - Algorithm 1 lets the noise accumulate in W' from one iteration to the next (`chain: true`);
//!   Sec. 4's text describes samples of W + U, every iteration starting again from W
//!   (`chain: false`). Both are offered.
//! - Noise goes on the weight tensors only (dense and convolution weights); biases and
//!   BatchNorm's parameters keep their values (the volume is over W_l).
//! - The training epoch is plain SGD on the network as it was trained (architecture, dropout,
//!   noise injection, augmentation), with masks and batch order from the seed and the
//!   iteration's index.
//! - A layer's volume uses blocks of `block` consecutive weights of its PyTorch-layout tensor
//!   (volume.rs; k < kept samples), so a block lies in one output unit's or one output
//!   channel's incoming weights; it is reported per weight and extrapolated to the layer as
//!   D · (mean block log vol) / k, the log volume of the block-diagonal correlation matrix
//!   scaled to all D weights. `fan_in` is a weight's inputs per output (c·k² for a convolution).

use burn::tensor::Device;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::volume::{independent_log_volume, sample_volume};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::net::{Net, NetParams, Role};
use crate::progress::Reporter;
use crate::rng::{stream, Stream};
use crate::train::eval::{evaluate_net, DeviceData};
use crate::train::{OptimizerKind, TrainConfig, Trainer};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingOptions {
    /// σ_U of the noise N(0, σ_U² I) (Sec. 4: 0.1).
    pub noise_std: f64,
    pub iterations: usize,
    /// Accepted loss change ε (Sec. 5: 0.05 for CIFAR-10).
    pub epsilon: f64,
    /// Learning rate of the epoch after each perturbation (Algorithm 1: 1e-4); 0 skips training.
    pub lr: f64,
    pub batch_size: usize,
    /// Accumulate the noise across iterations (Algorithm 1) or restart from W each time (Sec. 4).
    pub chain: bool,
    /// Weights per correlation block.
    pub block: usize,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        SamplingOptions {
            noise_std: 0.1,
            iterations: 100,
            epsilon: 0.05,
            lr: 1e-4,
            batch_size: 32,
            chain: true,
            block: 20,
        }
    }
}

impl SamplingOptions {
    pub fn validate(&self) -> LabResult<()> {
        if !(self.noise_std >= 0.0 && self.noise_std.is_finite())
            || !(self.epsilon > 0.0)
            || !(self.lr >= 0.0 && self.lr <= 100.0)
            || self.iterations == 0
            || self.block == 0
        {
            return Err(LabError::Config(format!(
                "the sampling method needs σ_U ≥ 0, ε > 0, 0 ≤ lr ≤ 100, iterations ≥ 1 and a block ≥ 1, got {self:?}"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSampleVolume {
    pub layer: usize,
    pub fan_in: usize,
    pub fan_out: usize,
    pub block: usize,
    pub blocks: usize,
    /// Mean block log vol / k.
    pub log_volume_per_weight: f64,
    /// D · log_volume_per_weight (see the module note).
    pub log_volume: f64,
    /// What log_volume_per_weight would be, in expectation, for uncorrelated weights with as
    /// many samples (volume.rs `independent_log_volume`): the finite-sample floor to read it against.
    pub independent_log_volume_per_weight: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingResult {
    pub options: SamplingOptions,
    /// L(f_W) on the training data.
    pub base_loss: f64,
    /// L(f_W') of every iteration (None where the epoch diverged).
    pub losses: Vec<Option<f64>>,
    pub accepted: usize,
    pub acceptance_rate: f64,
    /// Per layer; empty when too few samples were kept (see `volume_error`).
    pub layers: Vec<LayerSampleVolume>,
    pub volume_error: Option<String>,
}

/// The sampling method from θ (trained as `config` says: its architecture and dropout are kept,
/// its optimiser becomes plain SGD at `opts.lr` for one epoch over `train`).
#[allow(clippy::too_many_arguments)]
pub async fn sample_volumes(
    config: &TrainConfig,
    theta: &NetParams,
    train: &Dataset,
    opts: &SamplingOptions,
    seed: u64,
    device: &Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<SamplingResult> {
    opts.validate()?;
    let specs = theta.spec.params()?;
    let weights: Vec<usize> = specs
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.role, Role::Weight { .. }))
        .map(|(i, _)| i)
        .collect();
    let data = DeviceData::upload(train, device);
    let base_loss = evaluate_net(&Net::from_host(theta, device)?, &data)
        .await?
        .0 as f64;
    let mut rng = stream(seed, Stream::WeightSampling);
    let mut current = theta.clone();
    let (mut losses, mut kept) = (Vec::new(), Vec::<NetParams>::new());
    for i in 0..opts.iterations {
        let mut noisy = if opts.chain {
            current.clone()
        } else {
            theta.clone()
        };
        for &w in &weights {
            for v in noisy.params[w].iter_mut() {
                *v += (opts.noise_std * rng.sample::<f64, _>(StandardNormal)) as f32;
            }
        }
        let (moved, loss) = if opts.lr > 0.0 {
            let c = epoch_config(config, train.len(), opts, seed ^ ((i as u64 + 1) << 32));
            one_epoch(c, noisy, train, device, backend).await?
        } else {
            let net = Net::from_host(&noisy, device)?;
            let loss = evaluate_net(&net, &data).await?.0 as f64;
            (noisy, loss)
        };
        losses.push(loss.is_finite().then_some(loss));
        if (loss - base_loss).abs() <= opts.epsilon {
            kept.push(moved.clone());
        }
        current = moved;
        if !reporter
            .report("sampling method: iteration", i + 1, opts.iterations)
            .await
        {
            return Err(LabError::Cancelled);
        }
    }
    let (layers, volume_error) = match layer_volumes(theta, &weights, &kept, opts.block) {
        Ok(layers) => (layers, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Ok(SamplingResult {
        options: *opts,
        base_loss,
        losses,
        accepted: kept.len(),
        acceptance_rate: kept.len() as f64 / opts.iterations as f64,
        layers,
        volume_error,
    })
}

fn epoch_config(
    config: &TrainConfig,
    rows: usize,
    opts: &SamplingOptions,
    seed: u64,
) -> TrainConfig {
    let mut c = config.clone();
    c.optimizer = OptimizerKind::Sgd;
    c.full_batch = false;
    c.lr = opts.lr;
    c.momentum = 0.0;
    c.weight_decay = 0.0;
    c.schedule = Default::default();
    c.epochs = 1;
    c.batch_size = opts.batch_size.min(rows);
    c.train_size = rows;
    c.test_size = rows;
    c.seed = seed;
    c
}

/// One epoch of SGD from `start`; a diverged epoch is a sample with infinite loss.
async fn one_epoch(
    c: TrainConfig,
    start: NetParams,
    train: &Dataset,
    device: &Device,
    backend: &str,
) -> LabResult<(NetParams, f64)> {
    // The training set doubles as the "test" set: the closing evaluation is then L(f_W') itself.
    let mut t = Trainer::with_params(
        c,
        start.clone(),
        train,
        train,
        device.clone(),
        backend,
        "sampling",
    )
    .await?;
    match t.run(usize::MAX).await {
        Ok(_) => {}
        Err(LabError::NonFinite { .. }) => return Ok((start, f64::INFINITY)),
        Err(e) => return Err(e),
    }
    let loss = t
        .epochs()
        .last()
        .map_or(f64::INFINITY, |e| e.train_loss as f64);
    Ok((t.params().await?, loss))
}

fn layer_volumes(
    theta: &NetParams,
    weights: &[usize],
    kept: &[NetParams],
    block: usize,
) -> LabResult<Vec<LayerSampleVolume>> {
    if kept.len() <= block {
        return Err(LabError::Numerical(format!(
            "only {} samples were kept, the volume blocks need more than {block}: raise ε or the iterations, or lower σ_U",
            kept.len()
        )));
    }
    let specs = theta.spec.params()?;
    weights
        .iter()
        .enumerate()
        .map(|(l, &w)| {
            let samples: Vec<Vec<f32>> = kept.iter().map(|p| p.params[w].clone()).collect();
            let shape = &specs[w].shape;
            let (fan_out, d) = (shape[0], specs[w].len());
            let k = block.min(d);
            let v = sample_volume(&samples, k)?;
            let per_weight = v.log_volume / k as f64;
            Ok(LayerSampleVolume {
                layer: l,
                fan_in: d / fan_out,
                fan_out,
                block: k,
                blocks: v.blocks,
                log_volume_per_weight: per_weight,
                log_volume: per_weight * d as f64,
                independent_log_volume_per_weight: independent_log_volume(kept.len(), k)?
                    / k as f64,
            })
        })
        .collect()
}

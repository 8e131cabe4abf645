//! Paper 002's sampling estimate of the weight volume (Sec. 4, Algorithm 1) on conv nets, as
//! `analysis::weight_sampling` does it for MLPs (same options, same stated choices): N(0, σ_U² I)
//! noise on every convolution and dense weight (biases and BatchNorm parameters keep their
//! values), one epoch of plain SGD at the network's dropout and a small rate, and the result
//! kept when |L(f_W') − L(f_W)| ≤ ε, L the evaluation-mode training loss. Each weight layer's
//! volume then comes from the kept samples in blocks (`volume::sample_volume`), with `fan_in`
//! the weight's c·k² and `fan_out` its output channels.

use burn::tensor::Device;
use rand::Rng;
use rand_distr::StandardNormal;

use super::volume::{independent_log_volume, sample_volume};
use super::weight_sampling::{LayerSampleVolume, SamplingOptions, SamplingResult};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::net::{Net, NetParams, Role};
use crate::progress::Reporter;
use crate::rng::{stream, Stream};
use crate::train::eval::evaluate_net;
use crate::train::eval::DeviceData;
use crate::train::{OptimizerKind, TrainConfig, Trainer};

/// The sampling method from θ (trained as `config` says: its architecture and dropout are kept,
/// its optimiser becomes plain SGD at `opts.lr` for one epoch over `train`).
#[allow(clippy::too_many_arguments)]
pub async fn net_sample_volumes(
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

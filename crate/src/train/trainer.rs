//! The training loop, driven in slices (`run`) so the page can report progress, stay responsive
//! and cancel between slices. Read-backs are async and batched: one per slice for the step
//! losses, one per evaluation.

use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use super::batch::{epoch_order, upload};
use super::config::{OptimizerKind, TrainConfig};
use super::eval::{evaluate, DeviceData};
use super::history::{EpochRecord, History, StepRecord};
use super::noise_step::{
    correlated_noise, gaussian_masks, noisy_objective, with_weight_noise, NoiseInjection,
};
use super::optim::{Hyper, Optimizer};
use super::split_step::split_step;
use crate::backend::read_f32;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::dropout::device_mode_masks;
use crate::model::init::initial_params;
use crate::model::loss::cross_entropy;
use crate::model::{HostParams, Mlp};
use crate::objectives::kfac_factors::{factors, MaskNoise};
use crate::objectives::reverse_noise::reverse_noise_factors;
use crate::rng::{stream, Stream};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Progress {
    pub step: usize,
    pub total_steps: usize,
    pub epoch: usize,
    pub epochs: usize,
    /// Mean mini-batch loss of the steps in the last slice (dropout active); NaN if none ran.
    pub recent_loss: f32,
    pub done: bool,
}

/// A copy of every parameter at a step, flattened as in `HostParams::flatten`, or of one
/// layer's weights when `snapshot_layer` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub step: usize,
    pub params: Vec<f32>,
}

pub struct Trainer {
    config: TrainConfig,
    device: Device,
    model: Mlp,
    optimizer: Optimizer,
    train: Dataset,
    train_dev: DeviceData,
    test_dev: DeviceData,
    /// For full-batch GD the whole subset stays on the device.
    full_batch: Option<(Tensor<2>, Tensor<2>)>,
    masks_rng: ChaCha8Rng,
    order_rng: ChaCha8Rng,
    order: Vec<usize>,
    step: usize,
    history: History,
    snapshots: Vec<Snapshot>,
    /// Bᵀ of η_a and η_h per hidden layer for disentanglement noise, refreshed during training.
    reverse: Option<(Vec<Tensor<2>>, Vec<Tensor<2>>)>,
}

impl Trainer {
    /// Validate, take the subsets, initialise from the seed and evaluate the initial model.
    pub async fn new(
        config: TrainConfig,
        train: &Dataset,
        test: &Dataset,
        device: Device,
        backend: &str,
        dataset: &str,
    ) -> LabResult<Self> {
        config.validate(train.len(), test.len(), train.dim, train.classes)?;
        let params = initial_params(&config.model, &mut stream(config.seed, Stream::Init));
        Self::with_params(config, params, train, test, device, backend, dataset).await
    }

    /// As `new`, starting from given parameters (e.g. imported weights).
    pub async fn with_params(
        config: TrainConfig,
        params: HostParams,
        train: &Dataset,
        test: &Dataset,
        device: Device,
        backend: &str,
        dataset: &str,
    ) -> LabResult<Self> {
        config.validate(train.len(), test.len(), train.dim, train.classes)?;
        // Before any device buffer: a run that cannot fit fails here with the sizes, not in a
        // WebGPU validation error or an out-of-memory trap.
        super::budget::check(&config, train.dim, backend)?;
        if params.widths != config.model.widths {
            return Err(LabError::Weights(format!(
                "weights have widths {:?}, the configuration {:?}",
                params.widths, config.model.widths
            )));
        }
        let train = train.first(config.train_size)?;
        let test = test.first(config.test_size)?;
        let model = Mlp::from_host(&config.model, &params, &device);
        let train_dev = DeviceData::upload(&train, &device);
        let test_dev = DeviceData::upload(&test, &device);
        let full_batch = (config.optimizer == OptimizerKind::Gd).then(|| {
            let all: Vec<usize> = (0..train.len()).collect();
            upload(&train, &all, &device)
        });
        let mut trainer = Trainer {
            optimizer: Optimizer::new(Hyper::from_config(&config), model.layers.len()),
            masks_rng: stream(config.seed, Stream::DropoutMasks),
            order_rng: stream(config.seed, Stream::BatchOrder),
            history: History::new(&config, backend, dataset),
            config,
            device,
            model,
            train,
            train_dev,
            test_dev,
            full_batch,
            order: Vec::new(),
            step: 0,
            snapshots: Vec::new(),
            reverse: None,
        };
        trainer.record_epoch().await?;
        if trainer.config.snapshot_every > 0 && trainer.config.snapshot_after == 0 {
            trainer.take_snapshot().await?;
        }
        Ok(trainer)
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }
    pub fn history(&self) -> &History {
        &self.history
    }
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots
    }
    /// Hand the recorded snapshots over (they can be large).
    pub fn take_snapshots(&mut self) -> Vec<Snapshot> {
        std::mem::take(&mut self.snapshots)
    }
    pub fn model(&self) -> &Mlp {
        &self.model
    }
    pub fn is_done(&self) -> bool {
        self.step >= self.config.total_steps()
    }

    pub fn progress(&self, recent_loss: f32) -> Progress {
        Progress {
            step: self.step,
            total_steps: self.config.total_steps(),
            epoch: self.step / self.config.steps_per_epoch(),
            epochs: self.config.epochs,
            recent_loss,
            done: self.is_done(),
        }
    }

    /// Run up to `max_steps` steps (fewer at the end of training), evaluating at epoch ends.
    pub async fn run(&mut self, max_steps: usize) -> LabResult<Progress> {
        let mut losses: Vec<(usize, Tensor<1>)> = Vec::new();
        let (mut loss_sum, mut loss_count) = (0.0f64, 0usize);
        for _ in 0..max_steps {
            if self.is_done() {
                break;
            }
            if let Some(NoiseInjection::Disentanglement { refresh_every, .. }) = self.config.noise {
                if self.reverse.is_none() || self.step % refresh_every == 0 {
                    self.refresh_reverse_noise().await?;
                }
            }
            losses.push((self.step, self.train_step()));
            self.step += 1;
            let at_epoch_end = self.step % self.config.steps_per_epoch() == 0;
            let wants_snapshot = self.config.snapshot_every > 0
                && self.step % self.config.snapshot_every == 0
                && self.step >= self.config.snapshot_after;
            if at_epoch_end || wants_snapshot {
                // Check the losses before spending an evaluation on a diverged model.
                let values = self.check_losses(std::mem::take(&mut losses)).await?;
                loss_sum += values.iter().map(|&v| v as f64).sum::<f64>();
                loss_count += values.len();
            }
            if wants_snapshot {
                self.take_snapshot().await?;
            }
            if at_epoch_end {
                let epoch = self.step / self.config.steps_per_epoch();
                if epoch % self.config.eval_every == 0 || self.is_done() {
                    self.record_epoch().await?;
                }
            }
        }
        let values = self.check_losses(losses).await?;
        loss_sum += values.iter().map(|&v| v as f64).sum::<f64>();
        loss_count += values.len();
        let recent = if loss_count == 0 {
            f32::NAN
        } else {
            (loss_sum / loss_count as f64) as f32
        };
        Ok(self.progress(recent))
    }

    /// One optimiser step; returns the batch loss (still on the device).
    fn train_step(&mut self) -> Tensor<1> {
        self.optimizer.set_lr(self.config.lr_at(self.step));
        let steps = self.config.steps_per_epoch();
        let (x, y) = match &self.full_batch {
            Some((x, y)) => (x.clone(), y.clone()),
            None => {
                let i = self.step % steps;
                if i == 0 {
                    self.order = epoch_order(self.train.len(), &mut self.order_rng);
                }
                let b = self.config.batch_size;
                let rows = &self.order[i * b..((i + 1) * b).min(self.order.len())];
                upload(&self.train, rows, &self.device)
            }
        };
        let model = &self.config.model;
        if let Some(noise) = self.config.noise {
            let rates = &model.drop_rates;
            let hidden = &model.widths[1..model.widths.len() - 1];
            let rows = x.dims()[0];
            let rng = &mut self.masks_rng;
            let (loss, grads) = match noise {
                NoiseInjection::GaussianDropout => {
                    let masks = gaussian_masks(rng, rows, hidden, rates, &self.device);
                    self.model.loss_and_grads_modes(x, y, &masks)
                }
                NoiseInjection::Disentanglement {
                    lambda_a, lambda_h, ..
                } => {
                    let (ba, bh) = self.reverse.as_ref().expect("refreshed before the step");
                    let act = correlated_noise(rng, rows, ba, lambda_a);
                    // The mean loss's error at z is δ / rows: scale the node noise alike.
                    let node = correlated_noise(rng, rows, bh, lambda_h / rows as f64);
                    self.model
                        .grads_of(|m| noisy_objective(m, x, y, &act, &node))
                }
                NoiseInjection::WeightNoise { std } => self
                    .model
                    .grads_of(|m| cross_entropy(with_weight_noise(m, rng, std).forward(x, &[]), y)),
            };
            self.model = self.optimizer.step(&self.model, grads);
            return loss;
        }
        if let Some(split) = self.config.dropout_split {
            let (loss, grads) = split_step(
                &self.model,
                x,
                y,
                &model.drop_rates,
                split,
                &mut self.masks_rng,
            );
            self.model = self.optimizer.step(&self.model, grads);
            return loss;
        }
        let masks = device_mode_masks(
            self.config.dropout_mode,
            &mut self.masks_rng,
            x.dims()[0],
            &model.widths[1..],
            &model.drop_rates,
            &self.device,
        );
        let (loss, grads) = self.model.loss_and_grads_modes(x, y, &masks);
        self.model = self.optimizer.step(&self.model, grads);
        loss
    }

    /// Σ_a, Σ_h of Algorithm 2 at the current weights (analysis/reverse_noise.rs).
    async fn refresh_reverse_noise(&mut self) -> LabResult<()> {
        let Some(NoiseInjection::Disentanglement { rows, damping, .. }) = self.config.noise else {
            return Ok(());
        };
        let theta = self.model.to_host().await?;
        // Weights that blew up between loss checks: the run diverged, as the loss would show.
        if let Some(&bad) = theta.flatten().iter().find(|v| !v.is_finite()) {
            return Err(LabError::NonFinite {
                step: self.step,
                value: bad,
            });
        }
        let data = self.train.first(rows.min(self.train.len()))?;
        let mut rng = stream(self.config.seed, Stream::GradientNoise);
        let f = factors(
            &self.config.model,
            &theta,
            &data,
            MaskNoise::Bernoulli,
            1,
            &mut rng,
        )?;
        let r = reverse_noise_factors(&f, damping)?;
        let upload = |m: &nalgebra::DMatrix<f64>| {
            // Bᵀ row-major is B column-major: nalgebra's storage order.
            let v: Vec<f32> = m.iter().map(|&x| x as f32).collect();
            Tensor::from_data(TensorData::new(v, [m.nrows(), m.ncols()]), &self.device)
        };
        self.reverse = Some((
            r.activation.iter().map(upload).collect(),
            r.node.iter().map(upload).collect(),
        ));
        Ok(())
    }

    /// Read the step losses back in one transfer; record them and stop on NaN/Inf.
    async fn check_losses(&mut self, losses: Vec<(usize, Tensor<1>)>) -> LabResult<Vec<f32>> {
        if losses.is_empty() {
            return Ok(Vec::new());
        }
        let (steps, tensors): (Vec<usize>, Vec<Tensor<1>>) = losses.into_iter().unzip();
        let values = read_f32(Tensor::cat(tensors, 0)).await?;
        for (&step, &loss) in steps.iter().zip(&values) {
            if !loss.is_finite() {
                return Err(LabError::NonFinite {
                    step: step + 1,
                    value: loss,
                });
            }
            if self.config.record_steps {
                self.history.steps.push(StepRecord {
                    step: step + 1,
                    loss,
                });
            }
        }
        Ok(values)
    }

    async fn record_epoch(&mut self) -> LabResult<()> {
        let (train_loss, train_accuracy) = evaluate(&self.model, &self.train_dev).await?;
        let (test_loss, test_accuracy) = evaluate(&self.model, &self.test_dev).await?;
        if !train_loss.is_finite() || !test_loss.is_finite() {
            return Err(LabError::NonFinite {
                step: self.step,
                value: if train_loss.is_finite() {
                    test_loss
                } else {
                    train_loss
                },
            });
        }
        self.history.epochs.push(EpochRecord {
            epoch: self.step / self.config.steps_per_epoch(),
            step: self.step,
            train_loss,
            train_accuracy,
            test_loss,
            test_accuracy,
        });
        Ok(())
    }

    async fn take_snapshot(&mut self) -> LabResult<()> {
        let params = match self.config.snapshot_layer {
            Some(l) => read_f32(self.model.layers[l].weight.clone()).await?,
            None => self.model.to_host().await?.flatten(),
        };
        self.snapshots.push(Snapshot {
            step: self.step,
            params,
        });
        Ok(())
    }
}

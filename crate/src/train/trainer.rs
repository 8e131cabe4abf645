//! The training loop of any network, driven in slices (`run`) so the page can report progress,
//! stay responsive and cancel between slices. Read-backs are async and batched: one per slice for
//! the step losses, one per evaluation. The step itself takes the all-dense fast path when the
//! network is an MLP (`dense_step.rs`) and the general one otherwise (`layer_step.rs`).

use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;

use super::batch::{epoch_order, upload};
use super::config::TrainConfig;
use super::dense_step::DenseState;
use super::eval::{evaluate, evaluate_net, DeviceData};
use super::history::{EpochRecord, History, StepRecord};
use super::layer_step::{LayerState, StepRngs};
use crate::backend::read_f32;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::net::{Net, NetParams};
use crate::model::Mlp;
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

/// A copy of every parameter at a step, or of one layer's weights when `snapshot_layer` is set.
/// An MLP's are flattened as in `HostParams::flatten` ([in, out] weights), another network's in
/// state_dict order.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub step: usize,
    pub params: Vec<f32>,
}

/// The network being trained, in the form its step takes.
enum Model {
    Dense(DenseState),
    Layers(LayerState),
}

pub struct Trainer {
    config: TrainConfig,
    device: Device,
    model: Model,
    train: Dataset,
    train_dev: DeviceData,
    test_dev: DeviceData,
    masks_rng: ChaCha8Rng,
    order_rng: ChaCha8Rng,
    augment_rng: ChaCha8Rng,
    order: Vec<usize>,
    step: usize,
    history: History,
    snapshots: Vec<Snapshot>,
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
        let spec = config.validate(train.len(), test.len(), train.dim, train.classes)?;
        let params = config
            .model
            .init(&spec, &mut stream(config.seed, Stream::Init))?;
        Self::with_params(config, params, train, test, device, backend, dataset).await
    }

    /// As `new`, starting from given parameters (e.g. imported weights) of the configured network.
    pub async fn with_params(
        config: TrainConfig,
        params: NetParams,
        train: &Dataset,
        test: &Dataset,
        device: Device,
        backend: &str,
        dataset: &str,
    ) -> LabResult<Self> {
        let spec = config.validate(train.len(), test.len(), train.dim, train.classes)?;
        // Before any device buffer: a run that cannot fit fails here with the sizes, not in a
        // WebGPU validation error or an out-of-memory trap.
        super::budget::check(&config, train.dim, backend)?;
        if params.spec != spec {
            return Err(LabError::Weights(format!(
                "the weights are of another network than the configured {}",
                config.model.label()
            )));
        }
        let train = train.first(config.train_size)?;
        let test = test.first(config.test_size)?;
        let model = match (config.mlp(), params.as_mlp()) {
            (Some(mlp_config), Some((_, host))) => {
                Model::Dense(DenseState::new(&config, mlp_config, &host, &train, &device))
            }
            _ => Model::Layers(LayerState::new(Net::from_host(&params, &device)?)?),
        };
        let mut trainer = Trainer {
            masks_rng: stream(config.seed, Stream::DropoutMasks),
            order_rng: stream(config.seed, Stream::BatchOrder),
            augment_rng: stream(config.seed, Stream::Augment),
            train_dev: DeviceData::upload(&train, &device),
            test_dev: DeviceData::upload(&test, &device),
            history: History::new(&config, backend, dataset),
            config,
            device,
            model,
            train,
            order: Vec::new(),
            step: 0,
            snapshots: Vec::new(),
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
    /// Evaluations so far: at initialisation and after every `eval_every` epochs.
    pub fn epochs(&self) -> &[EpochRecord] {
        &self.history.epochs
    }
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots
    }
    /// Hand the recorded snapshots over (they can be large).
    pub fn take_snapshots(&mut self) -> Vec<Snapshot> {
        std::mem::take(&mut self.snapshots)
    }
    pub fn train_data(&self) -> &DeviceData {
        &self.train_dev
    }
    pub fn test_data(&self) -> &DeviceData {
        &self.test_dev
    }
    pub fn is_done(&self) -> bool {
        self.step >= self.config.total_steps()
    }

    /// Whether the steps take the all-dense fast path (the network is an MLP).
    pub fn is_dense(&self) -> bool {
        matches!(self.model, Model::Dense(_))
    }

    /// The trained MLP on its fast path's [in, out] weights; an error names the network when it
    /// is not an MLP (for the analyses defined on an MLP's layers).
    pub fn mlp(&self) -> LabResult<&Mlp> {
        match &self.model {
            Model::Dense(d) => Ok(&d.mlp),
            Model::Layers(_) => Err(LabError::Config(format!(
                "this needs an MLP (dense layers only); the run trains {}",
                self.config.model.label()
            ))),
        }
    }

    /// The trained network as a network of layers, whatever path trained it (an MLP's weights
    /// transposed to PyTorch's [out, in] on the device).
    pub fn net(&self) -> LabResult<Net> {
        match &self.model {
            Model::Layers(l) => Ok(l.net.clone()),
            Model::Dense(d) => d.mlp.to_net(),
        }
    }

    /// Every parameter (and BatchNorm buffer) on the host, in the network's state_dict layout.
    pub async fn params(&self) -> LabResult<NetParams> {
        match &self.model {
            Model::Layers(l) => l.net.to_host().await,
            Model::Dense(d) => d.mlp.to_host().await?.to_net(&d.mlp.config),
        }
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
            if let Model::Dense(d) = &mut self.model {
                if d.wants_reverse_noise(&self.config, self.step) {
                    d.refresh_reverse_noise(&self.config, &self.train, self.step)
                        .await?;
                }
            }
            losses.push((self.step, self.train_step()?));
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

    /// The training rows of this step: a new order at each epoch's start, then the whole subset
    /// (full-batch steps) or the step's slice of it.
    fn next_rows(&mut self) -> Vec<usize> {
        let steps = self.config.steps_per_epoch();
        let i = self.step % steps;
        if i == 0 {
            self.order = epoch_order(self.train.len(), &mut self.order_rng);
        }
        if self.config.is_full_batch() {
            return self.order.clone();
        }
        let b = self.config.batch_size;
        self.order[i * b..((i + 1) * b).min(self.order.len())].to_vec()
    }

    /// One optimiser step; returns the batch loss (still on the device).
    fn train_step(&mut self) -> LabResult<Tensor<1>> {
        let lr = self.config.lr_at(self.step);
        // An MLP's full batch is uploaded once and needs no order.
        let uploaded = matches!(&self.model, Model::Dense(d) if d.full_batch.is_some());
        let rows = if uploaded {
            Vec::new()
        } else {
            self.next_rows()
        };
        match &mut self.model {
            Model::Dense(d) => {
                let (x, y) = match &d.full_batch {
                    Some((x, y)) => (x.clone(), y.clone()),
                    None => upload(&self.train, &rows, &self.device),
                };
                Ok(d.step(&self.config, lr, x, y, &mut self.masks_rng))
            }
            Model::Layers(l) => {
                let rngs = StepRngs {
                    masks: &mut self.masks_rng,
                    augment: &mut self.augment_rng,
                };
                l.step(
                    &self.config,
                    self.step,
                    &self.train,
                    &rows,
                    rngs,
                    &self.device,
                )
            }
        }
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

    async fn evaluate(&self, data: &DeviceData) -> LabResult<(f32, f32)> {
        match &self.model {
            Model::Dense(d) => evaluate(&d.mlp, data).await,
            Model::Layers(l) => evaluate_net(&l.net, data).await,
        }
    }

    async fn record_epoch(&mut self) -> LabResult<()> {
        let (train_loss, train_accuracy) = self.evaluate(&self.train_dev).await?;
        let (test_loss, test_accuracy) = self.evaluate(&self.test_dev).await?;
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
        let params = match (&self.model, self.config.snapshot_layer) {
            (Model::Dense(d), Some(l)) => read_f32(d.mlp.layers[l].weight.clone()).await?,
            (Model::Dense(d), None) => d.mlp.to_host().await?.flatten(),
            (Model::Layers(l), _) => l.net.to_host().await?.params.concat(),
        };
        self.snapshots.push(Snapshot {
            step: self.step,
            params,
        });
        Ok(())
    }
}

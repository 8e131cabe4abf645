//! The training loop of a network of layers, driven in slices (`run`) like the MLP's trainer so
//! the page can show progress and cancel: mini-batches (or full-batch GD accumulated over
//! chunks), seeded dropout masks and augmentation, BatchNorm's running statistics, weight decay
//! and the step schedule. One read-back per slice for the step losses, one per evaluation.

use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use super::batch::{epoch_order, gather};
use super::eval::{evaluate_logits, DeviceData};
use super::history::{EpochRecord, History};
use super::net_config::NetTrainConfig;
use super::noise_step::{net_with_weight_noise, NoiseInjection};
use super::optim::{update, Slot};
use super::trainer::Progress;
use crate::backend::read_f32;
use crate::data::augment::pad_crop_flip;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::net::masks::{device_gaussian_site_masks, device_mode_site_masks};
use crate::model::net::{BnMode, DropoutSite, Net, NetParams};
use crate::rng::{stream, Stream};

pub struct NetTrainer {
    config: NetTrainConfig,
    device: Device,
    net: Net,
    slots: Vec<Slot<1>>,
    train: Dataset,
    train_dev: DeviceData,
    test_dev: DeviceData,
    sites: Vec<DropoutSite>,
    masks_rng: ChaCha8Rng,
    order_rng: ChaCha8Rng,
    augment_rng: ChaCha8Rng,
    order: Vec<usize>,
    step: usize,
    history: History,
}

impl NetTrainer {
    /// Validate, take the subsets, initialise from the seed and evaluate the initial network.
    pub async fn new(
        config: NetTrainConfig,
        train: &Dataset,
        test: &Dataset,
        device: Device,
        backend: &str,
        dataset: &str,
    ) -> LabResult<Self> {
        let spec = config.validate(train.len(), test.len(), train.dim, train.classes)?;
        let params = NetParams::init(&spec, &mut stream(config.seed, Stream::Init))?;
        Self::with_params(config, params, train, test, device, backend, dataset).await
    }

    /// As `new`, from given parameters (imported weights); they must be the configured network.
    pub async fn with_params(
        config: NetTrainConfig,
        params: NetParams,
        train: &Dataset,
        test: &Dataset,
        device: Device,
        backend: &str,
        dataset: &str,
    ) -> LabResult<Self> {
        let spec = config.validate(train.len(), test.len(), train.dim, train.classes)?;
        if params.spec != spec {
            return Err(LabError::Weights(
                "the weights are of another network than the configured one".into(),
            ));
        }
        let train = train.first(config.train_size)?;
        let test = test.first(config.test_size)?;
        let net = Net::from_host(&params, &device)?;
        let mut trainer = NetTrainer {
            slots: (0..net.params.len()).map(|_| Slot::default()).collect(),
            sites: spec.dropout_sites()?,
            masks_rng: stream(config.seed, Stream::DropoutMasks),
            order_rng: stream(config.seed, Stream::BatchOrder),
            augment_rng: stream(config.seed, Stream::Augment),
            train_dev: DeviceData::upload(&train, &device),
            test_dev: DeviceData::upload(&test, &device),
            order: Vec::new(),
            step: 0,
            history: History::for_net(&config, backend, dataset),
            config,
            device,
            net,
            train,
        };
        trainer.record_epoch().await?;
        Ok(trainer)
    }

    pub fn config(&self) -> &NetTrainConfig {
        &self.config
    }

    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Evaluations so far: at initialisation and after every epoch.
    pub fn epochs(&self) -> &[EpochRecord] {
        &self.history.epochs
    }

    /// The run's record (config, backend, dataset, evaluations), as the MLP trainer keeps it.
    pub fn history(&self) -> &History {
        &self.history
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

    /// Up to `max_steps` optimiser steps (evaluating at each epoch's end), then the progress.
    pub async fn run(&mut self, max_steps: usize) -> LabResult<Progress> {
        let per_epoch = self.config.steps_per_epoch();
        let mut losses = Vec::new();
        let first = self.step;
        let mut sum = 0.0f32;
        while !self.is_done() && self.step - first < max_steps {
            losses.push(self.one_step()?);
            self.step += 1;
            if self.step % per_epoch == 0 {
                sum += self.check_losses(&mut losses).await?;
                let epoch = self.step / per_epoch;
                if epoch % self.config.eval_every == 0 || self.is_done() {
                    self.record_epoch().await?;
                }
            }
        }
        sum += self.check_losses(&mut losses).await?;
        let ran = self.step - first;
        let recent = if ran == 0 { f32::NAN } else { sum / ran as f32 };
        Ok(Progress {
            step: self.step,
            total_steps: self.config.total_steps(),
            epoch: self.step / per_epoch,
            epochs: self.config.epochs,
            recent_loss: recent,
            done: self.is_done(),
        })
    }

    /// Read the pending step losses; Err on the first that is not finite. Their sum.
    async fn check_losses(&self, losses: &mut Vec<Tensor<1>>) -> LabResult<f32> {
        if losses.is_empty() {
            return Ok(0.0);
        }
        let n = losses.len();
        let values = read_f32(Tensor::cat(std::mem::take(losses), 0)).await?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(LabError::NonFinite {
                step: self.step - n + i,
                value: values[i],
            });
        }
        Ok(values.iter().sum::<f32>())
    }

    /// One optimiser step; its (mean mini-batch) loss stays on the device.
    fn one_step(&mut self) -> LabResult<Tensor<1>> {
        let per_epoch = self.config.steps_per_epoch();
        let within = self.step % per_epoch;
        if within == 0 {
            self.order = epoch_order(self.train.len(), &mut self.order_rng);
        }
        let rows: Vec<usize> = if self.config.is_full_batch() {
            self.order.clone()
        } else {
            let b = self.config.batch_size;
            self.order[within * b..((within + 1) * b).min(self.order.len())].to_vec()
        };
        let total = rows.len() as f64;
        // Weight noise: the step's gradient is taken at W + σ z, one z for the whole step.
        let at = match self.config.noise {
            Some(NoiseInjection::WeightNoise { std }) => {
                let mut noisy = self.net.clone();
                noisy.params = net_with_weight_noise(&self.net, &mut self.masks_rng, std);
                Some(noisy)
            }
            _ => None,
        };
        let mut grads: Option<Vec<Tensor<1>>> = None;
        let mut loss: Option<Tensor<1>> = None;
        for chunk in rows.chunks(self.config.batch_size) {
            let (mut x, y) = gather(&self.train, chunk);
            if self.config.augment {
                pad_crop_flip(&mut x, self.net.spec.input, 4, &mut self.augment_rng);
            }
            let n = chunk.len();
            let x = Tensor::<2>::from_data(TensorData::new(x, [n, self.train.dim]), &self.device);
            let y =
                Tensor::<2>::from_data(TensorData::new(y, [n, self.train.classes]), &self.device);
            let masks = match self.config.noise {
                Some(NoiseInjection::GaussianDropout) => {
                    device_gaussian_site_masks(&mut self.masks_rng, n, &self.sites, &self.device)
                }
                _ => device_mode_site_masks(
                    self.config.dropout_mode,
                    &mut self.masks_rng,
                    n,
                    &self.sites,
                    &self.device,
                ),
            };
            let lg = at.as_ref().unwrap_or(&self.net).loss_and_grads_modes(
                x,
                y,
                masks,
                BnMode::Train,
            )?;
            self.net.update_running(lg.batch_stats);
            // The step's loss is the mean over all its rows: weight each chunk by its share.
            let w = n as f64 / total;
            let scaled: Vec<Tensor<1>> = lg.grads.into_iter().map(|g| g.mul_scalar(w)).collect();
            grads = Some(match grads {
                None => scaled,
                Some(acc) => acc.into_iter().zip(scaled).map(|(a, b)| a + b).collect(),
            });
            let l = lg.loss.mul_scalar(w);
            loss = Some(match loss {
                None => l,
                Some(s) => s + l,
            });
        }
        let mut hyper = self.config.hyper();
        hyper.lr = self.config.lr_at(self.step);
        let t = self.step + 1;
        let params = std::mem::take(&mut self.net.params);
        self.net.params = params
            .into_iter()
            .zip(grads.expect("a step has rows"))
            .zip(self.slots.iter_mut())
            .map(|((p, g), s)| update(&hyper, t, p, g, s))
            .collect();
        Ok(loss.expect("a step has rows"))
    }

    async fn record_epoch(&mut self) -> LabResult<()> {
        let (train_loss, train_accuracy) = evaluate_net(&self.net, &self.train_dev).await?;
        let (test_loss, test_accuracy) = evaluate_net(&self.net, &self.test_dev).await?;
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
}

/// (mean cross-entropy, accuracy) in evaluation mode (running statistics, no dropout).
pub async fn evaluate_net(net: &Net, data: &DeviceData) -> LabResult<(f32, f32)> {
    evaluate_logits(data, |x| net.logits(x)).await
}

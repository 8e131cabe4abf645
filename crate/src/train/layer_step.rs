//! One training step of a network of layers (convolutions, pooling, BatchNorm, residual blocks):
//! a mini-batch, or the full batch accumulated over chunks of `batch_size` rows, with seeded
//! dropout masks at every site, augmentation, BatchNorm's running statistics, weight noise and
//! Gaussian dropout.

use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use super::batch::gather;
use super::config::TrainConfig;
use super::noise_step::{net_with_weight_noise, NoiseInjection};
use super::optim::{update, Slot};
use crate::data::augment::pad_crop_flip;
use crate::data::Dataset;
use crate::error::LabResult;
use crate::model::net::masks::{device_gaussian_site_masks, device_mode_site_masks};
use crate::model::net::{BnMode, DropoutSite, Net};

pub(super) struct LayerState {
    pub net: Net,
    slots: Vec<Slot<1>>,
    sites: Vec<DropoutSite>,
}

/// The random streams a step draws from.
pub(super) struct StepRngs<'a> {
    pub masks: &'a mut ChaCha8Rng,
    pub augment: &'a mut ChaCha8Rng,
}

impl LayerState {
    pub fn new(net: Net) -> LabResult<Self> {
        Ok(LayerState {
            slots: (0..net.params.len()).map(|_| Slot::default()).collect(),
            sites: net.spec.dropout_sites()?,
            net,
        })
    }

    /// One optimiser step (the `step`-th, 0-based) on the training rows `rows`; its mean loss
    /// stays on the device.
    pub fn step(
        &mut self,
        config: &TrainConfig,
        step: usize,
        train: &Dataset,
        rows: &[usize],
        rngs: StepRngs,
        device: &Device,
    ) -> LabResult<Tensor<1>> {
        let total = rows.len() as f64;
        // Weight noise: the step's gradient is taken at W + σ z, one z for the whole step.
        let at = match config.noise {
            Some(NoiseInjection::WeightNoise { std }) => {
                let mut noisy = self.net.clone();
                noisy.params = net_with_weight_noise(&self.net, rngs.masks, std);
                Some(noisy)
            }
            _ => None,
        };
        let mut grads: Option<Vec<Tensor<1>>> = None;
        let mut loss: Option<Tensor<1>> = None;
        for chunk in rows.chunks(config.batch_size) {
            let (mut x, y) = gather(train, chunk);
            if config.augment {
                pad_crop_flip(&mut x, self.net.spec.input, 4, rngs.augment);
            }
            let n = chunk.len();
            let x = Tensor::<2>::from_data(TensorData::new(x, [n, train.dim]), device);
            let y = Tensor::<2>::from_data(TensorData::new(y, [n, train.classes]), device);
            let masks = match config.noise {
                Some(NoiseInjection::GaussianDropout) => {
                    device_gaussian_site_masks(rngs.masks, n, &self.sites, device)
                }
                _ => {
                    device_mode_site_masks(config.dropout_mode, rngs.masks, n, &self.sites, device)
                }
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
        let mut hyper = config.hyper();
        hyper.lr = config.lr_at(step);
        let t = step + 1;
        let params = std::mem::take(&mut self.net.params);
        self.net.params = params
            .into_iter()
            .zip(grads.expect("a step has rows"))
            .zip(self.slots.iter_mut())
            .map(|((p, g), s)| update(&hyper, t, p, g, s))
            .collect();
        Ok(loss.expect("a step has rows"))
    }
}

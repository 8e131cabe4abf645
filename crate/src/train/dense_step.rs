//! One training step of an all-dense network (an MLP) on its fast path: [in, out] weight
//! matrices, one product per layer, masks per hidden layer. The trainer takes it whenever the
//! network is an MLP (`NetSpec::as_mlp`); paper 003's split and paper 002's disentanglement noise,
//! defined on an MLP's layers and hidden units, exist only here.

use burn::tensor::{Device, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use super::config::TrainConfig;
use super::noise_step::{
    correlated_noise, gaussian_masks, noisy_objective, with_weight_noise, NoiseInjection,
};
use super::optim::{Hyper, Optimizer};
use super::split_step::split_step;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::dropout::device_mode_masks;
use crate::model::loss::cross_entropy;
use crate::model::{HostParams, Mlp, MlpConfig};
use crate::objectives::kfac_factors::{factors, MaskNoise};
use crate::objectives::reverse_noise::reverse_noise_factors;
use crate::rng::{stream, Stream};

pub(super) struct DenseState {
    pub mlp: Mlp,
    optimizer: Optimizer,
    /// For full-batch steps the whole subset stays on the device.
    pub full_batch: Option<(Tensor<2>, Tensor<2>)>,
    /// Bᵀ of η_a and η_h per hidden layer for disentanglement noise, refreshed during training.
    reverse: Option<(Vec<Tensor<2>>, Vec<Tensor<2>>)>,
}

impl DenseState {
    pub fn new(
        config: &TrainConfig,
        mlp_config: &MlpConfig,
        params: &HostParams,
        train: &Dataset,
        device: &Device,
    ) -> Self {
        let mlp = Mlp::from_host(mlp_config, params, device);
        let full_batch = config.is_full_batch().then(|| {
            let all: Vec<usize> = (0..train.len()).collect();
            super::batch::upload(train, &all, device)
        });
        DenseState {
            optimizer: Optimizer::new(Hyper::from_config(config), mlp.layers.len()),
            mlp,
            full_batch,
            reverse: None,
        }
    }

    /// Whether disentanglement noise needs Σ_a, Σ_h recomputed before step `step`.
    pub fn wants_reverse_noise(&self, config: &TrainConfig, step: usize) -> bool {
        match config.noise {
            Some(NoiseInjection::Disentanglement { refresh_every, .. }) => {
                self.reverse.is_none() || step % refresh_every == 0
            }
            _ => false,
        }
    }

    /// One optimiser step on (x, y); returns the batch loss (still on the device).
    pub fn step(
        &mut self,
        config: &TrainConfig,
        lr: f64,
        x: Tensor<2>,
        y: Tensor<2>,
        rng: &mut ChaCha8Rng,
    ) -> Tensor<1> {
        self.optimizer.set_lr(lr);
        let model = &self.mlp.config;
        let device = x.device();
        let (loss, grads) = if let Some(noise) = config.noise {
            let rates = &model.drop_rates;
            let hidden = &model.widths[1..model.widths.len() - 1];
            let rows = x.dims()[0];
            match noise {
                NoiseInjection::GaussianDropout => {
                    let masks = gaussian_masks(rng, rows, hidden, rates, &device);
                    self.mlp.loss_and_grads_modes(x, y, &masks)
                }
                NoiseInjection::Disentanglement {
                    lambda_a, lambda_h, ..
                } => {
                    let (ba, bh) = self.reverse.as_ref().expect("refreshed before the step");
                    let act = correlated_noise(rng, rows, ba, lambda_a);
                    // The mean loss's error at z is δ / rows: scale the node noise alike.
                    let node = correlated_noise(rng, rows, bh, lambda_h / rows as f64);
                    self.mlp.grads_of(|m| noisy_objective(m, x, y, &act, &node))
                }
                NoiseInjection::WeightNoise { std } => self
                    .mlp
                    .grads_of(|m| cross_entropy(with_weight_noise(m, rng, std).forward(x, &[]), y)),
            }
        } else if let Some(split) = config.dropout_split {
            split_step(&self.mlp, x, y, &model.drop_rates, split, rng)
        } else {
            let masks = device_mode_masks(
                config.dropout_mode,
                rng,
                x.dims()[0],
                &model.widths[1..],
                &model.drop_rates,
                &device,
            );
            self.mlp.loss_and_grads_modes(x, y, &masks)
        };
        self.mlp = self.optimizer.step(&self.mlp, grads);
        loss
    }

    /// Σ_a, Σ_h of Algorithm 2 at the current weights (objectives/reverse_noise.rs).
    pub async fn refresh_reverse_noise(
        &mut self,
        config: &TrainConfig,
        train: &Dataset,
        step: usize,
    ) -> LabResult<()> {
        let Some(NoiseInjection::Disentanglement { rows, damping, .. }) = config.noise else {
            return Ok(());
        };
        let theta = self.mlp.to_host().await?;
        // Weights that blew up between loss checks: the run diverged, as the loss would show.
        if let Some(&bad) = theta.flatten().iter().find(|v| !v.is_finite()) {
            return Err(LabError::NonFinite { step, value: bad });
        }
        let data = train.first(rows.min(train.len()))?;
        let mut rng = stream(config.seed, Stream::GradientNoise);
        let f = factors(
            &self.mlp.config,
            &theta,
            &data,
            MaskNoise::Bernoulli,
            1,
            &mut rng,
        )?;
        let r = reverse_noise_factors(&f, damping)?;
        let device = self.mlp.layers[0].weight.device();
        let upload = |m: &nalgebra::DMatrix<f64>| {
            // Bᵀ row-major is B column-major: nalgebra's storage order.
            let v: Vec<f32> = m.iter().map(|&x| x as f32).collect();
            Tensor::from_data(TensorData::new(v, [m.nrows(), m.ncols()]), &device)
        };
        self.reverse = Some((
            r.activation.iter().map(upload).collect(),
            r.node.iter().map(upload).collect(),
        ));
        Ok(())
    }
}

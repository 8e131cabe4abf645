//! Paper 002 Fig. 2(b): weight volume during training, with and without dropout. Two networks
//! from the same initialisation and seed ("64-32-16-10": hidden widths 64, 32, 16 on 784 MNIST
//! inputs) trained by SGD, one with dropout after every hidden layer; after every epoch each
//! layer's volume by the dropout-aware K-FAC Laplace estimate (analysis/kfac.rs, eq. 10-11).
//! A layer's log vol scales with its size, so the chart shows log vol / D (D = fan_in·fan_out),
//! the mean log volume per weight.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::Reporter;
use crate::analysis::kfac::{factors, laplace_volumes, LayerVolume};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::{Activation, InitScheme, MlpConfig};
use crate::rng::{stream, Stream};
use crate::train::{OptimizerKind, TrainConfig, Trainer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTrackConfig {
    pub train_size: usize,
    pub test_size: usize,
    pub widths: Vec<usize>,
    pub activation: Activation,
    /// Drop rate after every hidden layer of the dropout network.
    pub drop_rate: f32,
    pub lr: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    /// Training rows the K-FAC expectations run over.
    pub kfac_rows: usize,
    /// Dropout masks averaged in the expectations (dropout network only).
    pub mask_draws: usize,
    /// Laplace prior precision, relative to each factor's mean diagonal.
    pub damping: f64,
}

impl VolumeTrackConfig {
    pub fn demo() -> Self {
        VolumeTrackConfig {
            train_size: 2000,
            test_size: 2000,
            widths: vec![784, 64, 32, 16, 10],
            activation: Activation::Relu,
            drop_rate: 0.3,
            lr: 0.05,
            batch_size: 32,
            epochs: 10,
            seed: 1,
            kfac_rows: 500,
            mask_draws: 4,
            damping: 1e-3,
        }
    }

    pub fn train_config(&self, dropout: bool) -> TrainConfig {
        let hidden = self.widths.len() - 2;
        TrainConfig {
            eval_every: 1,
            ..TrainConfig::for_preset(
                MlpConfig {
                    widths: self.widths.clone(),
                    activation: self.activation,
                    drop_rates: vec![if dropout { self.drop_rate } else { 0.0 }; hidden],
                    init: InitScheme::He,
                },
                OptimizerKind::Sgd,
                self.lr,
                self.epochs,
                self.batch_size,
                self.train_size,
                self.test_size,
                self.seed,
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeEpoch {
    pub epoch: usize,
    pub layers: Vec<LayerVolume>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRun {
    pub dropout: bool,
    pub epochs: Vec<VolumeEpoch>,
    pub final_train_accuracy: f32,
    pub final_test_accuracy: f32,
    /// Train minus test accuracy at the end.
    pub generalisation_gap: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTrackResult {
    pub config: VolumeTrackConfig,
    pub backend: String,
    pub crate_version: String,
    pub runs: Vec<VolumeRun>,
}

pub async fn run(
    cfg: &VolumeTrackConfig,
    train: &Dataset,
    test: &Dataset,
    device: Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<VolumeTrackResult> {
    if !(cfg.drop_rate > 0.0 && cfg.drop_rate < 1.0) || cfg.kfac_rows == 0 || cfg.widths.len() < 3 {
        return Err(LabError::Config(
            "the volume preset needs a drop rate in (0, 1), kfac_rows ≥ 1 and a hidden layer"
                .into(),
        ));
    }
    let kfac_data = train.first(cfg.kfac_rows.min(cfg.train_size))?;
    let mut runs = Vec::new();
    for dropout in [false, true] {
        let tc = cfg.train_config(dropout);
        let mut trainer =
            Trainer::new(tc.clone(), train, test, device.clone(), backend, "mnist").await?;
        let steps_per_epoch = tc.steps_per_epoch();
        let mut rng = stream(cfg.seed, Stream::GradientNoise);
        let mut epochs = Vec::new();
        let stage = if dropout {
            "with dropout"
        } else {
            "without dropout"
        };
        loop {
            let epoch = trainer.progress(f32::NAN).step / steps_per_epoch;
            let theta = trainer.model().to_host().await?;
            let f = factors(&tc.model, &theta, &kfac_data, cfg.mask_draws, &mut rng)?;
            epochs.push(VolumeEpoch {
                epoch,
                layers: laplace_volumes(&tc.model, &f, cfg.damping)?,
            });
            if !reporter
                .report(&format!("{stage}: epoch"), epoch, cfg.epochs)
                .await
            {
                return Err(LabError::Cancelled);
            }
            if trainer.is_done() {
                break;
            }
            trainer.run(steps_per_epoch).await?;
        }
        let last = trainer
            .history()
            .epochs
            .last()
            .cloned()
            .ok_or_else(|| LabError::Config("no evaluation recorded".into()))?;
        runs.push(VolumeRun {
            dropout,
            epochs,
            final_train_accuracy: last.train_accuracy,
            final_test_accuracy: last.test_accuracy,
            generalisation_gap: last.train_accuracy - last.test_accuracy,
        });
    }
    Ok(VolumeTrackResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        runs,
    })
}

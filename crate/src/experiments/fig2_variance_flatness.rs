//! Paper 000 Fig. 2: the inverse variance-flatness relation. An FNN 784-50-50-10 trained by
//! full-batch GD on the first N MNIST images with dropout after the second hidden layer; at the
//! end, noise samples S in the block between the hidden layers, the PCA of their covariance, the
//! interval flatness F_{v_i} along each eigen-direction, and the log-log scatter {λ_i, F_{v_i}}
//! with its power-law fit, one series per (drop rate, learning rate) setting.
//! Training and sampling: `noise_run.rs` (keep probability p of the paper = 1 - drop_rate).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::Reporter;
use crate::analysis::covariance::pca;
use crate::analysis::flatness::{interval_flatness, FlatnessOptions, IntervalFlatness};
use crate::analysis::noise::{Block, BlockProfile};
use crate::analysis::powerlaw::{fit, PowerLaw};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::train::eval::DeviceData;

use super::noise_run::train_and_sample;
pub use super::noise_run::{NoiseRun, NoiseSource, Setting};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Config {
    #[serde(flatten)]
    pub run: NoiseRun,
    /// Eigen-directions examined (largest eigenvalues first).
    pub top_k: usize,
    pub flatness: FlatnessOptions,
}

impl Fig2Config {
    /// Minutes on a laptop; the paper's scale is train_size 10000, samples 3000.
    pub fn demo() -> Self {
        Fig2Config {
            run: NoiseRun::demo(),
            top_k: 20,
            flatness: FlatnessOptions {
                factor: 2.0,
                first_step: 1e-2,
                max_range: 100.0,
                tolerance: 1e-3,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingResult {
    pub source: NoiseSource,
    pub setting: Setting,
    pub final_train_loss: f32,
    pub eigenvalues: Vec<f64>,
    /// F_{v_i} with both crossings, per eigen-direction.
    pub flatness: Vec<IntervalFlatness>,
    /// Directions where a side had no crossing within max_range (reported, not plotted).
    pub no_crossing: usize,
    pub fit: Option<PowerLawFit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerLawFit {
    pub slope: f64,
    pub intercept: f64,
    pub r2: f64,
    pub used: usize,
}

impl From<PowerLaw> for PowerLawFit {
    fn from(p: PowerLaw) -> Self {
        PowerLawFit {
            slope: p.slope,
            intercept: p.intercept,
            r2: p.r2,
            used: p.used,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Result {
    pub config: Fig2Config,
    pub backend: String,
    pub crate_version: String,
    pub settings: Vec<SettingResult>,
}

pub async fn run(
    cfg: &Fig2Config,
    train: &Dataset,
    device: Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<Fig2Result> {
    cfg.run.validate()?;
    if cfg.top_k == 0 {
        return Err(LabError::Config("Fig 2 needs at least 1 direction".into()));
    }
    let train = train.first(cfg.run.train_size)?;
    let block = Block {
        layer: cfg.run.block_layer,
    };
    let resident = DeviceData::upload(&train, &device);
    let mut results = Vec::new();
    for (si, s) in cfg.run.settings.iter().enumerate() {
        let stage = format!(
            "setting {}/{} (drop {}, lr {})",
            si + 1,
            cfg.run.settings.len(),
            s.drop_rate,
            s.lr
        );
        let sampled =
            train_and_sample(&cfg.run, s, &stage, &train, &device, backend, reporter).await?;
        for (source, samples) in sampled.samples {
            let pcs = pca(&samples, cfg.top_k)?;
            let mut flatness: Vec<IntervalFlatness> = Vec::new();
            for (i, v) in pcs.eigenvectors.iter().enumerate() {
                let mut profile = BlockProfile::new(
                    &sampled.train_config.model,
                    &sampled.theta,
                    block,
                    v,
                    &resident,
                    &device,
                );
                flatness.push(interval_flatness(&mut profile, &cfg.flatness).await?);
                if !reporter
                    .report(
                        &format!("{stage}: {source:?} flatness"),
                        i + 1,
                        pcs.eigenvectors.len(),
                    )
                    .await
                {
                    return Err(LabError::Cancelled);
                }
            }
            let (xs, ys): (Vec<f64>, Vec<f64>) = pcs
                .eigenvalues
                .iter()
                .zip(&flatness)
                .filter_map(|(&l, f)| f.width.map(|w| (l, w)))
                .unzip();
            results.push(SettingResult {
                source,
                setting: *s,
                final_train_loss: sampled.final_train_loss,
                no_crossing: flatness.iter().filter(|f| f.width.is_none()).count(),
                eigenvalues: pcs.eigenvalues,
                flatness,
                fit: fit(&xs, &ys).map(Into::into),
            });
        }
    }
    Ok(Fig2Result {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        settings: results,
    })
}

//! Paper 000 Fig. 2: the inverse variance-flatness relation. An FNN 784-50-50-10 trained by
//! full-batch GD on the first N MNIST images with dropout after the second hidden layer; at the
//! end, noise samples S in the block between the hidden layers, the PCA of their covariance, the
//! interval flatness F_{v_i} along each eigen-direction, and the log-log scatter {λ_i, F_{v_i}}
//! with its power-law fit, one series per (drop rate, learning rate) setting.
//!
//! Convention: paper 000 writes p for the KEEP probability (settings p = 0.9, 0.8); here
//! drop_rate = 1 - p (0.1, 0.2).
//! S_grad (Sec. 3.3.2): N gradients at the frozen final θ with fresh masks.
//! S_para (Sec. 3.3.1): the block's weights at N consecutive GD steps after training.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::Reporter;
use crate::analysis::covariance::pca;
use crate::analysis::flatness::{interval_flatness, FlatnessOptions, IntervalFlatness};
use crate::analysis::noise::{gradient_samples, Block, BlockProfile};
use crate::analysis::powerlaw::{fit, PowerLaw};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::{Activation, InitScheme, MlpConfig};
use crate::train::eval::DeviceData;
use crate::train::{OptimizerKind, TrainConfig, Trainer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseSource {
    /// Gradients at a frozen θ with fresh dropout masks.
    Grad,
    /// Parameters along the trajectory.
    Para,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub drop_rate: f32,
    pub lr: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Config {
    /// First N training images (paper: 10000).
    pub train_size: usize,
    pub widths: Vec<usize>,
    pub activation: Activation,
    pub settings: Vec<Setting>,
    /// Full-batch GD steps before sampling.
    pub epochs: usize,
    /// One scatter panel per source (the paper shows S_para and S_grad side by side).
    pub sources: Vec<NoiseSource>,
    /// Noise samples N (paper: 3000).
    pub samples: usize,
    /// Eigen-directions examined (largest eigenvalues first).
    pub top_k: usize,
    /// The block: weights of this layer (1 = between the two hidden layers).
    pub block_layer: usize,
    pub seed: u64,
    pub flatness: FlatnessOptions,
}

impl Fig2Config {
    /// Minutes on a laptop; the paper's scale is train_size 10000, samples 3000.
    pub fn demo() -> Self {
        Fig2Config {
            train_size: 1000,
            widths: vec![784, 50, 50, 10],
            activation: Activation::Relu,
            settings: vec![
                Setting { drop_rate: 0.1, lr: 0.05 },
                Setting { drop_rate: 0.1, lr: 0.1 },
                Setting { drop_rate: 0.2, lr: 0.05 },
                Setting { drop_rate: 0.2, lr: 0.1 },
            ],
            epochs: 300,
            sources: vec![NoiseSource::Grad, NoiseSource::Para],
            samples: 200,
            top_k: 20,
            block_layer: 1,
            seed: 1,
            flatness: FlatnessOptions { factor: 2.0, first_step: 1e-2, max_range: 100.0, tolerance: 1e-3 },
        }
    }

    pub fn train_config(&self, s: &Setting, extra_steps: usize) -> TrainConfig {
        let hidden = self.widths.len() - 2;
        let mut drop_rates = vec![0.0; hidden];
        if let Some(last) = drop_rates.last_mut() {
            *last = s.drop_rate; // "dropout after the second hidden layer"
        }
        TrainConfig {
            model: MlpConfig { widths: self.widths.clone(), activation: self.activation, drop_rates, init: InitScheme::Xavier },
            train_size: self.train_size,
            test_size: 1,
            optimizer: OptimizerKind::Gd,
            lr: s.lr,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            epochs: self.epochs + extra_steps,
            batch_size: self.train_size,
            seed: self.seed,
            eval_every: self.epochs + extra_steps,
            record_steps: false,
            snapshot_every: if extra_steps > 0 { 1 } else { 0 },
            snapshot_layer: Some(self.block_layer),
            snapshot_after: self.epochs + 1,
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
        PowerLawFit { slope: p.slope, intercept: p.intercept, r2: p.r2, used: p.used }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Result {
    pub config: Fig2Config,
    pub backend: String,
    pub crate_version: String,
    pub settings: Vec<SettingResult>,
}

pub async fn run(cfg: &Fig2Config, train: &Dataset, device: Device, backend: &str, reporter: &mut impl Reporter) -> LabResult<Fig2Result> {
    if cfg.settings.is_empty() || cfg.sources.is_empty() || cfg.samples < 2 || cfg.top_k == 0 {
        return Err(LabError::Config("Fig 2 needs at least one setting, one noise source, 2 samples and 1 direction".into()));
    }
    let train = train.first(cfg.train_size)?;
    let block = Block { layer: cfg.block_layer };
    let resident = DeviceData::upload(&train, &device);
    let mut results = Vec::new();
    for (si, s) in cfg.settings.iter().enumerate() {
        let stage = format!("setting {}/{} (drop {}, lr {})", si + 1, cfg.settings.len(), s.drop_rate, s.lr);
        let extra = if cfg.sources.contains(&NoiseSource::Para) { cfg.samples } else { 0 };
        let tc = cfg.train_config(s, extra);
        block.validate(&tc.model)?;
        let mut trainer = Trainer::new(tc.clone(), &train, &train, device.clone(), backend, "mnist").await?;
        while !trainer.is_done() {
            let p = trainer.run(20).await?;
            if !reporter.report(&format!("{stage}: training"), p.step, p.total_steps).await {
                return Err(LabError::Cancelled);
            }
        }
        // Every panel measures flatness around the final θ (after the S_para trajectory, if any).
        let theta_at_end = trainer.model().to_host().await?;
        let final_train_loss = trainer.history().epochs.last().map_or(f32::NAN, |e| e.train_loss);
        let mut trajectory = Some(trainer.take_snapshots());
        for &source in &cfg.sources {
            let samples: Vec<Vec<f32>> = match source {
                NoiseSource::Para => trajectory.take().unwrap_or_default().into_iter().map(|s| s.params).collect(),
                NoiseSource::Grad => {
                    gradient_samples(&tc.model, &theta_at_end, &tc.model.drop_rates, &train, block, cfg.samples, cfg.seed, &device, |_| {}).await?
                }
            };
            let pcs = pca(&samples, cfg.top_k)?;
            let mut flatness: Vec<IntervalFlatness> = Vec::new();
            for (i, v) in pcs.eigenvectors.iter().enumerate() {
                let mut profile = BlockProfile::new(&tc.model, &theta_at_end, block, v, &resident, &device);
                flatness.push(interval_flatness(&mut profile, &cfg.flatness).await?);
                if !reporter.report(&format!("{stage}: {source:?} flatness"), i + 1, pcs.eigenvectors.len()).await {
                    return Err(LabError::Cancelled);
                }
            }
            let (xs, ys): (Vec<f64>, Vec<f64>) =
                pcs.eigenvalues.iter().zip(&flatness).filter_map(|(&l, f)| f.width.map(|w| (l, w))).unzip();
            results.push(SettingResult {
                source,
                setting: *s,
                final_train_loss,
                no_crossing: flatness.iter().filter(|f| f.width.is_none()).count(),
                eigenvalues: pcs.eigenvalues,
                flatness,
                fit: fit(&xs, &ys).map(Into::into),
            });
        }
    }
    Ok(Fig2Result { config: cfg.clone(), backend: backend.to_string(), crate_version: crate::CRATE_VERSION.to_string(), settings: results })
}

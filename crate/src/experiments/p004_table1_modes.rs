//! Paper 004 Tables 1-3: test accuracy of standard, forward-only, backward-only and augmented
//! dropout against the drop rate, with the plain network as reference, each the mean over
//! several seeds (the paper averages four runs).
//!
//! The paper's nets are ConvNet-Quick / ResNet-20 on CIFAR-10 and LeNet on MNIST with dropout
//! on the fully connected layers; the lab's networks are MLPs, so here dropout follows every
//! hidden layer of an MLP on the loaded data set (MNIST or Fashion-MNIST). Paper 004 writes the
//! drop ratio p as this lab does. Augmented dropout uses the standard rate forward and an extra
//! backward rate (the paper's LeNet runs: 1e-4).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::momentum_mlp::MomentumMlp;
use super::seeded_runs::run_seeds;
use super::Reporter;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::DropoutMode;
use crate::train::TrainConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModesTableConfig {
    #[serde(flatten)]
    pub net: MomentumMlp,
    /// Drop rates (the columns of Tab. 1: 0.3, 0.2, 0.1, 0.05, 0.01, 0.005).
    pub rates: Vec<f32>,
    /// The rows; `Augmented.backward_rate` is the extra backward rate.
    pub modes: Vec<DropoutMode>,
    /// Runs per cell, with seeds seed, seed + 1, ...
    pub seeds: usize,
    pub seed: u64,
}

impl ModesTableConfig {
    pub fn demo() -> Self {
        ModesTableConfig {
            net: MomentumMlp::demo(),
            rates: vec![0.3, 0.1, 0.01],
            modes: vec![
                DropoutMode::Standard,
                DropoutMode::ForwardOnly,
                DropoutMode::BackwardOnly,
                DropoutMode::Augmented {
                    backward_rate: 1e-4,
                },
            ],
            seeds: 2,
            seed: 1,
        }
    }

    fn train_config(&self, rate: f32, mode: DropoutMode, seed: u64) -> TrainConfig {
        TrainConfig {
            dropout_mode: mode,
            ..self.net.train_config(rate, seed)
        }
    }
}

/// Mean and sample standard deviation over seeds (0 for one seed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub std: f64,
}

/// "mean±sd" to 4 decimals, as the tables print it.
impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4}±{:.4}", self.mean, self.std)
    }
}

/// A Spread that may be missing (every seed diverged), printed as "-".
pub fn spread_or_dash(s: Option<Spread>) -> String {
    s.map_or("-".into(), |s| s.to_string())
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Spread {
            mean,
            std: var.sqrt(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub mode: DropoutMode,
    pub rate: f32,
    /// Over the seeds whose training stayed finite; None if none did.
    pub test_accuracy: Option<Spread>,
    pub test_loss: Option<Spread>,
    /// Per seed, in seed order; None where the training diverged (NaN/Inf loss).
    pub accuracies: Vec<Option<f64>>,
    pub diverged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModesTableResult {
    pub config: ModesTableConfig,
    pub backend: String,
    pub crate_version: String,
    pub dataset: String,
    pub plain: Cell,
    pub cells: Vec<Cell>,
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: &ModesTableConfig,
    train: &Dataset,
    test: &Dataset,
    dataset: &str,
    device: Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<ModesTableResult> {
    if cfg.seeds == 0
        || cfg.modes.is_empty()
        || cfg.rates.is_empty()
        || cfg.rates.iter().any(|r| !(*r > 0.0 && *r < 1.0))
        || cfg.net.hidden_layers() == 0
    {
        return Err(LabError::Config(
            "the modes table needs a hidden layer, at least one mode and one seed, and drop rates in (0, 1)".into(),
        ));
    }
    for m in &cfg.modes {
        m.validate()?;
    }
    let total = 1 + cfg.modes.len() * cfg.rates.len();
    let mut run_cell = async |mode: DropoutMode, rate: f32, index: usize| -> LabResult<Cell> {
        let stage = format!("run {index}/{total}: {} at drop {rate}", mode_label(mode));
        let r = run_seeds(
            |seed| cfg.train_config(rate, mode, seed),
            cfg.seeds,
            cfg.seed,
            train,
            test,
            dataset,
            &device,
            backend,
            &stage,
            reporter,
        )
        .await?;
        Ok(Cell {
            mode,
            rate,
            test_accuracy: r.final_test_accuracy,
            test_loss: r.final_test_loss,
            accuracies: r.test_accuracies,
            diverged: r.diverged,
        })
    };
    // Rate 0 trains the plain network whatever the mode.
    let plain = run_cell(DropoutMode::Standard, 0.0, 1).await?;
    let mut cells = Vec::new();
    for (i, &mode) in cfg.modes.iter().enumerate() {
        for (j, &rate) in cfg.rates.iter().enumerate() {
            cells.push(run_cell(mode, rate, 2 + i * cfg.rates.len() + j).await?);
        }
    }
    Ok(ModesTableResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        dataset: dataset.to_string(),
        plain,
        cells,
    })
}

/// The row names of Tab. 1.
pub fn mode_label(mode: DropoutMode) -> String {
    match mode {
        DropoutMode::Standard => "standard".into(),
        DropoutMode::ForwardOnly => "forward".into(),
        DropoutMode::BackwardOnly => "backward".into(),
        DropoutMode::Augmented { backward_rate } => format!("augmented (+{backward_rate})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_mean_and_sample_std() {
        let s = Spread::of(&[1.0, 2.0, 3.0, 6.0]);
        assert_eq!(s.mean, 3.0);
        assert!((s.std - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Spread::of(&[0.7]).std, 0.0);
        assert_eq!(s.to_string(), "3.0000±2.1602");
        assert_eq!(spread_or_dash(None), "-");
    }
}

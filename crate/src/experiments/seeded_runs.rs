//! One training configuration run over several seeds (seed, seed + 1, ...): the per-epoch curves
//! averaged over the seeds, the final numbers as mean ± sd, and each seed's final weights. A run
//! whose loss becomes NaN/Inf is counted as diverged and left out of the averages: for the noisy
//! objectives of papers 002-004 blowing up is a result, not an error.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{train_to_end, Reporter};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::HostParams;
use crate::train::{EpochRecord, TrainConfig, Trainer};

/// Per evaluated epoch (0 = initialisation), the mean over the finite seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub epoch: usize,
    pub train_loss: f64,
    pub test_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeededRun {
    pub curve: Vec<CurvePoint>,
    pub final_test_accuracy: Option<Spread>,
    pub final_test_loss: Option<Spread>,
    pub final_train_loss: Option<Spread>,
    pub diverged: usize,
    /// Final test accuracy per seed in seed order, None where the run diverged.
    pub test_accuracies: Vec<Option<f64>>,
    /// Final weights of the finite seeds, with the train config each ran.
    pub finals: Vec<(TrainConfig, HostParams)>,
}

#[allow(clippy::too_many_arguments)]
pub async fn run_seeds(
    config_for_seed: impl Fn(u64) -> TrainConfig,
    seeds: usize,
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    dataset: &str,
    device: &Device,
    backend: &str,
    stage: &str,
    reporter: &mut impl Reporter,
) -> LabResult<SeededRun> {
    let mut histories: Vec<Vec<EpochRecord>> = Vec::new();
    let mut finals = Vec::new();
    let mut test_accuracies = Vec::new();
    for k in 0..seeds {
        let tc = config_for_seed(seed + k as u64);
        let mut trainer =
            Trainer::new(tc.clone(), train, test, device.clone(), backend, dataset).await?;
        let stage = format!("{stage}, seed {}", tc.seed);
        match train_to_end(&mut trainer, tc.steps_per_epoch(), &stage, reporter).await {
            Ok(()) => {
                let epochs = trainer.history().epochs.clone();
                test_accuracies.push(epochs.last().map(|r| r.test_accuracy as f64));
                histories.push(epochs);
                finals.push((tc, trainer.mlp()?.to_host().await?));
            }
            Err(LabError::NonFinite { .. }) => test_accuracies.push(None),
            Err(e) => return Err(e),
        }
    }
    let epochs = histories.first().map_or(0, Vec::len);
    let mean = |f: &dyn Fn(&EpochRecord) -> f32, e: usize| {
        histories.iter().map(|h| f(&h[e]) as f64).sum::<f64>() / histories.len() as f64
    };
    let curve = (0..epochs)
        .map(|e| CurvePoint {
            epoch: histories[0][e].epoch,
            train_loss: mean(&|r| r.train_loss, e),
            test_loss: mean(&|r| r.test_loss, e),
            train_accuracy: mean(&|r| r.train_accuracy, e),
            test_accuracy: mean(&|r| r.test_accuracy, e),
        })
        .collect();
    let last = |f: &dyn Fn(&EpochRecord) -> f32| {
        let v: Vec<f64> = histories
            .iter()
            .filter_map(|h| h.last().map(|r| f(r) as f64))
            .collect();
        (!v.is_empty()).then(|| Spread::of(&v))
    };
    Ok(SeededRun {
        curve,
        final_test_accuracy: last(&|r| r.test_accuracy),
        final_test_loss: last(&|r| r.test_loss),
        final_train_loss: last(&|r| r.train_loss),
        diverged: seeds - histories.len(),
        test_accuracies,
        finals,
    })
}

/// "; n seed(s) diverged" (of `of` when given), or nothing.
pub fn diverged_note(n: usize, of: Option<usize>) -> String {
    match (n, of) {
        (0, _) => String::new(),
        (n, Some(of)) => format!("; {n} of {of} seed(s) diverged"),
        (n, None) => format!("; {n} seed(s) diverged"),
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

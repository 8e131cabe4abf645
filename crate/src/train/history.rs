//! What a run records, and its JSON / CSV exports (with config, seed, backend and version, so a
//! reader can reproduce the numbers).

use serde::{Deserialize, Serialize};

use super::config::TrainConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Completed epochs (0 = at initialisation).
    pub epoch: usize,
    pub step: usize,
    pub train_loss: f32,
    pub train_accuracy: f32,
    pub test_loss: f32,
    pub test_accuracy: f32,
}

/// The loss of one training step's batch, with its dropout mask applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub loss: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// What was trained (an MLP's `model` or a named network's `arch`, as each was written
    /// before the two were one config).
    pub config: TrainConfig,
    pub seed: u64,
    pub backend: String,
    pub crate_version: String,
    pub dataset: String,
    pub epochs: Vec<EpochRecord>,
    pub steps: Vec<StepRecord>,
}

impl History {
    pub fn new(config: &TrainConfig, backend: &str, dataset: &str) -> Self {
        History {
            config: config.clone(),
            seed: config.seed,
            backend: backend.to_string(),
            crate_version: crate::CRATE_VERSION.to_string(),
            dataset: dataset.to_string(),
            epochs: Vec::new(),
            steps: Vec::new(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("history serialises")
    }

    /// One row per evaluated epoch; the run's identity in comment lines above the header.
    pub fn to_csv(&self) -> String {
        let mut s = format!(
            "# dropout-lab {} backend={} dataset={} seed={}\n# config={}\n",
            self.crate_version,
            self.backend,
            self.dataset,
            self.seed,
            serde_json::to_string(&self.config).expect("config serialises")
        );
        s.push_str("epoch,step,train_loss,train_accuracy,test_loss,test_accuracy\n");
        for e in &self.epochs {
            s.push_str(&format!(
                "{},{},{},{},{},{}\n",
                e.epoch, e.step, e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::tests::small_config;
    use crate::train::OptimizerKind;

    #[test]
    fn exports_carry_identity_and_rows() {
        let mut h = History::new(&small_config(OptimizerKind::Sgd), "cpu", "mnist");
        h.epochs.push(EpochRecord {
            epoch: 0,
            step: 0,
            train_loss: 2.3,
            train_accuracy: 0.1,
            test_loss: 2.31,
            test_accuracy: 0.09,
        });
        h.epochs.push(EpochRecord {
            epoch: 1,
            step: 16,
            train_loss: 0.5,
            train_accuracy: 0.85,
            test_loss: 0.6,
            test_accuracy: 0.82,
        });
        let csv = h.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].contains("backend=cpu") && lines[0].contains("seed=1"));
        assert_eq!(
            lines[2],
            "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy"
        );
        assert_eq!(lines[4], "1,16,0.5,0.85,0.6,0.82");
        let back: History = serde_json::from_str(&h.to_json()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn a_conv_net_history_reads_back_as_one() {
        use crate::model::net::{Arch, ArchConfig};
        let c = TrainConfig::new(ArchConfig::new(Arch::Vgg9));
        let h = History::new(&c, "cpu", "cifar-10");
        let back: History = serde_json::from_str(&h.to_json()).unwrap();
        assert_eq!(back, h);
        assert!(matches!(back.config.arch(), Some(a) if a.arch == Arch::Vgg9));
        let mlp = History::new(&small_config(OptimizerKind::Sgd), "cpu", "mnist");
        let back: History = serde_json::from_str(&mlp.to_json()).unwrap();
        assert!(back.config.mlp().is_some());
    }
}

//! Everything that defines a training run; with the seed, it reproduces the run exactly.

use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};
use crate::model::{DropoutMode, MlpConfig};
use crate::objectives::explicit_implicit::{ExplicitForm, ImplicitForm, NoiseScale};
use crate::train::noise_step::NoiseInjection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Full-batch gradient descent: every step uses the whole training subset.
    Gd,
    /// Mini-batch SGD.
    Sgd,
    /// Heavy-ball momentum (PyTorch form): v <- mu v + g, theta <- theta - lr v.
    Momentum,
    /// Nesterov (PyTorch form): v <- mu v + g, theta <- theta - lr (g + mu v).
    Nesterov,
    /// Adam (Kingma & Ba 2015) with bias correction.
    Adam,
}

fn default_momentum() -> f64 {
    0.9
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}
pub(super) fn default_eval_every() -> usize {
    1
}
fn default_gamma() -> f64 {
    0.1
}

/// What a schedule's milestones count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleUnit {
    /// Optimiser steps ("iterations", as paper 004 states its schedules).
    #[default]
    Steps,
    /// Epochs (as paper 000 Fig 1(b) states its schedule).
    Epochs,
}

/// A step learning-rate schedule, PyTorch's `MultiStepLR`: the rate of step or epoch t is
/// lr · gamma^(number of milestones ≤ t), t counted from 0. No milestones: a constant rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    #[serde(default)]
    pub milestones: Vec<usize>,
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    #[serde(default)]
    pub unit: ScheduleUnit,
}

impl Default for LrSchedule {
    fn default() -> Self {
        LrSchedule {
            milestones: Vec::new(),
            gamma: default_gamma(),
            unit: ScheduleUnit::Steps,
        }
    }
}

/// Both subsets take at least one and at most every image of their split.
pub(crate) fn check_subsets(
    train_size: usize,
    test_size: usize,
    train_available: usize,
    test_available: usize,
) -> LabResult<()> {
    if train_size == 0 || train_size > train_available {
        return Err(LabError::Config(format!(
            "train subset {train_size} must be between 1 and the {train_available} training images"
        )));
    }
    if test_size == 0 || test_size > test_available {
        return Err(LabError::Config(format!(
            "test subset {test_size} must be between 1 and the {test_available} test images"
        )));
    }
    Ok(())
}

impl LrSchedule {
    /// Divide by `factor` at each of `milestones` (the papers' "divided by 10 at ...").
    pub fn divide_at(milestones: Vec<usize>, factor: f64, unit: ScheduleUnit) -> Self {
        LrSchedule {
            milestones,
            gamma: 1.0 / factor,
            unit,
        }
    }

    /// The rate of step `step` (0-based) from the initial rate `lr`, with `steps_per_epoch`
    /// steps in an epoch (for milestones counted in epochs).
    pub fn rate(&self, lr: f64, step: usize, steps_per_epoch: usize) -> f64 {
        let t = match self.unit {
            ScheduleUnit::Steps => step,
            ScheduleUnit::Epochs => step / steps_per_epoch.max(1),
        };
        let passed = self.milestones.iter().filter(|&&m| m <= t).count();
        lr * self.gamma.powi(passed as i32)
    }

    pub(crate) fn validate(&self) -> LabResult<()> {
        if !(self.gamma.is_finite() && self.gamma > 0.0 && self.gamma <= 1.0) {
            return Err(LabError::Config(format!(
                "the schedule's factor gamma {} must be in (0, 1]",
                self.gamma
            )));
        }
        if self.milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(LabError::Config(format!(
                "the schedule's milestones {:?} must increase",
                self.milestones
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: MlpConfig,
    /// The first `train_size` training images, as the papers take "the first 10000".
    pub train_size: usize,
    /// The first `test_size` test images.
    pub test_size: usize,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// L2 weight decay as torch.optim's `weight_decay`: wd·θ is added to the gradient of every
    /// parameter (weights and biases) before the optimiser's rule, Adam included (not AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// The learning rate's step schedule (default: constant).
    #[serde(default)]
    pub schedule: LrSchedule,
    pub epochs: usize,
    /// Mini-batch size; ignored by full-batch GD.
    pub batch_size: usize,
    pub seed: u64,
    /// Evaluate train/test loss and accuracy every this many epochs (and after the last).
    #[serde(default = "default_eval_every")]
    pub eval_every: usize,
    /// Record the mini-batch loss of every step (with dropout active).
    #[serde(default)]
    pub record_steps: bool,
    /// Keep a copy of all parameters every this many steps (0 = never); analyses need trajectories.
    #[serde(default)]
    pub snapshot_every: usize,
    /// Keep only this layer's weight matrix in snapshots (a noise block), not every parameter.
    #[serde(default)]
    pub snapshot_layer: Option<usize>,
    /// No snapshots before this step (a trajectory sampled only after the fast phase).
    #[serde(default)]
    pub snapshot_after: usize,
    /// How the dropout masks enter the forward and the backward pass (paper 004).
    #[serde(default)]
    pub dropout_mode: DropoutMode,
    /// Paper 003: train on the clean loss plus dropout's explicit and/or implicit part instead
    /// of the dropout loss (None: ordinary dropout training).
    #[serde(default)]
    pub dropout_split: Option<DropoutSplit>,
    /// Paper 002 Sec. 4.1 / 5.3: Gaussian dropout, disentanglement noise or weight noise.
    #[serde(default)]
    pub noise: Option<NoiseInjection>,
}

/// Which parts of dropout a paper-003 run keeps; both None is the plain loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DropoutSplit {
    pub explicit: Option<ExplicitForm>,
    pub implicit: Option<ImplicitForm>,
    /// The injected noise's size: the slides' (default) or dropout's own covariance.
    #[serde(default)]
    pub implicit_scale: NoiseScale,
}

impl TrainConfig {
    /// The config the presets and benchmarks build: the optimiser's other hyper-parameters at
    /// their usual values (momentum 0.9, Adam β 0.9 / 0.999, ε 1e-8), evaluation only after the
    /// last epoch, no per-step record, no snapshots. Callers adjust fields from there.
    #[allow(clippy::too_many_arguments)]
    pub fn for_preset(
        model: MlpConfig,
        optimizer: OptimizerKind,
        lr: f64,
        epochs: usize,
        batch_size: usize,
        train_size: usize,
        test_size: usize,
        seed: u64,
    ) -> Self {
        TrainConfig {
            model,
            train_size,
            test_size,
            optimizer,
            lr,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            schedule: LrSchedule::default(),
            epochs,
            batch_size,
            seed,
            eval_every: epochs.max(1),
            record_steps: false,
            snapshot_every: 0,
            snapshot_layer: None,
            snapshot_after: 0,
            dropout_mode: DropoutMode::Standard,
            dropout_split: None,
            noise: None,
        }
    }

    pub fn validate(
        &self,
        train_available: usize,
        test_available: usize,
        input_dim: usize,
        classes: usize,
    ) -> LabResult<()> {
        self.model.validate(input_dim, classes)?;
        check_subsets(
            self.train_size,
            self.test_size,
            train_available,
            test_available,
        )?;
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 100.0) {
            return Err(LabError::Config(format!(
                "learning rate {} must be in (0, 100]",
                self.lr
            )));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(LabError::Config(format!(
                "momentum {} must be in [0, 1)",
                self.momentum
            )));
        }
        if !(0.0..1.0).contains(&self.beta1)
            || !(0.0..1.0).contains(&self.beta2)
            || !(self.eps > 0.0)
        {
            return Err(LabError::Config(
                "Adam needs beta1, beta2 in [0, 1) and eps > 0".into(),
            ));
        }
        if !(self.weight_decay.is_finite() && (0.0..=1.0).contains(&self.weight_decay)) {
            return Err(LabError::Config(format!(
                "weight decay {} must be in [0, 1]",
                self.weight_decay
            )));
        }
        self.schedule.validate()?;
        if self.epochs == 0 || self.epochs > 100_000 {
            return Err(LabError::Config(format!(
                "epochs {} must be between 1 and 100000",
                self.epochs
            )));
        }
        if self.optimizer != OptimizerKind::Gd
            && (self.batch_size == 0 || self.batch_size > self.train_size)
        {
            return Err(LabError::Config(format!(
                "batch size {} must be between 1 and the train subset size {}",
                self.batch_size, self.train_size
            )));
        }
        if let Some(l) = self.snapshot_layer {
            if l + 1 >= self.model.widths.len() {
                return Err(LabError::Config(format!(
                    "snapshot layer {l} does not exist"
                )));
            }
        }
        self.dropout_mode.validate()?;
        if let Some(noise) = self.noise {
            noise.validate(&self.model.drop_rates)?;
            if self.dropout_split.is_some() || self.dropout_mode != DropoutMode::Standard {
                return Err(LabError::Config(
                    "noise injection (paper 002) does not combine with dropout modes or the explicit/implicit split".into(),
                ));
            }
        }
        if self.dropout_split.is_some() && self.dropout_mode != DropoutMode::Standard {
            return Err(LabError::Config(
                "the explicit/implicit split of dropout (paper 003) works with standard dropout only".into(),
            ));
        }
        if self.eval_every == 0 {
            return Err(LabError::Config("eval_every must be at least 1".into()));
        }
        Ok(())
    }

    /// Rows per step: the whole subset for GD, otherwise the batch size.
    pub fn effective_batch(&self) -> usize {
        if self.optimizer == OptimizerKind::Gd {
            self.train_size
        } else {
            self.batch_size
        }
    }

    /// Steps in one epoch; the last mini-batch of an epoch may be smaller than the others.
    pub fn steps_per_epoch(&self) -> usize {
        self.train_size.div_ceil(self.effective_batch())
    }

    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch() * self.epochs
    }

    /// The learning rate of step `step` (0-based) under the schedule.
    pub fn lr_at(&self, step: usize) -> f64 {
        self.schedule.rate(self.lr, step, self.steps_per_epoch())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Activation, InitScheme};

    pub(crate) fn small_config(optimizer: OptimizerKind) -> TrainConfig {
        TrainConfig {
            model: MlpConfig {
                widths: vec![784, 50, 50, 10],
                activation: Activation::Relu,
                drop_rates: vec![0.0, 0.5],
                init: InitScheme::He,
            },
            train_size: 1000,
            test_size: 1000,
            optimizer,
            lr: 0.1,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            schedule: LrSchedule::default(),
            epochs: 3,
            batch_size: 64,
            seed: 1,
            eval_every: 1,
            record_steps: false,
            snapshot_every: 0,
            snapshot_layer: None,
            snapshot_after: 0,
            dropout_mode: DropoutMode::Standard,
            dropout_split: None,
            noise: None,
        }
    }

    #[test]
    fn step_counts() {
        let c = small_config(OptimizerKind::Sgd);
        assert_eq!(c.steps_per_epoch(), 16); // 15 full batches of 64 and one of 40
        assert_eq!(c.total_steps(), 48);
        assert_eq!(small_config(OptimizerKind::Gd).total_steps(), 3);
    }

    #[test]
    fn rejects_out_of_range() {
        let ok = small_config(OptimizerKind::Adam);
        assert!(ok.validate(60000, 10000, 784, 10).is_ok());
        let bad = |f: &dyn Fn(&mut TrainConfig)| {
            let mut c = ok.clone();
            f(&mut c);
            c.validate(60000, 10000, 784, 10).unwrap_err().to_string()
        };
        assert!(bad(&|c| c.lr = 0.0).contains("learning rate"));
        assert!(bad(&|c| c.lr = f64::NAN).contains("learning rate"));
        assert!(bad(&|c| c.train_size = 70000).contains("train subset"));
        assert!(bad(&|c| c.test_size = 0).contains("test subset"));
        assert!(bad(&|c| c.batch_size = 5000).contains("batch size"));
        assert!(bad(&|c| c.epochs = 0).contains("epochs"));
        assert!(bad(&|c| c.momentum = 1.0).contains("momentum"));
        assert!(bad(&|c| c.weight_decay = -1e-4).contains("weight decay"));
        assert!(bad(&|c| c.weight_decay = f64::INFINITY).contains("weight decay"));
        assert!(bad(&|c| c.schedule.gamma = 0.0).contains("gamma"));
        assert!(bad(&|c| c.schedule.milestones = vec![5, 5]).contains("increase"));
        assert!(bad(&|c| c.model.drop_rates = vec![0.0, 1.0]).contains("drop_rate"));
    }

    #[test]
    fn multistep_schedule_by_steps_and_by_epochs() {
        // 1000 images in batches of 64: 16 steps an epoch.
        let mut c = small_config(OptimizerKind::Sgd);
        c.schedule = LrSchedule::divide_at(vec![3, 5], 10.0, ScheduleUnit::Steps);
        let want = [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001];
        for (t, w) in want.iter().enumerate() {
            assert!((c.lr_at(t) - w).abs() < 1e-15, "step {t}: {}", c.lr_at(t));
        }
        c.schedule.unit = ScheduleUnit::Epochs;
        c.schedule.milestones = vec![1];
        assert_eq!(c.lr_at(15), 0.1);
        assert!((c.lr_at(16) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn json_round_trip_with_defaults() {
        let c = small_config(OptimizerKind::Nesterov);
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&s).unwrap(), c);
        let mut v: serde_json::Value = serde_json::from_str(&s).unwrap();
        v.as_object_mut().unwrap().remove("momentum");
        v.as_object_mut().unwrap().remove("weight_decay");
        v.as_object_mut().unwrap().remove("schedule");
        let d: TrainConfig = serde_json::from_value(v).unwrap();
        assert_eq!(d.momentum, 0.9);
        assert_eq!((d.weight_decay, d.schedule), (0.0, LrSchedule::default()));
    }
}

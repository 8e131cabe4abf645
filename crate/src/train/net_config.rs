//! How a network of layers is trained: architecture, optimiser (with weight decay and a step
//! schedule), batches, augmentation, seed.

use serde::{Deserialize, Serialize};

use super::config::{check_subsets, default_eval_every, DropoutSplit, LrSchedule, OptimizerKind};
use super::noise_step::NoiseInjection;
use super::optim::Hyper;
use crate::data::augment::image_shape;
use crate::error::{LabError, LabResult};
use crate::model::dropout::DropoutMode;
use crate::model::net::{ArchConfig, Layer, NetSpec};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetTrainConfig {
    pub arch: ArchConfig,
    /// The first `train_size` training examples (and `test_size` test examples) are used.
    pub train_size: usize,
    pub test_size: usize,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// PyTorch's `weight_decay` (L2 added to the gradient), on every parameter.
    pub weight_decay: f64,
    pub schedule: LrSchedule,
    pub epochs: usize,
    /// Rows per step; for full-batch GD, rows per chunk of the accumulated gradient (BatchNorm
    /// then normalises each chunk with its own statistics, as PyTorch does when a full-batch
    /// gradient is accumulated over mini-batches).
    pub batch_size: usize,
    pub seed: u64,
    /// Paper 004's ResNet augmentation: 4-pixel pad, random crop, horizontal flip (seeded).
    pub augment: bool,
    /// Every step takes the whole training subset (accumulated over chunks of `batch_size`
    /// rows) whatever the optimiser: paper 000's "GD with Nesterov momentum". Implied by `gd`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_batch: bool,
    /// Evaluate train/test loss and accuracy every this many epochs (and after the last).
    #[serde(default = "default_eval_every", skip_serializing_if = "is_one")]
    pub eval_every: usize,
    /// Paper 004's dropout modes at every site (standard when absent).
    #[serde(default)]
    pub dropout_mode: DropoutMode,
    /// Paper 002 Sec. 4.1 / 5.3: Gaussian dropout at the sites' rates, or weight noise on every
    /// convolution and dense weight (Algorithm 2's disentanglement noise is refused by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseInjection>,
    /// Paper 003's explicit / implicit split: accepted in the JSON only to be refused by name,
    /// so a config written for an MLP is never silently trained as plain dropout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropout_split: Option<DropoutSplit>,
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl NetTrainConfig {
    /// Sensible defaults for an architecture: SGD with momentum 0.9, lr 0.01, batch 100, no
    /// weight decay, constant rate.
    pub fn new(arch: ArchConfig) -> Self {
        NetTrainConfig {
            arch,
            train_size: 5000,
            test_size: 1000,
            optimizer: OptimizerKind::Momentum,
            lr: 0.01,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            schedule: LrSchedule::default(),
            epochs: 1,
            batch_size: 100,
            seed: 1,
            augment: false,
            full_batch: false,
            eval_every: 1,
            dropout_mode: DropoutMode::Standard,
            noise: None,
            dropout_split: None,
        }
    }

    /// The network for data of `dim` features per example and `classes` classes.
    pub fn spec(&self, dim: usize, classes: usize) -> LabResult<NetSpec> {
        let shape = image_shape(dim).ok_or_else(|| {
            LabError::Config(format!(
                "{dim} features are not a square grey or RGB image: conv nets need images"
            ))
        })?;
        self.arch.build(shape, classes)
    }

    pub fn validate(
        &self,
        train_len: usize,
        test_len: usize,
        dim: usize,
        classes: usize,
    ) -> LabResult<NetSpec> {
        let spec = self.spec(dim, classes)?;
        check_subsets(self.train_size, self.test_size, train_len, test_len)?;
        if self.batch_size == 0 {
            return Err(LabError::Config("batch_size must be positive".into()));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(LabError::Config(format!("lr {} must be positive", self.lr)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(LabError::Config(format!(
                "weight_decay {} must be ≥ 0",
                self.weight_decay
            )));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(LabError::Config(format!(
                "momentum {} must be in [0, 1)",
                self.momentum
            )));
        }
        if self.epochs == 0 {
            return Err(LabError::Config("epochs must be positive".into()));
        }
        if self.eval_every == 0 {
            return Err(LabError::Config("eval_every must be at least 1".into()));
        }
        self.schedule.validate()?;
        self.dropout_mode.validate()?;
        self.validate_noise(&spec)?;
        if self.dropout_mode != DropoutMode::Standard {
            // A split mask acts through the next layer's weights (eq. 5-6): refuse up front a
            // site that is not directly before a convolution or dense layer.
            for site in spec.dropout_sites()? {
                if let Layer::Dropout { .. } = spec.layers[site.layer] {
                    match spec.layers.get(site.layer + 1) {
                        Some(Layer::Conv { .. } | Layer::Dense { .. }) => {}
                        next => {
                            return Err(LabError::Config(format!(
                                "dropout mode {:?} acts through the layer after each dropout, \
                                 which must be a convolution or dense layer; after layer {} \
                                 comes {}",
                                self.dropout_mode,
                                site.layer,
                                next.map_or("nothing".into(), Layer::label)
                            )))
                        }
                    }
                }
            }
        }
        Ok(spec)
    }

    fn validate_noise(&self, spec: &NetSpec) -> LabResult<()> {
        if self.dropout_split.is_some() {
            return Err(LabError::Config(
                "paper 003's explicit / implicit dropout split is implemented for MLPs only \
                 (its explicit term is computed from the MLP's layers); train the conv net \
                 with plain dropout or a dropout mode"
                    .into(),
            ));
        }
        let Some(noise) = self.noise else {
            return Ok(());
        };
        let rates: Vec<f32> = spec.dropout_sites()?.iter().map(|s| s.rate).collect();
        noise.validate(&rates)?;
        if let NoiseInjection::Disentanglement { .. } = noise {
            return Err(LabError::Config(
                "Algorithm 2's disentanglement noise (paper 002 Sec. 4.1) is defined on an \
                 MLP's hidden units and is implemented for MLPs only; conv nets take Gaussian \
                 dropout or weight noise"
                    .into(),
            ));
        }
        if self.dropout_mode != DropoutMode::Standard {
            return Err(LabError::Config(format!(
                "noise injection replaces the Bernoulli masks that dropout mode {:?} splits: \
                 use one or the other",
                self.dropout_mode
            )));
        }
        Ok(())
    }

    pub fn hyper(&self) -> Hyper {
        Hyper {
            kind: self.optimizer,
            lr: self.lr,
            momentum: self.momentum,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }

    /// Optimiser steps per epoch: one for GD, else one per (possibly short last) batch.
    /// Whether each step takes the whole training subset.
    pub fn is_full_batch(&self) -> bool {
        self.full_batch || self.optimizer == OptimizerKind::Gd
    }

    pub fn steps_per_epoch(&self) -> usize {
        if self.is_full_batch() {
            1
        } else {
            self.train_size.div_ceil(self.batch_size)
        }
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
mod tests {
    use super::*;
    use crate::model::net::Arch;
    use crate::train::ScheduleUnit;

    #[test]
    fn steps_schedule_and_refusals() {
        let mut c = NetTrainConfig::new(ArchConfig::new(Arch::Lenet5));
        c.train_size = 250;
        c.test_size = 100;
        c.batch_size = 100;
        c.epochs = 4;
        assert_eq!(
            c.steps_per_epoch(),
            3,
            "the last batch of an epoch may be short"
        );
        c.schedule = LrSchedule::divide_at(vec![2], 10.0, ScheduleUnit::Epochs);
        assert_eq!(c.lr_at(5), 0.01);
        assert!((c.lr_at(6) - 0.001).abs() < 1e-15);
        c.optimizer = OptimizerKind::Gd;
        assert_eq!(c.total_steps(), 4, "GD: one step per epoch");
        assert!(c.validate(1000, 100, 784, 10).is_ok());
        let msg = |c: &NetTrainConfig| c.validate(1000, 100, 784, 10).unwrap_err().to_string();
        let mut bad = c.clone();
        bad.train_size = 2000;
        assert!(msg(&bad).contains("train subset 2000"));
        let mut bad = c.clone();
        bad.weight_decay = -1.0;
        assert!(msg(&bad).contains("weight_decay"));
        assert!(c
            .validate(1000, 100, 10, 10)
            .unwrap_err()
            .to_string()
            .contains("not a square grey or RGB image"));
    }
}

//! Everything that defines a training run; with the seed, it reproduces the run exactly.

use serde::{Deserialize, Serialize};

use super::optim::Hyper;
use crate::error::{LabError, LabResult};
use crate::model::net::{ArchConfig, Layer, NetParams, NetSpec};
use crate::model::{DropoutMode, HostParams, MlpConfig, ModelConfig};
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
fn default_eval_every() -> usize {
    1
}
// The fields that only some runs use are left out of the JSON at their defaults, so a config
// holds the settings its kind of run has (and a preset's form one field for each).
fn is_one(n: &usize) -> bool {
    *n == 1
}
fn is_zero(n: &usize) -> bool {
    *n == 0
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
fn check_subsets(
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

/// A training run of any network: an MLP or a named architecture (`model`), and everything else
/// that, with the seed, reproduces the run exactly. An MLP's JSON is as it always was (`"model":
/// {"widths": …}`), a named network's as its own config was (`"arch": {"arch": "lenet5", …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    #[serde(flatten)]
    pub model: ModelConfig,
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
    /// Rows per step. Full-batch steps (GD, or `full_batch`) take the whole subset; a network
    /// with layers accumulates their gradient over chunks of `batch_size` rows (BatchNorm then
    /// normalises each chunk with its own statistics, as PyTorch does when a full-batch gradient
    /// is accumulated over mini-batches), an MLP takes it in one product.
    pub batch_size: usize,
    pub seed: u64,
    /// Evaluate train/test loss and accuracy every this many epochs (and after the last).
    #[serde(default = "default_eval_every", skip_serializing_if = "is_one")]
    pub eval_every: usize,
    /// Record the mini-batch loss of every step (with dropout active).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub record_steps: bool,
    /// Keep a copy of all parameters every this many steps (0 = never); analyses need trajectories.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub snapshot_every: usize,
    /// Keep only this layer's weight matrix in snapshots (a noise block), not every parameter.
    /// An MLP's layer index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_layer: Option<usize>,
    /// No snapshots before this step (a trajectory sampled only after the fast phase).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub snapshot_after: usize,
    /// How the dropout masks enter the forward and the backward pass (paper 004).
    #[serde(default)]
    pub dropout_mode: DropoutMode,
    /// Paper 003: train on the clean loss plus dropout's explicit and/or implicit part instead
    /// of the dropout loss (None: ordinary dropout training). MLPs only: its explicit term is
    /// computed from the MLP's layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropout_split: Option<DropoutSplit>,
    /// Paper 002 Sec. 4.1 / 5.3: Gaussian dropout, disentanglement noise (MLPs: it is defined
    /// on hidden units) or weight noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseInjection>,
    /// Paper 004's ResNet augmentation: 4-pixel pad, random crop, horizontal flip (seeded).
    /// Networks on images only.
    #[serde(default)]
    pub augment: bool,
    /// Every step takes the whole training subset whatever the optimiser: paper 000's "GD with
    /// Nesterov momentum". Implied by `gd`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_batch: bool,
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
        model: impl Into<ModelConfig>,
        optimizer: OptimizerKind,
        lr: f64,
        epochs: usize,
        batch_size: usize,
        train_size: usize,
        test_size: usize,
        seed: u64,
    ) -> Self {
        TrainConfig {
            model: model.into(),
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
            augment: false,
            full_batch: false,
        }
    }

    /// Defaults for a network: SGD with momentum 0.9, lr 0.01, batches of 100, one epoch on the
    /// first 5000 / 1000 images, no weight decay, a constant rate, evaluation after every epoch.
    pub fn new(model: impl Into<ModelConfig>) -> Self {
        let mut c = Self::for_preset(model, OptimizerKind::Momentum, 0.01, 1, 100, 5000, 1000, 1);
        c.eval_every = 1;
        c
    }

    pub fn mlp(&self) -> Option<&MlpConfig> {
        self.model.mlp()
    }

    pub fn arch(&self) -> Option<&ArchConfig> {
        self.model.arch()
    }

    /// The MLP, for the analyses defined on an MLP's layers; an error names the network otherwise.
    pub fn require_mlp(&self) -> LabResult<&MlpConfig> {
        self.mlp().ok_or_else(|| {
            LabError::Config(format!(
                "this needs an MLP (dense layers only); the config trains {}",
                self.model.label()
            ))
        })
    }

    /// An MLP's host weights as the parameters of its network (for `Trainer::with_params`).
    pub fn mlp_params(&self, host: &HostParams) -> LabResult<NetParams> {
        match self.mlp() {
            Some(m) => host.to_net(m),
            None => Err(LabError::Weights(format!(
                "an MLP's weights ({:?}) for {}",
                host.widths,
                self.model.label()
            ))),
        }
    }

    /// The network for data of `dim` features per example and `classes` classes.
    pub fn spec(&self, dim: usize, classes: usize) -> LabResult<NetSpec> {
        self.model.build(dim, classes)
    }

    /// Check the run against the data and build its network.
    pub fn validate(
        &self,
        train_available: usize,
        test_available: usize,
        input_dim: usize,
        classes: usize,
    ) -> LabResult<NetSpec> {
        let spec = self.model.build(input_dim, classes)?;
        check_subsets(
            self.train_size,
            self.test_size,
            train_available,
            test_available,
        )?;
        // No upper bound: a run meant to diverge (the tests' lr 1e38) is a run like any other,
        // and divergence is reported at the step it happens.
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(LabError::Config(format!(
                "learning rate {} must be positive and finite",
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
                "weight decay (weight_decay) {} must be in [0, 1]",
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
        // A full-batch MLP step is one product over the subset: only chunked steps use the size.
        let chunked = !self.is_full_batch() || self.mlp().is_none();
        if chunked
            && (self.batch_size == 0
                || (!self.is_full_batch() && self.batch_size > self.train_size))
        {
            return Err(LabError::Config(format!(
                "batch size {} must be between 1 and the train subset size {}",
                self.batch_size, self.train_size
            )));
        }
        if let Some(l) = self.snapshot_layer {
            let layers = self.mlp().map_or(0, |m| m.widths.len() - 1);
            if l >= layers {
                return Err(LabError::Config(format!(
                    "snapshot layer {l} does not exist (an MLP's weight layer: 0 to {})",
                    layers.saturating_sub(1)
                )));
            }
        }
        if self.augment && self.mlp().is_some() {
            return Err(LabError::Config(
                "augmentation pads, crops and flips images: train a conv net with it".into(),
            ));
        }
        if self.eval_every == 0 {
            return Err(LabError::Config("eval_every must be at least 1".into()));
        }
        self.dropout_mode.validate()?;
        self.validate_noise(&spec)?;
        if self.dropout_mode != DropoutMode::Standard {
            check_split_sites(&spec, self.dropout_mode)?;
        }
        Ok(spec)
    }

    /// Paper 002's noise and paper 003's split: what combines with what, and which need an MLP.
    fn validate_noise(&self, spec: &NetSpec) -> LabResult<()> {
        let mlp = self.mlp();
        if self.dropout_split.is_some() {
            if mlp.is_none() {
                return Err(LabError::Config(
                    "paper 003's explicit / implicit dropout split is implemented for MLPs only \
                     (its explicit term is computed from the MLP's layers); train the conv net \
                     with plain dropout or a dropout mode"
                        .into(),
                ));
            }
            if self.dropout_mode != DropoutMode::Standard {
                return Err(LabError::Config(
                    "the explicit/implicit split of dropout (paper 003) works with standard dropout only".into(),
                ));
            }
        }
        let Some(noise) = self.noise else {
            return Ok(());
        };
        let rates: Vec<f32> = match mlp {
            Some(m) => m.drop_rates.clone(),
            None => spec.dropout_sites()?.iter().map(|s| s.rate).collect(),
        };
        noise.validate(&rates)?;
        if mlp.is_none() {
            if let NoiseInjection::Disentanglement { .. } = noise {
                return Err(LabError::Config(
                    "Algorithm 2's disentanglement noise (paper 002 Sec. 4.1) is defined on an \
                     MLP's hidden units and is implemented for MLPs only; conv nets take Gaussian \
                     dropout or weight noise"
                        .into(),
                ));
            }
        }
        if self.dropout_split.is_some() || self.dropout_mode != DropoutMode::Standard {
            return Err(LabError::Config(format!(
                "noise injection (paper 002) replaces the Bernoulli masks that dropout mode {:?} \
                 and the explicit/implicit split work with: use one or the other",
                self.dropout_mode
            )));
        }
        Ok(())
    }

    /// Whether each step takes the whole training subset.
    pub fn is_full_batch(&self) -> bool {
        self.full_batch || self.optimizer == OptimizerKind::Gd
    }

    pub fn hyper(&self) -> Hyper {
        Hyper::from_config(self)
    }

    /// Rows per step: the whole subset for full-batch steps, otherwise the batch size.
    pub fn effective_batch(&self) -> usize {
        if self.is_full_batch() {
            self.train_size
        } else {
            self.batch_size
        }
    }

    /// Steps in one epoch; the last mini-batch of an epoch may be smaller than the others.
    pub fn steps_per_epoch(&self) -> usize {
        self.train_size.div_ceil(self.effective_batch().max(1))
    }

    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch() * self.epochs
    }

    /// The learning rate of step `step` (0-based) under the schedule.
    pub fn lr_at(&self, step: usize) -> f64 {
        self.schedule.rate(self.lr, step, self.steps_per_epoch())
    }
}

/// A split mask acts through the next layer's weights (paper 004 eq. 5-6): refuse up front a
/// dropout that is not directly before a convolution or dense layer.
fn check_split_sites(spec: &NetSpec, mode: DropoutMode) -> LabResult<()> {
    for site in spec.dropout_sites()? {
        if let Layer::Dropout { .. } = spec.layers[site.layer] {
            match spec.layers.get(site.layer + 1) {
                Some(Layer::Conv { .. } | Layer::Dense { .. }) => {}
                next => {
                    return Err(LabError::Config(format!(
                        "dropout mode {mode:?} acts through the layer after each dropout, which \
                         must be a convolution or dense layer; after layer {} comes {}",
                        site.layer,
                        next.map_or("nothing".into(), Layer::label)
                    )))
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Activation, InitScheme};

    pub(crate) fn small_config(optimizer: OptimizerKind) -> TrainConfig {
        TrainConfig {
            model: ModelConfig::Mlp(MlpConfig {
                widths: vec![784, 50, 50, 10],
                activation: Activation::Relu,
                drop_rates: vec![0.0, 0.5],
                init: InitScheme::He,
            }),
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
            augment: false,
            full_batch: false,
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
        assert!(
            bad(&|c| c.model.mlp_mut().unwrap().drop_rates = vec![0.0, 1.0]).contains("drop_rate")
        );
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

    #[test]
    fn a_named_network_steps_schedule_and_refusals() {
        use crate::model::net::Arch;
        let mut c = TrainConfig::new(ArchConfig::new(Arch::Lenet5));
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
        let msg = |c: &TrainConfig| c.validate(1000, 100, 784, 10).unwrap_err().to_string();
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

    #[test]
    fn either_kind_of_network_reads_from_the_json_it_was_written_in() {
        use crate::model::net::Arch;
        // A conv net's config as TrainConfig wrote it, before it was one type with the MLP's.
        let old = r#"{"arch":{"arch":"lenet5","width":0.5,"drop_rate":0.3,"channelwise":false,
            "shortcut":"a"},"train_size":300,"test_size":100,"optimizer":"momentum","lr":0.01,
            "momentum":0.9,"beta1":0.9,"beta2":0.999,"eps":1e-8,"weight_decay":0.0005,
            "schedule":{"milestones":[],"gamma":0.1,"unit":"steps"},"epochs":2,"batch_size":50,
            "seed":3,"augment":true,"dropout_mode":{"kind":"standard"}}"#;
        let c: TrainConfig = serde_json::from_str(old).unwrap();
        let arch = c.arch().unwrap();
        assert_eq!(
            (arch.arch, arch.width, arch.drop_rate),
            (Arch::Lenet5, 0.5, 0.3)
        );
        assert!(c.augment && !c.full_batch);
        assert_eq!(
            (c.train_size, c.batch_size, c.weight_decay),
            (300, 50, 0.0005)
        );
        let again: TrainConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(again, c);
        let mlp = small_config(OptimizerKind::Sgd);
        let v: serde_json::Value = serde_json::to_value(&mlp).unwrap();
        assert_eq!(
            v["model"]["widths"][1], 50,
            "an MLP's JSON keeps its `model` key"
        );
        assert!(v.get("arch").is_none() && v.get("snapshot_layer").is_none());
    }
}

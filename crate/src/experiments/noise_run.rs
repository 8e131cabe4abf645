//! The training + noise-sampling stage shared by paper 000's Fig. 2 (flatness) and Fig. 4
//! (Hessian): an FNN trained by full-batch GD on the first N images with dropout after the last
//! hidden layer, then N noise samples in one weight block (or over every parameter) at the final θ.
//!
//! Convention: paper 000 writes p for the KEEP probability (settings p = 0.9, 0.8); here
//! drop_rate = 1 - p (0.1, 0.2).
//! S_grad (Sec. 3.3.2): N gradients at the frozen final θ with fresh masks.
//! S_para (Sec. 3.3.1): the block's weights at N consecutive GD steps after training; the
//! analyses then work at the θ reached after those steps.

use serde::{Deserialize, Serialize};

use burn::tensor::Tensor;

use super::hessian_span::{HessianSpan, ParamsInfo};
use super::{Reporter, StagePrefix};
use crate::analysis::analysed::{weight_index, Analysed, Params};
use crate::analysis::net_hessian::NetSpan;
use crate::analysis::noise::Block;
use crate::backend::read_f32;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::net::{Arch, ArchConfig, NetParams, NetSpec};
use crate::model::{Activation, InitScheme, Mlp, MlpConfig, ModelConfig};
use crate::train::eval::{evaluate, DeviceData};
use crate::train::{OptimizerKind, TrainConfig, Trainer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseSource {
    /// Gradients at a frozen θ with fresh dropout masks.
    Grad,
    /// Parameters along the trajectory.
    Para,
}

impl NoiseSource {
    /// "grad" or "para", as in S_grad and S_para.
    pub fn name(self) -> &'static str {
        match self {
            NoiseSource::Grad => "grad",
            NoiseSource::Para => "para",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub drop_rate: f32,
    pub lr: f64,
}

impl Setting {
    /// "setting 2/4 (drop 0.1, lr 0.05)": the progress stage of setting `index` (from 0) of `count`.
    pub fn stage(&self, index: usize, count: usize) -> String {
        format!(
            "setting {}/{count} (drop {}, lr {})",
            index + 1,
            self.drop_rate,
            self.lr
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseRun {
    /// First N training images (paper: 10000).
    pub train_size: usize,
    pub widths: Vec<usize>,
    pub activation: Activation,
    pub settings: Vec<Setting>,
    /// Full-batch GD steps before sampling.
    pub epochs: usize,
    /// One scatter panel per source (the paper shows S_para and S_grad side by side).
    pub sources: Vec<NoiseSource>,
    /// Noise samples N (paper: 3000 for Fig. 2, 1000 for Fig. 4).
    pub samples: usize,
    /// S_para keeps the block every this many GD steps (N samples take N x interval steps).
    /// Paper 000 Sec. 3.3.2: successive parameters are strongly correlated, so trajectory
    /// sampling often needs an interval larger than one step; 1 is every step.
    #[serde(default = "every_step")]
    pub para_interval: usize,
    /// The block: the weights of this layer (1 = between the two hidden layers); on a named
    /// architecture its weight tensor of this index (dense or convolution, state_dict order).
    pub block_layer: usize,
    pub seed: u64,
    /// A named architecture instead of the MLP of `widths` and `activation`, with dropout at its
    /// paper's sites at each setting's rate (None: the MLP, paper 000's FNN).
    #[serde(default)]
    pub arch: Option<Arch>,
    /// The named architecture's width multiplier (1 = its paper's network; unused by the MLP).
    #[serde(default = "full_width")]
    pub arch_width: f64,
}

fn every_step() -> usize {
    1
}

pub(crate) fn full_width() -> f64 {
    1.0
}

impl NoiseRun {
    /// 784-50-50-10 on 1000 images, (keep 0.9 / 0.8) x (lr 0.05 / 0.1), 300 GD steps, 200 samples.
    pub fn demo() -> Self {
        NoiseRun {
            train_size: 1000,
            widths: vec![784, 50, 50, 10],
            activation: Activation::Relu,
            settings: vec![
                Setting {
                    drop_rate: 0.1,
                    lr: 0.05,
                },
                Setting {
                    drop_rate: 0.1,
                    lr: 0.1,
                },
                Setting {
                    drop_rate: 0.2,
                    lr: 0.05,
                },
                Setting {
                    drop_rate: 0.2,
                    lr: 0.1,
                },
            ],
            epochs: 300,
            sources: vec![NoiseSource::Grad, NoiseSource::Para],
            samples: 200,
            para_interval: 1,
            block_layer: 1,
            seed: 1,
            arch: None,
            arch_width: full_width(),
        }
    }

    /// The run on imported weights of `model`: its architecture, and no training before
    /// sampling (S_para then follows GD with dropout from the imported θ).
    pub fn adopt(self, model: &ModelConfig) -> LabResult<Self> {
        match model {
            ModelConfig::Mlp(m) => {
                if m.widths.len() < 3 {
                    return Err(LabError::Weights(format!(
                        "the noise runs need a hidden layer to drop; the imported network is {:?}",
                        m.widths
                    )));
                }
                Ok(NoiseRun {
                    widths: m.widths.clone(),
                    activation: m.activation,
                    arch: None,
                    epochs: 0,
                    ..self
                })
            }
            ModelConfig::Arch(a) => Ok(NoiseRun {
                arch: Some(a.arch),
                arch_width: a.width,
                epochs: 0,
                ..self
            }),
        }
    }

    /// What imported weights change, for the page and the CLI.
    pub const WEIGHTS: &'static str = "The imported network replaces the training: its widths \
        and activation are used, no GD steps are taken before sampling, S_grad is drawn at its \
        weights and S_para follows GD with dropout from them.";

    pub fn validate(&self) -> LabResult<()> {
        if self.settings.is_empty() || self.sources.is_empty() || self.samples < 2 {
            return Err(LabError::Config(
                "need at least one setting, one noise source and 2 samples".into(),
            ));
        }
        if self.para_interval == 0 {
            return Err(LabError::Config(
                "the S_para interval must be at least 1 GD step".into(),
            ));
        }
        if self.arch.is_some() {
            if let Some(s) = self.settings.iter().find(|s| !(s.drop_rate > 0.0)) {
                return Err(LabError::Config(format!(
                    "the noise is dropout's: drop rate {} leaves none at the network's sites",
                    s.drop_rate
                )));
            }
        }
        Ok(())
    }

    /// The network of the run as it is built for data of `dim` features and `classes` classes.
    pub fn network_spec(&self, dim: usize, classes: usize) -> LabResult<NetSpec> {
        self.train_config(&self.settings[0], 0).spec(dim, classes)
    }

    /// The parameters `span` covers, "block: layer 1 weights, D = 2500" for the MLP and
    /// "block: layers.3.weight [50, 20, 5, 5], D = 25000" on a named architecture, with their count.
    pub fn parameters(
        &self,
        span: HessianSpan,
        dim: usize,
        classes: usize,
    ) -> LabResult<ParamsInfo> {
        span.parameters_of(
            &self.train_config(&self.settings[0], 0).model,
            self.block_layer,
            dim,
            classes,
        )
    }

    pub fn train_config(&self, s: &Setting, extra_steps: usize) -> TrainConfig {
        let model: ModelConfig = match self.arch {
            Some(a) => ArchConfig {
                width: self.arch_width,
                drop_rate: s.drop_rate,
                ..ArchConfig::new(a)
            }
            .into(),
            None => {
                let mut drop_rates = vec![0.0; self.widths.len() - 2];
                if let Some(last) = drop_rates.last_mut() {
                    *last = s.drop_rate; // "dropout after the second hidden layer"
                }
                MlpConfig {
                    widths: self.widths.clone(),
                    activation: self.activation,
                    drop_rates,
                    init: InitScheme::Xavier,
                }
                .into()
            }
        };
        let dense = model.mlp().is_some();
        let steps = self.epochs + extra_steps;
        let base = TrainConfig::for_preset(
            model,
            OptimizerKind::Gd,
            s.lr,
            steps,
            self.train_size,
            self.train_size,
            1,
            self.seed,
        );
        if !dense {
            // A network of layers follows its trajectory in `follow_trajectory`.
            return base;
        }
        TrainConfig {
            snapshot_every: if extra_steps > 0 {
                self.para_interval.max(1)
            } else {
                0
            },
            snapshot_layer: Some(self.block_layer),
            snapshot_after: self.epochs + 1,
            ..base
        }
    }
}

/// One trained setting and its noise samples, one set per requested source.
pub struct Sampled {
    pub train_config: TrainConfig,
    /// The network at the end (after the S_para trajectory, if any): every analysis works here.
    pub network: Analysed,
    pub final_train_loss: f32,
    pub samples: Vec<(NoiseSource, Vec<Vec<f32>>)>,
}

/// Train one setting on `train` (the first N images, `resident` on the device) and draw its
/// noise samples over `span` (the run's block, or every parameter); `stage` prefixes progress
/// messages. Imported weights in `inputs` replace the seeded initialisation (and, with `epochs`
/// 0, the training).
#[allow(clippy::too_many_arguments)]
pub async fn train_and_sample(
    run: &NoiseRun,
    span: HessianSpan,
    s: &Setting,
    stage: &str,
    train: &Dataset,
    resident: &DeviceData,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Sampled> {
    let device = &inputs.device;
    // Exactly `samples` multiples of the interval lie in the next samples x interval steps.
    let extra = if run.sources.contains(&NoiseSource::Para) {
        run.samples * run.para_interval.max(1)
    } else {
        0
    };
    let mut tc = run.train_config(s, extra);
    let params = span.params(run.block_layer);
    let (network, final_train_loss, trajectory) = match run.arch {
        None => train_dense(run, span, tc.clone(), stage, train, inputs, reporter).await?,
        Some(arch) => {
            let start = match inputs.weights {
                None => None,
                Some(w) => match &w.model {
                    // The imported network as it is (placement, shortcut), at the setting's rate.
                    ModelConfig::Arch(a) if a.arch == arch => {
                        tc.model = w.model.clone();
                        tc.model.set_drop_rate(s.drop_rate);
                        Some(&w.params)
                    }
                    other => {
                        return Err(LabError::Weights(format!(
                            "the imported network is {}, the run {}",
                            other.label(),
                            arch.id()
                        )))
                    }
                },
            };
            if tc.epochs == 0 {
                // Nothing to train and no trajectory: S_grad at the imported θ itself.
                let host = start.expect("a run of no steps adopted imported weights");
                let host = respec(host, &tc, train, inputs.dataset)?;
                let net = crate::model::net::Net::from_host(&host, device)?;
                let (loss, _) = crate::train::eval::evaluate_net(&net, resident).await?;
                (Analysed::Layers(net), loss, Vec::new())
            } else {
                let start = start
                    .map(|p| respec(p, &tc, train, inputs.dataset))
                    .transpose()?;
                let mut trainer = trainer_from(&tc, start, train, inputs).await?;
                let net = trainer.net()?;
                let netspan = match params {
                    Params::Weight(k) => NetSpan::Param(weight_index(&net.param_specs, k)?),
                    Params::All => NetSpan::All,
                };
                let kept = extra / run.para_interval.max(1);
                let trajectory = follow_trajectory(
                    &mut trainer,
                    run.epochs,
                    kept,
                    run.para_interval,
                    netspan,
                    stage,
                    reporter,
                )
                .await?;
                let loss = trainer
                    .history()
                    .epochs
                    .last()
                    .map_or(f32::NAN, |e| e.train_loss);
                (Analysed::Layers(trainer.net()?), loss, trajectory)
            }
        }
    };
    let mut trajectory = Some(trajectory);
    let mut samples = Vec::new();
    for &source in &run.sources {
        let set: Vec<Vec<f32>> = match source {
            NoiseSource::Para => trajectory.take().unwrap_or_default(),
            NoiseSource::Grad => {
                let mut r = StagePrefix::new(stage, reporter);
                network
                    .gradient_samples(
                        train,
                        resident,
                        params,
                        run.samples,
                        run.seed,
                        device,
                        &mut r,
                    )
                    .await?
            }
        };
        samples.push((source, set));
    }
    Ok(Sampled {
        train_config: tc,
        network,
        final_train_loss,
        samples,
    })
}

/// A trainer of `tc` on `train` (its own test set too) from `start`, or from the seeded init.
async fn trainer_from(
    tc: &TrainConfig,
    start: Option<NetParams>,
    train: &Dataset,
    inputs: &super::Inputs<'_>,
) -> LabResult<Trainer> {
    let (device, backend, dataset) = (inputs.device.clone(), inputs.backend, inputs.dataset);
    match start {
        Some(p) => {
            Trainer::with_params(tc.clone(), p, train, train, device, backend, dataset).await
        }
        None => Trainer::new(tc.clone(), train, train, device, backend, dataset).await,
    }
}

/// Imported weights in the run's network (its drop rate: a state_dict stores none), or an error
/// when they were built for other data.
fn respec(
    host: &NetParams,
    tc: &TrainConfig,
    train: &Dataset,
    dataset: &str,
) -> LabResult<NetParams> {
    host.with_spec(&tc.spec(train.dim, train.classes)?)
        .map_err(|_| {
            LabError::Weights(format!(
            "the imported {} does not fit {dataset} ({} features, {} classes): its tensors are \
             of another input or class count",
            tc.model.label(),
            train.dim,
            train.classes
        ))
        })
}

/// The MLP's training on the dense fast path, its S_para trajectory from the trainer's block
/// snapshots (or, from imported weights and no steps, none).
async fn train_dense(
    run: &NoiseRun,
    span: HessianSpan,
    mut tc: TrainConfig,
    stage: &str,
    train: &Dataset,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<(Analysed, f32, Vec<Vec<f32>>)> {
    let device = &inputs.device;
    let imported = inputs.weights.map(|w| {
        w.mlp().ok_or_else(|| {
            LabError::Weights(format!(
                "the imported network is {}; set the run's network to it",
                w.model.label()
            ))
        })
    });
    let imported = imported.transpose()?;
    let start = imported.as_ref().map(|(_, p)| p);
    let block = Block {
        layer: run.block_layer,
    };
    block.validate(tc.require_mlp()?)?;
    if span == HessianSpan::Full {
        tc.snapshot_layer = None; // snapshots of every parameter, in the flatten order
    }
    let widths = &tc.require_mlp()?.widths;
    if let Some(p) = start.filter(|p| &p.widths != widths) {
        return Err(LabError::Weights(format!(
            "the imported weights have widths {:?}, the run {widths:?}",
            p.widths
        )));
    }
    let cfg = tc.require_mlp()?.clone();
    match start {
        // Nothing to train and no trajectory to follow: S_grad at the imported θ itself
        // (a trainer needs at least one step).
        Some(params) if tc.epochs == 0 => {
            cfg.validate(train.dim, train.classes)?;
            let model = Mlp::from_host(&cfg, params, device);
            let resident = DeviceData::upload(train, device);
            let (loss, _) = evaluate(&model, &resident).await?;
            let network = Analysed::Dense {
                model,
                theta: params.clone(),
            };
            Ok((network, loss, Vec::new()))
        }
        _ => {
            let start = start.map(|p| tc.mlp_params(p)).transpose()?;
            let mut trainer = trainer_from(&tc, start, train, inputs).await?;
            super::train_to_end(&mut trainer, 20, stage, reporter).await?;
            let final_train_loss = trainer
                .history()
                .epochs
                .last()
                .map_or(f32::NAN, |e| e.train_loss);
            let model = trainer.mlp()?.clone();
            let theta = model.to_host().await?;
            let trajectory = trainer
                .take_snapshots()
                .into_iter()
                .map(|s| s.params)
                .collect();
            Ok((
                Analysed::Dense { model, theta },
                final_train_loss,
                trajectory,
            ))
        }
    }
}

/// Train to `epochs`, then follow the trajectory: S_para, the parameters of `span` after every
/// `interval` further GD+dropout steps, `kept` times (paper 000 Sec. 3.3.1). Kept on the device
/// and read back once.
pub async fn follow_trajectory(
    trainer: &mut Trainer,
    epochs: usize,
    kept: usize,
    interval: usize,
    span: NetSpan,
    stage: &str,
    reporter: &mut impl Reporter,
) -> LabResult<Vec<Vec<f32>>> {
    let total = epochs + kept * interval;
    let mut step = 0;
    while step < epochs {
        step = trainer.run(5.min(epochs - step)).await?.step;
        if !reporter
            .report(&format!("{stage}: training"), step, total)
            .await
        {
            return Err(LabError::Cancelled);
        }
    }
    let mut states: Vec<Tensor<1>> = Vec::with_capacity(kept);
    for k in 0..kept {
        trainer.run(interval).await?;
        let net = trainer.net()?;
        states.push(match span {
            NetSpan::Param(i) => net.params[i].clone(),
            NetSpan::All => Tensor::cat(net.params, 0),
        });
        if !reporter
            .report(&format!("{stage}: S_para trajectory"), k + 1, kept)
            .await
        {
            return Err(LabError::Cancelled);
        }
    }
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let d = states[0].dims()[0];
    let flat = read_f32(Tensor::cat(states, 0)).await?;
    Ok(flat.chunks(d).map(<[f32]>::to_vec).collect())
}

impl NoiseRun {
    /// The form fields of the shared training and sampling stage (Fig 2 and Fig 4).
    pub fn fields() -> Vec<super::Field> {
        use super::schema::{Choice, Field, Range};
        vec![
            Field::settings(
                "settings",
                "Settings (drop:lr, …)",
                Range::open(0.0, 1.0),
                1,
            )
            .help("one series per pair; the paper's keep p = 0.9 / 0.8 are drop 0.1 / 0.2"),
            Field::int("train_size", "Train images N", 2.0, 1e7).help("the paper: the first 10000"),
            Field::int("epochs", "GD steps before sampling", 1.0, 1e6),
            Field::int("samples", "Noise samples", 2.0, 1e6),
            Field::int("para_interval", "S_para interval (GD steps)", 1.0, 1e6)
                .help("S_para keeps the block every this many steps; paper 000 Sec. 3.3.2")
                .advanced(),
            Field::choices(
                "sources",
                "Noise sources",
                vec![
                    Choice::word("grad", "S_grad: dropout gradients at the final θ"),
                    Choice::word("para", "S_para: parameters along the trajectory"),
                ],
            )
            .help("grad, para or both (comma-separated)"),
            Field::seed(),
        ]
        .into_iter()
        .chain(network_fields())
        .chain(block_net_fields())
        .collect()
    }

    /// The paper's Sec. 4 setting: the first 10000 MNIST images.
    pub fn paper(samples: usize) -> Self {
        NoiseRun {
            train_size: 10000,
            samples,
            ..Self::demo()
        }
    }
}

/// The network's fields: the paper's FNN or a named architecture, and its width multiplier.
pub fn network_fields() -> [super::Field; 2] {
    use super::schema::{Field, Range};
    [
        Field::choice("arch", "Network", network_choices()).help(
            "the paper's FNN (the widths below) or a named architecture with dropout at its \
             paper's sites; its block is the weight tensor of the block index",
        ),
        Field::float(
            "arch_width",
            "Width multiplier (named network)",
            Range::left_open(0.0, 8.0),
        )
        .help("1 = the architecture's paper; its blocks scale with width²")
        .advanced(),
    ]
}

/// The MLP (no architecture) or one of the named ones.
fn network_choices() -> Vec<super::schema::Choice> {
    use super::schema::Choice;
    std::iter::once(Choice::new(
        "mlp",
        "MLP of the widths below",
        serde_json::Value::Null,
    ))
    .chain(
        Arch::ALL
            .into_iter()
            .map(|a| Choice::new(a.id(), a.label(), super::to_value(&a))),
    )
    .collect()
}

/// The advanced fields of the network whose block a noise run samples (Fig 2, 4, 6, 001 Fig 3).
pub fn block_net_fields() -> [super::Field; 3] {
    use super::schema::Field;
    [
        Field::widths("widths").advanced(),
        Field::activation("activation").advanced(),
        Field::int("block_layer", "Block (weight layer index)", 0.0, 100.0)
            .help("1 = the weights between the two hidden layers")
            .advanced(),
    ]
}

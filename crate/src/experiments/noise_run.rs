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

use super::hessian_span::HessianSpan;
use super::Reporter;
use crate::analysis::noise::{gradient_samples, Block};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::{Activation, HostParams, InitScheme, Mlp, MlpConfig};
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
    /// The block: weights of this layer (1 = between the two hidden layers).
    pub block_layer: usize,
    pub seed: u64,
}

fn every_step() -> usize {
    1
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
        }
    }

    /// The run on imported weights of `model`: its architecture, and no training before
    /// sampling (S_para then follows GD with dropout from the imported θ).
    pub fn adopt(self, model: &MlpConfig) -> LabResult<Self> {
        if model.widths.len() < 3 {
            return Err(LabError::Weights(format!(
                "the noise runs need a hidden layer to drop; the imported network is {:?}",
                model.widths
            )));
        }
        Ok(NoiseRun {
            widths: model.widths.clone(),
            activation: model.activation,
            epochs: 0,
            ..self
        })
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
        Ok(())
    }

    pub fn train_config(&self, s: &Setting, extra_steps: usize) -> TrainConfig {
        let hidden = self.widths.len() - 2;
        let mut drop_rates = vec![0.0; hidden];
        if let Some(last) = drop_rates.last_mut() {
            *last = s.drop_rate; // "dropout after the second hidden layer"
        }
        TrainConfig {
            snapshot_every: if extra_steps > 0 {
                self.para_interval.max(1)
            } else {
                0
            },
            snapshot_layer: Some(self.block_layer),
            snapshot_after: self.epochs + 1,
            ..TrainConfig::for_preset(
                MlpConfig {
                    widths: self.widths.clone(),
                    activation: self.activation,
                    drop_rates,
                    init: InitScheme::Xavier,
                },
                OptimizerKind::Gd,
                s.lr,
                self.epochs + extra_steps,
                self.train_size,
                self.train_size,
                1,
                self.seed,
            )
        }
    }
}

/// One trained setting and its noise samples, one set per requested source.
pub struct Sampled {
    pub train_config: TrainConfig,
    /// θ at the end (after the S_para trajectory, if any): every analysis works here.
    pub theta: HostParams,
    pub final_train_loss: f32,
    pub samples: Vec<(NoiseSource, Vec<Vec<f32>>)>,
}

/// Train one setting on `train` (the first N images) and draw its noise samples over `span`
/// (the run's block, or every parameter); `stage` prefixes progress messages. Imported weights in
/// `inputs` replace the seeded initialisation (and, with `epochs` 0, the training).
pub async fn train_and_sample(
    run: &NoiseRun,
    span: HessianSpan,
    s: &Setting,
    stage: &str,
    train: &Dataset,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Sampled> {
    let (device, backend) = (&inputs.device, inputs.backend);
    let start = inputs.weights.map(|w| &w.params);
    let block = Block {
        layer: run.block_layer,
    };
    // Exactly `samples` multiples of the interval lie in the next samples x interval steps.
    let extra = if run.sources.contains(&NoiseSource::Para) {
        run.samples * run.para_interval.max(1)
    } else {
        0
    };
    let mut tc = run.train_config(s, extra);
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
    let (theta, final_train_loss, snapshots) = match start {
        // Nothing to train and no trajectory to follow: S_grad at the imported θ itself
        // (a trainer needs at least one step).
        Some(params) if tc.epochs == 0 => {
            tc.require_mlp()?.validate(train.dim, train.classes)?;
            let model = Mlp::from_host(tc.require_mlp()?, params, device);
            let resident = DeviceData::upload(train, device);
            let (loss, _) = evaluate(&model, &resident).await?;
            (params.clone(), loss, Vec::new())
        }
        _ => {
            let mut trainer = match start {
                Some(params) => {
                    Trainer::with_params(
                        tc.clone(),
                        tc.mlp_params(params)?,
                        train,
                        train,
                        device.clone(),
                        backend,
                        "mnist",
                    )
                    .await?
                }
                None => {
                    Trainer::new(tc.clone(), train, train, device.clone(), backend, "mnist").await?
                }
            };
            super::train_to_end(&mut trainer, 20, stage, reporter).await?;
            let final_train_loss = trainer
                .history()
                .epochs
                .last()
                .map_or(f32::NAN, |e| e.train_loss);
            let theta = trainer.mlp()?.to_host().await?;
            (theta, final_train_loss, trainer.take_snapshots())
        }
    };
    let mut trajectory = Some(snapshots);
    let mut samples = Vec::new();
    for &source in &run.sources {
        let set: Vec<Vec<f32>> = match source {
            NoiseSource::Para => trajectory
                .take()
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.params)
                .collect(),
            NoiseSource::Grad => {
                let g = gradient_samples(
                    tc.require_mlp()?,
                    &theta,
                    &tc.require_mlp()?.drop_rates,
                    train,
                    span.span(run.block_layer),
                    run.samples,
                    run.seed,
                    device,
                    |_| {},
                )
                .await?;
                if !reporter
                    .report(&format!("{stage}: S_grad"), run.samples, run.samples)
                    .await
                {
                    return Err(LabError::Cancelled);
                }
                g
            }
        };
        samples.push((source, set));
    }
    Ok(Sampled {
        train_config: tc,
        theta,
        final_train_loss,
        samples,
    })
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

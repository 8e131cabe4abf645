//! Noise-curvature alignment along a training run, shared by paper 000 Fig. 6 (Tr(HΣ) against
//! the isotropic Tr(HΣ̄), Sec. 6.3) and paper 001 Fig. 3(a) (cosine α, eq. 18).
//!
//! An FNN is trained by full-batch GD on the first N images (000: without dropout; 001: with
//! dropout after the first hidden layer). Every `every` steps, at the current θ:
//! - Σ: covariance of `samples` full-batch gradients of the block, each with a fresh dropout
//!   mask on the first hidden layer ("tentatively adding a dropout layer between the hidden
//!   layers", 000 Sec. 6.3);
//! - H: Hessian of the training loss (dropout off) over the same block (D = 2500 for
//!   784-50-50-10, as in the paper);
//! - Tr(HΣ) from N exact Hessian-vector products with the centred samples; Tr(H) and ‖H‖_F²
//!   from Hutchinson with `probes` Rademacher vectors (standard errors reported);
//!   ‖Σ‖_F and Tr(Σ) from the N x N Gram matrix (see analysis/alignment.rs).
//!
//! Which network (`arch`): the papers' FNN, or a named architecture (LeNet-5, ResNet-20, …) with
//! dropout at its paper's sites at the noise's rate; its block is its weight tensor of index
//! `block_layer` (`analysis::analysed`, which keeps the MLP's dense fast paths).
//!
//! Which parameters (`span`, experiments/hessian_span.rs): the block above by default, as both
//! papers' figures; or every parameter, paper 000 Sec. 3.5's definition, with the same
//! matrix-free products (Tr(HΣ) from N full-length samples; Tr(H), ‖H‖_F² by Hutchinson over
//! all D; Σ's summaries from the N x N Gram matrix).
//!
//! Which H (`HessianOf`): paper 000 Sec. 6.3 takes the Hessian of the training loss (dropout
//! off, Fig. 6); paper 001 defines H := ∇²L_S, the Hessian of the expected dropout loss
//! L_S = E_δ R_S^drop (Sec. 5.2 eq. 17, used in eq. 18). Eq. 7's closed form of L_S holds for the
//! two-layer MSE model only; here ∇²L_S products are exact masked HVPs with a fresh mask each
//! (`analysis/expected_hessian.rs`), at the drop rate of the sampled noise, and ‖H‖_F² multiplies
//! two independent draws per probe. With `compare_plain`, each checkpoint also reports the
//! alignment with the plain Hessian, from the same noise samples and probes.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::hessian_span::{HessianSpan, ParamsInfo};
use super::noise_run::{full_width, Setting};
use super::{Reporter, Silent};
use crate::analysis::alignment::{centre, combine, covariance_summary, trace_h_sigma, Alignment};
use crate::analysis::analysed::Analysed;
use crate::analysis::noise::Block;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::linalg::hutchinson::{hutchinson, hutchinson_independent};
use crate::linalg::LinearOperator;
use crate::model::net::{Arch, ArchConfig, NetParams};
use crate::model::{Activation, InitScheme, MlpConfig, ModelConfig};
use crate::rng::{stream, Stream};
use crate::train::eval::{evaluate_net, DeviceData};
use crate::train::{OptimizerKind, TrainConfig, Trainer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackConfig {
    pub train_size: usize,
    pub widths: Vec<usize>,
    pub activation: Activation,
    /// Drop rate of the sampled noise (and of training when `train_with_dropout`), with the lr.
    pub settings: Vec<Setting>,
    /// Full-batch GD steps (= epochs).
    pub epochs: usize,
    /// Measure every this many steps (and at step 0).
    pub every: usize,
    pub samples: usize,
    pub probes: usize,
    pub block_layer: usize,
    pub train_with_dropout: bool,
    /// The H of the alignment.
    #[serde(default)]
    pub hessian: HessianOf,
    /// With `hessian` = expected, also the alignment with the plain Hessian at each checkpoint.
    #[serde(default)]
    pub compare_plain: bool,
    /// H and Σ over the block (the papers' figures) or every parameter (their definitions).
    #[serde(default)]
    pub span: HessianSpan,
    pub seed: u64,
    /// A named architecture instead of the FNN of `widths` and `activation`, with dropout at its
    /// paper's sites; its block is its weight tensor of index `block_layer`.
    #[serde(default)]
    pub arch: Option<Arch>,
    /// The named architecture's width multiplier (1 = its paper's network).
    #[serde(default = "full_width")]
    pub arch_width: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HessianOf {
    /// ∇² of the training loss with dropout off (paper 000 Sec. 6.3).
    #[default]
    Plain,
    /// ∇²L_S, L_S = E_δ R_S^drop at the noise's drop rate (paper 001's H, eq. 17-18).
    Expected,
}

impl TrackConfig {
    /// Demo scale shared by Fig. 6 and 001 Fig. 3, about a minute natively: 784-50-50-10 on 1000
    /// images, 200 GD steps measured every 20, two (drop, lr) settings, 100 samples, 30 probes.
    pub fn demo(train_with_dropout: bool) -> Self {
        TrackConfig {
            train_size: 1000,
            widths: vec![784, 50, 50, 10],
            activation: Activation::Relu,
            settings: vec![
                Setting {
                    drop_rate: 0.1,
                    lr: 0.05,
                },
                Setting {
                    drop_rate: 0.2,
                    lr: 0.1,
                },
            ],
            epochs: 200,
            every: 20,
            samples: 100,
            probes: 30,
            block_layer: 1,
            train_with_dropout,
            hessian: HessianOf::Plain,
            compare_plain: false,
            span: HessianSpan::Block,
            seed: 1,
            arch: None,
            arch_width: full_width(),
        }
    }

    pub fn validate(&self) -> LabResult<()> {
        if self.settings.is_empty() || self.every == 0 || self.samples < 2 || self.probes < 2 {
            return Err(LabError::Config(
                "need at least one setting, every ≥ 1, 2 noise samples and 2 Hutchinson probes"
                    .into(),
            ));
        }
        if self.arch.is_none() && self.widths.len() < 3 {
            return Err(LabError::Config(
                "the network needs a hidden layer to drop".into(),
            ));
        }
        if let Some(s) = self
            .settings
            .iter()
            .find(|s| !(s.drop_rate > 0.0 && s.drop_rate < 1.0) || !(s.lr > 0.0))
        {
            return Err(LabError::Config(format!(
                "drop rate must lie in (0, 1) and lr be positive, got {s:?}"
            )));
        }
        match self.arch {
            None => Block {
                layer: self.block_layer,
            }
            .validate(&self.model(0.0)),
            // The block is checked against the network once the data's shape is known.
            Some(_) => Ok(()),
        }
    }

    /// The parameters of H and Σ on the run's network for data of `dim` features and `classes`
    /// classes (an error names a block the network lacks).
    pub fn parameters(&self, dim: usize, classes: usize) -> LabResult<ParamsInfo> {
        self.span
            .parameters_of(&self.network(0.0), self.block_layer, dim, classes)
    }

    /// What a result's H and Σ covered: its stored `parameters`, or for a result written before
    /// results named them, the FNN's block or all its parameters.
    pub fn covered(&self, parameters: &Option<ParamsInfo>) -> ParamsInfo {
        parameters
            .clone()
            .unwrap_or_else(|| self.span.mlp_parameters(&self.widths, self.block_layer))
    }

    /// CSV header cells: `span=block|full` and the parameter count `D`.
    pub fn csv_cells(&self, parameters: &Option<ParamsInfo>) -> [(&'static str, String); 2] {
        [
            ("span", self.span.word().to_string()),
            ("D", self.covered(parameters).dim.to_string()),
        ]
    }

    /// The run's network with dropout `p`: the FNN's after its first hidden layer only, a named
    /// architecture's at its paper's sites.
    pub fn network(&self, p: f32) -> ModelConfig {
        match self.arch {
            Some(a) => ArchConfig {
                width: self.arch_width,
                drop_rate: p,
                ..ArchConfig::new(a)
            }
            .into(),
            None => self.model(p).into(),
        }
    }

    /// The FNN with dropout `p` after the first hidden layer only.
    pub fn model(&self, p: f32) -> MlpConfig {
        let mut drop_rates = vec![0.0; self.widths.len() - 2];
        drop_rates[0] = p;
        MlpConfig {
            widths: self.widths.clone(),
            activation: self.activation,
            drop_rates,
            init: InitScheme::Xavier,
        }
    }

    pub fn train_config(&self, s: &Setting) -> TrainConfig {
        TrainConfig::for_preset(
            self.network(if self.train_with_dropout {
                s.drop_rate
            } else {
                0.0
            }),
            OptimizerKind::Gd,
            s.lr,
            self.epochs,
            self.train_size,
            self.train_size,
            1,
            self.seed,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub epoch: usize,
    /// Training loss with dropout off.
    pub train_loss: f32,
    /// With the config's H.
    pub alignment: Alignment,
    /// With the plain Hessian, when the config's H is the expected one and `compare_plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain: Option<Alignment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSeries {
    pub setting: Setting,
    pub checkpoints: Vec<Checkpoint>,
}

/// One tracked setting, with the final parameters for follow-up analyses.
pub struct Tracked {
    pub series: TrackSeries,
    pub theta: NetParams,
}

/// The alignments at θ (the config's H, and the plain one when compared): N dropout gradients,
/// then per H the N products of Tr(HΣ) and the Hutchinson probes. θ is the network's parameters
/// at any drop rate; the noise is sampled at `s`'s.
pub async fn alignment_at(
    cfg: &TrackConfig,
    s: &Setting,
    theta: &NetParams,
    train: &Dataset,
    resident: &DeviceData,
    device: &Device,
    salt: u64,
) -> LabResult<(Alignment, Option<Alignment>)> {
    let noisy = cfg.network(s.drop_rate).build(train.dim, train.classes)?;
    let network = Analysed::new(&theta.with_spec(&noisy)?, device)?;
    let params = cfg.span.params(cfg.block_layer);
    let dim = network.dim(params)?;
    // A distinct mask stream per checkpoint, still fixed by the one seed.
    let seed = cfg
        .seed
        .wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let samples = network
        .gradient_samples(
            train,
            resident,
            params,
            cfg.samples,
            seed,
            device,
            &mut Silent,
        )
        .await?;
    let g = centre(&samples)?;
    let summary = covariance_summary(&g)?;
    let plain_alignment = async || {
        let mut op = network.hessian(resident, params)?;
        let t = trace_h_sigma(&mut op, &g).await?;
        let h = hutchinson(
            &mut op,
            cfg.probes,
            &mut stream(seed, Stream::HessianProbes),
        )
        .await?;
        LabResult::Ok(combine(t, h.trace, h.frobenius_sq, summary.clone(), dim))
    };
    match cfg.hessian {
        HessianOf::Plain => Ok((plain_alignment().await?, None)),
        HessianOf::Expected => {
            let mut op = network.expected_hessian(
                resident,
                params,
                None,
                stream(seed, Stream::HessianMasks),
            )?;
            let t = trace_h_sigma(&mut op, &g).await?;
            let h = hutchinson_independent(
                &mut op,
                cfg.probes,
                &mut stream(seed, Stream::HessianProbes),
            )
            .await?;
            debug_assert_eq!(op.dim(), dim);
            let expected = combine(t, h.trace, h.frobenius_sq, summary.clone(), dim);
            let compared = match cfg.compare_plain {
                true => Some(plain_alignment().await?),
                false => None,
            };
            Ok((expected, compared))
        }
    }
}

pub async fn track(
    cfg: &TrackConfig,
    train: &Dataset,
    device: &Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<Vec<Tracked>> {
    cfg.validate()?;
    cfg.parameters(train.dim, train.classes)?;
    let train = train.first(cfg.train_size)?;
    let resident = DeviceData::upload(&train, device);
    let mut out = Vec::new();
    for (si, s) in cfg.settings.iter().enumerate() {
        let stage = s.stage(si, cfg.settings.len());
        let tc = cfg.train_config(s);
        let mut trainer =
            Trainer::new(tc.clone(), &train, &train, device.clone(), backend, "mnist").await?;
        let mut checkpoints = Vec::new();
        loop {
            let epoch = trainer.progress(f32::NAN).step;
            let theta = trainer.params().await?;
            let (train_loss, _) = evaluate_net(&trainer.net()?, &resident).await?;
            if !train_loss.is_finite() {
                return Err(LabError::NonFinite {
                    step: epoch,
                    value: train_loss,
                });
            }
            let (alignment, plain) =
                alignment_at(cfg, s, &theta, &train, &resident, device, epoch as u64).await?;
            checkpoints.push(Checkpoint {
                epoch,
                train_loss,
                alignment,
                plain,
            });
            if !reporter
                .report(&format!("{stage}: epoch"), epoch, cfg.epochs)
                .await
            {
                return Err(LabError::Cancelled);
            }
            if trainer.is_done() {
                out.push(Tracked {
                    series: TrackSeries {
                        setting: *s,
                        checkpoints,
                    },
                    theta,
                });
                break;
            }
            trainer.run(cfg.every).await?;
        }
    }
    Ok(out)
}

impl TrackConfig {
    /// The form fields of a tracked-alignment run (Fig 6 and 001 Fig 3).
    pub fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        vec![
            Field::settings(
                "settings",
                "Settings (drop:lr, …)",
                Range::open(0.0, 1.0),
                1,
            ),
            Field::int("train_size", "Train images N", 2.0, 1e7).help("the paper: the first 10000"),
            Field::int("epochs", "GD epochs", 1.0, 1e6),
            Field::int("every", "Measure every (epochs)", 1.0, 1e6),
            Field::int("samples", "Gradient samples", 2.0, 1e6),
            Field::int("probes", "Hutchinson probes", 2.0, 1e5),
            Field::seed(),
            HessianSpan::field(),
        ]
        .into_iter()
        .chain(super::noise_run::network_fields())
        .chain(super::noise_run::block_net_fields())
        .collect()
    }

    /// The paper's scale: the first 10000 MNIST images.
    pub fn paper(train_with_dropout: bool) -> Self {
        TrackConfig {
            train_size: 10000,
            ..Self::demo(train_with_dropout)
        }
    }
}

/// One CSV row per (setting, checkpoint) of a tracked run; the plain-Hessian columns appear when
/// a checkpoint has them.
pub fn track_csv(header: String, series: &[TrackSeries]) -> String {
    let compared = series
        .iter()
        .any(|s| s.checkpoints.iter().any(|c| c.plain.is_some()));
    let rows = series.iter().flat_map(|s| {
        s.checkpoints.iter().map(move |c| {
            let a = &c.alignment;
            let mut row = vec![
                s.setting.drop_rate.to_string(),
                s.setting.lr.to_string(),
                c.epoch.to_string(),
                c.train_loss.to_string(),
                a.trace_h_sigma.to_string(),
                a.trace_h_isotropic.to_string(),
                a.cosine.to_string(),
                a.trace_h.value.to_string(),
                a.trace_h.std_error.to_string(),
                a.frobenius_sq_h.value.to_string(),
                a.frobenius_sq_h.std_error.to_string(),
                a.covariance.trace.to_string(),
                a.covariance.frobenius.to_string(),
            ];
            if compared {
                row.extend(match &c.plain {
                    Some(p) => [
                        p.trace_h_sigma,
                        p.cosine,
                        p.trace_h.value,
                        p.frobenius_sq_h.value,
                    ]
                    .map(|v| v.to_string()),
                    None => Default::default(),
                });
            }
            row
        })
    });
    let mut columns = String::from(
        "drop_rate,lr,epoch,train_loss,trace_h_sigma,trace_h_isotropic,cosine,trace_h,trace_h_se,frobenius_sq_h,frobenius_sq_h_se,trace_sigma,frobenius_sigma",
    );
    if compared {
        columns += ",plain_trace_h_sigma,plain_cosine,plain_trace_h,plain_frobenius_sq_h";
    }
    header + &super::csv_rows(&columns, rows)
}

/// min and max of a series' values over its checkpoints.
pub fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

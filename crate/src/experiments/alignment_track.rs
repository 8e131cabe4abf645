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
//! For 001's cross-entropy network H is the Hessian of the plain training loss: 001's modified
//! loss L_S (eq. 7) is derived for the two-layer MSE model and has no closed form here.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::noise_run::Setting;
use super::Reporter;
use crate::analysis::alignment::{centre, combine, covariance_summary, trace_h_sigma, Alignment};
use crate::analysis::hessian::{HessianOperator, Span};
use crate::analysis::noise::{gradient_samples, Block};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::linalg::hutchinson::hutchinson;
use crate::model::{Activation, HostParams, InitScheme, MlpConfig};
use crate::rng::{stream, Stream};
use crate::train::eval::{evaluate, DeviceData};
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
    pub seed: u64,
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
            seed: 1,
        }
    }

    pub fn validate(&self) -> LabResult<()> {
        if self.settings.is_empty() || self.every == 0 || self.samples < 2 || self.probes < 2 {
            return Err(LabError::Config(
                "need at least one setting, every ≥ 1, 2 noise samples and 2 Hutchinson probes"
                    .into(),
            ));
        }
        if self.widths.len() < 3 {
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
        Block {
            layer: self.block_layer,
        }
        .validate(&self.model(0.0))
    }

    /// The network with dropout `p` after the first hidden layer only.
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
            self.model(if self.train_with_dropout {
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
    pub alignment: Alignment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSeries {
    pub setting: Setting,
    pub checkpoints: Vec<Checkpoint>,
}

/// One tracked setting, with the final parameters for follow-up analyses.
pub struct Tracked {
    pub series: TrackSeries,
    pub model: MlpConfig,
    pub theta: HostParams,
}

/// The alignment at θ: N dropout gradients, N HVPs, `probes` Hutchinson products.
pub async fn alignment_at(
    cfg: &TrackConfig,
    s: &Setting,
    theta: &HostParams,
    train: &Dataset,
    resident: &DeviceData,
    device: &Device,
    salt: u64,
) -> LabResult<Alignment> {
    let block = Block {
        layer: cfg.block_layer,
    };
    let noisy = cfg.model(s.drop_rate);
    // A distinct mask stream per checkpoint, still fixed by the one seed.
    let seed = cfg
        .seed
        .wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let samples = gradient_samples(
        &noisy,
        theta,
        &noisy.drop_rates,
        train,
        block,
        cfg.samples,
        seed,
        device,
        |_| {},
    )
    .await?;
    let g = centre(&samples)?;
    let plain = cfg.model(0.0);
    let model = crate::model::Mlp::from_host(&plain, theta, device);
    let mut op = HessianOperator::new(&model, resident, Span::Block(block));
    let t = trace_h_sigma(&mut op, &g).await?;
    let h = hutchinson(
        &mut op,
        cfg.probes,
        &mut stream(seed, Stream::HessianProbes),
    )
    .await?;
    Ok(combine(
        t,
        h.trace,
        h.frobenius_sq,
        covariance_summary(&g)?,
        block.dim(&plain),
    ))
}

pub async fn track(
    cfg: &TrackConfig,
    train: &Dataset,
    device: &Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<Vec<Tracked>> {
    cfg.validate()?;
    let train = train.first(cfg.train_size)?;
    let resident = DeviceData::upload(&train, device);
    let mut out = Vec::new();
    for (si, s) in cfg.settings.iter().enumerate() {
        let stage = format!(
            "setting {}/{} (drop {}, lr {})",
            si + 1,
            cfg.settings.len(),
            s.drop_rate,
            s.lr
        );
        let tc = cfg.train_config(s);
        let mut trainer =
            Trainer::new(tc.clone(), &train, &train, device.clone(), backend, "mnist").await?;
        let mut checkpoints = Vec::new();
        loop {
            let epoch = trainer.progress(f32::NAN).step;
            let theta = trainer.model().to_host().await?;
            let (train_loss, _) = evaluate(trainer.model(), &resident).await?;
            if !train_loss.is_finite() {
                return Err(LabError::NonFinite {
                    step: epoch,
                    value: train_loss,
                });
            }
            let alignment =
                alignment_at(cfg, s, &theta, &train, &resident, device, epoch as u64).await?;
            checkpoints.push(Checkpoint {
                epoch,
                train_loss,
                alignment,
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
                    model: tc.model.clone(),
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
        ]
        .into_iter()
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

/// One CSV row per (setting, checkpoint) of a tracked run.
pub fn track_csv(header: String, series: &[TrackSeries]) -> String {
    let rows = series.iter().flat_map(|s| {
        s.checkpoints.iter().map(move |c| {
            let a = &c.alignment;
            vec![
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
            ]
        })
    });
    header
        + &super::csv_rows(
            "drop_rate,lr,epoch,train_loss,trace_h_sigma,trace_h_isotropic,cosine,trace_h,trace_h_se,frobenius_sq_h,frobenius_sq_h_se,trace_sigma,frobenius_sigma",
            rows,
        )
}

/// min and max of a series' values over its checkpoints.
pub fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

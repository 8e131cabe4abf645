//! Paper 000 Fig. 3 and Fig. 5 on ResNet-20 (Sec. 4-6): a ResNet-20 trained by full-batch GD
//! with dropout after its convolution units (as for Fig. 1c), then, "after the loss is small",
//! noise samples in one weight block, S_para (the block along further GD+dropout steps) and
//! S_grad (dropout gradients at the final θ, Sec. 3.3), and two figures of that block:
//! - Fig. 3: the PCA of the samples' covariance and the interval flatness F_v along each
//!   principal direction (Sec. 3.2), λ_i(Σ) against F_{v_i} with the power law of log λ on log F;
//! - Fig. 5: every eigenpair of the block's dense Hessian (training loss, dropout off, BatchNorm
//!   in evaluation mode) and Var(Proj_{v_i}(S)) against λ_i(H) with its power law.
//!
//! The block: the paper says only "between two hidden layers". A ResNet's analogue of the FNN's
//! hidden-to-hidden matrix is a 3x3 convolution between two feature maps; the default is the
//! second convolution of stage 1's last residual block (convolution weight 6, counting the stem
//! as 0): 16·16·9 = 2304 weights at width 1, the largest blocks whose dense Hessian stays under
//! the lab's limit (`MAX_DENSE_BLOCK`) and the size of the 2500-weight FNN block of Figs. 2 and 4.
//! Stage 2 and 3 convolutions (9216, 36864 weights) are beyond a dense Hessian.
//!
//! The paper ran the Hessian "only at a specific dropout rate and learning rate" (Sec. 4): the
//! demo has one setting; more are one field away.

use serde::{Deserialize, Serialize};

use super::fig2_variance_flatness::{flatness_series, Series, SettingResult};
use super::fig4_variance_hessian::{dense_spectrum, variance_series, Fig4Series, MAX_DENSE_BLOCK};
use super::noise_run::{follow_trajectory, NoiseSource, Setting};
use super::{Reporter, StagePrefix};
use crate::analysis::flatness::FlatnessOptions;
use crate::analysis::net_hessian::{NetHessianOperator, NetSpan};
use crate::analysis::net_noise::{net_gradient_samples, NetProfile};
use crate::error::{LabError, LabResult};
use crate::model::net::{Arch, ArchConfig, Net, Placement, Role};
use crate::train::bn_recalibration::recalibrate_batch_norm;
use crate::train::eval::evaluate_net;
use crate::train::{OptimizerKind, TrainConfig, Trainer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResnetNoiseConfig {
    /// First N training images (paper: all 50000 of CIFAR-100).
    pub train_size: usize,
    pub width: f64,
    /// One training per (drop rate, learning rate); dropout after every convolution unit.
    pub settings: Vec<Setting>,
    /// Full-batch GD steps before sampling (paper: 1200).
    pub epochs: usize,
    /// Rows per chunk of the full-batch gradient (BatchNorm normalises each chunk by itself).
    pub batch_size: usize,
    /// Noise samples N (paper: 3000 for Fig. 3, 1000 for Fig. 5).
    pub samples: usize,
    /// S_para keeps the block every this many GD steps.
    pub para_interval: usize,
    pub sources: Vec<NoiseSource>,
    /// The block: this convolution weight, counted in state_dict order from the stem (0).
    pub block: usize,
    /// Principal directions whose flatness Fig. 3 measures.
    pub top_k: usize,
    pub flatness: FlatnessOptions,
    /// Fig. 5 fits λ_i(H) > fit_floor · λ_max only.
    pub fit_floor: f64,
    /// Recompute BatchNorm's statistics without dropout before the analyses (a lab choice the
    /// paper does not mention: `train::bn_recalibration` says why).
    pub recalibrate_bn: bool,
    pub seed: u64,
}

impl ResnetNoiseConfig {
    pub fn demo() -> Self {
        ResnetNoiseConfig {
            train_size: 32,
            width: 0.25,
            settings: vec![Setting {
                drop_rate: 0.2,
                lr: 0.4,
            }],
            epochs: 300,
            batch_size: 32,
            samples: 100,
            para_interval: 1,
            sources: vec![NoiseSource::Grad, NoiseSource::Para],
            block: 6,
            top_k: 20,
            flatness: super::fig2_variance_flatness::Fig2Config::demo().flatness,
            fit_floor: 1e-5,
            recalibrate_bn: true,
            seed: 1,
        }
    }

    /// Sec. 4: all of CIFAR-100, lr 0.01, 1200 epochs, keep 0.8; 1000 samples (Fig. 5's count).
    pub fn paper() -> Self {
        ResnetNoiseConfig {
            train_size: 50000,
            width: 1.0,
            settings: vec![Setting {
                drop_rate: 0.2,
                lr: 0.01,
            }],
            epochs: 1200,
            batch_size: 500,
            samples: 1000,
            top_k: 50,
            ..Self::demo()
        }
    }

    /// GD steps after `epochs` that the S_para trajectory takes.
    pub fn extra_steps(&self) -> usize {
        if self.sources.contains(&NoiseSource::Para) {
            self.samples * self.para_interval
        } else {
            0
        }
    }

    /// The training of one setting, the trajectory's steps included.
    pub fn train_config(&self, s: &Setting) -> TrainConfig {
        let mut arch = ArchConfig::new(Arch::Resnet20);
        arch.width = self.width;
        arch.drop_rate = s.drop_rate;
        arch.placement = Placement::AfterConvs;
        let mut c = TrainConfig::new(arch);
        c.train_size = self.train_size;
        c.test_size = self.train_size;
        c.optimizer = OptimizerKind::Gd;
        c.lr = s.lr;
        c.momentum = 0.0;
        c.epochs = self.epochs + self.extra_steps();
        c.batch_size = self.batch_size;
        c.seed = self.seed;
        c.eval_every = c.epochs;
        c
    }

    pub fn validate(&self) -> LabResult<()> {
        let bad = |m: String| Err(LabError::Config(m));
        if self.settings.is_empty() || self.sources.is_empty() || self.samples < 2 {
            return bad(
                "Figs 3 and 5 need a setting, a noise source and at least 2 samples".into(),
            );
        }
        if let Some(s) = self.settings.iter().find(|s| !(s.drop_rate > 0.0)) {
            return bad(format!(
                "the noise is dropout's: drop rate {} leaves none",
                s.drop_rate
            ));
        }
        if self.para_interval == 0 || self.top_k == 0 {
            return bad("the S_para interval and the directions must be at least 1".into());
        }
        if !(self.fit_floor >= 0.0 && self.fit_floor < 1.0) {
            return bad(format!(
                "fit_floor must lie in [0, 1), got {}",
                self.fit_floor
            ));
        }
        Ok(())
    }
}

/// The weight block the figures are about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Its state_dict key.
    pub name: String,
    /// [out, in, kh, kw].
    pub shape: Vec<usize>,
}

/// Where one setting's training ended: evaluation-mode loss and accuracy on the training images,
/// with the running statistics training left, and of the network analysed (the same unless
/// BatchNorm was recalibrated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedSetting {
    pub setting: Setting,
    pub trained_loss: f32,
    pub trained_accuracy: f32,
    pub train_loss: f32,
    pub train_accuracy: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResnetNoiseResult {
    pub config: ResnetNoiseConfig,
    pub backend: String,
    pub crate_version: String,
    pub dataset: String,
    /// Set when the data is not the paper's CIFAR-100.
    pub data_note: Option<String>,
    pub block: BlockInfo,
    pub trained: Vec<TrainedSetting>,
    /// Fig. 3: one series per (source, setting).
    pub flatness: Vec<SettingResult>,
    /// Fig. 5: one series per (source, setting).
    pub hessian: Vec<Fig4Series>,
}

impl ResnetNoiseResult {
    /// "layers.7.conv2.weight [16, 16, 3, 3], D = 2304", for titles and summaries.
    pub fn block_label(&self) -> String {
        let d: usize = self.block.shape.iter().product();
        format!("{} {:?}, D = {d}", self.block.name, self.block.shape)
    }
}

/// The parameter index of the network's `n`-th convolution weight (0 = the stem).
pub fn conv_weight(net: &Net, n: usize) -> LabResult<usize> {
    let convs: Vec<usize> = net
        .param_specs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.shape.len() == 4 && matches!(p.role, Role::Weight { .. }))
        .map(|(i, _)| i)
        .collect();
    convs.get(n).copied().ok_or_else(|| {
        LabError::Config(format!(
            "convolution weight {n} does not exist: the network has {} (0 = the stem)",
            convs.len()
        ))
    })
}

pub async fn run(
    cfg: &ResnetNoiseConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<ResnetNoiseResult> {
    cfg.validate()?;
    let (mut trained, mut flatness, mut hessian) = (Vec::new(), Vec::new(), Vec::new());
    let mut block_info = None;
    for (si, s) in cfg.settings.iter().enumerate() {
        let stage = s.stage(si, cfg.settings.len());
        let mut trainer = Trainer::new(
            cfg.train_config(s),
            inputs.train,
            inputs.train,
            inputs.device.clone(),
            inputs.backend,
            inputs.dataset,
        )
        .await?;
        let net = trainer.net()?;
        let block = conv_weight(&net, cfg.block)?;
        let spec = &net.param_specs[block];
        if spec.len() > MAX_DENSE_BLOCK {
            return Err(LabError::Config(format!(
                "{} has {} weights; a dense Hessian is limited to {MAX_DENSE_BLOCK} (pick a \
                 stage-1 convolution or a smaller width)",
                spec.name,
                spec.len()
            )));
        }
        block_info = Some(BlockInfo {
            name: spec.name.clone(),
            shape: spec.shape.clone(),
        });
        let kept = cfg.extra_steps() / cfg.para_interval;
        let para = follow_trajectory(
            &mut trainer,
            cfg.epochs,
            kept,
            cfg.para_interval,
            NetSpan::Param(block),
            &stage,
            reporter,
        )
        .await?;
        let last = trainer
            .epochs()
            .last()
            .expect("evaluated at the end")
            .clone();
        let data = trainer.train_data();
        let mut analysed = trainer.net()?;
        if cfg.recalibrate_bn {
            recalibrate_batch_norm(&mut analysed, data)?;
        }
        let (train_loss, train_accuracy) = evaluate_net(&analysed, data).await?;
        trained.push(TrainedSetting {
            setting: *s,
            trained_loss: last.train_loss,
            trained_accuracy: last.train_accuracy,
            train_loss,
            train_accuracy,
        });
        let net = &analysed;
        let span = NetSpan::Param(block);
        let mut samples = Vec::new();
        for &source in &cfg.sources {
            samples.push(match source {
                NoiseSource::Para => (source, para.clone()),
                NoiseSource::Grad => {
                    let mut r = StagePrefix::new(&stage, reporter);
                    let g = net_gradient_samples(net, data, span, cfg.samples, cfg.seed, &mut r)
                        .await?;
                    (source, g)
                }
            });
        }
        let of = |source| Series {
            source,
            setting: *s,
            final_train_loss: train_loss,
        };
        for (source, set) in &samples {
            let label = format!("{stage}: S_{} flatness", source.name());
            let profile = |v: &[f64]| NetProfile::new(net, span, v, data);
            flatness.push(
                flatness_series(
                    of(*source),
                    set,
                    cfg.top_k,
                    &cfg.flatness,
                    profile,
                    &label,
                    reporter,
                )
                .await?,
            );
        }
        let mut op = NetHessianOperator::new(net, data, span);
        let label = format!("{stage}: block Hessian columns");
        let spectrum = dense_spectrum(&mut op, 16, reporter, &label).await?;
        for (source, set) in &samples {
            hessian.push(variance_series(of(*source), set, &spectrum, cfg.fit_floor)?);
        }
    }
    Ok(ResnetNoiseResult {
        config: cfg.clone(),
        backend: inputs.backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        dataset: inputs.dataset.to_string(),
        data_note: super::not_the_papers_data(inputs, &super::CIFAR100),
        block: block_info.expect("validate requires a setting"),
        trained,
        flatness,
        hessian,
    })
}

/// The gallery's card for Figs. 3 and 5 on ResNet-20.
pub struct ResnetNoise;

impl super::Preset for ResnetNoise {
    type Config = ResnetNoiseConfig;
    type Result = ResnetNoiseResult;

    fn info() -> super::Info {
        super::Info {
            id: "noise-resnet",
            paper: "000",
            figure: "Figs. 3 and 5",
            title: "Variance, flatness and curvature in a ResNet-20 block",
            claim: "In a ResNet-20 trained with dropout, the noise's principal directions with \
                    more variance are sharper (λ(Σ) falls as F_v grows), and the noise projected \
                    on the block Hessian's eigenvectors grows with λ(H).",
            reference: "paper 000, Sec. 3.2-3.3, 5 and 6.2, Figs. 3 and 5",
            description: "A ResNet-20 trained by full-batch GD with dropout after every \
                convolution unit (as Fig 1c); then S_para (the block along further GD steps) and \
                S_grad (dropout gradients at the final θ) in one 3x3 convolution of stage 1, the \
                PCA of their covariance with the interval flatness along each principal \
                direction (Fig 3), and the block's dense Hessian with the noise variance along \
                each of its eigenvectors (Fig 5), both log-log with power-law fits. Paper: all \
                of CIFAR-100, lr 0.01, 1200 epochs.",
        }
    }
    fn demo() -> ResnetNoiseConfig {
        ResnetNoiseConfig::demo()
    }
    fn paper() -> ResnetNoiseConfig {
        ResnetNoiseConfig::paper()
    }
    fn validate(c: &ResnetNoiseConfig) -> LabResult<()> {
        c.validate()?;
        c.train_config(&c.settings[0]).spec(3072, 100).map(|_| ())
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Choice, Field, Range};
        let mut f = vec![
            Field::settings(
                "settings",
                "Settings (drop:lr, …)",
                Range::open(0.0, 1.0),
                1,
            )
            .help("one training per pair; the paper's keep 0.8 at lr 0.01 is 0.2:0.01"),
            Field::int("train_size", "Train images N", 2.0, 1e7)
                .help("the paper: all 50000 of CIFAR-100"),
            Field::float("width", "Width multiplier", Range::left_open(0.0, 8.0))
                .help("1 = He et al.'s ResNet-20; the block has 2304·width² weights"),
            Field::int("epochs", "GD steps before sampling", 1.0, 1e6),
            Field::int("samples", "Noise samples", 2.0, 1e6),
            Field::choices(
                "sources",
                "Noise sources",
                vec![
                    Choice::word("grad", "S_grad: dropout gradients at the final θ"),
                    Choice::word("para", "S_para: the block along further GD steps"),
                ],
            )
            .help("grad, para or both (comma-separated)"),
            Field::int("top_k", "Principal directions (Fig 3)", 1.0, 10000.0),
            Field::seed(),
            Field::int("para_interval", "S_para interval (GD steps)", 1.0, 1e6).advanced(),
            Field::int("block", "Block (convolution weight, 0 = stem)", 0.0, 100.0)
                .help("6 = stage 1's last 3x3 convolution")
                .advanced(),
            Field::int("batch_size", "Rows per gradient chunk", 1.0, 1e7).advanced(),
            Field::bool(
                "recalibrate_bn",
                "Recompute BatchNorm statistics without dropout",
            )
            .help("before the analyses; dropout before BatchNorm shifts the variance")
            .advanced(),
            Field::float(
                "fit_floor",
                "Fig 5 fit floor (fraction of λ_max)",
                Range::right_open(0.0, 1.0),
            )
            .advanced(),
        ];
        f.extend(super::fig2_variance_flatness::flatness_fields());
        f
    }
    async fn run(
        config: &ResnetNoiseConfig,
        inputs: &super::Inputs<'_>,
        reporter: &mut impl Reporter,
    ) -> LabResult<ResnetNoiseResult> {
        run(config, inputs, reporter).await
    }
    fn charts() -> Vec<super::Chart> {
        vec![
            super::Chart {
                id: "flatness",
                title: "Fig 3: eigenvalue vs flatness",
                width: 960,
                height: 440,
            },
            super::Chart {
                id: "variance",
                title: "Fig 5: projected variance vs Hessian eigenvalue",
                width: 960,
                height: 440,
            },
        ]
    }
    fn draw<DB: plotters::prelude::DrawingBackend>(
        chart: &str,
        r: &ResnetNoiseResult,
        area: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    ) -> LabResult<()> {
        let sources = &r.config.sources;
        match chart {
            "variance" => {
                crate::charts::draw_variance_panels(area, sources, &r.hessian, &r.block_label())
            }
            _ => crate::charts::draw_flatness_panels(area, sources, &r.flatness),
        }
    }
    fn csv(r: &ResnetNoiseResult) -> String {
        use super::fig2_variance_flatness::PowerLawFit;
        let flat = r.flatness.iter().flat_map(|s| {
            let fit = PowerLawFit::cells(s.paper_fit().as_ref());
            s.eigenvalues
                .iter()
                .zip(&s.flatness)
                .enumerate()
                .map(move |(i, (l, f))| {
                    let mut row = vec!["fig3".into(), s.source.name().into()];
                    row.extend([s.setting.drop_rate.to_string(), s.setting.lr.to_string()]);
                    row.extend([(i + 1).to_string(), l.to_string(), super::opt(f.width)]);
                    row.extend(fit.clone());
                    row
                })
        });
        let var = r.hessian.iter().flat_map(Fig4Series::csv_rows).map(|row| {
            let mut tagged = vec!["fig5".to_string()];
            tagged.extend(row);
            tagged
        });
        let block = [("block", r.block_label())];
        super::csv_header(&r.crate_version, &r.backend, r.config.seed, &block)
            + &super::csv_rows(
                "figure,source,drop_rate,lr,index,eigenvalue,flatness_width_or_projected_variance,fit_slope,fit_r2",
                flat.chain(var),
            )
    }
    fn summary(r: &ResnetNoiseResult) -> String {
        use super::fig2_variance_flatness::PowerLawFit;
        let head = [
            r.data_note.clone(),
            Some(format!("block {}", r.block_label())),
        ];
        let trained = r.trained.iter().map(|t| {
            let recalibrated = match r.config.recalibrate_bn {
                true => format!(
                    " (with training's BatchNorm statistics {:.4}, {:.1}%; recalibrated without \
                     dropout)",
                    t.trained_loss,
                    100.0 * t.trained_accuracy
                ),
                false => String::new(),
            };
            format!(
                "drop {}, lr {}: train loss {:.4}, accuracy {:.1}% in evaluation mode{recalibrated}",
                t.setting.drop_rate,
                t.setting.lr,
                t.train_loss,
                100.0 * t.train_accuracy
            )
        });
        let fig3 = r.flatness.iter().map(|s| {
            format!(
                "Fig 3 · S_{} · drop {}, lr {}: λ(Σ) on F_v {}{}",
                s.source.name(),
                s.setting.drop_rate,
                s.setting.lr,
                PowerLawFit::describe(s.paper_fit().as_ref()),
                match s.no_crossing {
                    0 => String::new(),
                    n => format!(", {n} direction(s) without a crossing"),
                }
            )
        });
        let fig5 = r.hessian.iter().map(|s| {
            format!(
                "Fig 5 · S_{} · drop {}, lr {}: λ_max(H) {:.4e}, Var(Proj) on λ(H) {}",
                s.source.name(),
                s.setting.drop_rate,
                s.setting.lr,
                s.hessian_eigenvalues.first().copied().unwrap_or(f64::NAN),
                PowerLawFit::describe(s.fit.as_ref())
            )
        });
        super::preset::lines(
            head.into_iter()
                .flatten()
                .chain(trained)
                .chain(fig3)
                .chain(fig5),
        )
    }
}

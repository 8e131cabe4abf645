//! Paper 000 Fig. 2: the inverse variance-flatness relation. An FNN 784-50-50-10 trained by
//! full-batch GD on the first N MNIST images with dropout after the second hidden layer; at the
//! end, noise samples S in the block between the hidden layers, the PCA of their covariance, the
//! interval flatness F_{v_i} along each eigen-direction, and the log-log scatter {λ_i, F_{v_i}}
//! with its power-law fit, one series per (drop rate, learning rate) setting.
//!
//! Orientation: the paper's Fig. 2 draws λ(Σ) vertically against F_v and quotes the slope of
//! log λ on log F ("slope = −1.3"); the chart and the summary do the same. Least squares on the
//! other axis (log F on log λ) gives a different slope (R²/k, not 1/k), so that fit is kept in
//! the JSON and CSV beside the paper's.
//! Training and sampling: `noise_run.rs` (keep probability p of the paper = 1 - drop_rate).

use serde::{Deserialize, Serialize};

use super::Reporter;
use crate::analysis::covariance::pca;
use crate::analysis::flatness::{interval_flatness, FlatnessOptions, IntervalFlatness, Profile};
use crate::analysis::powerlaw::{fit, PowerLaw};
use crate::error::{LabError, LabResult};
use crate::train::eval::DeviceData;

use super::hessian_span::HessianSpan;
use super::noise_run::train_and_sample;
pub use super::noise_run::{NoiseRun, NoiseSource, Setting};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Config {
    #[serde(flatten)]
    pub run: NoiseRun,
    /// Eigen-directions examined (largest eigenvalues first).
    pub top_k: usize,
    pub flatness: FlatnessOptions,
}

impl Fig2Config {
    /// Minutes on a laptop; the paper's scale is train_size 10000, samples 3000.
    pub fn demo() -> Self {
        Fig2Config {
            run: NoiseRun::demo(),
            top_k: 20,
            flatness: FlatnessOptions {
                factor: 2.0,
                first_step: 1e-2,
                max_range: 100.0,
                tolerance: 1e-3,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingResult {
    pub source: NoiseSource,
    pub setting: Setting,
    pub final_train_loss: f32,
    pub eigenvalues: Vec<f64>,
    /// F_{v_i} with both crossings, per eigen-direction.
    pub flatness: Vec<IntervalFlatness>,
    /// Directions where a side had no crossing within max_range (reported, not plotted).
    pub no_crossing: usize,
    /// log10 λ fitted on log10 F: the paper's orientation (None in older result files; see
    /// `paper_fit`).
    #[serde(default)]
    pub fit_variance_on_flatness: Option<PowerLawFit>,
    /// log10 F fitted on log10 λ, the other regression (the JSON key of earlier versions).
    #[serde(rename = "fit")]
    pub fit_flatness_on_variance: Option<PowerLawFit>,
}

impl SettingResult {
    /// (λ_i, F_{v_i}) of the directions with both crossings.
    pub fn points(&self) -> Vec<(f64, f64)> {
        self.eigenvalues
            .iter()
            .zip(&self.flatness)
            .filter_map(|(&l, f)| f.width.map(|w| (l, w)))
            .collect()
    }

    /// The paper's fit (λ on F); refitted from the stored points for files that predate it.
    pub fn paper_fit(&self) -> Option<PowerLawFit> {
        self.fit_variance_on_flatness.clone().or_else(|| {
            let (l, f): (Vec<f64>, Vec<f64>) = self.points().into_iter().unzip();
            fit(&f, &l).map(Into::into)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerLawFit {
    pub slope: f64,
    pub intercept: f64,
    pub r2: f64,
    pub used: usize,
}

impl PowerLawFit {
    /// "slope … (R² …, n points)", or "no fit".
    pub fn describe(fit: Option<&Self>) -> String {
        fit.map_or("no fit".to_string(), |f| {
            format!("slope {:.3} (R² {:.3}, {} points)", f.slope, f.r2, f.used)
        })
    }

    /// The slope and R² as CSV cells.
    pub fn cells(fit: Option<&Self>) -> [String; 2] {
        [
            super::opt(fit.map(|x| x.slope)),
            super::opt(fit.map(|x| x.r2)),
        ]
    }
}

impl From<PowerLaw> for PowerLawFit {
    fn from(p: PowerLaw) -> Self {
        PowerLawFit {
            slope: p.slope,
            intercept: p.intercept,
            r2: p.r2,
            used: p.used,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Result {
    pub config: Fig2Config,
    pub backend: String,
    pub crate_version: String,
    pub settings: Vec<SettingResult>,
}

pub async fn run(
    cfg: &Fig2Config,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Fig2Result> {
    let super::Inputs {
        train,
        device,
        backend,
        ..
    } = inputs;
    cfg.run.validate()?;
    if cfg.top_k == 0 {
        return Err(LabError::Config("Fig 2 needs at least 1 direction".into()));
    }
    let train = train.first(cfg.run.train_size)?;
    let params = HessianSpan::Block.params(cfg.run.block_layer);
    let resident = DeviceData::upload(&train, &device);
    let mut results = Vec::new();
    for (si, s) in cfg.run.settings.iter().enumerate() {
        let stage = s.stage(si, cfg.run.settings.len());
        let sampled = train_and_sample(
            &cfg.run,
            HessianSpan::Block,
            s,
            &stage,
            &train,
            &resident,
            inputs,
            reporter,
        )
        .await?;
        let network = &sampled.network;
        for (source, samples) in sampled.samples {
            let profile = |v: &[f64]| network.profile(params, v, &resident, &device);
            let series = Series {
                source,
                setting: *s,
                final_train_loss: sampled.final_train_loss,
            };
            let stage = format!("{stage}: {source:?} flatness");
            results.push(
                flatness_series(
                    series,
                    &samples,
                    cfg.top_k,
                    &cfg.flatness,
                    profile,
                    &stage,
                    reporter,
                )
                .await?,
            );
        }
    }
    Ok(Fig2Result {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        settings: results,
    })
}

/// Which noise a scatter series describes: its source, training setting and where training ended.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    pub source: NoiseSource,
    pub setting: Setting,
    pub final_train_loss: f32,
}

/// One series of Fig. 2 (MLP) or Fig. 3 (ResNet-20): the PCA of the noise `samples`, the
/// interval flatness F_v along each of the top `top_k` eigen-directions (the loss profile along v
/// from `profile(v)`), and both power-law fits.
pub async fn flatness_series<P: Profile>(
    series: Series,
    samples: &[Vec<f32>],
    top_k: usize,
    options: &FlatnessOptions,
    mut profile: impl FnMut(&[f64]) -> LabResult<P>,
    stage: &str,
    reporter: &mut impl Reporter,
) -> LabResult<SettingResult> {
    let pcs = pca(samples, top_k)?;
    let mut flatness: Vec<IntervalFlatness> = Vec::new();
    for (i, v) in pcs.eigenvectors.iter().enumerate() {
        flatness.push(interval_flatness(&mut profile(v)?, options).await?);
        if !reporter.report(stage, i + 1, pcs.eigenvectors.len()).await {
            return Err(LabError::Cancelled);
        }
    }
    let (lambda, width): (Vec<f64>, Vec<f64>) = pcs
        .eigenvalues
        .iter()
        .zip(&flatness)
        .filter_map(|(&l, f)| f.width.map(|w| (l, w)))
        .unzip();
    Ok(SettingResult {
        source: series.source,
        setting: series.setting,
        final_train_loss: series.final_train_loss,
        no_crossing: flatness.iter().filter(|f| f.width.is_none()).count(),
        eigenvalues: pcs.eigenvalues,
        flatness,
        fit_variance_on_flatness: fit(&width, &lambda).map(Into::into),
        fit_flatness_on_variance: fit(&lambda, &width).map(Into::into),
    })
}

/// The advanced fields of the interval-flatness search (`flatness.*`), for Fig 2 and Fig 3.
pub fn flatness_fields() -> [super::Field; 4] {
    use super::schema::{Field, Range};
    [
        ("flatness.factor", "Flatness: step growth factor"),
        ("flatness.first_step", "Flatness: first step"),
        ("flatness.max_range", "Flatness: largest δ searched"),
        ("flatness.tolerance", "Flatness: bisection tolerance"),
    ]
    .map(|(key, label)| Field::float(key, label, Range::left_open(0.0, 1e6)).advanced())
}

/// The gallery's Fig 2 card.
pub struct Fig2;

impl super::Preset for Fig2 {
    type Config = Fig2Config;
    type Result = Fig2Result;

    fn info() -> super::Info {
        super::Info {
            id: "fig2",
            paper: "000",
            figure: "Fig. 2",
            title: "Inverse variance-flatness relation",
            claim: "Along the noise's principal directions, larger variance goes with a sharper loss: F_v falls as λ(Σ) grows.",
            reference: "paper 000, Sec. 3.2 (interval flatness), Sec. 3.3 (S_grad, S_para), Fig. 2",
            description: "784-50-50-10 trained by full-batch GD with dropout after the second \
                hidden layer; then noise samples in the 2500 weights between the hidden layers \
                (dropout gradients at the final θ, or parameters along the trajectory), the PCA \
                of their covariance, and the interval flatness F_v along each eigen-direction; \
                λ(Σ) against F_v in log-log with the power law of log λ on log F (the paper's \
                axes and slope). Paper: N = 10000, 3000 samples.",
        }
    }
    const WEIGHTS: Option<&'static str> = Some(NoiseRun::WEIGHTS);
    fn adopt_weights(c: Fig2Config, model: &crate::model::ModelConfig) -> LabResult<Fig2Config> {
        Ok(Fig2Config {
            run: c.run.adopt(model)?,
            ..c
        })
    }
    fn demo() -> Fig2Config {
        Fig2Config::demo()
    }
    fn paper() -> Fig2Config {
        Fig2Config {
            run: NoiseRun::paper(3000),
            ..Fig2Config::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::Field;
        let mut f = NoiseRun::fields();
        f.push(Field::int("top_k", "Eigen-directions", 1.0, 10000.0));
        f.extend(flatness_fields());
        f
    }
    super::preset::one_chart!(crate::charts::draw_fig2, "scatter", "Eigenvalue vs flatness", 960 x 440);
    fn csv(r: &Fig2Result) -> String {
        let rows = r.settings.iter().flat_map(|s| {
            let mut fit = PowerLawFit::cells(s.paper_fit().as_ref()).to_vec();
            fit.extend(PowerLawFit::cells(s.fit_flatness_on_variance.as_ref()));
            s.eigenvalues
                .iter()
                .zip(&s.flatness)
                .enumerate()
                .map(move |(i, (l, f))| {
                    let mut row = vec![s.source.name().into(), s.setting.drop_rate.to_string()];
                    row.extend([s.setting.lr.to_string(), (i + 1).to_string(), l.to_string()]);
                    row.extend([super::opt(f.left), super::opt(f.right), super::opt(f.width)]);
                    row.extend(fit.clone());
                    row
                })
        });
        super::csv_header(&r.crate_version, &r.backend, r.config.run.seed, &[])
            + &super::csv_rows(
                "source,drop_rate,lr,index,eigenvalue,flatness_left,flatness_right,flatness_width,slope_lambda_on_f,r2_lambda_on_f,slope_f_on_lambda,r2_f_on_lambda",
                rows,
            )
    }
    fn summary(r: &Fig2Result) -> String {
        super::preset::lines(r.settings.iter().map(|s| {
            let missing = match s.no_crossing {
                0 => String::new(),
                n => format!(", {n} direction(s) without a crossing"),
            };
            format!(
                "S_{} · drop {}, lr {}: final train loss {:.4}, λ on F {}; F on λ {}{missing}",
                s.source.name(),
                s.setting.drop_rate,
                s.setting.lr,
                s.final_train_loss,
                PowerLawFit::describe(s.paper_fit().as_ref()),
                PowerLawFit::describe(s.fit_flatness_on_variance.as_ref())
            )
        }))
    }
}

//! Paper 000 Fig. 4 (Sec. 3.4.2, 6.2): projected variance vs Hessian eigenvalue. Train as for
//! Fig. 2 (`noise_run.rs`), then at the final θ build the dense Hessian H of the training loss
//! (dropout off) over the block between the hidden layers (D = 2500 for 784-50-50-10) from exact
//! Hessian-vector products, eigendecompose it, and for every eigen-direction v_i compute
//! Var(Proj_{v_i}(S)) for S = S_grad and S = S_para; log-log scatter {λ_i(H), Var_i} with a
//! power-law fit over λ_i > fit_floor · λ_max (smaller eigenvalues are within the f32 rounding
//! of the products, about 1e-6 λ_max, and are plotted but not fitted).
//!
//! `span: full` (Sec. 3.4.2's definition, H over all parameters): the top `top_k` eigenpairs of
//! the full Hessian by Lanczos on the same exact products, and Var(Proj_{v_i}(S)) along them
//! from noise samples over every parameter (S_grad: full gradients; S_para: full snapshots).
//! All D eigenvalues are out of reach there (D = 42310 for 784-50-50-10), so the scatter holds
//! the k sharpest directions, the ones the paper's claim is about.

use serde::{Deserialize, Serialize};

use super::fig2_variance_flatness::{PowerLawFit, Series};
use super::hessian_span::{HessianSpan, ParamsInfo};
use super::noise_run::{train_and_sample, NoiseRun, NoiseSource, Setting};
use super::Reporter;
use crate::analysis::alignment::projected_variances_of;
use crate::analysis::powerlaw::fit;
use crate::error::{LabError, LabResult};
use crate::linalg::dense::symmetric_eigen;
use crate::linalg::lanczos::{lanczos, LanczosOptions};
use crate::linalg::operator::to_dense;
use crate::linalg::LinearOperator;
use crate::rng::{stream, Stream};
use crate::train::eval::DeviceData;

/// Blocks larger than this are refused: the dense matrix and its O(D³) eigendecomposition
/// would not fit a tab's memory and patience (use the Lanczos top-k instead).
pub const MAX_DENSE_BLOCK: usize = 4096;

/// Lanczos keeps its whole basis (full reorthogonalisation): about 20 k + 100 vectors of length D.
pub const MAX_LANCZOS_K: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig4Config {
    #[serde(flatten)]
    pub run: NoiseRun,
    /// Eigenvalues below fit_floor · λ_max are left out of the fit.
    pub fit_floor: f64,
    /// The weight block (the paper's figure, default) or every parameter (its definition).
    #[serde(default)]
    pub span: HessianSpan,
    /// Eigenpairs of the full Hessian that Lanczos finds (span full only).
    #[serde(default = "default_top_k")]
    pub top_k: usize,
}

fn default_top_k() -> usize {
    30
}

impl Fig4Config {
    /// The Fig. 2 demo run with two of its four settings; the paper's scale is train_size 10000,
    /// samples 1000.
    pub fn demo() -> Self {
        let mut run = NoiseRun::demo();
        run.settings = vec![
            Setting {
                drop_rate: 0.1,
                lr: 0.05,
            },
            Setting {
                drop_rate: 0.2,
                lr: 0.1,
            },
        ];
        Fig4Config {
            run,
            fit_floor: 1e-5,
            span: HessianSpan::Block,
            top_k: default_top_k(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig4Series {
    pub source: NoiseSource,
    pub setting: Setting,
    pub final_train_loss: f32,
    /// All D eigenvalues of the block Hessian, or the top k of the full one; descending.
    pub hessian_eigenvalues: Vec<f64>,
    /// Var(Proj_{v_i}(S)) in the same order.
    pub projected_variance: Vec<f64>,
    /// Block: ‖H - Hᵀ‖_F / ‖H‖_F of the assembled products (f32 rounding; exact H is symmetric).
    #[serde(default)]
    pub asymmetry: Option<f64>,
    /// Full: the largest Lanczos residual ‖Hv - λv‖ relative to λ_max, and whether all k pairs
    /// met the tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lanczos: Option<LanczosCheck>,
    pub fit: Option<PowerLawFit>,
}

impl Fig4Series {
    /// One CSV row per eigenpair: source, drop_rate, lr, index (from 1), λ_i(H),
    /// Var(Proj_{v_i}(S)), the fit's slope and R² (Fig 4's and Fig 5's exports).
    pub fn csv_rows(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        let fit = PowerLawFit::cells(self.fit.as_ref());
        self.hessian_eigenvalues
            .iter()
            .zip(&self.projected_variance)
            .enumerate()
            .map(move |(i, (l, v))| {
                let mut row = vec![self.source.name().into()];
                row.extend([
                    self.setting.drop_rate.to_string(),
                    self.setting.lr.to_string(),
                ]);
                row.extend([(i + 1).to_string(), l.to_string(), v.to_string()]);
                row.extend(fit.clone());
                row
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LanczosCheck {
    pub max_relative_residual: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// The eigenpairs a scatter uses: every pair of the dense block Hessian, or the top k of the full
/// one; each vector of length D, eigenvalues descending.
pub struct Spectrum {
    pub values: Vec<f64>,
    pub vectors: Vec<Vec<f64>>,
    pub asymmetry: Option<f64>,
    pub lanczos: Option<LanczosCheck>,
}

/// Every eigenpair of the operator's dense matrix (one product per unit vector, `batch` at a
/// time), with the asymmetry of the assembled products.
pub async fn dense_spectrum(
    op: &mut impl LinearOperator,
    batch: usize,
    reporter: &mut impl Reporter,
    stage: &str,
) -> LabResult<Spectrum> {
    let (h, asymmetry) = to_dense(op, batch, reporter, stage).await?;
    let eig = symmetric_eigen(h)?;
    Ok(Spectrum {
        vectors: eig
            .vectors
            .column_iter()
            .map(|c| c.iter().copied().collect())
            .collect(),
        values: eig.values,
        asymmetry: Some(asymmetry),
        lanczos: None,
    })
}

/// One series of Fig. 4 (MLP) or Fig. 5 (ResNet-20): Var(Proj_{v_i}(S)) along every eigenvector
/// of the spectrum, and the power law of the variance on λ over λ_i > fit_floor · λ_max.
pub fn variance_series(
    of: Series,
    samples: &[Vec<f32>],
    spectrum: &Spectrum,
    fit_floor: f64,
) -> LabResult<Fig4Series> {
    let floor = fit_floor * spectrum.values.first().copied().unwrap_or(0.0);
    let var = projected_variances_of(samples, &spectrum.vectors)?;
    let (xs, ys): (Vec<f64>, Vec<f64>) = spectrum
        .values
        .iter()
        .zip(&var)
        .filter(|(l, _)| **l > floor)
        .map(|(l, v)| (*l, *v))
        .unzip();
    Ok(Fig4Series {
        source: of.source,
        setting: of.setting,
        final_train_loss: of.final_train_loss,
        hessian_eigenvalues: spectrum.values.clone(),
        projected_variance: var,
        asymmetry: spectrum.asymmetry,
        lanczos: spectrum.lanczos,
        fit: fit(&xs, &ys).map(Into::into),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig4Result {
    pub config: Fig4Config,
    pub backend: String,
    pub crate_version: String,
    /// The parameters of H and the noise, on the network measured (absent in files written
    /// before named architectures: the MLP's block, from the config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ParamsInfo>,
    pub series: Vec<Fig4Series>,
}

impl Fig4Result {
    fn parameters(&self) -> ParamsInfo {
        let run = &self.config.run;
        self.parameters.clone().unwrap_or_else(|| {
            self.config
                .span
                .mlp_parameters(&run.widths, run.block_layer)
        })
    }

    /// Which parameters the result covers, for titles and summaries.
    pub fn span_label(&self) -> String {
        let label = self.parameters().label;
        match self.config.span {
            HessianSpan::Block => label,
            HessianSpan::Full => format!("{label}, top {} by Lanczos", self.config.top_k),
        }
    }
}

pub async fn run(
    cfg: &Fig4Config,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Fig4Result> {
    let super::Inputs {
        train,
        device,
        backend,
        ..
    } = inputs;
    cfg.run.validate()?;
    if !(cfg.fit_floor >= 0.0 && cfg.fit_floor < 1.0) {
        return Err(LabError::Config(format!(
            "fit_floor must lie in [0, 1), got {}",
            cfg.fit_floor
        )));
    }
    let info = cfg.run.parameters(cfg.span, train.dim, train.classes)?;
    let (params, d) = (cfg.span.params(cfg.run.block_layer), info.dim);
    match cfg.span {
        HessianSpan::Block if d > MAX_DENSE_BLOCK => {
            return Err(LabError::Config(format!("the block has {d} weights; a dense Hessian is limited to {MAX_DENSE_BLOCK} (pick a narrower layer, or span full for a Lanczos top-k)")));
        }
        HessianSpan::Full if !(1..=MAX_LANCZOS_K).contains(&cfg.top_k) || cfg.top_k > d => {
            return Err(LabError::Config(format!(
                "top_k must lie in 1..={} for a Hessian over {d} parameters, got {}",
                MAX_LANCZOS_K.min(d),
                cfg.top_k
            )));
        }
        _ => {}
    }
    let train = train.first(cfg.run.train_size)?;
    let resident = DeviceData::upload(&train, &device);
    let mut series = Vec::new();
    for (si, s) in cfg.run.settings.iter().enumerate() {
        let stage = s.stage(si, cfg.run.settings.len());
        let sampled = train_and_sample(
            &cfg.run, cfg.span, s, &stage, &train, &resident, inputs, reporter,
        )
        .await?;
        let mut op = sampled.network.hessian(&resident, params)?;
        let spectrum = match cfg.span {
            HessianSpan::Block => {
                let batch = sampled.network.column_batch(&resident);
                let stage = format!("{stage}: Hessian columns");
                dense_spectrum(&mut op, batch, reporter, &stage).await?
            }
            HessianSpan::Full => {
                let mut rng = stream(cfg.run.seed, Stream::LanczosStart);
                let stage = format!("{stage}: Lanczos on the full Hessian");
                let r = lanczos(
                    &mut op,
                    &LanczosOptions::top(cfg.top_k),
                    &mut rng,
                    reporter,
                    &stage,
                )
                .await?;
                let scale = r
                    .values
                    .first()
                    .map_or(1.0, |l| l.abs())
                    .max(f64::MIN_POSITIVE);
                Spectrum {
                    lanczos: Some(LanczosCheck {
                        max_relative_residual: r.residuals.iter().fold(0.0, |a: f64, x| a.max(*x))
                            / scale,
                        iterations: r.iterations,
                        converged: r.converged,
                    }),
                    values: r.values,
                    vectors: r.vectors,
                    asymmetry: None,
                }
            }
        };
        for (source, samples) in &sampled.samples {
            let of = Series {
                source: *source,
                setting: *s,
                final_train_loss: sampled.final_train_loss,
            };
            series.push(variance_series(of, samples, &spectrum, cfg.fit_floor)?);
        }
    }
    Ok(Fig4Result {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        parameters: Some(info),
        series,
    })
}

/// The gallery's Fig 4 card.
pub struct Fig4;

impl super::Preset for Fig4 {
    type Config = Fig4Config;
    type Result = Fig4Result;

    fn info() -> super::Info {
        super::Info {
            id: "fig4",
            paper: "000",
            figure: "Fig. 4",
            title: "Noise variance along Hessian eigen-directions",
            claim: "The dropout noise is largest along the Hessian's sharpest directions: Var(Proj_v(S)) grows with λ(H).",
            reference: "paper 000, Sec. 6 and Fig. 4 (D = 2500 weights between the hidden layers)",
            description: "The Fig 2 training and sampling, then the dense Hessian of the 2500 \
                weights between the hidden layers from exact Hessian-vector products, all its \
                eigenvalues, and the variance of the noise projected on each eigenvector, on a \
                log-log scale with a power-law fit. Paper: N = 10000, 1000 samples, the four \
                settings of Fig 2. “All parameters” takes H and the noise over every weight \
                and bias (Sec. 3.4.2's definition): the top k eigenpairs of the full Hessian by \
                Lanczos. “Network” runs the same measurement on a named architecture \
                (LeNet-5, ResNet-20, …): its block is a weight tensor, its Hessian taken through \
                the layers.",
        }
    }
    const WEIGHTS: Option<&'static str> = Some(NoiseRun::WEIGHTS);
    fn adopt_weights(c: Fig4Config, model: &crate::model::ModelConfig) -> LabResult<Fig4Config> {
        Ok(Fig4Config {
            run: c.run.adopt(model)?,
            ..c
        })
    }
    fn demo() -> Fig4Config {
        Fig4Config::demo()
    }
    fn paper() -> Fig4Config {
        Fig4Config {
            run: NoiseRun::paper(1000),
            ..Fig4Config::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        let mut f = NoiseRun::fields();
        f.push(
            Field::float(
                "fit_floor",
                "Fit floor (fraction of λ_max)",
                Range::right_open(0.0, 1.0),
            )
            .help("eigenvalues below this fraction of the largest are left out of the fit")
            .advanced(),
        );
        f.push(HessianSpan::field());
        f.push(
            Field::int("top_k", "Eigenpairs (span full)", 1.0, MAX_LANCZOS_K as f64)
                .help("the full Hessian's sharpest directions found by Lanczos")
                .advanced(),
        );
        f
    }
    super::preset::one_chart!(crate::charts::draw_fig4, "variance", "Projected variance vs Hessian eigenvalue", 960 x 440);
    fn csv(r: &Fig4Result) -> String {
        let rows = r.series.iter().flat_map(Fig4Series::csv_rows);
        let span = [
            ("span", r.config.span.word().to_string()),
            ("D", r.parameters().dim.to_string()),
        ];
        super::csv_header(&r.crate_version, &r.backend, r.config.run.seed, &span)
            + &super::csv_rows(
                "source,drop_rate,lr,index,hessian_eigenvalue,projected_variance,fit_slope,fit_r2",
                rows,
            )
    }
    fn summary(r: &Fig4Result) -> String {
        let head = format!("H over {}", r.span_label());
        super::preset::lines(std::iter::once(head).chain(r.series.iter().map(|s| {
            let top = s.hessian_eigenvalues.first().copied().unwrap_or(f64::NAN);
            format!(
                "S_{} · drop {}, lr {}: λ_max(H) {top:.4e}, {}",
                s.source.name(),
                s.setting.drop_rate,
                s.setting.lr,
                PowerLawFit::describe(s.fit.as_ref())
            )
        })))
    }
}

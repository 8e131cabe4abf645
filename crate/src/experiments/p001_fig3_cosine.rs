//! Paper 001 Fig. 3(a) (Sec. 5.3, eq. 18): the cosine similarity
//! α(θ_t) = Tr(H_t Σ_t) / (‖H_t‖_F ‖Σ_t‖_F) between the Hessian and the dropout-noise covariance
//! over a GD run with dropout after the first hidden layer (784-50-50-10, first 10000 MNIST
//! images at paper scale). The engine is `alignment_track.rs`.
//!
//! Null baseline (001 reports 7.8e-4 from 100 random pairs): at the final model of the first
//! setting, as in the paper, matrices with the eigenvalues of H (all D, from the dense block
//! Hessian) and of Σ but Haar-random eigenvectors; mean and spread over `null_repeats` draws, next
//! to the exact mean Tr(H)Tr(Σ)/(D‖H‖_F‖Σ‖_F). The paper normalises Gaussian vectors without
//! orthogonalising them; Haar-random orthonormal eigenvectors are the exact form of that null.

use serde::{Deserialize, Serialize};

use super::alignment_track::{track, TrackConfig, TrackSeries};
use super::Reporter;
use crate::analysis::alignment::{null_cosine, NullCosine};
use crate::analysis::hessian::{batch_capacity, HessianOperator, Span};
use crate::analysis::noise::Block;
use crate::error::{LabError, LabResult};
use crate::linalg::dense::symmetric_eigen;
use crate::linalg::operator::to_dense;
use crate::model::Mlp;
use crate::rng::{stream, Stream};
use crate::train::eval::DeviceData;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineConfig {
    #[serde(flatten)]
    pub track: TrackConfig,
    /// Random pairs for the null baseline (0 skips it and its dense Hessian).
    pub null_repeats: usize,
}

impl CosineConfig {
    pub fn demo() -> Self {
        CosineConfig {
            track: TrackConfig::demo(true),
            null_repeats: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineResult {
    pub config: CosineConfig,
    pub backend: String,
    pub crate_version: String,
    pub series: Vec<TrackSeries>,
    pub null: Option<NullCosine>,
}

pub async fn run(
    cfg: &CosineConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<CosineResult> {
    let super::Inputs {
        train,
        device,
        backend,
        ..
    } = inputs;
    let mut track_cfg = cfg.track.clone();
    track_cfg.train_with_dropout = true; // 001 trains with dropout
    let d = Span::Block(Block {
        layer: track_cfg.block_layer,
    })
    .dim(&track_cfg.widths);
    if cfg.null_repeats > 0 && d > super::fig4_variance_hessian::MAX_DENSE_BLOCK {
        return Err(LabError::Config(format!("the null baseline needs all {d} Hessian eigenvalues; set null_repeats to 0 or pick a smaller block")));
    }
    let tracked = track(&track_cfg, train, &device, backend, reporter).await?;
    let null = match (cfg.null_repeats, tracked.first()) {
        (0, _) | (_, None) => None,
        (repeats, Some(first)) => {
            let sub = train.first(track_cfg.train_size)?;
            let resident = DeviceData::upload(&sub, &device);
            let model = Mlp::from_host(&track_cfg.model(0.0), &first.theta, &device);
            let mut op = HessianOperator::new(
                &model,
                &resident,
                Span::Block(Block {
                    layer: track_cfg.block_layer,
                }),
            );
            let (h, _) = to_dense(
                &mut op,
                batch_capacity(&track_cfg.widths, &resident),
                reporter,
                "null baseline: Hessian columns",
            )
            .await?;
            let lambda = symmetric_eigen(h)?.values;
            let last = first
                .series
                .checkpoints
                .last()
                .expect("every track has a checkpoint");
            Some(null_cosine(
                &lambda,
                &last.alignment.covariance.eigenvalues,
                repeats,
                &mut stream(track_cfg.seed, Stream::NullModel),
            )?)
        }
    };
    Ok(CosineResult {
        config: CosineConfig {
            track: track_cfg,
            null_repeats: cfg.null_repeats,
        },
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        series: tracked.into_iter().map(|t| t.series).collect(),
        null,
    })
}

/// The gallery's paper 001 Fig 3 card.
pub struct Cosine;

impl super::Preset for Cosine {
    type Config = CosineConfig;
    type Result = CosineResult;

    fn info() -> super::Info {
        super::Info {
            id: "cosine",
            paper: "001",
            figure: "Fig. 3(a)",
            title: "Cosine of Hessian and noise covariance",
            claim: "Over training, the dropout noise covariance Σ aligns with the Hessian H far beyond chance.",
            reference: "paper 001, Sec. 5.3, eq. 18, Fig. 3(a)",
            description: "784-50-50-10 trained by full-batch GD with dropout after the first \
                hidden layer; α = Tr(HΣ)/(‖H‖_F‖Σ‖_F) over training (eq. 18), against matrices \
                with the same eigenvalues but random eigenvectors (the null, at the final model \
                of the first setting). Paper: N = 10000 images, 100 null pairs.",
        }
    }
    fn demo() -> CosineConfig {
        CosineConfig::demo()
    }
    fn paper() -> CosineConfig {
        CosineConfig {
            track: TrackConfig::paper(true),
            null_repeats: 100,
        }
    }
    fn fields() -> Vec<super::Field> {
        let mut f = TrackConfig::fields();
        f.push(
            super::Field::int("null_repeats", "Null pairs (0: skip)", 0.0, 1e5)
                .help("random-eigenvector pairs for the chance level"),
        );
        f
    }
    fn fixed() -> &'static [&'static str] {
        &["train_with_dropout"] // paper 001 trains with dropout
    }
    super::preset::one_chart!(crate::charts::draw_cosine, "cosine", "α over training", 640 x 440);
    fn csv(r: &CosineResult) -> String {
        let extra = match &r.null {
            Some(n) => vec![
                ("null_cosine_mean", n.analytic_mean.to_string()),
                (
                    "null_cosine_sampled",
                    format!("{}±{}", n.sample_mean, n.sample_std),
                ),
            ],
            None => vec![],
        };
        super::alignment_track::track_csv(
            super::csv_header(&r.crate_version, &r.backend, r.config.track.seed, &extra),
            &r.series,
        )
    }
    fn summary(r: &CosineResult) -> String {
        let mut lines: Vec<String> = r
            .series
            .iter()
            .map(|s| {
                let (lo, hi) =
                    super::alignment_track::span(s.checkpoints.iter().map(|c| c.alignment.cosine));
                let last = s
                    .checkpoints
                    .last()
                    .map_or(f64::NAN, |c| c.alignment.cosine);
                format!(
                    "drop {}, lr {}: α between {lo:.3} and {hi:.3}, final {last:.3}",
                    s.setting.drop_rate, s.setting.lr
                )
            })
            .collect();
        if let Some(n) = &r.null {
            lines.push(format!(
                "null (random eigenvectors, {} pairs): {:.2e} ± {:.1e}, exact mean {:.2e}",
                n.repeats, n.sample_mean, n.sample_std, n.analytic_mean
            ));
        }
        lines.join("\n")
    }
}

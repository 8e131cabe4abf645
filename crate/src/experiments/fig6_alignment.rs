//! Paper 000 Fig. 6 (Sec. 3.5, 6.3): Tr(H_i Σ_i) against the isotropic Tr(H_i Σ̄_i),
//! Σ̄_i = Tr(Σ_i)/D · I, at each epoch i of a plain GD run (no dropout in training; dropout is
//! inserted tentatively between the hidden layers only to sample the gradient noise).
//! The engine is `alignment_track.rs`. Paper scale: 784-50-50-10, first 10000 MNIST images.

use serde::{Deserialize, Serialize};

use super::alignment_track::{track, TrackConfig, TrackSeries};
use super::hessian_span::ParamsInfo;
use super::Reporter;
use crate::error::LabResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig6Config {
    #[serde(flatten)]
    pub track: TrackConfig,
}

impl Fig6Config {
    /// About a minute natively: 1000 images, 200 GD steps, a measurement every 20.
    pub fn demo() -> Self {
        Fig6Config {
            track: TrackConfig::demo(false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig6Result {
    pub config: Fig6Config,
    pub backend: String,
    pub crate_version: String,
    /// The parameters H and Σ were taken over (absent in results written before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ParamsInfo>,
    pub series: Vec<TrackSeries>,
}

pub async fn run(
    cfg: &Fig6Config,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Fig6Result> {
    let super::Inputs {
        train,
        device,
        backend,
        ..
    } = inputs;
    let mut track_cfg = cfg.track.clone();
    track_cfg.train_with_dropout = false; // the paper trains by plain GD
    let parameters = track_cfg.parameters(train.dim, train.classes)?;
    let tracked = track(&track_cfg, train, &device, backend, reporter).await?;
    Ok(Fig6Result {
        config: Fig6Config { track: track_cfg },
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        parameters: Some(parameters),
        series: tracked.into_iter().map(|t| t.series).collect(),
    })
}

/// The gallery's Fig 6 card.
pub struct Fig6;

impl super::Preset for Fig6 {
    type Config = Fig6Config;
    type Result = Fig6Result;

    fn info() -> super::Info {
        super::Info {
            id: "fig6",
            paper: "000",
            figure: "Fig. 6",
            title: "Tr(HΣ) against isotropic noise",
            claim: "Dropout noise is aligned with the Hessian: Tr(HΣ) exceeds the isotropic Tr(HΣ̄) at every epoch.",
            reference: "paper 000, Sec. 3.5 and 6.3, Fig. 6",
            description: "784-50-50-10 trained by plain full-batch GD (no dropout). Every few \
                epochs, N gradients with dropout inserted between the hidden layers give Σ over \
                the 2500 weights between them (on a named network: dropout at its paper's \
                sites, Σ over its weight tensor of the block index); Tr(HΣ) from exact Hessian-vector products against \
                Tr(HΣ̄) = Tr(H)Tr(Σ)/D, Tr(H) by Hutchinson probes. Paper: N = 10000 images. \
                “All parameters” takes H and Σ over every weight and bias (Sec. 3.5's \
                definition, D = 42310) instead of the paper's D = 2500 block.",
        }
    }
    fn demo() -> Fig6Config {
        Fig6Config::demo()
    }
    fn paper() -> Fig6Config {
        Fig6Config {
            track: TrackConfig::paper(false),
        }
    }
    fn fields() -> Vec<super::Field> {
        TrackConfig::fields()
    }
    fn fixed() -> &'static [&'static str] {
        // The paper trains by plain GD, and its H is the training loss's (Sec. 6.3).
        &["train_with_dropout", "hessian", "compare_plain"]
    }
    super::preset::one_chart!(crate::charts::draw_fig6, "traces", "Tr(HΣ) and Tr(HΣ̄) per epoch", 640 x 440);
    fn csv(r: &Fig6Result) -> String {
        super::alignment_track::track_csv(
            super::csv_header(
                &r.crate_version,
                &r.backend,
                r.config.track.seed,
                &r.config.track.csv_cells(&r.parameters),
            ),
            &r.series,
        )
    }
    fn summary(r: &Fig6Result) -> String {
        let t = &r.config.track;
        let head = format!("H and Σ over {}", t.covered(&r.parameters).label);
        super::preset::lines(std::iter::once(head).chain(r.series.iter().map(|s| {
                let (lo, hi) = super::alignment_track::span(
                    s.checkpoints.iter().map(|c| c.alignment.trace_h_sigma / c.alignment.trace_h_isotropic),
                );
                let last = s.checkpoints.last().map_or(f32::NAN, |c| c.train_loss);
                format!(
                    "drop {}, lr {}: Tr(HΣ)/Tr(HΣ̄) between {lo:.1} and {hi:.1} over {} checkpoints; final loss {last:.4}",
                    s.setting.drop_rate, s.setting.lr, s.checkpoints.len()
                )
            }))
        )
    }
}

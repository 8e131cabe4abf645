//! Noise-curvature alignment over training: paper 000 Fig. 6 (Tr(HΣ) solid, isotropic Tr(HΣ̄)
//! dashed, log scale) and paper 001 Fig. 3(a) (cosine α per epoch, with the random-eigenvector
//! null as a grey band of mean ± 2 sd; α with the expected-dropout Hessian ∇²L_S solid, with the
//! plain Hessian dashed when both are measured). One colour per (drop rate, learning rate).

use plotters::prelude::*;

use super::curves::{draw_err as err, finish};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::alignment_track::{HessianOf, TrackSeries};
use crate::experiments::fig6_alignment::Fig6Result;
use crate::experiments::hessian_span::HessianSpan;
use crate::experiments::p001_fig3_cosine::CosineResult;

const GREY: RGBColor = RGBColor(150, 150, 150);

fn epochs_max(series: &[TrackSeries]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.checkpoints.iter().map(|c| c.epoch))
        .max()
        .unwrap_or(1)
        .max(1) as f64
}

fn label(s: &TrackSeries) -> String {
    format!("drop {}, lr {}", s.setting.drop_rate, s.setting.lr)
}

pub fn draw_fig6<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &Fig6Result,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let values = r.series.iter().flat_map(|s| {
        s.checkpoints
            .iter()
            .flat_map(|c| [c.alignment.trace_h_sigma, c.alignment.trace_h_isotropic])
    });
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, f64::MIN_POSITIVE), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo > hi {
        (1e-6, 1.0)
    } else {
        (lo / 2.0, hi * 2.0)
    };
    let t = &r.config.track;
    let caption = format!(
        "Tr(HΣ) (solid) vs isotropic Tr(HΣ̄) (dashed) · {}",
        t.covered(&r.parameters).label
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..epochs_max(&r.series), (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(err)?;
    for (i, s) in r.series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pick = |f: fn(&crate::analysis::alignment::Alignment) -> f64| -> Vec<(f64, f64)> {
            s.checkpoints
                .iter()
                .map(|c| (c.epoch as f64, f(&c.alignment)))
                .filter(|p| p.1 > 0.0)
                .collect()
        };
        let full = pick(|a| a.trace_h_sigma);
        let iso = pick(|a| a.trace_h_isotropic);
        chart
            .draw_series(LineSeries::new(full, colour.stroke_width(2)))
            .map_err(err)?
            .label(label(s))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(DashedLineSeries::new(iso, 6, 4, colour.stroke_width(2)))
            .map_err(err)?;
    }
    finish(&mut chart, &root, SeriesLabelPosition::LowerRight)
}

pub fn draw_cosine<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &CosineResult,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let x_max = epochs_max(&r.series);
    let compared = r
        .series
        .iter()
        .any(|s| s.checkpoints.iter().any(|c| c.plain.is_some()));
    let caption = match (r.config.track.hessian, compared) {
        (HessianOf::Expected, true) => {
            "α = Tr(HΣ)/(‖H‖_F‖Σ‖_F): H = ∇²L_S solid, plain ∇²R_S dashed"
        }
        (HessianOf::Expected, false) => {
            "α = Tr(HΣ)/(‖H‖_F‖Σ‖_F), H = ∇²L_S (expected dropout loss)"
        }
        (HessianOf::Plain, _) => "α = Tr(HΣ)/(‖H‖_F‖Σ‖_F), H = ∇²R_S (dropout off)",
    };
    let t = &r.config.track;
    let caption = format!("{caption} · {}", t.covered(&r.parameters).label);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 13))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..x_max, 0.0..1.05)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("α")
        .draw()
        .map_err(err)?;
    if let Some(n) = &r.null {
        let (a, b) = (
            (n.sample_mean - 2.0 * n.sample_std).max(0.0),
            n.sample_mean + 2.0 * n.sample_std,
        );
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, a), (x_max, b.max(0.004))],
                GREY.mix(0.5).filled(),
            )))
            .map_err(err)?
            .label(format!(
                "null (random eigenvectors): {:.1e}",
                n.analytic_mean
            ))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 4), (x + 16, y + 4)], GREY.mix(0.5).filled())
            });
    }
    // Over all parameters the sampled null is out of reach; its exact mean per checkpoint is not.
    if t.span == HessianSpan::Full {
        for (i, s) in r.series.iter().enumerate() {
            let chance: Vec<(f64, f64)> = s
                .checkpoints
                .iter()
                .map(|c| (c.epoch as f64, c.alignment.null_mean()))
                .collect();
            let drawn = chart
                .draw_series(DashedLineSeries::new(chance, 3, 3, GREY.stroke_width(2)))
                .map_err(err)?;
            if i == 0 {
                drawn.label("null's exact mean").legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], GREY.stroke_width(2))
                });
            }
        }
    }
    for (i, s) in r.series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s
            .checkpoints
            .iter()
            .map(|c| (c.epoch as f64, c.alignment.cosine))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(err)?
            .label(label(s))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(err)?;
        let plain: Vec<(f64, f64)> = s
            .checkpoints
            .iter()
            .filter_map(|c| c.plain.as_ref().map(|a| (c.epoch as f64, a.cosine)))
            .collect();
        if !plain.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(plain, 6, 4, colour.stroke_width(2)))
                .map_err(err)?;
        }
    }
    finish(&mut chart, &root, SeriesLabelPosition::LowerRight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::alignment::{Alignment, CovarianceSummary, NullCosine};
    use crate::experiments::alignment_track::Checkpoint;
    use crate::experiments::fig6_alignment::Fig6Config;
    use crate::experiments::hessian_span::ParamsInfo;
    use crate::experiments::noise_run::Setting;
    use crate::experiments::p001_fig3_cosine::CosineConfig;
    use crate::linalg::hutchinson::Estimate;

    fn series(drop: f32) -> TrackSeries {
        let e = Estimate {
            value: 1.0,
            std_error: 0.0,
        };
        let checkpoints = (0..3)
            .map(|i| Checkpoint {
                epoch: 10 * i,
                train_loss: 1.0,
                alignment: Alignment {
                    trace_h_sigma: 1e-2 * (i + 1) as f64,
                    trace_h_isotropic: 1e-4,
                    cosine: 0.5 + 0.1 * i as f64,
                    trace_h: e,
                    frobenius_sq_h: e,
                    covariance: CovarianceSummary {
                        trace: 1.0,
                        frobenius: 1.0,
                        eigenvalues: vec![1.0],
                    },
                },
                plain: None,
            })
            .collect();
        TrackSeries {
            setting: Setting {
                drop_rate: drop,
                lr: 0.1,
            },
            checkpoints,
        }
    }

    #[test]
    fn fig6_draws_a_solid_and_a_dashed_line_per_setting() {
        let r = Fig6Result {
            config: Fig6Config::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            parameters: None,
            series: vec![series(0.1), series(0.2)],
        };
        let mut svg = String::new();
        draw_fig6(
            SVGBackend::with_string(&mut svg, (500, 300)).into_drawing_area(),
            &r,
        )
        .unwrap();
        assert!(svg.contains("drop 0.1, lr 0.1") && svg.contains("drop 0.2, lr 0.1"));
        // A result without stored parameters is the FNN's block.
        assert!(svg.contains("block: layer 1 weights, D = 2500"));
        // Each dashed isotropic line is drawn as many short segments.
        assert!(
            svg.matches("<polyline").count() > 2 + 2 + 6,
            "solid lines, legend marks and dashes"
        );
    }

    #[test]
    fn cosine_draws_the_null_band_and_points() {
        let null = NullCosine {
            analytic_mean: 8e-3,
            sample_mean: 8e-3,
            sample_std: 1e-3,
            repeats: 20,
        };
        let r = CosineResult {
            config: CosineConfig::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            parameters: None,
            series: vec![series(0.1)],
            null: Some(null),
        };
        let mut svg = String::new();
        draw_cosine(
            SVGBackend::with_string(&mut svg, (500, 300)).into_drawing_area(),
            &r,
        )
        .unwrap();
        assert!(svg.contains("null (random eigenvectors): 8.0e-3"));
        // A named network's result names its block in the title.
        let mut named = r.clone();
        named.parameters = Some(ParamsInfo {
            label: "block: layers.9.weight [10, 84], D = 840".into(),
            dim: 840,
        });
        let mut svg_named = String::new();
        draw_cosine(
            SVGBackend::with_string(&mut svg_named, (500, 300)).into_drawing_area(),
            &named,
        )
        .unwrap();
        assert!(svg_named.contains("block: layers.9.weight [10, 84], D = 840"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(!svg.contains("H = ∇²L_S solid"));
        // With the plain Hessian measured as well, its α is drawn dashed (many short segments).
        let mut both = r.clone();
        for c in &mut both.series[0].checkpoints {
            c.plain = Some(c.alignment.clone());
        }
        let mut svg2 = String::new();
        draw_cosine(
            SVGBackend::with_string(&mut svg2, (500, 300)).into_drawing_area(),
            &both,
        )
        .unwrap();
        assert!(svg2.contains("H = ∇²L_S solid, plain ∇²R_S dashed"));
        assert!(svg2.matches("<polyline").count() > svg.matches("<polyline").count() + 3);
        assert!(svg.contains("block: layer 1 weights, D = 2500") && !svg.contains("exact mean"));
        // Over all parameters: no sampled band, the null's exact mean dashed, and the title says so.
        let mut full = r.clone();
        full.null = None;
        full.config.track.span = HessianSpan::Full;
        let mut svg3 = String::new();
        draw_cosine(
            SVGBackend::with_string(&mut svg3, (500, 300)).into_drawing_area(),
            &full,
        )
        .unwrap();
        assert!(svg3.contains("all parameters, D = 42310"), "{svg3}");
        assert!(svg3.contains("exact mean") && !svg3.contains("random eigenvectors"));
        assert!(svg3.matches("<polyline").count() > svg.matches("<polyline").count() + 3);
    }
}

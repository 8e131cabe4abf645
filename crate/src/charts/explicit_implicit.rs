//! Paper 003: the five ways of training (plain, dropout, explicit only, implicit only, both) as
//! curves over epochs, means over seeds: test accuracy (left); test loss solid, train loss
//! dashed (right). One colour per variant.

use plotters::prelude::*;

use super::curves::{diverged_label, draw_err as err, legend, padded_range};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p003_explicit_implicit::{CurvePoint, SplitResult};

pub fn draw_explicit_implicit<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &SplitResult,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    let x_max = r.config.net.epochs.max(1) as f64;
    let range = |f: &dyn Fn(&CurvePoint) -> Vec<f64>| {
        padded_range(
            r.variants.iter().flat_map(|v| v.curve.iter().flat_map(f)),
            (0.0, 1.0),
        )
    };
    // Accuracy from epoch 1: the initial ~10 % would flatten the differences that matter.
    let (a_lo, a_hi) = range(&|p| {
        if p.epoch == 0 {
            vec![]
        } else {
            vec![p.test_accuracy]
        }
    });
    let mut left = ChartBuilder::on(&panels[0])
        .caption(format!("test accuracy ({})", r.dataset), ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, a_lo..a_hi)
        .map_err(err)?;
    left.configure_mesh().x_desc("epoch").draw().map_err(err)?;
    for (k, v) in r.variants.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let label = diverged_label(v.variant.label(), v.diverged);
        left.draw_series(LineSeries::new(
            v.curve
                .iter()
                .filter(|p| p.epoch > 0)
                .map(|p| (p.epoch as f64, p.test_accuracy)),
            colour.stroke_width(2),
        ))
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    // Only the root is presented, at the end: presenting a panel would close an SVG early.
    legend(&mut left, SeriesLabelPosition::LowerRight)?;
    let (l_lo, l_hi) = range(&|p| vec![p.train_loss, p.test_loss]);
    let mut right = ChartBuilder::on(&panels[1])
        .caption("loss: test solid, train dashed", ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, l_lo.max(0.0)..l_hi)
        .map_err(err)?;
    right.configure_mesh().x_desc("epoch").draw().map_err(err)?;
    for (k, v) in r.variants.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let pts = |f: fn(&CurvePoint) -> f64| -> Vec<(f64, f64)> {
            v.curve.iter().map(|p| (p.epoch as f64, f(p))).collect()
        };
        right
            .draw_series(LineSeries::new(
                pts(|p| p.test_loss),
                colour.stroke_width(2),
            ))
            .map_err(err)?;
        right
            .draw_series(DashedLineSeries::new(
                pts(|p| p.train_loss),
                6,
                4,
                colour.stroke_width(1),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::p003_explicit_implicit::{SplitConfig, Variant, VariantResult};
    use crate::experiments::seeded_runs::Spread;

    #[test]
    fn one_curve_per_variant_with_divergence_marked() {
        let curve = |shift: f64| {
            (0..4)
                .map(|e| CurvePoint {
                    epoch: e,
                    train_loss: 1.0 / (e as f64 + 1.0),
                    test_loss: 1.2 / (e as f64 + 1.0) + shift,
                    train_accuracy: 0.8,
                    test_accuracy: 0.7 + 0.01 * e as f64 + shift,
                })
                .collect()
        };
        let spread = Some(Spread {
            mean: 0.7,
            std: 0.0,
        });
        let variants = Variant::ALL
            .iter()
            .enumerate()
            .map(|(k, &variant)| VariantResult {
                variant,
                curve: if variant == Variant::Implicit {
                    vec![]
                } else {
                    curve(k as f64 * 0.01)
                },
                final_test_accuracy: spread,
                final_test_loss: spread,
                final_train_loss: spread,
                diverged: (variant == Variant::Implicit) as usize * 2,
            })
            .collect();
        let r = SplitResult {
            config: SplitConfig::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            dataset: "mnist".into(),
            variants,
        };
        let mut svg = String::new();
        draw_explicit_implicit(
            SVGBackend::with_string(&mut svg, (900, 400)).into_drawing_area(),
            &r,
        )
        .unwrap();
        for label in [
            "plain",
            "dropout",
            "explicit only",
            "implicit only (2 diverged)",
            "explicit + implicit",
        ] {
            assert!(svg.contains(label), "{label}");
        }
    }
}

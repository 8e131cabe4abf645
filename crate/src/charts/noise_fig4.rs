//! Paper 002 Fig. 4: test loss over epochs per training noise (left, means over seeds) and the
//! final K-FAC log vol / D of each layer per noise (right): expansion noise should sit above the
//! plain network there, contraction noise below.

use plotters::prelude::*;

use super::curves::{diverged_label, draw_err as err, legend, padded_range};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p002_fig4_noise::NoiseFig4Result;

pub fn draw_noise_fig4<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &NoiseFig4Result,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    let (lo, hi) = padded_range(
        r.variants
            .iter()
            .flat_map(|v| v.curve.iter().map(|p| p.test_loss)),
        (0.0, 1.0),
    );
    let mut left = ChartBuilder::on(&panels[0])
        .caption(format!("test loss ({})", r.dataset), ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..r.config.base.epochs.max(1) as f64, lo.max(0.0)..hi)
        .map_err(err)?;
    left.configure_mesh().x_desc("epoch").draw().map_err(err)?;
    for (k, v) in r.variants.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let label = diverged_label(v.variant.label(), v.diverged);
        left.draw_series(LineSeries::new(
            v.curve.iter().map(|p| (p.epoch as f64, p.test_loss)),
            colour.stroke_width(2),
        ))
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    // Only the root is presented, at the end: presenting a panel would close an SVG early.
    legend(&mut left, SeriesLabelPosition::UpperRight)?;
    let layers = r.volume_layers();
    let (vlo, vhi) = padded_range(
        r.variants.iter().flat_map(|v| {
            let free = v.mask_free_log_volume_per_weight.iter().flatten();
            v.log_volume_per_weight.iter().chain(free).copied()
        }),
        (0.0, 1.0),
    );
    let mut right = ChartBuilder::on(&panels[1])
        .caption(
            "final log vol / D per layer (K-FAC; dashed: mask-free)",
            ("sans-serif", 14),
        )
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.5..layers.max(1) as f64 + 0.5, vlo..vhi)
        .map_err(err)?;
    right
        .configure_mesh()
        .x_desc("layer")
        .x_labels(layers.max(1))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(err)?;
    for (k, v) in r.variants.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let pts: Vec<(f64, f64)> = v
            .log_volume_per_weight
            .iter()
            .enumerate()
            .map(|(l, &y)| (l as f64 + 1.0, y))
            .collect();
        right
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(err)?;
        right
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, colour.filled())))
            .map_err(err)?;
        if let Some(free) = &v.mask_free_log_volume_per_weight {
            let pts = free.iter().enumerate().map(|(l, &y)| (l as f64 + 1.0, y));
            right
                .draw_series(DashedLineSeries::new(pts, 6, 4, colour.stroke_width(2)))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::p002_fig4_noise::{NoiseFig4Config, NoiseVariant, NoiseVariantResult};
    use crate::experiments::seeded_runs::CurvePoint;

    #[test]
    fn a_loss_curve_and_a_volume_profile_per_noise() {
        let cfg = NoiseFig4Config::demo();
        let variants = cfg
            .variants
            .iter()
            .enumerate()
            .map(|(k, &variant)| NoiseVariantResult {
                variant,
                curve: (0..3)
                    .map(|e| CurvePoint {
                        epoch: e,
                        train_loss: 1.0,
                        test_loss: 1.0 / (e as f64 + 1.0) + k as f64 * 0.01,
                        train_accuracy: 0.8,
                        test_accuracy: 0.8,
                    })
                    .collect(),
                final_test_loss: None,
                final_test_accuracy: None,
                loss_gap: None,
                log_volume_per_weight: vec![-1.0 - k as f64 * 0.1, -0.5, -4.0],
                volume_seeds: 1,
                mask_free_log_volume_per_weight: None,
                diverged: (variant == NoiseVariant::WeightNoise) as usize,
            })
            .collect();
        let r = NoiseFig4Result {
            config: cfg,
            backend: "cpu".into(),
            crate_version: "0".into(),
            dataset: "mnist".into(),
            variants,
        };
        let mut svg = String::new();
        draw_noise_fig4(
            SVGBackend::with_string(&mut svg, (900, 400)).into_drawing_area(),
            &r,
        )
        .unwrap();
        for label in [
            "plain",
            "disentanglement (expansion)",
            "weight noise (contraction) (1 diverged)",
            "log vol / D",
        ] {
            assert!(svg.contains(label), "{label}");
        }
        assert_eq!(
            svg.matches("<circle").count(),
            5 * 3,
            "a point per variant and layer"
        );
    }
}

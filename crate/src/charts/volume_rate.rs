//! Paper 002 Fig. 3: log weight volume per weight of each layer (left) and the generalisation
//! gap, test loss - train loss (right), against the drop rate.

use plotters::prelude::*;

use super::curves::{draw_err as err, legend, padded_range};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p002_fig3_volume_rate::VolumeRateResult;

pub fn draw_volume_rate<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &VolumeRateResult,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    let x_max = r
        .points
        .iter()
        .map(|p| p.drop_rate as f64)
        .fold(0.0, f64::max)
        .max(0.05)
        * 1.05;
    let per_weight =
        |l: &crate::analysis::kfac::LayerVolume| l.log_volume / (l.fan_in * l.fan_out) as f64;
    let (lo, hi) = padded_range(
        r.points
            .iter()
            .flat_map(|p| p.layers.iter().chain(p.mask_free_layers.iter().flatten()))
            .map(per_weight),
        (0.0, 1.0),
    );
    let mut left = ChartBuilder::on(&panels[0])
        .caption(
            "log vol / D per layer (dashed: mask-free K-FAC)",
            ("sans-serif", 14),
        )
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, lo..hi)
        .map_err(err)?;
    left.configure_mesh()
        .x_desc("drop rate")
        .draw()
        .map_err(err)?;
    let layers = r.points.first().map_or(0, |p| p.layers.len());
    for l in 0..layers {
        let colour = PALETTE[l % PALETTE.len()];
        let pts: Vec<(f64, f64)> = r
            .points
            .iter()
            .map(|p| (p.drop_rate as f64, per_weight(&p.layers[l])))
            .collect();
        left.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(err)?
            .label(format!("layer {}", l + 1))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        left.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(err)?;
        let free: Vec<(f64, f64)> = r
            .points
            .iter()
            .filter_map(|p| {
                Some((
                    p.drop_rate as f64,
                    per_weight(p.mask_free_layers.as_ref()?.get(l)?),
                ))
            })
            .collect();
        left.draw_series(DashedLineSeries::new(free, 6, 4, colour.stroke_width(2)))
            .map_err(err)?;
    }
    legend(&mut left, SeriesLabelPosition::LowerRight)?;
    let (lo, hi) = padded_range(r.points.iter().map(|p| p.loss_gap as f64), (0.0, 1.0));
    let mut right = ChartBuilder::on(&panels[1])
        .caption("generalisation gap (test - train loss)", ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, lo..hi)
        .map_err(err)?;
    right
        .configure_mesh()
        .x_desc("drop rate")
        .draw()
        .map_err(err)?;
    let pts: Vec<(f64, f64)> = r
        .points
        .iter()
        .map(|p| (p.drop_rate as f64, p.loss_gap as f64))
        .collect();
    right
        .draw_series(LineSeries::new(pts.clone(), BLACK.stroke_width(2)))
        .map_err(err)?;
    right
        .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, BLACK.filled())))
        .map_err(err)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::kfac::LayerVolume;
    use crate::experiments::p002_fig3_volume_rate::{RatePoint, VolumeRateConfig};

    #[test]
    fn both_panels_with_a_point_per_rate() {
        let point = |p: f32| RatePoint {
            drop_rate: p,
            layers: (0..2)
                .map(|l| LayerVolume {
                    layer: l,
                    fan_in: 4,
                    fan_out: 3,
                    log_volume: -2.0 + p as f64,
                })
                .collect(),
            mask_free_layers: None,
            train_loss: 0.1,
            test_loss: 0.5 - p,
            loss_gap: 0.4 - p,
            accuracy_gap: 0.1,
        };
        let r = VolumeRateResult {
            config: VolumeRateConfig::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            points: vec![point(0.0), point(0.15), point(0.3)],
        };
        let mut svg = String::new();
        draw_volume_rate(
            SVGBackend::with_string(&mut svg, (700, 300)).into_drawing_area(),
            &r,
        )
        .unwrap();
        // 2 layers x 3 rates + 2 legend-free... circles: 6 on the left, 3 on the right.
        assert_eq!(svg.matches("<circle").count(), 2 * 3 + 3);
        assert!(svg.contains("generalisation gap") && svg.contains("layer 2"));
    }
}

//! Paper 002 Fig. 3: log weight volume per weight of each layer (left) and the generalisation
//! gap, test loss - train loss (right), against the drop rate.

use plotters::prelude::*;

use super::curves::{draw_err as err, legend, padded_range};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p002_fig3_volume_rate::VolumeRateResult;
use crate::experiments::p002_vgg_volume::VggVolumeResult;

pub fn draw_volume_rate<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &VolumeRateResult,
) -> LabResult<()> {
    let per_weight = |ls: &[crate::analysis::kfac::LayerVolume]| {
        ls.iter()
            .map(|l| l.log_volume / (l.fan_in * l.fan_out) as f64)
            .collect::<Vec<_>>()
    };
    let points: Vec<RateSeries> = r
        .points
        .iter()
        .map(|p| RateSeries {
            drop_rate: p.drop_rate as f64,
            solid: per_weight(&p.layers),
            dashed: p.mask_free_layers.as_deref().map(per_weight),
            loss_gap: p.loss_gap as f64,
        })
        .collect();
    draw_rate_panels(
        root,
        "log vol / D per layer (dashed: mask-free K-FAC)",
        &points,
    )
}

/// Paper 002 Table 1 / Fig. 3 on VGG-11: Laplace (solid) and sampling (dashed) log volume per
/// weight of each layer, and the loss gap, against the drop rate.
pub fn draw_vgg_volume<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &VggVolumeResult,
) -> LabResult<()> {
    let points: Vec<RateSeries> = r
        .points
        .iter()
        .map(|p| RateSeries {
            drop_rate: p.drop_rate as f64,
            solid: p.laplace_per_weight(),
            dashed: p.sampling.as_ref().map(|_| p.sampling_per_weight()),
            loss_gap: p.loss_gap as f64,
        })
        .collect();
    draw_rate_panels(
        root,
        "log vol / D per layer: Laplace (solid), sampling (dashed)",
        &points,
    )
}

/// One drop rate's per-layer values (solid lines; dashed: a second estimate) and loss gap.
pub struct RateSeries {
    pub drop_rate: f64,
    pub solid: Vec<f64>,
    pub dashed: Option<Vec<f64>>,
    pub loss_gap: f64,
}

/// Per-layer values against the drop rate (left) and the generalisation gap (right).
pub fn draw_rate_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    points: &[RateSeries],
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    let x_max = points
        .iter()
        .map(|p| p.drop_rate)
        .fold(0.0, f64::max)
        .max(0.05)
        * 1.05;
    let (lo, hi) = padded_range(
        points
            .iter()
            .flat_map(|p| p.solid.iter().chain(p.dashed.iter().flatten()))
            .copied()
            .filter(|v| v.is_finite()),
        (0.0, 1.0),
    );
    let mut left = ChartBuilder::on(&panels[0])
        .caption(caption, ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, lo..hi)
        .map_err(err)?;
    left.configure_mesh()
        .x_desc("drop rate")
        .draw()
        .map_err(err)?;
    let layers = points.first().map_or(0, |p| p.solid.len());
    for l in 0..layers {
        let colour = PALETTE[l % PALETTE.len()];
        let pts: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|p| Some((p.drop_rate, *p.solid.get(l)?)))
            .collect();
        left.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(err)?
            .label(format!("layer {}", l + 1))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        left.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(err)?;
        let dashed: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|p| Some((p.drop_rate, *p.dashed.as_ref()?.get(l)?)))
            .collect();
        left.draw_series(DashedLineSeries::new(dashed, 6, 4, colour.stroke_width(2)))
            .map_err(err)?;
    }
    legend(&mut left, SeriesLabelPosition::LowerRight)?;
    let (lo, hi) = padded_range(points.iter().map(|p| p.loss_gap), (0.0, 1.0));
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
    let pts: Vec<(f64, f64)> = points.iter().map(|p| (p.drop_rate, p.loss_gap)).collect();
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

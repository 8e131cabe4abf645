//! Paper 002 Fig. 2: (b) log weight volume per weight (log vol / D) of each layer per epoch, one
//! colour per layer, solid with dropout, dashed without; beside it, when tracked, the (a)/(c)
//! heatmaps of gradient-update correlations (update_heatmap.rs).

use plotters::prelude::*;

use super::curves::{draw_err as err, finish, padded_range};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p002_fig2_volume::VolumeTrackResult;

pub fn draw_volume<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &VolumeTrackResult,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let tracked = r.runs.iter().any(|run| !run.update_correlations.is_empty());
    let (w, _) = root.dim_in_pixel();
    let (root, heatmaps) = root.split_horizontally(if tracked { w * 9 / 20 } else { w });
    super::update_heatmap::draw_update_heatmaps(&heatmaps, &r.runs)?;
    let per_weight =
        |l: &crate::analysis::kfac::LayerVolume| l.log_volume / (l.fan_in * l.fan_out) as f64;
    let (lo, hi) = padded_range(
        r.runs.iter().flat_map(|run| {
            run.epochs.iter().flat_map(|e| {
                e.layers
                    .iter()
                    .chain(e.mask_free.iter().flatten())
                    .map(per_weight)
            })
        }),
        (-1.0, 0.0),
    );
    let x_max = r.config.epochs.max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "log vol / D per layer (solid: dropout, dotted: its mask-free K-FAC, dashed: plain)",
            ("sans-serif", 14),
        )
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("log vol / D")
        .draw()
        .map_err(err)?;
    for run in &r.runs {
        let layers = run.epochs.first().map_or(0, |e| e.layers.len());
        for l in 0..layers {
            let colour = PALETTE[l % PALETTE.len()];
            let pts: Vec<(f64, f64)> = run
                .epochs
                .iter()
                .map(|e| (e.epoch as f64, per_weight(&e.layers[l])))
                .collect();
            if run.dropout {
                let first = &run.epochs[0].layers[l];
                chart
                    .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                    .map_err(err)?
                    .label(format!(
                        "layer {} ({}x{})",
                        l + 1,
                        first.fan_in,
                        first.fan_out
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
                let free: Vec<(f64, f64)> = run
                    .epochs
                    .iter()
                    .filter_map(|e| {
                        Some((e.epoch as f64, per_weight(e.mask_free.as_ref()?.get(l)?)))
                    })
                    .collect();
                chart
                    .draw_series(DashedLineSeries::new(free, 2, 3, colour.stroke_width(1)))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(DashedLineSeries::new(pts, 6, 4, colour.stroke_width(2)))
                    .map_err(err)?;
            }
        }
    }
    finish(&mut chart, &root, SeriesLabelPosition::LowerRight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::kfac::LayerVolume;
    use crate::experiments::p002_fig2_volume::{VolumeEpoch, VolumeRun, VolumeTrackConfig};

    #[test]
    fn one_solid_and_one_dashed_line_per_layer() {
        let run = |dropout: bool| VolumeRun {
            dropout,
            epochs: (0..3)
                .map(|e| VolumeEpoch {
                    epoch: e,
                    layers: (0..2)
                        .map(|l| LayerVolume {
                            layer: l,
                            fan_in: 4,
                            fan_out: 3,
                            log_volume: -1.0 - e as f64 - l as f64,
                        })
                        .collect(),
                    mask_free: dropout.then(|| {
                        (0..2)
                            .map(|l| LayerVolume {
                                layer: l,
                                fan_in: 4,
                                fan_out: 3,
                                log_volume: -3.0 - e as f64 - l as f64,
                            })
                            .collect()
                    }),
                })
                .collect(),
            update_correlations: vec![],
            final_train_accuracy: 0.9,
            final_test_accuracy: 0.8,
            generalisation_gap: 0.1,
            final_train_loss: Some(0.2),
            final_test_loss: Some(0.3),
        };
        let r = VolumeTrackResult {
            config: VolumeTrackConfig::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            runs: vec![run(false), run(true)],
        };
        let mut svg = String::new();
        draw_volume(
            SVGBackend::with_string(&mut svg, (500, 300)).into_drawing_area(),
            &r,
        )
        .unwrap();
        assert!(svg.contains("layer 1 (4x3)") && svg.contains("layer 2 (4x3)"));
        assert!(
            svg.matches("<polyline").count() > 2 + 2 + 4,
            "solid lines, legend marks, dashes"
        );
        // The dropout network's mask-free volumes add a dotted line per layer.
        let mut without = r.clone();
        without.runs[1]
            .epochs
            .iter_mut()
            .for_each(|e| e.mask_free = None);
        let mut svg_without = String::new();
        draw_volume(
            SVGBackend::with_string(&mut svg_without, (500, 300)).into_drawing_area(),
            &without,
        )
        .unwrap();
        assert!(
            svg.matches("<polyline").count() > svg_without.matches("<polyline").count() + 2,
            "dotted mask-free lines"
        );
        assert!(
            !svg.contains("gradient updates"),
            "no heatmaps without tracked epochs"
        );
    }

    #[test]
    fn heatmaps_show_each_tracked_epoch_of_each_network() {
        use crate::analysis::update_correlation::abs_correlation;
        use crate::experiments::p002_fig2_volume::EpochUpdateCorrelation;
        let rows: Vec<Vec<f64>> = (0..10)
            .map(|t| (0..3).map(|j| ((t * (j + 1)) % 7) as f64).collect())
            .collect();
        let correlation = abs_correlation(&rows).unwrap();
        let run = |dropout: bool| VolumeRun {
            dropout,
            epochs: vec![VolumeEpoch {
                epoch: 0,
                layers: vec![LayerVolume {
                    layer: 0,
                    fan_in: 4,
                    fan_out: 3,
                    log_volume: -1.0,
                }],
                mask_free: None,
            }],
            update_correlations: [1, 5]
                .map(|epoch| EpochUpdateCorrelation {
                    epoch,
                    correlation: correlation.clone(),
                })
                .to_vec(),
            final_train_accuracy: 0.9,
            final_test_accuracy: 0.8,
            generalisation_gap: 0.1,
            final_train_loss: Some(0.2),
            final_test_loss: Some(0.3),
        };
        let r = VolumeTrackResult {
            config: VolumeTrackConfig::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            runs: vec![run(false), run(true)],
        };
        let mut svg = String::new();
        draw_volume(
            SVGBackend::with_string(&mut svg, (900, 400)).into_drawing_area(),
            &r,
        )
        .unwrap();
        for label in [
            "plain · epoch 1",
            "plain · epoch 5",
            "dropout · epoch 1",
            "dropout · epoch 5",
        ] {
            assert!(svg.contains(label), "{label}");
        }
        // 2 networks x 2 epochs x 3 x 3 cells.
        assert!(svg.matches("<rect").count() >= 36);
    }
}

//! Train/test loss or accuracy per epoch.

use plotters::prelude::*;

use crate::error::{LabError, LabResult};

use crate::train::History;
use draw_err as err;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    Loss,
    Accuracy,
}

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const TEST: RGBColor = RGBColor(214, 39, 40);

fn series(h: &History, metric: Metric) -> [(&'static str, RGBColor, Vec<(f64, f64)>); 2] {
    let pick = |train: bool| -> Vec<(f64, f64)> {
        h.epochs
            .iter()
            .map(|e| {
                let y = match (metric, train) {
                    (Metric::Loss, true) => e.train_loss,
                    (Metric::Loss, false) => e.test_loss,
                    (Metric::Accuracy, true) => e.train_accuracy,
                    (Metric::Accuracy, false) => e.test_accuracy,
                };
                (e.epoch as f64, y as f64)
            })
            .collect()
    };
    [("train", TRAIN, pick(true)), ("test", TEST, pick(false))]
}

/// The finite values' [min, max] widened by 5 % of the span (at least 1e-3) on each side, or
/// `empty` when there is no finite value: the axis range every chart here uses.
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>, empty: (f64, f64)) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return empty;
    }
    let pad = 0.05 * (hi - lo).max(1e-3);
    (lo - pad, hi + pad)
}

/// A series label with its diverged seeds counted, as the multi-seed charts show it.
pub(crate) fn diverged_label(label: &str, diverged: usize) -> String {
    match diverged {
        0 => label.to_string(),
        d => format!("{label} ({d} diverged)"),
    }
}

pub(crate) fn draw_err<E: std::fmt::Debug>(e: E) -> LabError {
    LabError::Backend(format!("drawing failed: {e:?}"))
}

pub fn draw_history<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    h: &History,
    metric: Metric,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let data = series(h, metric);
    let x_max = h.epochs.last().map_or(1.0, |e| e.epoch.max(1) as f64);
    let (y_min, y_max) = match metric {
        Metric::Accuracy => (0.0, 1.0),
        Metric::Loss => {
            let ys = data.iter().flat_map(|s| s.2.iter().map(|p| p.1));
            let hi = ys.fold(0.0f64, f64::max);
            (0.0, if hi > 0.0 { hi * 1.05 } else { 1.0 })
        }
    };
    let title = match metric {
        Metric::Loss => "cross-entropy loss",
        Metric::Accuracy => "accuracy",
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels((x_max as usize + 1).min(11))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (name, color, points) in data {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 2, color.filled())),
            )
            .map_err(err)?;
    }
    let position = match metric {
        Metric::Loss => SeriesLabelPosition::UpperRight,
        Metric::Accuracy => SeriesLabelPosition::LowerRight,
    };
    finish(&mut chart, &root, position)
}

/// The framed legend every chart carries.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> LabResult<()> {
    chart
        .configure_series_labels()
        .position(position)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(err)
}

/// A single-panel chart ends with its legend, then the frame goes out.
pub(crate) fn finish<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
    position: SeriesLabelPosition,
) -> LabResult<()> {
    legend(chart, position)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::config::tests::small_config;
    use crate::train::{EpochRecord, OptimizerKind};

    #[test]
    fn draws_both_series_as_svg() {
        let mut h = History::new(&small_config(OptimizerKind::Sgd), "cpu", "mnist");
        for e in 0..4 {
            let l = 2.0 / (1.0 + e as f32);
            h.epochs.push(EpochRecord {
                epoch: e,
                step: e * 10,
                train_loss: l,
                train_accuracy: 0.2 * e as f32,
                test_loss: l * 1.1,
                test_accuracy: 0.19 * e as f32,
            });
        }
        let mut svg = String::new();
        draw_history(
            SVGBackend::with_string(&mut svg, (400, 300)).into_drawing_area(),
            &h,
            Metric::Loss,
        )
        .unwrap();
        assert!(svg.contains("cross-entropy loss"));
        assert!(
            svg.contains("\ntrain\n") && svg.contains("\ntest\n"),
            "legend entries"
        );
        // Each series is a polyline with one vertex per epoch; a falling loss rises in SVG y.
        let series_points = |colour: &str| -> Vec<Vec<(i32, i32)>> {
            svg.split("<polyline")
                .skip(1)
                .filter(|s| s.contains(&format!("stroke=\"{colour}\"")))
                .map(|s| {
                    let pts = s
                        .split("points=\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap();
                    pts.split_whitespace()
                        .map(|p| {
                            let (x, y) = p.split_once(',').unwrap();
                            (x.parse().unwrap(), y.parse().unwrap())
                        })
                        .collect()
                })
                .collect()
        };
        for colour in ["#1F77B4", "#D62728"] {
            let lines = series_points(colour);
            assert_eq!(lines.len(), 2, "{colour}: the series and its legend swatch");
            let curve = &lines[0];
            assert_eq!(curve.len(), 4, "{colour}: one vertex per epoch");
            assert!(
                curve.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1),
                "{colour}: {curve:?}"
            );
        }
        assert_eq!(svg.matches("<circle").count(), 8);
    }
}

//! Paper 000 Fig. 1(a): 1-D loss curves f(α) with and without dropout, train (thick) and test
//! (thin), one line per random direction.

use plotters::prelude::*;

use super::curves::{draw_err as err, legend};
use crate::error::LabResult;
use crate::experiments::fig1a_landscape::Fig1aResult;
use crate::experiments::landscape_pair::{LandscapeResult, NetCurve};

const WITHOUT: RGBColor = RGBColor(31, 119, 180);
const WITH: RGBColor = RGBColor(214, 39, 40);

pub fn draw_fig1a<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &Fig1aResult,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let curves: Vec<DirectionCurve> = r
        .curves
        .iter()
        .map(|c| (c.dropout, &c.train[..], &c.test[..]))
        .collect();
    draw_direction_curves(
        &root,
        "loss along filter-normalised directions",
        "loss",
        &r.alphas,
        &curves,
    )?;
    root.present().map_err(err)
}

/// Paper 000 Fig. 1(b) and 1(c): loss (left) and accuracy (right) along the directions.
pub fn draw_net_landscape_of<DB: DrawingBackend, C>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &LandscapeResult<C>,
) -> LabResult<()> {
    draw_net_landscape(root, &r.alphas, &r.curves)
}

fn draw_net_landscape<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    alphas: &[f64],
    curves: &[NetCurve],
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let loss: Vec<DirectionCurve> = curves
        .iter()
        .map(|c| (c.dropout, &c.train_loss[..], &c.test_loss[..]))
        .collect();
    draw_direction_curves(
        &left,
        "loss along filter-normalised directions",
        "loss",
        alphas,
        &loss,
    )?;
    let accuracy: Vec<DirectionCurve> = curves
        .iter()
        .map(|c| (c.dropout, &c.train_accuracy[..], &c.test_accuracy[..]))
        .collect();
    draw_direction_curves(
        &right,
        "accuracy along the same directions",
        "accuracy",
        alphas,
        &accuracy,
    )?;
    root.present().map_err(err)
}

/// One curve pair along a direction: (trained with dropout, train values, test values).
pub type DirectionCurve<'a> = (bool, &'a [f32], &'a [f32]);

/// Values along directions against α, with and without dropout (colour), train (thick) and
/// test (thin), one line per direction; the y axis from 0 to the largest finite value.
pub fn draw_direction_curves<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    alphas: &[f64],
    curves: &[DirectionCurve],
) -> LabResult<()> {
    let (a0, a1) = (
        alphas.first().copied().unwrap_or(-1.0),
        alphas.last().copied().unwrap_or(1.0),
    );
    let y_max = curves
        .iter()
        .flat_map(|c| c.1.iter().chain(c.2))
        .fold(0.0f32, |m, &v| if v.is_finite() { m.max(v) } else { m });
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(a0..a1, 0.0..(y_max as f64 * 1.05).max(1e-3))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("α")
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for dropout in [false, true] {
        let colour = if dropout { WITH } else { WITHOUT };
        let name = if dropout {
            "with dropout"
        } else {
            "without dropout"
        };
        for (split, width) in [("train", 2), ("test", 1)] {
            let mut labelled = false;
            for &(_, train, test) in curves.iter().filter(|c| c.0 == dropout) {
                let ys = if split == "train" { train } else { test };
                let series = chart
                    .draw_series(LineSeries::new(
                        alphas.iter().zip(ys).map(|(&a, &l)| (a, l as f64)),
                        colour.stroke_width(width),
                    ))
                    .map_err(err)?;
                if !labelled {
                    series
                        .label(format!("{name} ({split})"))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(width))
                        });
                    labelled = true;
                }
            }
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperMiddle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::fig1a_landscape::{Curve, Fig1aConfig};

    #[test]
    fn one_line_per_curve_and_split() {
        let alphas = vec![-1.0, 0.0, 1.0];
        let curve = |dropout, direction| Curve {
            dropout,
            direction,
            train: vec![2.0, 0.1, 2.5],
            test: vec![2.2, 0.3, 2.6],
        };
        let r = Fig1aResult {
            config: Fig1aConfig::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            alphas,
            models: vec![],
            curves: vec![
                curve(false, 0),
                curve(false, 1),
                curve(true, 0),
                curve(true, 1),
            ],
        };
        let mut svg = String::new();
        draw_fig1a(
            SVGBackend::with_string(&mut svg, (500, 400)).into_drawing_area(),
            &r,
        )
        .unwrap();
        let lines = |colour: &str| {
            svg.split("<polyline")
                .filter(|s| {
                    s.contains(&format!("stroke=\"{colour}\"")) && s.matches(',').count() == 3
                })
                .count()
        };
        // 2 directions x (train + test) per model; legend swatches have 2 points, not 3.
        assert_eq!(lines("#1F77B4"), 4);
        assert_eq!(lines("#D62728"), 4);
        assert!(svg.contains("with dropout (test)") && svg.contains("without dropout (train)"));
    }
}

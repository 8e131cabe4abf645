//! Paper 004 Tab. 1 as a chart: test accuracy (mean ± one standard deviation over seeds) of each
//! dropout mode against the drop rate on a log axis; the plain network as a dashed line.

use plotters::prelude::*;

use super::curves::{draw_err as err, finish, padded_range};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p004_table1_modes::{mode_label, ModesTableResult, TableView};
use crate::experiments::seeded_runs::Spread;

pub fn draw_modes_table<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &ModesTableResult,
) -> LabResult<()> {
    draw_modes_view(root, &r.view())
}

/// The chart of any modes table (an MLP's or a conv net's).
pub fn draw_modes_view<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &TableView,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let rates = r.cells.iter().map(|c| c.rate as f64);
    let (x_lo, x_hi) = rates.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x_lo, x_hi) = if x_lo > x_hi {
        (0.01, 0.5)
    } else {
        (x_lo / 1.5, x_hi * 1.5)
    };
    let (y_lo, y_hi) = padded_range(
        r.cells
            .iter()
            .chain([r.plain])
            .filter_map(|c| c.test_accuracy)
            .flat_map(|a| [a.mean - a.std, a.mean + a.std]),
        (0.0, 1.0),
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "test accuracy by dropout mode ({}, mean ± sd over {} seeds)",
                r.dataset, r.seeds
            ),
            ("sans-serif", 14),
        )
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("drop rate")
        .y_desc("test accuracy")
        .draw()
        .map_err(err)?;
    let plain = r.plain.test_accuracy.map_or(f64::NAN, |a| a.mean);
    chart
        .draw_series(DashedLineSeries::new(
            vec![(x_lo, plain), (x_hi, plain)],
            6,
            4,
            BLACK.stroke_width(1),
        ))
        .map_err(err)?
        .label(format!("plain {plain:.4}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    let mut modes: Vec<_> = r.cells.iter().map(|c| c.mode).collect();
    modes.dedup();
    for (k, mode) in modes.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        // Cells where every seed diverged have no point.
        let mut cells: Vec<(f64, Spread)> = r
            .cells
            .iter()
            .filter(|c| c.mode == *mode)
            .filter_map(|c| Some((c.rate as f64, c.test_accuracy?)))
            .collect();
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(
                cells.iter().map(|(x, a)| (*x, a.mean)),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(mode_label(*mode))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(cells.iter().map(|(x, a)| {
                ErrorBar::new_vertical(
                    *x,
                    a.mean - a.std,
                    a.mean,
                    a.mean + a.std,
                    colour.filled(),
                    6,
                )
            }))
            .map_err(err)?;
    }
    finish(&mut chart, &root, SeriesLabelPosition::LowerLeft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::p004_table1_modes::{Cell, ModesTableConfig};
    use crate::model::DropoutMode;

    #[test]
    fn one_line_per_mode_and_the_plain_reference() {
        let cell = |mode, rate: f32, acc: f64| Cell {
            mode,
            rate,
            test_accuracy: Some(Spread {
                mean: acc,
                std: 0.01,
            }),
            test_loss: Some(Spread {
                mean: 0.3,
                std: 0.0,
            }),
            accuracies: vec![Some(acc)],
            diverged: 0,
        };
        let cfg = ModesTableConfig::demo();
        let mut cells: Vec<Cell> = [DropoutMode::Standard, DropoutMode::ForwardOnly]
            .into_iter()
            .flat_map(|m| [cell(m, 0.3, 0.8), cell(m, 0.01, 0.85)])
            .collect();
        // A cell where every seed diverged is left out, not drawn at 0 or NaN.
        cells[2].test_accuracy = None;
        cells[2].diverged = 1;
        let r = ModesTableResult {
            config: cfg,
            backend: "cpu".into(),
            crate_version: "0".into(),
            dataset: "mnist".into(),
            plain: cell(DropoutMode::Standard, 0.0, 0.84),
            cells,
        };
        let mut svg = String::new();
        draw_modes_table(
            SVGBackend::with_string(&mut svg, (640, 400)).into_drawing_area(),
            &r,
        )
        .unwrap();
        for label in ["plain 0.8400", "standard", "forward", "mnist"] {
            assert!(svg.contains(label), "{label}");
        }
    }
}

//! Paper 001 Fig. 1(a) and Fig. 2: curves over time t = ηN with min-max bands, one column per
//! (p, η) setting and one row per metric, one colour per dynamics.

use plotters::prelude::*;

use super::curves::{draw_err as err, legend, padded_range};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p001_sme_dynamics::Dynamics;
use crate::experiments::p001_sme_paths::{Band, Path, SmePathsResult};

fn colour(d: Dynamics) -> RGBColor {
    match d {
        Dynamics::Dropout => PALETTE[0],
        Dynamics::Sme1 => PALETTE[1],
        Dynamics::Sme2 => PALETTE[2],
        Dynamics::ModifiedGd => PALETTE[3],
    }
}

type Metric = (&'static str, fn(&Path) -> &Band);

fn draw_grid<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &SmePathsResult,
    metrics: &[Metric],
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let settings = &r.config.settings;
    let cells = root.split_evenly((metrics.len(), settings.len().max(1)));
    for (mi, (name, pick)) in metrics.iter().enumerate() {
        for (si, s) in settings.iter().enumerate() {
            let area = &cells[mi * settings.len() + si];
            let paths: Vec<&Path> = r.paths.iter().filter(|p| p.setting == *s).collect();
            let t_max = paths
                .iter()
                .filter_map(|p| p.times.last().copied())
                .fold(0.0, f64::max)
                .max(1e-9);
            let (y0, y1) = padded_range(
                paths.iter().flat_map(|p| {
                    let b = pick(p);
                    b.min.iter().chain(&b.max).copied().collect::<Vec<_>>()
                }),
                (0.0, 1.0),
            );
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("p = {:.2}, η = {}", 1.0 - s.drop_rate, s.lr),
                    ("sans-serif", 13),
                )
                .margin(6)
                .x_label_area_size(30)
                .y_label_area_size(48)
                .build_cartesian_2d(0.0..t_max, y0..y1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("t = ηN")
                .y_desc(*name)
                .x_labels(5)
                .y_labels(5)
                .draw()
                .map_err(err)?;
            for p in paths {
                let c = colour(p.dynamics);
                let b = pick(p);
                let upper: Vec<(f64, f64)> = p
                    .times
                    .iter()
                    .zip(&b.max)
                    .map(|(&t, &v)| (t, v))
                    .filter(|q| q.1.is_finite())
                    .collect();
                let lower: Vec<(f64, f64)> = p
                    .times
                    .iter()
                    .zip(&b.min)
                    .map(|(&t, &v)| (t, v))
                    .filter(|q| q.1.is_finite())
                    .collect();
                let outline: Vec<(f64, f64)> = upper
                    .iter()
                    .copied()
                    .chain(lower.iter().rev().copied())
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(outline, c.mix(0.18))))
                    .map_err(err)?;
                let mean: Vec<(f64, f64)> = p
                    .times
                    .iter()
                    .zip(&b.mean)
                    .map(|(&t, &v)| (t, v))
                    .filter(|q| q.1.is_finite())
                    .collect();
                let label = match p.diverged {
                    0 => p.dynamics.label().to_string(),
                    d => format!("{} ({d} diverged)", p.dynamics.label()),
                };
                chart
                    .draw_series(LineSeries::new(mean, c.stroke_width(2)))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                    });
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
    }
    root.present().map_err(err)
}

/// Fig. 1(a): training loss.
pub fn draw_sme_loss<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &SmePathsResult,
) -> LabResult<()> {
    draw_grid(root, r, &[("training loss R_S", |p| &p.train_loss)])
}

/// Fig. 2: test loss and test accuracy.
pub fn draw_sme_test<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &SmePathsResult,
) -> LabResult<()> {
    draw_grid(
        root,
        r,
        &[
            ("test loss", |p| &p.test_loss),
            ("test accuracy", |p| &p.test_accuracy),
        ],
    )
}

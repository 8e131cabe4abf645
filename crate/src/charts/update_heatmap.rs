//! Paper 002 Fig. 2(a)/(c): the absolute correlation matrices of gradient updates as heatmaps,
//! one row per network (plain, dropout), one column per tracked epoch; white = 0, dark = 1.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::curves::draw_err as err;
use crate::error::LabResult;
use crate::experiments::p002_fig2_volume::VolumeRun;

/// Colour of |ρ| ∈ [0, 1] on a white-to-navy ramp.
fn shade(v: f64) -> RGBColor {
    let t = v.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
}

pub fn draw_update_heatmaps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[VolumeRun],
) -> LabResult<()> {
    let rows: Vec<&VolumeRun> = runs
        .iter()
        .filter(|r| !r.update_correlations.is_empty())
        .collect();
    let Some(cols) = rows.iter().map(|r| r.update_correlations.len()).max() else {
        return Ok(());
    };
    let floor = rows[0].update_correlations[0]
        .correlation
        .independent_mean_abs;
    let (title, body) = root.split_vertically(24);
    title
        .titled(
            &format!(
                "|correlation| of gradient updates, Fig. 2a plain / 2c dropout (mean; independent: {floor:.2})"
            ),
            ("sans-serif", 13),
        )
        .map_err(err)?;
    for (row, area) in rows
        .iter()
        .zip(body.split_evenly((rows.len(), cols)).chunks(cols))
    {
        for (c, cell) in row.update_correlations.iter().zip(area) {
            let m = &c.correlation.abs_correlation;
            let n = m.len() as i32;
            let distinct = c
                .correlation
                .mean_abs_distinct_units
                .map(|d| format!(" ({d:.2} distinct units)"))
                .unwrap_or_default();
            let caption = format!(
                "{} · epoch {} · {:.2}{distinct}",
                if row.dropout { "dropout" } else { "plain" },
                c.epoch,
                c.correlation.mean_abs_off_diagonal
            );
            let mut chart = ChartBuilder::on(cell)
                .caption(caption, ("sans-serif", 11))
                .margin(4)
                .build_cartesian_2d(0..n, 0..n)
                .map_err(err)?;
            chart
                .draw_series(m.iter().enumerate().flat_map(|(i, r)| {
                    r.iter().enumerate().map(move |(j, &v)| {
                        let (i, j) = (i as i32, j as i32);
                        Rectangle::new([(j, n - 1 - i), (j + 1, n - i)], shade(v).filled())
                    })
                }))
                .map_err(err)?;
        }
    }
    Ok(())
}

//! Paper 001 Fig. 1(b, c): ‖EΘ_T − Eθ_T‖ against η on log-log axes, one panel per SME order and
//! one colour per keep probability, with ±1 standard-error bars, the fitted slope in the legend
//! and points within the Monte-Carlo noise floor drawn hollow (not fitted).

use plotters::prelude::*;

use super::curves::{draw_err as err, legend};
use super::scatter::PALETTE;
use crate::error::LabResult;
use crate::experiments::p001_sme_order::SmeOrderResult;

pub fn draw_sme_order<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &SmeOrderResult,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    for (panel, order) in panels.iter().zip([1u8, 2]) {
        let pts: Vec<(f64, f64, f64, f64, bool)> = r
            .points
            .iter()
            .filter_map(|p| {
                let g = p.gaps.iter().find(|g| g.order == order)?;
                Some((p.drop_rate, p.lr, g.distance, g.se, g.floored))
            })
            .filter(|p| p.2 > 0.0 && p.1 > 0.0)
            .collect();
        let (mut x0, mut x1, mut y0, mut y1) =
            (f64::MAX, f64::MIN_POSITIVE, f64::MAX, f64::MIN_POSITIVE);
        for &(_, x, y, se, _) in &pts {
            (x0, x1) = (x0.min(x), x1.max(x));
            (y0, y1) = (y0.min((y - se).max(y / 3.0)), y1.max(y + se));
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (1e-2, 1.0, 1e-4, 1.0);
        }
        let title = format!("order {order} SME (paper: slope {order})");
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(
                (x0 / 1.3..x1 * 1.3).log_scale(),
                (y0 / 1.5..y1 * 1.5).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("learning rate η")
            .y_desc("‖EΘ_T − Eθ_T‖₂")
            .x_label_formatter(&|x| format!("{x:.2}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .draw()
            .map_err(err)?;
        for (i, &q) in r.config.drop_rates.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let mine: Vec<_> = pts.iter().filter(|p| p.0 == q).collect();
            chart
                .draw_series(mine.iter().map(|&&(_, x, y, se, _)| {
                    PathElement::new(vec![(x, (y - se).max(y / 3.0)), (x, y + se)], colour)
                }))
                .map_err(err)?;
            chart
                .draw_series(mine.iter().map(|&&(_, x, y, _, floored)| {
                    let style = if floored {
                        colour.stroke_width(1)
                    } else {
                        colour.filled()
                    };
                    Circle::new((x, y), 4, style)
                }))
                .map_err(err)?;
            let f = r.fits.iter().find(|f| f.order == order && f.drop_rate == q);
            let label = match f.and_then(|f| f.slope) {
                Some(s) => format!("p = {:.2}: slope {s:.2}", 1.0 - q),
                None => format!("p = {:.2}: no fit", 1.0 - q),
            };
            let line = match f.and_then(|f| Some((f.slope?, f.intercept?))) {
                Some((s, b)) => vec![
                    (x0, 10f64.powf(b) * x0.powf(s)),
                    (x1, 10f64.powf(b) * x1.powf(s)),
                ],
                None => Vec::new(),
            };
            chart
                .draw_series(std::iter::once(PathElement::new(
                    line,
                    colour.stroke_width(1),
                )))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    root.present().map_err(err)
}

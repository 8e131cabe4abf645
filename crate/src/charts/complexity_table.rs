//! Paper 002 Table 2 in bars: for each complexity measure, how well it orders the networks by
//! their generalisation gap: Kendall's τ_b (left) and the normalised MI Î of eq. 24 (right).
//! A measure without a value for every network (e.g. too few kept samples) has no bar.

use plotters::prelude::*;

use super::curves::draw_err as err;
use super::scatter::PALETTE;
use crate::analysis::rank_agreement::RankAgreement;
use crate::error::LabResult;
use crate::experiments::p002_complexity_table::ComplexityTableResult;

pub fn draw_complexity_table<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &ComplexityTableResult,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    let names: Vec<&str> = r.rows.iter().map(|x| x.name.as_str()).collect();
    let n = names.len() as i32;
    let panel_specs: [(&str, f64, fn(&RankAgreement) -> f64); 2] = [
        ("Kendall τ with the generalisation gap", -1.0, |a| {
            a.kendall_tau
        }),
        ("Î(measure, gap), eq. 24", 0.0, |a| a.normalised_mi),
    ];
    for (p, (title, lo, value)) in panels.iter().zip(panel_specs) {
        let mut chart = ChartBuilder::on(p)
            .caption(title, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(if lo < 0.0 { 110 } else { 10 })
            .build_cartesian_2d(lo..1.0, (0..n).into_segmented())
            .map_err(err)?;
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                .get((n - 1 - i) as usize)
                .map_or(String::new(), |s| s.to_string()),
            SegmentValue::Last => String::new(),
        };
        let mut mesh = chart.configure_mesh();
        mesh.disable_y_mesh().y_labels(names.len());
        if lo < 0.0 {
            mesh.y_label_formatter(&label);
        } else {
            mesh.y_label_formatter(&|_| String::new());
        }
        mesh.draw().map_err(err)?;
        // Measures top to bottom in table order.
        chart
            .draw_series(r.rows.iter().enumerate().filter_map(|(k, row)| {
                let v = value(row.gap.as_ref()?);
                let i = n - 1 - k as i32;
                let colour = PALETTE[k % PALETTE.len()];
                Some(Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (v, SegmentValue::Exact(i + 1)),
                    ],
                    colour.mix(0.8).filled(),
                ))
            }))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::p002_complexity_table::{ComplexityTableConfig, MeasureRow};

    #[test]
    fn one_bar_per_complete_measure_in_each_panel() {
        let agreement = |t: f64| {
            Some(RankAgreement {
                kendall_tau: t,
                normalised_mi: t.abs(),
            })
        };
        let rows = vec![
            MeasureRow {
                name: "Path norm".into(),
                values: vec![Some(1.0), Some(2.0)],
                gap: agreement(0.5),
                dropout: None,
            },
            MeasureRow {
                name: "PAC-S(Sampling)".into(),
                values: vec![None, Some(2.0)],
                gap: None,
                dropout: None,
            },
            MeasureRow {
                name: "Spectral norm".into(),
                values: vec![Some(1.0), Some(0.5)],
                gap: agreement(-1.0),
                dropout: None,
            },
        ];
        let r = ComplexityTableResult {
            config: ComplexityTableConfig::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            nets: vec![],
            rows,
        };
        let mut svg = String::new();
        draw_complexity_table(
            SVGBackend::with_string(&mut svg, (800, 300)).into_drawing_area(),
            &r,
        )
        .unwrap();
        for name in ["Path norm", "PAC-S(Sampling)", "Spectral norm"] {
            assert!(svg.contains(name), "{name}");
        }
        let bars = svg.matches("opacity=\"0.8\"").count();
        assert_eq!(bars, 4, "two complete measures x two panels");
    }
}

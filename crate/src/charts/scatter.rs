//! Log-log scatters with power-law fits, one colour per (drop rate, learning rate) setting:
//! paper 000 Fig. 2 (λ_i(Σ) vs interval flatness F_{v_i}) and Fig. 4 (λ_i(H) vs Var(Proj_{v_i}(S))).

use plotters::prelude::*;

use super::curves::{draw_err as err, legend};
use crate::error::LabResult;
use crate::experiments::fig2_variance_flatness::{
    Fig2Result, NoiseSource, PowerLawFit, Setting, SettingResult,
};

pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One series of a log-log scatter: its points (non-positive ones are skipped) and fitted line.
pub struct ScatterSeries<'a> {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub fit: Option<&'a PowerLawFit>,
}

pub struct Axes<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    pub radius: u32,
}

/// One panel per noise source (S_grad, S_para), side by side, in the paper's orientation:
/// F_v across, λ(Σ) up, with the fit of log λ on log F.
pub fn draw_fig2<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &Fig2Result,
) -> LabResult<()> {
    draw_flatness_panels(root, &r.config.run.sources, &r.settings)
}

/// The λ(Σ)-vs-F_v panels of any network's series (Fig. 2's MLP, Fig. 3's ResNet-20).
pub fn draw_flatness_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    sources: &[NoiseSource],
    settings: &[SettingResult],
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    for (panel, &source) in root
        .split_evenly((1, sources.len().max(1)))
        .into_iter()
        .zip(sources)
    {
        let fits: Vec<_> = settings
            .iter()
            .filter(|s| s.source == source)
            .map(|s| (s, s.paper_fit()))
            .collect();
        let series: Vec<ScatterSeries> = fits
            .iter()
            .map(|(s, fit)| ScatterSeries {
                label: setting_label(&s.setting, fit.as_ref()),
                points: s.points().into_iter().map(|(l, f)| (f, l)).collect(),
                fit: fit.as_ref(),
            })
            .collect();
        let title = match source {
            NoiseSource::Grad => "S_grad: λ_i(Σ) vs interval flatness F_v",
            NoiseSource::Para => "S_para: λ_i(Σ) vs interval flatness F_v",
        };
        draw_loglog(
            panel,
            &Axes {
                title,
                x: "F_v_i",
                y: "λ_i(Σ)",
                radius: 3,
            },
            &series,
        )?;
    }
    root.present().map_err(err)
}

pub fn setting_label(s: &Setting, fit: Option<&PowerLawFit>) -> String {
    let fit = fit.map_or(String::from("no fit"), |f| {
        format!("slope {:.2}, R² {:.2}", f.slope, f.r2)
    });
    format!("drop {}, lr {}: {fit}", s.drop_rate, s.lr)
}

/// A log-log scatter with one colour per series and each series' power law as a line over the
/// points' x range. The caller presents the root.
pub fn draw_loglog<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    axes: &Axes,
    series: &[ScatterSeries],
) -> LabResult<()> {
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .copied()
                .filter(|p| p.0 > 0.0 && p.1 > 0.0 && p.0.is_finite() && p.1.is_finite())
                .collect()
        })
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) =
        (f64::MAX, f64::MIN_POSITIVE, f64::MAX, f64::MIN_POSITIVE);
    for &(x, y) in points.iter().flatten() {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (1e-6, 1.0, 1e-2, 1.0);
    }
    let mut chart = ChartBuilder::on(&root)
        .caption(axes.title, ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(
            (x0 / 1.5..x1 * 1.5).log_scale(),
            (y0 / 1.5..y1 * 1.5).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(axes.x)
        .y_desc(axes.y)
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(err)?;
    let r = axes.radius;
    for (i, (s, pts)) in series.iter().zip(&points).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, r, colour.filled())))
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(x, y)| Circle::new((x + 8, y), 3, colour.filled()));
        if let (Some(f), Some(lo), Some(hi)) = (
            s.fit,
            pts.iter().map(|p| p.0).reduce(f64::min),
            pts.iter().map(|p| p.0).reduce(f64::max),
        ) {
            let line = |x: f64| (x, 10f64.powf(f.intercept + f.slope * x.log10()));
            chart
                .draw_series(LineSeries::new(
                    [line(lo), line(hi)],
                    colour.stroke_width(1),
                ))
                .map_err(err)?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::flatness::IntervalFlatness;
    use crate::experiments::fig2_variance_flatness::Fig2Config;

    #[test]
    fn draws_every_point_and_each_fit() {
        let width = |w: Option<f64>| IntervalFlatness {
            loss0: 0.1,
            left: w.map(|w| -w / 2.0),
            right: w.map(|w| w / 2.0),
            width: w,
            evaluations: 9,
        };
        let setting = |d: f32, slope: f64| SettingResult {
            source: NoiseSource::Grad,
            setting: Setting {
                drop_rate: d,
                lr: 0.1,
            },
            final_train_loss: 0.1,
            eigenvalues: vec![1e-2, 1e-3, 1e-4],
            flatness: vec![width(Some(0.5)), width(Some(1.5)), width(None)],
            no_crossing: 1,
            fit_variance_on_flatness: Some(PowerLawFit {
                slope,
                intercept: -1.0,
                r2: 0.9,
                used: 2,
            }),
            fit_flatness_on_variance: None,
        };
        let mut config = Fig2Config::demo();
        config.run.sources = vec![NoiseSource::Grad, NoiseSource::Para];
        let r = Fig2Result {
            config,
            backend: "cpu".into(),
            crate_version: "0".into(),
            settings: vec![setting(0.1, -0.48), setting(0.2, -0.9)],
        };
        let mut svg = String::new();
        draw_fig2(
            SVGBackend::with_string(&mut svg, (500, 400)).into_drawing_area(),
            &r,
        )
        .unwrap();
        // 2 settings x 2 points with a width, plus one legend marker each; the no-crossing point is not drawn.
        assert_eq!(svg.matches("<circle").count(), 2 * 2 + 2);
        assert!(
            svg.contains("drop 0.1, lr 0.1: slope -0.48"),
            "legend carries the fit"
        );
        assert!(svg.contains("drop 0.2, lr 0.1: slope -0.90"));
        assert!(
            svg.contains("S_grad: ") && svg.contains("S_para: "),
            "one panel per source"
        );
    }
}

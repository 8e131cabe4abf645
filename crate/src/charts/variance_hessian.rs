//! Paper 000 Fig. 4: Hessian eigenvalue λ_i(H) against the projected noise variance
//! Var(Proj_{v_i}(S)), log-log, one panel per noise source.

use plotters::prelude::*;

use super::curves::draw_err as err;
use super::scatter::{draw_loglog, setting_label, Axes, ScatterSeries};
use crate::error::LabResult;
use crate::experiments::fig4_variance_hessian::{Fig4Result, Fig4Series};
use crate::experiments::noise_run::NoiseSource;

pub fn draw_fig4<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &Fig4Result,
) -> LabResult<()> {
    draw_variance_panels(root, &r.config.run.sources, &r.series, &r.span_label())
}

/// The Var(Proj_v(S))-vs-λ(H) panels of any network's series (Fig. 4's MLP, Fig. 5's
/// ResNet-20); `span` says which Hessian, for the titles.
pub fn draw_variance_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    sources: &[NoiseSource],
    series: &[Fig4Series],
    span: &str,
) -> LabResult<()> {
    root.fill(&WHITE).map_err(err)?;
    for (panel, &source) in root
        .split_evenly((1, sources.len().max(1)))
        .into_iter()
        .zip(sources)
    {
        let series: Vec<ScatterSeries> = series
            .iter()
            .filter(|s| s.source == source)
            .map(|s| ScatterSeries {
                label: setting_label(&s.setting, s.fit.as_ref()),
                points: s
                    .hessian_eigenvalues
                    .iter()
                    .copied()
                    .zip(s.projected_variance.iter().copied())
                    .collect(),
                fit: s.fit.as_ref(),
            })
            .collect();
        let title = format!("S_{}: λ_i(H) vs Var(Proj_v_i(S)) · {span}", source.name(),);
        draw_loglog(
            panel,
            &Axes {
                title: &title,
                x: "λ_i(H)",
                y: "Var(Proj_v_i(S))",
                radius: 2,
            },
            &series,
        )?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::fig2_variance_flatness::PowerLawFit;
    use crate::experiments::fig4_variance_hessian::Fig4Config;
    use crate::experiments::noise_run::Setting;

    #[test]
    fn draws_positive_eigenvalues_only_with_fits() {
        let series = |source, slope| Fig4Series {
            source,
            setting: Setting {
                drop_rate: 0.1,
                lr: 0.05,
            },
            final_train_loss: 0.01,
            hessian_eigenvalues: vec![1.0, 0.1, 0.0, -0.01],
            projected_variance: vec![1e-3, 1e-4, 1e-5, 1e-5],
            asymmetry: Some(1e-7),
            lanczos: None,
            fit: Some(PowerLawFit {
                slope,
                intercept: -3.0,
                r2: 1.0,
                used: 2,
            }),
        };
        let r = Fig4Result {
            config: Fig4Config::demo(),
            backend: "cpu".into(),
            crate_version: "0".into(),
            parameters: None,
            series: vec![
                series(NoiseSource::Grad, 1.0),
                series(NoiseSource::Para, 0.5),
            ],
        };
        let mut svg = String::new();
        draw_fig4(
            SVGBackend::with_string(&mut svg, (600, 300)).into_drawing_area(),
            &r,
        )
        .unwrap();
        // Two positive eigenvalues per panel plus one legend marker each; λ ≤ 0 cannot sit on a log axis.
        assert_eq!(svg.matches("<circle").count(), 2 * (2 + 1));
        assert!(svg.contains("slope 1.00") && svg.contains("slope 0.50"));
        assert!(svg.contains("S_grad: λ_i(H)") && svg.contains("S_para: λ_i(H)"));
        assert!(
            svg.contains("block: layer 1 weights, D = 2500"),
            "the title says which H"
        );
    }
}

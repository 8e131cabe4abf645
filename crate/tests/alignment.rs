//! Fig 6 / 001 Fig 3 at tiny scale on genuine MNIST: the matrix-free alignment quantities against
//! their dense definitions (the dense block Hessian by central differences of an f64 gradient
//! written in tests/common/reference.rs, no HVP code; dense Σ from the samples), the null
//! baseline's mean against a Monte Carlo over random eigenbases, and the tracked run against a
//! direct recomputation at its final θ.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::analysis::alignment::centre;
use dropout_lab::analysis::hessian::{HessianOperator, Span};
use dropout_lab::analysis::noise::{gradient_samples, Block};
use dropout_lab::backend::cpu_device;
use dropout_lab::data::resize::block_means;
use dropout_lab::data::Dataset;
use dropout_lab::experiments::alignment_track::{alignment_at, HessianOf, TrackConfig};
use dropout_lab::experiments::fig6_alignment::{run as run_fig6, Fig6Config};
use dropout_lab::experiments::hessian_span::HessianSpan;
use dropout_lab::experiments::noise_run::Setting;
use dropout_lab::experiments::p001_fig3_cosine::{run as run_cosine, CosineConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::linalg::dense::symmetric_eigen;
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::model::dropout::sample_mask;
use dropout_lab::model::init::initial_params;
use dropout_lab::model::Mlp;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::DeviceData;
use rand::Rng;
use rand_distr::StandardNormal;

fn tiny(mut t: TrackConfig) -> TrackConfig {
    t.train_size = 200;
    t.widths = vec![784, 16, 16, 10];
    t.settings = vec![Setting {
        drop_rate: 0.3,
        lr: 0.1,
    }];
    t.epochs = 20;
    t.every = 10;
    t.samples = 20;
    t.probes = 40;
    t
}

#[test]
fn matrix_free_alignment_equals_dense_definitions() {
    let cfg = tiny(Fig6Config::demo().track);
    matrix_free_alignment_equals_dense(cfg, common::mnist("train"));
}

/// Span full (H and Σ over every parameter, the papers' definitions) on a 49-8-8-10 net over
/// 7x7 MNIST (D = 562): the dense f64 Hessian of all parameters is the oracle.
#[test]
fn matrix_free_alignment_over_all_parameters_equals_dense_definitions() {
    let mut cfg = tiny(Fig6Config::demo().track);
    cfg.widths = vec![49, 8, 8, 10];
    cfg.span = HessianSpan::Full;
    let train = block_means(&common::mnist("train"), 4).unwrap();
    matrix_free_alignment_equals_dense(cfg, train);
}

fn matrix_free_alignment_equals_dense(mut cfg: TrackConfig, train: Dataset) {
    // tanh: central differences of the gradient would jump across ReLU's kinks.
    cfg.activation = dropout_lab::model::Activation::Tanh;
    let sub = train.first(cfg.train_size).unwrap();
    let device = cpu_device();
    let resident = DeviceData::upload(&sub, &device);
    let theta = initial_params(&cfg.model(0.0), &mut stream(4, Stream::Init));
    let s = cfg.settings[0];
    pollster::block_on(async {
        let (a, compared) = alignment_at(
            &cfg,
            &s,
            &theta.to_net(&cfg.model(0.0)).unwrap(),
            &sub,
            &resident,
            &device,
            3,
        )
        .await
        .unwrap();
        assert!(compared.is_none(), "Fig 6 uses the plain Hessian only");
        // Dense H over the block from the f64 reference; dense Σ from samples drawn with the
        // same derived seed.
        let p64 = common::reference::params_f64(&theta);
        let x64: Vec<f64> = sub.features.iter().map(|&v| v as f64).collect();
        let labels: Vec<usize> = sub.labels.iter().map(|&l| l as usize).collect();
        let act = cfg.model(0.0).activation;
        let h = match cfg.span {
            HessianSpan::Block => common::reference::block_hessian_f64(
                &p64,
                &cfg.widths,
                act,
                &x64,
                &labels,
                cfg.block_layer,
            ),
            HessianSpan::Full => {
                common::reference::full_hessian_f64(&p64, &cfg.widths, act, &x64, &labels)
            }
        };
        let d = h.nrows() as f64;
        let noisy = cfg.model(s.drop_rate);
        let seed = cfg
            .seed
            .wrapping_add(3u64.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let samples = gradient_samples(
            &noisy,
            &theta,
            &noisy.drop_rates,
            &sub,
            cfg.span.span(cfg.block_layer),
            cfg.samples,
            seed,
            &device,
            |_| {},
        )
        .await
        .unwrap();
        let g = centre(&samples).unwrap();
        let sigma = g.transpose() * &g / (cfg.samples as f64 - 1.0);
        let t = (&h * &sigma).trace();
        // f32 HVPs against an f64 finite-difference Hessian: agreement to 1e-4.
        assert!(
            (a.trace_h_sigma - t).abs() <= 1e-4 * t.abs(),
            "Tr(HΣ) {} vs dense {t}",
            a.trace_h_sigma
        );
        assert!((a.covariance.trace - sigma.trace()).abs() <= 1e-9 * sigma.trace());
        assert!((a.covariance.frobenius - sigma.norm()).abs() <= 1e-9 * sigma.norm());
        // Hutchinson estimates within 4 of their own standard errors of the exact values.
        let (tr, fr) = (h.trace(), h.norm_squared());
        common::assert_hutchinson_near(&a, tr, fr);
        let iso = tr * sigma.trace() / d;
        assert!((a.trace_h_isotropic - iso).abs() <= 4.0 * a.trace_h.std_error * sigma.trace() / d);
        // The null's exact mean (the chance level a full-span chart draws) from the dense H and Σ,
        // within the Hutchinson errors propagated to first order.
        let null = tr * sigma.trace() / (d * h.norm() * sigma.norm());
        let rel = a.trace_h.std_error / tr.abs() + 0.5 * a.frobenius_sq_h.std_error / fr;
        assert!(
            (a.null_mean() - null).abs() <= 4.0 * rel * null.abs(),
            "null mean {} vs dense {null}",
            a.null_mean()
        );
    });
}

#[test]
fn fig6_tracks_every_checkpoint_and_is_reproducible_at_the_end() {
    let train = common::mnist("train");
    let cfg = Fig6Config {
        track: tiny(Fig6Config::demo().track),
    };
    let r = pollster::block_on(run_fig6(
        &cfg,
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap();
    let epochs: Vec<usize> = r.series[0].checkpoints.iter().map(|c| c.epoch).collect();
    assert_eq!(epochs, vec![0, 10, 20]);
    let losses: Vec<f32> = r.series[0]
        .checkpoints
        .iter()
        .map(|c| c.train_loss)
        .collect();
    assert!(losses[2] < losses[0], "GD lowers the loss: {losses:?}");
    let again = pollster::block_on(run_fig6(
        &cfg,
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(r.series, again.series, "same seed, same numbers");
}

/// Over all parameters the sampled null (which needs H's whole spectrum) is skipped, and the
/// summary gives its exact mean instead.
#[test]
fn cosine_over_all_parameters_reports_the_null_mean_without_a_dense_spectrum() {
    use dropout_lab::experiments::Preset;
    let train = block_means(&common::mnist("train"), 4).unwrap();
    let mut cfg = CosineConfig::demo();
    cfg.track = tiny(cfg.track);
    cfg.track.widths = vec![49, 8, 8, 10];
    cfg.track.span = HessianSpan::Full;
    cfg.null_repeats = 10;
    let r = pollster::block_on(run_cosine(
        &cfg,
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap();
    assert!(r.null.is_none());
    let summary = dropout_lab::experiments::p001_fig3_cosine::Cosine::summary(&r);
    let last = r.series[0].checkpoints.last().unwrap();
    assert!(
        summary.contains("all parameters, D = 562")
            && summary.contains(&format!("{:.2e}", last.alignment.null_mean())),
        "{summary}"
    );
    assert!(last.alignment.cosine > 3.0 * last.alignment.null_mean());
}

#[test]
fn cosine_null_baseline_uses_the_final_spectra_of_the_plain_hessian() {
    null_baseline_uses_the_final_spectra(HessianOf::Plain);
}

#[test]
fn cosine_null_baseline_uses_the_final_spectra_of_the_expected_hessian() {
    null_baseline_uses_the_final_spectra(HessianOf::Expected);
}

/// The null from the dense H at the final θ: the plain Hessian, or for ∇²L_S the average of the
/// exact masked Hessians (one fixed mask each, `HessianOperator`) over the run's `null_masks`
/// masks, redrawn here from the seed's mask stream.
fn null_baseline_uses_the_final_spectra(hessian: HessianOf) {
    let train = common::mnist("train");
    let mut cfg = CosineConfig::demo();
    cfg.track = tiny(cfg.track);
    cfg.track.hessian = hessian;
    cfg.null_repeats = 10;
    cfg.null_masks = 3;
    let r = pollster::block_on(run_cosine(
        &cfg,
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap();
    let n = r.null.expect("null baseline requested");
    let last = r.series[0].checkpoints.last().unwrap();
    assert!(
        last.alignment.cosine > 3.0 * n.analytic_mean + 4.0 * n.sample_std,
        "α {} should stand well above the null {}",
        last.alignment.cosine,
        n.analytic_mean
    );
    assert!(
        (n.sample_mean - n.analytic_mean).abs()
            <= 4.0 * n.sample_std / (n.repeats as f64).sqrt() + 1e-12
    );
    // The analytic mean from the dense block Hessian's spectrum at the same final θ.
    pollster::block_on(async {
        let device = cpu_device();
        let sub = train.first(cfg.track.train_size).unwrap();
        let resident = DeviceData::upload(&sub, &device);
        let tc = cfg.track.train_config(&cfg.track.settings[0]);
        assert_eq!(
            tc.mlp().unwrap().drop_rates[0],
            0.3,
            "001 trains with dropout"
        );
        let model = Mlp::from_host(
            &cfg.track.model(0.0),
            &common::trained_params(&tc, &sub).await,
            &device,
        );
        let mut op = HessianOperator::new(&model, &resident, Span::Block(Block { layer: 1 }));
        let h = match hessian {
            HessianOf::Plain => to_dense(&mut op, 64, &mut Silent, "").await.unwrap().0,
            HessianOf::Expected => {
                let mut rng = stream(cfg.track.seed, Stream::HessianMasks);
                let mut sum = nalgebra::DMatrix::zeros(256, 256);
                for _ in 0..cfg.null_masks {
                    op.masks = vec![sample_mask(&mut rng, sub.len(), 16, 0.3), None];
                    sum += to_dense(&mut op, 64, &mut Silent, "").await.unwrap().0;
                }
                sum / cfg.null_masks as f64
            }
        };
        let lambda = symmetric_eigen(h.clone()).unwrap().values;
        let mu = &last.alignment.covariance.eigenvalues;
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        // The null: Σ's eigenbasis uniformly random relative to H's, so α = Σ_ij λ_i μ_j (v_iᵀu_j)²
        // / (‖λ‖‖μ‖) with each v_i uniform on the sphere in H's basis. Its mean by Monte Carlo
        // (not by the closed form the code uses), within 4 standard errors.
        let mut rng = stream(77, Stream::Directions);
        let draws = 400;
        let values: Vec<f64> = (0..draws)
            .map(|_| {
                let mut total = 0.0;
                for &l in &lambda {
                    let z: Vec<f64> = (0..256)
                        .map(|_| rng.sample::<f64, _>(StandardNormal))
                        .collect();
                    let r2: f64 = z.iter().map(|v| v * v).sum();
                    total += l * mu.iter().zip(&z).map(|(m, v)| m * v * v).sum::<f64>() / r2;
                }
                total / (norm(&lambda) * norm(mu))
            })
            .collect();
        let mean = values.iter().sum::<f64>() / draws as f64;
        let sd =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (draws - 1) as f64).sqrt();
        assert!(
            (n.analytic_mean - mean).abs() <= 4.0 * sd / (draws as f64).sqrt(),
            "analytic null mean {} vs Monte Carlo {mean} ± {}",
            n.analytic_mean,
            sd / (draws as f64).sqrt()
        );
    });
}

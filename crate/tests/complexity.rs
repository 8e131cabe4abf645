//! Paper 002 Sec. 4-5.2 on genuine MNIST at tiny scale: the sharpness σ against an independent
//! f64 loss, the sampling method against a known Gaussian, the complexity table's PAC-Bayes
//! columns against their parts, and Fig. 2(a)/(c)'s update correlations against a directly
//! recorded trajectory.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::analysis::sharpness::{
    perturb_weights, sharpness_sigma, NetDeviation, SharpnessOptions,
};
use dropout_lab::analysis::update_correlation::abs_correlation;
use dropout_lab::analysis::volume::independent_log_volume;
use dropout_lab::analysis::weight_sampling::{sample_volumes, SamplingOptions, SamplingResult};
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::experiments::p002_complexity_table::{run as run_table, ComplexityTableConfig};
use dropout_lab::experiments::p002_fig2_volume::{run as run_volume, VolumeTrackConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, HostParams, InitScheme, MlpConfig};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::{OptimizerKind, TrainConfig, Trainer};
use rand::Rng;
use rand_distr::StandardNormal;

fn small_net() -> MlpConfig {
    MlpConfig {
        widths: vec![784, 16, 10],
        activation: Activation::Relu,
        drop_rates: vec![0.0],
        init: InitScheme::He,
    }
}

fn trained(data: &Dataset) -> HostParams {
    let tc = TrainConfig::for_preset(
        small_net(),
        OptimizerKind::Sgd,
        0.05,
        3,
        20,
        data.len(),
        data.len(),
        3,
    );
    pollster::block_on(common::trained_params(&tc, data))
}

/// The sampling method from the MLP θ, its epochs trained as `trained` trains (plain SGD).
fn sampled(
    theta: &HostParams,
    data: &Dataset,
    opts: &SamplingOptions,
    seed: u64,
) -> SamplingResult {
    let tc = TrainConfig::for_preset(
        small_net(),
        OptimizerKind::Sgd,
        opts.lr,
        1,
        opts.batch_size,
        data.len(),
        data.len(),
        seed,
    );
    let theta = theta.to_net(&small_net()).unwrap();
    pollster::block_on(sample_volumes(
        &tc,
        &theta,
        data,
        opts,
        seed,
        &cpu_device(),
        "cpu",
        &mut Silent,
    ))
    .unwrap()
}

/// L(θ) in f64 by the reference implementation.
fn reference_loss(theta: &HostParams, data: &Dataset) -> f64 {
    let p = common::reference::params_f64(theta);
    let x: Vec<f64> = data.features.iter().map(|&v| v as f64).collect();
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    common::reference::loss_f64(
        &p,
        &theta.widths,
        Activation::Relu,
        &x,
        &labels,
        &vec![None; theta.widths.len() - 2],
    )
    .0
}

#[test]
fn sharpness_sigma_is_the_first_crossing_of_the_reference_loss() {
    let data = common::mnist("train").first(200).unwrap();
    let theta = trained(&data);
    let opts = SharpnessOptions {
        epsilon: 0.05,
        draws: 3,
        ..SharpnessOptions::default()
    };
    let seed = 11;
    let s = pollster::block_on(async {
        let mut dev =
            NetDeviation::new(&small_net(), &theta, &data, opts.draws, seed, &cpu_device())
                .await
                .unwrap();
        sharpness_sigma(&mut dev, &opts).await.unwrap()
    });
    assert!(!s.capped && s.sigma > 0.0, "{s:?}");
    // The same directions, drawn again from the seed; the loss from the f64 reference net.
    let weights: usize = theta.layers.iter().map(|(w, _)| w.len()).sum();
    let mut rng = stream(seed, Stream::Sharpness);
    let dirs: Vec<Vec<f32>> = (0..opts.draws)
        .map(|_| (0..weights).map(|_| rng.sample(StandardNormal)).collect())
        .collect();
    let base = reference_loss(&theta, &data);
    let deviation = |sigma: f64| {
        dirs.iter()
            .map(|z| (reference_loss(&perturb_weights(&theta, z, sigma), &data) - base).abs())
            .fold(0.0f64, f64::max)
    };
    // f32 against f64 evaluation: 1e-4 of slack.
    assert!(
        (deviation(s.sigma) - s.deviation).abs() < 1e-4,
        "{} vs {}",
        deviation(s.sigma),
        s.deviation
    );
    assert!(deviation(s.sigma) <= opts.epsilon + 1e-4);
    // Below σ nothing crosses (the max over σ' ≤ σ), just above it the loss does.
    for f in [0.25, 0.5, 0.75] {
        assert!(deviation(f * s.sigma) <= opts.epsilon + 1e-4);
    }
    assert!(
        deviation(1.01 * s.sigma) > opts.epsilon,
        "σ is the largest within ε"
    );
}

#[test]
fn sampling_without_training_recovers_independent_gaussian_weights() {
    // lr = 0 and a huge ε: every sample is W + σ_U z, so each layer's sampled volume must match
    // the closed-form expectation for uncorrelated weights with as many samples. Blocks are
    // disjoint and independent, so a layer's mean over B blocks has standard error s/√B, s the
    // spread of one block's log det of the sample correlation of 30 Gaussian draws of 5 weights,
    // simulated here (4000 blocks); allow 4 standard errors per weight.
    let data = common::mnist("train").first(100).unwrap();
    let theta = trained(&data);
    let opts = SamplingOptions {
        noise_std: 0.01,
        iterations: 30,
        epsilon: 1e9,
        lr: 0.0,
        chain: false,
        block: 5,
        ..SamplingOptions::default()
    };
    let r = sampled(&theta, &data, &opts, 4);
    assert_eq!((r.accepted, r.acceptance_rate), (30, 1.0));
    let floor = independent_log_volume(30, 5).unwrap() / 5.0;
    let mut sim = stream(99, Stream::Directions);
    let block_log_det: Vec<f64> = (0..4000)
        .map(|_| {
            let x = nalgebra::DMatrix::<f64>::from_fn(30, 5, |_, _| sim.sample(StandardNormal));
            let mean = x.row_mean();
            let c = nalgebra::DMatrix::from_fn(30, 5, |i, j| x[(i, j)] - mean[j]);
            let cov = c.transpose() * &c;
            let d = nalgebra::DMatrix::from_fn(5, 5, |i, j| {
                cov[(i, j)] / (cov[(i, i)] * cov[(j, j)]).sqrt()
            });
            common::reference::log_det_spd(&d)
        })
        .collect();
    let m = block_log_det.iter().sum::<f64>() / 4000.0;
    let spread = (block_log_det.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 3999.0).sqrt();
    // The simulation also checks the closed form the code reports as the floor.
    assert!(
        (m / 5.0 - floor).abs() < 4.0 * spread / (4000f64).sqrt() / 5.0,
        "{} vs {floor}",
        m / 5.0
    );
    for l in &r.layers {
        assert!((l.independent_log_volume_per_weight - floor).abs() < 1e-12);
        let tolerance = 4.0 * spread / (l.blocks as f64).sqrt() / 5.0;
        assert!(
            (l.log_volume_per_weight - floor).abs() < tolerance,
            "layer {}: {} vs {floor} over {} blocks (tolerance {tolerance})",
            l.layer,
            l.log_volume_per_weight,
            l.blocks
        );
        assert!(
            (l.log_volume - l.log_volume_per_weight * (l.fan_in * l.fan_out) as f64).abs() < 1e-9
        );
    }
    assert!((r.base_loss - reference_loss(&theta, &data)).abs() < 1e-4);
}

#[test]
fn sampling_accepts_exactly_the_samples_within_epsilon_and_explains_too_few() {
    let data = common::mnist("train").first(100).unwrap();
    let theta = trained(&data);
    let opts = SamplingOptions {
        noise_std: 0.02,
        iterations: 12,
        epsilon: 0.02,
        lr: 1e-4,
        batch_size: 20,
        chain: true,
        block: 3,
    };
    let r = sampled(&theta, &data, &opts, 5);
    let within = r
        .losses
        .iter()
        .filter(|l| l.is_some_and(|l| (l - r.base_loss).abs() <= opts.epsilon))
        .count();
    assert_eq!(r.accepted, within);
    assert_eq!(r.acceptance_rate, within as f64 / 12.0);
    // The chain accumulates noise: its losses drift away from L(W) on average.
    let drift = |ls: &[Option<f64>]| -> f64 {
        ls.iter()
            .map(|l| l.map_or(f64::INFINITY, |l| (l - r.base_loss).abs()))
            .sum()
    };
    let (first, last) = (drift(&r.losses[..4]), drift(&r.losses[8..]));
    assert!(last > first, "{:?}", r.losses);
    let strict = SamplingOptions {
        epsilon: 1e-12,
        ..opts
    };
    let r = sampled(&theta, &data, &strict, 5);
    assert_eq!(r.accepted, 0);
    assert!(r.layers.is_empty());
    assert!(r.volume_error.unwrap().contains("raise ε"));
}

#[test]
fn complexity_table_columns_follow_from_their_parts() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = ComplexityTableConfig::demo();
    cfg.base.train_size = 300;
    cfg.base.test_size = 300;
    cfg.base.widths = vec![784, 16, 10];
    cfg.base.epochs = 2;
    cfg.base.kfac_rows = 100;
    cfg.loss_rows = 200;
    cfg.settings.truncate(3);
    cfg.sampling.iterations = 12;
    cfg.sampling.block = 4;
    let r = pollster::block_on(run_table(
        &cfg,
        &common::cpu_inputs(&train, &test),
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(r.nets.len(), 3);
    let row = |name: &str| r.rows.iter().find(|x| x.name == name).unwrap();
    // Eq. 25-27 formed here from W⁰ (the seed's initialisation) and W^F (the same training run
    // again): squared Frobenius distance, squared parameter norm, and the squared spectral norm
    // of W^F − W⁰ per layer by power iteration on (ΔW)ᵀΔW in f64.
    for (i, s) in cfg.settings.iter().enumerate() {
        let mut one = cfg.base.clone();
        one.drop_rate = s.drop_rate;
        one.lr = s.lr;
        let tc = one.train_config(one.drop_rate > 0.0);
        let w0 = initial_params(tc.mlp().unwrap(), &mut stream(tc.seed, Stream::Init));
        let sub = train.first(tc.train_size).unwrap();
        let wf = pollster::block_on(common::trained_params(&tc, &sub));
        let (mut frob, mut param, mut spectral) = (0.0, 0.0, 0.0);
        for (l, ((a, _), (b, _))) in w0.layers.iter().zip(&wf.layers).enumerate() {
            let (rows, cols) = (tc.mlp().unwrap().widths[l], tc.mlp().unwrap().widths[l + 1]);
            let d: Vec<f64> = a
                .iter()
                .zip(b)
                .map(|(x, y)| *y as f64 - *x as f64)
                .collect();
            frob += d.iter().map(|v| v * v).sum::<f64>();
            param += b.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
            let mut v = vec![1.0; cols];
            let mut lambda = 0.0;
            for _ in 0..500 {
                let u: Vec<f64> = (0..rows)
                    .map(|r| (0..cols).map(|c| d[r * cols + c] * v[c]).sum())
                    .collect();
                let w: Vec<f64> = (0..cols)
                    .map(|c| (0..rows).map(|r| d[r * cols + c] * u[r]).sum())
                    .collect();
                lambda = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                v = w.iter().map(|x| x / lambda).collect();
            }
            spectral += lambda;
        }
        let close = |name: &str, want: f64| {
            let got = row(name).values[i].unwrap();
            assert!(
                (got - want).abs() <= 1e-6 * want,
                "{name} of net {i}: {got} vs {want}"
            );
        };
        close("Frob distance", frob);
        close("Parameter norm", param);
        close("Spectral norm", spectral);
    }
    for (i, n) in r.nets.iter().enumerate() {
        assert!((n.loss_gap - (n.test_loss - n.train_loss)).abs() < 1e-7);
        let pac = row("PAC-Sharpness").values[i].unwrap();
        let frob = row("Frob distance").values[i].unwrap();
        let s2 = n.sharpness.sigma.powi(2);
        assert!((pac - frob / (2.0 * s2)).abs() < 1e-9 * pac);
        assert!((row("Sharpness 1/σ²").values[i].unwrap() - 1.0 / s2).abs() < 1e-9 / s2);
        let laplace: f64 = n.laplace.iter().map(|l| l.log_volume).sum();
        assert!((row("PAC-S(Laplace)").values[i].unwrap() - (pac - laplace)).abs() < 1e-6 * pac);
        assert_eq!(
            n.sampling.options.noise_std, n.sharpness.sigma,
            "σ_U from the sharpness method"
        );
        match row("PAC-S(Sampling)").values[i] {
            Some(v) => {
                let sampled: f64 = n.sampling.layers.iter().map(|l| l.log_volume).sum();
                assert!((v - (pac - sampled)).abs() < 1e-6 * pac);
            }
            None => assert!(n.sampling.volume_error.is_some()),
        }
    }
    // Every complete column has its agreement with GG and with the drop rate.
    for x in &r.rows {
        assert_eq!(x.values.len(), 3);
        assert_eq!(
            x.gap.is_some(),
            x.values.iter().all(Option::is_some),
            "{}",
            x.name
        );
    }
    let mut bad = cfg.clone();
    bad.settings.truncate(1);
    assert!(pollster::block_on(run_table(
        &bad,
        &common::cpu_inputs(&train, &test),
        &mut Silent
    ))
    .is_err());
}

#[test]
fn update_correlations_are_those_of_the_recorded_trajectory() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = VolumeTrackConfig::demo();
    cfg.train_size = 200;
    cfg.test_size = 100;
    cfg.epochs = 3;
    cfg.batch_size = 20;
    cfg.kfac_rows = 50;
    cfg.correlation_layer = 1;
    cfg.correlation_grid = 3;
    cfg.correlation_epochs = vec![1, 3];
    let r = pollster::block_on(run_volume(
        &cfg,
        &common::cpu_inputs(&train, &test),
        &mut Silent,
    ))
    .unwrap();
    // Train the dropout network again, reading the layer's weights after every step directly.
    let tc = cfg.train_config(true);
    let trajectory: Vec<Vec<f32>> = pollster::block_on(async {
        let mut t = Trainer::new(tc.clone(), &train, &test, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        let mut out = vec![t.mlp().unwrap().to_host().await.unwrap().layers[1]
            .0
            .clone()];
        while !t.is_done() {
            t.run(1).await.unwrap();
            out.push(
                t.mlp().unwrap().to_host().await.unwrap().layers[1]
                    .0
                    .clone(),
            );
        }
        out
    });
    let steps = tc.steps_per_epoch();
    let fan_out = cfg.widths[2];
    for (k, &epoch) in cfg.correlation_epochs.iter().enumerate() {
        let updates: Vec<Vec<f64>> = ((epoch - 1) * steps..epoch * steps)
            .map(|t| {
                (0..3)
                    .flat_map(|i| (0..3).map(move |j| i * fan_out + j))
                    .map(|w| trajectory[t + 1][w] as f64 - trajectory[t][w] as f64)
                    .collect()
            })
            .collect();
        let want = abs_correlation(&updates).unwrap();
        let got = &r.runs[1].update_correlations[k];
        assert_eq!(got.epoch, epoch);
        assert_eq!(got.correlation.abs_correlation, want.abs_correlation);
        assert_eq!(
            got.correlation.mean_abs_off_diagonal,
            want.mean_abs_off_diagonal
        );
        // Grid weight a = 3i + j is w_ij: average |ρ| over pairs with i ≠ k and j ≠ l.
        let (mut sum, mut n) = (0.0, 0);
        for a in 0..9 {
            for b in 0..9 {
                if a / 3 != b / 3 && a % 3 != b % 3 {
                    sum += want.abs_correlation[a][b];
                    n += 1;
                }
            }
        }
        assert_eq!(n, 9 * 4);
        let distinct = got.correlation.mean_abs_distinct_units.unwrap();
        assert!(
            (distinct - sum / n as f64).abs() < 1e-12,
            "{distinct} vs {}",
            sum / n as f64
        );
    }
    let mut bad = cfg.clone();
    bad.correlation_epochs = vec![4];
    assert!(pollster::block_on(run_volume(
        &bad,
        &common::cpu_inputs(&train, &test),
        &mut Silent
    ))
    .is_err());
}

#[test]
fn worst_case_ascent_finds_the_maximum_of_an_exhaustive_grid_over_the_box() {
    use dropout_lab::analysis::worst_case_sharpness::WorstCaseDeviation;
    // 2-2-2 tanh net (8 weights): the worst loss increase in the box |u_i| ≤ α over the weights,
    // by the f64 reference loss on every point of a 5⁸ grid (corners included), against the
    // ascent's value. The ascent's point lies in the box, so it can exceed the grid's maximum only
    // by what lies between grid points; it must reach the grid's maximum to 1 %.
    let cfg = MlpConfig {
        widths: vec![2, 2, 2],
        activation: Activation::Tanh,
        drop_rates: vec![0.0],
        init: InitScheme::Xavier,
    };
    let mut rng = stream(5, Stream::Init);
    let theta = dropout_lab::model::init::initial_params(&cfg, &mut rng);
    let rows = 12;
    let data = Dataset {
        features: (0..rows * 2).map(|_| rng.random_range(-1.0..1.0)).collect(),
        labels: (0..rows).map(|i| (i % 2) as u8).collect(),
        dim: 2,
        classes: 2,
    };
    let x64: Vec<f64> = data.features.iter().map(|&v| v as f64).collect();
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    let loss = |u: &[f64]| {
        let mut p: Vec<Vec<f64>> = Vec::new();
        let mut o = 0;
        for (w, b) in &theta.layers {
            p.push(
                w.iter()
                    .enumerate()
                    .map(|(i, &v)| v as f64 + u[o + i])
                    .collect(),
            );
            p.push(b.iter().map(|&v| v as f64).collect());
            o += w.len();
        }
        common::reference::loss_f64(&p, &cfg.widths, cfg.activation, &x64, &labels, &[None]).0
    };
    let base = loss(&[0.0; 8]);
    let dev = pollster::block_on(WorstCaseDeviation::new(
        &cfg,
        &theta,
        &data,
        8,
        1,
        &cpu_device(),
    ))
    .unwrap();
    assert!((dev.base_loss() - base).abs() < 1e-6);
    for alpha in [0.05, 0.3] {
        let mut grid_max = f64::NEG_INFINITY;
        let ticks = [-1.0, -0.5, 0.0, 0.5, 1.0];
        for k in 0..5usize.pow(8) {
            let u: Vec<f64> = (0..8)
                .map(|d| alpha * ticks[(k / 5usize.pow(d)) % 5])
                .collect();
            grid_max = grid_max.max(loss(&u) - base);
        }
        let got = pollster::block_on(dev.worst_increase(alpha)).unwrap();
        assert!(
            got >= 0.99 * grid_max && got <= grid_max + 0.01 * grid_max.abs() + 1e-6,
            "α = {alpha}: ascent {got} vs grid {grid_max}"
        );
    }
}

//! Paper 002 Sec. 4-5.2 on genuine MNIST at tiny scale: the sharpness σ against an independent
//! f64 loss, the sampling method against a known Gaussian, the complexity table's PAC-Bayes
//! columns against their parts, and Fig. 2(a)/(c)'s update correlations against a directly
//! recorded trajectory.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use dropout_lab::analysis::sharpness::{
    perturb_weights, sharpness_sigma, NetDeviation, SharpnessOptions,
};
use dropout_lab::analysis::update_correlation::abs_correlation;
use dropout_lab::analysis::volume::independent_log_volume;
use dropout_lab::analysis::weight_sampling::{sample_volumes, SamplingOptions};
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::experiments::p002_complexity_table::{run as run_table, ComplexityTableConfig};
use dropout_lab::experiments::p002_fig2_volume::{run as run_volume, VolumeTrackConfig};
use dropout_lab::experiments::Silent;
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

/// L(θ) in f64 by the reference implementation.
fn reference_loss(theta: &HostParams, data: &Dataset) -> f64 {
    let p: Vec<Vec<f64>> = theta
        .layers
        .iter()
        .flat_map(|(w, b)| {
            [
                w.iter().map(|&v| v as f64).collect(),
                b.iter().map(|&v| v as f64).collect(),
            ]
        })
        .collect();
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
    // disjoint, so the mean over the ~2500 blocks of the first layer has a standard error below
    // 0.01 in block log vol (0.002 per weight); allow 0.01 per weight.
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
    let r = pollster::block_on(sample_volumes(
        &small_net(),
        &theta,
        &data,
        &opts,
        4,
        &cpu_device(),
        "cpu",
        &mut Silent,
    ))
    .unwrap();
    assert_eq!((r.accepted, r.acceptance_rate), (30, 1.0));
    let floor = independent_log_volume(30, 5).unwrap() / 5.0;
    for l in &r.layers {
        assert!((l.independent_log_volume_per_weight - floor).abs() < 1e-12);
        assert!(
            (l.log_volume_per_weight - floor).abs()
                < 0.01 + if l.blocks < 100 { 0.05 } else { 0.0 },
            "layer {}: {} vs {floor} over {} blocks",
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
    let r = pollster::block_on(sample_volumes(
        &small_net(),
        &theta,
        &data,
        &opts,
        5,
        &cpu_device(),
        "cpu",
        &mut Silent,
    ))
    .unwrap();
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
    let r = pollster::block_on(sample_volumes(
        &small_net(),
        &theta,
        &data,
        &strict,
        5,
        &cpu_device(),
        "cpu",
        &mut Silent,
    ))
    .unwrap();
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
        let mut out = vec![t.model().to_host().await.unwrap().layers[1].0.clone()];
        while !t.is_done() {
            t.run(1).await.unwrap();
            out.push(t.model().to_host().await.unwrap().layers[1].0.clone());
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

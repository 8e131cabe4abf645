//! The K-FAC factors against exact block Hessians. For one sample and a ReLU net, the Hessian of
//! the loss w.r.t. W_l is exactly A_{l-1} ⊗ H_l (z_l is linear in W_l, ReLU has act'' = 0, and the
//! output Hessian is diag(p) - ppᵀ), so kron(E[A], E[H]) must equal the dense block Hessian built
//! from the exact HVPs (themselves checked against f64 finite differences in tests/hessian.rs),
//! with and without a dropout mask. The weight vector is row-major [fan_in, fan_out], which is
//! exactly the index order of kron(A, H).
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use dropout_lab::analysis::hessian::{HessianOperator, Span};
use dropout_lab::analysis::kfac::{factors, laplace_volumes, MaskNoise};
use dropout_lab::analysis::noise::Block;
use dropout_lab::analysis::volume::log_volume;
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::model::dropout::{sample_gaussian_mask, sample_mask};
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, InitScheme, Mlp, MlpConfig};
use dropout_lab::progress::Silent;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::DeviceData;
use nalgebra::DMatrix;
use rand::Rng;

/// One sample through a ReLU net, with `noise`'s masks drawn from stream 7 as `factors` draws
/// them. For that fixed mask the block Hessian of W_l is exactly (a aᵀ) ⊗ H_l, a = h ⊙ m the
/// layer's masked input, and `factors` must give that H_l; its A_l is the expectation over the
/// layer's own mask given h, h hᵀ + diag(h²)·q/(1−q), both formed here by an f64 forward.
fn check(widths: Vec<usize>, drop_rates: Vec<f32>, noise: MaskNoise) {
    let cfg = MlpConfig {
        widths: widths.clone(),
        activation: Activation::Relu,
        drop_rates: drop_rates.clone(),
        init: InitScheme::He,
    };
    let mut rng = stream(6, Stream::Init);
    let theta = initial_params(&cfg, &mut rng);
    let data = Dataset {
        features: (0..widths[0])
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        labels: vec![1],
        dim: widths[0],
        classes: *widths.last().unwrap(),
    };
    let f = factors(
        &cfg,
        &theta,
        &data,
        noise,
        1,
        &mut stream(7, Stream::DropoutMasks),
    )
    .unwrap();
    // The same masks, drawn from the same stream, held fixed for the HVPs.
    let mut mrng = stream(7, Stream::DropoutMasks);
    let masks: Vec<Option<Vec<f32>>> = drop_rates
        .iter()
        .zip(&widths[1..])
        .map(|(&p, &w)| match noise {
            MaskNoise::Off => None,
            MaskNoise::Bernoulli => sample_mask(&mut mrng, 1, w, p),
            MaskNoise::Gaussian => sample_gaussian_mask(&mut mrng, 1, w, p),
        })
        .collect();
    // f64 forward: each layer's input before (h) and after (a) its mask.
    let mut h: Vec<f64> = data.features.iter().map(|&x| x as f64).collect();
    let mut inputs: Vec<(Vec<f64>, Vec<f64>, f64)> = vec![(h.clone(), h.clone(), 0.0)];
    for l in 0..widths.len() - 2 {
        let (w, b) = &theta.layers[l];
        let (a, _, _) = inputs.last().unwrap().clone();
        let _ = &h;
        h = (0..widths[l + 1])
            .map(|o| {
                let z: f64 = (0..widths[l])
                    .map(|i| a[i] * w[i * widths[l + 1] + o] as f64)
                    .sum::<f64>()
                    + b[o] as f64;
                z.max(0.0)
            })
            .collect();
        let m = masks[l]
            .clone()
            .map(|m| m.iter().map(|&x| x as f64).collect::<Vec<_>>());
        let masked: Vec<f64> = h
            .iter()
            .enumerate()
            .map(|(i, v)| v * m.as_ref().map_or(1.0, |m| m[i]))
            .collect();
        let q = if m.is_some() {
            drop_rates[l] as f64
        } else {
            0.0
        };
        inputs.push((masked, h.clone(), q / (1.0 - q)));
    }
    let device = cpu_device();
    let model = Mlp::from_host(&cfg, &theta, &device);
    let resident = DeviceData::upload(&data, &device);
    for l in 0..widths.len() - 1 {
        let (a, h, excess) = &inputs[l];
        let n = a.len();
        let want_a = DMatrix::from_fn(n, n, |i, j| {
            h[i] * h[j] * if i == j { 1.0 + excess } else { 1.0 }
        });
        let err_a = (&f.a[l] - &want_a).amax();
        assert!(
            err_a <= 1e-9 * want_a.amax().max(1e-6),
            "layer {l}: E[A] off by {err_a:e}"
        );
        let mut op = HessianOperator::new(&model, &resident, Span::Block(Block { layer: l }));
        op.masks = masks.clone();
        let (exact, _) = pollster::block_on(to_dense(&mut op, 64, &mut Silent, "")).unwrap();
        let aat = DMatrix::from_fn(n, n, |i, j| a[i] * a[j]);
        let kron = aat.kronecker(&f.h[l]);
        let err = (&kron - &exact).amax();
        assert!(
            err <= 1e-5 * exact.amax().max(1e-6),
            "layer {l}: max |aaᵀ⊗H - H_exact| = {err:e} of {:e}",
            exact.amax()
        );
    }
}

#[test]
fn single_linear_layer_factors_are_the_exact_hessian() {
    check(vec![5, 3], vec![], MaskNoise::Bernoulli);
}

#[test]
fn relu_layers_factor_exactly_for_one_sample() {
    check(vec![5, 4, 6, 3], vec![0.0, 0.0], MaskNoise::Bernoulli);
}

#[test]
fn with_a_dropout_mask_too() {
    check(vec![5, 4, 6, 3], vec![0.5, 0.3], MaskNoise::Bernoulli);
}

#[test]
fn with_gaussian_dropout_multipliers() {
    check(vec![5, 4, 6, 3], vec![0.5, 0.3], MaskNoise::Gaussian);
}

#[test]
fn mask_free_factors_ignore_the_drop_rates() {
    check(vec![5, 4, 6, 3], vec![0.5, 0.3], MaskNoise::Off);
}

#[test]
fn the_mask_expectation_scales_diag_a_by_exactly_one_over_keep() {
    // Dropout after the first hidden layer only: its output h is deterministic, so the second
    // layer's dropout-aware E[A] is the mask-free one with its diagonal times 1/(1−q).
    let q = 0.3f32;
    let cfg = MlpConfig {
        widths: vec![6, 5, 4, 3],
        activation: Activation::Tanh,
        drop_rates: vec![q, 0.0],
        init: InitScheme::Xavier,
    };
    let mut rng = stream(10, Stream::Init);
    let theta = initial_params(&cfg, &mut rng);
    let n = 25;
    let data = Dataset {
        features: (0..n * 6).map(|_| rng.random_range(-1.0..1.0)).collect(),
        labels: (0..n).map(|i| (i % 3) as u8).collect(),
        dim: 6,
        classes: 3,
    };
    let aware = factors(
        &cfg,
        &theta,
        &data,
        MaskNoise::Bernoulli,
        3,
        &mut stream(11, Stream::DropoutMasks),
    )
    .unwrap();
    let free = factors(
        &cfg,
        &theta,
        &data,
        MaskNoise::Off,
        1,
        &mut stream(11, Stream::DropoutMasks),
    )
    .unwrap();
    let (a, b) = (&aware.a[1], &free.a[1]);
    for i in 0..5 {
        for j in 0..5 {
            let want = if i == j {
                b[(i, j)] / (1.0 - q as f64)
            } else {
                b[(i, j)]
            };
            assert!(
                (a[(i, j)] - want).abs() <= 1e-12 * b.amax(),
                "A[{i},{j}]: {} vs {want}",
                a[(i, j)]
            );
        }
    }
    assert_eq!(aware.a[0], free.a[0], "the image is never masked");
}

#[test]
fn each_network_is_expected_over_the_noise_it_was_trained_with() {
    use dropout_lab::analysis::kfac::trained_noise;
    use dropout_lab::train::noise_step::NoiseInjection;
    let mut tc =
        dropout_lab::experiments::p002_fig2_volume::VolumeTrackConfig::demo().train_config(true);
    assert_eq!(trained_noise(&tc), MaskNoise::Bernoulli);
    tc.noise = Some(NoiseInjection::GaussianDropout);
    assert_eq!(trained_noise(&tc), MaskNoise::Gaussian);
}

#[test]
fn laplace_volume_is_the_volume_of_the_inverse_kronecker_product() {
    let cfg = MlpConfig {
        widths: vec![4, 3, 2],
        activation: Activation::Tanh,
        drop_rates: vec![0.2],
        init: InitScheme::Xavier,
    };
    let mut rng = stream(8, Stream::Init);
    let theta = initial_params(&cfg, &mut rng);
    let n = 30;
    let data = Dataset {
        features: (0..n * 4).map(|_| rng.random_range(-1.0..1.0)).collect(),
        labels: (0..n).map(|i| (i % 2) as u8).collect(),
        dim: 4,
        classes: 2,
    };
    let f = factors(
        &cfg,
        &theta,
        &data,
        MaskNoise::Bernoulli,
        5,
        &mut stream(9, Stream::DropoutMasks),
    )
    .unwrap();
    let tau = 1e-2;
    let v = laplace_volumes(&cfg, &f, tau).unwrap();
    for (l, lv) in v.iter().enumerate() {
        let damp = |m: &DMatrix<f64>| {
            m + DMatrix::identity(m.nrows(), m.nrows()) * (tau * m.diagonal().mean())
        };
        let sigma = damp(&f.a[l])
            .try_inverse()
            .unwrap()
            .kronecker(&damp(&f.h[l]).try_inverse().unwrap());
        let dense = log_volume(&sigma).unwrap();
        assert!(
            (lv.log_volume - dense).abs() < 1e-8 * dense.abs().max(1.0),
            "layer {l}: {} vs {dense}",
            lv.log_volume
        );
        assert!(lv.log_volume <= 0.0, "a volume is at most 1");
    }
    assert!(laplace_volumes(&cfg, &f, 0.0).is_err());
}

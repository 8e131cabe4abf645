//! Paper 002 Sec. 4.1 / 5.3 noise in the training step against independent computations on a tiny
//! tanh net: forward activation noise against the f64 reference loss, backward node-loss noise
//! against the hand-derived extra gradient a_{i-1}ᵀ c, weight noise against the clean gradient at
//! the perturbed weights, Gaussian dropout's moments, and training with each noise.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use burn::tensor::{Tensor, TensorData};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, HostParams, InitScheme, Mlp, MlpConfig};
use dropout_lab::objectives::explicit_implicit::trace;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::noise_step::{
    gaussian_masks, noisy_objective, with_weight_noise, NoiseInjection,
};
use dropout_lab::train::{OptimizerKind, TrainConfig, Trainer};
use rand::Rng;
use rand_distr::StandardNormal;

use common::reference::loss_f64;

const WIDTHS: [usize; 4] = [5, 4, 3, 3];
const ROWS: usize = 6;

fn setup() -> (MlpConfig, HostParams, Vec<f32>, Vec<usize>) {
    let cfg = MlpConfig {
        widths: WIDTHS.to_vec(),
        activation: Activation::Tanh,
        drop_rates: vec![0.0, 0.0],
        init: InitScheme::Xavier,
    };
    let mut rng = stream(31, Stream::Init);
    let mut params = initial_params(&cfg, &mut rng);
    for (_, b) in params.layers.iter_mut() {
        b.iter_mut().for_each(|v| *v = rng.random_range(-0.5..0.5));
    }
    let x = (0..ROWS * 5).map(|_| rng.random_range(-1.0..1.0)).collect();
    let labels = (0..ROWS).map(|i| i % 3).collect();
    (cfg, params, x, labels)
}

fn tensors(x: &[f32], labels: &[usize]) -> (Tensor<2>, Tensor<2>) {
    let d = cpu_device();
    let mut y = vec![0.0f32; ROWS * 3];
    labels
        .iter()
        .enumerate()
        .for_each(|(r, &l)| y[r * 3 + l] = 1.0);
    (
        Tensor::from_data(TensorData::new(x.to_vec(), [ROWS, 5]), &d),
        Tensor::from_data(TensorData::new(y, [ROWS, 3]), &d),
    )
}

fn read2(t: Tensor<2>) -> Vec<f64> {
    pollster::block_on(read_f32(t))
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}
fn read1(t: Tensor<1>) -> Vec<f64> {
    pollster::block_on(read_f32(t))
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn flat(g: Vec<(Tensor<2>, Tensor<1>)>) -> Vec<Vec<f64>> {
    g.into_iter()
        .flat_map(|(w, b)| [read2(w), read1(b)])
        .collect()
}

fn random(rows: usize, w: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = stream(seed, Stream::Directions);
    (0..rows * w)
        .map(|_| rng.random_range(-scale..scale))
        .collect()
}

#[test]
fn activation_noise_is_added_to_the_hidden_activations() {
    // h + e = h ⊙ m with m = (h + e) / h (tanh activations are never 0 here), so the reference
    // loss with those multiplicative masks is the noisy loss.
    let (cfg, params, x, labels) = setup();
    let d = cpu_device();
    let model = Mlp::from_host(&cfg, &params, &d);
    let (xt, yt) = tensors(&x, &labels);
    let e: Vec<Vec<f32>> = vec![random(ROWS, 4, 1, 0.3), random(ROWS, 3, 2, 0.3)];
    let act: Vec<Option<Tensor<2>>> = e
        .iter()
        .zip([4, 3])
        .map(|(v, w)| Some(Tensor::from_data(TensorData::new(v.clone(), [ROWS, w]), &d)))
        .collect();
    let got = read1(noisy_objective(&model, xt.clone(), yt, &act, &[]))[0];
    // The multipliers need the noisy net's own activations: layer 2's h depends on layer 1's noise.
    let t1 = trace(&model, xt.clone(), &[]);
    let h1 = read2(t1.h[0].clone());
    let m1: Vec<f64> = h1
        .iter()
        .zip(&e[0])
        .map(|(h, e)| (h + *e as f64) / h)
        .collect();
    let m1t = Tensor::from_data(
        TensorData::new(m1.iter().map(|&v| v as f32).collect::<Vec<_>>(), [ROWS, 4]),
        &d,
    );
    let t2 = trace(&model, xt, &[Some(m1t), None]);
    let h2 = read2(t2.h[1].clone());
    let m2: Vec<f64> = h2
        .iter()
        .zip(&e[1])
        .map(|(h, e)| (h + *e as f64) / h)
        .collect();
    let p64: Vec<Vec<f64>> = params
        .layers
        .iter()
        .flat_map(|(w, b)| [w, b])
        .map(|v| v.iter().map(|&a| a as f64).collect())
        .collect();
    let x64: Vec<f64> = x.iter().map(|&a| a as f64).collect();
    let (want, _) = loss_f64(
        &p64,
        &WIDTHS,
        Activation::Tanh,
        &x64,
        &labels,
        &[Some(m1), Some(m2)],
    );
    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
}

#[test]
fn node_noise_adds_its_backpropagated_error_and_leaves_the_loss() {
    // Noise c at hidden layer 1's pre-activation z_1 = h_0 W_1 + b_1 (the second weight layer):
    // ∂/∂W_1 gains h_0ᵀ c, ∂/∂b_1 gains Σ_rows c, the layer above is untouched, the one below
    // changes (the error travels down), and the loss value does not move.
    let (cfg, params, x, labels) = setup();
    let d = cpu_device();
    let model = Mlp::from_host(&cfg, &params, &d);
    let (xt, yt) = tensors(&x, &labels);
    let c = random(ROWS, 3, 3, 0.2);
    let node = vec![
        None,
        Some(Tensor::from_data(TensorData::new(c.clone(), [ROWS, 3]), &d)),
    ];
    let (l0, g0) = model.grads_of(|m| noisy_objective(m, xt.clone(), yt.clone(), &[], &[]));
    let (l1, g1) = model.grads_of(|m| noisy_objective(m, xt.clone(), yt.clone(), &[], &node));
    assert!(
        (read1(l0)[0] - read1(l1)[0]).abs() < 1e-7,
        "the value is unchanged"
    );
    let (g0, g1) = (flat(g0), flat(g1));
    let h0 = read2(trace(&model, xt, &[]).h[0].clone());
    for i in 0..4 {
        for j in 0..3 {
            let want: f64 = (0..ROWS).map(|r| h0[r * 4 + i] * c[r * 3 + j] as f64).sum();
            let got = g1[2][i * 3 + j] - g0[2][i * 3 + j];
            assert!((got - want).abs() < 1e-5, "W1[{i},{j}]: {got} vs {want}");
        }
    }
    for j in 0..3 {
        let want: f64 = (0..ROWS).map(|r| c[r * 3 + j] as f64).sum();
        assert!((g1[3][j] - g0[3][j] - want).abs() < 1e-5);
    }
    assert_eq!(
        g1[4], g0[4],
        "the output layer does not see noise injected below it"
    );
    assert_eq!(g1[5], g0[5]);
    assert!(
        g1[0].iter().zip(&g0[0]).any(|(a, b)| (a - b).abs() > 1e-6),
        "the error travels down"
    );
}

#[test]
fn weight_noise_takes_the_gradient_at_the_perturbed_weights() {
    // Sec. 5.3's weight noise: the step's gradient is ∇L at W + σz, z ~ N(0, I) per weight (not
    // the biases), drawn layer by layer from the step's stream. The oracle draws z itself and
    // takes the f64 reference gradient at the perturbed weights.
    let (cfg, params, x, labels) = setup();
    let d = cpu_device();
    let model = Mlp::from_host(&cfg, &params, &d);
    let (xt, yt) = tensors(&x, &labels);
    let std = 0.05;
    let (_, got) = model.grads_of(|m| {
        dropout_lab::model::loss::cross_entropy(
            with_weight_noise(m, &mut stream(4, Stream::DropoutMasks), std)
                .forward(xt.clone(), &[]),
            yt.clone(),
        )
    });
    let mut rng = stream(4, Stream::DropoutMasks);
    let mut p64: Vec<Vec<f64>> = Vec::new();
    for (w, b) in &params.layers {
        p64.push(
            w.iter()
                .map(|&v| {
                    let z: f32 = rng.sample(StandardNormal);
                    v as f64 + std * z as f64
                })
                .collect(),
        );
        p64.push(b.iter().map(|&v| v as f64).collect());
    }
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let none = vec![None; WIDTHS.len() - 2];
    let (_, want) = common::reference::backprop_f64(
        &p64,
        &WIDTHS,
        Activation::Tanh,
        &x64,
        &labels,
        &none,
        &none,
    );
    let (_, clean) = common::reference::backprop_f64(
        &common::reference::params_f64(&params),
        &WIDTHS,
        Activation::Tanh,
        &x64,
        &labels,
        &none,
        &none,
    );
    let got = flat(got);
    let mut moved = 0.0f64;
    for (k, ((g, w), c)) in got.iter().zip(&want).zip(&clean).enumerate() {
        for (j, (a, b)) in g.iter().zip(w).enumerate() {
            assert!((a - b).abs() < 1e-5, "tensor {k}[{j}]: {a} vs {b}");
        }
        moved = moved.max(
            w.iter()
                .zip(c)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max),
        );
    }
    assert!(moved > 1e-3, "the noise changes the gradient ({moved})");
}

#[test]
fn gaussian_dropout_matches_the_moments_of_inverted_dropout() {
    // Multipliers 1 + ε with Var ε = q/(1−q): 200000 draws, mean within 0.01, variance within 2 %.
    let q = 0.3f32;
    let masks = gaussian_masks(
        &mut stream(5, Stream::DropoutMasks),
        1000,
        &[200],
        &[q],
        &cpu_device(),
    );
    let dropout_lab::model::dropout::LayerMask::Same(m) = &masks[0] else {
        panic!("a Gaussian mask");
    };
    let v = read2(m.clone());
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    let want = q as f64 / (1.0 - q as f64);
    assert!((mean - 1.0).abs() < 0.01, "{mean}");
    assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
}

#[test]
fn every_noise_trains_and_bad_settings_are_refused() {
    let data = common::mnist("train").first(200).unwrap();
    let base = |rate: f32, noise: NoiseInjection| TrainConfig {
        noise: Some(noise),
        ..TrainConfig::for_preset(
            MlpConfig {
                widths: vec![784, 32, 32, 10],
                activation: Activation::Relu,
                drop_rates: vec![rate; 2],
                init: InitScheme::He,
            },
            OptimizerKind::Sgd,
            0.05,
            10,
            20,
            200,
            200,
            1,
        )
    };
    let disentangle = NoiseInjection::Disentanglement {
        lambda_a: 0.1,
        lambda_h: 0.1,
        refresh_every: 10,
        rows: 100,
        damping: 1e-3,
    };
    for (rate, noise) in [
        (0.3, NoiseInjection::GaussianDropout),
        (0.0, disentangle),
        (0.0, NoiseInjection::WeightNoise { std: 0.01 }),
    ] {
        let h = pollster::block_on(async {
            let mut t = Trainer::new(
                base(rate, noise),
                &data,
                &data,
                cpu_device(),
                "cpu",
                "mnist",
            )
            .await
            .unwrap();
            while !t.is_done() {
                t.run(100).await.unwrap();
            }
            t.history().clone()
        });
        let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
        assert!(
            last.train_loss < 0.7 * first.train_loss,
            "{noise:?}: {} → {}",
            first.train_loss,
            last.train_loss
        );
    }
    for (rate, noise) in [
        (0.0, NoiseInjection::GaussianDropout),
        (0.3, disentangle),
        (0.0, NoiseInjection::WeightNoise { std: -1.0 }),
    ] {
        assert!(
            base(rate, noise).validate(200, 200, 784, 10).is_err(),
            "{noise:?} at rate {rate}"
        );
    }
}

/// One full-batch GD step of Algorithm 2 written out in f64 from paper 002 Sec. 4.1 and the
/// choices stated in objectives/reverse_noise.rs: K-FAC factors E[A], E[H] of the clean net at θ0,
/// Σ = (E[·] + τ mean diag · I)⁻¹, r(Σ) with reversed off-diagonal signs, its PSD part's symmetric
/// square root B scaled to mean variance 1, noise η = λ B z (z from the step's stream: every
/// hidden layer's activation noise, then every hidden layer's node noise, λ2 per example divided
/// by the batch), η_a added to the activations in the forward pass and η_h to the error at the
/// pre-activations in the backward pass; then θ1 = θ0 − lr ∇.
#[allow(clippy::too_many_arguments)]
fn algorithm2_step_f64(
    widths: &[usize],
    theta0: &HostParams,
    x: &[f64],
    labels: &[usize],
    lambda: (f64, f64),
    damping: f64,
    lr: f64,
    seed: u64,
) -> Vec<Vec<f64>> {
    use nalgebra::{DMatrix, DVector};
    let rows = labels.len();
    let layers = widths.len() - 1;
    let w: Vec<DMatrix<f64>> = theta0
        .layers
        .iter()
        .enumerate()
        .map(|(l, (w, _))| {
            DMatrix::from_fn(widths[l], widths[l + 1], |i, o| {
                w[i * widths[l + 1] + o] as f64
            })
        })
        .collect();
    let b: Vec<DVector<f64>> = theta0
        .layers
        .iter()
        .map(|(_, b)| DVector::from_iterator(b.len(), b.iter().map(|&v| v as f64)))
        .collect();
    let x = DMatrix::from_row_slice(rows, widths[0], x);
    let affine = |a: &DMatrix<f64>, l: usize| {
        let mut z = a * &w[l];
        for mut r in z.row_iter_mut() {
            r += b[l].transpose();
        }
        z
    };
    let softmax = |z: &DMatrix<f64>| {
        DMatrix::from_fn(z.nrows(), z.ncols(), |r, c| {
            let m = z.row(r).max();
            let s: f64 = z.row(r).iter().map(|v| (v - m).exp()).sum();
            (z[(r, c)] - m).exp() / s
        })
    };
    // The clean net's factors.
    let (mut inputs, mut pre) = (vec![x.clone()], Vec::new());
    for l in 0..layers {
        let z = affine(&inputs[l], l);
        if l + 1 < layers {
            inputs.push(z.map(f64::tanh));
        }
        pre.push(z);
    }
    let a_factor: Vec<DMatrix<f64>> = inputs
        .iter()
        .map(|a| a.transpose() * a / rows as f64)
        .collect();
    let p = softmax(&pre[layers - 1]);
    let mut h_factor: Vec<DMatrix<f64>> = (0..layers)
        .map(|l| DMatrix::zeros(widths[l + 1], widths[l + 1]))
        .collect();
    for r in 0..rows {
        let pr = p.row(r).transpose();
        let mut hs = DMatrix::from_diagonal(&pr) - &pr * pr.transpose();
        for l in (0..layers).rev() {
            h_factor[l] += &hs / rows as f64;
            if l == 0 {
                break;
            }
            let d = DMatrix::from_diagonal(
                &pre[l - 1]
                    .row(r)
                    .transpose()
                    .map(|v| 1.0 - v.tanh().powi(2)),
            );
            hs = &d * &w[l] * &hs * w[l].transpose() * &d;
        }
    }
    let factor = |m: &DMatrix<f64>| {
        let n = m.nrows();
        let damped = m + DMatrix::identity(n, n) * (damping * m.diagonal().mean());
        let sigma = damped.try_inverse().unwrap();
        let r = DMatrix::from_fn(n, n, |i, j| {
            if i == j {
                sigma[(i, j)]
            } else {
                -sigma[(i, j)]
            }
        });
        let e = nalgebra::SymmetricEigen::new(r);
        let root = &e.eigenvectors
            * DMatrix::from_diagonal(&e.eigenvalues.map(|v| v.max(0.0).sqrt()))
            * e.eigenvectors.transpose();
        let mean = root.norm_squared() / n as f64;
        root / mean.sqrt()
    };
    let hidden = layers - 1;
    let b_a: Vec<DMatrix<f64>> = (0..hidden).map(|i| factor(&a_factor[i + 1])).collect();
    let b_h: Vec<DMatrix<f64>> = (0..hidden).map(|i| factor(&h_factor[i])).collect();
    let mut rng = stream(seed, Stream::DropoutMasks);
    let mut draw = |bm: &DMatrix<f64>, scale: f64| {
        let n = bm.nrows();
        let z = DMatrix::from_row_iterator(
            rows,
            n,
            (0..rows * n).map(|_| rng.sample::<f32, _>(StandardNormal) as f64),
        );
        z * bm.transpose() * scale
    };
    let eta_a: Vec<DMatrix<f64>> = b_a.iter().map(|m| draw(m, lambda.0)).collect();
    let eta_h: Vec<DMatrix<f64>> = b_h
        .iter()
        .map(|m| draw(m, lambda.1 / rows as f64))
        .collect();
    // The noisy forward and backward pass.
    let (mut inputs, mut pre) = (vec![x], Vec::new());
    for l in 0..layers {
        let z = affine(&inputs[l], l);
        if l + 1 < layers {
            inputs.push(z.map(f64::tanh) + &eta_a[l]);
        }
        pre.push(z);
    }
    let mut onehot = DMatrix::zeros(rows, widths[layers]);
    for (r, &c) in labels.iter().enumerate() {
        onehot[(r, c)] = 1.0;
    }
    let mut gz = (softmax(&pre[layers - 1]) - onehot) / rows as f64;
    let mut out = vec![Vec::new(); 2 * layers];
    for l in (0..layers).rev() {
        let gw = inputs[l].transpose() * &gz;
        let gb: Vec<f64> = (0..gz.ncols()).map(|c| gz.column(c).sum()).collect();
        out[2 * l] = (0..widths[l])
            .flat_map(|i| (0..widths[l + 1]).map(move |o| (i, o)))
            .map(|(i, o)| w[l][(i, o)] - lr * gw[(i, o)])
            .collect();
        out[2 * l + 1] = (0..widths[l + 1]).map(|o| b[l][o] - lr * gb[o]).collect();
        if l == 0 {
            break;
        }
        let ga = &gz * w[l].transpose();
        gz = ga.component_mul(&pre[l - 1].map(|v| 1.0 - v.tanh().powi(2))) + &eta_h[l - 1];
    }
    out
}

#[test]
fn one_disentanglement_step_is_algorithm_2_written_out() {
    let (cfg, _, x, labels) = setup();
    let data = dropout_lab::data::Dataset {
        features: x.clone(),
        labels: labels.iter().map(|&l| l as u8).collect(),
        dim: 5,
        classes: 3,
    };
    let (lambda_a, lambda_h, damping, lr, seed) = (0.3, 0.5, 1e-2, 0.1, 3);
    let tc = TrainConfig {
        noise: Some(NoiseInjection::Disentanglement {
            lambda_a,
            lambda_h,
            refresh_every: 10,
            rows: ROWS,
            damping,
        }),
        ..TrainConfig::for_preset(
            cfg.clone(),
            OptimizerKind::Gd,
            lr,
            1,
            ROWS,
            ROWS,
            ROWS,
            seed,
        )
    };
    let got = pollster::block_on(async {
        let mut t = Trainer::new(tc, &data, &data, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        t.run(1).await.unwrap();
        t.mlp().unwrap().to_host().await.unwrap()
    });
    let theta0 = initial_params(&cfg, &mut stream(seed, Stream::Init));
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let want = algorithm2_step_f64(
        &WIDTHS,
        &theta0,
        &x64,
        &labels,
        (lambda_a, lambda_h),
        damping,
        lr,
        seed,
    );
    let clean = algorithm2_step_f64(
        &WIDTHS,
        &theta0,
        &x64,
        &labels,
        (0.0, 0.0),
        damping,
        lr,
        seed,
    );
    let mut noise_moved = 0.0f64;
    for (l, (gw, gb)) in got.layers.iter().enumerate() {
        for (k, (g, w)) in gw
            .iter()
            .chain(gb)
            .zip(want[2 * l].iter().chain(&want[2 * l + 1]))
            .enumerate()
        {
            assert!(
                (*g as f64 - w).abs() < 2e-6,
                "layer {l} entry {k}: {g} vs {w}"
            );
        }
        for (w, c) in want[2 * l].iter().zip(&clean[2 * l]) {
            noise_moved = noise_moved.max((w - c).abs());
        }
    }
    assert!(
        noise_moved > 1e-3,
        "the noise changes the step ({noise_moved})"
    );
}

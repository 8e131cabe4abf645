//! The Fig 4 pipeline (paper 000) at tiny scale on genuine MNIST. The reported top Hessian
//! eigenvalue is checked against the curvature of the loss itself along its eigenvector,
//! d²/dt² L(θ + t v) by a central second difference of plain evaluations (no HVP code involved),
//! and the projected variance Var(Proj_{v_1}(S_grad)) against a Monte Carlo over fresh dropout
//! masks drawn here, each sample's projection being the directional derivative of that mask's
//! dropout loss along v_1 by a central difference of plain evaluations (no gradient code). The
//! full-parameter span is checked against a dense f64 Hessian of a tiny net.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::analysis::hessian::{HessianOperator, Span};
use dropout_lab::analysis::noise::Block;
use dropout_lab::backend::cpu_device;
use dropout_lab::backend::read_f32;
use dropout_lab::data::resize::block_means;
use dropout_lab::experiments::fig4_variance_hessian::{run, Fig4Config};
use dropout_lab::experiments::hessian_span::HessianSpan;
use dropout_lab::experiments::noise_run::{NoiseSource, Setting};
use dropout_lab::experiments::Silent;
use dropout_lab::linalg::dense::symmetric_eigen;
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::model::dropout::{device_masks, sample_mask};
use dropout_lab::model::loss::cross_entropy;
use dropout_lab::model::{Activation, Mlp};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::{evaluate, DeviceData};

fn tiny() -> Fig4Config {
    let mut c = Fig4Config::demo();
    c.run.train_size = 200;
    c.run.widths = vec![784, 16, 16, 10];
    // tanh keeps the loss smooth, so the second difference converges to the Hessian's curvature.
    c.run.activation = Activation::Tanh;
    c.run.settings = vec![Setting {
        drop_rate: 0.2,
        lr: 0.1,
    }];
    c.run.epochs = 40;
    c.run.samples = 800;
    c.run.sources = vec![NoiseSource::Grad];
    c
}

#[test]
fn top_eigenvalue_is_the_loss_curvature_and_variances_are_projections() {
    let train = common::mnist("train");
    let cfg = tiny();
    let r =
        pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent)).unwrap();
    let s = &r.series[0];
    assert_eq!(s.hessian_eigenvalues.len(), 256);
    assert_eq!(s.projected_variance.len(), 256);
    assert!(s.hessian_eigenvalues.windows(2).all(|w| w[0] >= w[1]));
    let asymmetry = s.asymmetry.expect("the dense block reports its asymmetry");
    assert!(asymmetry < 1e-5, "asymmetry {asymmetry}");

    pollster::block_on(async {
        let device = cpu_device();
        let tc = cfg.run.train_config(&cfg.run.settings[0], 0);
        let sub = train.first(cfg.run.train_size).unwrap();
        let theta = common::trained_params(&tc, &sub).await;
        let data = DeviceData::upload(&sub, &device);
        let model = Mlp::from_host(tc.mlp().unwrap(), &theta, &device);
        let block = Block { layer: 1 };
        let mut op = HessianOperator::new(&model, &data, Span::Block(block));
        let (h, _) = to_dense(&mut op, 64, &mut Silent, "").await.unwrap();
        let eig = symmetric_eigen(h).unwrap();
        assert_eq!(
            eig.values, s.hessian_eigenvalues,
            "the run is reproducible from its config"
        );

        let v: Vec<f64> = eig.vectors.column(0).iter().copied().collect();
        let dir = Mlp::from_host(tc.mlp().unwrap(), &block.embed(&theta, &v), &device);
        let loss = |t: f64| {
            let m = model.axpy(t, &dir);
            let data = &data;
            async move { evaluate(&m, data).await.unwrap().0 as f64 }
        };
        let step = 2e-2;
        let curvature =
            (loss(step).await - 2.0 * loss(0.0).await + loss(-step).await) / (step * step);
        let lambda = eig.values[0];
        assert!(
            (curvature - lambda).abs() <= 0.02 * lambda,
            "curvature along v_1 {curvature} vs λ_1 {lambda}"
        );

        // Monte Carlo oracle: K fresh masks from a stream the run never uses. For each, the
        // projection of the full-batch dropout gradient on v is d/dt L_drop(θ + t v; m), a central
        // difference of two forward passes with that mask.
        let k = 1600;
        let (x, y) =
            dropout_lab::train::batch::upload(&sub, &(0..sub.len()).collect::<Vec<_>>(), &device);
        let mut rng = stream(999, Stream::Directions);
        let eps = 1e-2;
        let (plus, minus) = (model.axpy(eps, &dir), model.axpy(-eps, &dir));
        let mut proj = Vec::with_capacity(k);
        for _ in 0..k {
            let masks = device_masks(
                &mut rng,
                sub.len(),
                &tc.mlp().unwrap().widths[1..],
                &tc.mlp().unwrap().drop_rates,
                &device,
            );
            let at = |m: &Mlp| cross_entropy(m.forward(x.clone(), &masks), y.clone());
            let (lp, lm) = (at(&plus), at(&minus));
            let lp = read_f32(lp).await.unwrap()[0] as f64;
            let lm = read_f32(lm).await.unwrap()[0] as f64;
            proj.push((lp - lm) / (2.0 * eps));
        }
        assert_variance_matches(s.projected_variance[0], cfg.run.samples, &proj);
    });
}

/// The reported Var(Proj_v(S)) from `n` samples against the sample variance of the oracle's
/// projections. A sample variance of n draws has relative standard error √((κ − 1)/n), κ the
/// kurtosis of the projections (dropout gradients are heavy-tailed, κ well above a Gaussian's
/// 3): estimated from the oracle's draws; allow 4 σ of the ratio of the two estimates.
fn assert_variance_matches(reported: f64, n: usize, proj: &[f64]) {
    let k = proj.len();
    let mean = proj.iter().sum::<f64>() / k as f64;
    let var = proj.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (k as f64 - 1.0);
    let m4 = proj.iter().map(|p| (p - mean).powi(4)).sum::<f64>() / k as f64;
    let kurtosis = m4 / (var * var);
    let se = |n: usize| ((kurtosis - 1.0) / n as f64).sqrt();
    let tolerance = 4.0 * (se(n).powi(2) + se(k).powi(2)).sqrt();
    let ratio = reported / var;
    assert!(
        (ratio - 1.0).abs() <= tolerance,
        "Var(Proj_v1): reported {reported} vs Monte Carlo {var} (ratio {ratio}, kurtosis {kurtosis}, tolerance {tolerance})"
    );
}

/// Span full (paper 000 Sec. 3.4.2's H over all parameters) on a 49-8-8-10 net (7x7 MNIST,
/// D = 562): the Lanczos top eigenvalues against the spectrum of the dense f64 Hessian of every
/// parameter (central differences of the f64 gradient in tests/common/reference.rs: no HVP, no
/// burn), and Var(Proj_v1(S_grad)) over all parameters against a Monte Carlo of f64 dropout
/// gradients along that f64 eigenvector, with masks from a stream the run never uses.
#[test]
fn full_span_top_eigenpairs_are_the_dense_hessians_and_variances_are_projections() {
    let train = block_means(&common::mnist("train"), 4).unwrap();
    let mut cfg = tiny();
    cfg.run.widths = vec![49, 8, 8, 10];
    cfg.span = HessianSpan::Full;
    cfg.top_k = 4;
    let r =
        pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent)).unwrap();
    let s = &r.series[0];
    assert_eq!(s.hessian_eigenvalues.len(), 4);
    assert_eq!(s.projected_variance.len(), 4);
    let check = s.lanczos.expect("span full reports its Lanczos residuals");
    assert!(
        check.converged && check.max_relative_residual < 1e-5,
        "{check:?}"
    );
    assert!(s.asymmetry.is_none(), "no dense matrix is assembled");

    let tc = cfg.run.train_config(&cfg.run.settings[0], 0);
    let sub = train.first(cfg.run.train_size).unwrap();
    let theta = pollster::block_on(common::trained_params(&tc, &sub));
    let p64 = common::reference::params_f64(&theta);
    let x64: Vec<f64> = sub.features.iter().map(|&v| v as f64).collect();
    let labels: Vec<usize> = sub.labels.iter().map(|&l| l as usize).collect();
    let act = tc.mlp().unwrap().activation;
    let h =
        common::reference::full_hessian_f64(&p64, &tc.mlp().unwrap().widths, act, &x64, &labels);
    assert_eq!(h.nrows(), 562);
    let eig = h.symmetric_eigen();
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let top: Vec<f64> = order[..4].iter().map(|&i| eig.eigenvalues[i]).collect();
    for (got, want) in s.hessian_eigenvalues.iter().zip(&top) {
        // f32 products against an f64 difference quotient.
        assert!(
            (got - want).abs() <= 1e-4 * top[0],
            "Lanczos λ {got} vs dense f64 {want} (top {top:?})"
        );
    }
    // v_1 is determined (up to sign) only if λ_1 is separated from λ_2.
    assert!(top[0] - top[1] > 0.05 * top[0], "λ_1 not isolated: {top:?}");
    let v: Vec<f64> = eig.eigenvectors.column(order[0]).iter().copied().collect();

    let mut rng = stream(999, Stream::Directions);
    let proj: Vec<f64> = (0..1600)
        .map(|_| {
            let masks: Vec<Option<Vec<f64>>> = tc
                .mlp()
                .unwrap()
                .drop_rates
                .iter()
                .zip(&tc.mlp().unwrap().widths[1..])
                .map(|(&q, &w)| {
                    sample_mask(&mut rng, sub.len(), w, q)
                        .map(|m| m.into_iter().map(f64::from).collect())
                })
                .collect();
            let (_, g) = common::reference::backprop_f64(
                &p64,
                &tc.mlp().unwrap().widths,
                act,
                &x64,
                &labels,
                &masks,
                &masks,
            );
            g.concat().iter().zip(&v).map(|(a, b)| a * b).sum()
        })
        .collect();
    assert_variance_matches(s.projected_variance[0], cfg.run.samples, &proj);
}

#[test]
fn oversized_blocks_and_bad_floors_are_refused_with_a_message() {
    let train = common::mnist("train");
    let mut cfg = tiny();
    cfg.run.block_layer = 0; // 784 x 16 = 12544 weights
    let e = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent))
        .unwrap_err();
    assert!(e.to_string().contains("dense Hessian is limited"), "{e}");
    let mut cfg = tiny();
    cfg.fit_floor = 1.5;
    let e = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent))
        .unwrap_err();
    assert!(e.to_string().contains("fit_floor"), "{e}");
}

//! The Fig 4 pipeline (paper 000) at tiny scale on genuine MNIST. The reported top Hessian
//! eigenvalue is checked against the curvature of the loss itself along its eigenvector,
//! d²/dt² L(θ + t v) by a central second difference of plain evaluations (no HVP code involved),
//! and the projected variance against a direct projection of independently drawn samples.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use dropout_lab::analysis::hessian::{HessianOperator, Span};
use dropout_lab::analysis::noise::{gradient_samples, Block};
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::fig4_variance_hessian::{run, Fig4Config};
use dropout_lab::experiments::noise_run::{NoiseSource, Setting};
use dropout_lab::experiments::Silent;
use dropout_lab::linalg::dense::symmetric_eigen;
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::model::{Activation, Mlp};
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
    c.run.samples = 30;
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
    assert!(s.asymmetry < 1e-5, "asymmetry {}", s.asymmetry);

    pollster::block_on(async {
        let device = cpu_device();
        let tc = cfg.run.train_config(&cfg.run.settings[0], 0);
        let sub = train.first(cfg.run.train_size).unwrap();
        let theta = common::trained_params(&tc, &sub).await;
        let data = DeviceData::upload(&sub, &device);
        let model = Mlp::from_host(&tc.model, &theta, &device);
        let block = Block { layer: 1 };
        let mut op = HessianOperator::new(&model, &data, Span::Block(block));
        let (h, _) = to_dense(&mut op, 64, &mut Silent, "").await.unwrap();
        let eig = symmetric_eigen(h).unwrap();
        assert_eq!(
            eig.values, s.hessian_eigenvalues,
            "the run is reproducible from its config"
        );

        let v: Vec<f64> = eig.vectors.column(0).iter().copied().collect();
        let dir = Mlp::from_host(&tc.model, &block.embed(&theta, &v), &device);
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

        let samples = gradient_samples(
            &tc.model,
            &theta,
            &tc.model.drop_rates,
            &sub,
            block,
            cfg.run.samples,
            cfg.run.seed,
            &device,
            |_| {},
        )
        .await
        .unwrap();
        let proj: Vec<f64> = samples
            .iter()
            .map(|g| g.iter().zip(&v).map(|(a, b)| *a as f64 * b).sum())
            .collect();
        let mean = proj.iter().sum::<f64>() / proj.len() as f64;
        let var = proj.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (proj.len() as f64 - 1.0);
        assert!(
            (var - s.projected_variance[0]).abs() <= 1e-6 * var,
            "Var(Proj_v1) {var} vs reported {}",
            s.projected_variance[0]
        );
    });
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

//! The K-FAC factors against exact block Hessians. For one sample and a ReLU net, the Hessian of
//! the loss w.r.t. W_l is exactly A_{l-1} ⊗ H_l (z_l is linear in W_l, ReLU has act'' = 0, and the
//! output Hessian is diag(p) - ppᵀ), so kron(E[A], E[H]) must equal the dense block Hessian built
//! from the exact HVPs (themselves checked against f64 finite differences in tests/hessian.rs),
//! with and without a dropout mask. The weight vector is row-major [fan_in, fan_out], which is
//! exactly the index order of kron(A, H).
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use dropout_lab::analysis::hessian::{HessianOperator, Span};
use dropout_lab::analysis::kfac::{factors, laplace_volumes};
use dropout_lab::analysis::noise::Block;
use dropout_lab::analysis::volume::log_volume;
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::model::dropout::sample_mask;
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, InitScheme, Mlp, MlpConfig};
use dropout_lab::progress::Silent;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::DeviceData;
use nalgebra::DMatrix;
use rand::Rng;

fn check(widths: Vec<usize>, drop_rates: Vec<f32>) {
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
    let f = factors(&cfg, &theta, &data, 1, &mut stream(7, Stream::DropoutMasks)).unwrap();
    // The same masks, drawn from the same stream, held fixed for the HVPs.
    let mut mrng = stream(7, Stream::DropoutMasks);
    let masks: Vec<Option<Vec<f32>>> = drop_rates
        .iter()
        .zip(&widths[1..])
        .map(|(&p, &w)| sample_mask(&mut mrng, 1, w, p))
        .collect();
    let device = cpu_device();
    let model = Mlp::from_host(&cfg, &theta, &device);
    let resident = DeviceData::upload(&data, &device);
    for l in 0..widths.len() - 1 {
        let mut op = HessianOperator::new(&model, &resident, Span::Block(Block { layer: l }));
        op.masks = masks.clone();
        let (exact, _) = pollster::block_on(to_dense(&mut op, 64, &mut Silent, "")).unwrap();
        let kron = f.a[l].kronecker(&f.h[l]);
        let err = (&kron - &exact).amax();
        assert!(
            err <= 1e-5 * exact.amax().max(1e-6),
            "layer {l}: max |A⊗H - H_exact| = {err:e} of {:e}",
            exact.amax()
        );
    }
}

#[test]
fn single_linear_layer_factors_are_the_exact_hessian() {
    check(vec![5, 3], vec![]);
}

#[test]
fn relu_layers_factor_exactly_for_one_sample() {
    check(vec![5, 4, 6, 3], vec![0.0, 0.0]);
}

#[test]
fn with_a_dropout_mask_too() {
    check(vec![5, 4, 6, 3], vec![0.5, 0.3]);
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
    let f = factors(&cfg, &theta, &data, 5, &mut stream(9, Stream::DropoutMasks)).unwrap();
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

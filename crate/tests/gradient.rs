//! The gradient of the MLP loss from burn's autodiff (f32) against central finite differences of
//! an independent f64 implementation of the same network, with a dropout mask held fixed.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use burn::tensor::{Tensor, TensorData};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::model::dropout::sample_mask;
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, HostParams, InitScheme, Mlp, MlpConfig};
use dropout_lab::rng::{stream, Stream};
use rand::Rng;

use crate::common;
use common::reference::loss_f64;

fn check(act: Activation, drop_rates: Vec<f32>) {
    let widths = vec![5, 4, 6, 3];
    let cfg = MlpConfig {
        widths: widths.clone(),
        activation: act,
        drop_rates: drop_rates.clone(),
        init: InitScheme::Xavier,
    };
    let mut rng = stream(11, Stream::Init);
    let mut params: HostParams = initial_params(&cfg, &mut rng);
    for (_, b) in params.layers.iter_mut() {
        b.iter_mut().for_each(|v| *v = rng.random_range(-0.5..0.5));
    }
    let rows = 7;
    let x: Vec<f32> = (0..rows * 5).map(|_| rng.random_range(-1.0..1.0)).collect();
    let labels: Vec<usize> = (0..rows).map(|i| i % 3).collect();
    let mut onehot = vec![0.0f32; rows * 3];
    labels
        .iter()
        .enumerate()
        .for_each(|(r, &l)| onehot[r * 3 + l] = 1.0);
    let mut mrng = stream(11, Stream::DropoutMasks);
    let masks: Vec<Option<Vec<f32>>> = drop_rates
        .iter()
        .zip(&widths[1..])
        .map(|(&p, &w)| sample_mask(&mut mrng, rows, w, p))
        .collect();

    let device = cpu_device();
    let model = Mlp::from_host(&cfg, &params, &device);
    let mask_t: Vec<Option<Tensor<2>>> = masks
        .iter()
        .zip(&widths[1..])
        .map(|(m, &w)| {
            m.as_ref()
                .map(|m| Tensor::from_data(TensorData::new(m.clone(), [rows, w]), &device))
        })
        .collect();
    let xt = Tensor::from_data(TensorData::new(x.clone(), [rows, 5]), &device);
    let yt = Tensor::from_data(TensorData::new(onehot, [rows, 3]), &device);
    let (loss, grads) = model.loss_and_grads(xt, yt, &mask_t);
    let burn_loss = pollster::block_on(read_f32(loss)).unwrap()[0] as f64;
    let mut burn_grad: Vec<Vec<f32>> = Vec::new();
    for (gw, gb) in grads {
        burn_grad.push(pollster::block_on(read_f32(gw)).unwrap());
        burn_grad.push(pollster::block_on(read_f32(gb)).unwrap());
    }

    let p64 = common::reference::params_f64(&params);
    let x64: Vec<f64> = x.iter().map(|&a| a as f64).collect();
    let m64: Vec<Option<Vec<f64>>> = masks
        .iter()
        .map(|m| m.as_ref().map(|m| m.iter().map(|&a| a as f64).collect()))
        .collect();
    let (ref_loss, min_pre) = loss_f64(&p64, &widths, act, &x64, &labels, &m64);
    assert!(
        (burn_loss - ref_loss).abs() < 1e-5,
        "loss {burn_loss} vs f64 {ref_loss}"
    );
    let h = 1e-6;
    // Central differences are exact up to O(h^2) only away from ReLU kinks.
    assert!(
        min_pre > 10.0 * h,
        "a pre-activation sits within {min_pre} of a kink; pick another seed"
    );
    let mut checked = 0;
    for (t, tensor) in p64.iter().enumerate() {
        for i in 0..tensor.len() {
            let mut plus = p64.clone();
            plus[t][i] += h;
            let mut minus = p64.clone();
            minus[t][i] -= h;
            let fd = (loss_f64(&plus, &widths, act, &x64, &labels, &m64).0
                - loss_f64(&minus, &widths, act, &x64, &labels, &m64).0)
                / (2.0 * h);
            let g = burn_grad[t][i] as f64;
            assert!(
                (g - fd).abs() <= 1e-5 + 1e-3 * fd.abs(),
                "{act:?} tensor {t} index {i}: autodiff {g} vs finite difference {fd}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, cfg.param_count());
}

#[test]
fn tanh_gradient_matches_finite_differences() {
    check(Activation::Tanh, vec![0.0, 0.0]);
}

#[test]
fn tanh_gradient_with_fixed_dropout_mask() {
    check(Activation::Tanh, vec![0.3, 0.5]);
}

#[test]
fn relu_gradient_with_fixed_dropout_mask() {
    check(Activation::Relu, vec![0.5, 0.2]);
}

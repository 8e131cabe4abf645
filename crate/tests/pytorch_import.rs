//! A plain PyTorch state_dict (safetensors, no lab metadata) loads as the MLP it describes: the
//! lab's forward pass on the imported weights equals y = relu(x W1ᵀ + b1) W2ᵀ + b2 computed here
//! in f64 from the PyTorch-layout arrays.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use burn::tensor::{Tensor, TensorData};
use dropout_lab::backend::cpu_device;
use dropout_lab::io::pytorch::{import_any, import_state_dict, Source};
use dropout_lab::model::{Activation, Mlp};

fn file(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    common::safetensors_f32(tensors)
}

fn values(n: usize, k: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f32 * 0.37 + k).sin()) * 0.5)
        .collect()
}

#[test]
fn a_sequential_state_dict_gives_the_same_outputs_as_pytorchs_formula() {
    let (d, h, c) = (5, 4, 3);
    let (w1, b1, w2, b2) = (
        values(h * d, 0.1),
        values(h, 0.2),
        values(c * h, 0.3),
        values(c, 0.4),
    );
    // nn.Sequential(Linear(5, 4), ReLU(), Linear(4, 3)): indices 0 and 2; names sort naturally.
    let bytes = file(&[
        ("2.weight", vec![c, h], w2.clone()),
        ("0.bias", vec![h], b1.clone()),
        ("0.weight", vec![h, d], w1.clone()),
        ("2.bias", vec![c], b2.clone()),
    ]);
    let (config, params, source) = import_any(&bytes, Activation::Relu).unwrap();
    assert_eq!(source, Source::Pytorch);
    assert_eq!(config.widths, vec![d, h, c]);
    assert_eq!(config.drop_rates, vec![0.0]);
    let x = values(2 * d, 0.9);
    let device = cpu_device();
    let net = Mlp::from_host(&config, &params, &device);
    let out = net.forward(
        Tensor::from_data(TensorData::new(x.clone(), [2, d]), &device),
        &[None],
    );
    let got: Vec<f32> = out.into_data().try_to_vec::<f32>().unwrap();
    for r in 0..2 {
        let hidden: Vec<f64> = (0..h)
            .map(|j| {
                (b1[j] as f64
                    + (0..d)
                        .map(|i| w1[j * d + i] as f64 * x[r * d + i] as f64)
                        .sum::<f64>())
                .max(0.0)
            })
            .collect();
        for k in 0..c {
            let y = b2[k] as f64
                + (0..h)
                    .map(|j| w2[k * h + j] as f64 * hidden[j])
                    .sum::<f64>();
            assert!(
                (got[r * c + k] as f64 - y).abs() < 1e-5,
                "row {r} class {k}: {} vs {y}",
                got[r * c + k]
            );
        }
    }
}

#[test]
fn named_layers_without_bias_and_ten_plus_layers_order_by_number() {
    let mut t = Vec::new();
    let widths = [3usize, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2];
    for l in 0..widths.len() - 1 {
        t.push((
            format!("net.layers.{l}.weight"),
            vec![widths[l + 1], widths[l]],
            values(widths[l + 1] * widths[l], l as f32),
        ));
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = t
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.clone(), v.clone()))
        .collect();
    let (config, params) = import_state_dict(&file(&refs), Activation::Tanh).unwrap();
    assert_eq!(config.widths, widths.to_vec(), "layers.10 after layers.9");
    assert!(
        params
            .layers
            .iter()
            .all(|(_, b)| b.iter().all(|&x| x == 0.0)),
        "bias=False reads as zeros"
    );
}

#[test]
fn what_cannot_be_placed_is_named() {
    let conv = file(&[("0.weight", vec![8, 1, 3, 3], values(72, 0.0))]);
    let e = import_state_dict(&conv, Activation::Relu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`0.weight` of shape [8, 1, 3, 3]") && e.contains("nn.Linear"),
        "{e}"
    );
    let broken = file(&[
        ("0.weight", vec![4, 5], values(20, 0.0)),
        ("1.weight", vec![3, 6], values(18, 0.0)),
    ]);
    let e = import_state_dict(&broken, Activation::Relu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`1.weight` takes 6 inputs but the layer before it gives 4"),
        "{e}"
    );
    let bn = file(&[
        ("0.weight", vec![4, 5], values(20, 0.0)),
        ("1.running_mean", vec![4], values(4, 0.0)),
    ]);
    let e = import_state_dict(&bn, Activation::Relu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`1.running_mean`"), "{e}");
    let e = import_any(b"not a file", Activation::Relu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a safetensors file"), "{e}");
}

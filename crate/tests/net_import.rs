//! Plain PyTorch state_dicts of conv nets (`safetensors.torch.save_file` output: names and shapes,
//! no lab metadata), written here from the names of the module `dropout-lab arch` prints: the
//! architecture, width, shortcut and placement are recognised from the tensors alone, the weights
//! come back bit for bit, a tensor that fits nothing is named, and Fig 4 analyses the imported
//! LeNet-5 (its block Hessian against the Gauss-Newton form of the f64 reference at exactly
//! those weights).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_oracle::{block_hessian, descending_eigenvalues};
use dropout_lab::experiments::fig4_variance_hessian::Fig4;
use dropout_lab::experiments::noise_run::{NoiseSource, Setting};
use dropout_lab::experiments::preset::{base_config, run_to_file};
use dropout_lab::experiments::{Inputs, Scale, Silent, StartWeights};
use dropout_lab::io::weights::{import, Source};
use dropout_lab::model::net::{Arch, ArchConfig, NetParams, Placement, Shortcut};
use dropout_lab::model::{Activation, ModelConfig};
use serde_json::json;

fn arch(a: Arch, width: f64) -> ArchConfig {
    ArchConfig {
        width,
        ..ArchConfig::new(a)
    }
}

/// The state_dict PyTorch saves for `params`: parameters, then each BatchNorm's buffers.
fn state_dict(p: &NetParams) -> Vec<u8> {
    let mut t: Vec<(String, Vec<usize>, Vec<f32>)> = p
        .spec
        .params()
        .unwrap()
        .into_iter()
        .zip(&p.params)
        .map(|(s, v)| (s.name, s.shape, v.clone()))
        .collect();
    for ((prefix, c), r) in p.spec.batch_norms().unwrap().into_iter().zip(&p.running) {
        t.push((format!("{prefix}.running_mean"), vec![c], r.mean.clone()));
        t.push((format!("{prefix}.running_var"), vec![c], r.var.clone()));
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = t
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.clone(), v.clone()))
        .collect();
    common::safetensors_f32(&refs)
}

fn network(cfg: &ArchConfig, dim: usize, classes: usize, seed: u64) -> NetParams {
    let spec = ModelConfig::Arch(cfg.clone()).build(dim, classes).unwrap();
    common::net_fixtures::params(&spec, seed)
}

#[test]
fn named_architectures_are_recognised_from_their_tensors_and_read_bit_for_bit() {
    let resnet_b = ArchConfig {
        shortcut: Shortcut::B,
        placement: Placement::AfterConvs,
        ..arch(Arch::Resnet20, 0.125)
    };
    let cases = [
        (arch(Arch::Lenet5, 0.3), 784, 10),
        (arch(Arch::ConvnetQuick, 0.25), 3072, 10),
        (resnet_b, 3072, 100),
    ];
    for (i, (cfg, dim, classes)) in cases.into_iter().enumerate() {
        let p = network(&cfg, dim, classes, i as u64);
        let got = import(&state_dict(&p), Activation::Relu).unwrap();
        assert_eq!(got.source, Source::Pytorch);
        let a = got.model.arch().expect("a named architecture");
        assert_eq!(
            (a.arch, a.shortcut, a.placement),
            (cfg.arch, cfg.shortcut, cfg.placement),
            "{}",
            cfg.arch.id()
        );
        // Widths that round to the same channels build the same network.
        assert_eq!(got.model.build(dim, classes).unwrap(), p.spec);
        assert_eq!(got.params.params, p.params);
        assert_eq!(got.params.running.len(), p.running.len());
        for (g, w) in got.params.running.iter().zip(&p.running) {
            assert_eq!((&g.mean, &g.var), (&w.mean, &w.var));
        }
    }
}

#[test]
fn a_tensor_that_fits_no_architecture_is_named() {
    let p = network(&arch(Arch::Lenet5, 0.3), 784, 10, 3);
    // One more output unit in ip1 than LeNet has at that width.
    let spec = p.spec.params().unwrap();
    let ip1 = spec.iter().position(|s| s.shape.len() == 2).unwrap();
    let bytes = {
        let mut t: Vec<(String, Vec<usize>, Vec<f32>)> = spec
            .iter()
            .zip(&p.params)
            .map(|(s, v)| (s.name.clone(), s.shape.clone(), v.clone()))
            .collect();
        t[ip1].1[0] += 1;
        let fan_in = t[ip1].1[1];
        t[ip1].2.extend(vec![0.0; fan_in]);
        let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = t
            .iter()
            .map(|(n, s, v)| (n.as_str(), s.clone(), v.clone()))
            .collect();
        common::safetensors_f32(&refs)
    };
    let e = import(&bytes, Activation::Relu).unwrap_err().to_string();
    // The closest candidate may explain the grown weight at a wider width, never its bias too.
    let layer = spec[ip1].name.trim_end_matches("weight");
    assert!(
        e.starts_with(&format!("weights error: cannot place tensor `{layer}"))
            && e.contains("lenet5"),
        "{e}"
    );
}

#[test]
fn fig4_analyses_an_imported_lenet_at_its_own_weights() {
    let train = common::mnist("train").first(8).unwrap();
    let cfg = arch(Arch::Lenet5, 0.04);
    let p = network(&cfg, 784, 10, 5);
    let imported = import(&state_dict(&p), Activation::Relu).unwrap();
    let w = StartWeights {
        model: imported.model,
        params: imported.params,
        origin: "lenet.safetensors".into(),
    };
    let mut c = base_config::<Fig4>(Scale::Demo);
    c["train_size"] = json!(8);
    c["samples"] = json!(4);
    c["block_layer"] = json!(3);
    c["sources"] = json!([NoiseSource::Grad]);
    c["settings"] = json!([Setting {
        drop_rate: 0.5,
        lr: 0.1
    }]);
    let inputs = Inputs {
        weights: Some(&w),
        ..common::cpu_inputs(&train, &train)
    };
    let file = pollster::block_on(run_to_file::<Fig4>(&c, &inputs, &mut Silent)).unwrap();
    assert_eq!(
        file.weights.as_deref(),
        Some("lenet5 (width 0.04) from lenet.safetensors")
    );
    assert_eq!(file.config["arch"], json!("lenet5"));
    assert_eq!(file.config["epochs"], json!(0));
    let series = &file.result["series"][0];
    let lab: Vec<f64> = serde_json::from_value(series["hessian_eigenvalues"].clone()).unwrap();

    // ip2 (the last weight) at the imported weights themselves: no step was taken.
    let block = p
        .spec
        .params()
        .unwrap()
        .iter()
        .rposition(|s| s.shape.len() == 2)
        .unwrap();
    let want = descending_eigenvalues(block_hessian(&p, &train, &[], block));
    assert_eq!(lab.len(), want.len());
    let scale = want[0].abs();
    assert!(scale > 1e-3, "a vacuous Hessian ({scale})");
    for (i, (l, r)) in lab.iter().zip(&want).enumerate() {
        assert!(
            (l - r).abs() <= 1e-4 * scale,
            "λ_{i}: lab {l:.6e}, reference {r:.6e}"
        );
    }
}

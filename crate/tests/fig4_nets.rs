//! Paper 000 Fig 4 on a named architecture (LeNet-5 at tiny width, genuine MNIST), through the
//! same preset as the FNN's. Oracles built here: every eigenvalue of the block Hessian from the
//! Gauss-Newton form of the f64 reference forward's Jacobian (exact for the last dense layer,
//! which the logits are affine in), and the S_para projected variances against the sample
//! covariance of the trajectory retraced step by step with a trainer (over a complete eigenbasis
//! the projected variances sum to its trace).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_oracle::{block_hessian, descending_eigenvalues};
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::fig4_variance_hessian::{run, Fig4Config};
use dropout_lab::experiments::noise_run::{NoiseSource, Setting};
use dropout_lab::experiments::Silent;
use dropout_lab::model::net::Arch;
use dropout_lab::train::Trainer;

fn lenet() -> Fig4Config {
    let mut c = Fig4Config::demo();
    c.run.arch = Some(Arch::Lenet5);
    c.run.arch_width = 0.04;
    c.run.train_size = 8;
    c.run.settings = vec![Setting {
        drop_rate: 0.5,
        lr: 0.1,
    }];
    (c.run.epochs, c.run.samples) = (3, 5);
    c.run.sources = vec![NoiseSource::Grad, NoiseSource::Para];
    // LeNet's weights: conv1, conv2, ip1, ip2. ip2 is the last dense layer.
    c.run.block_layer = 3;
    c
}

#[test]
fn fig4_on_lenet_is_the_reference_block_hessian_and_the_trajectorys_variance() {
    let train = common::mnist("train").first(8).unwrap();
    let cfg = lenet();
    let r =
        pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent)).unwrap();
    let info = r.parameters.clone().expect("the result names its block");
    assert_eq!(r.series.len(), 2);

    // Retrace: the same training to `epochs`, then one snapshot per further step.
    let s = cfg.run.settings[0];
    let (host, para, block) = pollster::block_on(async {
        let tc = cfg.run.train_config(&s, cfg.run.samples);
        let mut t = Trainer::new(tc, &train, &train, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        assert!(!t.is_dense(), "LeNet-5 trains on the layer path");
        t.run(cfg.run.epochs).await.unwrap();
        let specs = t.net().unwrap().param_specs;
        let block = specs
            .iter()
            .position(|p| info.label.contains(&format!("{} ", p.name)))
            .expect("the label names a parameter");
        assert!(specs[block].name.ends_with(".weight") && specs[block].shape[0] == 10);
        assert_eq!(info.dim, specs[block].len());
        let mut para = Vec::new();
        for _ in 0..cfg.run.samples {
            t.run(1).await.unwrap();
            para.push(t.params().await.unwrap().params[block].clone());
        }
        assert!(t.is_done());
        (t.params().await.unwrap(), para, block)
    });

    let want = descending_eigenvalues(block_hessian(&host, &train, &[], block));
    let scale = want[0].abs();
    assert!(scale > 1e-3, "a vacuous Hessian ({scale})");
    for series in &r.series {
        assert_eq!(series.hessian_eigenvalues.len(), info.dim);
        for (i, (lab, w)) in series.hessian_eigenvalues.iter().zip(&want).enumerate() {
            assert!(
                (lab - w).abs() <= 1e-4 * scale,
                "λ_{i}(H): lab {lab:.6e}, reference {w:.6e}"
            );
        }
        assert!(series
            .projected_variance
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0));
    }

    // Σ_i Var(Proj_{v_i}(S_para)) = tr Cov(S_para), the unbiased covariance of the retrace.
    let n = para.len() as f64;
    let trace: f64 = (0..info.dim)
        .map(|j| {
            let col: Vec<f64> = para.iter().map(|p| p[j] as f64).collect();
            let m = col.iter().sum::<f64>() / n;
            col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
        })
        .sum();
    let series = r
        .series
        .iter()
        .find(|s| s.source == NoiseSource::Para)
        .unwrap();
    let total: f64 = series.projected_variance.iter().sum();
    assert!(trace > 0.0);
    assert!(
        (total - trace).abs() <= 1e-3 * trace,
        "Σ Var(Proj) {total:.6e}, tr Cov(S_para) {trace:.6e}"
    );
}

#[test]
fn a_block_the_network_lacks_and_a_zero_rate_are_refused_by_name() {
    let train = common::mnist("train").first(8).unwrap();
    let inputs = common::cpu_inputs(&train, &train);
    let mut cfg = lenet();
    cfg.run.block_layer = 4;
    let e = pollster::block_on(run(&cfg, &inputs, &mut Silent)).unwrap_err();
    assert!(e.to_string().contains("4 weight tensors"), "{e}");
    let mut cfg = lenet();
    cfg.run.settings[0].drop_rate = 0.0;
    let e = pollster::block_on(run(&cfg, &inputs, &mut Silent)).unwrap_err();
    assert!(e.to_string().contains("drop rate 0"), "{e}");
}

//! Paper 002 Table 1 / Fig. 3 on VGG-11 (`experiments::p002_vgg_volume`) at tiny scale: the
//! Laplace volume of the last layer equals the weight-volume definition (Def. 3.1) applied to the
//! dense Σ = Ω⁻¹ ⊗ Γ⁻¹, with Ω and Γ formed in f64 from the reference forward of the network the
//! preset's config trains; the sampling method covers every weight layer.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_reference::{RefBn, Reference};
use dropout_lab::analysis::volume::log_volume;
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::p002_vgg_volume::{run, VggVolumeConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::model::net::NetSpec;
use dropout_lab::train::Trainer;
use nalgebra::{DMatrix, DVector};

#[test]
fn the_last_layers_laplace_volume_is_the_definition_on_the_dense_kronecker_covariance() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = VggVolumeConfig::demo();
    cfg.net.model.arch_mut().unwrap().width = 1.0 / 16.0;
    (cfg.net.train_size, cfg.net.test_size, cfg.net.epochs) = (48, 32, 2);
    cfg.net.batch_size = 16;
    cfg.net.schedule.milestones = vec![1];
    cfg.drop_rates = vec![0.0, 0.3];
    cfg.kfc_rows = 24;
    cfg.sampling.iterations = 8;
    cfg.sampling.block = 4;
    cfg.sampling.epsilon = 1e3;
    cfg.sampling.chain = false;
    let r = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &test), &mut Silent)).unwrap();
    assert!(r
        .data_note
        .as_deref()
        .unwrap()
        .contains("not the paper's CIFAR-10"));
    let plain = &r.points[0];
    assert_eq!(plain.drop_rate, 0.0);
    // 8 convolutions and 2 dense layers, by both estimators.
    assert_eq!(plain.laplace.len(), 10);
    let s = plain.sampling.as_ref().unwrap();
    assert_eq!((s.accepted, s.layers.len()), (8, 10), "{s:?}");
    assert!(
        (plain.loss_gap - (plain.test_loss - plain.train_loss)).abs() < 1e-7,
        "{plain:?}"
    );

    // The drop-0 network again, and its last layer's factors from the f64 reference.
    let mut c = cfg.net.clone();
    c.model.set_drop_rate(0.0);
    let host = pollster::block_on(async {
        let mut t = Trainer::new(c, &train, &test, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        while !t.is_done() {
            t.run(10).await.unwrap();
        }
        t.params().await.unwrap()
    });
    let theta: Vec<Vec<f64>> = host
        .params
        .iter()
        .map(|v| v.iter().map(|&a| a as f64).collect())
        .collect();
    let rows = train.first(cfg.kfc_rows).unwrap();
    let xs: Vec<Vec<f64>> = rows
        .features
        .chunks(rows.dim)
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    let spec = &host.spec;
    let last = spec.layers.len() - 1;
    let prefix = NetSpec {
        input: spec.input,
        classes: spec.shapes().unwrap()[last - 1][0],
        layers: spec.layers[..last].to_vec(),
    };
    let n_params = theta.len();
    let inputs = Reference {
        spec: &prefix,
        params: &theta[..n_params - 2],
        bn: RefBn::Train,
        masks: &[],
    }
    .logits(&xs)
    .0;
    let logits = Reference {
        spec,
        params: &theta,
        bn: RefBn::Train,
        masks: &[],
    }
    .logits(&xs)
    .0;
    let (d_in, d_out) = (inputs[0].len(), logits[0].len());
    let mut omega = DMatrix::<f64>::zeros(d_in, d_in);
    let mut gamma = DMatrix::<f64>::zeros(d_out, d_out);
    for (a, z) in inputs.iter().zip(&logits) {
        let a = DVector::from_column_slice(a);
        omega += &a * a.transpose();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let p = DVector::from_iterator(d_out, e.iter().map(|v| v / e.iter().sum::<f64>()));
        gamma += DMatrix::from_diagonal(&p) - &p * p.transpose();
    }
    let n = xs.len() as f64;
    let damp = |m: DMatrix<f64>| {
        let tau = cfg.damping * m.diagonal().mean();
        &m + DMatrix::<f64>::identity(m.nrows(), m.nrows()) * tau
    };
    let (omega, gamma) = (damp(omega / n), damp(gamma / n));
    let sigma = omega
        .try_inverse()
        .unwrap()
        .kronecker(&gamma.try_inverse().unwrap());
    let want = log_volume(&sigma).unwrap();
    let got = plain.laplace[9].log_volume;
    assert_eq!(
        (plain.laplace[9].fan_in, plain.laplace[9].fan_out),
        (d_in, d_out)
    );
    assert!(
        (got - want).abs() <= 1e-3 * want.abs().max(1.0),
        "last layer: preset {got} vs dense definition {want}"
    );
}

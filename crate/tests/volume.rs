//! Paper 002 Fig. 2(b) at tiny scale on genuine MNIST: every epoch has a K-FAC volume per layer,
//! volumes are at most 1, and the first point is the volume at the initial weights by the dense
//! definition, formed in the test.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::experiments::p002_fig2_volume::{run, VolumeTrackConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::model::init::initial_params;
use dropout_lab::rng::{stream, Stream};
use nalgebra::{DMatrix, DVector};

#[test]
fn volumes_per_epoch_start_at_the_initial_weights() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = VolumeTrackConfig::demo();
    cfg.train_size = 300;
    cfg.test_size = 300;
    cfg.epochs = 2;
    cfg.kfac_rows = 100;
    cfg.correlation_epochs = vec![2];
    let r = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &test), &mut Silent)).unwrap();
    assert_eq!(
        r.runs.iter().map(|x| x.dropout).collect::<Vec<_>>(),
        vec![false, true]
    );
    for x in &r.runs {
        assert_eq!(
            x.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        for e in &x.epochs {
            assert_eq!(e.layers.len(), 4);
            assert!(
                e.layers
                    .iter()
                    .all(|l| l.log_volume.is_finite() && l.log_volume <= 0.0),
                "{:?}",
                e.layers
            );
        }
    }
    // The plain network's output layer at epoch 0 by the dense definition (Def. 3.1, eq. 9-11),
    // formed here in f64 from the initial weights: A = E[h hᵀ] of its input, H = E[diag(p) − ppᵀ],
    // each damped by τ·mean(diag), Σ = A⁻¹ ⊗ H⁻¹, log vol = log det Σ − Σ_i log Σ_ii.
    let tc = cfg.train_config(false);
    let theta = initial_params(tc.mlp().unwrap(), &mut stream(tc.seed, Stream::Init));
    let rows = cfg.kfac_rows;
    let widths = &tc.mlp().unwrap().widths;
    let mut h: Vec<Vec<f64>> = (0..rows)
        .map(|r| {
            train.features[r * 784..(r + 1) * 784]
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    for (l, (w, b)) in theta.layers.iter().enumerate().take(widths.len() - 2) {
        h = h
            .iter()
            .map(|x| {
                (0..widths[l + 1])
                    .map(|o| {
                        let z: f64 = b[o] as f64
                            + x.iter()
                                .enumerate()
                                .map(|(i, v)| v * w[i * widths[l + 1] + o] as f64)
                                .sum::<f64>();
                        z.max(0.0)
                    })
                    .collect()
            })
            .collect();
    }
    let last = widths.len() - 2;
    let (fan_in, classes) = (widths[last], widths[last + 1]);
    let (w, b) = &theta.layers[last];
    let mut a = DMatrix::<f64>::zeros(fan_in, fan_in);
    let mut hh = DMatrix::<f64>::zeros(classes, classes);
    for x in &h {
        let xv = DVector::from_column_slice(x);
        a += &xv * xv.transpose();
        let z: Vec<f64> = (0..classes)
            .map(|o| {
                b[o] as f64
                    + x.iter()
                        .enumerate()
                        .map(|(i, v)| v * w[i * classes + o] as f64)
                        .sum::<f64>()
            })
            .collect();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let p = DVector::from_iterator(classes, e.iter().map(|v| v / e.iter().sum::<f64>()));
        hh += DMatrix::from_diagonal(&p) - &p * p.transpose();
    }
    let damp = |m: DMatrix<f64>| {
        let m = m / rows as f64;
        let tau = cfg.damping * m.diagonal().mean();
        &m + DMatrix::identity(m.nrows(), m.nrows()) * tau
    };
    let sigma = damp(a)
        .try_inverse()
        .unwrap()
        .kronecker(&damp(hh).try_inverse().unwrap());
    let log_det = common::reference::log_det_spd(&sigma);
    let want = log_det - sigma.diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let got = r.runs[0].epochs[0].layers[last].log_volume;
    assert!(
        (got - want).abs() <= 1e-6 * want.abs(),
        "output layer log vol {got} vs dense {want}"
    );
    let mut bad = cfg.clone();
    bad.drop_rate = 1.0;
    assert!(
        pollster::block_on(run(&bad, &common::cpu_inputs(&train, &test), &mut Silent)).is_err()
    );
}

#[test]
fn volume_rate_sweep_matches_single_runs() {
    use dropout_lab::experiments::p002_fig3_volume_rate::{run as run_rate, VolumeRateConfig};
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = VolumeRateConfig::demo();
    cfg.base.train_size = 300;
    cfg.base.test_size = 300;
    cfg.base.epochs = 2;
    cfg.base.kfac_rows = 100;
    cfg.base.correlation_epochs = vec![];
    cfg.drop_rates = vec![0.0, 0.3];
    let r = pollster::block_on(run_rate(
        &cfg,
        &common::cpu_inputs(&train, &test),
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(
        r.points.iter().map(|p| p.drop_rate).collect::<Vec<_>>(),
        vec![0.0, 0.3]
    );
    // The drop-0.3 point is the last epoch of the Fig. 2(b) run with the same settings, and the
    // drop-0 point that of its plain network: the two presets agree.
    let mut single = cfg.base.clone();
    single.drop_rate = 0.3;
    let fig2 = pollster::block_on(run(
        &single,
        &common::cpu_inputs(&train, &test),
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(
        r.points[0].layers,
        fig2.runs[0].epochs.last().unwrap().layers
    );
    let gap = |x: &dropout_lab::experiments::p002_fig2_volume::VolumeRun| x.generalisation_gap;
    assert_eq!(r.points[0].accuracy_gap, gap(&fig2.runs[0]));
    assert_eq!(r.points[1].accuracy_gap, gap(&fig2.runs[1]));
    for p in &r.points {
        assert!((p.loss_gap - (p.test_loss - p.train_loss)).abs() < 1e-7);
    }
    // Fig. 2(b) reports the same final losses, and the paper's gap (test minus train loss).
    for (p, run) in r.points.iter().zip(&fig2.runs) {
        assert_eq!(run.final_train_loss, Some(p.train_loss));
        assert_eq!(run.final_test_loss, Some(p.test_loss));
        assert!((run.loss_gap().unwrap() - p.loss_gap).abs() < 1e-7);
    }
}

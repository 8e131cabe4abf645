//! Paper 002 Fig. 2(b) at tiny scale on genuine MNIST: every epoch has a K-FAC volume per layer,
//! volumes are at most 1, and the first point is exactly the estimate at the initial weights.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use dropout_lab::analysis::kfac::{factors, laplace_volumes, MaskNoise};
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::p002_fig2_volume::{run, VolumeTrackConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::Trainer;

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
    pollster::block_on(async {
        let tc = cfg.train_config(false);
        let t = Trainer::new(tc.clone(), &train, &test, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        let theta = t.model().to_host().await.unwrap();
        let f = factors(
            &tc.model,
            &theta,
            &train.first(100).unwrap(),
            MaskNoise::Bernoulli,
            cfg.mask_draws,
            &mut stream(cfg.seed, Stream::GradientNoise),
        )
        .unwrap();
        assert_eq!(
            laplace_volumes(&tc.model, &f, cfg.damping).unwrap(),
            r.runs[0].epochs[0].layers
        );
    });
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

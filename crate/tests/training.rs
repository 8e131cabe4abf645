//! Training on genuine MNIST with the CPU backend: it learns, it is reproducible, it stops on
//! divergence with a clear error, and exported weights reproduce the model's numbers.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::io::safetensors;
use dropout_lab::model::{Activation, InitScheme, MlpConfig};
use dropout_lab::train::eval::{evaluate, DeviceData};
use dropout_lab::train::{OptimizerKind, TrainConfig, Trainer};
use dropout_lab::LabError;

fn config(optimizer: OptimizerKind, lr: f64, train_size: usize, epochs: usize) -> TrainConfig {
    TrainConfig {
        model: MlpConfig {
            widths: vec![784, 50, 50, 10],
            activation: Activation::Relu,
            drop_rates: vec![0.0, 0.2],
            init: InitScheme::He,
        }
        .into(),
        train_size,
        test_size: 1000,
        optimizer,
        lr,
        momentum: 0.9,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        schedule: Default::default(),
        epochs,
        batch_size: 32,
        seed: 3,
        eval_every: 1,
        record_steps: true,
        snapshot_every: 0,
        snapshot_layer: None,
        snapshot_after: 0,
        dropout_mode: Default::default(),
        dropout_split: None,
        noise: None,
        augment: false,
        full_batch: false,
    }
}

fn train(cfg: TrainConfig, train: &Dataset, test: &Dataset) -> Result<Trainer, LabError> {
    pollster::block_on(async {
        let mut t = Trainer::new(cfg, train, test, cpu_device(), "cpu", "mnist").await?;
        while !t.is_done() {
            t.run(40).await?;
        }
        Ok(t)
    })
}

#[test]
fn sgd_with_dropout_learns_mnist() {
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    // 3000 images, batch 32, 3 epochs = 282 steps.
    let t = train(config(OptimizerKind::Sgd, 0.05, 3000, 3), &tr, &te).unwrap();
    let h = t.history();
    assert_eq!(h.epochs.len(), 4);
    assert_eq!(h.steps.len(), 282);
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert!(
        first.test_accuracy < 0.3,
        "an untrained net is near chance: {}",
        first.test_accuracy
    );
    assert!(
        last.train_loss < 0.5 * first.train_loss,
        "loss fell: {} -> {}",
        first.train_loss,
        last.train_loss
    );
    assert!(
        last.test_accuracy > 0.85,
        "test accuracy {} after 282 steps",
        last.test_accuracy
    );
}

#[test]
fn every_optimizer_lowers_the_loss() {
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    for (opt, lr) in [
        (OptimizerKind::Gd, 0.5),
        (OptimizerKind::Momentum, 0.01),
        (OptimizerKind::Nesterov, 0.01),
        (OptimizerKind::Adam, 1e-3),
    ] {
        let t = train(config(opt, lr, 500, 4), &tr, &te).unwrap();
        let e = &t.history().epochs;
        assert!(
            e.last().unwrap().train_loss < 0.8 * e[0].train_loss,
            "{opt:?}: {} -> {}",
            e[0].train_loss,
            e.last().unwrap().train_loss
        );
    }
}

#[test]
fn same_seed_same_numbers_other_seed_other_numbers() {
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    let a = train(config(OptimizerKind::Sgd, 0.05, 300, 2), &tr, &te).unwrap();
    let b = train(config(OptimizerKind::Sgd, 0.05, 300, 2), &tr, &te).unwrap();
    assert_eq!(a.history().epochs, b.history().epochs);
    assert_eq!(a.history().steps, b.history().steps);
    let mut other = config(OptimizerKind::Sgd, 0.05, 300, 2);
    other.seed = 4;
    let c = train(other, &tr, &te).unwrap();
    assert_ne!(a.history().steps, c.history().steps);
}

#[test]
fn divergence_is_a_clear_error() {
    let te = common::mnist("test");
    // Features of 1e30 keep the first loss finite; the first update then overflows f32.
    let mut tr = te.first(200).unwrap();
    tr.features.iter_mut().for_each(|v| *v *= 1e30);
    let err = train(config(OptimizerKind::Gd, 0.1, 200, 5), &tr, &te)
        .err()
        .expect("must diverge");
    assert!(matches!(err, LabError::NonFinite { .. }), "{err:?}");
    assert!(err.to_string().contains("diverged"));
}

#[test]
fn snapshots_and_weight_export_reproduce_the_model() {
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = config(OptimizerKind::Sgd, 0.05, 320, 1);
    cfg.snapshot_every = 5;
    let t = train(cfg.clone(), &tr, &te).unwrap();
    let steps: Vec<usize> = t.snapshots().iter().map(|s| s.step).collect();
    assert_eq!(steps, vec![0, 5, 10]);
    assert_eq!(
        t.snapshots()[0].params.len(),
        cfg.mlp().unwrap().param_count()
    );
    pollster::block_on(async {
        let params = t.mlp().unwrap().to_host().await.unwrap();
        let bytes = safetensors::export(cfg.mlp().unwrap(), &params).unwrap();
        let (model_cfg, back) = safetensors::import(&bytes).unwrap();
        assert_eq!(back, params);
        assert_eq!(&back.flatten(), &t.snapshots()[2].params);
        let device = cpu_device();
        let reloaded = dropout_lab::model::Mlp::from_host(&model_cfg, &back, &device);
        let test = DeviceData::upload(&te.first(1000).unwrap(), &device);
        let want = t.history().epochs.last().unwrap();
        let (loss, acc) = evaluate(&reloaded, &test).await.unwrap();
        assert_eq!((loss, acc), (want.test_loss, want.test_accuracy));
    });
}

#[test]
fn oversized_models_and_subsets_are_refused_before_anything_is_allocated() {
    let (train_set, test_set) = (common::mnist("train"), common::mnist("test"));
    // 784-200000-10 (159M parameters) is over the model-size cap itself, with both numbers.
    let mut wide = config(OptimizerKind::Momentum, 0.1, 1000, 1);
    wide.model.mlp_mut().unwrap().widths = vec![784, 200_000, 10];
    wide.model.mlp_mut().unwrap().drop_rates = vec![0.5];
    let e = train(wide, &train_set, &test_set)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("159000010 parameters") && e.contains("50000000"),
        "{e}"
    );
    // 784-20000-10 is within that cap, but full-batch GD on all 60000 images holds 4 x 60000 x
    // 20010 activation floats (19 GB) at once: over the native 16 GiB budget. Were it not
    // refused up front, the first step would try to allocate them.
    let mut gd = config(OptimizerKind::Gd, 0.1, 60000, 1);
    gd.model.mlp_mut().unwrap().widths = vec![784, 20_000, 10];
    gd.model.mlp_mut().unwrap().drop_rates = vec![0.5];
    let started = std::time::Instant::now();
    let e = train(gd, &train_set, &test_set)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("784-20000-10 with 60000 training rows per step needs at least"),
        "{e}"
    );
    assert!(
        e.contains("GiB") && e.contains("allows itself natively"),
        "names the limit: {e}"
    );
    assert!(started.elapsed().as_secs() < 5, "refused before allocating");
    // A subset of 1e9 images is refused with both counts, before any upload.
    let e = train(
        config(OptimizerKind::Sgd, 0.1, 1_000_000_000, 1),
        &train_set,
        &test_set,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(e.contains("1000000000") && e.contains("60000"), "{e}");
}

/// Parameters after each of the first `steps` full-batch GD steps (dropout off, so every run
/// from the same seed starts at the same θ0 with the same gradient).
fn gd_trajectory(mut cfg: TrainConfig, tr: &Dataset, te: &Dataset) -> Vec<Vec<f32>> {
    cfg.model.mlp_mut().unwrap().drop_rates = vec![0.0, 0.0];
    cfg.snapshot_every = 1;
    let t = train(cfg, tr, te).unwrap();
    t.snapshots().iter().map(|s| s.params.clone()).collect()
}

#[test]
fn weight_decay_adds_lr_times_decay_times_theta_to_the_first_step() {
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    let (lr, wd) = (0.05, 0.01);
    let plain = gd_trajectory(config(OptimizerKind::Gd, lr, 100, 1), &tr, &te);
    let mut decayed_cfg = config(OptimizerKind::Gd, lr, 100, 1);
    decayed_cfg.weight_decay = wd;
    let decayed = gd_trajectory(decayed_cfg, &tr, &te);
    assert_eq!(plain[0], decayed[0], "same initial weights");
    // θ1 = θ0 − lr (g + wd θ0), so the two runs differ by exactly −lr·wd·θ0 after one step.
    let mut worst = 0.0f64;
    for ((&a, &b), &t0) in plain[1].iter().zip(&decayed[1]).zip(&plain[0]) {
        let want = -lr * wd * t0 as f64;
        worst = worst.max(((b - a) as f64 - want).abs());
    }
    assert!(worst < 2e-7, "largest deviation from −lr·wd·θ0: {worst:e}");
}

#[test]
fn step_schedule_scales_the_updates_after_its_milestone() {
    use dropout_lab::train::{LrSchedule, ScheduleUnit};
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = config(OptimizerKind::Gd, 0.05, 100, 4);
    cfg.schedule = LrSchedule::divide_at(vec![2], 1e6, ScheduleUnit::Epochs);
    let p = gd_trajectory(cfg, &tr, &te);
    let moved = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    // Full-batch GD: one step per epoch; steps 0 and 1 at lr, steps 2 and 3 at lr / 1e6.
    let (s0, s1, s2, s3) = (
        moved(&p[0], &p[1]),
        moved(&p[1], &p[2]),
        moved(&p[2], &p[3]),
        moved(&p[3], &p[4]),
    );
    assert!(
        s0 > 1e-3 && s1 > 1e-3,
        "steps at the full rate move: {s0:e}, {s1:e}"
    );
    // The update after the milestone is lr/1e6 times a gradient of the same size, so at most
    // ~1e-6 of the step before; f32 rounding of θ (|θ| ≈ 0.1, ulp 7e-9 x 40k weights) adds ≲ 2e-6.
    assert!(
        s2 < 1e-5 * s1 && s3 < 1e-5 * s1,
        "steps after the milestone: {s2:e}, {s3:e} vs {s1:e}"
    );
}

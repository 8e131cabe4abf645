//! Fig 1b (paper 000, VGG-9) and Fig 1c (ResNet-20 with BatchNorm and dropout after every
//! convolution unit) at tiny scale: a curve point is the loss and accuracy of θ + α d with d drawn
//! in the test from Li et al.'s per-filter definition and the loss from the f64 reference forward
//! (`common::net_reference`; no lab code on the oracle side but the trainer that made θ).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_reference::{cross_entropy, RefBn, Reference};
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::experiments::landscape_pair::NetCurve;
use dropout_lab::experiments::p000_fig1b_vgg::{run, Fig1bConfig};
use dropout_lab::experiments::p000_fig1c_resnet::Fig1cConfig;
use dropout_lab::experiments::Silent;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::TrainConfig;
use dropout_lab::train::Trainer;
use rand::Rng;
use rand_distr::StandardNormal;

#[test]
fn curve_points_are_the_reference_loss_and_accuracy_of_perturbed_vgg9() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = Fig1bConfig::demo();
    cfg.train_size = 24;
    cfg.test_size = 16;
    cfg.width = 1.0 / 16.0;
    cfg.epochs = 3;
    cfg.milestones = vec![2];
    cfg.points = 5;
    let r = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &test), &mut Silent)).unwrap();
    assert_eq!(r.alphas, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    assert_eq!(r.curves.len(), 2);
    assert!(r
        .data_note
        .as_deref()
        .unwrap()
        .contains("not the paper's CIFAR-10"));
    check_points(
        cfg.train_config(true),
        cfg.seed,
        false,
        &r.alphas,
        &r.curves,
        &train,
        &test,
    );
}

#[test]
fn fig1c_points_are_the_reference_loss_of_perturbed_resnet20_with_batchnorm() {
    use dropout_lab::experiments::p000_fig1c_resnet::run;
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = Fig1cConfig::demo();
    (cfg.train_size, cfg.test_size, cfg.width, cfg.epochs) = (16, 16, 0.125, 2);
    cfg.batch_size = 8;
    cfg.points = 5;
    let r = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &test), &mut Silent)).unwrap();
    assert!(r
        .data_note
        .as_deref()
        .unwrap()
        .contains("not the paper's CIFAR-100"));
    check_points(
        cfg.train_config(true),
        cfg.seed,
        cfg.recalibrate_bn,
        &r.alphas,
        &r.curves,
        &train,
        &test,
    );
}

#[test]
fn fig1c_with_recalibrated_batch_norm_measures_the_dropout_free_statistics() {
    use dropout_lab::experiments::p000_fig1c_resnet::run;
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = Fig1cConfig::demo();
    (cfg.train_size, cfg.test_size, cfg.width, cfg.epochs) = (16, 16, 0.125, 2);
    (cfg.batch_size, cfg.points, cfg.recalibrate_bn) = (16, 5, true);
    let r = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &test), &mut Silent)).unwrap();
    check_points(
        cfg.train_config(true),
        cfg.seed,
        true,
        &r.alphas,
        &r.curves,
        &train,
        &test,
    );
}

/// Retrain the dropout network of `config`, draw Li et al.'s direction here and compare every
/// point of its first curve with the reference loss and accuracy on the training subset.
fn check_points(
    config: TrainConfig,
    seed: u64,
    recalibrated: bool,
    alphas: &[f64],
    curves: &[NetCurve],
    train: &Dataset,
    test: &Dataset,
) {
    let (train_size, epochs) = (config.train_size, config.epochs);
    pollster::block_on(async {
        let mut t = Trainer::new(config, train, test, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        while !t.is_done() {
            t.run(10).await.unwrap();
        }
        // Full-batch steps with the evaluation only at the ends.
        assert_eq!(
            t.epochs().iter().map(|e| e.step).collect::<Vec<_>>(),
            vec![0, epochs]
        );
        let host = t.params().await.unwrap();
        let specs = host.spec.params().unwrap();
        // Li et al.'s direction: Gaussian per tensor of ≥ 2 dimensions (f32 draws from the
        // directions stream in state_dict order), each output channel's slice rescaled to the
        // norm of θ's; vectors (biases, BatchNorm) 0.
        let mut rng = stream(seed, Stream::Directions);
        let d: Vec<Vec<f64>> = specs
            .iter()
            .zip(&host.params)
            .map(|(s, w)| {
                if s.shape.len() < 2 {
                    return vec![0.0; w.len()];
                }
                let g: Vec<f64> = (0..w.len())
                    .map(|_| rng.sample::<f32, _>(StandardNormal) as f64)
                    .collect();
                let per = w.len() / s.shape[0];
                let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
                g.chunks(per)
                    .zip(w.chunks(per))
                    .flat_map(|(gf, wf)| {
                        let wf: Vec<f64> = wf.iter().map(|&v| v as f64).collect();
                        let k = norm(&wf) / norm(gf);
                        gf.iter().map(move |x| x * k).collect::<Vec<_>>()
                    })
                    .collect()
            })
            .collect();
        let mut running: Vec<(Vec<f64>, Vec<f64>)> = host
            .running
            .iter()
            .map(|r| {
                (
                    r.mean.iter().map(|&v| v as f64).collect(),
                    r.var.iter().map(|&v| v as f64).collect(),
                )
            })
            .collect();
        let sub = train.first(train_size).unwrap();
        let xs: Vec<Vec<f64>> = sub
            .features
            .chunks(sub.dim)
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect();
        let labels: Vec<usize> = sub.labels.iter().map(|&l| l as usize).collect();
        if recalibrated {
            // One chunk: the statistics are the dropout-free training-mode pass's, stored
            // unbiased (the reference collects them).
            let theta: Vec<Vec<f64>> = host
                .params
                .iter()
                .map(|w| w.iter().map(|&a| a as f64).collect())
                .collect();
            let collected = std::cell::RefCell::new(Vec::new());
            Reference {
                spec: &host.spec,
                params: &theta,
                bn: RefBn::Collect(&collected),
                masks: &[],
            }
            .logits(&xs);
            running = collected.into_inner();
        }
        let with = curves.iter().find(|c| c.dropout).unwrap();
        for (i, &alpha) in alphas.iter().enumerate() {
            let theta: Vec<Vec<f64>> = host
                .params
                .iter()
                .zip(&d)
                .map(|(w, dv)| {
                    w.iter()
                        .zip(dv)
                        .map(|(&a, b)| a as f64 + alpha * b)
                        .collect()
                })
                .collect();
            let (z, _) = Reference {
                spec: &host.spec,
                params: &theta,
                bn: RefBn::Eval(&running),
                masks: &[],
            }
            .logits(&xs);
            let loss = cross_entropy(&z, &labels);
            let hits = z
                .iter()
                .zip(&labels)
                .filter(|(z, &y)| z.iter().all(|&v| v <= z[y]))
                .count();
            let got = with.train_loss[i] as f64;
            assert!(
                (got - loss).abs() < 1e-4 * (1.0 + loss),
                "α = {alpha}: {got} vs {loss}"
            );
            assert_eq!(
                with.train_accuracy[i],
                hits as f32 / labels.len() as f32,
                "α = {alpha}"
            );
        }
        // α = 0 is the trained network's own evaluation.
        let own = t.epochs().last().unwrap();
        assert_eq!(
            (with.train_loss[2] - own.train_loss).abs() < 1e-5,
            !recalibrated,
            "recalibration changes the loss at θ ({} vs {})",
            with.train_loss[2],
            own.train_loss
        );
    });
}

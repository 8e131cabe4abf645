//! Paper 000 Figs. 3 and 5 on ResNet-20 (`noise-resnet`) at tiny scale, against oracles built
//! here from the f64 reference forward (`common::net_reference`): every eigenvalue of Fig 5's
//! block Hessian from a dense Hessian by second differences of the reference loss; Fig 3's first
//! interval flatness from a PCA (f64, nalgebra) of the S_para trajectory retraced step by step and
//! a fine scan of the reference loss along it; and BatchNorm recalibration against the
//! reference normalising with the dropout-free batch statistics.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_oracle::Oracle;
use common::net_reference::{cross_entropy, RefBn, Reference};
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::noise_run::{NoiseSource, Setting};
use dropout_lab::experiments::p000_resnet_noise::{run, ResnetNoiseConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::model::net::NetParams;
use dropout_lab::train::bn_recalibration::recalibrate_batch_norm;
use dropout_lab::train::eval::DeviceData;
use dropout_lab::train::Trainer;
use nalgebra::{DMatrix, SymmetricEigen};

fn tiny() -> ResnetNoiseConfig {
    let mut c = ResnetNoiseConfig::demo();
    (c.train_size, c.batch_size, c.width) = (4, 4, 0.125);
    (c.epochs, c.samples, c.top_k) = (3, 4, 2);
    c.settings = vec![Setting {
        drop_rate: 0.2,
        lr: 0.1,
    }];
    c.flatness.tolerance = 1e-7;
    // The oracle reads the running statistics training left.
    c.recalibrate_bn = false;
    c
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

/// The reference's evaluation-mode loss of `host` with the block (parameter `block`) replaced.
struct BlockLoss<'a> {
    host: &'a NetParams,
    theta: Vec<Vec<f64>>,
    running: Vec<(Vec<f64>, Vec<f64>)>,
    xs: Vec<Vec<f64>>,
    labels: Vec<usize>,
    block: usize,
}

impl BlockLoss<'_> {
    fn at(&self, w: &[f64]) -> f64 {
        let mut theta = self.theta.clone();
        theta[self.block] = w.to_vec();
        let (z, _) = Reference {
            spec: &self.host.spec,
            params: &theta,
            bn: RefBn::Eval(&self.running),
            masks: &[],
        }
        .logits(&self.xs);
        cross_entropy(&z, &self.labels)
    }
}

/// The run's trainer of its first setting, on the CPU.
async fn trainer(cfg: &ResnetNoiseConfig, train: &dropout_lab::data::Dataset) -> Trainer {
    Trainer::new(
        cfg.train_config(&cfg.settings[0]),
        train,
        train,
        cpu_device(),
        "cpu",
        "mnist",
    )
    .await
    .unwrap()
}

#[test]
fn fig5_and_fig3_numbers_are_the_reference_hessian_and_a_fine_scan() {
    let train = common::mnist("train").first(4).unwrap();
    let cfg = tiny();
    let r =
        pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent)).unwrap();
    assert_eq!(
        r.block.shape,
        vec![2, 2, 3, 3],
        "stage 1's last conv at width 1/8"
    );
    assert!(r.data_note.as_deref().unwrap().contains("CIFAR-100"));
    assert_eq!((r.flatness.len(), r.hessian.len()), (2, 2));

    // Retrace the run: the trainer to `epochs`, then the S_para snapshots one step apart.
    let (host, para, block) = pollster::block_on(async {
        let mut t = trainer(&cfg, &train).await;
        t.run(cfg.epochs).await.unwrap();
        let block = t
            .net()
            .unwrap()
            .param_specs
            .iter()
            .position(|p| p.name == r.block.name)
            .unwrap();
        let mut para = Vec::new();
        for _ in 0..cfg.samples {
            t.run(1).await.unwrap();
            para.push(t.params().await.unwrap().params[block].clone());
        }
        assert!(t.is_done());
        (t.params().await.unwrap(), para, block)
    });
    let loss = BlockLoss {
        host: &host,
        theta: host.params.iter().map(|p| f64s(p)).collect(),
        running: host
            .running
            .iter()
            .map(|s| (f64s(&s.mean), f64s(&s.var)))
            .collect(),
        xs: train.features.chunks(train.dim).map(f64s).collect(),
        labels: train.labels.iter().map(|&l| l as usize).collect(),
        block,
    };
    let w0 = loss.theta[block].clone();
    let d = w0.len();

    // Fig 5's oracle: after the block W every operation is piecewise linear (ReLU, BatchNorm in
    // evaluation mode, additions, average pooling, the dense layer) and W enters once, so the
    // Gauss-Newton form from the reference logits' Jacobian is the block Hessian.
    let hm = Oracle {
        spec: &host.spec,
        running: loss.running.clone(),
        xs: loss.xs.clone(),
        labels: loss.labels.clone(),
        masks: Vec::new(),
        train_bn: false,
    }
    .block_gauss_newton(&loss.theta, block, 1e-6);
    let mut oracle: Vec<f64> = SymmetricEigen::new(hm)
        .eigenvalues
        .iter()
        .copied()
        .collect();
    oracle.sort_by(|a, b| b.total_cmp(a));
    let scale = oracle.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    assert!(scale > 1e-2, "a vacuous Hessian ({scale})");
    for s in &r.hessian {
        assert_eq!(s.hessian_eigenvalues.len(), d);
        for (i, (lab, want)) in s.hessian_eigenvalues.iter().zip(&oracle).enumerate() {
            assert!(
                (lab - want).abs() <= 1e-4 * scale,
                "λ_{i}(H): lab {lab:.6e}, reference {want:.6e} (max |λ| {scale:.3e})"
            );
        }
    }

    // Fig 3: the S_para series' first direction. The snapshots are the lab's own f32 values
    // (same seed, same backend), the PCA is done here in f64.
    let n = para.len();
    let mut x = DMatrix::<f64>::from_fn(n, d, |i, j| para[i][j] as f64);
    for j in 0..d {
        let m = x.column(j).mean();
        x.column_mut(j).add_scalar_mut(-m);
    }
    let cov = x.transpose() * &x / (n as f64 - 1.0);
    let eig = SymmetricEigen::new(cov);
    let top = (0..d)
        .max_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]))
        .unwrap();
    let v: Vec<f64> = eig.eigenvectors.column(top).iter().copied().collect();
    let series = r
        .flatness
        .iter()
        .find(|s| s.source == NoiseSource::Para)
        .unwrap();
    let lambda = eig.eigenvalues[top];
    assert!(
        (series.eigenvalues[0] - lambda).abs() <= 1e-6 * lambda,
        "λ_1(Σ): lab {}, reference {lambda}",
        series.eigenvalues[0]
    );
    let f = series.flatness[0];
    let width = f.width.expect("both crossings within the range");
    // Scan each side in steps of width/2000 for the first point at or above twice the loss.
    let loss0 = loss.at(&w0);
    assert!(
        (f.loss0 - loss0).abs() <= 1e-5 * loss0,
        "L(θ0): {} vs {loss0}",
        f.loss0
    );
    let step = width / 2000.0;
    let crossing = |sign: f64| {
        (1..=6000)
            .map(|k| k as f64 * step)
            .find(|&t| {
                let w: Vec<f64> = w0.iter().zip(&v).map(|(a, b)| a + sign * t * b).collect();
                loss.at(&w) >= 2.0 * loss0
            })
            .expect("a crossing within three times the lab's width")
    };
    let scanned = crossing(1.0) + crossing(-1.0);
    assert!(
        (scanned - width).abs() <= 2.0 * step,
        "F_v1: lab {width}, fine scan {scanned} (step {step})"
    );
}

#[test]
fn recalibrated_batch_norm_normalises_with_the_dropout_free_batch_statistics() {
    let train = common::mnist("train").first(8).unwrap();
    let mut cfg = tiny();
    cfg.train_size = 8;
    cfg.batch_size = 8;
    cfg.settings[0].drop_rate = 0.5;
    let (before, after, host) = pollster::block_on(async {
        let mut t = trainer(&cfg, &train).await;
        t.run(3).await.unwrap();
        let data = DeviceData::upload(&train, &cpu_device());
        let mut net = t.net().unwrap();
        let before = net.to_host().await.unwrap();
        recalibrate_batch_norm(&mut net, &data).unwrap();
        let logits = net.logits(data.chunks[0].0.clone()).unwrap();
        let after = dropout_lab::backend::read_f32(logits.flatten::<1>(0, 1))
            .await
            .unwrap();
        (before, after, net.to_host().await.unwrap())
    });
    assert_eq!(
        host.params, before.params,
        "recalibration leaves the weights"
    );
    let theta: Vec<Vec<f64>> = host.params.iter().map(|p| f64s(p)).collect();
    let xs: Vec<Vec<f64>> = train.features.chunks(train.dim).map(f64s).collect();
    let logits = |bn| {
        Reference {
            spec: &host.spec,
            params: &theta,
            bn,
            masks: &[],
        }
        .logits(&xs)
        .0
        .concat()
    };
    // The reference's dropout-free training-mode pass, its batch statistics stored as PyTorch
    // stores running ones; evaluation mode with them is what recalibration must give.
    let collected = std::cell::RefCell::new(Vec::new());
    logits(RefBn::Collect(&collected));
    let stats = collected.borrow().clone();
    assert_eq!(stats.len(), host.running.len());
    let want = logits(RefBn::Eval(&stats));
    let scale = want.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let worst = after
        .iter()
        .zip(&want)
        .fold(0.0f64, |a, (x, y)| a.max((*x as f64 - y).abs()));
    assert!(
        worst <= 1e-4 * scale,
        "recalibrated logits off by {worst:.3e} (max |z| {scale:.3e})"
    );
    // Training's own statistics (gathered under masks) give other logits: the check bites.
    let running: Vec<(Vec<f64>, Vec<f64>)> = before
        .running
        .iter()
        .map(|s| (f64s(&s.mean), f64s(&s.var)))
        .collect();
    let stale = logits(RefBn::Eval(&running));
    let gap = stale
        .iter()
        .zip(&want)
        .fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
    assert!(
        gap > 1e-2 * scale,
        "the statistics did not change ({gap:.3e})"
    );
}

#[test]
fn bad_configs_are_refused_with_a_reason() {
    let train = common::mnist("train").first(4).unwrap();
    let inputs = common::cpu_inputs(&train, &train);
    let refused = |c: ResnetNoiseConfig| {
        pollster::block_on(run(&c, &inputs, &mut Silent))
            .unwrap_err()
            .to_string()
    };
    let mut c = tiny();
    c.block = 40;
    assert!(refused(c).contains("convolution weight 40 does not exist"));
    let mut c = tiny();
    c.width = 2.0; // stage 1's convolutions: 32·32·9 weights
    assert!(refused(c).contains("dense Hessian is limited"));
    let mut c = tiny();
    c.settings[0].drop_rate = 0.0;
    assert!(refused(c).contains("leaves none"));
}

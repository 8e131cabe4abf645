//! Conv nets against an f64 forward written in the tests (`common::net_reference`): logits,
//! gradients with BatchNorm in training mode, running statistics, and exact Hessian-vector
//! products against a dense Hessian from second differences of the f64 loss.
// Native only: the wasm build runs tests/browser.rs.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use burn::tensor::Tensor;
use common::net_fixtures::{data, f64s, params, rng};
use common::net_oracle::oracle_for;
use common::net_reference::{RefBn, Reference};
use dropout_lab::analysis::net_hessian::{net_hvp, NetHessianOperator, NetSpan};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::linalg::lanczos::{lanczos, LanczosOptions};
use dropout_lab::model::net::masks::{sample_site_masks, upload_site_masks};
use dropout_lab::model::net::{BnMode, Layer, Net, NetSpec, Shortcut};
use dropout_lab::progress::Silent;
use dropout_lab::train::eval::DeviceData;

/// The lab's Hessian over every parameter, one column per unit direction.
fn lab_hessian(net: &Net, dev: &DeviceData, masks: &[Option<Vec<f32>>]) -> Vec<Vec<f64>> {
    let d = NetSpan::All.dim(net);
    let units: Vec<Vec<f64>> = (0..d)
        .map(|j| {
            let mut e = vec![0.0; d];
            e[j] = 1.0;
            e
        })
        .collect();
    pollster::block_on(net_hvp(net, dev, masks, NetSpan::All, &units)).unwrap()
}

fn max_abs(m: &[Vec<f64>]) -> f64 {
    m.iter().flatten().fold(0.0f64, |a, &b| a.max(b.abs()))
}

fn compare_hessians(label: &str, lab: &[Vec<f64>], oracle: &[Vec<f64>]) {
    let scale = max_abs(oracle);
    assert!(
        scale > 1e-3,
        "{label}: the Hessian is ~0 ({scale}), the test is vacuous"
    );
    let mut worst = (0.0, 0, 0);
    for (j, col) in lab.iter().enumerate() {
        for (i, &v) in col.iter().enumerate() {
            let e = (v - oracle[i][j]).abs();
            if e > worst.0 {
                worst = (e, i, j);
            }
        }
    }
    assert!(
        worst.0 <= 1e-4 * scale,
        "{label}: H[{}][{}] off by {:.3e} (max |H| {scale:.3e})",
        worst.1,
        worst.2,
        worst.0
    );
}

#[test]
fn forward_matches_naive_f64_layers() {
    // Zero padding, a strided padded convolution, ceil-mode average and max pools whose last
    // windows are cut by the border, BatchNorm with running statistics, tanh, flatten, dense.
    let spec = NetSpec {
        input: [3, 9, 9],
        classes: 4,
        layers: vec![
            Layer::Pad { pixels: 1 },
            Layer::Conv {
                out: 5,
                kernel: 3,
                stride: 2,
                padding: 1,
                bias: true,
            },
            Layer::AvgPool {
                kernel: 3,
                stride: 2,
                ceil: true,
            },
            Layer::BatchNorm,
            Layer::Tanh,
            Layer::MaxPool {
                kernel: 2,
                stride: 2,
                ceil: true,
            },
            Layer::Flatten,
            Layer::Dense { out: 4 },
        ],
    };
    assert_eq!(spec.shapes().unwrap()[2], [5, 3, 3]);
    let p = params(&spec, 1);
    let d = data(&spec, 5, 2);
    let net = Net::from_host(&p, &cpu_device()).unwrap();
    let x = Tensor::<2>::from_data(
        burn::tensor::TensorData::new(d.features.clone(), [d.len(), d.dim]),
        &cpu_device(),
    );
    let got = pollster::block_on(read_f32(net.logits(x).unwrap())).unwrap();
    let theta: Vec<Vec<f64>> = p.params.iter().map(|v| f64s(v)).collect();
    let o = oracle_for(&spec, &p, &d, &[]);
    let r = Reference {
        spec: &spec,
        params: &theta,
        bn: RefBn::Eval(&o.running),
        masks: &[],
    };
    let (want, _) = r.logits(&o.xs);
    for (g, w) in got.chunks(4).zip(&want) {
        for (a, b) in g.iter().zip(w) {
            assert!((*a as f64 - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

#[test]
fn conv_pool_dense_hvp_equals_dense_f64_hessian() {
    // One 3x3 convolution on 6x6x2 images, ReLU, 2x2 max pool, dense: D = 57 + 84 = 141.
    let spec = NetSpec {
        input: [2, 6, 6],
        classes: 3,
        layers: vec![
            Layer::Conv {
                out: 3,
                kernel: 3,
                stride: 1,
                padding: 1,
                bias: true,
            },
            Layer::Relu,
            Layer::MaxPool {
                kernel: 2,
                stride: 2,
                ceil: false,
            },
            Layer::Flatten,
            Layer::Dense { out: 3 },
        ],
    };
    let p = params(&spec, 3);
    let d = data(&spec, 4, 4);
    let o = oracle_for(&spec, &p, &d, &[]);
    let theta: Vec<Vec<f64>> = p.params.iter().map(|v| f64s(v)).collect();
    let h = 1e-5;
    let (_, margin) = o.loss(&theta);
    // Steps of 2h move a pre-activation by at most 2h (|x|_1 + 1) ≈ 4e-4 (19 inputs in [0, 1]):
    // far less than the distance to a ReLU or max-pool kink, so the differences see one piece.
    assert!(
        margin > 1e-3,
        "too close to a kink for differences: {margin}"
    );
    let want = o.hessian(&theta, h);
    let net = Net::from_host(&p, &cpu_device()).unwrap();
    let dev = DeviceData::upload(&d, &cpu_device());
    compare_hessians("conv+pool+dense", &lab_hessian(&net, &dev, &[]), &want);

    // Lanczos runs on the conv net's operator unchanged: its top eigenvalues are the dense
    // oracle's.
    let d = want.len();
    let dense = nalgebra::DMatrix::from_fn(d, d, |i, j| want[i][j]);
    let mut oracle: Vec<f64> = dense
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .copied()
        .collect();
    oracle.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let mut op = NetHessianOperator::new(&net, &dev, NetSpan::All);
    let r = pollster::block_on(lanczos(
        &mut op,
        &LanczosOptions::top(3),
        &mut rng(11),
        &mut Silent,
        "",
    ))
    .unwrap();
    for (k, (got, want)) in r.values.iter().zip(&oracle).enumerate() {
        assert!(
            (got - want).abs() <= 1e-4 * oracle[0].abs(),
            "λ_{k}: Lanczos {got} vs dense {want}"
        );
    }
}

#[test]
fn residual_block_with_batchnorm_and_dropout_hvp_equals_dense_f64_hessian() {
    for (shortcut, channelwise) in [(Shortcut::A, false), (Shortcut::B, true)] {
        // A stride-2 basic block 2 → 4 channels with dropout between its convolutions,
        // BatchNorm in evaluation mode, global average pooling, dense.
        let spec = NetSpec {
            input: [2, 6, 6],
            classes: 3,
            layers: vec![
                Layer::Residual {
                    out: 4,
                    stride: 2,
                    shortcut,
                    drop_rate: 0.3,
                    channelwise,
                },
                Layer::GlobalAvgPool,
                Layer::Flatten,
                Layer::Dense { out: 3 },
            ],
        };
        let p = params(&spec, 5);
        let d = data(&spec, 3, 6);
        let sites = spec.dropout_sites().unwrap();
        let masks = sample_site_masks(&mut rng(7), d.len(), &sites);
        let o = oracle_for(&spec, &p, &d, &masks);
        let theta: Vec<Vec<f64>> = p.params.iter().map(|v| f64s(v)).collect();
        let (_, margin) = o.loss(&theta);
        assert!(
            margin > 1e-3,
            "too close to a kink for differences: {margin}"
        );
        let want = o.hessian(&theta, 1e-4);
        let net = Net::from_host(&p, &cpu_device()).unwrap();
        let dev = DeviceData::upload(&d, &cpu_device());
        compare_hessians(
            &format!("residual {shortcut:?} channelwise {channelwise}"),
            &lab_hessian(&net, &dev, &masks),
            &want,
        );
    }
}

#[test]
fn training_mode_batchnorm_gradient_and_running_statistics() {
    let spec = NetSpec {
        input: [2, 5, 5],
        classes: 3,
        layers: vec![
            Layer::Conv {
                out: 3,
                kernel: 3,
                stride: 1,
                padding: 0,
                bias: false,
            },
            Layer::BatchNorm,
            Layer::Tanh,
            Layer::Dropout {
                rate: 0.4,
                channelwise: false,
            },
            Layer::Flatten,
            Layer::Dense { out: 3 },
        ],
    };
    let p = params(&spec, 8);
    let d = data(&spec, 6, 9);
    let sites = spec.dropout_sites().unwrap();
    let masks = sample_site_masks(&mut rng(10), d.len(), &sites);
    let device = cpu_device();
    let mut net = Net::from_host(&p, &device).unwrap();
    let dev = DeviceData::upload(&d, &device);
    let (x, y) = &dev.chunks[0];
    let lg = net
        .loss_and_grads(
            x.clone(),
            y.clone(),
            &upload_site_masks(&masks, d.len(), &sites, &device),
            BnMode::Train,
        )
        .unwrap();
    let got: Vec<f64> = lg
        .grads
        .iter()
        .flat_map(|g| f64s(&pollster::block_on(read_f32(g.clone())).unwrap()))
        .collect();
    let mut o = oracle_for(&spec, &p, &d, &masks);
    o.train_bn = true;
    let theta: Vec<Vec<f64>> = p.params.iter().map(|v| f64s(v)).collect();
    let want = o.gradient(&theta, 1e-5);
    let scale = want.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * scale, "∂L/∂θ[{i}]: {g} vs {w}");
    }
    let loss = pollster::block_on(read_f32(lg.loss)).unwrap()[0] as f64;
    assert!((loss - o.loss(&theta).0).abs() < 1e-5, "{loss}");

    // PyTorch's update: r ← 0.9 r + 0.1 b, the batch variance unbiased (n = 6·3·3 values).
    net.update_running(lg.batch_stats);
    let host = pollster::block_on(net.to_host()).unwrap();
    // The batch statistics of the convolution's output, from the reference's first layer.
    let conv_only = NetSpec {
        input: spec.input,
        classes: 3,
        layers: vec![spec.layers[0].clone()],
    };
    let rc = Reference {
        spec: &conv_only,
        params: &theta[..1],
        bn: RefBn::Train,
        masks: &[],
    };
    let (maps, _) = rc.logits(&o.xs);
    for ch in 0..3 {
        let vals: Vec<f64> = maps
            .iter()
            .flat_map(|m| m[ch * 9..(ch + 1) * 9].to_vec())
            .collect();
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let (m0, v0) = (p.running[0].mean[ch] as f64, p.running[0].var[ch] as f64);
        let (m1, v1) = (
            host.running[0].mean[ch] as f64,
            host.running[0].var[ch] as f64,
        );
        assert!(
            (m1 - (0.9 * m0 + 0.1 * mean)).abs() < 1e-5,
            "mean {ch}: {m1}"
        );
        assert!((v1 - (0.9 * v0 + 0.1 * var)).abs() < 1e-5, "var {ch}: {v1}");
    }
    assert_eq!(host.running[0].batches, 1);
}

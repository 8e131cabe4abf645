//! Paper 004's dropout modes through conv nets. A mode with forward mask m_f and backward mask
//! m_b at a site followed by layer op has, by eq. 5-6, ∂J/∂W_op = (h ⊙ m_b)ᵀ δ and
//! δ_h = (δ W_opᵀ) ⊙ m_b with δ from the m_f forward: exactly the gradient at θ₀ of the surrogate
//!   G(θ) = L(… op(h(θ) ⊙ m_b) + [op(h(θ₀) ⊙ m_f) − op(h(θ₀) ⊙ m_b)]_θ₀ …),
//! whose bracket is a constant. The oracle evaluates G with the f64 forward of the tests and
//! differentiates it by central differences.
// Native only: the wasm build runs tests/browser.rs.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_reference::{cross_entropy, RefBn, Reference};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::data::Dataset;
use dropout_lab::model::dropout::DropoutMode;
use dropout_lab::model::net::masks::device_mode_site_masks;
use dropout_lab::model::net::{BnMode, Layer, Net, NetParams, NetSpec};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::DeviceData;
use rand::Rng;

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

/// The f64 output of `layers` (with their parameters `params`) on per-example inputs of `input`.
fn apply(
    input: [usize; 3],
    layers: Vec<Layer>,
    params: &[Vec<f64>],
    xs: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let spec = NetSpec {
        input,
        classes: 0,
        layers,
    };
    let r = Reference {
        spec: &spec,
        params,
        bn: RefBn::Train,
        masks: &[],
    };
    r.logits(xs).0
}

fn times(a: &[Vec<f64>], m: &Option<Vec<Vec<f64>>>) -> Vec<Vec<f64>> {
    match m {
        None => a.to_vec(),
        Some(m) => a
            .iter()
            .zip(m)
            .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).collect())
            .collect(),
    }
}

fn sub(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p - q).collect())
        .collect()
}

fn plus(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p + q).collect())
        .collect()
}

#[test]
fn modes_through_a_conv_net_follow_eq_5_6() {
    let conv = |out| Layer::Conv {
        out,
        kernel: 3,
        stride: 1,
        padding: 1,
        bias: true,
    };
    let drop = |rate| Layer::Dropout {
        rate,
        channelwise: false,
    };
    // conv → ReLU → dropout → conv → tanh → flatten → dropout → dense.
    let spec = NetSpec {
        input: [1, 6, 6],
        classes: 3,
        layers: vec![
            conv(3),
            Layer::Relu,
            drop(0.5),
            conv(2),
            Layer::Tanh,
            Layer::Flatten,
            drop(0.4),
            Layer::Dense { out: 3 },
        ],
    };
    let params = NetParams::init(&spec, &mut stream(2, Stream::Init)).unwrap();
    let n = 4;
    let mut r = stream(3, Stream::Directions);
    let data = Dataset {
        features: (0..n * 36).map(|_| r.random::<f32>()).collect(),
        labels: (0..n).map(|i| (i % 3) as u8).collect(),
        dim: 36,
        classes: 3,
    };
    let xs: Vec<Vec<f64>> = data.features.chunks(36).map(f64s).collect();
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    let sites = spec.dropout_sites().unwrap();
    let device = cpu_device();
    let net = Net::from_host(&params, &device).unwrap();
    let dev = DeviceData::upload(&data, &device);
    let theta0: Vec<Vec<f64>> = params.params.iter().map(|v| f64s(v)).collect();
    for mode in [
        DropoutMode::Standard,
        DropoutMode::ForwardOnly,
        DropoutMode::BackwardOnly,
        DropoutMode::Augmented { backward_rate: 0.5 },
    ] {
        // The lab's gradient.
        let masks = device_mode_site_masks(
            mode,
            &mut stream(4, Stream::DropoutMasks),
            n,
            &sites,
            &device,
        );
        let (x, y) = &dev.chunks[0];
        let lg = net
            .loss_and_grads_modes(x.clone(), y.clone(), masks, BnMode::Train)
            .unwrap();
        let got: Vec<f64> = lg
            .grads
            .iter()
            .flat_map(|g| f64s(&pollster::block_on(read_f32(g.clone())).unwrap()))
            .collect();
        let loss = pollster::block_on(read_f32(lg.loss)).unwrap()[0] as f64;

        // The same draws on the host, per example.
        let mut rng = stream(4, Stream::DropoutMasks);
        let host: Vec<(Option<Vec<Vec<f64>>>, Option<Vec<Vec<f64>>>)> = sites
            .iter()
            .map(|s| {
                let size: usize = s.mask_shape.iter().product();
                let (f, b) = mode.host_masks(&mut rng, n, size, s.rate);
                let rows = |m: Option<Vec<f32>>| m.map(|m| m.chunks(size).map(f64s).collect());
                (rows(f), rows(b))
            })
            .collect();
        let ((f1, b1), (f2, b2)) = (&host[0], &host[1]);

        // G(θ), its constants taken at θ₀ along the m_f forward.
        let c = |theta: &[Vec<f64>]| {
            let h1 = apply([1, 6, 6], vec![conv(3), Layer::Relu], &theta[..2], &xs);
            let op1 = |a: &[Vec<f64>]| apply([3, 6, 6], vec![conv(2)], &theta[2..4], a);
            let z1f = op1(&times(&h1, f1));
            let c1 = sub(&z1f, &op1(&times(&h1, b1)));
            let h2 = apply([2, 6, 6], vec![Layer::Tanh, Layer::Flatten], &[], &z1f);
            let op2 =
                |a: &[Vec<f64>]| apply([72, 1, 1], vec![Layer::Dense { out: 3 }], &theta[4..], a);
            let c2 = sub(&op2(&times(&h2, f2)), &op2(&times(&h2, b2)));
            (c1, c2)
        };
        let (c1, c2) = c(&theta0);
        let g = |theta: &[Vec<f64>]| {
            let h1 = apply([1, 6, 6], vec![conv(3), Layer::Relu], &theta[..2], &xs);
            let z1 = plus(
                &apply([3, 6, 6], vec![conv(2)], &theta[2..4], &times(&h1, b1)),
                &c1,
            );
            let h2 = apply([2, 6, 6], vec![Layer::Tanh, Layer::Flatten], &[], &z1);
            let z2 = plus(
                &apply(
                    [72, 1, 1],
                    vec![Layer::Dense { out: 3 }],
                    &theta[4..],
                    &times(&h2, b2),
                ),
                &c2,
            );
            cross_entropy(&z2, &labels)
        };
        assert!(
            (loss - g(&theta0)).abs() < 1e-5,
            "{mode:?}: loss {loss} vs {}",
            g(&theta0)
        );
        let h = 1e-5;
        let mut want = Vec::new();
        for (p, v) in theta0.iter().enumerate() {
            for i in 0..v.len() {
                let mut a = theta0.clone();
                let mut b = theta0.clone();
                a[p][i] += h;
                b[p][i] -= h;
                want.push((g(&a) - g(&b)) / (2.0 * h));
            }
        }
        let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * scale,
                "{mode:?} ∂J/∂θ[{i}]: lab {a} vs eq. 5-6 {b}"
            );
        }
    }
}

#[test]
fn a_split_mask_needs_a_parametric_layer_after_it() {
    let spec = NetSpec {
        input: [1, 4, 4],
        classes: 2,
        layers: vec![
            Layer::Flatten,
            Layer::Dropout {
                rate: 0.5,
                channelwise: false,
            },
            Layer::Relu,
            Layer::Dense { out: 2 },
        ],
    };
    let params = NetParams::init(&spec, &mut stream(1, Stream::Init)).unwrap();
    let device = cpu_device();
    let net = Net::from_host(&params, &device).unwrap();
    let sites = spec.dropout_sites().unwrap();
    let masks = device_mode_site_masks(
        DropoutMode::ForwardOnly,
        &mut stream(1, Stream::DropoutMasks),
        3,
        &sites,
        &device,
    );
    let x = burn::tensor::Tensor::<2>::zeros([3, 16], &device);
    let e = match net.run_modes(&net.params, x, masks, BnMode::Train) {
        Ok(_) => panic!("a split mask before a ReLU was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("layer 2 is ReLU"), "{e}");
}

/// Every mode trains a named net from a TrainConfig (the CLI's and the page's path).
#[test]
fn every_mode_trains_lenet() {
    use dropout_lab::model::net::{Arch, ArchConfig};
    use dropout_lab::train::{TrainConfig, Trainer};
    let data = common::mnist("test");
    for mode in [
        DropoutMode::ForwardOnly,
        DropoutMode::BackwardOnly,
        DropoutMode::Augmented {
            backward_rate: 1e-4,
        },
    ] {
        let mut a = ArchConfig::new(Arch::Lenet5);
        a.width = 0.25;
        a.drop_rate = 0.5;
        let mut c = TrainConfig::new(a);
        c.train_size = 300;
        c.test_size = 100;
        c.batch_size = 50;
        c.epochs = 2;
        c.dropout_mode = mode;
        let t = pollster::block_on(async {
            let mut t = Trainer::new(c, &data, &data, cpu_device(), "cpu", "mnist")
                .await
                .unwrap();
            while !t.is_done() {
                t.run(10).await.unwrap();
            }
            t
        });
        let e = t.epochs();
        assert!(e[2].train_loss < e[0].train_loss, "{mode:?}: {e:?}");
    }
}

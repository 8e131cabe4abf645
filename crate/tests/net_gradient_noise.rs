//! Paper 000's S_grad and interval flatness on conv nets (`analysis::net_noise`): each gradient
//! sample equals the f64 finite-difference gradient of the reference loss under that sample's
//! masks; the profile equals the reference loss along the direction, and the interval width
//! found by the search equals the one a fine scan of the reference loss finds.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_fixtures::{data, f64s, params};
use common::net_oracle::oracle_for;
use dropout_lab::analysis::flatness::{interval_flatness, FlatnessOptions, Profile};
use dropout_lab::analysis::net_hessian::NetSpan;
use dropout_lab::analysis::net_noise::{net_gradient_samples, NetProfile};
use dropout_lab::backend::cpu_device;
use dropout_lab::model::net::masks::sample_site_masks;
use dropout_lab::model::net::{Layer, Net, NetSpec};
use dropout_lab::progress::Silent;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::batch::upload;
use dropout_lab::train::eval::DeviceData;

/// Conv + BatchNorm + ReLU + dropout + max pool + dense: parameters conv w, conv b, γ, β,
/// dense w (index 4), dense b.
fn spec() -> NetSpec {
    NetSpec {
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
            Layer::BatchNorm,
            Layer::Relu,
            Layer::Dropout {
                rate: 0.3,
                channelwise: true,
            },
            Layer::MaxPool {
                kernel: 2,
                stride: 2,
                ceil: false,
            },
            Layer::Flatten,
            Layer::Dense { out: 3 },
        ],
    }
}

#[test]
fn gradient_samples_are_the_reference_gradients_under_each_samples_masks() {
    let s = spec();
    let p = params(&s, 51);
    let d = data(&s, 6, 52);
    let device = cpu_device();
    // Two chunks: the masks are drawn chunk by chunk and the gradient weighted by rows.
    let dev = DeviceData {
        chunks: vec![
            upload(&d, &[0, 1, 2, 3], &device),
            upload(&d, &[4, 5], &device),
        ],
        len: 6,
    };
    let net = Net::from_host(&p, &device).unwrap();
    let seed = 9;
    let got = pollster::block_on(net_gradient_samples(
        &net,
        &dev,
        NetSpan::Param(0),
        3,
        seed,
        &mut Silent,
    ))
    .unwrap();
    let sites = s.dropout_sites().unwrap();
    let mut r = stream(seed, Stream::GradientNoise);
    let theta: Vec<Vec<f64>> = p.params.iter().map(|v| f64s(v)).collect();
    let mut previous: Option<Vec<f32>> = None;
    for sample in &got {
        let a = sample_site_masks(&mut r, 4, &sites);
        let b = sample_site_masks(&mut r, 2, &sites);
        let masks: Vec<Option<Vec<f32>>> = a
            .into_iter()
            .zip(b)
            .map(|(a, b)| Some([a.unwrap(), b.unwrap()].concat()))
            .collect();
        let o = oracle_for(&s, &p, &d, &masks);
        let (_, margin) = o.loss(&theta);
        assert!(margin > 1e-3, "too close to a kink: {margin}");
        let want = &o.gradient(&theta, 1e-6)[..54];
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_eq!(sample.len(), 54);
        for (i, (g, w)) in sample.iter().zip(want).enumerate() {
            assert!((*g as f64 - w).abs() <= 1e-4 * scale, "[{i}] {g} vs {w}");
        }
        // Fresh masks per sample: consecutive samples differ.
        if let Some(prev) = previous.replace(sample.clone()) {
            assert!(prev.iter().zip(sample).any(|(a, b)| (a - b).abs() > 1e-6));
        }
    }
    let bad = pollster::block_on(net_gradient_samples(
        &net,
        &dev,
        NetSpan::Param(9),
        1,
        1,
        &mut Silent,
    ));
    assert!(bad.unwrap_err().to_string().contains("parameter 9"));
}

#[test]
fn the_profile_and_its_interval_width_match_a_fine_scan_of_the_reference_loss() {
    let s = spec();
    let p = params(&s, 61);
    let d = data(&s, 8, 62);
    let device = cpu_device();
    let dev = DeviceData::upload(&d, &device);
    let net = Net::from_host(&p, &device).unwrap();
    // A unit direction in the dense weight (index 4, 27 x 3 = 81 entries).
    let mut v: Vec<f64> = (0..81)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) / 5.0)
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    let mut profile = NetProfile::new(&net, NetSpan::Param(4), &v, &dev).unwrap();
    let o = oracle_for(&s, &p, &d, &[]);
    let theta: Vec<Vec<f64>> = p.params.iter().map(|x| f64s(x)).collect();
    let reference = |delta: f64| {
        let mut t = theta.clone();
        t[4].iter_mut().zip(&v).for_each(|(a, b)| *a += delta * b);
        o.loss(&t).0
    };
    for delta in [-2.0, 0.0, 0.7, 3.0] {
        let got = pollster::block_on(profile.loss(delta)).unwrap();
        let want = reference(delta);
        assert!(
            (got - want).abs() < 1e-5 * (1.0 + want),
            "δ = {delta}: {got} vs {want}"
        );
    }
    let f =
        pollster::block_on(interval_flatness(&mut profile, &FlatnessOptions::default())).unwrap();
    // The scan: the first δ on each side, in steps of 1e-3, where L reaches twice L(0).
    let step = 1e-3;
    let threshold = 2.0 * reference(0.0);
    let first = |sign: f64| {
        (1..200_000)
            .map(|k| sign * k as f64 * step)
            .find(|&x| reference(x) >= threshold)
            .expect("a crossing within 200")
    };
    let (left, right) = (first(-1.0), first(1.0));
    let (fl, fr) = (f.left.unwrap(), f.right.unwrap());
    // The crossing lies between the scan's first point outside and the point before it (the
    // search's f32 evaluation and bisection tolerance allow 1e-4 more).
    assert!(
        fl >= left - 1e-4 && fl <= left + step + 1e-4,
        "{fl} vs scan {left}"
    );
    assert!(
        fr <= right + 1e-4 && fr >= right - step - 1e-4,
        "{fr} vs scan {right}"
    );
    assert!((f.width.unwrap() - (fr - fl)).abs() < 1e-12);
}

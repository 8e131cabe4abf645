//! Conv-net landscapes (`analysis::landscape`): Li et al.'s filter normalisation checked
//! filter by filter, and curve points against the f64 reference forward evaluated at θ + α d.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_fixtures::{data, f64s, params, rng, rows};
use common::net_reference::{cross_entropy, RefBn, Reference};
use dropout_lab::analysis::landscape::{curve, filter_normalised_direction, Filter};
use dropout_lab::backend::cpu_device;
use dropout_lab::model::net::{Layer, NetSpec};
use dropout_lab::train::eval::DeviceData;

fn spec() -> NetSpec {
    NetSpec {
        input: [2, 6, 6],
        classes: 4,
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
            Layer::MaxPool {
                kernel: 2,
                stride: 2,
                ceil: false,
            },
            Layer::Flatten,
            Layer::Dense { out: 4 },
        ],
    }
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn each_output_channel_is_a_filter_with_thetas_norm_and_vectors_stay_put() {
    let s = spec();
    let p = params(&s, 5);
    let d = filter_normalised_direction(&p, Filter::for_net(&s), &mut rng(6)).unwrap();
    // conv weight [3, 2, 3, 3], conv bias, BN γ, BN β, dense weight [4, 27], dense bias.
    let per = [(3usize, 18usize), (0, 0), (0, 0), (0, 0), (4, 27), (0, 0)];
    for ((dv, tv), (filters, size)) in d.iter().zip(&p.params).zip(per) {
        assert_eq!(dv.len(), tv.len());
        if filters == 0 {
            assert!(dv.iter().all(|&x| x == 0.0));
            continue;
        }
        for f in 0..filters {
            let (a, b) = (&dv[f * size..(f + 1) * size], &tv[f * size..(f + 1) * size]);
            assert!(
                (norm(a) / norm(b) - 1.0).abs() < 1e-5,
                "{} vs {}",
                norm(a),
                norm(b)
            );
        }
        // Not θ itself: its cosine with θ is far from 1.
        let dot: f64 = dv.iter().zip(tv).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!(dot / (norm(dv) * norm(tv)) < 0.9);
    }
}

#[test]
fn curve_points_equal_the_reference_loss_and_accuracy_at_theta_plus_alpha_d() {
    let s = spec();
    let p = params(&s, 7);
    let data = data(&s, 12, 8);
    let dir = filter_normalised_direction(&p, Filter::Output, &mut rng(9)).unwrap();
    let alphas = [-0.5, 0.0, 0.25, 1.0];
    let device = cpu_device();
    let dev = DeviceData::upload(&data, &device);
    let got = pollster::block_on(curve(&p, &dir, &alphas, &dev, &device)).unwrap();
    let running: Vec<(Vec<f64>, Vec<f64>)> = p
        .running
        .iter()
        .map(|r| (f64s(&r.mean), f64s(&r.var)))
        .collect();
    let xs = rows(&data);
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    for (&alpha, &(loss, acc)) in alphas.iter().zip(&got) {
        let theta: Vec<Vec<f64>> = p
            .params
            .iter()
            .zip(&dir)
            .map(|(t, d)| {
                t.iter()
                    .zip(d)
                    .map(|(a, b)| *a as f64 + alpha * *b as f64)
                    .collect()
            })
            .collect();
        let r = Reference {
            spec: &s,
            params: &theta,
            bn: RefBn::Eval(&running),
            masks: &[],
        };
        let (z, _) = r.logits(&xs);
        let want = cross_entropy(&z, &labels);
        let hits = z
            .iter()
            .zip(&labels)
            .filter(|(z, &y)| z.iter().all(|&v| v <= z[y]))
            .count();
        assert!(
            (loss as f64 - want).abs() < 1e-5 * (1.0 + want),
            "α = {alpha}: {loss} vs {want}"
        );
        assert_eq!(acc, hits as f32 / labels.len() as f32, "α = {alpha}");
    }
    // The curve moves: the end point differs from θ's loss.
    assert!((got[3].0 - got[1].0).abs() > 1e-3);
    let bad = vec![vec![0.0f32; 3]];
    assert!(pollster::block_on(curve(&p, &bad, &alphas, &dev, &device)).is_err());
}

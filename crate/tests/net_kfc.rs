//! KFC factors of conv nets (`analysis::kfc`) against their definition formed densely in f64:
//! Ω from im2col patches cut out of each layer's input by hand, Γ from per-position
//! pre-activation gradients by finite differences of the f64 reference forward
//! (`common::net_reference`) run from that layer on.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_fixtures::{data, f64s, params, per_example, rng, rows};
use common::net_reference::{RefBn, Reference};
use dropout_lab::analysis::kfac::MaskNoise;
use dropout_lab::analysis::kfc::{kfc_factors, kfc_factors_masked, kfc_volumes};
use dropout_lab::analysis::volume::log_volume;
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::model::net::masks::sample_site_masks;
use dropout_lab::model::net::{Arch, ArchConfig, Layer, Net, NetSpec, Role};
use dropout_lab::progress::Silent;
use dropout_lab::train::batch::upload;
use dropout_lab::train::eval::DeviceData;
use nalgebra::DMatrix;

/// Two convolutions (the second strided, without bias) with dropout between them, then dense:
/// weights 0 (conv a), 2 (conv b), 3 (dense).
fn spec() -> NetSpec {
    NetSpec {
        input: [2, 5, 5],
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
            Layer::Dropout {
                rate: 0.4,
                channelwise: false,
            },
            Layer::Conv {
                out: 4,
                kernel: 3,
                stride: 2,
                padding: 1,
                bias: false,
            },
            Layer::Relu,
            Layer::Flatten,
            Layer::Dense { out: 3 },
        ],
    }
}

/// Layers [from, to) of the network as a spec of their own for the reference (which reads
/// the layers and input shape only; `classes` is the size of what the part outputs).
fn part(full: &NetSpec, from: usize, to: usize, input: [usize; 3]) -> NetSpec {
    let shapes = full.shapes().unwrap();
    NetSpec {
        input,
        classes: shapes[to - 1].iter().product(),
        layers: full.layers[from..to].to_vec(),
    }
}

/// Each example's im2col patches (rows: positions, row-major; columns: channel, kernel row,
/// kernel column), zero outside the map.
fn patches(x: &[f64], [c, h, w]: [usize; 3], k: usize, s: usize, p: usize) -> Vec<Vec<f64>> {
    let oh = (h + 2 * p - k) / s + 1;
    let ow = (w + 2 * p - k) / s + 1;
    let mut out = Vec::new();
    for i in 0..oh {
        for j in 0..ow {
            let mut row = Vec::new();
            for ch in 0..c {
                for a in 0..k {
                    for b in 0..k {
                        let y = (i * s + a) as isize - p as isize;
                        let xx = (j * s + b) as isize - p as isize;
                        let inside = y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w;
                        row.push(if inside {
                            x[(ch * h + y as usize) * w + xx as usize]
                        } else {
                            0.0
                        });
                    }
                }
            }
            out.push(row);
        }
    }
    out
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn close(label: &str, got: &DMatrix<f64>, want: &DMatrix<f64>) {
    assert_eq!(got.shape(), want.shape(), "{label}");
    let scale = want.amax();
    assert!(scale > 0.0, "{label}: the oracle is zero");
    let err = (got - want).amax();
    assert!(
        err <= 1e-5 * scale,
        "{label}: max error {err:e} against max |entry| {scale:e}"
    );
}

#[test]
fn kfc_factors_equal_their_definition_formed_densely() {
    let full = spec();
    let p = params(&full, 21);
    let d = data(&full, 6, 22);
    let sites = full.dropout_sites().unwrap();
    let masks = sample_site_masks(&mut rng(23), d.len(), &sites);
    let theta: Vec<Vec<f64>> = p.params.iter().map(|v| f64s(v)).collect();
    let xs = rows(&d);
    let ex_masks = per_example(&masks, d.len());
    let shapes = full.shapes().unwrap();

    // Two chunks, so the sums run across the data set's chunks.
    let device = cpu_device();
    let dev = DeviceData {
        chunks: vec![
            upload(&d, &[0, 1, 2, 3], &device),
            upload(&d, &[4, 5], &device),
        ],
        len: d.len(),
    };
    let net = Net::from_host(&p, &device).unwrap();
    let got = pollster::block_on(kfc_factors_masked(&net, &dev, &masks)).unwrap();
    assert_eq!(
        got.iter().map(|l| l.param).collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
    assert_eq!(
        got.iter().map(|l| l.positions).collect::<Vec<_>>(),
        vec![25, 9, 1]
    );

    // (layer index in the spec, first parameter index after the layer's own, its (k, s, p),
    // the dropout sites before it)
    let layers = [
        (0usize, 2usize, (3usize, 1usize, 1usize), 0usize),
        (3, 3, (3, 2, 1), 1),
        (6, 5, (1, 1, 0), 1),
    ];
    for ((li, next_param, (k, s, pad), sites_before), lab) in layers.iter().zip(&got) {
        let input_shape = if *li == 0 { full.input } else { shapes[li - 1] };
        let z_shape = shapes[*li];
        let [c_out, oh, ow] = z_shape;
        let t = oh * ow;
        // The layer's input for every example: the reference run up to the layer.
        let inputs: Vec<Vec<f64>> = if *li == 0 {
            xs.clone()
        } else {
            Reference {
                spec: &part(&full, 0, *li, full.input),
                params: &theta[..lab.param],
                bn: RefBn::Train,
                masks: &ex_masks[..*sites_before],
            }
            .logits(&xs)
            .0
        };
        // The layer's pre-activation for every example, and the rest of the network from it.
        let layer = part(&full, *li, li + 1, input_shape);
        let zs = Reference {
            spec: &layer,
            params: &theta[lab.param..*next_param],
            bn: RefBn::Train,
            masks: &[],
        }
        .logits(&inputs)
        .0;
        let suffix = part(&full, li + 1, full.layers.len(), z_shape);
        let rest_masks = &ex_masks[*sites_before..];
        let logits_of = |z: &[f64], n: usize| -> Vec<f64> {
            let m: Vec<Vec<Vec<f64>>> = rest_masks.iter().map(|s| vec![s[n].clone()]).collect();
            Reference {
                spec: &suffix,
                params: &theta[*next_param..],
                bn: RefBn::Train,
                masks: &m,
            }
            .logits(&[z.to_vec()])
            .0
            .remove(0)
        };

        let dim_in = input_shape[0] * k * k;
        let mut omega = DMatrix::<f64>::zeros(dim_in, dim_in);
        let mut gamma = DMatrix::<f64>::zeros(c_out, c_out);
        for (n, (x, z)) in inputs.iter().zip(&zs).enumerate() {
            let in_shape = if *li == 6 {
                // A dense layer's input is its flattened map: one patch of every value.
                [x.len(), 1, 1]
            } else {
                input_shape
            };
            for row in patches(x, in_shape, *k, *s, *pad) {
                let a = nalgebra::DVector::from_vec(row);
                omega += &a * a.transpose();
            }
            // J = ∂logits/∂z by central differences (the rest of the net is piecewise linear
            // in z, so the differences are exact away from a kink; h is far below any |z|).
            let h = 1e-6;
            let classes = full.classes;
            let mut jac = DMatrix::<f64>::zeros(classes, z.len());
            for e in 0..z.len() {
                let mut up = z.clone();
                let mut down = z.clone();
                up[e] += h;
                down[e] -= h;
                let (lu, ld) = (logits_of(&up, n), logits_of(&down, n));
                for c in 0..classes {
                    jac[(c, e)] = (lu[c] - ld[c]) / (2.0 * h);
                }
            }
            let prob = softmax(&logits_of(z, n));
            for kk in 0..classes {
                // g_k = Jᵀ (p − e_k), laid out [c_out][oh][ow].
                let r = nalgebra::DVector::from_fn(classes, |c, _| {
                    prob[c] - if c == kk { 1.0 } else { 0.0 }
                });
                let g = jac.transpose() * r;
                for pos in 0..t {
                    let gt = nalgebra::DVector::from_fn(c_out, |c, _| g[c * t + pos]);
                    gamma += &gt * gt.transpose() * prob[kk];
                }
            }
        }
        let nn = d.len() as f64;
        omega /= nn;
        gamma /= nn * t as f64;
        close(&format!("Ω of {}", lab.name), &lab.a, &omega);
        close(&format!("Γ of {}", lab.name), &lab.h, &gamma);
    }

    // The volumes are those of the dense Σ = Ω⁻¹ ⊗ Γ⁻¹ with the damping on each factor.
    let vols = kfc_volumes(&got, 0.1).unwrap();
    let last = &got[2];
    let damp = |m: &DMatrix<f64>| {
        m + DMatrix::<f64>::identity(m.nrows(), m.nrows()) * (0.1 * m.diagonal().mean())
    };
    let sigma = damp(&last.a)
        .try_inverse()
        .unwrap()
        .kronecker(&damp(&last.h).try_inverse().unwrap());
    let dense = log_volume(&sigma).unwrap();
    assert_eq!((vols[2].fan_in, vols[2].fan_out), (36, 3));
    assert!(
        (vols[2].log_volume - dense).abs() < 1e-6 * dense.abs().max(1.0),
        "{} vs {dense}",
        vols[2].log_volume
    );
    assert!(kfc_volumes(&got, 0.0).is_err());
}

#[test]
fn mask_draws_average_the_fixed_mask_factors() {
    // With noise off there is one pass without masks; with Bernoulli noise the factors are the
    // mean of the fixed-mask factors over the same seeded draws.
    let full = spec();
    let p = params(&full, 31);
    let d: Dataset = data(&full, 5, 32);
    let device = cpu_device();
    let dev = DeviceData::upload(&d, &device);
    let net = Net::from_host(&p, &device).unwrap();
    let off = pollster::block_on(kfc_factors(
        &net,
        &dev,
        MaskNoise::Off,
        7,
        &mut rng(1),
        &mut Silent,
    ))
    .unwrap();
    let plain = pollster::block_on(kfc_factors_masked(&net, &dev, &[])).unwrap();
    for (a, b) in off.iter().zip(&plain) {
        assert_eq!((&a.a, &a.h), (&b.a, &b.h));
    }
    let drawn = pollster::block_on(kfc_factors(
        &net,
        &dev,
        MaskNoise::Bernoulli,
        3,
        &mut rng(2),
        &mut Silent,
    ))
    .unwrap();
    let sites = full.dropout_sites().unwrap();
    let mut r = rng(2);
    let mut mean: Option<Vec<(DMatrix<f64>, DMatrix<f64>)>> = None;
    for _ in 0..3 {
        let m = sample_site_masks(&mut r, d.len(), &sites);
        let f = pollster::block_on(kfc_factors_masked(&net, &dev, &m)).unwrap();
        let f: Vec<_> = f.into_iter().map(|l| (l.a / 3.0, l.h / 3.0)).collect();
        mean = Some(match mean {
            None => f,
            Some(acc) => acc
                .into_iter()
                .zip(f)
                .map(|((a, h), (b, g))| (a + b, h + g))
                .collect(),
        });
    }
    for (l, (a, h)) in drawn.iter().zip(mean.unwrap()) {
        close("drawn Ω", &l.a, &a);
        close("drawn Γ", &l.h, &h);
    }
    // The first convolution's input is the image: masks downstream leave its Ω alone, while
    // the dense layer's Ω (after the dropout) changes.
    close("Ω of the first layer", &drawn[0].a, &plain[0].a);
    assert!((&drawn[2].a - &plain[2].a).amax() > 1e-3 * plain[2].a.amax());
}

#[test]
fn vgg11_volumes_cover_every_weight_layer_and_are_log_correlation_determinants() {
    // Paper 002's VGG at a small width on CIFAR-shaped inputs: one factor pair per convolution
    // and dense layer, and each log volume ≤ 0 (Hadamard: a correlation matrix has det ≤ 1),
    // strictly below 0 where the damped factors are not diagonal.
    let mut arch = ArchConfig::new(Arch::Vgg11);
    arch.width = 1.0 / 16.0;
    arch.drop_rate = 0.3;
    let spec = arch.build([3, 32, 32], 10).unwrap();
    let p = params(&spec, 41);
    let d = data(&spec, 8, 42);
    let device = cpu_device();
    let net = Net::from_host(&p, &device).unwrap();
    let dev = DeviceData::upload(&d, &device);
    let f = pollster::block_on(kfc_factors(
        &net,
        &dev,
        MaskNoise::Bernoulli,
        2,
        &mut rng(3),
        &mut Silent,
    ))
    .unwrap();
    let weights: Vec<usize> = spec
        .params()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.role, Role::Weight { .. }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(f.iter().map(|l| l.param).collect::<Vec<_>>(), weights);
    let vols = kfc_volumes(&f, 0.1).unwrap();
    for v in &vols {
        assert!(v.log_volume < 0.0 && v.log_volume.is_finite(), "{v:?}");
    }
}

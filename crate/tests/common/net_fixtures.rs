//! Fixtures of the conv-net tests: random data and parameters for a `NetSpec`, and f64 views
//! of host vectors and masks for the f64 reference (`net_reference`).
#![allow(dead_code)]

use dropout_lab::data::Dataset;
use dropout_lab::model::net::{NetParams, NetSpec, Role};
use dropout_lab::rng::{stream, Stream};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

pub fn rng(seed: u64) -> ChaCha8Rng {
    stream(seed, Stream::Directions)
}

/// `n` random examples of the spec's input shape, labels cycling through the classes.
pub fn data(spec: &NetSpec, n: usize, seed: u64) -> Dataset {
    let dim: usize = spec.input.iter().product();
    let mut r = rng(seed);
    Dataset {
        features: (0..n * dim).map(|_| r.random::<f32>()).collect(),
        labels: (0..n).map(|i| (i % spec.classes) as u8).collect(),
        dim,
        classes: spec.classes,
    }
}

/// He-initialised parameters with non-trivial biases and BatchNorm affine terms and running
/// statistics, so every path of the tangent pass carries weight.
pub fn params(spec: &NetSpec, seed: u64) -> NetParams {
    let mut p = NetParams::init(spec, &mut stream(seed, Stream::Init)).unwrap();
    let mut r = rng(seed + 100);
    let normal = Normal::new(0.0, 0.2).unwrap();
    for (s, v) in spec.params().unwrap().iter().zip(&mut p.params) {
        match s.role {
            Role::Bias | Role::Shift => {
                v.iter_mut().for_each(|x| *x = normal.sample(&mut r) as f32)
            }
            Role::Scale => v.iter_mut().for_each(|x| *x = 0.6 + r.random::<f32>()),
            Role::Weight { .. } => {}
        }
    }
    for stats in &mut p.running {
        stats
            .mean
            .iter_mut()
            .for_each(|x| *x = normal.sample(&mut r) as f32);
        stats
            .var
            .iter_mut()
            .for_each(|x| *x = 0.5 + 1.5 * r.random::<f32>());
    }
    p
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

/// The features of each example as f64 rows.
pub fn rows(d: &Dataset) -> Vec<Vec<f64>> {
    d.features.chunks(d.dim).map(f64s).collect()
}

/// Per site, per example, the mask values (host masks are [rows, site size] row-major).
pub fn per_example(masks: &[Option<Vec<f32>>], n: usize) -> Vec<Vec<Vec<f64>>> {
    masks
        .iter()
        .map(|m| {
            let m = m.as_ref().unwrap();
            m.chunks(m.len() / n).map(f64s).collect()
        })
        .collect()
}

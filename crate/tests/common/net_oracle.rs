//! The f64 loss of a conv net on a data set (the reference forward, `net_reference`) and its
//! derivatives by finite differences: the oracle of gradients, Hessians and gradient noise.
#![allow(dead_code)]

use super::net_fixtures::{f64s, per_example, rows};
use super::net_reference::{cross_entropy, RefBn, Reference};
use dropout_lab::data::Dataset;
use dropout_lab::model::net::{NetParams, NetSpec};

pub struct Oracle<'a> {
    pub spec: &'a NetSpec,
    pub running: Vec<(Vec<f64>, Vec<f64>)>,
    pub xs: Vec<Vec<f64>>,
    pub labels: Vec<usize>,
    pub masks: Vec<Vec<Vec<f64>>>,
    pub train_bn: bool,
}

impl Oracle<'_> {
    pub fn loss(&self, theta: &[Vec<f64>]) -> (f64, f64) {
        let r = Reference {
            spec: self.spec,
            params: theta,
            bn: if self.train_bn {
                RefBn::Train
            } else {
                RefBn::Eval(&self.running)
            },
            masks: &self.masks,
        };
        let (z, margin) = r.logits(&self.xs);
        (cross_entropy(&z, &self.labels), margin)
    }

    /// θ as one flat vector and back.
    pub fn split(&self, flat: &[f64], like: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let mut o = 0;
        like.iter()
            .map(|p| {
                o += p.len();
                flat[o - p.len()..o].to_vec()
            })
            .collect()
    }

    /// Dense Hessian of the f64 loss by second central differences, step h.
    pub fn hessian(&self, theta: &[Vec<f64>], h: f64) -> Vec<Vec<f64>> {
        let flat: Vec<f64> = theta.concat();
        let d = flat.len();
        let at = |i: usize, si: f64, j: usize, sj: f64| {
            let mut t = flat.clone();
            t[i] += si * h;
            t[j] += sj * h;
            self.loss(&self.split(&t, theta)).0
        };
        let mut hm = vec![vec![0.0; d]; d];
        for i in 0..d {
            for j in i..d {
                let v = (at(i, 1.0, j, 1.0) - at(i, 1.0, j, -1.0) - at(i, -1.0, j, 1.0)
                    + at(i, -1.0, j, -1.0))
                    / (4.0 * h * h);
                hm[i][j] = v;
                hm[j][i] = v;
            }
        }
        hm
    }

    pub fn gradient(&self, theta: &[Vec<f64>], h: f64) -> Vec<f64> {
        let flat: Vec<f64> = theta.concat();
        (0..flat.len())
            .map(|i| {
                let mut a = flat.clone();
                let mut b = flat.clone();
                a[i] += h;
                b[i] -= h;
                (self.loss(&self.split(&a, theta)).0 - self.loss(&self.split(&b, theta)).0)
                    / (2.0 * h)
            })
            .collect()
    }
}

pub fn oracle_for<'a>(
    spec: &'a NetSpec,
    p: &NetParams,
    d: &Dataset,
    masks: &[Option<Vec<f32>>],
) -> Oracle<'a> {
    Oracle {
        spec,
        running: p
            .running
            .iter()
            .map(|r| (f64s(&r.mean), f64s(&r.var)))
            .collect(),
        xs: rows(d),
        labels: d.labels.iter().map(|&l| l as usize).collect(),
        masks: per_example(masks, d.len()),
        train_bn: false,
    }
}

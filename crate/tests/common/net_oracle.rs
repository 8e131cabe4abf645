//! The f64 loss of a conv net on a data set (the reference forward, `net_reference`) and its
//! derivatives by finite differences: the oracle of gradients, Hessians and gradient noise.
#![allow(dead_code)]

use super::net_fixtures::{f64s, per_example, rows};
use super::net_reference::{cross_entropy, RefBn, Reference};
use dropout_lab::data::Dataset;
use dropout_lab::model::net::{NetParams, NetSpec};
use nalgebra::DMatrix;

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
        let (z, margin) = self.logits(theta);
        (cross_entropy(&z, &self.labels), margin)
    }

    /// The reference logits per example, and the smallest ReLU margin met.
    pub fn logits(&self, theta: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
        Reference {
            spec: self.spec,
            params: theta,
            bn: if self.train_bn {
                RefBn::Train
            } else {
                RefBn::Eval(&self.running)
            },
            masks: &self.masks,
        }
        .logits(&self.xs)
    }

    /// The Hessian over parameter tensor `block` in Gauss-Newton form,
    /// (1/n) Σ_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i with J_i = ∂z_i/∂W by central differences of the
    /// reference logits (step h). It is the exact block Hessian wherever the logits are affine
    /// in W within the current ReLU pattern: W entered once and only piecewise-linear operations
    /// (ReLU, pooling, BatchNorm in evaluation mode, additions, dense layers) follow it. A small
    /// h then crosses no kink, where second differences of the loss would straddle many.
    pub fn block_gauss_newton(&self, theta: &[Vec<f64>], block: usize, h: f64) -> DMatrix<f64> {
        let w0 = theta[block].clone();
        let d = w0.len();
        let logits = |w: &[f64]| {
            let mut t = theta.to_vec();
            t[block] = w.to_vec();
            self.logits(&t).0
        };
        let z0 = logits(&w0);
        let (rows, classes) = (z0.len(), z0[0].len());
        // jac[j][i][k] = ∂z_ik/∂w_j
        let jac: Vec<Vec<Vec<f64>>> = (0..d)
            .map(|j| {
                let (mut a, mut b) = (w0.clone(), w0.clone());
                a[j] += h;
                b[j] -= h;
                let (za, zb) = (logits(&a), logits(&b));
                za.iter()
                    .zip(&zb)
                    .map(|(ra, rb)| {
                        ra.iter()
                            .zip(rb)
                            .map(|(x, y)| (x - y) / (2.0 * h))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut hm = DMatrix::<f64>::zeros(d, d);
        for (i, z) in z0.iter().enumerate() {
            let top = z.iter().fold(f64::MIN, |a, &b| a.max(b));
            let e: Vec<f64> = z.iter().map(|v| (v - top).exp()).collect();
            let p: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
            for a in 0..d {
                for b in 0..d {
                    let (ja, jb) = (&jac[a][i], &jac[b][i]);
                    let diag: f64 = (0..classes).map(|k| p[k] * ja[k] * jb[k]).sum();
                    let pa: f64 = (0..classes).map(|k| p[k] * ja[k]).sum();
                    let pb: f64 = (0..classes).map(|k| p[k] * jb[k]).sum();
                    hm[(a, b)] += (diag - pa * pb) / rows as f64;
                }
            }
        }
        hm
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

/// The network's parameters in f64, state_dict order.
pub fn params_f64(p: &NetParams) -> Vec<Vec<f64>> {
    p.params.iter().map(|w| f64s(w)).collect()
}

/// The Gauss-Newton block Hessian (step 1e-4) of parameter tensor `block` of `p` on `d` under the
/// host `masks` (none: dropout off), BatchNorm in evaluation mode.
pub fn block_hessian(
    p: &NetParams,
    d: &Dataset,
    masks: &[Option<Vec<f32>>],
    block: usize,
) -> DMatrix<f64> {
    oracle_for(&p.spec, p, d, masks).block_gauss_newton(&params_f64(p), block, 1e-4)
}

/// Every eigenvalue of a symmetric matrix, largest first.
pub fn descending_eigenvalues(m: DMatrix<f64>) -> Vec<f64> {
    let mut v: Vec<f64> = nalgebra::SymmetricEigen::new(m)
        .eigenvalues
        .iter()
        .copied()
        .collect();
    v.sort_by(|a, b| b.total_cmp(a));
    v
}

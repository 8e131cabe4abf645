//! The dropout noise covariance Σ(θ) = Cov_δ[∇R_S^drop(θ; δ)] of paper 001 (Sec. 5.1; its
//! Appendix J with Σ_kr is not in our copy, so the closed form is derived here), for the
//! two-layer network of `objectives/modified_loss.rs`.
//!
//! Derivation. With u_ir = a_r h_ir (h_ir = σ(w_rᵀx_i)) the residual e_i(δ) = Σ_r δ_r u_ir − y_i
//! is linear in δ, so block k of the gradient is g_k(δ) = δ_k (c_k + Σ_r δ_r M_kr) with
//!   M_kr = 1/n Σ_i [ h_ik u_ir ; σ'_ik (a_kᵀu_ir) x_i ] = [ a_r K_kr ; (a_kᵀa_r) P_kr ],
//!   K_kr = 1/n Σ_i h_ik h_ir,  P_kr = 1/n Σ_i σ'_ik h_ir x_i.
//! Writing δ = 1 + ε (E ε = 0, v = E ε² = (1−p)/p) and S_k = g_k(1) (the plain gradient):
//!   g_k − E g_k = ε_k S_k + Σ_r ε_r M_kr + Σ_{r≠k} ε_k ε_r M_kr + (ε_k² − v) M_kk.
//! Across units the variables ε_r, ε_k ε_l (k < l) and ε_r² − v are uncorrelated except
//! Cov(ε_r, ε_r² − v) = μ3, and Var ε_kε_l = v², Var(ε_r² − v) = μ4 − v² (μ_j = E ε^j). Hence
//!   Σ = Σ_r [φ_r χ_r] C [φ_r χ_r]ᵀ + v² Σ_{k<l} ψ_kl ψ_klᵀ,   C = [[v, μ3], [μ3, μ4 − v²]],
//! with φ_r = (M_kr + [k = r] S_r)_k, χ_r = M_rr in block r, ψ_kl = M_kl in block k and M_lk in
//! block l. This is an exact factor Σ = F Fᵀ with 2m + m(m−1)/2 columns: N(0, Σ) is sampled from
//! it in O(m²(c + d)) with no square root, and the dense Σ = F Fᵀ is available for checks.
//! (For the two-point δ, ε² − v = (1/p − 2) ε exactly, so C has rank one.)

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::LabResult;
use crate::linalg::dense::symmetric_eigen;
use crate::objectives::modified_loss::{Sample, TwoLayer};

/// Moments of ε = δ − 1 for δ ∈ {1/p w.p. p, 0 w.p. 1 − p}.
fn moments(p: f64) -> (f64, f64, f64) {
    let (hi, lo): (f64, f64) = (1.0 / p - 1.0, -1.0);
    let m = |j: i32| p * hi.powi(j) + (1.0 - p) * lo.powi(j);
    (m(2), m(3), m(4))
}

/// Σ(θ) through its factor: what sampling and the dense matrix are built from. P_kr is never
/// formed: Σ_r W_kr (a_kᵀa_r) P_kr = 1/n Σ_i σ'_ik x_i Σ_r W_kr (a_kᵀa_r) h_ir costs n m (m + d)
/// per draw instead of the n m² d that P itself would.
pub struct DropoutCovariance<'s> {
    net: TwoLayer,
    n: usize,
    /// The sample's inputs x, n x d (borrowed: a covariance is built at every SDE step).
    x: &'s [f64],
    /// h_ir and σ'_ir, n x m.
    h: Vec<f64>,
    slope: Vec<f64>,
    /// Plain gradient S, laid out as θ.
    s: Vec<f64>,
    /// K_kr, m x m.
    k: Vec<f64>,
    /// a_kᵀa_r, m x m.
    aa: Vec<f64>,
    /// a_r, m x c.
    a: Vec<f64>,
    v: f64,
    /// Cholesky factor of C: [[l11, 0], [l21, l22]].
    l: (f64, f64, f64),
}

impl<'s> DropoutCovariance<'s> {
    pub fn new(net: TwoLayer, theta: &[f64], s: &'s Sample, p: f64) -> Self {
        let (m, c, n) = (net.m, net.c, s.n);
        let (_, h) = net.hidden(theta, s);
        let slope: Vec<f64> = h.iter().map(|v| 1.0 - v * v).collect();
        let grad = net.dropout_grad(theta, s, None);
        let mut k = vec![0.0; m * m];
        for hi in h.chunks_exact(m) {
            for kk in 0..m {
                for r in 0..m {
                    k[kk * m + r] += hi[kk] * hi[r] / n as f64;
                }
            }
        }
        let a: Vec<f64> = (0..m).flat_map(|r| net.a(theta, r).to_vec()).collect();
        let mut aa = vec![0.0; m * m];
        for kk in 0..m {
            for r in 0..m {
                aa[kk * m + r] = (0..c).map(|o| a[kk * c + o] * a[r * c + o]).sum();
            }
        }
        let (v, mu3, mu4) = moments(p);
        let l11 = v.sqrt();
        let l21 = mu3 / l11;
        let l22 = (mu4 - v * v - l21 * l21).max(0.0).sqrt();
        DropoutCovariance {
            net,
            n,
            x: &s.x,
            h,
            slope,
            s: grad,
            k,
            aa,
            a,
            v,
            l: (l11, l21, l22),
        }
    }

    /// Σ_r W_kr M_kr + α_k S_k in block k, for every k.
    fn combine(&self, w: &[f64], alpha: &[f64]) -> Vec<f64> {
        let TwoLayer { m, d, c } = self.net;
        let n = self.n;
        let mut out = vec![0.0; self.net.dim()];
        let mut u = vec![0.0; n];
        for k in 0..m {
            let base = k * (c + d);
            let wk = &w[k * m..(k + 1) * m];
            for r in 0..m {
                let ka = wk[r] * self.k[k * m + r];
                if ka != 0.0 {
                    for o in 0..c {
                        out[base + o] += ka * self.a[r * c + o];
                    }
                }
            }
            let coef: Vec<f64> = (0..m).map(|r| wk[r] * self.aa[k * m + r]).collect();
            if coef.iter().any(|&x| x != 0.0) {
                for (i, ui) in u.iter_mut().enumerate() {
                    let hi = &self.h[i * m..(i + 1) * m];
                    *ui = self.slope[i * m + k]
                        * coef.iter().zip(hi).map(|(a, b)| a * b).sum::<f64>()
                        / n as f64;
                }
                let row = &mut out[base + c..base + c + d];
                for (i, ui) in u.iter().enumerate() {
                    if *ui != 0.0 {
                        for (o, xj) in row.iter_mut().zip(&self.x[i * d..(i + 1) * d]) {
                            *o += ui * xj;
                        }
                    }
                }
            }
            if alpha[k] != 0.0 {
                for j in 0..c + d {
                    out[base + j] += alpha[k] * self.s[base + j];
                }
            }
        }
        out
    }

    /// One draw of N(0, Σ(θ)).
    pub fn sample(&self, rng: &mut impl Rng) -> Vec<f64> {
        let m = self.net.m;
        let (l11, l21, l22) = self.l;
        let mut alpha = vec![0.0; m];
        let mut beta = vec![0.0; m];
        for r in 0..m {
            let (z1, z2): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            alpha[r] = l11 * z1;
            beta[r] = l21 * z1 + l22 * z2;
        }
        let mut w = vec![0.0; m * m];
        for k in 0..m {
            for l in k + 1..m {
                let z: f64 = rng.sample(StandardNormal);
                w[k * m + l] = self.v * z;
                w[l * m + k] = self.v * z;
            }
        }
        for k in 0..m {
            for r in 0..m {
                w[k * m + r] += alpha[r];
            }
            w[k * m + k] += beta[k];
        }
        self.combine(&w, &alpha)
    }

    /// The factor F (D x (2m + m(m−1)/2)) with Σ = F Fᵀ.
    pub fn factor(&self) -> DMatrix<f64> {
        let m = self.net.m;
        let dim = self.net.dim();
        let (l11, l21, l22) = self.l;
        let mut cols: Vec<Vec<f64>> = Vec::new();
        let zero = vec![0.0; m];
        for r in 0..m {
            // φ_r: W_kr = 1 for every k, α_r = 1; χ_r: W_rr = 1.
            let mut w = vec![0.0; m * m];
            (0..m).for_each(|k| w[k * m + r] = 1.0);
            let mut alpha = zero.clone();
            alpha[r] = 1.0;
            let phi = self.combine(&w, &alpha);
            let mut w = vec![0.0; m * m];
            w[r * m + r] = 1.0;
            let chi = self.combine(&w, &zero);
            cols.push(
                phi.iter()
                    .zip(&chi)
                    .map(|(f, x)| l11 * f + l21 * x)
                    .collect(),
            );
            cols.push(chi.iter().map(|x| l22 * x).collect());
        }
        for k in 0..m {
            for l in k + 1..m {
                let mut w = vec![0.0; m * m];
                w[k * m + l] = self.v;
                w[l * m + k] = self.v;
                cols.push(self.combine(&w, &zero));
            }
        }
        DMatrix::from_fn(dim, cols.len(), |i, j| cols[j][i])
    }

    /// Σ(θ) as a dense matrix.
    pub fn dense(&self) -> DMatrix<f64> {
        let f = self.factor();
        &f * f.transpose()
    }
}

/// The sample covariance of `draws` dropout gradients at θ (fresh masks from `rng`).
pub fn monte_carlo_covariance(
    net: TwoLayer,
    theta: &[f64],
    s: &Sample,
    p: f64,
    draws: usize,
    rng: &mut impl Rng,
) -> DMatrix<f64> {
    let dim = net.dim();
    let mut mean = vec![0.0; dim];
    let mut second = DMatrix::<f64>::zeros(dim, dim);
    for _ in 0..draws {
        let delta: Vec<f64> = net.dropout_mask(p, rng);
        let g = net.dropout_grad(theta, s, Some(&delta));
        let gv = nalgebra::DVector::from_vec(g.clone());
        second += &gv * gv.transpose();
        mean.iter_mut().zip(&g).for_each(|(m, x)| *m += x);
    }
    let n = draws as f64;
    let mean = nalgebra::DVector::from_vec(mean) / n;
    (second - &mean * mean.transpose() * n) / (n - 1.0)
}

/// Σ^{1/2} by a symmetric eigendecomposition, negative (rounding) eigenvalues clipped to zero;
/// also the most negative eigenvalue relative to the largest (0 when none was clipped).
pub fn sqrt_psd(sigma: DMatrix<f64>) -> LabResult<(DMatrix<f64>, f64)> {
    let eig = symmetric_eigen(sigma)?;
    let top = eig
        .values
        .first()
        .copied()
        .unwrap_or(0.0)
        .abs()
        .max(f64::MIN_POSITIVE);
    let worst = eig.values.iter().copied().fold(0.0f64, f64::min);
    let roots = nalgebra::DVector::from_iterator(
        eig.values.len(),
        eig.values.iter().map(|&l| l.max(0.0).sqrt()),
    );
    let v = &eig.vectors;
    let root = v * DMatrix::from_diagonal(&roots) * v.transpose();
    Ok((root, -worst / top))
}

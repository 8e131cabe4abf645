//! Paper 001's two-layer network and its dropout objectives, in f64 on the host.
//!
//! f_θ(x) = Σ_r a_r σ(w_rᵀx) (eq. 2, no biases) with a_r ∈ R^c (c = 10 for MNIST's one-hot
//! targets: the paper's scalar a_r, one per class), σ = tanh (C^∞, as Theorem 1 needs C⁶).
//! θ = vec(q_1, …, q_m) with q_r = (a_r, w_r) ∈ R^{c+d} (the paper's ordering, Sec. 3.2).
//! R_S = 1/(2n) Σ_i ‖f(x_i) − y_i‖² (eq. 1); dropout multiplies hidden unit r by δ_r ∈ {0, 1/p}
//! (keep probability p, eq. 3-5); the modified loss (eq. 7)
//!   L_S = 1/(2n) Σ_i ‖e_i‖² + (1−p)/(2np) Σ_i Σ_r ‖a_r‖² σ(w_rᵀx_i)²
//! is E_δ R_S^drop exactly, because R^drop is quadratic in δ and E δ_r = 1, E δ_r² = 1/p.
//! Why host f64 and not burn: the models of Sec. 4.3 have a few hundred weights (7x7 inputs), the
//! weak-order checks need differences far below f32 rounding, and the exact HVP of the order-2
//! drift is one dual-number pass through the closed-form gradient.

use std::ops::{Add, Mul, Neg, Sub};

/// A number the closed forms are written over: f64, or a dual number for directional
/// derivatives (forward mode) of the same code.
pub trait Scalar:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Neg<Output = Self>
{
    fn from_f64(x: f64) -> Self;
    fn tanh(self) -> Self;
}

impl Scalar for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
}

/// x + ε x' with ε² = 0: evaluating f at (θ, v) gives (f(θ), ∂f(θ)·v).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    pub re: f64,
    pub eps: f64,
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            re: self.re + o.re,
            eps: self.eps + o.eps,
        }
    }
}
impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual {
            re: self.re - o.re,
            eps: self.eps - o.eps,
        }
    }
}
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            re: self.re * o.re,
            eps: self.re * o.eps + self.eps * o.re,
        }
    }
}
impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual {
            re: -self.re,
            eps: -self.eps,
        }
    }
}
impl Scalar for Dual {
    fn from_f64(x: f64) -> Self {
        Dual { re: x, eps: 0.0 }
    }
    fn tanh(self) -> Self {
        let t = self.re.tanh();
        Dual {
            re: t,
            eps: self.eps * (1.0 - t * t),
        }
    }
}

/// The training sample of Sec. 4.3: n inputs of dimension d and one-hot targets of c classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub n: usize,
    pub d: usize,
    pub c: usize,
    /// Row-major n x d.
    pub x: Vec<f64>,
    /// Row-major n x c.
    pub y: Vec<f64>,
}

/// The network's shape: m hidden units on d inputs with c outputs; θ has m (c + d) entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoLayer {
    pub m: usize,
    pub d: usize,
    pub c: usize,
}

impl TwoLayer {
    pub fn dim(&self) -> usize {
        self.m * (self.c + self.d)
    }
    fn block(&self) -> usize {
        self.c + self.d
    }
    /// a_r inside θ.
    pub fn a<'t, T>(&self, theta: &'t [T], r: usize) -> &'t [T] {
        &theta[r * self.block()..r * self.block() + self.c]
    }
    /// w_r inside θ.
    pub fn w<'t, T>(&self, theta: &'t [T], r: usize) -> &'t [T] {
        &theta[r * self.block() + self.c..(r + 1) * self.block()]
    }

    /// Pre-activations w_rᵀx_i and activations σ(w_rᵀx_i), each n x m.
    pub fn hidden<T: Scalar>(&self, theta: &[T], s: &Sample) -> (Vec<T>, Vec<T>) {
        let mut z = vec![T::from_f64(0.0); s.n * self.m];
        for i in 0..s.n {
            let x = &s.x[i * s.d..(i + 1) * s.d];
            for r in 0..self.m {
                let w = self.w(theta, r);
                let mut acc = T::from_f64(0.0);
                for (wj, &xj) in w.iter().zip(x) {
                    acc = acc + *wj * T::from_f64(xj);
                }
                z[i * self.m + r] = acc;
            }
        }
        let h = z.iter().map(|&v| v.tanh()).collect();
        (z, h)
    }

    /// Residuals e_i = Σ_r δ_r a_r h_ir − y_i (n x c); δ = None means all ones.
    fn residuals<T: Scalar>(
        &self,
        theta: &[T],
        h: &[T],
        s: &Sample,
        delta: Option<&[f64]>,
    ) -> Vec<T> {
        let mut e: Vec<T> = s.y.iter().map(|&y| T::from_f64(-y)).collect();
        for i in 0..s.n {
            for r in 0..self.m {
                let k = delta.map_or(1.0, |d| d[r]);
                if k == 0.0 {
                    continue;
                }
                let hr = h[i * self.m + r] * T::from_f64(k);
                for (o, ar) in self.a(theta, r).iter().enumerate() {
                    e[i * self.c + o] = e[i * self.c + o] + *ar * hr;
                }
            }
        }
        e
    }

    /// δ of eq. 3: each unit kept with probability p and scaled by 1/p.
    pub fn dropout_mask(&self, p: f64, rng: &mut impl rand::Rng) -> Vec<f64> {
        (0..self.m)
            .map(|_| {
                if rng.random::<f64>() < p {
                    1.0 / p
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// R_S^drop(θ; δ) of eq. 5 (R_S of eq. 1 with δ = None).
    pub fn loss<T: Scalar>(&self, theta: &[T], s: &Sample, delta: Option<&[f64]>) -> T {
        let (_, h) = self.hidden(theta, s);
        let e = self.residuals(theta, &h, s, delta);
        let sum = e.iter().fold(T::from_f64(0.0), |acc, &v| acc + v * v);
        sum * T::from_f64(0.5 / s.n as f64)
    }

    /// L_S(θ) of eq. 7 for keep probability p.
    pub fn modified_loss<T: Scalar>(&self, theta: &[T], s: &Sample, p: f64) -> T {
        let (_, h) = self.hidden(theta, s);
        let e = self.residuals(theta, &h, s, None);
        let mut fit = T::from_f64(0.0);
        for &v in &e {
            fit = fit + v * v;
        }
        let mut reg = T::from_f64(0.0);
        for i in 0..s.n {
            for r in 0..self.m {
                let a2 = self
                    .a(theta, r)
                    .iter()
                    .fold(T::from_f64(0.0), |acc, &v| acc + v * v);
                let hr = h[i * self.m + r];
                reg = reg + a2 * hr * hr;
            }
        }
        fit * T::from_f64(0.5 / s.n as f64) + reg * T::from_f64((1.0 - p) / (2.0 * s.n as f64 * p))
    }

    /// ∇_θ R_S^drop(θ; δ) (eq. 6's increment over −η).
    pub fn dropout_grad<T: Scalar>(
        &self,
        theta: &[T],
        s: &Sample,
        delta: Option<&[f64]>,
    ) -> Vec<T> {
        self.grad(theta, s, delta, 0.0)
    }

    /// ∇_θ L_S(θ) in closed form (Sec. 4.1):
    ///   ∇_{a_r} = 1/n Σ_i (e_i + κ a_r h_ir) h_ir,
    ///   ∇_{w_r} = 1/n Σ_i (a_rᵀe_i + κ ‖a_r‖² h_ir) σ'(w_rᵀx_i) x_i,   κ = (1 − p)/p.
    pub fn modified_grad<T: Scalar>(&self, theta: &[T], s: &Sample, p: f64) -> Vec<T> {
        self.grad(theta, s, None, (1.0 - p) / p)
    }

    /// The shared gradient: masks δ scale the units (and their gradients), κ adds eq. 7's
    /// regulariser.
    fn grad<T: Scalar>(
        &self,
        theta: &[T],
        s: &Sample,
        delta: Option<&[f64]>,
        kappa: f64,
    ) -> Vec<T> {
        let (_, h) = self.hidden(theta, s);
        let e = self.residuals(theta, &h, s, delta);
        let zero = T::from_f64(0.0);
        let inv_n = T::from_f64(1.0 / s.n as f64);
        let kap = T::from_f64(kappa);
        let mut g = vec![zero; self.dim()];
        for r in 0..self.m {
            let k = delta.map_or(1.0, |d| d[r]);
            if k == 0.0 {
                continue;
            }
            let kk = T::from_f64(k);
            let a = self.a(theta, r);
            let a2 = a.iter().fold(zero, |acc, &v| acc + v * v);
            let base = r * self.block();
            for i in 0..s.n {
                let hr = h[i * self.m + r];
                let ei = &e[i * self.c..(i + 1) * self.c];
                for o in 0..self.c {
                    g[base + o] = g[base + o] + (ei[o] + kap * a[o] * hr) * hr * kk * inv_n;
                }
                let ae = a.iter().zip(ei).fold(zero, |acc, (&x, &y)| acc + x * y);
                let slope = T::from_f64(1.0) - hr * hr;
                let coef = (ae + kap * a2 * hr) * slope * kk * inv_n;
                for j in 0..s.d {
                    g[base + self.c + j] =
                        g[base + self.c + j] + coef * T::from_f64(s.x[i * s.d + j]);
                }
            }
        }
        g
    }

    /// ∇²L_S(θ) v, exactly: the dual part of ∇L_S at θ + εv.
    pub fn modified_hvp(&self, theta: &[f64], v: &[f64], s: &Sample, p: f64) -> Vec<f64> {
        let dual: Vec<Dual> = theta
            .iter()
            .zip(v)
            .map(|(&re, &eps)| Dual { re, eps })
            .collect();
        self.modified_grad(&dual, s, p)
            .iter()
            .map(|g| g.eps)
            .collect()
    }

    /// The order-2 drift of eq. 16, −∇(L_S + η/4 ‖∇L_S‖²) = −∇L_S − (η/2) ∇²L_S ∇L_S.
    pub fn order2_drift(&self, theta: &[f64], s: &Sample, p: f64, eta: f64) -> Vec<f64> {
        let g = self.modified_grad(theta, s, p);
        let hg = self.modified_hvp(theta, &g, s, p);
        g.iter()
            .zip(&hg)
            .map(|(gi, hi)| -gi - 0.5 * eta * hi)
            .collect()
    }

    /// Mean squared error (eq. 1's R_S) and accuracy (argmax of f against the one-hot target).
    pub fn evaluate(&self, theta: &[f64], s: &Sample) -> (f64, f64) {
        let (_, h) = self.hidden(theta, s);
        let e = self.residuals(theta, &h, s, None);
        let loss = e.iter().map(|v| v * v).sum::<f64>() * 0.5 / s.n as f64;
        let mut right = 0usize;
        for i in 0..s.n {
            let out: Vec<f64> = (0..self.c)
                .map(|o| e[i * self.c + o] + s.y[i * self.c + o])
                .collect();
            let argmax = |v: &[f64]| {
                (0..v.len())
                    .max_by(|&a, &b| v[a].total_cmp(&v[b]))
                    .unwrap_or(0)
            };
            if argmax(&out) == argmax(&s.y[i * self.c..(i + 1) * self.c]) {
                right += 1;
            }
        }
        (loss, right as f64 / s.n as f64)
    }
}

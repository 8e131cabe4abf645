//! The lab's matmul (`kernels::matmul`) and its autodiff backward against f64 products computed
//! here, on whatever device it is given: the browser test runs it on WebGPU (the WGSL kernel)
//! and the CPU, the native test on the CPU. Included with `#[path]` by both.
#![allow(dead_code)]

use burn::tensor::{Device, Tensor, TensorData};
use dropout_lab::backend::read_f32;
use dropout_lab::kernels::matmul;
use dropout_lab::rng::{stream, Stream};
use rand::Rng;

/// A batch of `b` row-major [r, c] matrices with entries in [-1, 1).
#[derive(Clone)]
pub struct Mats {
    pub b: usize,
    pub r: usize,
    pub c: usize,
    pub v: Vec<f32>,
}

impl Mats {
    fn random(rng: &mut impl Rng, b: usize, r: usize, c: usize) -> Mats {
        let v = (0..b * r * c)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        Mats { b, r, c, v }
    }

    fn at(&self, z: usize, i: usize, j: usize) -> f64 {
        let z = if self.b == 1 { 0 } else { z };
        self.v[(z * self.r + i) * self.c + j] as f64
    }

    /// The device tensor, stored transposed and viewed back when `t`: the same matrix either
    /// way, but the kernel reads the other layout (as the backward passes hand it transposes).
    fn tensor<const D: usize>(&self, t: bool, device: &Device) -> Tensor<D> {
        let (b, r, c) = (self.b, self.r, self.c);
        let dims = |x: usize, y: usize| -> [usize; D] {
            let v = [b, x, y];
            std::array::from_fn(|d| v[3 - D + d])
        };
        if !t {
            return Tensor::from_data(TensorData::new(self.v.clone(), dims(r, c)), device);
        }
        let mut tr = vec![0.0f32; b * r * c];
        for z in 0..b {
            for i in 0..r {
                for j in 0..c {
                    tr[(z * c + j) * r + i] = self.v[(z * r + i) * c + j];
                }
            }
        }
        Tensor::<D>::from_data(TensorData::new(tr, dims(c, r)), device).swap_dims(D - 2, D - 1)
    }
}

/// (A B)_z in f64 for z over the broadcast batch, row-major [batch, m, n].
fn product(a: &Mats, b: &Mats) -> Vec<f64> {
    let batch = a.b.max(b.b);
    let (m, k, n) = (a.r, a.c, b.c);
    let mut out = vec![0.0; batch * m * n];
    for z in 0..batch {
        for i in 0..m {
            for p in 0..k {
                let x = a.at(z, i, p);
                for j in 0..n {
                    out[(z * m + i) * n + j] += x * b.at(z, p, j);
                }
            }
        }
    }
    out
}

/// The largest |got − want| (entry counts must agree).
pub fn worst(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "entry count");
    got.iter()
        .zip(want)
        .fold(0.0f64, |w, (g, e)| w.max((*g as f64 - e).abs()))
}

/// Products of awkward shapes (1, odd, a power of two ± 1, 784, 1000, 1024) in all four operand
/// layouts, and batches with either side broadcast. f32 accumulation of k products of O(1)
/// values: within 1e-5 · k.
pub async fn products_match_f64(device: &Device, label: &str, large: bool) {
    let mut rng = stream(12, Stream::Directions);
    let mut shapes = vec![
        (1, 1, 1),
        (1, 7, 127),
        (7, 129, 128),
        (127, 784, 129),
        (65, 3, 70),
    ];
    if large {
        shapes.extend([
            (128, 1000, 7),
            (129, 1024, 1),
            (1000, 7, 784),
            (64, 1024, 1024),
        ]);
    }
    for (m, k, n) in shapes {
        let a = Mats::random(&mut rng, 1, m, k);
        let b = Mats::random(&mut rng, 1, k, n);
        let want = product(&a, &b);
        let tol = 1e-5 * k as f64;
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let got = matmul::<2>(a.tensor(ta, device), b.tensor(tb, device));
            assert_eq!(got.dims(), [m, n]);
            let err = worst(&read_f32(got).await.unwrap(), &want);
            assert!(
                err <= tol,
                "{label} {m}x{k}x{n} (A{} B{}): max error {err:e} > {tol:e}",
                if ta { "ᵀ" } else { "" },
                if tb { "ᵀ" } else { "" }
            );
        }
    }
    // A tensor times its own transpose (K-FAC's XᵀX): one allocation behind both operands.
    for (m, k) in [(7, 129), (70, 33)] {
        let a = Mats::random(&mut rng, 1, m, k);
        let mut at = Mats {
            b: 1,
            r: k,
            c: m,
            v: vec![0.0; m * k],
        };
        for i in 0..m {
            for j in 0..k {
                at.v[j * m + i] = a.v[i * k + j];
            }
        }
        let want = product(&a, &at);
        let t = a.tensor::<2>(false, device);
        let got = matmul::<2>(t.clone(), t.transpose());
        let err = worst(&read_f32(got).await.unwrap(), &want);
        let tol = 1e-5 * k as f64;
        assert!(err <= tol, "{label} A Aᵀ {m}x{k}: max error {err:e}");
    }
    for (ba, bb, m, k, n) in [(3, 3, 5, 66, 9), (1, 4, 70, 17, 3), (4, 1, 2, 130, 65)] {
        let a = Mats::random(&mut rng, ba, m, k);
        let b = Mats::random(&mut rng, bb, k, n);
        let want = product(&a, &b);
        for (ta, tb) in [(false, false), (true, true)] {
            let got = matmul::<3>(a.tensor(ta, device), b.tensor(tb, device));
            assert_eq!(got.dims(), [ba.max(bb), m, n]);
            let err = worst(&read_f32(got).await.unwrap(), &want);
            let tol = 1e-5 * k as f64;
            assert!(
                err <= tol,
                "{label} batch [{ba}|{bb}] {m}x{k}x{n}: max error {err:e}"
            );
        }
    }
}

/// The backward pass: for L = Σ G ⊙ (A B), ∂L/∂A = G Bᵀ and ∂L/∂B = Aᵀ G, each summed over the
/// batch where its operand was broadcast; with both operands tracked and with only one.
pub async fn gradients_match_f64(device: &Device, label: &str) {
    let mut rng = stream(13, Stream::Directions);
    for (ba, bb, m, k, n) in [(1, 1, 9, 70, 66), (3, 1, 5, 12, 67), (1, 2, 65, 4, 3)] {
        let a = Mats::random(&mut rng, ba, m, k);
        let b = Mats::random(&mut rng, bb, k, n);
        let batch = ba.max(bb);
        let g = Mats::random(&mut rng, batch, m, n);
        // Closed forms in f64.
        let mut da = vec![0.0f64; ba * m * k];
        let mut db = vec![0.0f64; bb * k * n];
        for z in 0..batch {
            for i in 0..m {
                for p in 0..k {
                    for j in 0..n {
                        let gz = g.at(z, i, j);
                        da[((z % ba) * m + i) * k + p] += gz * b.at(z, p, j);
                        db[((z % bb) * k + p) * n + j] += a.at(z, i, p) * gz;
                    }
                }
            }
        }
        for (track_a, track_b) in [(true, true), (true, false), (false, true)] {
            let lift = |t: Tensor<3>, track: bool| {
                let t = t.autodiff();
                if track {
                    t.require_grad()
                } else {
                    t
                }
            };
            let ta = lift(a.tensor(false, device), track_a);
            let tb = lift(b.tensor(true, device), track_b);
            let gt = g.tensor::<3>(false, device).autodiff();
            let grads = (matmul(ta.clone(), tb.clone()) * gt).sum().backward();
            let tol = 1e-5 * (m.max(n).max(k) * batch) as f64;
            for (tracked, t, want, name) in [(track_a, &ta, &da, "dA"), (track_b, &tb, &db, "dB")] {
                let grad = t.grad(&grads);
                assert_eq!(
                    grad.is_some(),
                    tracked,
                    "{label}: {name} present iff tracked"
                );
                if let Some(grad) = grad {
                    let err = worst(&read_f32(grad).await.unwrap(), want);
                    assert!(
                        err <= tol,
                        "{label} [{ba}|{bb}] {m}x{k}x{n} {name}: max error {err:e} > {tol:e}"
                    );
                }
            }
        }
    }
}

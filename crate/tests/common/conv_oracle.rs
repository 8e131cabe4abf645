//! The lab's convolution (`kernels::conv2d`) and its autodiff gradients against a direct f64
//! convolution and its closed-form gradients computed here, on whatever device it is given:
//! the browser test runs it on WebGPU (im2col products through the WGSL kernels) and the CPU,
//! the native test on the CPU. Included with `#[path]` by both, beside matmul_oracle.rs (whose
//! `worst` it uses).
#![allow(dead_code)]

use burn::tensor::{Device, Tensor, TensorData};
use dropout_lab::backend::read_f32;
use dropout_lab::kernels::conv2d;
use dropout_lab::rng::{stream, Stream};
use rand::Rng;

use crate::matmul_oracle::worst;

/// One convolution: input [n, c, h, w], kernel [out, c, k, k], stride, zero padding.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub out: usize,
    pub k: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Case {
    fn ho(&self) -> usize {
        (self.h + 2 * self.padding - self.k) / self.stride + 1
    }

    fn wo(&self) -> usize {
        (self.w + 2 * self.padding - self.k) / self.stride + 1
    }

    /// The input pixel tap (ky, kx) of output pixel (oy, ox) reads, if inside the image.
    fn tap(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let iy = (oy * self.stride + ky).checked_sub(self.padding)?;
        let ix = (ox * self.stride + kx).checked_sub(self.padding)?;
        (iy < self.h && ix < self.w).then_some((iy, ix))
    }
}

/// Shapes the kernels must get right (at least 48 output channels, where WebGPU runs them as
/// im2col products; fewer stay with burn's kernel there): a 1x1 image, 1x1 kernels, odd and
/// non-square images, stride 2 with and without padding, padding as wide as the kernel allows,
/// more output channels than a 64-wide tile, LeNet's second layer, a weight gradient whose
/// batch is summed inside the product; LeNet's first layer and a 5-channel one (burn's kernel
/// on WebGPU); and (with `large`) 1024 input channels, more (image, channel) pairs than one
/// launch takes, so the batch goes in two chunks and their seams are checked.
pub fn cases(large: bool) -> Vec<Case> {
    let case = |n, c, h, w, out, k, stride, padding| Case {
        n,
        c,
        h,
        w,
        out,
        k,
        stride,
        padding,
    };
    let mut v = vec![
        case(1, 1, 1, 1, 48, 1, 1, 0),
        case(2, 3, 7, 7, 49, 3, 1, 1),
        case(3, 2, 8, 9, 56, 5, 2, 2),
        case(2, 4, 6, 6, 48, 3, 2, 0),
        case(2, 3, 5, 5, 70, 2, 1, 0),
        case(3, 5, 4, 4, 52, 1, 2, 0),
        case(4, 2, 3, 3, 48, 3, 1, 2),
        case(2, 20, 12, 12, 50, 5, 1, 0),
        // A weight gradient of 3x5 tiles: its batch sum runs three images per partial product,
        // the last partial two.
        case(20, 32, 4, 4, 130, 3, 1, 1),
        case(4, 1, 28, 28, 20, 5, 1, 0),
        case(2, 3, 5, 5, 5, 3, 1, 1),
    ];
    if large {
        v.push(case(64, 1024, 2, 2, 48, 2, 1, 1));
    }
    v
}

fn random(rng: &mut impl Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// z, ∂L/∂x, ∂L/∂w, ∂L/∂b for L = Σ g ⊙ (conv(x, w) + b), all in f64.
fn reference(c: &Case, x: &[f32], w: &[f32], b: &[f32], g: &[f32]) -> [Vec<f64>; 4] {
    let (ho, wo, k) = (c.ho(), c.wo(), c.k);
    let xi = |n: usize, ch: usize, y: usize, xx: usize| ((n * c.c + ch) * c.h + y) * c.w + xx;
    let wi = |o: usize, ch: usize, ky: usize, kx: usize| ((o * c.c + ch) * k + ky) * k + kx;
    let mut z = vec![0.0f64; c.n * c.out * ho * wo];
    let mut dx = vec![0.0f64; x.len()];
    let mut dw = vec![0.0f64; w.len()];
    let mut db = vec![0.0f64; c.out];
    for n in 0..c.n {
        for o in 0..c.out {
            for oy in 0..ho {
                for ox in 0..wo {
                    let zi = ((n * c.out + o) * ho + oy) * wo + ox;
                    let gz = g[zi] as f64;
                    let mut acc = b[o] as f64;
                    db[o] += gz;
                    for ch in 0..c.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                if let Some((iy, ix)) = c.tap(oy, ox, ky, kx) {
                                    let (xa, wa) = (xi(n, ch, iy, ix), wi(o, ch, ky, kx));
                                    acc += x[xa] as f64 * w[wa] as f64;
                                    dx[xa] += gz * w[wa] as f64;
                                    dw[wa] += gz * x[xa] as f64;
                                }
                            }
                        }
                    }
                    z[zi] = acc;
                }
            }
        }
    }
    [z, dx, dw, db]
}

/// Forward values and the gradients of every tracked input (x, w, b together; x alone; w and b
/// without x, as the first layer sees it), each within f32 accumulation error of its sum: an
/// entry summing `terms` products of O(1) values is within 2e-6 · terms + 1e-5.
pub async fn convolutions_match_f64(device: &Device, label: &str, large: bool) {
    let mut rng = stream(14, Stream::Directions);
    for case in cases(large) {
        let Case {
            n, c, h, w, out, k, ..
        } = case;
        let (ho, wo) = (case.ho(), case.wo());
        let x = random(&mut rng, n * c * h * w);
        let wt = random(&mut rng, out * c * k * k);
        let b = random(&mut rng, out);
        let g = random(&mut rng, n * out * ho * wo);
        let [z, dx, dw, db] = reference(&case, &x, &wt, &b, &g);
        let tol = |terms: usize| 2e-6 * terms as f64 + 1e-5;
        let tensor4 = |v: &[f32], s: [usize; 4]| {
            Tensor::<4>::from_data(TensorData::new(v.to_vec(), s), device)
        };
        for (track_x, track_w) in [(true, true), (true, false), (false, true)] {
            let lift = |t: Tensor<4>, track: bool| {
                let t = t.autodiff();
                if track {
                    t.require_grad()
                } else {
                    t
                }
            };
            let tx = lift(tensor4(&x, [n, c, h, w]), track_x);
            let tw = lift(tensor4(&wt, [out, c, k, k]), track_w);
            let tb = Tensor::<1>::from_data(TensorData::new(b.clone(), [out]), device).autodiff();
            let tb = if track_w { tb.require_grad() } else { tb };
            let tg = tensor4(&g, [n, out, ho, wo]).autodiff();
            let tz = conv2d(
                tx.clone(),
                tw.clone(),
                Some(tb.clone()),
                case.stride,
                case.padding,
            );
            assert_eq!(
                tz.dims(),
                [n, out, ho, wo],
                "{label} {case:?}: output shape"
            );
            let err = worst(&read_f32(tz.clone().inner()).await.unwrap(), &z);
            assert!(
                err <= tol(c * k * k),
                "{label} {case:?}: forward max error {err:e}"
            );
            let grads = (tz * tg).sum().backward();
            if track_x {
                let got = read_f32(tx.grad(&grads).expect("dx")).await.unwrap();
                let err = worst(&got, &dx);
                assert!(
                    err <= tol(out * k * k),
                    "{label} {case:?}: dx max error {err:e}"
                );
            } else {
                assert!(tx.grad(&grads).is_none(), "{label}: dx only when tracked");
            }
            if track_w {
                let got = read_f32(tw.grad(&grads).expect("dw")).await.unwrap();
                let err = worst(&got, &dw);
                assert!(
                    err <= tol(n * ho * wo),
                    "{label} {case:?}: dw max error {err:e}"
                );
                let got = read_f32(tb.grad(&grads).expect("db")).await.unwrap();
                let err = worst(&got, &db);
                assert!(
                    err <= tol(n * ho * wo),
                    "{label} {case:?}: db max error {err:e}"
                );
            } else {
                assert!(tw.grad(&grads).is_none(), "{label}: dw only when tracked");
            }
        }
    }
}

//! An independent f64 implementation of the MLP and its loss, written from the definitions: the
//! oracle for gradients and Hessians computed by burn in f32.

use dropout_lab::model::{Activation, HostParams};

/// θ in the reference's layout: [W_0, b_0, W_1, b_1, …] in f64.
#[allow(dead_code)]
pub fn params_f64(theta: &HostParams) -> Vec<Vec<f64>> {
    theta
        .layers
        .iter()
        .flat_map(|(w, b)| [w, b])
        .map(|v| v.iter().map(|&a| a as f64).collect())
        .collect()
}

/// log det of a symmetric positive-definite matrix, from its Cholesky factor.
#[allow(dead_code)]
pub fn log_det_spd(m: &nalgebra::DMatrix<f64>) -> f64 {
    let l = m.clone().cholesky().expect("positive definite").l();
    2.0 * l.diagonal().iter().map(|v| v.ln()).sum::<f64>()
}

/// Reference forward + mean cross-entropy in f64, written from the definitions.
pub fn loss_f64(
    p: &[Vec<f64>],
    widths: &[usize],
    act: Activation,
    x: &[f64],
    labels: &[usize],
    masks: &[Option<Vec<f64>>],
) -> (f64, f64) {
    let rows = labels.len();
    let mut h: Vec<f64> = x.to_vec();
    let mut min_abs_pre = f64::INFINITY;
    let layers = widths.len() - 1;
    for l in 0..layers {
        let (fi, fo) = (widths[l], widths[l + 1]);
        let w = &p[2 * l];
        let b = &p[2 * l + 1];
        let mut out = vec![0.0; rows * fo];
        for r in 0..rows {
            for o in 0..fo {
                let mut s = b[o];
                for i in 0..fi {
                    s += h[r * fi + i] * w[i * fo + o];
                }
                if l < layers - 1 {
                    min_abs_pre = min_abs_pre.min(s.abs());
                    s = match act {
                        Activation::Relu => s.max(0.0),
                        Activation::Tanh => s.tanh(),
                    };
                    if let Some(m) = &masks[l] {
                        s *= m[r * fo + o];
                    }
                }
                out[r * fo + o] = s;
            }
        }
        h = out;
    }
    let k = widths[layers];
    let mut total = 0.0;
    for r in 0..rows {
        let z = &h[r * k..(r + 1) * k];
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += lse - z[labels[r]];
    }
    (total / rows as f64, min_abs_pre)
}

/// Paper 004 eq. 4-6 written out in f64 with separate masks: the forward pass multiplies hidden
/// layer l's activations by `forward[l]`, the backward pass uses `backward[l]` where eq. 5-6
/// have ε: ∂J/∂W_{l+1} = (h_l ⊙ m_b)ᵀ δ_{l+1}, δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ f'(z_l) ⊙ m_b, and
/// ∂J/∂b = Σ_rows δ. None = all ones. Returns (mean loss, gradients in the layout of `p`).
pub fn backprop_f64(
    p: &[Vec<f64>],
    widths: &[usize],
    act: Activation,
    x: &[f64],
    labels: &[usize],
    forward: &[Option<Vec<f64>>],
    backward: &[Option<Vec<f64>>],
) -> (f64, Vec<Vec<f64>>) {
    let rows = labels.len();
    let layers = widths.len() - 1;
    // inputs[l]: what layer l multiplies in the forward pass; bwd_inputs[l]: its eq. 5 view.
    let mut inputs: Vec<Vec<f64>> = vec![x.to_vec()];
    let mut bwd_inputs: Vec<Vec<f64>> = vec![x.to_vec()];
    let mut slopes: Vec<Vec<f64>> = Vec::new(); // f'(z_l) of hidden layers
    let mut logits = Vec::new();
    for l in 0..layers {
        let (fi, fo) = (widths[l], widths[l + 1]);
        let (w, b, h) = (&p[2 * l], &p[2 * l + 1], &inputs[l]);
        let mut z = vec![0.0; rows * fo];
        for r in 0..rows {
            for o in 0..fo {
                z[r * fo + o] = b[o] + (0..fi).map(|i| h[r * fi + i] * w[i * fo + o]).sum::<f64>();
            }
        }
        if l == layers - 1 {
            logits = z;
            break;
        }
        let a: Vec<f64> = z
            .iter()
            .map(|&v| match act {
                Activation::Relu => v.max(0.0),
                Activation::Tanh => v.tanh(),
            })
            .collect();
        slopes.push(
            z.iter()
                .map(|&v| match act {
                    Activation::Relu => (v > 0.0) as u8 as f64,
                    Activation::Tanh => 1.0 - v.tanh().powi(2),
                })
                .collect(),
        );
        let apply = |m: &Option<Vec<f64>>| match m {
            Some(m) => a.iter().zip(m).map(|(x, y)| x * y).collect(),
            None => a.clone(),
        };
        inputs.push(apply(&forward[l]));
        bwd_inputs.push(apply(&backward[l]));
    }
    let k = widths[layers];
    let mut loss = 0.0;
    let mut delta = vec![0.0; rows * k];
    for r in 0..rows {
        let z = &logits[r * k..(r + 1) * k];
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        loss += m + s.ln() - z[labels[r]];
        for c in 0..k {
            delta[r * k + c] = (e[c] / s - (c == labels[r]) as u8 as f64) / rows as f64;
        }
    }
    let mut grads = vec![Vec::new(); 2 * layers];
    for l in (0..layers).rev() {
        let (fi, fo) = (widths[l], widths[l + 1]);
        let hb = &bwd_inputs[l];
        let mut gw = vec![0.0; fi * fo];
        let mut gb = vec![0.0; fo];
        for r in 0..rows {
            for o in 0..fo {
                let d = delta[r * fo + o];
                gb[o] += d;
                for i in 0..fi {
                    gw[i * fo + o] += hb[r * fi + i] * d;
                }
            }
        }
        grads[2 * l] = gw;
        grads[2 * l + 1] = gb;
        if l == 0 {
            break;
        }
        let w = &p[2 * l];
        let mut next = vec![0.0; rows * fi];
        for r in 0..rows {
            for i in 0..fi {
                let back = (0..fo)
                    .map(|o| delta[r * fo + o] * w[i * fo + o])
                    .sum::<f64>();
                let m = backward[l - 1].as_ref().map_or(1.0, |m| m[r * fi + i]);
                next[r * fi + i] = back * slopes[l - 1][r * fi + i] * m;
            }
        }
        delta = next;
    }
    (loss / rows as f64, grads)
}

/// The dense Hessian of the mean loss over layer `layer`'s weight matrix (row-major [fan_in,
/// fan_out], the lab's block order), by central differences of the f64 gradient above, with no
/// masks; symmetrised. `p` in the layout of `backprop_f64`.
#[allow(dead_code)]
pub fn block_hessian_f64(
    p: &[Vec<f64>],
    widths: &[usize],
    act: Activation,
    x: &[f64],
    labels: &[usize],
    layer: usize,
) -> nalgebra::DMatrix<f64> {
    let masks: Vec<Option<Vec<f64>>> = vec![None; widths.len() - 2];
    let n = p[2 * layer].len();
    let eps = 1e-5;
    let grad_at = |j: usize, delta: f64| {
        let mut q = p.to_vec();
        q[2 * layer][j] += delta;
        backprop_f64(&q, widths, act, x, labels, &masks, &masks).1[2 * layer].clone()
    };
    let mut h = nalgebra::DMatrix::zeros(n, n);
    for j in 0..n {
        let (gp, gm) = (grad_at(j, eps), grad_at(j, -eps));
        for i in 0..n {
            h[(i, j)] = (gp[i] - gm[i]) / (2.0 * eps);
        }
    }
    (&h + h.transpose()) * 0.5
}

/// The dense Hessian of the mean loss over every parameter, in `HostParams::flatten` order
/// ([W_0 row-major, b_0, W_1, b_1, …], the lab's full span), by central differences of the f64
/// gradient above, with no masks; symmetrised. Only for tiny networks: D gradients of D entries.
#[allow(dead_code)]
pub fn full_hessian_f64(
    p: &[Vec<f64>],
    widths: &[usize],
    act: Activation,
    x: &[f64],
    labels: &[usize],
) -> nalgebra::DMatrix<f64> {
    let masks: Vec<Option<Vec<f64>>> = vec![None; widths.len() - 2];
    let n: usize = p.iter().map(Vec::len).sum();
    let eps = 1e-5;
    let grad_at = |q: &[Vec<f64>]| {
        backprop_f64(q, widths, act, x, labels, &masks, &masks)
            .1
            .concat()
    };
    let mut h = nalgebra::DMatrix::zeros(n, n);
    let mut j = 0;
    for t in 0..p.len() {
        for e in 0..p[t].len() {
            let mut q = p.to_vec();
            q[t][e] += eps;
            let gp = grad_at(&q);
            q[t][e] -= 2.0 * eps;
            let gm = grad_at(&q);
            for i in 0..n {
                h[(i, j)] = (gp[i] - gm[i]) / (2.0 * eps);
            }
            j += 1;
        }
    }
    (&h + h.transpose()) * 0.5
}

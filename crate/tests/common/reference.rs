//! An independent f64 implementation of the MLP and its loss, written from the definitions: the
//! oracle for gradients and Hessians computed by burn in f32.

use dropout_lab::model::Activation;

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

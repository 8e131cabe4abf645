//! The dropout-aware Kronecker factors E[A_{l-1}] (layer inputs) and E[H_l] (Gauss-Newton
//! curvature of the pre-activations) of paper 002 eq. 9-11 / App. I; see analysis/kfac.rs for
//! the derivation and the volumes built from them. Below `train`: Algorithm 2's reverse noise is
//! sampled from these factors during training.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::dropout::{sample_gaussian_mask, sample_mask};
use crate::model::{Activation, HostParams, MlpConfig};

/// E[A_{l-1}] and E[H_l] per layer.
pub struct Factors {
    pub a: Vec<DMatrix<f64>>,
    pub h: Vec<DMatrix<f64>>,
}

/// The multiplicative noise the expectations run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskNoise {
    /// None: the factors of the network as it predicts, whatever its drop rates (mask-free).
    Off,
    /// Inverted Bernoulli dropout at the model's rates (App. I's dropout-aware K-FAC).
    Bernoulli,
    /// Gaussian dropout N(1, q/(1−q)) at the model's rates, for networks trained with it.
    Gaussian,
}

/// E[A_{l-1}], E[H_l] over `data` and `mask_draws` draws of `noise` per image.
///
/// The mask m on a layer's input a = h ⊙ m enters E[A] in closed form given h:
/// E_m[a aᵀ] = h hᵀ + diag(h²)·(E[m²] − 1) with E[m²] − 1 = q/(1−q) for both noises (they share
/// the first two moments), so the mask scales diag(A) by exactly 1/(1−q) where h is fixed and
/// leaves the off-diagonal alone. The masks are still drawn for what they do downstream (the
/// next layers' inputs and every E[H]), where the two noises differ.
pub fn factors(
    cfg: &MlpConfig,
    theta: &HostParams,
    data: &Dataset,
    noise: MaskNoise,
    mask_draws: usize,
    rng: &mut impl Rng,
) -> LabResult<Factors> {
    let layers = cfg.widths.len() - 1;
    if data.is_empty() || data.dim != cfg.widths[0] || data.classes != cfg.widths[layers] {
        return Err(LabError::Config(
            "K-FAC needs data matching the model's input and output widths".into(),
        ));
    }
    let dropout = noise != MaskNoise::Off && cfg.drop_rates.iter().any(|&p| p > 0.0);
    let draws = if dropout { mask_draws.max(1) } else { 1 };
    // E[m²] − 1 of each hidden layer's mask.
    let excess: Vec<f64> = cfg
        .drop_rates
        .iter()
        .map(|&q| {
            if dropout && q > 0.0 {
                q as f64 / (1.0 - q as f64)
            } else {
                0.0
            }
        })
        .collect();
    let weights: Vec<DMatrix<f64>> = theta
        .layers
        .iter()
        .enumerate()
        .map(|(l, (w, _))| {
            DMatrix::from_row_slice(
                cfg.widths[l],
                cfg.widths[l + 1],
                &w.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            )
        })
        .collect();
    let biases: Vec<DVector<f64>> = theta
        .layers
        .iter()
        .map(|(_, b)| DVector::from_iterator(b.len(), b.iter().map(|&x| x as f64)))
        .collect();
    let mut a: Vec<DMatrix<f64>> = (0..layers)
        .map(|l| DMatrix::zeros(cfg.widths[l], cfg.widths[l]))
        .collect();
    let mut h: Vec<DMatrix<f64>> = (0..layers)
        .map(|l| DMatrix::zeros(cfg.widths[l + 1], cfg.widths[l + 1]))
        .collect();
    let n = data.len();
    for _ in 0..draws {
        // One mask per hidden layer for the whole set, rows = samples.
        let masks: Vec<Option<Vec<f32>>> = cfg
            .drop_rates
            .iter()
            .zip(&cfg.widths[1..])
            // A rate of 0 draws nothing, so `Off` is the only case to skip by hand.
            .map(|(&p, &w)| match noise {
                MaskNoise::Off => None,
                MaskNoise::Bernoulli => sample_mask(rng, n, w, p),
                MaskNoise::Gaussian => sample_gaussian_mask(rng, n, w, p),
            })
            .collect();
        // Forward, keeping each layer's input (rows = samples) and act'(z) ⊙ m.
        let mut input = DMatrix::from_row_slice(
            n,
            cfg.widths[0],
            &data.features.iter().map(|&x| x as f64).collect::<Vec<_>>(),
        );
        let mut slopes: Vec<DMatrix<f64>> = Vec::new();
        // The current layer's input before its mask (h) and the mask's E[m²] − 1.
        let mut unmasked: Option<(DMatrix<f64>, f64)> = None;
        for l in 0..layers {
            match &unmasked {
                None => a[l] += input.transpose() * &input,
                Some((h, v)) => {
                    a[l] += h.transpose() * h;
                    if *v > 0.0 {
                        for c in 0..h.ncols() {
                            a[l][(c, c)] += v * h.column(c).norm_squared();
                        }
                    }
                }
            }
            let mut z = &input * &weights[l];
            for mut row in z.row_iter_mut() {
                row += biases[l].transpose();
            }
            if l == layers - 1 {
                input = z;
                break;
            }
            let mask = |r: usize, c: usize| {
                masks
                    .get(l)
                    .and_then(|m| m.as_ref())
                    .map_or(1.0, |m| m[r * cfg.widths[l + 1] + c] as f64)
            };
            let (act, slope) = match cfg.activation {
                Activation::Relu => (
                    z.map(|v| v.max(0.0)),
                    z.map(|v| if v > 0.0 { 1.0 } else { 0.0 }),
                ),
                Activation::Tanh => {
                    let t = z.map(f64::tanh);
                    let s = t.map(|v| 1.0 - v * v);
                    (t, s)
                }
            };
            slopes.push(DMatrix::from_fn(n, cfg.widths[l + 1], |r, c| {
                slope[(r, c)] * mask(r, c)
            }));
            input = DMatrix::from_fn(n, cfg.widths[l + 1], |r, c| act[(r, c)] * mask(r, c));
            unmasked = Some((act, excess[l]));
        }
        // Backward, per sample: H_L = diag(p) - ppᵀ, then the Gauss-Newton recursion.
        let logits = input;
        for s in 0..n {
            let row = logits.row(s);
            let m = row.max();
            let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
            let total: f64 = e.iter().sum();
            let p = DVector::from_iterator(e.len(), e.iter().map(|v| v / total));
            let mut hs = DMatrix::from_diagonal(&p) - &p * p.transpose();
            for l in (0..layers).rev() {
                h[l] += &hs;
                if l == 0 {
                    break;
                }
                let back = &weights[l] * &hs * weights[l].transpose();
                let b = slopes[l - 1].row(s);
                hs = DMatrix::from_fn(back.nrows(), back.ncols(), |i, j| {
                    b[i] * back[(i, j)] * b[j]
                });
            }
        }
    }
    let count = (n * draws) as f64;
    Ok(Factors {
        a: a.into_iter().map(|m| m / count).collect(),
        h: h.into_iter().map(|m| m / count).collect(),
    })
}

/// m + τ·mean(diag m)·I: the Laplace prior precision relative to the factor's scale.
pub fn damped(m: &DMatrix<f64>, tau: f64) -> DMatrix<f64> {
    let mean = m.diagonal().mean().max(f64::MIN_POSITIVE);
    m + DMatrix::identity(m.nrows(), m.ncols()) * (tau * mean)
}

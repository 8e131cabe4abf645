//! Inverted dropout masks (Srivastava et al. 2014 as implemented everywhere): each unit is kept
//! with probability 1 - drop_rate and kept units are scaled by 1 / (1 - drop_rate), so the mask has
//! expectation 1 and inference needs no rescaling. Masks are drawn on the host from the seeded
//! stream, so the same seed gives the same masks on every backend.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};

/// Gaussian dropout multipliers 1 + sqrt(q/(1−q)) z, z ~ N(0, 1) (paper 002 Sec. 5.3): the mean
/// and variance of an inverted Bernoulli mask at drop rate q; `None` when q is 0.
pub fn sample_gaussian_mask(
    rng: &mut impl Rng,
    rows: usize,
    cols: usize,
    drop_rate: f32,
) -> Option<Vec<f32>> {
    if drop_rate <= 0.0 {
        return None;
    }
    let s = (drop_rate as f64 / (1.0 - drop_rate as f64)).sqrt();
    Some(
        (0..rows * cols)
            .map(|_| {
                let z: f32 = rng.sample(rand_distr::StandardNormal);
                (1.0 + s * z as f64) as f32
            })
            .collect(),
    )
}

/// A [rows, cols] row-major mask of 0 and 1 / (1 - drop_rate); `None` when drop_rate is 0.
pub fn sample_mask(
    rng: &mut impl Rng,
    rows: usize,
    cols: usize,
    drop_rate: f32,
) -> Option<Vec<f32>> {
    if drop_rate <= 0.0 {
        return None;
    }
    let keep = 1.0 - drop_rate as f64;
    let scale = (1.0 / keep) as f32;
    Some(
        (0..rows * cols)
            .map(|_| {
                if rng.random::<f64>() < keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect(),
    )
}

/// One mask per hidden layer for a batch of `rows` (None where the rate is 0), on the device.
/// `hidden_widths[i]` is the width of hidden layer i.
pub fn device_masks(
    rng: &mut impl Rng,
    rows: usize,
    hidden_widths: &[usize],
    drop_rates: &[f32],
    device: &Device,
) -> Vec<Option<Tensor<2>>> {
    drop_rates
        .iter()
        .zip(hidden_widths)
        .map(|(&p, &w)| {
            sample_mask(rng, rows, w, p)
                .map(|m| Tensor::from_data(TensorData::new(m, [rows, w]), device))
        })
        .collect()
}

/// Where a dropout mask acts (paper 004 Sec. 4.2 and 5). Write ε for the layer's mask, h for its
/// activations and z = (h ⊙ ε) W + b for the next layer; eq. 5-6 give the standard gradient
/// ∂J/∂W = (h ⊙ ε)ᵀ δ and δ_h = (δ Wᵀ) ⊙ ε. Each mode fixes a forward mask m_f (what the
/// forward pass multiplies h by) and a backward mask m_b (what replaces ε in eq. 5-6):
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DropoutMode {
    /// m_f = m_b = ε: autograd of the masked forward.
    #[default]
    Standard,
    /// Def. 1: m_f = ε, m_b = 1. The loss (hence δ) comes from the masked forward, but ∂J/∂W
    /// uses the unmasked h and δ_h is not masked.
    ForwardOnly,
    /// Def. 2: m_f = 1, m_b = ε. A clean forward pass; the backward pass drops features and
    /// errors as standard dropout would.
    BackwardOnly,
    /// Eq. 7-10, Algorithm 1: m_f = ε_f at the layer's drop rate, m_b = ε_f ⊙ ε with ε an extra
    /// inverted mask at `backward_rate` (the paper's implementation), in every layer that has
    /// dropout. backward_rate = 0 is standard dropout.
    Augmented { backward_rate: f32 },
}

impl DropoutMode {
    pub fn validate(&self) -> LabResult<()> {
        match self {
            DropoutMode::Augmented { backward_rate } if !(0.0..1.0).contains(backward_rate) => {
                Err(LabError::Config(format!(
                    "the augmented backward drop rate must be in [0, 1), got {backward_rate}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// (m_f, m_b) for one layer of `rows` x `width` at drop rate `rate` (None = all ones). The
    /// standard mode draws exactly what `sample_mask` draws, so its runs are unchanged.
    pub fn host_masks(
        &self,
        rng: &mut impl Rng,
        rows: usize,
        width: usize,
        rate: f32,
    ) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        let eps = sample_mask(rng, rows, width, rate);
        match *self {
            DropoutMode::Standard => (eps.clone(), eps),
            DropoutMode::ForwardOnly => (eps, None),
            DropoutMode::BackwardOnly => (None, eps),
            DropoutMode::Augmented { backward_rate } => {
                let Some(f) = eps else {
                    return (None, None);
                };
                let b = match sample_mask(rng, rows, width, backward_rate) {
                    Some(extra) => f.iter().zip(&extra).map(|(a, b)| a * b).collect(),
                    None => f.clone(),
                };
                (Some(f), Some(b))
            }
        }
    }
}

/// One hidden layer's masks on the device.
#[derive(Debug, Clone)]
pub enum LayerMask {
    None,
    /// m_f = m_b: plain multiplication, autograd does the rest.
    Same(Tensor<2>),
    /// m_f ≠ m_b: the next layer computes (h ⊙ m_b) W + ((h ⊙ (m_f − m_b)) W).detach(), whose
    /// value is (h ⊙ m_f) W and whose gradients are those of (h ⊙ m_b) W.
    Split {
        forward: Option<Tensor<2>>,
        backward: Option<Tensor<2>>,
    },
}

/// Masks of every hidden layer for a batch of `rows` under `mode`.
pub fn device_mode_masks(
    mode: DropoutMode,
    rng: &mut impl Rng,
    rows: usize,
    hidden_widths: &[usize],
    drop_rates: &[f32],
    device: &Device,
) -> Vec<LayerMask> {
    let up = |m: Vec<f32>, w: usize| Tensor::from_data(TensorData::new(m, [rows, w]), device);
    drop_rates
        .iter()
        .zip(hidden_widths)
        .map(|(&p, &w)| match (mode, mode.host_masks(rng, rows, w, p)) {
            (_, (None, None)) => LayerMask::None,
            (DropoutMode::Standard, (Some(m), _)) => LayerMask::Same(up(m, w)),
            (_, (f, b)) => LayerMask::Split {
                forward: f.map(|m| up(m, w)),
                backward: b.map(|m| up(m, w)),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    #[test]
    fn rate_and_scaling_match_the_definition() {
        for &p in &[0.1f32, 0.5, 0.8] {
            let n = 200_000;
            let m = sample_mask(&mut stream(3, Stream::DropoutMasks), 1, n, p).unwrap();
            let scale = 1.0 / (1.0 - p);
            assert!(m.iter().all(|&x| x == 0.0 || x == scale));
            let dropped = m.iter().filter(|&&x| x == 0.0).count() as f64 / n as f64;
            // Binomial standard error sqrt(p(1-p)/n) <= 0.0012; allow 5 of them.
            assert!(
                (dropped - p as f64).abs() < 0.006,
                "p={p}: dropped fraction {dropped}"
            );
            let mean = m.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
            assert!(
                (mean - 1.0).abs() < 0.03,
                "p={p}: mask mean {mean} should be 1"
            );
        }
    }

    #[test]
    fn zero_rate_means_no_mask_and_seed_determines_mask() {
        assert!(sample_mask(&mut stream(3, Stream::DropoutMasks), 4, 4, 0.0).is_none());
        let a = sample_mask(&mut stream(9, Stream::DropoutMasks), 8, 8, 0.5);
        let b = sample_mask(&mut stream(9, Stream::DropoutMasks), 8, 8, 0.5);
        let c = sample_mask(&mut stream(10, Stream::DropoutMasks), 8, 8, 0.5);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn mode_masks_follow_their_definitions() {
        let draw =
            |mode: DropoutMode| mode.host_masks(&mut stream(4, Stream::DropoutMasks), 3, 5, 0.5);
        let (f, b) = draw(DropoutMode::Standard);
        let eps = sample_mask(&mut stream(4, Stream::DropoutMasks), 3, 5, 0.5);
        assert_eq!((f.clone(), b), (eps.clone(), eps.clone()));
        assert_eq!(draw(DropoutMode::ForwardOnly), (eps.clone(), None));
        assert_eq!(draw(DropoutMode::BackwardOnly), (None, eps.clone()));
        assert_eq!(
            draw(DropoutMode::Augmented { backward_rate: 0.0 }),
            (eps.clone(), eps.clone()),
            "augmented with p = 0 is standard"
        );
        let (f, b) = draw(DropoutMode::Augmented { backward_rate: 0.5 });
        let (f, b) = (f.unwrap(), b.unwrap());
        assert_eq!(Some(f.clone()), eps);
        // ε_b = ε_f ⊙ ε: zero wherever ε_f is, otherwise ε_f times 0 or 2.
        for (x, y) in f.iter().zip(&b) {
            assert!(*y == 0.0 || *y == x * 2.0, "{x} {y}");
            if *x == 0.0 {
                assert_eq!(*y, 0.0);
            }
        }
        assert!(DropoutMode::Augmented { backward_rate: 1.0 }
            .validate()
            .is_err());
        assert_eq!(
            DropoutMode::Augmented { backward_rate: 0.5 }.host_masks(
                &mut stream(4, Stream::DropoutMasks),
                3,
                5,
                0.0
            ),
            (None, None),
            "no extra mask in a layer without dropout"
        );
    }
}

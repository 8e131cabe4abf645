//! Inverted dropout masks (Srivastava et al. 2014 as implemented everywhere): each unit is kept
//! with probability 1 - drop_rate and kept units are scaled by 1 / (1 - drop_rate), so the mask has
//! expectation 1 and inference needs no rescaling. Masks are drawn on the host from the seeded
//! stream, so the same seed gives the same masks on every backend.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

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
}

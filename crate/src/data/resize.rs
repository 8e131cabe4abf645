//! Paper 001 Sec. 4.3 resizes MNIST to 7x7 so that the SME's D x D noise covariance stays small.
//! The paper's appendix with the method is not in our copy; the lab takes the mean of each 4x4
//! block of the 28x28 image (area averaging, what `PIL.Image.resize(..., BOX)` does at this exact
//! factor).

use super::Dataset;
use crate::error::{LabError, LabResult};

/// Each square image of `side` x `side` pixels averaged over `factor` x `factor` blocks.
pub fn block_means(data: &Dataset, factor: usize) -> LabResult<Dataset> {
    let side = (data.dim as f64).sqrt().round() as usize;
    if factor == 0 || side * side != data.dim || !side.is_multiple_of(factor) {
        return Err(LabError::Config(format!(
            "block means need square images whose side divides by {factor}; these have {} pixels",
            data.dim
        )));
    }
    let out = side / factor;
    let scale = 1.0 / (factor * factor) as f32;
    let mut features = Vec::with_capacity(data.len() * out * out);
    for img in data.features.chunks_exact(data.dim) {
        for by in 0..out {
            for bx in 0..out {
                let mut sum = 0.0f32;
                for y in by * factor..(by + 1) * factor {
                    sum += img[y * side + bx * factor..y * side + (bx + 1) * factor]
                        .iter()
                        .sum::<f32>();
                }
                features.push(sum * scale);
            }
        }
    }
    Ok(Dataset {
        features,
        labels: data.labels.clone(),
        dim: out * out,
        classes: data.classes,
    })
}

//! Loss and accuracy of a model on a data set (dropout off: evaluation uses the full network,
//! which inverted dropout makes the expected network).

use burn::tensor::{Device, Tensor};

use crate::backend::read_f32;
use crate::data::Dataset;
use crate::error::LabResult;
use crate::model::loss::per_sample_cross_entropy;
use crate::model::Mlp;
use crate::train::batch::upload;

/// Rows per forward pass, so a 60k-image evaluation fits in a browser's buffer limits.
const EVAL_CHUNK: usize = 2048;

/// A data set resident on the device as chunks of (features, one-hot labels).
pub struct DeviceData {
    pub chunks: Vec<(Tensor<2>, Tensor<2>)>,
    pub len: usize,
}

impl DeviceData {
    pub fn upload(data: &Dataset, device: &Device) -> Self {
        let rows: Vec<usize> = (0..data.len()).collect();
        let chunks = rows
            .chunks(EVAL_CHUNK)
            .map(|c| upload(data, c, device))
            .collect();
        DeviceData {
            chunks,
            len: data.len(),
        }
    }
}

/// (mean cross-entropy, accuracy). One read-back for the whole set.
pub async fn evaluate(model: &Mlp, data: &DeviceData) -> LabResult<(f32, f32)> {
    evaluate_logits(data, |x| Ok(model.forward(x, &[]))).await
}

/// (mean cross-entropy, accuracy) of a network in evaluation mode (running statistics, no
/// dropout).
pub async fn evaluate_net(
    net: &crate::model::net::Net,
    data: &DeviceData,
) -> LabResult<(f32, f32)> {
    evaluate_logits(data, |x| net.logits(x)).await
}

/// (mean cross-entropy, accuracy) of the logits `logits(x)` gives for each chunk of `data`.
pub async fn evaluate_logits(
    data: &DeviceData,
    logits: impl Fn(Tensor<2>) -> LabResult<Tensor<2>>,
) -> LabResult<(f32, f32)> {
    let mut sums: Option<Tensor<1>> = None;
    for (x, y) in &data.chunks {
        let logits = logits(x.clone())?;
        let l = per_sample_cross_entropy(logits.clone(), y.clone()).sum();
        // Correct when the logit of the true class is the largest (ties have measure zero).
        let true_logit = (logits.clone() * y.clone()).sum_dim(1);
        let hit = true_logit.greater_equal(logits.max_dim(1)).float().sum();
        let both = Tensor::cat(vec![l, hit], 0);
        sums = Some(match sums {
            Some(s) => s + both,
            None => both,
        });
    }
    let sums = sums.ok_or_else(|| crate::error::LabError::Config("no data to evaluate".into()))?;
    let v = read_f32(sums).await?;
    Ok((v[0] / data.len as f32, v[1] / data.len as f32))
}

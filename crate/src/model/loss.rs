//! Cross-entropy on logits.

use burn::tensor::{activation::log_softmax, Tensor};

/// Mean over the batch of -log softmax(logits)[label], with labels given one-hot [batch, classes].
pub fn cross_entropy(logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
    per_sample_cross_entropy(logits, one_hot).mean()
}

/// -log softmax(logits)[label] for each row, shape [batch].
pub fn per_sample_cross_entropy(logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
    (log_softmax(logits, 1) * one_hot)
        .sum_dim(1)
        .squeeze_dim::<1>(1)
        .neg()
}

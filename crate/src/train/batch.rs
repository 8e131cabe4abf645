//! Mini-batch order: a fresh seeded permutation each epoch; batches are gathered on the host, so
//! only the rows of one batch travel to the device per step.

use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::data::Dataset;

pub fn epoch_order(n: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
}

/// Features [rows, dim] and one-hot labels [rows, classes] of the given examples.
pub fn gather(data: &Dataset, rows: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let mut x = Vec::with_capacity(rows.len() * data.dim);
    let mut y = vec![0.0f32; rows.len() * data.classes];
    for (r, &i) in rows.iter().enumerate() {
        x.extend_from_slice(&data.features[i * data.dim..(i + 1) * data.dim]);
        y[r * data.classes + data.labels[i] as usize] = 1.0;
    }
    (x, y)
}

/// `gather`, uploaded: (features [rows, dim], one-hot [rows, classes]) on the device.
pub fn upload(data: &Dataset, rows: &[usize], device: &Device) -> (Tensor<2>, Tensor<2>) {
    let (x, y) = gather(data, rows);
    (
        Tensor::from_data(TensorData::new(x, [rows.len(), data.dim]), device),
        Tensor::from_data(TensorData::new(y, [rows.len(), data.classes]), device),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    #[test]
    fn order_is_a_seeded_permutation() {
        let a = epoch_order(100, &mut stream(2, Stream::BatchOrder));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, &mut stream(2, Stream::BatchOrder)));
        assert_ne!(a, epoch_order(100, &mut stream(3, Stream::BatchOrder)));
    }

    #[test]
    fn gathers_rows_and_one_hot() {
        let d = Dataset {
            features: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            labels: vec![0, 2, 1],
            dim: 2,
            classes: 3,
        };
        let (x, y) = gather(&d, &[2, 0]);
        assert_eq!(x, vec![5.0, 6.0, 1.0, 2.0]);
        assert_eq!(y, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    }
}

//! Dropout masks of a network's sites for one batch, drawn on the host from the seeded stream
//! (inverted dropout, `model::dropout::sample_mask`), so every backend sees the same masks.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

use super::spec::DropoutSite;
use crate::model::dropout::sample_mask;

/// Host masks, one per site: [rows, c, h, w] (or [rows, c, 1, 1] channel-wise), row-major.
pub fn sample_site_masks(
    rng: &mut impl Rng,
    rows: usize,
    sites: &[DropoutSite],
) -> Vec<Option<Vec<f32>>> {
    sites
        .iter()
        .map(|s| sample_mask(rng, rows, s.mask_shape.iter().product(), s.rate))
        .collect()
}

/// Host masks as device tensors shaped to broadcast over the sites' activations.
pub fn upload_site_masks(
    masks: &[Option<Vec<f32>>],
    rows: usize,
    sites: &[DropoutSite],
    device: &Device,
) -> Vec<Option<Tensor<4>>> {
    masks
        .iter()
        .zip(sites)
        .map(|(m, s)| {
            let [c, h, w] = s.mask_shape;
            m.as_ref()
                .map(|m| Tensor::from_data(TensorData::new(m.clone(), [rows, c, h, w]), device))
        })
        .collect()
}

/// `sample_site_masks`, on the device.
pub fn device_site_masks(
    rng: &mut impl Rng,
    rows: usize,
    sites: &[DropoutSite],
    device: &Device,
) -> Vec<Option<Tensor<4>>> {
    upload_site_masks(&sample_site_masks(rng, rows, sites), rows, sites, device)
}

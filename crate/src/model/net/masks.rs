//! Dropout masks of a network's sites for one batch, drawn on the host from the seeded stream
//! (inverted dropout, `model::dropout::sample_mask`), so every backend sees the same masks.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

use super::forward::SiteMask;
use super::spec::DropoutSite;
use crate::model::dropout::{sample_gaussian_mask, sample_mask, DropoutMode};

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

/// Each site's masks under a dropout mode (paper 004; `DropoutMode::host_masks`), on the device.
/// The standard mode draws exactly what `device_site_masks` draws.
pub fn device_mode_site_masks(
    mode: DropoutMode,
    rng: &mut impl Rng,
    rows: usize,
    sites: &[DropoutSite],
    device: &Device,
) -> Vec<SiteMask> {
    sites
        .iter()
        .map(|s| {
            let [c, h, w] = s.mask_shape;
            let up = |m: Vec<f32>| Tensor::from_data(TensorData::new(m, [rows, c, h, w]), device);
            match (mode, mode.host_masks(rng, rows, c * h * w, s.rate)) {
                (_, (None, None)) => SiteMask::None,
                (DropoutMode::Standard, (Some(m), _)) => SiteMask::Same(up(m)),
                (_, (f, b)) => SiteMask::Split {
                    forward: f.map(up),
                    backward: b.map(up),
                },
            }
        })
        .collect()
}

/// Gaussian dropout's multipliers 1 + ε, ε ~ N(0, q/(1−q)), at each site's rate (paper 002
/// Sec. 5.3), on the device.
pub fn device_gaussian_site_masks(
    rng: &mut impl Rng,
    rows: usize,
    sites: &[DropoutSite],
    device: &Device,
) -> Vec<SiteMask> {
    sites
        .iter()
        .map(|s| {
            let [c, h, w] = s.mask_shape;
            match sample_gaussian_mask(rng, rows, c * h * w, s.rate) {
                None => SiteMask::None,
                Some(m) => SiteMask::Same(Tensor::from_data(
                    TensorData::new(m, [rows, c, h, w]),
                    device,
                )),
            }
        })
        .collect()
}

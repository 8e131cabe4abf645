//! Paper 000 Fig. 6 (Sec. 3.5, 6.3): Tr(H_i Σ_i) against the isotropic Tr(H_i Σ̄_i),
//! Σ̄_i = Tr(Σ_i)/D · I, at each epoch i of a plain GD run (no dropout in training; dropout is
//! inserted tentatively between the hidden layers only to sample the gradient noise).
//! The engine is `alignment_track.rs`. Paper scale: 784-50-50-10, first 10000 MNIST images.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::alignment_track::{track, TrackConfig, TrackSeries};
use super::Reporter;
use crate::data::Dataset;
use crate::error::LabResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig6Config {
    #[serde(flatten)]
    pub track: TrackConfig,
}

impl Fig6Config {
    /// About a minute natively: 1000 images, 200 GD steps, a measurement every 20.
    pub fn demo() -> Self {
        Fig6Config {
            track: TrackConfig::demo(false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig6Result {
    pub config: Fig6Config,
    pub backend: String,
    pub crate_version: String,
    pub series: Vec<TrackSeries>,
}

pub async fn run(
    cfg: &Fig6Config,
    train: &Dataset,
    device: Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<Fig6Result> {
    let mut track_cfg = cfg.track.clone();
    track_cfg.train_with_dropout = false; // the paper trains by plain GD
    let tracked = track(&track_cfg, train, &device, backend, reporter).await?;
    Ok(Fig6Result {
        config: Fig6Config { track: track_cfg },
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        series: tracked.into_iter().map(|t| t.series).collect(),
    })
}

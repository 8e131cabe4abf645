//! Paper 002 Fig. 3 (Sec. 5.1): weight volume and generalisation gap against the drop rate.
//! One network per rate (the paper: 0, 0.15, 0.3, 0.45; VGG16 there, the MLP of Fig. 2(b) here),
//! same initialisation and seed, trained as in `p002_fig2_volume.rs`; at the end each layer's
//! dropout-aware K-FAC log volume per weight and the gap test loss - train loss (the paper's
//! numbers are loss gaps) and train - test accuracy.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::p002_fig2_volume::VolumeTrackConfig;
use super::p002_trained_net::train_and_measure;
use super::Reporter;
use crate::analysis::kfac::LayerVolume;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRateConfig {
    /// Everything but the drop rate, which `drop_rates` sweeps.
    #[serde(flatten)]
    pub base: VolumeTrackConfig,
    pub drop_rates: Vec<f32>,
}

impl VolumeRateConfig {
    pub fn demo() -> Self {
        VolumeRateConfig {
            base: VolumeTrackConfig::demo(),
            drop_rates: vec![0.0, 0.15, 0.3, 0.45],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    pub drop_rate: f32,
    pub layers: Vec<LayerVolume>,
    pub train_loss: f32,
    pub test_loss: f32,
    /// test loss - train loss.
    pub loss_gap: f32,
    /// train accuracy - test accuracy.
    pub accuracy_gap: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRateResult {
    pub config: VolumeRateConfig,
    pub backend: String,
    pub crate_version: String,
    pub points: Vec<RatePoint>,
}

pub async fn run(
    cfg: &VolumeRateConfig,
    train: &Dataset,
    test: &Dataset,
    device: Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<VolumeRateResult> {
    if cfg.drop_rates.is_empty()
        || cfg.drop_rates.iter().any(|p| !(0.0..1.0).contains(p))
        || cfg.base.kfac_rows == 0
    {
        return Err(LabError::Config(
            "drop rates must lie in [0, 1) (at least one) and kfac_rows be ≥ 1".into(),
        ));
    }
    let kfac_data = train.first(cfg.base.kfac_rows.min(cfg.base.train_size))?;
    let mut points = Vec::new();
    for (i, &p) in cfg.drop_rates.iter().enumerate() {
        let mut one = cfg.base.clone();
        one.drop_rate = p;
        let stage = format!("drop rate {p} ({}/{})", i + 1, cfg.drop_rates.len());
        let net = train_and_measure(
            &one, &kfac_data, train, test, &device, backend, &stage, reporter,
        )
        .await?;
        points.push(RatePoint {
            drop_rate: p,
            layers: net.laplace,
            train_loss: net.last.train_loss,
            test_loss: net.last.test_loss,
            loss_gap: net.last.test_loss - net.last.train_loss,
            accuracy_gap: net.last.train_accuracy - net.last.test_accuracy,
        });
    }
    Ok(VolumeRateResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        points,
    })
}

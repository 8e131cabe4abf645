//! One network of paper 002's MLP experiments trained to the end, with what every table and
//! sweep over such networks needs: its initial and final weights, its last evaluation and its
//! dropout-aware K-FAC layer volumes (analysis/kfac.rs).

use burn::tensor::Device;

use super::p002_fig2_volume::VolumeTrackConfig;
use super::Reporter;
use crate::analysis::kfac::{factors, laplace_volumes, LayerVolume, MaskNoise};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::init::initial_params;
use crate::model::HostParams;
use crate::rng::{stream, Stream};
use crate::train::{EpochRecord, TrainConfig, Trainer};

pub struct TrainedNet {
    pub config: TrainConfig,
    /// W⁰, as `Trainer::new` draws it from the seed.
    pub initial: HostParams,
    pub theta: HostParams,
    pub last: EpochRecord,
    pub laplace: Vec<LayerVolume>,
    /// The same with no masks in the expectations (equal to `laplace` for a plain network).
    pub laplace_mask_free: Vec<LayerVolume>,
}

/// Train `one` (its drop rate: 0 for the plain network) and measure it. `kfac_data`: the rows
/// the K-FAC expectations run over.
#[allow(clippy::too_many_arguments)]
pub async fn train_and_measure(
    one: &VolumeTrackConfig,
    kfac_data: &Dataset,
    train: &Dataset,
    test: &Dataset,
    device: &Device,
    backend: &str,
    stage: &str,
    reporter: &mut impl Reporter,
) -> LabResult<TrainedNet> {
    let tc = one.train_config(one.drop_rate > 0.0);
    let mut trainer =
        Trainer::new(tc.clone(), train, test, device.clone(), backend, "mnist").await?;
    super::train_to_end(&mut trainer, tc.steps_per_epoch(), stage, reporter).await?;
    let theta = trainer.mlp()?.to_host().await?;
    let f = factors(
        tc.require_mlp()?,
        &theta,
        kfac_data,
        MaskNoise::Bernoulli,
        one.mask_draws,
        &mut stream(one.seed, Stream::GradientNoise),
    )?;
    let free = factors(
        tc.require_mlp()?,
        &theta,
        kfac_data,
        MaskNoise::Off,
        1,
        &mut stream(one.seed, Stream::GradientNoise),
    )?;
    let last = trainer
        .history()
        .epochs
        .last()
        .cloned()
        .ok_or_else(|| LabError::Config("no evaluation recorded".into()))?;
    Ok(TrainedNet {
        initial: initial_params(tc.require_mlp()?, &mut stream(tc.seed, Stream::Init)),
        laplace: laplace_volumes(tc.require_mlp()?, &f, one.damping)?,
        laplace_mask_free: laplace_volumes(tc.require_mlp()?, &free, one.damping)?,
        config: tc,
        theta,
        last,
    })
}

//! What the landscape figures share (paper 000 Fig. 1a, 1b, 1c): train a network without and
//! with dropout from one initialisation, then its loss and accuracy on train and test data
//! along filter-normalised random directions (`analysis::landscape`), the same draws for both.

use serde::{Deserialize, Serialize};

use super::Reporter;
use crate::analysis::landscape::{curve, filter_normalised_direction, grid, Filter};
use crate::error::{LabError, LabResult};
use crate::rng::{stream, Stream};
use crate::train::bn_recalibration::recalibrate_batch_norm;
use crate::train::eval::{evaluate_net, DeviceData};
use crate::train::{TrainConfig, Trainer};

/// A landscape pair's settings: directions, points, an α interval and a drop rate in (0, 1).
pub fn check_landscape(
    figure: &str,
    directions: usize,
    points: usize,
    (alpha_min, alpha_max): (f64, f64),
    drop_rate: f32,
) -> LabResult<()> {
    if directions == 0 || points < 2 || !(alpha_min < alpha_max) {
        return Err(LabError::Config(format!(
            "{figure} needs at least one direction, two points and alpha_min < alpha_max"
        )));
    }
    if !(drop_rate > 0.0 && drop_rate < 1.0) {
        return Err(LabError::Config(format!(
            "the dropout network's drop rate {drop_rate} must be in (0, 1)"
        )));
    }
    Ok(())
}

/// Loss and accuracy along one direction (index `direction`), train and test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetCurve {
    pub dropout: bool,
    pub direction: usize,
    pub train_loss: Vec<f32>,
    pub test_loss: Vec<f32>,
    pub train_accuracy: Vec<f32>,
    pub test_accuracy: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetSummary {
    pub dropout: bool,
    pub train_loss: f32,
    pub train_accuracy: f32,
    pub test_loss: f32,
    pub test_accuracy: f32,
}

/// A landscape figure's result (Fig 1b, Fig 1c): its config, the two networks' final numbers
/// and the curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapeResult<C> {
    pub config: C,
    pub backend: String,
    pub crate_version: String,
    pub dataset: String,
    /// Set when the run is not on the paper's data.
    #[serde(default)]
    pub data_note: Option<String>,
    pub alphas: Vec<f64>,
    pub models: Vec<NetSummary>,
    pub curves: Vec<NetCurve>,
}

/// Train the pair (`landscape_pair`) and wrap the curves at `points` α in [from, to] with the
/// run's provenance and a note when the data is not `paper`'s.
#[allow(clippy::too_many_arguments)]
pub async fn landscape_run<C>(
    config: C,
    train_config: impl Fn(bool) -> TrainConfig,
    directions: usize,
    seed: u64,
    recalibrate_bn: bool,
    (from, to, points): (f64, f64, usize),
    paper: &super::PaperData,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<LandscapeResult<C>> {
    let alphas = grid(from, to, points);
    let (models, curves) = landscape_pair(
        train_config,
        directions,
        seed,
        recalibrate_bn,
        &alphas,
        inputs,
        reporter,
    )
    .await?;
    Ok(LandscapeResult {
        config,
        backend: inputs.backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        dataset: inputs.dataset.to_string(),
        data_note: super::not_the_papers_data(inputs, paper),
        alphas,
        models,
        curves,
    })
}

/// Two networks from one initialisation, trained without and with dropout, then loss and
/// accuracy along `directions` filter-normalised directions (the same draws for both) at
/// `alphas`, on the networks' train and test subsets; with `recalibrate_bn`, each network's
/// BatchNorm statistics are first recomputed without dropout (`train::bn_recalibration`).
pub async fn landscape_pair(
    config: impl Fn(bool) -> TrainConfig,
    directions: usize,
    seed: u64,
    recalibrate_bn: bool,
    alphas: &[f64],
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<(Vec<NetSummary>, Vec<NetCurve>)> {
    let (mut models, mut curves) = (Vec::new(), Vec::new());
    for dropout in [false, true] {
        let name = if dropout {
            "with dropout"
        } else {
            "without dropout"
        };
        let mut trainer = Trainer::new(
            config(dropout),
            inputs.train,
            inputs.test,
            inputs.device.clone(),
            inputs.backend,
            inputs.dataset,
        )
        .await?;
        super::train_to_end(&mut trainer, 5, name, reporter).await?;
        let (train_dev, test_dev): (&DeviceData, &DeviceData) =
            (trainer.train_data(), trainer.test_data());
        let mut net = trainer.net()?;
        if recalibrate_bn {
            recalibrate_batch_norm(&mut net, train_dev)?;
        }
        let (train_loss, train_accuracy) = evaluate_net(&net, train_dev).await?;
        let (test_loss, test_accuracy) = evaluate_net(&net, test_dev).await?;
        models.push(NetSummary {
            dropout,
            train_loss,
            train_accuracy,
            test_loss,
            test_accuracy,
        });
        let theta = net.to_host().await?;
        let filter = Filter::for_net(&theta.spec);
        // The same random draws for both networks, each normalised to its own θ.
        let mut rng = stream(seed, Stream::Directions);
        for k in 0..directions {
            let d = filter_normalised_direction(&theta, filter, &mut rng)?;
            let on_train = curve(&theta, &d, alphas, train_dev, &inputs.device).await?;
            let on_test = curve(&theta, &d, alphas, test_dev, &inputs.device).await?;
            curves.push(NetCurve {
                dropout,
                direction: k,
                train_loss: on_train.iter().map(|p| p.0).collect(),
                train_accuracy: on_train.iter().map(|p| p.1).collect(),
                test_loss: on_test.iter().map(|p| p.0).collect(),
                test_accuracy: on_test.iter().map(|p| p.1).collect(),
            });
            if !reporter
                .report(&format!("{name}: landscape"), k + 1, directions)
                .await
            {
                return Err(LabError::Cancelled);
            }
        }
    }
    Ok((models, curves))
}

/// One CSV row per curve point.
pub fn curves_csv(alphas: &[f64], curves: &[NetCurve]) -> String {
    let rows = curves.iter().flat_map(|c| {
        alphas.iter().enumerate().map(move |(i, a)| {
            vec![
                c.dropout.to_string(),
                c.direction.to_string(),
                a.to_string(),
                c.train_loss[i].to_string(),
                c.test_loss[i].to_string(),
                c.train_accuracy[i].to_string(),
                c.test_accuracy[i].to_string(),
            ]
        })
    });
    super::csv_rows(
        "dropout,direction,alpha,train_loss,test_loss,train_accuracy,test_accuracy",
        rows,
    )
}

/// The data note, then each network's losses and accuracies beside the paper's test accuracy
/// (`paper`: with dropout, without).
pub fn models_summary(note: Option<&str>, models: &[NetSummary], paper: (&str, &str)) -> String {
    let note = note.map(str::to_string);
    super::preset::lines(note.into_iter().chain(models.iter().map(|m| {
        format!(
            "{} dropout: train loss {:.4} ({:.1}%), test loss {:.4}, test accuracy {:.2}% \
             (paper: {})",
            if m.dropout { "with" } else { "without" },
            m.train_loss,
            100.0 * m.train_accuracy,
            m.test_loss,
            100.0 * m.test_accuracy,
            if m.dropout { paper.0 } else { paper.1 }
        )
    })))
}

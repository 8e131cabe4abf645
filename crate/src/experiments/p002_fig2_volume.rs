//! Paper 002 Fig. 2(b): weight volume during training, with and without dropout. Two networks
//! from the same initialisation and seed ("64-32-16-10": hidden widths 64, 32, 16 on 784 MNIST
//! inputs) trained by SGD with momentum (the paper's optimiser, App. J; lr 0.005 with μ 0.9 is
//! the effective step lr/(1−μ) = 0.05 of earlier plain-SGD versions), one with dropout after
//! every hidden layer; after every epoch each
//! layer's volume by the dropout-aware K-FAC Laplace estimate (analysis/kfac.rs, eq. 10-11).
//! A layer's log vol scales with its size, so the chart shows log vol / D (D = fan_in·fan_out),
//! the mean log volume per weight.
//!
//! Fig. 2(a)/(c): during the chosen epochs every step's update of a grid of weights of one layer
//! (w_ij for the first `correlation_grid` inputs i and outputs j) is recorded, and the absolute
//! correlation matrix of those updates over the epoch's steps is reported per network
//! (analysis/update_correlation.rs); Lemma 3.2 predicts smaller correlations with dropout. The
//! grid mixes pairs that share a unit with pairs that do not; Lemma 3.2 is about the latter, so
//! the mean |ρ| over distinct-unit pairs is reported beside the mean over all pairs.

use serde::{Deserialize, Serialize};

use super::Reporter;
use crate::analysis::kfac::{factors, laplace_volumes, LayerVolume, MaskNoise};
use crate::analysis::update_correlation::{update_correlation, UpdateCorrelation};
use crate::error::{LabError, LabResult};
use crate::model::{Activation, InitScheme, MlpConfig};
use crate::rng::{stream, Stream};
use crate::train::{OptimizerKind, TrainConfig, Trainer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTrackConfig {
    pub train_size: usize,
    pub test_size: usize,
    pub widths: Vec<usize>,
    pub activation: Activation,
    /// Drop rate after every hidden layer of the dropout network.
    pub drop_rate: f32,
    pub lr: f64,
    /// The paper's optimiser (App. J: SGD with momentum 0.9, batch 128). Result files written
    /// before this field existed were trained by plain SGD, so that is what a missing field means.
    #[serde(default = "plain_sgd")]
    pub optimizer: OptimizerKind,
    #[serde(default = "paper_momentum")]
    pub momentum: f64,
    /// torch.optim's L2 weight decay; the paper's default is 0 (Sec. 5.1; 5e-4 in App. J).
    #[serde(default)]
    pub weight_decay: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    /// Training rows the K-FAC expectations run over.
    pub kfac_rows: usize,
    /// Dropout masks averaged in the expectations (dropout network only).
    pub mask_draws: usize,
    /// Laplace prior precision, relative to each factor's mean diagonal.
    pub damping: f64,
    /// Layer (0-based) whose gradient updates Fig. 2(a)/(c) correlates.
    #[serde(default = "default_correlation_layer")]
    pub correlation_layer: usize,
    /// The updates of a g x g grid of that layer's weights are correlated (0: skip Fig. 2(a)/(c)).
    #[serde(default)]
    pub correlation_grid: usize,
    /// Epochs (1-based) whose steps' updates are correlated (the paper's four sampling points).
    #[serde(default)]
    pub correlation_epochs: Vec<usize>,
}

fn default_correlation_layer() -> usize {
    1
}
fn plain_sgd() -> OptimizerKind {
    OptimizerKind::Sgd
}
fn paper_momentum() -> f64 {
    0.9
}

impl VolumeTrackConfig {
    pub fn demo() -> Self {
        VolumeTrackConfig {
            train_size: 2000,
            test_size: 2000,
            widths: vec![784, 64, 32, 16, 10],
            activation: Activation::Relu,
            drop_rate: 0.3,
            lr: 0.005,
            optimizer: OptimizerKind::Momentum,
            momentum: 0.9,
            weight_decay: 0.0,
            batch_size: 32,
            epochs: 10,
            seed: 1,
            kfac_rows: 500,
            mask_draws: 4,
            damping: 1e-3,
            correlation_layer: 1,
            correlation_grid: 4,
            correlation_epochs: vec![1, 4, 7, 10],
        }
    }

    pub fn train_config(&self, dropout: bool) -> TrainConfig {
        let hidden = self.widths.len() - 2;
        TrainConfig {
            eval_every: 1,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            ..TrainConfig::for_preset(
                MlpConfig {
                    widths: self.widths.clone(),
                    activation: self.activation,
                    drop_rates: vec![if dropout { self.drop_rate } else { 0.0 }; hidden],
                    init: InitScheme::He,
                },
                self.optimizer,
                self.lr,
                self.epochs,
                self.batch_size,
                self.train_size,
                self.test_size,
                self.seed,
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeEpoch {
    pub epoch: usize,
    /// Dropout-aware K-FAC volumes (the expectations over the data and the masks).
    pub layers: Vec<LayerVolume>,
    /// The dropout network's volumes with no masks in the expectations (None for the plain
    /// network, whose volumes have no masks anyway, and in older files). The masks inflate
    /// diag E[A] by 1/(1−q); the gap between the two is the estimator's share of "expansion".
    #[serde(default)]
    pub mask_free: Option<Vec<LayerVolume>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochUpdateCorrelation {
    /// 1-based: the updates of this epoch's steps.
    pub epoch: usize,
    pub correlation: UpdateCorrelation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRun {
    pub dropout: bool,
    pub epochs: Vec<VolumeEpoch>,
    /// Fig. 2(a) (plain) or 2(c) (dropout): one matrix per entry of `correlation_epochs`.
    #[serde(default)]
    pub update_correlations: Vec<EpochUpdateCorrelation>,
    pub final_train_accuracy: f32,
    pub final_test_accuracy: f32,
    /// Train minus test accuracy at the end, in [0, 1] (kept beside the paper's loss gap).
    pub generalisation_gap: f32,
    /// Mean cross-entropy on the train and test subsets at the end (None in result files written
    /// before they were kept). Paper 002's generalisation gap is their difference: `loss_gap`.
    #[serde(default)]
    pub final_train_loss: Option<f32>,
    #[serde(default)]
    pub final_test_loss: Option<f32>,
}

impl VolumeRun {
    /// The paper's generalisation gap (Sec. 5): test minus train loss at the end.
    pub fn loss_gap(&self) -> Option<f32> {
        Some(self.final_test_loss? - self.final_train_loss?)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTrackResult {
    pub config: VolumeTrackConfig,
    pub backend: String,
    pub crate_version: String,
    pub runs: Vec<VolumeRun>,
}

pub async fn run(
    cfg: &VolumeTrackConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<VolumeTrackResult> {
    let super::Inputs {
        train,
        test,
        device,
        backend,
        ..
    } = inputs;
    if !(cfg.drop_rate > 0.0 && cfg.drop_rate < 1.0) || cfg.kfac_rows == 0 || cfg.widths.len() < 3 {
        return Err(LabError::Config(
            "the volume preset needs a drop rate in (0, 1), kfac_rows ≥ 1 and a hidden layer"
                .into(),
        ));
    }
    let tracked = cfg.correlation_grid > 0 && !cfg.correlation_epochs.is_empty();
    if tracked {
        let (l, g) = (cfg.correlation_layer, cfg.correlation_grid);
        if l + 2 > cfg.widths.len() || g < 2 || g > cfg.widths[l] || g > cfg.widths[l + 1] {
            return Err(LabError::Config(format!(
                "update correlations need an existing layer and a grid of 2 to min(fan_in, fan_out) weights, got layer {l}, grid {g}"
            )));
        }
        if cfg
            .correlation_epochs
            .iter()
            .any(|&e| e == 0 || e > cfg.epochs)
        {
            return Err(LabError::Config(format!(
                "correlation epochs {:?} must lie in 1..={}",
                cfg.correlation_epochs, cfg.epochs
            )));
        }
    }
    // Indices of w_ij (i < g inputs, j < g outputs) in the row-major [fan_in, fan_out] weight.
    let fan_out = cfg.widths[(cfg.correlation_layer + 1).min(cfg.widths.len() - 1)];
    let units: Vec<(usize, usize)> = (0..cfg.correlation_grid)
        .flat_map(|i| (0..cfg.correlation_grid).map(move |j| (i, j)))
        .collect();
    let chosen: Vec<usize> = units.iter().map(|&(i, j)| i * fan_out + j).collect();
    let kfac_data = train.first(cfg.kfac_rows.min(cfg.train_size))?;
    let mut runs = Vec::new();
    for dropout in [false, true] {
        let mut tc = cfg.train_config(dropout);
        if tracked {
            tc.snapshot_every = 1;
            tc.snapshot_layer = Some(cfg.correlation_layer);
        }
        let mut update_correlations = Vec::new();
        let mut epoch_start: Option<Vec<f32>> = None;
        let mut trainer =
            Trainer::new(tc.clone(), train, test, device.clone(), backend, "mnist").await?;
        let steps_per_epoch = tc.steps_per_epoch();
        let mut rng = stream(cfg.seed, Stream::GradientNoise);
        let mut epochs = Vec::new();
        let stage = if dropout {
            "with dropout"
        } else {
            "without dropout"
        };
        loop {
            let epoch = trainer.progress(f32::NAN).step / steps_per_epoch;
            let theta = trainer.mlp()?.to_host().await?;
            let f = factors(
                tc.require_mlp()?,
                &theta,
                &kfac_data,
                MaskNoise::Bernoulli,
                cfg.mask_draws,
                &mut rng,
            )?;
            let mask_free = if dropout {
                // Draws no masks, so the stream the dropout-aware factors use is untouched.
                let free = factors(
                    tc.require_mlp()?,
                    &theta,
                    &kfac_data,
                    MaskNoise::Off,
                    1,
                    &mut rng,
                )?;
                Some(laplace_volumes(tc.require_mlp()?, &free, cfg.damping)?)
            } else {
                None
            };
            epochs.push(VolumeEpoch {
                epoch,
                layers: laplace_volumes(tc.require_mlp()?, &f, cfg.damping)?,
                mask_free,
            });
            if !reporter
                .report(&format!("{stage}: epoch"), epoch, cfg.epochs)
                .await
            {
                return Err(LabError::Cancelled);
            }
            if trainer.is_done() {
                break;
            }
            // Weights at the epoch's first step: the construction's snapshot, then each
            // epoch's last.
            if let Some(s) = trainer.take_snapshots().pop() {
                epoch_start = Some(s.params);
            }
            trainer.run(steps_per_epoch).await?;
            let epoch = epoch + 1;
            let steps: Vec<Vec<f32>> = trainer
                .take_snapshots()
                .into_iter()
                .map(|s| s.params)
                .collect();
            if tracked && cfg.correlation_epochs.contains(&epoch) {
                let trajectory: Vec<Vec<f32>> = epoch_start.iter().chain(&steps).cloned().collect();
                update_correlations.push(EpochUpdateCorrelation {
                    epoch,
                    correlation: update_correlation(&trajectory, &chosen, &units)?,
                });
            }
            if let Some(last) = steps.into_iter().last() {
                epoch_start = Some(last);
            }
        }
        let last = trainer
            .history()
            .epochs
            .last()
            .cloned()
            .ok_or_else(|| LabError::Config("no evaluation recorded".into()))?;
        runs.push(VolumeRun {
            dropout,
            epochs,
            update_correlations,
            final_train_accuracy: last.train_accuracy,
            final_test_accuracy: last.test_accuracy,
            generalisation_gap: last.train_accuracy - last.test_accuracy,
            final_train_loss: Some(last.train_loss),
            final_test_loss: Some(last.test_loss),
        });
    }
    Ok(VolumeTrackResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        runs,
    })
}

impl VolumeTrackConfig {
    /// The form fields of a weight-volume network (Figs 2-4 and the complexity table); `drop` and
    /// `correlations` say whether the preset uses the single drop rate and the update grid.
    pub fn fields(drop: bool, correlations: bool) -> Vec<super::Field> {
        use super::schema::{Field, Range};
        let mut f = vec![
            Field::int("train_size", "Train images N", 2.0, 1e7),
            Field::int("test_size", "Test images", 1.0, 1e7),
            Field::int("epochs", "Epochs", 1.0, 1e5),
        ];
        if drop {
            f.push(
                Field::float("drop_rate", "Drop rate", Range::open(0.0, 1.0))
                    .help("after every hidden layer (paper 002: q is the drop probability)"),
            );
            f.push(Field::float(
                "lr",
                "Learning rate",
                Range::left_open(0.0, 100.0),
            ));
        }
        f.push(
            Field::int("kfac_rows", "K-FAC rows", 1.0, 1e6)
                .help("training images the Laplace factors average over"),
        );
        f.push(Field::seed());
        if correlations {
            f.push(
                Field::ints(
                    "correlation_epochs",
                    "Update-correlation epochs (Fig 2a/c)",
                    Range::closed(1.0, 1e5),
                    ',',
                )
                .help("epochs whose per-step updates are correlated; empty: skip"),
            );
            f.push(
                Field::int("correlation_grid", "Update grid (k x k weights)", 0.0, 64.0).advanced(),
            );
            f.push(Field::int("correlation_layer", "Update-grid layer", 0.0, 100.0).advanced());
        }
        f.extend([
            Field::widths("widths").advanced(),
            Field::activation("activation").advanced(),
            Field::optimizer("optimizer").advanced(),
            Field::float("momentum", "Momentum", Range::right_open(0.0, 1.0))
                .help("momentum and Nesterov only")
                .advanced(),
            Field::float("weight_decay", "Weight decay", Range::closed(0.0, 1.0))
                .help("L2, as torch.optim's weight_decay; the paper's default is 0")
                .advanced(),
            Field::int("batch_size", "Batch size", 1.0, 1e7).advanced(),
            Field::int("mask_draws", "K-FAC mask draws per image", 1.0, 1000.0).advanced(),
            Field::float("damping", "K-FAC relative damping", Range::closed(0.0, 1.0)).advanced(),
        ]);
        f
    }

    /// Config fields a preset that sweeps its own drop rates and learning rates leaves alone.
    pub const SWEPT: [&'static str; 5] = [
        "drop_rate",
        "lr",
        "correlation_epochs",
        "correlation_grid",
        "correlation_layer",
    ];

    /// The lab's paper-scale MLP: all of MNIST (paper 002 uses conv nets on CIFAR, Sec. 5).
    pub fn paper() -> Self {
        VolumeTrackConfig {
            train_size: 60000,
            test_size: 10000,
            kfac_rows: 10000,
            ..Self::demo()
        }
    }
}

/// log vol / D of each layer.
pub fn per_weight(layers: &[LayerVolume]) -> Vec<f64> {
    layers
        .iter()
        .map(|l| l.log_volume / (l.fan_in * l.fan_out) as f64)
        .collect()
}

fn join3(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The gallery's paper 002 Fig 2 card.
pub struct Volume;

impl super::Preset for Volume {
    type Config = VolumeTrackConfig;
    type Result = VolumeTrackResult;

    fn info() -> super::Info {
        super::Info {
            id: "volume",
            paper: "002",
            figure: "Fig. 2",
            title: "Weight expansion during training",
            claim: "Dropout keeps the weight volume (the normalised determinant of the weight covariance) high while plain training shrinks it.",
            reference: "paper 002, Def. 3.1, eq. 9-11 (K-FAC Laplace), Lemma 3.2, Fig. 2(a)-(c)",
            description: "784-64-32-16-10 from one initialisation, trained by SGD with momentum 0.9 (the paper's optimiser) with and without \
                dropout after every hidden layer; after every epoch each layer's weight volume by \
                the dropout-aware Kronecker-factored Laplace estimate, as log vol per weight, and \
                the correlation of per-step weight updates in chosen epochs (Fig. 2a/c).",
        }
    }
    fn demo() -> VolumeTrackConfig {
        VolumeTrackConfig::demo()
    }
    fn paper() -> VolumeTrackConfig {
        VolumeTrackConfig::paper()
    }
    fn fields() -> Vec<super::Field> {
        VolumeTrackConfig::fields(true, true)
    }
    super::preset::one_chart!(crate::charts::draw_volume, "volume", "log vol per weight over epochs", 1200 x 460);
    fn csv(r: &VolumeTrackResult) -> String {
        let rows = r.runs.iter().flat_map(|run| {
            run.epochs.iter().flat_map(move |e| {
                let free = e.mask_free.as_ref();
                e.layers.iter().enumerate().map(move |(k, l)| {
                    // The plain network's volume has no masks: it is its own mask-free value.
                    let f = free.map_or(Some(l), |f| f.get(k));
                    vec![
                        run.dropout.to_string(),
                        e.epoch.to_string(),
                        (l.layer + 1).to_string(),
                        l.fan_in.to_string(),
                        l.fan_out.to_string(),
                        l.log_volume.to_string(),
                        (l.log_volume / (l.fan_in * l.fan_out) as f64).to_string(),
                        super::opt(f.map(|f| f.log_volume / (f.fan_in * f.fan_out) as f64)),
                    ]
                })
            })
        });
        super::csv_header(&r.crate_version, &r.backend, r.config.seed, &[])
            + &super::csv_rows(
                "dropout,epoch,layer,fan_in,fan_out,log_volume,log_volume_per_weight,mask_free_log_volume_per_weight",
                rows,
            )
    }
    fn summary(r: &VolumeTrackResult) -> String {
        super::preset::lines(r.runs.iter().map(|run| {
                let Some(last) = run.epochs.last() else {
                    return String::new();
                };
                let corr = if run.update_correlations.is_empty() {
                    String::new()
                } else {
                    let c: Vec<String> = run
                        .update_correlations
                        .iter()
                        .map(|c| {
                            let distinct = c
                                .correlation
                                .mean_abs_distinct_units
                                .map(|d| format!(", distinct units {d:.3}"))
                                .unwrap_or_default();
                            format!("{:.3}{distinct} (epoch {})", c.correlation.mean_abs_off_diagonal, c.epoch)
                        })
                        .collect();
                    format!("; mean |ρ| of updates, all pairs {}", c.join("; "))
                };
                let loss_gap = run
                    .loss_gap()
                    .map(|g| format!(", loss gap (test − train) {g:.3}"))
                    .unwrap_or_default();
                let free = last
                    .mask_free
                    .as_ref()
                    .map(|f| format!(" (mask-free K-FAC {})", join3(&per_weight(f))))
                    .unwrap_or_default();
                format!(
                    "{} dropout: log vol / D per layer at epoch {}: {}{free}; test accuracy {:.2}%, accuracy gap {:.2} points{loss_gap}{corr}",
                    if run.dropout { "with" } else { "without" },
                    last.epoch,
                    join3(&per_weight(&last.layers)),
                    100.0 * run.final_test_accuracy,
                    100.0 * run.generalisation_gap
                )
            })
        )
    }
}

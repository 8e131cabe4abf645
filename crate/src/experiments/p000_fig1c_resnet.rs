//! Paper 000 Fig. 1(c): ResNet-20 on CIFAR-100, trained by full-batch GD (lr 0.01, 1200 epochs
//! on all 50000 images, Sec. 4) with and without "dropout layers after the convolutional layers"
//! (rate 0.8 as a keep probability, Sec. 2: drop 0.2; `Placement::AfterConvs`); then loss and
//! accuracy along filter-normalised directions, as Fig. 1(b) (`landscape_pair`).
//! The paper's test accuracies: 54.7% with, 34.1% without dropout. The demo trains a quarter
//! width on a few hundred images at a larger rate (GD at 0.01 barely moves in tens of steps).

use serde::{Deserialize, Serialize};

use super::landscape_pair::{landscape_run, LandscapeResult};
use super::Reporter;
use crate::error::LabResult;
use crate::model::net::{Arch, ArchConfig, Placement};
use crate::train::{OptimizerKind, TrainConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig1cConfig {
    pub train_size: usize,
    pub test_size: usize,
    pub width: f64,
    /// The dropout network's drop rate after each convolution unit; the other has none.
    pub drop_rate: f32,
    pub lr: f64,
    pub epochs: usize,
    /// Rows per chunk of the full-batch gradient (BatchNorm normalises each chunk by itself).
    pub batch_size: usize,
    pub seed: u64,
    pub directions: usize,
    pub alpha_min: f64,
    pub alpha_max: f64,
    pub points: usize,
    /// Recompute BatchNorm's statistics without dropout before the landscapes (not in the
    /// paper; `train::bn_recalibration` says why it matters here).
    #[serde(default)]
    pub recalibrate_bn: bool,
}

impl Fig1cConfig {
    pub fn demo() -> Self {
        Fig1cConfig {
            train_size: 128,
            test_size: 500,
            width: 0.25,
            drop_rate: 0.2,
            lr: 0.1,
            epochs: 100,
            batch_size: 128,
            seed: 1,
            directions: 1,
            alpha_min: -1.0,
            alpha_max: 1.0,
            points: 17,
            recalibrate_bn: false,
        }
    }

    pub fn paper() -> Self {
        Fig1cConfig {
            train_size: 50000,
            test_size: 10000,
            width: 1.0,
            lr: 0.01,
            epochs: 1200,
            batch_size: 500,
            directions: 2,
            points: 51,
            ..Fig1cConfig::demo()
        }
    }

    pub fn train_config(&self, dropout: bool) -> TrainConfig {
        let mut arch = ArchConfig::new(Arch::Resnet20);
        arch.width = self.width;
        arch.drop_rate = if dropout { self.drop_rate } else { 0.0 };
        arch.placement = Placement::AfterConvs;
        let mut c = TrainConfig::new(arch);
        c.train_size = self.train_size;
        c.test_size = self.test_size;
        c.optimizer = OptimizerKind::Gd;
        c.lr = self.lr;
        c.momentum = 0.0;
        c.epochs = self.epochs;
        c.batch_size = self.batch_size;
        c.seed = self.seed;
        c.eval_every = self.epochs;
        c
    }

    pub fn validate(&self) -> LabResult<()> {
        super::landscape_pair::check_landscape(
            "Fig 1c",
            self.directions,
            self.points,
            (self.alpha_min, self.alpha_max),
            self.drop_rate,
        )
    }
}

pub type Fig1cResult = LandscapeResult<Fig1cConfig>;

pub async fn run(
    cfg: &Fig1cConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Fig1cResult> {
    cfg.validate()?;
    let range = (cfg.alpha_min, cfg.alpha_max, cfg.points);
    let paper = super::CIFAR100;
    landscape_run(
        cfg.clone(),
        |d| cfg.train_config(d),
        cfg.directions,
        cfg.seed,
        cfg.recalibrate_bn,
        range,
        &paper,
        inputs,
        reporter,
    )
    .await
}

/// The gallery's Fig 1(c) card.
pub struct Fig1c;

impl super::Preset for Fig1c {
    type Config = Fig1cConfig;
    type Result = Fig1cResult;

    fn info() -> super::Info {
        super::Info {
            id: "fig1c",
            paper: "000",
            figure: "Fig. 1(c)",
            title: "Dropout finds flatter minima: ResNet-20",
            claim: "A ResNet-20 trained with dropout sits in a flatter minimum and generalises \
                    better (paper: 54.7% vs 34.1% test accuracy on CIFAR-100).",
            reference: "paper 000, Sec. 4-5 and Fig. 1(c); filter-normalised directions of Li et \
                        al. 2018",
            description: "Two ResNet-20 networks from the same initialisation and seed, trained \
                by full-batch GD, without and with dropout after every convolution unit (the \
                paper's rate 0.8 is a keep probability: drop rate 0.2); then loss and accuracy \
                along filter-normalised random directions on train and test data. The paper \
                trains on CIFAR-100 (load it for the paper's data; other data is said in the \
                result).",
        }
    }
    fn demo() -> Fig1cConfig {
        Fig1cConfig::demo()
    }
    fn paper() -> Fig1cConfig {
        Fig1cConfig::paper()
    }
    fn validate(c: &Fig1cConfig) -> LabResult<()> {
        c.validate()?;
        c.train_config(true).spec(3072, 100).map(|_| ())
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        vec![
            Field::int("train_size", "Train images (first N)", 1.0, 1e7),
            Field::int("test_size", "Test images", 1.0, 1e7),
            Field::float("width", "Width multiplier", Range::left_open(0.0, 8.0))
                .help("1 = He et al.'s ResNet-20 (0.27M parameters)"),
            Field::float("drop_rate", "Drop rate", Range::open(0.0, 1.0))
                .help("after every convolution unit of the dropout network"),
            Field::float("lr", "Learning rate", Range::left_open(0.0, 100.0))
                .help("the paper: 0.01"),
            Field::int("epochs", "Epochs (full-batch GD steps)", 1.0, 1e6),
            Field::int("batch_size", "Rows per gradient chunk", 1.0, 1e7).advanced(),
            Field::seed(),
            Field::int("directions", "Directions", 1.0, 100.0),
            Field::float("alpha_min", "α from", Range::closed(-1000.0, 1000.0)).advanced(),
            Field::float("alpha_max", "α to", Range::closed(-1000.0, 1000.0)).advanced(),
            Field::int("points", "Points on each curve", 2.0, 10000.0).advanced(),
            Field::bool(
                "recalibrate_bn",
                "Recompute BatchNorm statistics without dropout",
            )
            .help("not in the paper: dropout before BatchNorm shifts the variance")
            .advanced(),
        ]
    }
    super::preset::one_chart!(crate::charts::draw_net_landscape_of, "landscape", "Loss and accuracy along random directions", 1200 x 440);
    fn csv(r: &Fig1cResult) -> String {
        super::csv_header(&r.crate_version, &r.backend, r.config.seed, &[])
            + &super::landscape_pair::curves_csv(&r.alphas, &r.curves)
    }
    fn summary(r: &Fig1cResult) -> String {
        super::landscape_pair::models_summary(r.data_note.as_deref(), &r.models, ("54.7%", "34.1%"))
    }
}

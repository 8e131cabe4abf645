//! Paper 000 Fig. 1(b): VGG-9 on the first 2048 CIFAR-10 training images, trained by GD with
//! Nesterov momentum (lr 0.1 divided by 10 at epochs 150, 225 and 275 of 300, Sec. 4), with and
//! without dropout after the pooling layers (the caption's "dropout rate 0.8" is a keep
//! probability, Sec. 2, so the drop rate is 0.2); then loss and accuracy on train and test along
//! filter-normalised random directions (Li et al. 2018, `analysis::landscape`). The paper's
//! test accuracies: 60.6% with, 59.2% without dropout. The demo keeps the schedule's shape at a
//! fraction of the epochs, images and width.

use serde::{Deserialize, Serialize};

use super::landscape_pair::{
    check_landscape, curves_csv, landscape_run, models_summary, LandscapeResult,
};
use super::Reporter;
use crate::error::LabResult;
use crate::model::net::{Arch, ArchConfig};
use crate::train::{LrSchedule, OptimizerKind, ScheduleUnit, TrainConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig1bConfig {
    pub train_size: usize,
    pub test_size: usize,
    /// VGG-9's width multiplier (1 = Li et al.'s channels).
    pub width: f64,
    /// The dropout network's drop rate after each pooling layer; the other network has none.
    pub drop_rate: f32,
    pub lr: f64,
    /// Nesterov momentum of the full-batch steps.
    pub momentum: f64,
    pub epochs: usize,
    /// Epochs after which the rate is divided by 10.
    pub milestones: Vec<usize>,
    /// Rows per chunk of the full-batch gradient (BatchNorm normalises each chunk by itself).
    pub batch_size: usize,
    pub seed: u64,
    pub directions: usize,
    pub alpha_min: f64,
    pub alpha_max: f64,
    pub points: usize,
}

impl Fig1bConfig {
    pub fn demo() -> Self {
        Fig1bConfig {
            train_size: 256,
            test_size: 500,
            width: 0.25,
            drop_rate: 0.2,
            lr: 0.1,
            momentum: 0.9,
            epochs: 30,
            milestones: vec![15, 22, 27],
            batch_size: 256,
            seed: 1,
            directions: 1,
            alpha_min: -1.0,
            alpha_max: 1.0,
            points: 17,
        }
    }

    pub fn paper() -> Self {
        Fig1bConfig {
            train_size: 2048,
            test_size: 10000,
            width: 1.0,
            epochs: 300,
            milestones: vec![150, 225, 275],
            batch_size: 256,
            directions: 2,
            points: 51,
            ..Fig1bConfig::demo()
        }
    }

    pub fn train_config(&self, dropout: bool) -> TrainConfig {
        let mut arch = ArchConfig::new(Arch::Vgg9);
        arch.width = self.width;
        arch.drop_rate = if dropout { self.drop_rate } else { 0.0 };
        let mut c = TrainConfig::new(arch);
        c.train_size = self.train_size;
        c.test_size = self.test_size;
        c.optimizer = OptimizerKind::Nesterov;
        c.full_batch = true;
        c.lr = self.lr;
        c.momentum = self.momentum;
        c.schedule = LrSchedule {
            milestones: self.milestones.clone(),
            gamma: 0.1,
            unit: ScheduleUnit::Epochs,
        };
        c.epochs = self.epochs;
        c.batch_size = self.batch_size;
        c.seed = self.seed;
        // Only the trained networks are studied: evaluate after the last epoch.
        c.eval_every = self.epochs;
        c
    }

    pub fn validate(&self) -> LabResult<()> {
        check_landscape(
            "Fig 1b",
            self.directions,
            self.points,
            (self.alpha_min, self.alpha_max),
            self.drop_rate,
        )
    }
}

pub type Fig1bResult = LandscapeResult<Fig1bConfig>;

pub async fn run(
    cfg: &Fig1bConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Fig1bResult> {
    cfg.validate()?;
    let range = (cfg.alpha_min, cfg.alpha_max, cfg.points);
    let paper = super::CIFAR10;
    landscape_run(
        cfg.clone(),
        |d| cfg.train_config(d),
        cfg.directions,
        cfg.seed,
        false,
        range,
        &paper,
        inputs,
        reporter,
    )
    .await
}

/// The gallery's Fig 1(b) card.
pub struct Fig1b;

impl super::Preset for Fig1b {
    type Config = Fig1bConfig;
    type Result = Fig1bResult;

    fn info() -> super::Info {
        super::Info {
            id: "fig1b",
            paper: "000",
            figure: "Fig. 1(b)",
            title: "Dropout finds flatter minima: VGG-9",
            claim: "A VGG-9 trained with dropout sits in a flatter minimum and generalises better \
                    (paper: 60.6% vs 59.2% test accuracy).",
            reference: "paper 000, Sec. 4-5 and Fig. 1(b); filter-normalised directions of Li et \
                        al. 2018",
            description: "Two VGG-9 networks from the same initialisation and seed, trained by \
                full-batch GD with Nesterov momentum on the first training images with the \
                paper's step schedule, without and with dropout after the pooling layers (the \
                paper's rate 0.8 is a keep probability: drop rate 0.2); then loss and accuracy \
                along filter-normalised random directions on train and test data. The paper \
                trains on CIFAR-10: load it for the paper's data (MNIST / Fashion-MNIST are \
                padded to 32x32 and are not the paper's data).",
        }
    }
    fn demo() -> Fig1bConfig {
        Fig1bConfig::demo()
    }
    fn paper() -> Fig1bConfig {
        Fig1bConfig::paper()
    }
    fn validate(c: &Fig1bConfig) -> LabResult<()> {
        c.validate()?;
        c.train_config(true).spec(3072, 10).map(|_| ())
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        vec![
            Field::int("train_size", "Train images (first N)", 1.0, 1e7),
            Field::int("test_size", "Test images", 1.0, 1e7),
            Field::float("width", "Width multiplier", Range::left_open(0.0, 8.0))
                .help("1 = Li et al.'s VGG-9 (2.8M parameters)"),
            Field::float("drop_rate", "Drop rate", Range::open(0.0, 1.0))
                .help("after each pooling layer of the dropout network"),
            Field::float("lr", "Learning rate", Range::left_open(0.0, 100.0)),
            Field::float("momentum", "Nesterov momentum", Range::right_open(0.0, 1.0)),
            Field::int("epochs", "Epochs", 1.0, 1e6),
            Field::ints(
                "milestones",
                "Divide the rate by 10 at epochs",
                Range::closed(1.0, 1e6),
                ',',
            )
            .help("the paper: 150, 225, 275 of 300; empty = constant rate"),
            Field::int("batch_size", "Rows per gradient chunk", 1.0, 1e7).advanced(),
            Field::seed(),
            Field::int("directions", "Directions", 1.0, 100.0),
            Field::float("alpha_min", "α from", Range::closed(-1000.0, 1000.0)).advanced(),
            Field::float("alpha_max", "α to", Range::closed(-1000.0, 1000.0)).advanced(),
            Field::int("points", "Points on each curve", 2.0, 10000.0).advanced(),
        ]
    }
    super::preset::one_chart!(crate::charts::draw_net_landscape_of, "landscape", "Loss and accuracy along random directions", 1200 x 440);
    fn csv(r: &Fig1bResult) -> String {
        super::csv_header(&r.crate_version, &r.backend, r.config.seed, &[])
            + &curves_csv(&r.alphas, &r.curves)
    }
    fn summary(r: &Fig1bResult) -> String {
        models_summary(r.data_note.as_deref(), &r.models, ("60.6%", "59.2%"))
    }
}

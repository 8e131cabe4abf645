//! The training setup the paper-004 and paper-003 presets share: an MLP on the first N images,
//! SGD with heavy-ball momentum (with optional weight decay and a step schedule), one drop rate
//! after every hidden layer, He init for ReLU and Xavier for tanh. Flattened into their configs,
//! so the JSON keeps these fields at the top.

use serde::{Deserialize, Serialize};

use crate::model::{Activation, InitScheme, MlpConfig};
use crate::train::{LrSchedule, OptimizerKind, TrainConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MomentumMlp {
    pub train_size: usize,
    pub test_size: usize,
    pub widths: Vec<usize>,
    pub activation: Activation,
    pub lr: f64,
    pub momentum: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// torch.optim's L2 `weight_decay` (0: none; older result files have none).
    #[serde(default)]
    pub weight_decay: f64,
    /// The learning rate's step schedule (default: constant).
    #[serde(default)]
    pub schedule: LrSchedule,
}

impl MomentumMlp {
    /// 784-128-128-10 ReLU on 2000 images, lr 0.05, momentum 0.9, batch 100, 20 epochs, no
    /// weight decay, constant rate.
    pub fn demo() -> Self {
        MomentumMlp {
            train_size: 2000,
            test_size: 2000,
            widths: vec![784, 128, 128, 10],
            activation: Activation::Relu,
            lr: 0.05,
            momentum: 0.9,
            batch_size: 100,
            epochs: 20,
            weight_decay: 0.0,
            schedule: LrSchedule::default(),
        }
    }

    pub fn hidden_layers(&self) -> usize {
        self.widths.len().saturating_sub(2)
    }

    /// `TrainConfig::for_preset` with drop rate `rate` after every hidden layer.
    pub fn train_config(&self, rate: f32, seed: u64) -> TrainConfig {
        TrainConfig {
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            schedule: self.schedule.clone(),
            ..TrainConfig::for_preset(
                MlpConfig {
                    widths: self.widths.clone(),
                    activation: self.activation,
                    drop_rates: vec![rate; self.hidden_layers()],
                    init: InitScheme::for_activation(self.activation),
                },
                OptimizerKind::Momentum,
                self.lr,
                self.epochs,
                self.batch_size,
                self.train_size,
                self.test_size,
                seed,
            )
        }
    }
}

impl MomentumMlp {
    /// The form fields of the network and its training (papers 003 and 004).
    pub fn fields() -> Vec<super::Field> {
        use super::schema::{Choice, Field, Range};
        vec![
            Field::int("train_size", "Train images N", 2.0, 1e7),
            Field::int("test_size", "Test images", 1.0, 1e7),
            Field::int("epochs", "Epochs", 1.0, 1e5),
            Field::float("lr", "Learning rate", Range::left_open(0.0, 100.0)),
            Field::widths("widths").advanced(),
            Field::activation("activation").advanced(),
            Field::float("momentum", "Momentum", Range::right_open(0.0, 1.0)).advanced(),
            Field::int("batch_size", "Batch size", 1.0, 1e7)
                .help("at most the number of training images")
                .advanced(),
            Field::float("weight_decay", "Weight decay", Range::closed(0.0, 1.0))
                .help("L2, added to every gradient as torch.optim's weight_decay")
                .advanced(),
            Field::ints(
                "schedule.milestones",
                "Rate milestones",
                Range::closed(0.0, 1e9),
                ',',
            )
            .help("the learning rate is multiplied by the factor at each; empty: constant")
            .advanced(),
            Field::float("schedule.gamma", "Rate factor", Range::left_open(0.0, 1.0))
                .help("0.1 divides the rate by 10 at each milestone")
                .advanced(),
            Field::choice(
                "schedule.unit",
                "Milestones count",
                vec![
                    Choice::word("steps", "steps (iterations)"),
                    Choice::word("epochs", "epochs"),
                ],
            )
            .advanced(),
        ]
    }

    /// All of MNIST.
    pub fn paper() -> Self {
        MomentumMlp {
            train_size: 60000,
            test_size: 10000,
            ..Self::demo()
        }
    }
}

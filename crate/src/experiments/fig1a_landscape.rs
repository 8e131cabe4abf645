//! Paper 000 Fig. 1(a): dropout finds flatter minima. Two FNNs from the same initialisation and
//! seed, trained with and without dropout; then 1-D loss curves f(α) = L(θ + α d) on train and
//! test data along filter-normalised random directions d (Li et al. 2018, see
//! analysis/landscape.rs; one layer is one filter in an FNN). Paper scale: 784-1024-1024-10, Adam lr 1e-4, dropout after hidden
//! layers 1 and 2; the demo is smaller so it finishes in about a minute.

use serde::{Deserialize, Serialize};

use super::landscape_pair::landscape_pair;
use super::Reporter;
use crate::analysis::landscape::grid;
use crate::error::{LabError, LabResult};
use crate::model::{Activation, InitScheme, MlpConfig};
use crate::train::{OptimizerKind, TrainConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig1aConfig {
    pub train_size: usize,
    pub test_size: usize,
    pub widths: Vec<usize>,
    pub activation: Activation,
    /// Drop rates of the dropout model (one per hidden layer); the other model uses zeros.
    pub drop_rates: Vec<f32>,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub directions: usize,
    pub alpha_min: f64,
    pub alpha_max: f64,
    pub points: usize,
}

impl Fig1aConfig {
    pub fn demo() -> Self {
        Fig1aConfig {
            train_size: 2000,
            test_size: 2000,
            widths: vec![784, 256, 256, 10],
            activation: Activation::Relu,
            drop_rates: vec![0.5, 0.5],
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            epochs: 20,
            batch_size: 64,
            seed: 1,
            directions: 2,
            alpha_min: -1.0,
            alpha_max: 1.0,
            points: 41,
        }
    }

    pub fn train_config(&self, dropout: bool) -> TrainConfig {
        let drop_rates = if dropout {
            self.drop_rates.clone()
        } else {
            vec![0.0; self.drop_rates.len()]
        };
        TrainConfig::for_preset(
            MlpConfig {
                widths: self.widths.clone(),
                activation: self.activation,
                drop_rates,
                init: InitScheme::Xavier,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub dropout: bool,
    pub direction: usize,
    pub train: Vec<f32>,
    pub test: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub dropout: bool,
    pub train_loss: f32,
    pub test_loss: f32,
    pub test_accuracy: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig1aResult {
    pub config: Fig1aConfig,
    pub backend: String,
    pub crate_version: String,
    pub alphas: Vec<f64>,
    pub models: Vec<ModelSummary>,
    pub curves: Vec<Curve>,
}

pub async fn run(
    cfg: &Fig1aConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<Fig1aResult> {
    if cfg.directions == 0 || cfg.points < 2 || !(cfg.alpha_min < cfg.alpha_max) {
        return Err(LabError::Config(
            "Fig 1a needs at least one direction, two points and alpha_min < alpha_max".into(),
        ));
    }
    let alphas = grid(cfg.alpha_min, cfg.alpha_max, cfg.points);
    let (nets, net_curves) = landscape_pair(
        |dropout| cfg.train_config(dropout),
        cfg.directions,
        cfg.seed,
        false,
        &alphas,
        inputs,
        reporter,
    )
    .await?;
    let models = nets
        .into_iter()
        .map(|m| ModelSummary {
            dropout: m.dropout,
            train_loss: m.train_loss,
            test_loss: m.test_loss,
            test_accuracy: m.test_accuracy,
        })
        .collect();
    let curves = net_curves
        .into_iter()
        .map(|c| Curve {
            dropout: c.dropout,
            direction: c.direction,
            train: c.train_loss,
            test: c.test_loss,
        })
        .collect();
    Ok(Fig1aResult {
        config: cfg.clone(),
        backend: inputs.backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        alphas,
        models,
        curves,
    })
}

/// The gallery's Fig 1(a) card.
pub struct Fig1a;

impl super::Preset for Fig1a {
    type Config = Fig1aConfig;
    type Result = Fig1aResult;

    fn info() -> super::Info {
        super::Info {
            id: "fig1a",
            paper: "000",
            figure: "Fig. 1(a)",
            title: "Dropout finds flatter minima",
            claim: "Loss curves along random directions are flatter around a minimum found with dropout.",
            reference: "paper 000, Sec. 5 and Fig. 1(a); filter-normalised directions of Li et al. 2018",
            description: "Two networks from the same initialisation and seed, trained with and \
                without dropout (Adam); then the loss along filter-normalised random directions, \
                on train and test data. The paper's keep probabilities 0.8 and 0.5 (Sec. 4) are \
                drop rates 0.2 after the first and 0.5 after the second hidden layer.",
        }
    }
    fn demo() -> Fig1aConfig {
        Fig1aConfig::demo()
    }
    fn paper() -> Fig1aConfig {
        Fig1aConfig {
            train_size: 60000,
            test_size: 10000,
            widths: vec![784, 1024, 1024, 10],
            drop_rates: vec![0.2, 0.5],
            lr: 1e-4,
            ..Fig1aConfig::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        vec![
            Field::int("train_size", "Train images N", 1.0, 1e7),
            Field::int("test_size", "Test images", 1.0, 1e7),
            Field::widths("widths"),
            Field::activation("activation"),
            Field::floats(
                "drop_rates",
                "Drop rates (one per hidden layer)",
                Range::right_open(0.0, 1.0),
                1,
            )
            .help("the dropout network's rates; the other network has none"),
            Field::optimizer("optimizer").help("the paper: Adam"),
            Field::float("lr", "Learning rate", Range::left_open(0.0, 100.0)),
            Field::int("epochs", "Epochs", 1.0, 1e6),
            Field::int("batch_size", "Batch size", 1.0, 1e7),
            Field::seed(),
            Field::int("directions", "Directions", 1.0, 100.0),
            Field::float("alpha_min", "α from", Range::closed(-1000.0, 1000.0)).advanced(),
            Field::float("alpha_max", "α to", Range::closed(-1000.0, 1000.0)).advanced(),
            Field::int("points", "Points on each curve", 2.0, 10000.0).advanced(),
        ]
    }
    super::preset::one_chart!(crate::charts::draw_fig1a, "landscape", "Loss along random directions", 640 x 440);
    fn csv(r: &Fig1aResult) -> String {
        let rows = r.curves.iter().flat_map(|c| {
            r.alphas.iter().enumerate().map(move |(i, a)| {
                vec![
                    c.dropout.to_string(),
                    c.direction.to_string(),
                    a.to_string(),
                    c.train[i].to_string(),
                    c.test[i].to_string(),
                ]
            })
        });
        super::csv_header(&r.crate_version, &r.backend, r.config.seed, &[])
            + &super::csv_rows("dropout,direction,alpha,train_loss,test_loss", rows)
    }
    fn summary(r: &Fig1aResult) -> String {
        super::preset::lines(r.models.iter().map(|m| {
            format!(
                "{} dropout: train loss {:.4}, test loss {:.4}, test accuracy {:.2}%",
                if m.dropout { "with" } else { "without" },
                m.train_loss,
                m.test_loss,
                100.0 * m.test_accuracy
            )
        }))
    }
}

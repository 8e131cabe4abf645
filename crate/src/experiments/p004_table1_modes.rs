//! Paper 004 Tables 1-3: test accuracy of standard, forward-only, backward-only and augmented
//! dropout against the drop rate, with the plain network as reference, each the mean over
//! several seeds (the paper averages four runs).
//!
//! The paper's nets are ConvNet-Quick / ResNet-20 on CIFAR-10 and LeNet on MNIST with dropout
//! on the fully connected layers; the lab's networks are MLPs, so here dropout follows every
//! hidden layer of an MLP on the loaded data set (MNIST or Fashion-MNIST): the inputs of its
//! second and third fully connected layers, as ConvNet-Quick drops the inputs of both of its
//! (LeNet drops only the last one's). Paper 004 writes the drop ratio p as this lab does.
//! Augmented dropout uses the standard rate forward and an extra backward rate (the paper's
//! LeNet runs: 1e-4).
//!
//! Training follows the paper's MNIST (LeNet, Table 3) recipe: SGD with momentum 0.9, batch 100,
//! weight decay 5e-4, the rate divided by 10 halfway (6000 of 12000 iterations). Paper scale
//! uses its lr 0.01 and its 12000 iterations (60000 images x 20 epochs / 100); the demo trains
//! 400 iterations on 2000 images at lr 0.05 (at 0.01 it would stop far from converged),
//! dividing at iteration 200.

use serde::{Deserialize, Serialize};

use super::momentum_mlp::MomentumMlp;
use super::seeded_runs::run_seeds;
pub use super::seeded_runs::{spread_or_dash, Spread};
use super::Reporter;
use crate::error::{LabError, LabResult};
use crate::model::DropoutMode;
use crate::train::{LrSchedule, ScheduleUnit, TrainConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModesTableConfig {
    #[serde(flatten)]
    pub net: MomentumMlp,
    /// Drop rates (the columns of Tab. 1: 0.3, 0.2, 0.1, 0.05, 0.01, 0.005).
    pub rates: Vec<f32>,
    /// The rows; `Augmented.backward_rate` is the extra backward rate.
    pub modes: Vec<DropoutMode>,
    /// Runs per cell, with seeds seed, seed + 1, ...
    pub seeds: usize,
    pub seed: u64,
}

impl ModesTableConfig {
    pub fn demo() -> Self {
        ModesTableConfig {
            net: MomentumMlp {
                weight_decay: 5e-4,
                // Halfway through 2000 / 100 x 20 = 400 iterations.
                schedule: LrSchedule::divide_at(vec![200], 10.0, ScheduleUnit::Steps),
                ..MomentumMlp::demo()
            },
            rates: vec![0.3, 0.1, 0.01],
            modes: vec![
                DropoutMode::Standard,
                DropoutMode::ForwardOnly,
                DropoutMode::BackwardOnly,
                DropoutMode::Augmented {
                    backward_rate: 1e-4,
                },
            ],
            seeds: 2,
            seed: 1,
        }
    }

    fn train_config(&self, rate: f32, mode: DropoutMode, seed: u64) -> TrainConfig {
        TrainConfig {
            dropout_mode: mode,
            ..self.net.train_config(rate, seed)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub mode: DropoutMode,
    pub rate: f32,
    /// Over the seeds whose training stayed finite; None if none did.
    pub test_accuracy: Option<Spread>,
    pub test_loss: Option<Spread>,
    /// Per seed, in seed order; None where the training diverged (NaN/Inf loss).
    pub accuracies: Vec<Option<f64>>,
    pub diverged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModesTableResult {
    pub config: ModesTableConfig,
    pub backend: String,
    pub crate_version: String,
    pub dataset: String,
    pub plain: Cell,
    pub cells: Vec<Cell>,
}

/// What a modes table's summary, CSV and chart read, however its networks were trained.
pub struct TableView<'a> {
    pub dataset: &'a str,
    pub backend: &'a str,
    pub crate_version: &'a str,
    pub seeds: usize,
    pub seed: u64,
    pub modes: &'a [DropoutMode],
    pub plain: &'a Cell,
    pub cells: &'a [Cell],
}

impl ModesTableResult {
    pub fn view(&self) -> TableView<'_> {
        TableView {
            dataset: &self.dataset,
            backend: &self.backend,
            crate_version: &self.crate_version,
            seeds: self.config.seeds,
            seed: self.config.seed,
            modes: &self.config.modes,
            plain: &self.plain,
            cells: &self.cells,
        }
    }
}

/// The table's shape: at least one mode, rate and seed, rates in (0, 1), each mode valid.
pub fn validate_table(modes: &[DropoutMode], rates: &[f32], seeds: usize) -> LabResult<()> {
    if seeds == 0
        || modes.is_empty()
        || rates.is_empty()
        || rates.iter().any(|r| !(*r > 0.0 && *r < 1.0))
    {
        return Err(LabError::Config(
            "the modes table needs at least one mode and one seed, and drop rates in (0, 1)".into(),
        ));
    }
    modes.iter().try_for_each(|m| m.validate())
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: &ModesTableConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<ModesTableResult> {
    let super::Inputs {
        train,
        test,
        dataset,
        device,
        backend,
        ..
    } = inputs;
    if cfg.net.hidden_layers() == 0 {
        return Err(LabError::Config(
            "the modes table needs an MLP with a hidden layer".into(),
        ));
    }
    validate_table(&cfg.modes, &cfg.rates, cfg.seeds)?;
    let total = 1 + cfg.modes.len() * cfg.rates.len();
    let mut run_cell = async |mode: DropoutMode, rate: f32, index: usize| -> LabResult<Cell> {
        let stage = format!("run {index}/{total}: {} at drop {rate}", mode_label(mode));
        let r = run_seeds(
            |seed| cfg.train_config(rate, mode, seed),
            cfg.seeds,
            cfg.seed,
            train,
            test,
            dataset,
            &device,
            backend,
            &stage,
            reporter,
        )
        .await?;
        Ok(Cell {
            mode,
            rate,
            test_accuracy: r.final_test_accuracy,
            test_loss: r.final_test_loss,
            accuracies: r.test_accuracies,
            diverged: r.diverged,
        })
    };
    // Rate 0 trains the plain network whatever the mode.
    let plain = run_cell(DropoutMode::Standard, 0.0, 1).await?;
    let mut cells = Vec::new();
    for (i, &mode) in cfg.modes.iter().enumerate() {
        for (j, &rate) in cfg.rates.iter().enumerate() {
            cells.push(run_cell(mode, rate, 2 + i * cfg.rates.len() + j).await?);
        }
    }
    Ok(ModesTableResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        dataset: dataset.to_string(),
        plain,
        cells,
    })
}

/// The row names of Tab. 1.
pub fn mode_label(mode: DropoutMode) -> String {
    match mode {
        DropoutMode::Standard => "standard".into(),
        DropoutMode::ForwardOnly => "forward".into(),
        DropoutMode::BackwardOnly => "backward".into(),
        DropoutMode::Augmented { backward_rate } => format!("augmented (+{backward_rate})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_mean_and_sample_std() {
        let s = Spread::of(&[1.0, 2.0, 3.0, 6.0]);
        assert_eq!(s.mean, 3.0);
        assert!((s.std - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Spread::of(&[0.7]).std, 0.0);
        assert_eq!(s.to_string(), "3.0000±2.1602");
        assert_eq!(spread_or_dash(None), "-");
    }
}

/// The gallery's paper 004 Table 1 card.
pub struct Modes;

impl super::Preset for Modes {
    type Config = ModesTableConfig;
    type Result = ModesTableResult;

    fn info() -> super::Info {
        super::Info {
            id: "modes",
            paper: "004",
            figure: "Table 1",
            title: "Forward, backward, standard and augmented dropout",
            claim: "Dropout's benefit comes mostly from its backward pass: backward-only dropout matches or beats standard, forward-only suffers at large rates.",
            reference: "paper 004, Sec. 4.2 and 5, Def. 1-2, eq. 4-10, Algorithm 1, Table 1",
            description: "One MLP (dropout after every hidden layer; the paper's LeNet recipe: SGD \
                with momentum 0.9, batch 100, weight decay 5e-4, the rate divided by 10 halfway) \
                per mode, drop rate and seed on the loaded data set, plus the plain network; \
                test accuracy as mean ± sd over the seeds. Forward: masks in the forward pass \
                only; backward: a clean forward pass, masks in the backward pass; augmented: \
                standard forward, backward mask times an extra mask at the given rate (the \
                paper: 0.0001). The paper's tables are LeNet and conv nets; this one runs an MLP \
                (the conv-net tables: modes-convnet, modes-resnet, modes-lenet).",
        }
    }
    fn demo() -> ModesTableConfig {
        ModesTableConfig::demo()
    }
    fn paper() -> ModesTableConfig {
        ModesTableConfig {
            // Table 3's LeNet recipe: 60000 / 100 x 20 = 12000 iterations, ÷10 at 6000.
            net: MomentumMlp {
                lr: 0.01,
                weight_decay: 5e-4,
                schedule: LrSchedule::divide_at(vec![6000], 10.0, ScheduleUnit::Steps),
                ..MomentumMlp::paper()
            },
            rates: vec![0.3, 0.2, 0.1, 0.05, 0.01, 0.005],
            ..ModesTableConfig::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        let mut f = vec![
            Field::floats("rates", "Drop rates", Range::open(0.0, 1.0), 1),
            Field::modes("modes", "Modes").help("standard, forward, backward, augmented:RATE"),
            Field::int("seeds", "Seeds per cell", 1.0, 100.0),
            Field::seed(),
        ];
        f.extend(MomentumMlp::fields());
        f
    }
    super::preset::one_chart!(crate::charts::draw_modes_table, "table", "Test accuracy per mode and drop rate", 720 x 440);
    fn csv(r: &ModesTableResult) -> String {
        table_csv(&r.view())
    }
    fn summary(r: &ModesTableResult) -> String {
        table_summary(&r.view())
    }
}

/// One row per cell and seed.
pub fn table_csv(r: &TableView) -> String {
    let rows = std::iter::once(r.plain).chain(r.cells).flat_map(|c| {
        c.accuracies.iter().enumerate().map(move |(k, a)| {
            vec![
                if c.rate == 0.0 {
                    "plain".to_string()
                } else {
                    mode_label(c.mode)
                },
                c.rate.to_string(),
                (r.seed + k as u64).to_string(),
                a.map_or("diverged".into(), |a| a.to_string()),
                super::opt(c.test_accuracy.map(|s| s.mean)),
                super::opt(c.test_accuracy.map(|s| s.std)),
                super::opt(c.test_loss.map(|s| s.mean)),
            ]
        })
    });
    super::csv_header(
        r.crate_version,
        r.backend,
        r.seed,
        &[("dataset", r.dataset.to_string())],
    ) + &super::csv_rows(
        "mode,drop_rate,seed,test_accuracy,mean_test_accuracy,sd_test_accuracy,mean_test_loss",
        rows,
    )
}

/// The table as the paper prints it: modes down, drop rates across, mean ± sd over the seeds.
pub fn table_summary(r: &TableView) -> String {
    let fmt = |c: &Cell| {
        let s = c.test_accuracy.map_or("diverged".into(), |s| {
            format!("{s}{}", if c.diverged > 0 { "*" } else { "" })
        });
        format!("{s:>16}")
    };
    let mut rates: Vec<f32> = Vec::new();
    for c in r.cells {
        if !rates.contains(&c.rate) {
            rates.push(c.rate);
        }
    }
    let mut lines = vec![
        format!(
            "{}, test accuracy over {} seed(s); plain {}",
            r.dataset,
            r.seeds,
            fmt(r.plain).trim()
        ),
        format!(
            "{:<22}{}",
            "mode \\ drop",
            rates.iter().map(|x| format!("{x:>16}")).collect::<String>()
        ),
    ];
    for m in r.modes {
        let row: String = rates
            .iter()
            .map(|x| {
                r.cells
                    .iter()
                    .find(|c| c.rate == *x && c.mode == *m)
                    .map_or(format!("{:>16}", "-"), fmt)
            })
            .collect();
        lines.push(format!("{:<22}{row}", mode_label(*m)));
    }
    if r.cells.iter().any(|c| c.diverged > 0) {
        lines.push("* some seeds diverged (NaN/Inf loss) and are left out of the mean".into());
    }
    lines.join("\n")
}

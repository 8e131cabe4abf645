//! Paper 003 (Wei, Kakade & Ma 2020): dropout's explicit and implicit regularisation taken
//! apart. The same MLP trained five ways: plain (no dropout), dropout, explicit only (clean loss
//! + R), implicit only (clean loss gradient + the dropout noise), explicit + implicit; train and
//! test loss and accuracy per epoch, averaged over seeds (analysis/explicit_implicit.rs holds R
//! and the noise, train/split_step.rs the step).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::momentum_mlp::MomentumMlp;
use super::p004_table1_modes::Spread;
use super::seeded_runs::run_seeds;
pub use super::seeded_runs::CurvePoint;
use super::Reporter;
use crate::analysis::explicit_implicit::{ExplicitForm, ImplicitForm};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};

use crate::train::{DropoutSplit, TrainConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Plain,
    Dropout,
    Explicit,
    Implicit,
    ExplicitImplicit,
}

impl Variant {
    pub const ALL: [Variant; 5] = [
        Variant::Plain,
        Variant::Dropout,
        Variant::Explicit,
        Variant::Implicit,
        Variant::ExplicitImplicit,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Dropout => "dropout",
            Variant::Explicit => "explicit only",
            Variant::Implicit => "implicit only",
            Variant::ExplicitImplicit => "explicit + implicit",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitConfig {
    #[serde(flatten)]
    pub net: MomentumMlp,
    /// Drop rate after every hidden layer (the dropout variants and R's coefficients).
    pub drop_rate: f32,
    pub explicit: ExplicitForm,
    pub implicit: ImplicitForm,
    pub variants: Vec<Variant>,
    pub seeds: usize,
    pub seed: u64,
}

impl SplitConfig {
    pub fn demo() -> Self {
        SplitConfig {
            net: MomentumMlp {
                lr: 0.02,
                ..MomentumMlp::demo()
            },
            drop_rate: 0.5,
            explicit: ExplicitForm::Sampled,
            implicit: ImplicitForm::Difference,
            variants: Variant::ALL.to_vec(),
            seeds: 2,
            seed: 1,
        }
    }

    pub fn train_config(&self, variant: Variant, seed: u64) -> TrainConfig {
        let rate = if variant == Variant::Plain {
            0.0
        } else {
            self.drop_rate
        };
        let split = |explicit: bool, implicit: bool| {
            Some(DropoutSplit {
                explicit: explicit.then_some(self.explicit),
                implicit: implicit.then_some(self.implicit),
            })
        };
        TrainConfig {
            eval_every: 1,
            dropout_split: match variant {
                Variant::Plain | Variant::Dropout => None,
                Variant::Explicit => split(true, false),
                Variant::Implicit => split(false, true),
                Variant::ExplicitImplicit => split(true, true),
            },
            ..self.net.train_config(rate, seed)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    pub variant: Variant,
    /// Over the seeds whose training stayed finite (empty if none did).
    pub curve: Vec<CurvePoint>,
    pub final_test_accuracy: Option<Spread>,
    pub final_test_loss: Option<Spread>,
    pub final_train_loss: Option<Spread>,
    /// Seeds whose loss became NaN/Inf (the implicit noise alone can blow a run up).
    pub diverged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitResult {
    pub config: SplitConfig,
    pub backend: String,
    pub crate_version: String,
    pub dataset: String,
    pub variants: Vec<VariantResult>,
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: &SplitConfig,
    train: &Dataset,
    test: &Dataset,
    dataset: &str,
    device: Device,
    backend: &str,
    reporter: &mut impl Reporter,
) -> LabResult<SplitResult> {
    if !(cfg.drop_rate > 0.0 && cfg.drop_rate < 1.0)
        || cfg.seeds == 0
        || cfg.variants.is_empty()
        || cfg.net.hidden_layers() == 0
    {
        return Err(LabError::Config(
            "the explicit/implicit preset needs a hidden layer, a drop rate in (0, 1), a variant and a seed".into(),
        ));
    }
    let mut variants = Vec::new();
    for (v, &variant) in cfg.variants.iter().enumerate() {
        let stage = format!("{} ({}/{})", variant.label(), v + 1, cfg.variants.len());
        let r = run_seeds(
            |seed| cfg.train_config(variant, seed),
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
        variants.push(VariantResult {
            variant,
            curve: r.curve,
            final_test_accuracy: r.final_test_accuracy,
            final_test_loss: r.final_test_loss,
            final_train_loss: r.final_train_loss,
            diverged: r.diverged,
        });
    }
    Ok(SplitResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        dataset: dataset.to_string(),
        variants,
    })
}

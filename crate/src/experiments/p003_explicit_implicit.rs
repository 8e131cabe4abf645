//! Paper 003 (Wei, Kakade & Ma 2020): dropout's explicit and implicit regularisation taken
//! apart. The same MLP trained five ways: plain (no dropout), dropout, explicit only (clean loss
//! + R), implicit only (clean loss gradient + the dropout noise), explicit + implicit; train and
//! test loss and accuracy per epoch, averaged over seeds (analysis/explicit_implicit.rs holds R
//! and the noise, train/split_step.rs the step).

use serde::{Deserialize, Serialize};

use super::momentum_mlp::MomentumMlp;
use super::seeded_runs::run_seeds;
pub use super::seeded_runs::CurvePoint;
use super::seeded_runs::Spread;
use super::Reporter;
use crate::error::{LabError, LabResult};
use crate::objectives::explicit_implicit::{ExplicitForm, ImplicitForm, NoiseScale};

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
    /// The implicit noise's size: the slides' ξ̃ / √2 η (twice dropout's gradient-noise
    /// covariance), or dropout's own covariance (ξ̃/√2, η).
    #[serde(default)]
    pub implicit_scale: NoiseScale,
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
            implicit_scale: NoiseScale::Slides,
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
                implicit_scale: self.implicit_scale,
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
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<SplitResult> {
    let super::Inputs {
        train,
        test,
        dataset,
        device,
        backend,
        ..
    } = inputs;
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

/// The gallery's paper 003 card.
pub struct Split;

impl super::Preset for Split {
    type Config = SplitConfig;
    type Result = SplitResult;

    fn info() -> super::Info {
        super::Info {
            id: "split",
            paper: "003",
            figure: "explicit vs implicit",
            title: "Explicit and implicit regularisation of dropout",
            claim: "Dropout regularises twice: an explicit term R in the expected loss and implicit gradient noise; each alone recovers part of its benefit.",
            reference: "paper 003 (Wei, Kakade & Ma 2020): R_approx with H_out = diag(p) - ppᵀ, ξ_drop and ξ_approx",
            description: "The same MLP (SGD with momentum) trained five ways: plain, dropout, \
                explicit only (clean loss + R: the Gauss-Newton curvature of the loss in each \
                dropped layer's activations, weighted by h² and q/(2(1-q))), implicit only (clean \
                gradient + the dropout gradient noise), and both. Curves are means over the seeds; \
                runs that blow up are counted, not hidden.",
        }
    }
    fn demo() -> SplitConfig {
        SplitConfig::demo()
    }
    fn paper() -> SplitConfig {
        SplitConfig {
            net: MomentumMlp {
                lr: 0.02,
                ..MomentumMlp::paper()
            },
            ..SplitConfig::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Choice, Field, Range};
        let mut f = vec![
            Field::float("drop_rate", "Drop rate", Range::open(0.0, 1.0))
                .help("after every hidden layer"),
            Field::choice(
                "explicit",
                "R",
                vec![
                    Choice::word("sampled", "sampled ŷ (unbiased)"),
                    Choice::word("exact", "exact (all classes)"),
                ],
            ),
            Field::choice(
                "implicit",
                "Noise",
                vec![
                    Choice::word("difference", "ξ̃: difference of two dropout gradients"),
                    Choice::word("approx", "ξ_approx: first order"),
                ],
            ),
            Field::choice(
                "implicit_scale",
                "Noise size",
                vec![
                    Choice::word("slides", "the slides' (2x dropout's noise covariance)"),
                    Choice::word("dropout_like", "dropout's own noise covariance"),
                ],
            ),
            Field::choices(
                "variants",
                "Variants",
                Variant::ALL
                    .iter()
                    .map(|v| Choice::of(v, v.label()))
                    .collect(),
            ),
            Field::int("seeds", "Seeds", 1.0, 100.0),
            Field::seed(),
        ];
        f.extend(MomentumMlp::fields());
        f
    }
    super::preset::one_chart!(crate::charts::draw_explicit_implicit, "curves", "Test accuracy and loss per variant", 960 x 420);
    fn csv(r: &SplitResult) -> String {
        let rows = r.variants.iter().flat_map(|v| {
            v.curve.iter().map(move |p| {
                vec![
                    super::to_value(&v.variant)
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    p.epoch.to_string(),
                    p.train_loss.to_string(),
                    p.test_loss.to_string(),
                    p.train_accuracy.to_string(),
                    p.test_accuracy.to_string(),
                    v.diverged.to_string(),
                ]
            })
        });
        super::csv_header(
            &r.crate_version,
            &r.backend,
            r.config.seed,
            &[
                ("dataset", r.dataset.clone()),
                ("seeds", r.config.seeds.to_string()),
            ],
        ) + &super::csv_rows(
            "variant,epoch,train_loss,test_loss,train_accuracy,test_accuracy,diverged_seeds",
            rows,
        )
    }
    fn summary(r: &SplitResult) -> String {
        use super::seeded_runs::spread_or_dash as f;
        super::preset::lines(r.variants.iter().map(|v| {
            format!(
                "{:<20} test accuracy {}, test loss {}, train loss {}{}",
                v.variant.label(),
                f(v.final_test_accuracy),
                f(v.final_test_loss),
                f(v.final_train_loss),
                super::seeded_runs::diverged_note(v.diverged, Some(r.config.seeds))
            )
        }))
    }
}

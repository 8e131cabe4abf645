//! Paper 002 Fig. 4 (Sec. 5.3): dropout against other noises: plain training, dropout, Gaussian
//! dropout, disentanglement noise (Algorithm 2, meant to expand the weight volume) and stochastic
//! weight noise (the contraction baseline). Per variant the test loss over epochs (mean over
//! seeds) and the final dropout-aware K-FAC log volume per weight of each layer, so the figure's
//! claim (expansion → lower test loss, contraction → higher) can be read off together with the
//! volumes that define expansion and contraction. The paper's nets are VGG16/AlexNet on CIFAR and
//! ImageNet-32; here the MLP of Fig. 2(b) on the loaded data set.

use serde::{Deserialize, Serialize};

use super::p002_fig2_volume::VolumeTrackConfig;
use super::seeded_runs::Spread;
use super::seeded_runs::{run_seeds, CurvePoint};
use super::Reporter;
use crate::analysis::kfac::{factors, laplace_volumes, trained_noise, MaskNoise};
use crate::error::{LabError, LabResult};
use crate::rng::{stream, Stream};
use crate::train::noise_step::NoiseInjection;
use crate::train::TrainConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseVariant {
    Plain,
    Dropout,
    GaussianDropout,
    Disentanglement,
    WeightNoise,
}

impl NoiseVariant {
    pub const ALL: [NoiseVariant; 5] = [
        NoiseVariant::Plain,
        NoiseVariant::Dropout,
        NoiseVariant::GaussianDropout,
        NoiseVariant::Disentanglement,
        NoiseVariant::WeightNoise,
    ];

    pub fn label(self) -> &'static str {
        match self {
            NoiseVariant::Plain => "plain",
            NoiseVariant::Dropout => "dropout",
            NoiseVariant::GaussianDropout => "Gaussian dropout",
            NoiseVariant::Disentanglement => "disentanglement (expansion)",
            NoiseVariant::WeightNoise => "weight noise (contraction)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseFig4Config {
    /// Architecture, data sizes, training, the dropout variants' rate and the K-FAC settings.
    #[serde(flatten)]
    pub base: VolumeTrackConfig,
    /// λ1 and λ2 of Algorithm 2 (per-unit standard deviations, see analysis/reverse_noise.rs).
    pub lambda_a: f64,
    pub lambda_h: f64,
    /// Steps between re-estimates of Σ_a, Σ_h.
    pub refresh_every: usize,
    /// σ of the weight noise.
    pub weight_noise_std: f64,
    pub variants: Vec<NoiseVariant>,
    pub seeds: usize,
}

impl NoiseFig4Config {
    pub fn demo() -> Self {
        NoiseFig4Config {
            base: VolumeTrackConfig {
                correlation_grid: 0,
                correlation_epochs: vec![],
                ..VolumeTrackConfig::demo()
            },
            lambda_a: 0.1,
            lambda_h: 0.2,
            refresh_every: 50,
            weight_noise_std: 0.02,
            variants: NoiseVariant::ALL.to_vec(),
            seeds: 2,
        }
    }

    pub fn train_config(&self, variant: NoiseVariant, seed: u64) -> TrainConfig {
        let dropout = matches!(
            variant,
            NoiseVariant::Dropout | NoiseVariant::GaussianDropout
        );
        let mut tc = self.base.train_config(dropout);
        tc.seed = seed;
        tc.eval_every = 1;
        tc.noise = match variant {
            NoiseVariant::Plain | NoiseVariant::Dropout => None,
            NoiseVariant::GaussianDropout => Some(NoiseInjection::GaussianDropout),
            NoiseVariant::Disentanglement => Some(NoiseInjection::Disentanglement {
                lambda_a: self.lambda_a,
                lambda_h: self.lambda_h,
                refresh_every: self.refresh_every,
                rows: self.base.kfac_rows,
                damping: self.base.damping,
            }),
            NoiseVariant::WeightNoise => Some(NoiseInjection::WeightNoise {
                std: self.weight_noise_std,
            }),
        };
        tc
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseVariantResult {
    pub variant: NoiseVariant,
    pub curve: Vec<CurvePoint>,
    pub final_test_loss: Option<Spread>,
    pub final_test_accuracy: Option<Spread>,
    /// Mean final test loss − mean final train loss.
    pub loss_gap: Option<f64>,
    /// Mean over the seeds with a finite volume of each layer's final K-FAC log vol / D.
    pub log_volume_per_weight: Vec<f64>,
    /// Seeds that entered that mean.
    pub volume_seeds: usize,
    /// The same volumes with the K-FAC expectations taken without masks (dropout and Gaussian
    /// dropout only; None otherwise and in older files): the dropout-aware estimate inflates
    /// diag E[A] by 1/(1−q), so this shows how much of the expansion is the estimator's.
    #[serde(default)]
    pub mask_free_log_volume_per_weight: Option<Vec<f64>>,
    pub diverged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseFig4Result {
    pub config: NoiseFig4Config,
    pub backend: String,
    pub crate_version: String,
    pub dataset: String,
    pub variants: Vec<NoiseVariantResult>,
}

impl NoiseFig4Result {
    /// Layers with a final volume (the longest of the variants' lists).
    pub fn volume_layers(&self) -> usize {
        self.variants
            .iter()
            .map(|v| v.log_volume_per_weight.len())
            .max()
            .unwrap_or(0)
    }
}

pub async fn run(
    cfg: &NoiseFig4Config,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<NoiseFig4Result> {
    let super::Inputs {
        train,
        test,
        dataset,
        device,
        backend,
        ..
    } = inputs;
    if cfg.variants.is_empty() || cfg.seeds == 0 || cfg.base.kfac_rows == 0 {
        return Err(LabError::Config(
            "the noise preset needs a variant, a seed and kfac_rows ≥ 1".into(),
        ));
    }
    for &v in &cfg.variants {
        cfg.train_config(v, cfg.base.seed).validate(
            train.len(),
            test.len(),
            train.dim,
            train.classes,
        )?;
    }
    let kfac_data = train.first(cfg.base.kfac_rows.min(cfg.base.train_size))?;
    let mut variants = Vec::new();
    for (k, &variant) in cfg.variants.iter().enumerate() {
        let stage = format!("{} ({}/{})", variant.label(), k + 1, cfg.variants.len());
        let r = run_seeds(
            |seed| cfg.train_config(variant, seed),
            cfg.seeds,
            cfg.base.seed,
            train,
            test,
            dataset,
            &device,
            backend,
            &stage,
            reporter,
        )
        .await?;
        // A seed whose network died (all units of a layer dead) has no finite Laplace volume:
        // it is left out of the mean and counted.
        let masked = matches!(
            variant,
            NoiseVariant::Dropout | NoiseVariant::GaussianDropout
        );
        let mut per_seed: Vec<Vec<f64>> = Vec::new();
        let mut mask_free: Vec<Vec<f64>> = Vec::new();
        for (tc, theta) in &r.finals {
            let volume = |noise: MaskNoise| -> LabResult<Vec<f64>> {
                let f = factors(
                    tc.require_mlp()?,
                    theta,
                    &kfac_data,
                    noise,
                    cfg.base.mask_draws,
                    &mut stream(tc.seed, Stream::GradientNoise),
                )?;
                Ok(laplace_volumes(tc.require_mlp()?, &f, cfg.base.damping)?
                    .iter()
                    .map(|l| l.log_volume / (l.fan_in * l.fan_out) as f64)
                    .collect())
            };
            let v = volume(trained_noise(tc))?;
            if v.iter().all(|x| x.is_finite()) {
                per_seed.push(v);
                if masked {
                    mask_free.push(volume(MaskNoise::Off)?);
                }
            }
        }
        let mean = |per_seed: &[Vec<f64>]| -> Vec<f64> {
            let layers = per_seed.first().map_or(0, Vec::len);
            (0..layers)
                .map(|l| per_seed.iter().map(|v| v[l]).sum::<f64>() / per_seed.len() as f64)
                .collect()
        };
        let mean_volume = mean(&per_seed);
        let volume_seeds = per_seed.len();
        variants.push(NoiseVariantResult {
            variant,
            loss_gap: match (r.final_test_loss, r.final_train_loss) {
                (Some(t), Some(s)) => Some(t.mean - s.mean),
                _ => None,
            },
            curve: r.curve,
            final_test_loss: r.final_test_loss,
            final_test_accuracy: r.final_test_accuracy,
            log_volume_per_weight: mean_volume,
            volume_seeds,
            mask_free_log_volume_per_weight: masked.then(|| mean(&mask_free)),
            diverged: r.diverged,
        });
    }
    Ok(NoiseFig4Result {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        dataset: dataset.to_string(),
        variants,
    })
}

/// The gallery's paper 002 Fig 4 card.
pub struct Noise;

impl super::Preset for Noise {
    type Config = NoiseFig4Config;
    type Result = NoiseFig4Result;

    fn info() -> super::Info {
        super::Info {
            id: "noise",
            paper: "002",
            figure: "Fig. 4",
            title: "Dropout against other noises",
            claim: "Noise that expands the weight volume (like dropout) helps generalisation; noise that contracts it does not.",
            reference: "paper 002, Sec. 5.3, Algorithm 2, Fig. 4",
            description: "The Fig 2 network trained plain, with dropout, Gaussian dropout, the \
                disentanglement noise of Algorithm 2 (correlations reversed from the K-FAC \
                factors, meant to expand the volume) and weight noise (the contraction baseline); \
                test loss over epochs (mean over seeds) and the final volumes. Each noise's K-FAC \
                expectation is taken over its own noise; for the two dropouts the mask-free \
                volume (no masks in the expectations) is drawn dashed beside it.",
        }
    }
    fn demo() -> NoiseFig4Config {
        NoiseFig4Config::demo()
    }
    fn paper() -> NoiseFig4Config {
        NoiseFig4Config {
            base: VolumeTrackConfig {
                correlation_grid: 0,
                correlation_epochs: vec![],
                ..VolumeTrackConfig::paper()
            },
            ..NoiseFig4Config::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        let nonneg = Range::closed(0.0, 100.0);
        let mut f = vec![
            Field::choices(
                "variants",
                "Noises",
                NoiseVariant::ALL
                    .iter()
                    .map(|v| super::schema::Choice::of(v, v.label()))
                    .collect(),
            ),
            Field::float("lambda_a", "Disentanglement λ1 (activations)", nonneg)
                .help("per-unit standard deviation; the paper gives no value"),
            Field::float("lambda_h", "Disentanglement λ2 (node loss)", nonneg),
            Field::float("weight_noise_std", "Weight noise σ", nonneg),
            Field::int("seeds", "Seeds", 1.0, 100.0),
        ];
        f.extend(VolumeTrackConfig::fields(true, false));
        f.push(Field::int("refresh_every", "Steps between K-FAC refreshes", 1.0, 1e6).advanced());
        f
    }
    fn fixed() -> &'static [&'static str] {
        &[
            "correlation_epochs",
            "correlation_grid",
            "correlation_layer",
        ]
    }
    super::preset::one_chart!(crate::charts::draw_noise_fig4, "noise", "Test loss and volume per noise", 960 x 420);
    fn csv(r: &NoiseFig4Result) -> String {
        let layers = r.volume_layers();
        let mut head =
            "variant,epoch,train_loss,test_loss,test_accuracy,diverged_seeds".to_string();
        for l in 0..layers {
            head.push_str(&format!(",final_log_vol_per_weight_layer{}", l + 1));
        }
        for l in 0..layers {
            head.push_str(&format!(",mask_free_log_vol_per_weight_layer{}", l + 1));
        }
        let rows = r.variants.iter().flat_map(|v| {
            v.curve.iter().map(move |p| {
                let mut row = vec![
                    super::to_value(&v.variant)
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    p.epoch.to_string(),
                    p.train_loss.to_string(),
                    p.test_loss.to_string(),
                    p.test_accuracy.to_string(),
                    v.diverged.to_string(),
                ];
                row.extend(v.log_volume_per_weight.iter().map(|x| x.to_string()));
                // A network without masks: its volume is already mask-free.
                let free = v.mask_free_log_volume_per_weight.as_ref();
                row.extend(
                    free.unwrap_or(&v.log_volume_per_weight)
                        .iter()
                        .map(|x| x.to_string()),
                );
                row
            })
        });
        super::csv_header(
            &r.crate_version,
            &r.backend,
            r.config.base.seed,
            &[
                ("dataset", r.dataset.clone()),
                ("seeds", r.config.seeds.to_string()),
            ],
        ) + &super::csv_rows(&head, rows)
    }
    fn summary(r: &NoiseFig4Result) -> String {
        use super::seeded_runs::spread_or_dash as f;
        super::preset::lines(r.variants.iter().map(|v| {
            let vol: Vec<String> = v
                .log_volume_per_weight
                .iter()
                .map(|x| format!("{x:.3}"))
                .collect();
            let free = v
                .mask_free_log_volume_per_weight
                .as_ref()
                .map(|m| {
                    let m: Vec<String> = m.iter().map(|x| format!("{x:.3}")).collect();
                    format!(" (mask-free {})", m.join(", "))
                })
                .unwrap_or_default();
            format!(
                "{:<28} test loss {}, test accuracy {}, gap {}, log vol / D {}{free}{}",
                v.variant.label(),
                f(v.final_test_loss),
                f(v.final_test_accuracy),
                v.loss_gap.map_or("-".into(), |g| format!("{g:.4}")),
                vol.join(", "),
                super::seeded_runs::diverged_note(v.diverged, None)
            )
        }))
    }
}

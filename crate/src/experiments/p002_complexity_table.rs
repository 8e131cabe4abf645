//! Paper 002 Sec. 5.2 (Table 2, App. K): complexity measures of several trained networks side
//! by side with their generalisation gap GG = L_test − L_train, and how well each measure orders
//! the networks by GG (Kendall's τ_b and the sign-based normalised MI of eq. 24) and by drop rate
//! (Table 2's "Dropout" column).
//!
//! Per network: the norms of eq. 25-28; σ by the sharpness method (analysis/sharpness.rs) and
//! from it Sharpness (1/σ², the average-case sharpness, larger = sharper); Table 2's
//! "Sharpness α′", Jiang et al. 2019's worst-case sharpness, as 1/α′²
//! (analysis/worst_case_sharpness.rs); PAC-Sharpness (eq. 29) and PAC-S with the K-FAC Laplace
//! volume, its mask-free variant, and the sampling volume (eq. 30). Sec. 5.2 uses the perturbed models of the sharpness method for the sampling method
//! too; here that is `sampling_noise_from_sharpness`: σ_U = the network's sharpness σ.

use serde::{Deserialize, Serialize};

use super::noise_run::Setting;
use super::p002_fig2_volume::VolumeTrackConfig;
use super::p002_trained_net::train_and_measure;
use super::Reporter;
use crate::analysis::complexity::{norm_measures, pac_sharpness, pac_volume, Measures};
use crate::analysis::kfac::LayerVolume;
use crate::analysis::rank_agreement::{rank_agreement, RankAgreement};
use crate::analysis::sharpness::{sharpness_sigma, NetDeviation, SharpnessOptions, SharpnessSigma};
use crate::analysis::weight_sampling::{sample_volumes, SamplingOptions, SamplingResult};
use crate::analysis::worst_case_sharpness::WorstCaseDeviation;
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplexityTableConfig {
    /// Architecture, data sizes, epochs, seed and K-FAC settings; drop rate and lr come from
    /// `settings`.
    #[serde(flatten)]
    pub base: VolumeTrackConfig,
    pub settings: Vec<Setting>,
    /// Training rows the sharpness and sampling losses run over.
    pub loss_rows: usize,
    pub sharpness: SharpnessOptions,
    pub sampling: SamplingOptions,
    pub sampling_noise_from_sharpness: bool,
}

impl ComplexityTableConfig {
    pub fn demo() -> Self {
        // With momentum 0.9 these are effective rates lr / (1 − μ) of 0.05 and 0.02.
        let settings = [0.005, 0.002]
            .into_iter()
            .flat_map(|lr| [0.0, 0.15, 0.3].map(|drop_rate| Setting { drop_rate, lr }))
            .collect();
        ComplexityTableConfig {
            base: VolumeTrackConfig::demo(),
            settings,
            loss_rows: 1000,
            sharpness: SharpnessOptions::default(),
            sampling: SamplingOptions {
                iterations: 40,
                block: 10,
                chain: false,
                ..SamplingOptions::default()
            },
            sampling_noise_from_sharpness: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetComplexity {
    pub setting: Setting,
    pub train_loss: f32,
    pub test_loss: f32,
    /// GG = test loss − train loss.
    pub loss_gap: f32,
    pub test_accuracy: f32,
    pub norms: Measures,
    pub sharpness: SharpnessSigma,
    /// Jiang et al.'s worst-case α′ (its `sigma` is α′; None in older files).
    #[serde(default)]
    pub worst_case: Option<SharpnessSigma>,
    pub laplace: Vec<LayerVolume>,
    /// The K-FAC volumes with no masks in the expectations (None in older files).
    #[serde(default)]
    pub laplace_mask_free: Option<Vec<LayerVolume>>,
    pub sampling: SamplingResult,
}

/// One complexity measure over all networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureRow {
    pub name: String,
    /// Per network; None where the measure could not be computed (e.g. too few kept samples).
    pub values: Vec<Option<f64>>,
    /// Against GG; None unless every network has a value.
    pub gap: Option<RankAgreement>,
    /// Against the drop rate.
    pub dropout: Option<RankAgreement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplexityTableResult {
    pub config: ComplexityTableConfig,
    pub backend: String,
    pub crate_version: String,
    pub nets: Vec<NetComplexity>,
    pub rows: Vec<MeasureRow>,
}

pub async fn run(
    cfg: &ComplexityTableConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<ComplexityTableResult> {
    let super::Inputs {
        train,
        test,
        device,
        backend,
        ..
    } = inputs;
    if cfg.settings.len() < 2
        || cfg
            .settings
            .iter()
            .any(|s| !(0.0..1.0).contains(&s.drop_rate))
        || cfg.base.kfac_rows == 0
        || cfg.loss_rows == 0
    {
        return Err(LabError::Config(
            "the complexity table needs at least two drop:lr settings with rates in [0, 1), and kfac_rows, loss_rows ≥ 1".into(),
        ));
    }
    let kfac_data = train.first(cfg.base.kfac_rows.min(cfg.base.train_size))?;
    let loss_data = train.first(cfg.loss_rows.min(cfg.base.train_size))?;
    let mut nets = Vec::new();
    let mut pac = Vec::new();
    for (i, s) in cfg.settings.iter().enumerate() {
        let mut one = cfg.base.clone();
        one.drop_rate = s.drop_rate;
        one.lr = s.lr;
        let stage = format!(
            "net {}/{} (drop {}, lr {})",
            i + 1,
            cfg.settings.len(),
            s.drop_rate,
            s.lr
        );
        let net = train_and_measure(
            &one, &kfac_data, train, test, &device, backend, &stage, reporter,
        )
        .await?;
        let model = net.config.require_mlp()?;
        let mut deviation = NetDeviation::new(
            model,
            &net.theta,
            &loss_data,
            cfg.sharpness.draws,
            cfg.base.seed,
            &device,
        )
        .await?;
        let sharpness = sharpness_sigma(&mut deviation, &cfg.sharpness).await?;
        let mut worst = WorstCaseDeviation::new(
            model,
            &net.theta,
            &loss_data,
            cfg.sharpness.ascent_steps,
            cfg.base.seed,
            &device,
        )
        .await?;
        let worst_case = sharpness_sigma(&mut worst, &cfg.sharpness).await?;
        let sampling_opts = SamplingOptions {
            noise_std: if cfg.sampling_noise_from_sharpness {
                sharpness.sigma
            } else {
                cfg.sampling.noise_std
            },
            ..cfg.sampling
        };
        let sampling = sample_volumes(
            &net.config,
            &net.config.mlp_params(&net.theta)?,
            &loss_data,
            &sampling_opts,
            cfg.base.seed,
            &device,
            backend,
            &mut super::StagePrefix::new(&stage, reporter),
        )
        .await?;
        let laplace_logs: Vec<f64> = net.laplace.iter().map(|l| l.log_volume).collect();
        let free_logs: Vec<f64> = net.laplace_mask_free.iter().map(|l| l.log_volume).collect();
        let sampling_logs: Vec<f64> = sampling.layers.iter().map(|l| l.log_volume).collect();
        pac.push((
            pac_sharpness(&net.initial, &net.theta, sharpness.sigma)?,
            pac_volume(&net.initial, &net.theta, sharpness.sigma, &laplace_logs)?,
            pac_volume(&net.initial, &net.theta, sharpness.sigma, &sampling_logs).ok(),
            pac_volume(&net.initial, &net.theta, sharpness.sigma, &free_logs)?,
        ));
        nets.push(NetComplexity {
            setting: *s,
            train_loss: net.last.train_loss,
            test_loss: net.last.test_loss,
            loss_gap: net.last.test_loss - net.last.train_loss,
            test_accuracy: net.last.test_accuracy,
            norms: norm_measures(&net.initial, &net.theta)?,
            sharpness,
            worst_case: Some(worst_case),
            laplace: net.laplace,
            laplace_mask_free: Some(net.laplace_mask_free),
            sampling,
        });
    }
    let gaps: Vec<f64> = nets.iter().map(|n| n.loss_gap as f64).collect();
    let rates: Vec<f64> = nets.iter().map(|n| n.setting.drop_rate as f64).collect();
    let columns: [(&str, Vec<Option<f64>>); 10] = [
        (
            "Frob distance",
            nets.iter()
                .map(|n| Some(n.norms.frobenius_distance))
                .collect(),
        ),
        (
            "Spectral norm",
            nets.iter().map(|n| Some(n.norms.spectral_norm)).collect(),
        ),
        (
            "Parameter norm",
            nets.iter().map(|n| Some(n.norms.parameter_norm)).collect(),
        ),
        (
            "Path norm",
            nets.iter().map(|n| Some(n.norms.path_norm)).collect(),
        ),
        (
            "Sharpness 1/σ²",
            nets.iter()
                .map(|n| Some(n.sharpness.sigma.powi(-2)))
                .collect(),
        ),
        (
            "Sharpness α′ (1/α′²)",
            nets.iter()
                .map(|n| n.worst_case.map(|w| w.sigma.powi(-2)))
                .collect(),
        ),
        ("PAC-Sharpness", pac.iter().map(|p| Some(p.0)).collect()),
        ("PAC-S(Laplace)", pac.iter().map(|p| Some(p.1)).collect()),
        // The same with the mask-free K-FAC volume: what the masks in the estimator add.
        (
            "PAC-S(Laplace, mask-free)",
            pac.iter().map(|p| Some(p.3)).collect(),
        ),
        ("PAC-S(Sampling)", pac.iter().map(|p| p.2).collect()),
    ];
    let rows = columns
        .into_iter()
        .map(|(name, values)| {
            let complete: Option<Vec<f64>> = values.iter().copied().collect();
            MeasureRow {
                name: name.to_string(),
                gap: complete
                    .as_ref()
                    .and_then(|v| rank_agreement(v, &gaps).ok()),
                dropout: complete
                    .as_ref()
                    .and_then(|v| rank_agreement(v, &rates).ok()),
                values,
            }
        })
        .collect();
    Ok(ComplexityTableResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        nets,
        rows,
    })
}

/// The gallery's paper 002 complexity-table card.
pub struct Complexity;

impl super::Preset for Complexity {
    type Config = ComplexityTableConfig;
    type Result = ComplexityTableResult;

    fn info() -> super::Info {
        super::Info {
            id: "complexity",
            paper: "002",
            figure: "Table 2",
            title: "Complexity measures against the generalisation gap",
            claim: "PAC-Bayes bounds with the weight volume order networks by their generalisation gap better than norms do.",
            reference: "paper 002, Sec. 5.2, Table 2, eq. 24-30, App. K",
            description: "One network per drop:lr setting, trained as in Fig 2; for each, the norms \
                of eq. 25-28, σ by the sharpness method (largest σ with max |ΔL| ≤ ε over Gaussian \
                weight noise) and the worst-case α′ (largest box with max ΔL ≤ ε by gradient \
                ascent), PAC-Sharpness (eq. 29) and PAC-S with the Laplace (dropout-aware and \
                mask-free) and the sampling (Algorithm 1) volume (eq. 30), beside the \
                generalisation gap; Kendall τ and the \
                normalised mutual information of eq. 24 say how well each measure orders the \
                networks by their gap.",
        }
    }
    fn demo() -> ComplexityTableConfig {
        ComplexityTableConfig::demo()
    }
    fn paper() -> ComplexityTableConfig {
        ComplexityTableConfig {
            base: VolumeTrackConfig::paper(),
            loss_rows: 10000,
            sampling: SamplingOptions {
                block: 20,
                iterations: 100,
                ..ComplexityTableConfig::demo().sampling
            },
            ..ComplexityTableConfig::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        let pos = Range::left_open(0.0, 1e6);
        let mut f = vec![
            Field::settings(
                "settings",
                "Settings (drop:lr, …)",
                Range::right_open(0.0, 1.0),
                2,
            )
            .help("one network per pair; at least two to rank"),
            Field::float("sharpness.epsilon", "Sharpness: loss change ε", pos)
                .help("paper 002: 0.05 for CIFAR-10"),
            Field::float("sampling.epsilon", "Sampling: accepted loss change ε", pos),
            Field::int("sampling.iterations", "Sampling iterations", 2.0, 1e6),
            Field::int("loss_rows", "Loss rows", 1.0, 1e7)
                .help("training images the loss changes are measured on"),
        ];
        f.extend(VolumeTrackConfig::fields(false, false));
        f.extend([
            Field::int(
                "sharpness.draws",
                "Sharpness: Gaussian directions",
                1.0,
                1e5,
            )
            .advanced(),
            Field::float("sharpness.first_sigma", "Sharpness: first σ", pos).advanced(),
            Field::float(
                "sharpness.factor",
                "Sharpness: grid ratio",
                Range::open(1.0, 1e3),
            )
            .advanced(),
            Field::float("sharpness.max_sigma", "Sharpness: largest σ", pos).advanced(),
            Field::int(
                "sharpness.bisections",
                "Sharpness: bisection steps",
                0.0,
                200.0,
            )
            .advanced(),
            Field::int(
                "sharpness.ascent_steps",
                "Sharpness α′: ascent steps",
                0.0,
                1000.0,
            )
            .help("sign-gradient ascent steps of the worst-case search in the box")
            .advanced(),
            Field::float("sampling.noise_std", "Sampling: σ_U", pos)
                .help("used when σ_U does not come from the sharpness search")
                .advanced(),
            Field::bool(
                "sampling_noise_from_sharpness",
                "Sampling: σ_U from the sharpness σ",
            )
            .advanced(),
            Field::float(
                "sampling.lr",
                "Sampling: learning rate of the epoch after each draw",
                Range::closed(0.0, 100.0),
            )
            .advanced(),
            Field::int("sampling.batch_size", "Sampling: batch size", 1.0, 1e7).advanced(),
            Field::bool(
                "sampling.chain",
                "Sampling: accumulate the noise (Algorithm 1 literally)",
            )
            .advanced(),
            Field::int(
                "sampling.block",
                "Sampling: weights per correlation block",
                2.0,
                1e4,
            )
            .advanced(),
        ]);
        f
    }
    fn fixed() -> &'static [&'static str] {
        &VolumeTrackConfig::SWEPT
    }
    super::preset::one_chart!(crate::charts::draw_complexity_table, "table", "How each measure orders the networks", 960 x 400);
    fn csv(r: &ComplexityTableResult) -> String {
        let rows = r.rows.iter().flat_map(|row| {
            r.nets.iter().enumerate().map(move |(i, n)| {
                vec![
                    row.name.clone(),
                    n.setting.drop_rate.to_string(),
                    n.setting.lr.to_string(),
                    super::opt(row.values[i]),
                    n.loss_gap.to_string(),
                    super::opt(row.gap.map(|a| a.kendall_tau)),
                    super::opt(row.gap.map(|a| a.normalised_mi)),
                    super::opt(row.dropout.map(|a| a.kendall_tau)),
                    super::opt(row.dropout.map(|a| a.normalised_mi)),
                ]
            })
        });
        super::csv_header(&r.crate_version, &r.backend, r.config.base.seed, &[])
            + &super::csv_rows(
                "measure,drop_rate,lr,value,loss_gap,kendall_tau_gap,normalised_mi_gap,kendall_tau_dropout,normalised_mi_dropout",
                rows,
            )
    }
    fn summary(r: &ComplexityTableResult) -> String {
        let head: String = r
            .nets
            .iter()
            .map(|n| {
                // One space at least: "0.15:0.005" fills the column.
                format!(
                    " {:>10}",
                    format!("{}:{}", n.setting.drop_rate, n.setting.lr)
                )
            })
            .collect();
        let gaps: String = r
            .nets
            .iter()
            .map(|n| format!(" {:>10.4}", n.loss_gap))
            .collect();
        let mut lines = vec![
            format!("{:<26}{head}   τ(GG)  Î(GG)", "drop:lr"),
            format!("{:<26}{gaps}", "gap (GG)"),
        ];
        for row in &r.rows {
            let values: String = row
                .values
                .iter()
                .map(|v| format!(" {:>10}", v.map_or("-".into(), |v| format!("{v:.3e}"))))
                .collect();
            let agree = row.gap.map_or("      -      -".into(), |a| {
                format!("{:>7.2}{:>7.2}", a.kendall_tau, a.normalised_mi)
            });
            lines.push(format!("{:<26}{values}{agree}", row.name));
        }
        lines.push(String::new());
        for n in &r.nets {
            lines.push(format!(
                "drop {}, lr {}: σ {:.2e}, sampling kept {}/{}{}",
                n.setting.drop_rate,
                n.setting.lr,
                n.sharpness.sigma,
                n.sampling.accepted,
                n.sampling.losses.len(),
                n.sampling
                    .volume_error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" ({e})"))
            ));
        }
        lines.join("\n")
    }
}

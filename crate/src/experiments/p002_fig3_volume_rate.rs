//! Paper 002 Fig. 3 (Sec. 5.1): weight volume and generalisation gap against the drop rate.
//! One network per rate (the paper: 0, 0.15, 0.3, 0.45; VGG16 there, the MLP of Fig. 2(b) here),
//! same initialisation and seed, trained as in `p002_fig2_volume.rs`; at the end each layer's
//! dropout-aware K-FAC log volume per weight and the gap test loss - train loss (the paper's
//! numbers are loss gaps) and train - test accuracy.

use serde::{Deserialize, Serialize};

use super::p002_fig2_volume::VolumeTrackConfig;
use super::p002_trained_net::train_and_measure;
use super::Reporter;
use crate::analysis::kfac::LayerVolume;
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRateConfig {
    /// Everything but the drop rate, which `drop_rates` sweeps.
    #[serde(flatten)]
    pub base: VolumeTrackConfig,
    pub drop_rates: Vec<f32>,
}

impl VolumeRateConfig {
    pub fn demo() -> Self {
        VolumeRateConfig {
            base: VolumeTrackConfig::demo(),
            drop_rates: vec![0.0, 0.15, 0.3, 0.45],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    pub drop_rate: f32,
    /// Dropout-aware K-FAC volumes.
    pub layers: Vec<LayerVolume>,
    /// With no masks in the expectations (None in older files).
    #[serde(default)]
    pub mask_free_layers: Option<Vec<LayerVolume>>,
    pub train_loss: f32,
    pub test_loss: f32,
    /// test loss - train loss.
    pub loss_gap: f32,
    /// train accuracy - test accuracy.
    pub accuracy_gap: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRateResult {
    pub config: VolumeRateConfig,
    pub backend: String,
    pub crate_version: String,
    pub points: Vec<RatePoint>,
}

pub async fn run(
    cfg: &VolumeRateConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<VolumeRateResult> {
    let super::Inputs {
        train,
        test,
        device,
        backend,
        ..
    } = inputs;
    if cfg.drop_rates.is_empty()
        || cfg.drop_rates.iter().any(|p| !(0.0..1.0).contains(p))
        || cfg.base.kfac_rows == 0
    {
        return Err(LabError::Config(
            "drop rates must lie in [0, 1) (at least one) and kfac_rows be ≥ 1".into(),
        ));
    }
    let kfac_data = train.first(cfg.base.kfac_rows.min(cfg.base.train_size))?;
    let mut points = Vec::new();
    for (i, &p) in cfg.drop_rates.iter().enumerate() {
        let mut one = cfg.base.clone();
        one.drop_rate = p;
        let stage = format!("drop rate {p} ({}/{})", i + 1, cfg.drop_rates.len());
        let net = train_and_measure(
            &one, &kfac_data, train, test, &device, backend, &stage, reporter,
        )
        .await?;
        points.push(RatePoint {
            drop_rate: p,
            layers: net.laplace,
            mask_free_layers: Some(net.laplace_mask_free),
            train_loss: net.last.train_loss,
            test_loss: net.last.test_loss,
            loss_gap: net.last.test_loss - net.last.train_loss,
            accuracy_gap: net.last.train_accuracy - net.last.test_accuracy,
        });
    }
    Ok(VolumeRateResult {
        config: cfg.clone(),
        backend: backend.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        points,
    })
}

/// The gallery's paper 002 Fig 3 card.
pub struct VolumeRate;

impl super::Preset for VolumeRate {
    type Config = VolumeRateConfig;
    type Result = VolumeRateResult;

    fn info() -> super::Info {
        super::Info {
            id: "volumerate",
            paper: "002",
            figure: "Fig. 3",
            title: "Weight volume against the drop rate",
            claim:
                "A larger drop rate gives a larger weight volume and a smaller generalisation gap.",
            reference: "paper 002, Sec. 5.1 and Fig. 3 (rates 0, 0.15, 0.3, 0.45)",
            description: "One 784-64-32-16-10 network per drop rate (SGD with momentum 0.9, the \
                paper's optimiser; dropout after every hidden layer), its final K-FAC weight \
                volumes per layer, dropout-aware (solid) and mask-free (dashed), and its \
                generalisation gap (test minus train loss, as the paper reports it).",
        }
    }
    fn demo() -> VolumeRateConfig {
        VolumeRateConfig::demo()
    }
    fn paper() -> VolumeRateConfig {
        VolumeRateConfig {
            base: VolumeTrackConfig::paper(),
            ..VolumeRateConfig::demo()
        }
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        let mut f = vec![Field::floats(
            "drop_rates",
            "Drop rates",
            Range::right_open(0.0, 1.0),
            1,
        )];
        f.push(Field::float(
            "lr",
            "Learning rate",
            Range::left_open(0.0, 100.0),
        ));
        f.extend(VolumeTrackConfig::fields(false, false));
        f
    }
    fn fixed() -> &'static [&'static str] {
        &[
            "drop_rate",
            "correlation_epochs",
            "correlation_grid",
            "correlation_layer",
        ]
    }
    super::preset::one_chart!(crate::charts::draw_volume_rate, "rate", "Volume and gap against the drop rate", 960 x 400);
    fn csv(r: &VolumeRateResult) -> String {
        let rows = r.points.iter().flat_map(|p| {
            let free = p.mask_free_layers.as_ref();
            p.layers.iter().enumerate().map(move |(k, l)| {
                let f = free.and_then(|f| f.get(k));
                vec![
                    p.drop_rate.to_string(),
                    (l.layer + 1).to_string(),
                    l.fan_in.to_string(),
                    l.fan_out.to_string(),
                    l.log_volume.to_string(),
                    (l.log_volume / (l.fan_in * l.fan_out) as f64).to_string(),
                    super::opt(f.map(|f| f.log_volume / (f.fan_in * f.fan_out) as f64)),
                    p.train_loss.to_string(),
                    p.test_loss.to_string(),
                    p.loss_gap.to_string(),
                    p.accuracy_gap.to_string(),
                ]
            })
        });
        super::csv_header(&r.crate_version, &r.backend, r.config.base.seed, &[])
            + &super::csv_rows(
                "drop_rate,layer,fan_in,fan_out,log_volume,log_volume_per_weight,mask_free_log_volume_per_weight,train_loss,test_loss,loss_gap,accuracy_gap",
                rows,
            )
    }
    fn summary(r: &VolumeRateResult) -> String {
        super::preset::lines(r.points.iter().map(|p| {
            let per: Vec<String> = super::p002_fig2_volume::per_weight(&p.layers)
                .iter()
                .map(|x| format!("{x:.3}"))
                .collect();
            let free = p
                .mask_free_layers
                .as_ref()
                .map(|f| {
                    let f: Vec<String> = super::p002_fig2_volume::per_weight(f)
                        .iter()
                        .map(|x| format!("{x:.3}"))
                        .collect();
                    format!(" (mask-free {})", f.join(", "))
                })
                .unwrap_or_default();
            format!(
                "drop {}: log vol / D per layer {}{free}; loss gap {:.4}, accuracy gap {:.2} points",
                p.drop_rate,
                per.join(", "),
                p.loss_gap,
                100.0 * p.accuracy_gap
            )
        }))
    }
}

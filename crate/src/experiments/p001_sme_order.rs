//! Paper 001 Fig. 1(b, c): the weak order of the SMEs. For each drop rate and learning rate η,
//! `trials` runs of dropout GD and of the order-1 and order-2 SMEs from the same θ_0 to time T
//! (p001_sme_dynamics.rs), and ‖E Θ_T − E θ_T‖₂ with its Monte-Carlo error; on log-log axes the
//! distance should fall with slope 1 (order 1) and 2 (order 2) in η (Theorem 1, eq. 14-16).
//!
//! Monte-Carlo error: with K trials each mean carries noise of variance Var/K per coordinate, so
//! even equal means give ‖Δ‖ ≈ √(Σ_j (Var Θ_j + Var θ_j)/K), the `noise` reported beside each
//! distance. A distance below twice that level is marked as at the noise floor and left out of
//! the slope fit (the chart draws it hollow), rather than fitting a slope through noise.

use serde::{Deserialize, Serialize};

use super::p001_sme_dynamics::{steps_for, trajectory, trial_rng, Dynamics, Problem};
use super::Reporter;
use crate::analysis::powerlaw::fit;
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmeOrderConfig {
    /// First n MNIST training images, resized to 7x7.
    pub train_size: usize,
    /// Hidden units m (θ has m (10 + 49) entries).
    pub hidden: usize,
    /// Drop rates 1 − p (the paper's p is the keep probability).
    pub drop_rates: Vec<f64>,
    /// Learning rates η (the x axis).
    pub lrs: Vec<f64>,
    /// Time T = ηN at which the means are compared.
    pub time: f64,
    /// Trials per dynamics and setting (paper: 10).
    pub trials: usize,
    /// Euler–Maruyama steps per dropout step (h = η / substeps).
    pub substeps: usize,
    pub seed: u64,
}

impl SmeOrderConfig {
    pub fn validate(&self) -> LabResult<()> {
        let bad = |m: String| Err(LabError::Config(m));
        if self.drop_rates.iter().any(|&q| !(0.0..1.0).contains(&q)) || self.drop_rates.is_empty() {
            return bad("drop rates must lie in [0, 1) (keep probability p = 1 − rate > 0)".into());
        }
        if self.lrs.len() < 2 || self.lrs.iter().any(|&e| !(e > 0.0 && e.is_finite())) {
            return bad("the order needs at least two positive learning rates".into());
        }
        if !(self.time > 0.0 && self.time.is_finite()) || self.trials < 2 || self.substeps == 0 {
            return bad("time must be positive, trials at least 2 and substeps at least 1".into());
        }
        if self.lrs.iter().any(|&e| e > self.time) {
            return bad(format!(
                "every learning rate must be at most the time T = {}",
                self.time
            ));
        }
        Ok(())
    }
}

/// ‖E Θ_T − E θ_T‖ for one SME order at one setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub order: u8,
    pub distance: f64,
    /// Standard error of the distance (delta method over both sets of trials).
    pub se: f64,
    /// The distance that equal means would show with this many trials.
    pub noise: f64,
    /// √max(distance² − noise², 0): the distance with the Monte-Carlo part taken out.
    pub corrected: f64,
    /// distance < 2 noise: within Monte-Carlo error, not fitted.
    pub floored: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPoint {
    pub drop_rate: f64,
    pub lr: f64,
    /// Dropout steps N = ⌊T/η⌋.
    pub steps: usize,
    /// Mean training loss R_S of the dropout runs at T.
    pub dropout_loss: f64,
    pub gaps: Vec<Gap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFit {
    pub order: u8,
    pub drop_rate: f64,
    /// Slope of log distance on log η over the points above the noise floor.
    pub slope: Option<f64>,
    /// log distance = slope log η + intercept.
    pub intercept: Option<f64>,
    pub used: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmeOrderResult {
    pub config: SmeOrderConfig,
    pub crate_version: String,
    /// Parameters D = m (c + d).
    pub dim: usize,
    pub points: Vec<OrderPoint>,
    pub fits: Vec<OrderFit>,
}

/// Per-coordinate mean and variance of `runs` final parameter vectors.
fn moments(runs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let k = runs.len() as f64;
    let dim = runs[0].len();
    let mean: Vec<f64> = (0..dim)
        .map(|j| runs.iter().map(|r| r[j]).sum::<f64>() / k)
        .collect();
    let var = (0..dim)
        .map(|j| runs.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / (k - 1.0))
        .collect();
    (mean, var)
}

fn gap(order: u8, sme: &[Vec<f64>], drop: &[Vec<f64>]) -> Gap {
    let ((ms, vs), (md, vd)) = (moments(sme), moments(drop));
    let (ks, kd) = (sme.len() as f64, drop.len() as f64);
    let delta: Vec<f64> = ms.iter().zip(&md).map(|(a, b)| a - b).collect();
    let noise_j: Vec<f64> = vs.iter().zip(&vd).map(|(a, b)| a / ks + b / kd).collect();
    let distance = delta.iter().map(|x| x * x).sum::<f64>().sqrt();
    let noise = noise_j.iter().sum::<f64>().sqrt();
    let se = if distance > 0.0 {
        delta
            .iter()
            .zip(&noise_j)
            .map(|(d, n)| (d / distance).powi(2) * n)
            .sum::<f64>()
            .sqrt()
    } else {
        noise
    };
    Gap {
        order,
        distance,
        se,
        noise,
        corrected: (distance * distance - noise * noise).max(0.0).sqrt(),
        floored: distance < 2.0 * noise,
    }
}

pub async fn run(
    cfg: &SmeOrderConfig,
    inputs: &super::Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<SmeOrderResult> {
    cfg.validate()?;
    let problem = Problem::mnist_7x7(inputs.train, inputs.test, cfg.train_size, 1, cfg.hidden)?;
    let theta0 = problem.initial(cfg.seed);
    let settings: Vec<(f64, f64)> = cfg
        .drop_rates
        .iter()
        .flat_map(|&q| cfg.lrs.iter().map(move |&e| (q, e)))
        .collect();
    let total = settings.len() * 3 * cfg.trials;
    let mut done = 0;
    let mut points = Vec::new();
    for (si, &(q, eta)) in settings.iter().enumerate() {
        let p = 1.0 - q;
        let steps = steps_for(cfg.time, eta);
        let mut finals = Vec::new();
        for dynamics in [Dynamics::Dropout, Dynamics::Sme1, Dynamics::Sme2] {
            let mut runs = Vec::with_capacity(cfg.trials);
            for t in 0..cfg.trials {
                let mut rng = trial_rng(cfg.seed, dynamics, si, t);
                runs.push(trajectory(
                    &problem,
                    dynamics,
                    &theta0,
                    p,
                    eta,
                    steps,
                    cfg.substeps,
                    &mut rng,
                    |_, _| {},
                ));
                done += 1;
                let stage = format!("drop {q}, η {eta}: {}", dynamics.label());
                if !reporter.report(&stage, done, total).await {
                    return Err(LabError::Cancelled);
                }
            }
            finals.push(runs);
        }
        let dropout_loss = finals[0]
            .iter()
            .map(|th| problem.net.evaluate(th, &problem.train).0)
            .sum::<f64>()
            / cfg.trials as f64;
        points.push(OrderPoint {
            drop_rate: q,
            lr: eta,
            steps,
            dropout_loss,
            gaps: vec![
                gap(1, &finals[1], &finals[0]),
                gap(2, &finals[2], &finals[0]),
            ],
        });
    }
    let mut fits = Vec::new();
    for order in [1u8, 2] {
        for &q in &cfg.drop_rates {
            let (xs, ys): (Vec<f64>, Vec<f64>) = points
                .iter()
                .filter(|pt| pt.drop_rate == q)
                .filter_map(|pt| {
                    let g = pt.gaps.iter().find(|g| g.order == order)?;
                    (!g.floored).then_some((pt.lr, g.distance))
                })
                .unzip();
            let f = (xs.len() >= 2).then(|| fit(&xs, &ys)).flatten();
            fits.push(OrderFit {
                order,
                drop_rate: q,
                slope: f.as_ref().map(|f| f.slope),
                intercept: f.as_ref().map(|f| f.intercept),
                used: xs.len(),
            });
        }
    }
    Ok(SmeOrderResult {
        config: cfg.clone(),
        crate_version: crate::CRATE_VERSION.to_string(),
        dim: problem.net.dim(),
        points,
        fits,
    })
}

/// The gallery's 001 Fig 1(b, c) card.
pub struct SmeOrder;

impl super::Preset for SmeOrder {
    type Config = SmeOrderConfig;
    type Result = SmeOrderResult;

    fn info() -> super::Info {
        super::Info {
            id: "sme-order",
            paper: "001",
            figure: "Fig. 1(b, c)",
            title: "Weak order of the stochastic modified equations",
            claim: "Dropout GD is weakly approximated by its SME: ‖EΘ_T − Eθ_T‖ falls like η for the order-1 SME and like η² for the order-2 SME.",
            reference: "paper 001, Sec. 4.2-4.3, Theorem 1 (eq. 14-16), Fig. 1(b, c)",
            description: "A two-layer tanh network without biases on MNIST resized to 7x7 \
                (means of 4x4 blocks), quadratic loss on one-hot targets, dropout on the hidden \
                units. From one θ_0, many trials of dropout GD and of the order-1 and order-2 SMEs \
                (Euler–Maruyama with a step η / substeps, noise drawn exactly from the closed-form \
                dropout covariance Σ); the distance between the mean parameters at time T against \
                η on log-log axes, with Monte-Carlo error bars and the noise floor marked. Host \
                f64 on every backend.",
        }
    }
    fn demo() -> SmeOrderConfig {
        SmeOrderConfig {
            train_size: 100,
            hidden: 8,
            drop_rates: vec![0.1, 0.3],
            lrs: vec![0.25, 0.2, 0.15, 0.1],
            time: 1.5,
            trials: 150,
            substeps: 4,
            seed: 1,
        }
    }
    fn paper() -> SmeOrderConfig {
        SmeOrderConfig {
            train_size: 1000,
            hidden: 50,
            drop_rates: vec![0.1, 0.3, 0.5],
            trials: 10,
            ..Self::demo()
        }
    }
    fn validate(c: &SmeOrderConfig) -> LabResult<()> {
        c.validate()
    }
    fn fields() -> Vec<super::Field> {
        use super::schema::{Field, Range};
        vec![
            Field::floats("drop_rates", "Drop rates", Range::right_open(0.0, 1.0), 1)
                .help("one colour each; the paper's keep probability p = 1 − drop rate"),
            Field::floats("lrs", "Learning rates η", Range::left_open(0.0, 10.0), 2),
            Field::int("trials", "Trials per dynamics", 2.0, 1e6).help("the paper: 10"),
            Field::float("time", "Time T = ηN", Range::left_open(0.0, 1e4)),
            Field::int("train_size", "Train images n (7x7)", 1.0, 60000.0),
            Field::int("hidden", "Hidden units m", 1.0, 1000.0),
            Field::int("substeps", "SDE steps per dropout step", 1.0, 1000.0)
                .help("Euler–Maruyama step h = η / substeps")
                .advanced(),
            Field::seed(),
        ]
    }
    super::preset::one_chart!(crate::charts::draw_sme_order, "order", "Distance of the means against η", 960 x 420);
    fn csv(r: &SmeOrderResult) -> String {
        let rows = r.points.iter().flat_map(|pt| {
            pt.gaps.iter().map(move |g| {
                vec![
                    g.order.to_string(),
                    pt.drop_rate.to_string(),
                    pt.lr.to_string(),
                    pt.steps.to_string(),
                    g.distance.to_string(),
                    g.se.to_string(),
                    g.noise.to_string(),
                    g.corrected.to_string(),
                    g.floored.to_string(),
                    pt.dropout_loss.to_string(),
                ]
            })
        });
        super::csv_header(&r.crate_version, "host-f64", r.config.seed, &[])
            + &super::csv_rows(
                "order,drop_rate,lr,steps,distance,se,noise_floor,noise_corrected,floored,dropout_train_loss",
                rows,
            )
    }
    fn summary(r: &SmeOrderResult) -> String {
        super::preset::lines(r.fits.iter().map(|f| {
            let floored = r
                .points
                .iter()
                .filter(|p| p.drop_rate == f.drop_rate)
                .filter(|p| p.gaps.iter().any(|g| g.order == f.order && g.floored))
                .count();
            format!(
                "order {} · p = {:.2}: slope {} over {} η (paper: {}){}",
                f.order,
                1.0 - f.drop_rate,
                f.slope.map_or("—".to_string(), |s| format!("{s:.2}")),
                f.used,
                f.order,
                if floored > 0 {
                    format!(", {floored} at the Monte-Carlo noise floor")
                } else {
                    String::new()
                }
            )
        }))
    }
}

//! Correlation of gradient updates (paper 002 Fig. 2a/2c, App. C, Lemma 3.2): the absolute
//! correlation matrix |ρ(Δ_a, Δ_b)| of the per-step updates Δ_t = w_{t+1} − w_t of a chosen set
//! of weights over the steps of one epoch.
//!
//! Two weights of a grid that share an input unit are multiplied by the same dropout factor, and
//! two that share an output unit by the same back-propagated error; Lemma 3.2 is about weights of
//! distinct units, so the mean |ρ| is also reported over those pairs alone.

use serde::{Deserialize, Serialize};

use super::special::ln_gamma;
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateCorrelation {
    /// |ρ| between the chosen weights' updates, row-major m x m (1 on the diagonal).
    pub abs_correlation: Vec<Vec<f64>>,
    /// Mean of |ρ| over the m(m−1) off-diagonal entries: the quantity Lemma 3.2 bounds.
    pub mean_abs_off_diagonal: f64,
    /// Mean |ρ| over the pairs w_ij, w_kl with i ≠ k and j ≠ l (no shared unit): Lemma 3.2's
    /// setting. None when the weights' units were not given (and in older result files).
    #[serde(default)]
    pub mean_abs_distinct_units: Option<f64>,
    /// Updates the correlations ran over.
    pub steps: usize,
    /// E|r| of the sample correlation of two independent Gaussian series of `steps` values:
    /// the floor a mean |ρ| from this many updates cannot go below in expectation.
    pub independent_mean_abs: f64,
}

/// Under independence the sample correlation of n Gaussian pairs has density ∝ (1 − r²)^{(n−4)/2}
/// on [−1, 1], whose mean absolute value is Γ((n−1)/2) / (√π Γ(n/2)).
pub fn independent_mean_abs_correlation(n: usize) -> f64 {
    let n = n as f64;
    (ln_gamma((n - 1.0) / 2.0) - ln_gamma(n / 2.0)).exp() / std::f64::consts::PI.sqrt()
}

/// `trajectory`: the weights (all of them, in one fixed layout) at consecutive steps; `chosen`:
/// indices into that layout; `units`: each chosen weight's (input unit, output unit), or empty.
pub fn update_correlation(
    trajectory: &[Vec<f32>],
    chosen: &[usize],
    units: &[(usize, usize)],
) -> LabResult<UpdateCorrelation> {
    let updates: Vec<Vec<f64>> = trajectory
        .windows(2)
        .map(|w| {
            chosen
                .iter()
                .map(|&i| w[1][i] as f64 - w[0][i] as f64)
                .collect()
        })
        .collect();
    let mut c = abs_correlation(&updates)?;
    if !units.is_empty() {
        if units.len() != chosen.len() {
            return Err(LabError::Config(format!(
                "{} weights but {} unit pairs",
                chosen.len(),
                units.len()
            )));
        }
        c.mean_abs_distinct_units = mean_abs_distinct_units(&c.abs_correlation, units);
    }
    Ok(c)
}

/// Mean of |ρ| over pairs that share neither their input nor their output unit (None if the
/// grid has no such pair, e.g. a single row).
pub fn mean_abs_distinct_units(abs: &[Vec<f64>], units: &[(usize, usize)]) -> Option<f64> {
    let (mut sum, mut count) = (0.0, 0usize);
    for (a, &(ia, oa)) in units.iter().enumerate() {
        for (b, &(ib, ob)) in units.iter().enumerate() {
            if ia != ib && oa != ob {
                sum += abs[a][b];
                count += 1;
            }
        }
    }
    (count > 0).then(|| sum / count as f64)
}

/// |ρ| of the columns of `rows` (one row per observation).
pub fn abs_correlation(rows: &[Vec<f64>]) -> LabResult<UpdateCorrelation> {
    let n = rows.len();
    let m = rows.first().map_or(0, Vec::len);
    if n < 3 || m < 2 {
        return Err(LabError::Config(format!(
            "update correlations need at least 3 updates of 2 weights, got {n} of {m}"
        )));
    }
    let mean: Vec<f64> = (0..m)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let mut cov = vec![vec![0.0f64; m]; m];
    for r in rows {
        for a in 0..m {
            for b in 0..m {
                cov[a][b] += (r[a] - mean[a]) * (r[b] - mean[b]);
            }
        }
    }
    let sd: Vec<f64> = (0..m).map(|a| cov[a][a].sqrt()).collect();
    let mut abs = vec![vec![0.0f64; m]; m];
    let mut off = 0.0;
    for a in 0..m {
        for b in 0..m {
            // A weight that never moved (e.g. from a dead unit) is uncorrelated with everything.
            abs[a][b] = if a == b {
                1.0
            } else if sd[a] > 0.0 && sd[b] > 0.0 {
                (cov[a][b] / (sd[a] * sd[b])).abs()
            } else {
                0.0
            };
            if a != b {
                off += abs[a][b];
            }
        }
    }
    Ok(UpdateCorrelation {
        abs_correlation: abs,
        mean_abs_off_diagonal: off / (m * (m - 1)) as f64,
        mean_abs_distinct_units: None,
        steps: n,
        independent_mean_abs: independent_mean_abs_correlation(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};
    use rand::Rng;
    use rand_distr::StandardNormal;

    /// Pairs (x, y) with correlation ρ, then the dropout view of Lemma 3.2: each multiplied by
    /// its own η ~ Bernoulli(1−q)/(1−q).
    fn pairs(n: usize, rho: f64, q: f64, seed: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut rng = stream(seed, Stream::Directions);
        let mut plain = Vec::new();
        let mut dropped = Vec::new();
        for _ in 0..n {
            let z0: f64 = rng.sample(StandardNormal);
            let z1: f64 = rng.sample(StandardNormal);
            let x = z0;
            let y = rho * z0 + (1.0 - rho * rho).sqrt() * z1;
            plain.push(vec![x, y]);
            let mut eta = || {
                if rng.random::<f64>() < q {
                    0.0
                } else {
                    1.0 / (1.0 - q)
                }
            };
            dropped.push(vec![eta() * x, eta() * y]);
        }
        (plain, dropped)
    }

    #[test]
    fn recovers_a_known_gaussian_correlation() {
        // Sample correlation's standard error (1 − ρ²)/sqrt(n) = 0.0036 at n = 40000; 4 of them.
        let (plain, _) = pairs(40000, 0.6, 0.0, 1);
        let c = abs_correlation(&plain).unwrap();
        assert!((c.abs_correlation[0][1] - 0.6).abs() < 0.015, "{c:?}");
        assert_eq!(c.abs_correlation[0][1], c.abs_correlation[1][0]);
        assert_eq!(c.mean_abs_off_diagonal, c.abs_correlation[0][1]);
    }

    #[test]
    fn independence_floor_is_the_mean_absolute_null_correlation() {
        // n = 3: density ∝ (1 − r²)^{-1/2}, so E|r| = 2/π.
        assert!((independent_mean_abs_correlation(3) - 2.0 / std::f64::consts::PI).abs() < 1e-12);
        // Monte Carlo at n = 20: 4000 independent pairs, E|r| ≈ 0.18 with spread ≈ 0.14, so the
        // mean's standard error is 0.0022; allow 0.01.
        let mean = (0..4000)
            .map(|r| {
                let (plain, _) = pairs(20, 0.0, 0.0, 1000 + r);
                abs_correlation(&plain).unwrap().abs_correlation[0][1]
            })
            .sum::<f64>()
            / 4000.0;
        let want = independent_mean_abs_correlation(20);
        assert!((mean - want).abs() < 0.01, "{mean} vs {want}");
    }

    #[test]
    fn dropout_noise_shrinks_the_correlation_by_one_minus_q() {
        // Lemma 3.2 for zero-mean updates: Cov is unchanged (E η = 1) while each variance grows
        // by E η² = 1/(1−q), so |ρ̃| = (1−q)|ρ| exactly; Monte Carlo within 0.02.
        let (rho, q) = (-0.8, 0.3);
        let (_, dropped) = pairs(60000, rho, q, 2);
        let c = abs_correlation(&dropped).unwrap();
        let want = (1.0 - q) * rho.abs();
        assert!(
            (c.abs_correlation[0][1] - want).abs() < 0.02,
            "{} vs {want}",
            c.abs_correlation[0][1]
        );
    }

    #[test]
    fn updates_come_from_consecutive_differences() {
        // w_t = s_t·(1, 2, −1, 0) with uneven s_t: the updates of weights 0-2 are exactly
        // collinear (|ρ| = 1) and weight 3 never moves.
        let steps = [0.0f32, 1.0, 3.0, 3.5, 6.0];
        let traj: Vec<Vec<f32>> = steps.iter().map(|&t| vec![t, 2.0 * t, -t, 0.0]).collect();
        let c = update_correlation(&traj, &[0, 1, 2], &[]).unwrap();
        assert_eq!(c.steps, 4);
        for row in &c.abs_correlation {
            for &v in row {
                assert!((v - 1.0).abs() < 1e-12);
            }
        }
        // The never-moving weight 3 is reported uncorrelated, not NaN.
        let c = update_correlation(&traj, &[0, 3], &[]).unwrap();
        assert_eq!(c.abs_correlation[0][1], 0.0);
        assert!(update_correlation(&traj[..2], &[0, 1], &[]).is_err());
    }

    #[test]
    fn distinct_unit_mean_leaves_out_pairs_that_share_a_unit() {
        // A 2 x 2 grid w00, w01, w10, w11 with updates x, x, y, −y, where x and y are zero-mean
        // and orthogonal: |ρ| is 1 for the pairs sharing an input (w00-w01, w10-w11) and 0 for
        // every other pair. So the mean over all 12 ordered pairs is 4/12 and over the distinct-
        // unit pairs (w00-w11, w01-w10, both orders) exactly 0.
        let x = [1.0, -1.0, 1.0, -1.0];
        let y = [1.0, 1.0, -1.0, -1.0];
        let mut traj = vec![vec![0.0f32; 4]];
        for t in 0..4 {
            let last = traj.last().unwrap().clone();
            let step = [x[t], x[t], y[t], -y[t]];
            traj.push(last.iter().zip(step).map(|(w, d)| w + d).collect());
        }
        let units = [(0, 0), (0, 1), (1, 0), (1, 1)];
        let c = update_correlation(&traj, &[0, 1, 2, 3], &units).unwrap();
        assert!(
            (c.mean_abs_off_diagonal - 4.0 / 12.0).abs() < 1e-12,
            "{c:?}"
        );
        assert!(c.mean_abs_distinct_units.unwrap().abs() < 1e-12, "{c:?}");
        // Without units there is nothing to tell the pairs apart by.
        assert_eq!(
            update_correlation(&traj, &[0, 1, 2, 3], &[])
                .unwrap()
                .mean_abs_distinct_units,
            None
        );
        // One row of weights has no pair with distinct inputs.
        assert_eq!(
            mean_abs_distinct_units(&c.abs_correlation, &[(0, 0), (0, 1), (0, 2), (0, 3)]),
            None
        );
        assert!(update_correlation(&traj, &[0, 1], &units).is_err());
    }
}

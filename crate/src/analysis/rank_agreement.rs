//! How well a complexity measure orders models by their generalisation gap: Kendall's τ_b and
//! the sign-based normalised mutual information of paper 002 App. K.1 eq. 24 (after Jiang et
//! al. 2019), both over pairs of models.

use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankAgreement {
    /// Kendall's τ_b in [-1, 1] (ties corrected).
    pub kendall_tau: f64,
    /// eq. 24: Î(V_co, V_pa) = I(V_co, V_pa) / H(V_pa) in [0, 1].
    pub normalised_mi: f64,
}

pub fn rank_agreement(measure: &[f64], target: &[f64]) -> LabResult<RankAgreement> {
    if measure.len() != target.len() || measure.len() < 2 {
        return Err(LabError::Config(format!(
            "rank agreement needs two equally long lists of at least 2 values, got {} and {}",
            measure.len(),
            target.len()
        )));
    }
    if measure.iter().chain(target).any(|v| !v.is_finite()) {
        return Err(LabError::Numerical(
            "rank agreement over non-finite values".into(),
        ));
    }
    let constant = |v: &[f64]| v.iter().all(|&x| x == v[0]);
    if constant(measure) || constant(target) {
        return Err(LabError::Numerical(
            "rank agreement with a constant list is undefined".into(),
        ));
    }
    Ok(RankAgreement {
        kendall_tau: kendall_tau_b(measure, target),
        normalised_mi: sign_mutual_information(measure, target),
    })
}

fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

fn kendall_tau_b(a: &[f64], b: &[f64]) -> f64 {
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (sa, sb) = (sign(a[i] - a[j]), sign(b[i] - b[j]));
            match (sa, sb) {
                (0, 0) => {}
                (0, _) => ties_a += 1,
                (_, 0) => ties_b += 1,
                _ if sa == sb => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let denom =
        (((concordant + discordant + ties_a) * (concordant + discordant + ties_b)) as f64).sqrt();
    (concordant - discordant) as f64 / denom
}

/// eq. 24 over all ordered pairs (i, j), i ≠ j, of V = sign(x_i − x_j) ∈ {−1, 0, 1}.
fn sign_mutual_information(co: &[f64], pa: &[f64]) -> f64 {
    let mut joint = [[0.0f64; 3]; 3];
    let mut pairs = 0.0;
    for i in 0..co.len() {
        for j in 0..co.len() {
            if i != j {
                joint[(sign(co[i] - co[j]) + 1) as usize][(sign(pa[i] - pa[j]) + 1) as usize] +=
                    1.0;
                pairs += 1.0;
            }
        }
    }
    let p = joint.map(|row| row.map(|c| c / pairs));
    let p_co: Vec<f64> = p.iter().map(|row| row.iter().sum()).collect();
    let p_pa: Vec<f64> = (0..3).map(|k| p.iter().map(|row| row[k]).sum()).collect();
    let mut mi = 0.0;
    for (a, row) in p.iter().enumerate() {
        for (b, &pab) in row.iter().enumerate() {
            if pab > 0.0 {
                mi += pab * (pab / (p_co[a] * p_pa[b])).ln();
            }
        }
    }
    let h_pa: f64 = -p_pa
        .iter()
        .filter(|&&q| q > 0.0)
        .map(|q| q * q.ln())
        .sum::<f64>();
    if h_pa > 0.0 {
        mi / h_pa
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};
    use rand::Rng;

    #[test]
    fn kendall_tau_of_hand_counted_orders() {
        let up = [1.0, 2.0, 3.0, 4.0];
        let r = rank_agreement(&up, &[10.0, 20.0, 30.0, 40.0]).unwrap();
        assert_eq!(r.kendall_tau, 1.0);
        assert!(
            (r.normalised_mi - 1.0).abs() < 1e-12,
            "a measure that orders perfectly"
        );
        let r = rank_agreement(&up, &[4.0, 3.0, 2.0, 1.0]).unwrap();
        assert_eq!(r.kendall_tau, -1.0);
        // Reversed signs carry the same information.
        assert!((r.normalised_mi - 1.0).abs() < 1e-12);
        // One swapped pair out of six: (5 - 1) / 6.
        let r = rank_agreement(&up, &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r.kendall_tau - 4.0 / 6.0).abs() < 1e-12);
        assert!(rank_agreement(&up, &[1.0]).is_err());
        assert!(rank_agreement(&[1.0, f64::NAN], &[1.0, 2.0]).is_err());
        assert!(rank_agreement(&up, &[2.0; 4]).is_err(), "constant target");
    }

    #[test]
    fn unrelated_measures_carry_almost_no_information() {
        // Independent uniforms: the pairwise signs are independent up to the pairs' shared
        // members; with 200 models Î is below 0.01 (its scale is ~1/n) and τ within 4 of its
        // standard error sqrt(2(2n+5) / (9n(n-1))) = 0.047.
        let mut rng = stream(5, Stream::Directions);
        let a: Vec<f64> = (0..200).map(|_| rng.random()).collect();
        let b: Vec<f64> = (0..200).map(|_| rng.random()).collect();
        let r = rank_agreement(&a, &b).unwrap();
        assert!(r.normalised_mi < 0.01, "{r:?}");
        assert!(r.kendall_tau.abs() < 4.0 * 0.047, "{r:?}");
    }
}

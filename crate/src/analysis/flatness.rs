//! Interval flatness F_v (paper 000 Sec. 3.2, eq. 5, after Feng & Tu 2021): along a unit direction
//! v, the width θ_r - θ_l of the region around θ0 where L_v(δ) = L(θ0 + δ v) ≤ factor · L_v(0),
//! with θ_l < 0 < θ_r the closest points where L_v = factor · L_v(0) (factor 2 in the paper).
//!
//! Search on each side: steps δ = s · h · 2^k (h = `first_step`) until L_v ≥ the threshold or
//! |δ| exceeds `max_range`, then bisection inside the last bracket to `tolerance`. The doubling
//! finds the nearest crossing whenever L_v rises monotonically within each bracket, which holds
//! near a minimum; a side without a crossing within `max_range` is reported as such, never
//! given an invented width.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::error::LabResult;

/// A loss profile δ ↦ L(θ0 + δ v), possibly evaluated on a device (hence async).
pub trait Profile {
    fn loss(&mut self, delta: f64) -> impl Future<Output = LabResult<f64>>;
}

/// A profile given by a plain function, for closed forms and host-side models.
pub struct FnProfile<F: FnMut(f64) -> f64>(pub F);

impl<F: FnMut(f64) -> f64> Profile for FnProfile<F> {
    fn loss(&mut self, delta: f64) -> impl Future<Output = LabResult<f64>> {
        std::future::ready(Ok((self.0)(delta)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FlatnessOptions {
    pub factor: f64,
    pub first_step: f64,
    pub max_range: f64,
    /// Bisection stops when the bracket is narrower than this (absolute, in δ).
    pub tolerance: f64,
}

impl Default for FlatnessOptions {
    fn default() -> Self {
        FlatnessOptions {
            factor: 2.0,
            first_step: 1e-3,
            max_range: 100.0,
            tolerance: 1e-6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntervalFlatness {
    pub loss0: f64,
    /// θ_l < 0, or None when no crossing lies within max_range on that side.
    pub left: Option<f64>,
    /// θ_r > 0, or None likewise.
    pub right: Option<f64>,
    /// F_v = θ_r - θ_l when both crossings were found.
    pub width: Option<f64>,
    pub evaluations: usize,
}

async fn crossing<P: Profile>(
    p: &mut P,
    sign: f64,
    threshold: f64,
    o: &FlatnessOptions,
    evals: &mut usize,
) -> LabResult<Option<f64>> {
    let (mut inside, mut step) = (0.0f64, o.first_step);
    let mut outside = None;
    while step <= o.max_range {
        *evals += 1;
        if p.loss(sign * step).await? >= threshold {
            outside = Some(step);
            break;
        }
        inside = step;
        step *= 2.0;
    }
    if outside.is_none() && inside < o.max_range {
        // The last doubling overshot max_range: test the range's end itself.
        *evals += 1;
        if p.loss(sign * o.max_range).await? >= threshold {
            outside = Some(o.max_range);
        }
    }
    let Some(mut hi) = outside else {
        return Ok(None);
    };
    let mut lo = inside;
    while hi - lo > o.tolerance {
        let mid = 0.5 * (lo + hi);
        *evals += 1;
        if p.loss(sign * mid).await? >= threshold {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Some(sign * 0.5 * (lo + hi)))
}

pub async fn interval_flatness<P: Profile>(
    p: &mut P,
    o: &FlatnessOptions,
) -> LabResult<IntervalFlatness> {
    let loss0 = p.loss(0.0).await?;
    let threshold = o.factor * loss0;
    let mut evaluations = 1;
    let left = crossing(p, -1.0, threshold, o, &mut evaluations).await?;
    let right = crossing(p, 1.0, threshold, o, &mut evaluations).await?;
    let width = left.zip(right).map(|(l, r)| r - l);
    Ok(IntervalFlatness {
        loss0,
        left,
        right,
        width,
        evaluations,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn run(f: impl FnMut(f64) -> f64) -> IntervalFlatness {
        pollster::block_on(interval_flatness(
            &mut FnProfile(f),
            &FlatnessOptions::default(),
        ))
        .unwrap()
    }

    #[test]
    fn quadratic_width_is_two_sqrt_l0_over_a() {
        for (a, l0) in [(1.0, 0.5), (250.0, 0.01), (1e-3, 2.0)] {
            let r = run(|t| a * t * t + l0);
            let want = 2.0 * (l0 / a).sqrt();
            assert!(
                (r.width.unwrap() - want).abs() < 1e-5,
                "a={a} L0={l0}: {:?} vs {want}",
                r.width
            );
            assert!((r.left.unwrap() + want / 2.0).abs() < 1e-5);
        }
    }

    #[test]
    fn asymmetric_quartic_gives_both_roots() {
        // L(t) = 1 + t^4 - t^3 + t^2 reaches 2 where t^4 - t^3 + t^2 - 1 = (t - 1)(t^3 + t + 1) = 0:
        // t = 1 on the right; on the left the real root of t^3 + t + 1 (Cardano).
        let q = (0.25f64 + 1.0 / 27.0).sqrt();
        let left = (-0.5 + q).cbrt() + (-0.5 - q).cbrt();
        let r = run(|t| 1.0 + t.powi(4) - t.powi(3) + t * t);
        assert!((r.right.unwrap() - 1.0).abs() < 1e-5, "{:?}", r.right);
        assert!(
            (r.left.unwrap() - left).abs() < 1e-5,
            "{:?} vs {left}",
            r.left
        );
        assert!((r.width.unwrap() - (1.0 - left)).abs() < 1e-5);
    }

    #[test]
    fn no_crossing_is_reported_not_invented() {
        // Saturates at 1.5 L0 on the right: never reaches 2 L0 there.
        let r = run(|t| {
            if t > 0.0 {
                1.0 + 0.5 * (1.0 - (-t * t).exp())
            } else {
                1.0 + t * t
            }
        });
        assert_eq!(r.right, None);
        assert_eq!(r.width, None);
        assert!((r.left.unwrap() + 1.0).abs() < 1e-5);
    }
}

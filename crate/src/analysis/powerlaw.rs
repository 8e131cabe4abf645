//! Least-squares power law y = c · x^k, fitted as a line in log-log coordinates
//! (the fitted slopes of paper 000 Figs. 2-5).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerLaw {
    pub slope: f64,
    /// log10 c
    pub intercept: f64,
    /// Coefficient of determination of the log-log line.
    pub r2: f64,
    /// Points used (pairs with x > 0 and y > 0, finite).
    pub used: usize,
}

/// None when fewer than two usable points or all x equal.
pub fn fit(x: &[f64], y: &[f64]) -> Option<PowerLaw> {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite() && **a > 0.0 && **b > 0.0)
        .map(|(a, b)| (a.log10(), b.log10()))
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let r2 = if syy > 0.0 {
        sxy * sxy / (sxx * syy)
    } else {
        1.0
    };
    Some(PowerLaw {
        slope,
        intercept,
        r2,
        used: pts.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};
    use rand::Rng;

    #[test]
    fn recovers_an_exact_power_law() {
        let x: Vec<f64> = (1..=20).map(|i| i as f64 * 0.37).collect();
        let y: Vec<f64> = x.iter().map(|v| 3.0 * v.powf(-0.7)).collect();
        let f = fit(&x, &y).unwrap();
        assert!((f.slope + 0.7).abs() < 1e-12);
        assert!((f.intercept - 3f64.log10()).abs() < 1e-12);
        assert!((f.r2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn recovers_slope_under_noise_and_skips_unusable_points() {
        let mut rng = stream(2, Stream::Directions);
        let x: Vec<f64> = (0..400)
            .map(|i| 10f64.powf(-3.0 + 6.0 * i as f64 / 399.0))
            .collect();
        // Multiplicative noise of ±10%: log-noise sd ~0.025 decades over 6 decades of x.
        let mut y: Vec<f64> = x
            .iter()
            .map(|v| 0.5 * v.powf(1.3) * (1.0 + rng.random_range(-0.1..0.1)))
            .collect();
        y[0] = -1.0;
        y[1] = f64::NAN;
        let f = fit(&x, &y).unwrap();
        assert_eq!(f.used, 398);
        assert!((f.slope - 1.3).abs() < 0.01, "slope {}", f.slope);
        assert!(f.r2 > 0.99);
        assert!(fit(&[1.0], &[1.0]).is_none());
        assert!(fit(&[2.0, 2.0], &[1.0, 3.0]).is_none());
    }
}

//! The disentanglement noise of paper 002 Sec. 4.1 and Algorithm 2: activation reverse noise
//! η_a ~ N(μ, r(Σ_a)), Σ_a = (E[A])⁻¹, added to activations in the forward pass with strength
//! λ1, and node-loss reverse noise η_h ~ N(μ, r(Σ_h)), Σ_h = (E[H])⁻¹, added to the back-
//! propagated error at the pre-activations with strength λ2; r(Σ) reverses the signs of Σ's
//! off-diagonal entries.
//!
//! Choices, stated:
//! - E[A] and E[H] are the K-FAC factors of kfac.rs (A: second moment of the layer's input
//!   activations; H: Gauss-Newton Hessian of the loss at its pre-activations), estimated on a
//!   subset of the training rows at the current weights and refreshed every few steps, with the
//!   same relative damping as the Laplace estimate before inversion.
//! - The noise acts on the hidden layers (where dropout acts): η_a on hidden layer i's
//!   activations (Σ_a from the A factor of layer i + 1, whose input they are), η_h on its
//!   pre-activations (Σ_h from the H factor of layer i). μ = 0.
//! - r(Σ) need not be positive semi-definite (for n > 2). Samples use its PSD part V max(λ, 0) Vᵀ
//!   (eigenvalues clipped at 0, their count reported), drawn as η = B z with B its symmetric
//!   square root V diag(√λ⁺) Vᵀ.
//! - The paper leaves the scale to λ1, λ2. Σ = (E[·])⁻¹ takes the scale of the inverse damping in
//!   flat directions (dead ReLU units have zero curvature), so each covariance is normalised to a
//!   mean diagonal of 1: λ is then the noise's standard deviation per unit (activation units for
//!   λ1, per-example error units for λ2) and r(Σ) sets only its correlation structure.

use nalgebra::DMatrix;

use super::kfac_factors::{damped, Factors};
use crate::error::{LabError, LabResult};
use crate::linalg::dense::symmetric_eigen;

/// r(Σ): the off-diagonal entries with their signs reversed.
pub fn reverse_signs(sigma: &DMatrix<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(sigma.nrows(), sigma.ncols(), |i, j| {
        if i == j {
            sigma[(i, j)]
        } else {
            -sigma[(i, j)]
        }
    })
}

/// The symmetric square root B = V diag(√λ⁺) Vᵀ of the PSD part of the symmetric `m` (so
/// B Bᵀ = V diag(λ⁺) Vᵀ), and how many eigenvalues were clipped. Unlike V diag(√λ⁺) it does not
/// depend on the choice of eigenvectors inside a repeated eigenvalue (dead units give many), so
/// nearby weights (CPU vs WebGPU rounding) give nearby noise from the same draws.
pub fn psd_factor(m: &DMatrix<f64>) -> LabResult<(DMatrix<f64>, usize)> {
    let eig = symmetric_eigen(m.clone())?;
    let clipped = eig.values.iter().filter(|&&v| v < 0.0).count();
    let mut scaled = eig.vectors.clone();
    for (j, &v) in eig.values.iter().enumerate() {
        scaled.column_mut(j).scale_mut(v.max(0.0).sqrt());
    }
    Ok((scaled * eig.vectors.transpose(), clipped))
}

/// Sampling factors of η_a and η_h per hidden layer.
#[derive(Debug, Clone)]
pub struct ReverseNoiseFactors {
    /// B_a of hidden layer i: η_a = B_a z.
    pub activation: Vec<DMatrix<f64>>,
    /// B_h of hidden layer i: η_h = B_h z.
    pub node: Vec<DMatrix<f64>>,
    /// Negative eigenvalues of the r(Σ) matrices that were clipped, in total.
    pub clipped: usize,
}

pub fn reverse_noise_factors(f: &Factors, damping: f64) -> LabResult<ReverseNoiseFactors> {
    if !(damping > 0.0) {
        return Err(LabError::Config(format!(
            "the reverse-noise damping must be positive, got {damping}"
        )));
    }
    let hidden = f.h.len() - 1;
    // A factor that is all zero (a layer of dead units, or no error reaching it) defines no
    // covariance: that layer gets no noise (B = 0) rather than an infinite one.
    let inverse = |m: &DMatrix<f64>| -> LabResult<DMatrix<f64>> {
        if m.iter().any(|v| !v.is_finite()) {
            return Err(LabError::Numerical(
                "a K-FAC factor has NaN or infinite entries (has the model diverged?)".into(),
            ));
        }
        if m.diagonal().mean() <= 0.0 {
            return Ok(DMatrix::zeros(m.nrows(), m.ncols()));
        }
        let inv = damped(m, damping).try_inverse().ok_or_else(|| {
            LabError::Numerical("a K-FAC factor is singular (raise the damping)".into())
        })?;
        if inv.iter().all(|v| v.is_finite()) {
            Ok(inv)
        } else {
            Err(LabError::Numerical(
                "a K-FAC factor's inverse overflows (raise the damping)".into(),
            ))
        }
    };
    let (mut activation, mut node, mut clipped) = (Vec::new(), Vec::new(), 0);
    // B scaled so that B Bᵀ has mean diagonal 1 (= ‖B‖_F² / n).
    let unit = |b: DMatrix<f64>| {
        let mean = b.norm_squared() / b.nrows() as f64;
        if mean > 0.0 {
            b / mean.sqrt()
        } else {
            b
        }
    };
    for i in 0..hidden {
        let (ba, ca) = psd_factor(&reverse_signs(&inverse(&f.a[i + 1])?))?;
        let (bh, ch) = psd_factor(&reverse_signs(&inverse(&f.h[i])?))?;
        activation.push(unit(ba));
        node.push(unit(bh));
        clipped += ca + ch;
    }
    Ok(ReverseNoiseFactors {
        activation,
        node,
        clipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};
    use rand::Rng;
    use rand_distr::StandardNormal;

    fn sample_cov(b: &DMatrix<f64>, n: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = stream(seed, Stream::Directions);
        let d = b.nrows();
        let mut c = DMatrix::zeros(d, d);
        for _ in 0..n {
            let z = nalgebra::DVector::from_fn(d, |_, _| rng.sample::<f64, _>(StandardNormal));
            let eta = b * z;
            c += &eta * eta.transpose();
        }
        c / n as f64
    }

    #[test]
    fn reversed_noise_has_the_reversed_covariance() {
        // A 2x2 r(Σ) keeps its determinant, so it is PSD: the samples' covariance is r(Σ).
        let sigma = DMatrix::from_row_slice(2, 2, &[2.0, 0.8, 0.8, 1.0]);
        let r = reverse_signs(&sigma);
        assert_eq!(r, DMatrix::from_row_slice(2, 2, &[2.0, -0.8, -0.8, 1.0]));
        let (b, clipped) = psd_factor(&r).unwrap();
        assert_eq!(clipped, 0);
        assert!((&b * b.transpose() - &r).abs().max() < 1e-12);
        // 40000 samples: each entry's standard error ≤ sqrt(2·2·2/40000) = 0.014; 4 of them.
        let c = sample_cov(&b, 40000, 1);
        assert!((&c - &r).abs().max() < 0.06, "{c}");
    }

    #[test]
    fn an_indefinite_reversal_is_replaced_by_its_psd_part() {
        // Equicorrelated ρ = 0.6 in 3 dimensions: r(Σ) = (1 + ρ) I − ρ 11ᵀ has eigenvalues
        // 1 + ρ (twice) and 1 − 2ρ = −0.2 < 0, along (1, 1, 1)/√3.
        let rho = 0.6;
        let sigma = DMatrix::from_fn(3, 3, |i, j| if i == j { 1.0 } else { rho });
        let r = reverse_signs(&sigma);
        let (b, clipped) = psd_factor(&r).unwrap();
        assert_eq!(clipped, 1);
        let psd = &b * b.transpose();
        // The PSD part drops the −0.2 direction (1, 1, 1)/√3: r + 0.2 · 11ᵀ/3.
        let want = &r + DMatrix::from_element(3, 3, (1.0 - 2.0 * rho).abs() / 3.0);
        assert!((&psd - &want).abs().max() < 1e-12, "{psd} vs {want}");
        let c = sample_cov(&b, 40000, 2);
        assert!((&c - &psd).abs().max() < 0.06);
    }

    #[test]
    fn factors_give_unit_mean_variance_with_reversed_correlations() {
        // Factors of a 3-4-2-... shape: A of layers 0..2, H of layers 0..2 (hidden: 2 layers).
        let spd = |n: usize, seed: u64| {
            let mut rng = stream(seed, Stream::Directions);
            let b = DMatrix::<f64>::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
            &b * b.transpose() + DMatrix::identity(n, n)
        };
        let f = Factors {
            a: vec![spd(3, 1), spd(4, 2), spd(2, 3)],
            h: vec![spd(4, 4), spd(2, 5), spd(3, 6)],
        };
        let r = reverse_noise_factors(&f, 1e-3).unwrap();
        assert_eq!((r.activation.len(), r.node.len()), (2, 2));
        for (b, (a_or_h, want_n)) in r.activation.iter().chain(&r.node).zip([
            (&f.a[1], 4),
            (&f.a[2], 2),
            (&f.h[0], 4),
            (&f.h[1], 2),
        ]) {
            assert_eq!(b.nrows(), want_n);
            let cov = b * b.transpose();
            assert!((cov.diagonal().mean() - 1.0).abs() < 1e-12);
            // Where r(Σ) is PSD the covariance is r(Σ) up to the normalisation.
            if r.clipped == 0 {
                let sigma = reverse_signs(&damped(a_or_h, 1e-3).try_inverse().unwrap());
                let scaled = &sigma / sigma.diagonal().mean();
                assert!((&cov - &scaled).abs().max() < 1e-9);
            }
        }
        assert!(reverse_noise_factors(&f, 0.0).is_err());
    }
}

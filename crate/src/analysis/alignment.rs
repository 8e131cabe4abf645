//! How dropout noise aligns with curvature.
//! - Paper 000 Sec. 3.5 / 6.3 (Fig. 6): T = Tr(H Σ) against the isotropic baseline
//!   Tr(H Σ̄), Σ̄ = Tr(Σ)/D · I, i.e. Tr(Σ) Tr(H) / D.
//! - Paper 001 eq. 18 (Fig. 3a): the cosine similarity α = Tr(H Σ) / (‖H‖_F ‖Σ‖_F), with a null
//!   baseline: matrices with the same eigenvalues as H and Σ but Haar-random eigenvectors.
//! - Paper 000 Sec. 3.4.2 / 6.2 (Fig. 4): Var(Proj_{v_i}(S)) along the Hessian's eigenvectors.
//!
//! Σ is the sample covariance of N noise samples (rows g_s, Σ = G̃ᵀG̃ / (N-1), G̃ centred). Nothing
//! D x D is formed: Tr(H Σ) = Σ_s g̃_sᵀ (H g̃_s) / (N-1) needs N Hessian-vector products, and
//! ‖Σ‖_F = ‖G̃ G̃ᵀ‖_F / (N-1) comes from the N x N Gram matrix, which has Σ's nonzero spectrum.

use nalgebra::DMatrix;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};
use crate::linalg::hutchinson::Estimate;
use crate::linalg::orthonormal::haar_frame;
use crate::linalg::LinearOperator;

/// Centred samples N x D in f64.
pub fn centre(samples: &[Vec<f32>]) -> LabResult<DMatrix<f64>> {
    let n = samples.len();
    if n < 2 {
        return Err(LabError::Config(format!(
            "a covariance needs at least 2 samples, got {n}"
        )));
    }
    let d = samples[0].len();
    if samples.iter().any(|s| s.len() != d) {
        return Err(LabError::Config(
            "noise samples must have equal length".into(),
        ));
    }
    if samples.iter().any(|s| s.iter().any(|v| !v.is_finite())) {
        return Err(LabError::Numerical(
            "a noise sample has NaN or infinite entries (has the model diverged?)".into(),
        ));
    }
    let mut g = DMatrix::<f64>::from_fn(n, d, |i, j| samples[i][j] as f64);
    for j in 0..d {
        let mean = g.column(j).mean();
        g.column_mut(j).add_scalar_mut(-mean);
    }
    Ok(g)
}

/// The covariance's trace, Frobenius norm and nonzero eigenvalues (descending), via the Gram matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovarianceSummary {
    pub trace: f64,
    pub frobenius: f64,
    pub eigenvalues: Vec<f64>,
}

pub fn covariance_summary(centred: &DMatrix<f64>) -> LabResult<CovarianceSummary> {
    let n = centred.nrows();
    let gram = (centred * centred.transpose()) / (n as f64 - 1.0);
    let eig = crate::linalg::dense::symmetric_eigen(gram.clone())?;
    Ok(CovarianceSummary {
        trace: gram.trace(),
        frobenius: gram.norm(),
        eigenvalues: eig.values.into_iter().map(|v| v.max(0.0)).collect(),
    })
}

/// Tr(H Σ) by N products H g̃_s.
pub async fn trace_h_sigma(h: &mut impl LinearOperator, centred: &DMatrix<f64>) -> LabResult<f64> {
    let n = centred.nrows();
    if centred.ncols() != h.dim() {
        return Err(LabError::Config(format!(
            "samples have {} entries, the Hessian acts on {}",
            centred.ncols(),
            h.dim()
        )));
    }
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| centred.row(i).iter().copied().collect())
        .collect();
    let products = h.apply(&rows).await?;
    let total: f64 = rows
        .iter()
        .zip(&products)
        .map(|(g, hg)| g.iter().zip(hg).map(|(a, b)| a * b).sum::<f64>())
        .sum();
    Ok(total / (n as f64 - 1.0))
}

/// Alignment of one (H, Σ) pair: Fig. 6's two traces and 001's cosine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    /// Tr(H Σ).
    pub trace_h_sigma: f64,
    /// Tr(H Σ̄) = Tr(H) Tr(Σ) / D.
    pub trace_h_isotropic: f64,
    /// α = Tr(H Σ) / (‖H‖_F ‖Σ‖_F).
    pub cosine: f64,
    /// Tr(H) and ‖H‖_F², exact (std_error 0) or Hutchinson estimates.
    pub trace_h: Estimate,
    pub frobenius_sq_h: Estimate,
    pub covariance: CovarianceSummary,
}

impl Alignment {
    /// The chance level of the cosine: the exact mean of the null model below (random
    /// eigenvectors, same spectra), Tr(H)Tr(Σ)/(D‖H‖_F‖Σ‖_F), which needs only traces and norms, so
    /// it is affordable where H's full spectrum is not.
    pub fn null_mean(&self) -> f64 {
        self.trace_h_isotropic
            / (self.frobenius_sq_h.value.max(0.0).sqrt() * self.covariance.frobenius)
    }
}

pub fn combine(
    trace_h_sigma: f64,
    trace_h: Estimate,
    frobenius_sq_h: Estimate,
    covariance: CovarianceSummary,
    dim: usize,
) -> Alignment {
    Alignment {
        trace_h_sigma,
        trace_h_isotropic: trace_h.value * covariance.trace / dim as f64,
        cosine: trace_h_sigma / (frobenius_sq_h.value.max(0.0).sqrt() * covariance.frobenius),
        trace_h,
        frobenius_sq_h,
        covariance,
    }
}

/// The null model of 001's random-matrix comparison: A = U diag(λ) Uᵀ, B = W diag(μ) Wᵀ with U, W
/// independent Haar-random. Then Tr(AB) = Σ_ij λ_i μ_j Q_ij² with Q = UᵀW again Haar, and since
/// E[Q_ij²] = 1/D the mean cosine is exactly Tr(A) Tr(B) / (D ‖λ‖ ‖μ‖).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NullCosine {
    pub analytic_mean: f64,
    pub sample_mean: f64,
    pub sample_std: f64,
    pub repeats: usize,
}

/// `lambda`: all D eigenvalues of H; `mu`: the nonzero eigenvalues of Σ (rank r ≤ N - 1), so only
/// r columns of Q are needed (a Haar D x r frame).
pub fn null_cosine(
    lambda: &[f64],
    mu: &[f64],
    repeats: usize,
    rng: &mut impl Rng,
) -> LabResult<NullCosine> {
    let d = lambda.len();
    // Σ has rank ≤ D: eigenvalues past the D-th (descending) are zeros of the Gram matrix.
    let mu = &mu[..mu.len().min(d)];
    if d == 0 || mu.is_empty() || repeats < 2 {
        return Err(LabError::Config(
            "null cosine: need nonempty spectra and at least 2 repeats".into(),
        ));
    }
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let denom = norm(lambda) * norm(mu);
    let analytic_mean = lambda.iter().sum::<f64>() * mu.iter().sum::<f64>() / (d as f64 * denom);
    let samples: Vec<f64> = (0..repeats)
        .map(|_| {
            let q = haar_frame(d, mu.len(), rng);
            let mut t = 0.0;
            for (j, &m) in mu.iter().enumerate() {
                t += m * q
                    .column(j)
                    .iter()
                    .zip(lambda)
                    .map(|(x, l)| l * x * x)
                    .sum::<f64>();
            }
            t / denom
        })
        .collect();
    let mean = samples.iter().sum::<f64>() / repeats as f64;
    let std =
        (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (repeats as f64 - 1.0)).sqrt();
    Ok(NullCosine {
        analytic_mean,
        sample_mean: mean,
        sample_std: std,
        repeats,
    })
}

/// Var(Proj_v(S)) = vᵀΣv for each direction v (length D), streamed from the raw samples: the
/// projections s·v are centred and squared, so no N x D f64 copy is made (full-parameter noise
/// at the paper's N = 1000 would be 340 MB).
pub fn projected_variances_of(
    samples: &[Vec<f32>],
    directions: &[Vec<f64>],
) -> LabResult<Vec<f64>> {
    let n = samples.len();
    if n < 2 {
        return Err(LabError::Config(format!(
            "a variance needs at least 2 samples, got {n}"
        )));
    }
    let d = samples[0].len();
    if let Some(bad) = samples.iter().position(|s| s.len() != d) {
        return Err(LabError::Config(format!(
            "noise sample {bad} has {} entries, the first has {d}",
            samples[bad].len()
        )));
    }
    if directions.iter().any(|v| v.len() != d) {
        return Err(LabError::Config(format!(
            "projection directions must have the samples' length {d}"
        )));
    }
    if samples.iter().any(|s| s.iter().any(|v| !v.is_finite())) {
        return Err(LabError::Numerical(
            "a noise sample has NaN or infinite entries (has the model diverged?)".into(),
        ));
    }
    Ok(directions
        .iter()
        .map(|v| {
            let proj: Vec<f64> = samples
                .iter()
                .map(|s| s.iter().zip(v).map(|(&a, b)| a as f64 * b).sum())
                .collect();
            let mean = proj.iter().sum::<f64>() / n as f64;
            proj.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)
        })
        .collect())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::linalg::DenseOperator;
    use crate::rng::{stream, Stream};
    use rand_distr::StandardNormal;

    fn random_psd(d: usize, rank: usize, rng: &mut impl Rng) -> DMatrix<f64> {
        let b = DMatrix::<f64>::from_fn(d, rank, |_, _| rng.sample(StandardNormal));
        &b * b.transpose()
    }

    #[test]
    fn traces_and_cosine_equal_their_dense_definitions() {
        let mut rng = stream(12, Stream::Directions);
        let (d, n) = (30, 12);
        let h = random_psd(d, 20, &mut rng) - DMatrix::identity(d, d) * 2.0;
        let samples: Vec<Vec<f32>> = (0..n)
            .map(|_| {
                (0..d)
                    .map(|_| rng.sample::<f32, _>(StandardNormal))
                    .collect()
            })
            .collect();
        let g = centre(&samples).unwrap();
        // Dense Σ entry by entry from the definition.
        let mean: Vec<f64> = (0..d)
            .map(|j| samples.iter().map(|s| s[j] as f64).sum::<f64>() / n as f64)
            .collect();
        let sigma = DMatrix::from_fn(d, d, |a, b| {
            samples
                .iter()
                .map(|s| (s[a] as f64 - mean[a]) * (s[b] as f64 - mean[b]))
                .sum::<f64>()
                / (n as f64 - 1.0)
        });
        let t = pollster::block_on(trace_h_sigma(&mut DenseOperator(h.clone()), &g)).unwrap();
        let dense_t = (&h * &sigma).trace();
        assert!(
            (t - dense_t).abs() <= 1e-9 * dense_t.abs().max(1.0),
            "{t} vs {dense_t}"
        );
        let cov = covariance_summary(&g).unwrap();
        assert!((cov.trace - sigma.trace()).abs() < 1e-9 * sigma.trace());
        assert!((cov.frobenius - sigma.norm()).abs() < 1e-9 * sigma.norm());
        let exact = |v: f64| Estimate {
            value: v,
            std_error: 0.0,
        };
        let a = combine(t, exact(h.trace()), exact(h.norm_squared()), cov, d);
        let dense_cos = dense_t / (h.norm() * sigma.norm());
        assert!(
            (a.cosine - dense_cos).abs() < 1e-9,
            "{} vs {dense_cos}",
            a.cosine
        );
        let iso = (&h * DMatrix::<f64>::identity(d, d) * (sigma.trace() / d as f64)).trace();
        assert!((a.trace_h_isotropic - iso).abs() < 1e-9 * iso.abs());
    }

    #[test]
    fn null_cosine_matches_its_analytic_mean() {
        let mut rng = stream(13, Stream::Directions);
        let lambda: Vec<f64> = (0..50).map(|i| 3.0 * 0.7f64.powi(i) + 0.01).collect();
        let mu: Vec<f64> = (0..10).map(|i| 0.5f64.powi(i)).collect();
        let n = null_cosine(&lambda, &mu, 400, &mut rng).unwrap();
        // Monte-Carlo mean within 4 standard errors of the exact expectation Tr(A)Tr(B)/(D‖λ‖‖μ‖).
        let se = n.sample_std / (n.repeats as f64).sqrt();
        assert!((n.sample_mean - n.analytic_mean).abs() <= 4.0 * se, "{n:?}");
        // And the aligned case (same eigenvectors, sorted) is far above it.
        let aligned = lambda.iter().zip(&mu).map(|(l, m)| l * m).sum::<f64>()
            / (lambda.iter().map(|x| x * x).sum::<f64>().sqrt()
                * mu.iter().map(|x| x * x).sum::<f64>().sqrt());
        assert!(aligned > n.analytic_mean + 10.0 * n.sample_std);
    }

    #[test]
    fn projected_variance_is_v_sigma_v() {
        let mut rng = stream(14, Stream::Directions);
        let samples: Vec<Vec<f32>> = (0..25)
            .map(|_| (0..6).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let g = centre(&samples).unwrap();
        let sigma = g.transpose() * &g / 24.0;
        let dirs = haar_frame(6, 3, &mut rng);
        let columns: Vec<Vec<f64>> = dirs
            .column_iter()
            .map(|c| c.iter().copied().collect())
            .collect();
        let var = projected_variances_of(&samples, &columns).unwrap();
        for (j, v) in var.iter().enumerate() {
            let d = dirs.column(j);
            let want = (d.transpose() * &sigma * d)[(0, 0)];
            assert!((v - want).abs() < 1e-12, "{v} vs {want}");
        }
    }
}

//! Weight volume (paper 002, Def. 3.1): vol(w_l) = det(Σ_l) / ∏_i [Σ_l]_ii ∈ [0, 1], the
//! determinant of the weights' correlation matrix R = D^{-1/2} Σ D^{-1/2}.
//!
//! For thousands of weights vol underflows f64 (a 2500-weight layer with mild correlation gives
//! values like e^-300), so everything is computed as log vol = log det R = 2 Σ log L_ii from the
//! Cholesky factor R = L Lᵀ, and vol is reported as exp(log vol) alongside.
//!
//! From samples, Σ needs more samples than weights to be nonsingular. Following the authors'
//! code, a large layer is split into consecutive blocks of k weights (row-major order of the
//! [fan_in, fan_out] matrix) and the block volumes are averaged; k must be below the sample
//! count. With k = D this is the plain definition.

use nalgebra::DMatrix;

use super::special::digamma;
use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};

/// log det of the correlation matrix of a covariance matrix (−∞ when it is singular).
pub fn log_volume(cov: &DMatrix<f64>) -> LabResult<f64> {
    let n = cov.nrows();
    if !cov.is_square() || n == 0 {
        return Err(LabError::Config(
            "weight volume needs a nonempty square covariance matrix".into(),
        ));
    }
    if cov.iter().any(|v| !v.is_finite()) {
        return Err(LabError::Numerical(
            "the covariance has NaN or infinite entries (has the model diverged?)".into(),
        ));
    }
    let d: Vec<f64> = (0..n).map(|i| cov[(i, i)]).collect();
    if d.iter().any(|&v| v <= 0.0) {
        // A weight that never moves is perfectly determined: the volume is 0.
        return Ok(f64::NEG_INFINITY);
    }
    let r = DMatrix::from_fn(n, n, |i, j| cov[(i, j)] / (d[i] * d[j]).sqrt());
    match r.cholesky() {
        Some(c) => Ok(2.0 * c.l().diagonal().iter().map(|x| x.ln()).sum::<f64>()),
        None => Ok(f64::NEG_INFINITY),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Mean over blocks of log vol.
    pub log_volume: f64,
    /// Mean over blocks of vol (the authors' average of determinants).
    pub volume: f64,
    pub block: usize,
    pub blocks: usize,
}

/// Volume of weight samples (rows: samples, columns: the layer's weights) in blocks of `block`.
pub fn sample_volume(samples: &[Vec<f32>], block: usize) -> LabResult<Volume> {
    let n = samples.len();
    let d = samples.first().map_or(0, Vec::len);
    if block == 0 || block >= n {
        return Err(LabError::Config(format!(
            "the volume block size must be in [1, {n}) for {n} samples, got {block}"
        )));
    }
    let g = crate::analysis::alignment::centre(samples)?;
    let blocks = d / block;
    if blocks == 0 {
        return Err(LabError::Config(format!(
            "the block size {block} exceeds the {d} weights"
        )));
    }
    let (mut logs, mut vols) = (0.0, 0.0);
    for b in 0..blocks {
        let cols = g.columns(b * block, block);
        let cov = cols.transpose() * cols / (n as f64 - 1.0);
        let lv = log_volume(&cov)?;
        logs += lv;
        vols += lv.exp();
    }
    Ok(Volume {
        log_volume: logs / blocks as f64,
        volume: vols / blocks as f64,
        block,
        blocks,
    })
}

/// E[log det R] of the sample correlation matrix R of `samples` independent Gaussian vectors in
/// `block` dimensions: the value `sample_volume` gives for weights with no correlation at all,
/// so the baseline a sampled volume is read against. With S the sample covariance
/// (Wishart with n = samples − 1 degrees of freedom) and log det R = log det S − Σ log S_ii,
/// E log det S = log det Σ + Σ_{i=1..k} ψ((n − i + 1)/2) + k log(2/n) and
/// E log S_ii = log Σ_ii + ψ(n/2) + log(2/n), so E log det R = Σ_{i=1..k} ψ((n−i+1)/2) − k ψ(n/2).
pub fn independent_log_volume(samples: usize, block: usize) -> LabResult<f64> {
    if block == 0 || block >= samples {
        return Err(LabError::Config(format!(
            "the volume block size must be in [1, {samples}) for {samples} samples, got {block}"
        )));
    }
    let n = (samples - 1) as f64;
    Ok((1..=block)
        .map(|i| digamma((n - i as f64 + 1.0) / 2.0))
        .sum::<f64>()
        - block as f64 * digamma(n / 2.0))
}

/// log vol of M⁻¹ for a symmetric positive definite M: −log det M − Σ log [M⁻¹]_ii.
pub fn log_volume_of_inverse(m: &DMatrix<f64>) -> LabResult<f64> {
    let c = m.clone().cholesky().ok_or_else(|| {
        LabError::Numerical(
            "a Kronecker factor is not positive definite (raise the damping)".into(),
        )
    })?;
    let log_det = 2.0 * c.l().diagonal().iter().map(|x| x.ln()).sum::<f64>();
    let inv = c.inverse();
    Ok(-log_det - inv.diagonal().iter().map(|x| x.ln()).sum::<f64>())
}

/// Paper 002 eq. 10-11 (App. I eq. 22-23): Σ ≈ A⁻¹ ⊗ H⁻¹ with A (n_in x n_in), H (n_out x n_out).
/// det(A⁻¹ ⊗ H⁻¹) = det(A⁻¹)^{n_out} det(H⁻¹)^{n_in} and the diagonal of a Kronecker product is
/// the products of the diagonals, so log vol(Σ) = n_out log vol(A⁻¹) + n_in log vol(H⁻¹)
/// without ever forming the (n_in n_out)² matrix.
pub fn kronecker_log_volume(a: &DMatrix<f64>, h: &DMatrix<f64>) -> LabResult<f64> {
    Ok(h.nrows() as f64 * log_volume_of_inverse(a)? + a.nrows() as f64 * log_volume_of_inverse(h)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};
    use rand::Rng;
    use rand_distr::StandardNormal;

    /// Samples of N(0, C) with C equicorrelated: x = sqrt(ρ) z0 + sqrt(1-ρ) z_i.
    fn equicorrelated(n: usize, d: usize, rho: f64, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = stream(seed, Stream::Directions);
        (0..n)
            .map(|_| {
                let z0: f64 = rng.sample(StandardNormal);
                (0..d)
                    .map(|_| {
                        (rho.sqrt() * z0
                            + (1.0 - rho).sqrt() * rng.sample::<f64, _>(StandardNormal))
                            as f32
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn equicorrelated_volume_matches_the_closed_form() {
        // App. G eq. 19: det = (1-ρ)^{n-1} (1+(n-1)ρ).
        let (d, rho) = (8usize, 0.4f64);
        let exact = (1.0 - rho).powi(d as i32 - 1) * (1.0 + (d as f64 - 1.0) * rho);
        let cov = DMatrix::from_fn(d, d, |i, j| if i == j { 2.0 } else { 2.0 * rho });
        assert!(
            (log_volume(&cov).unwrap() - exact.ln()).abs() < 1e-12,
            "scale-free: Σ = 2 R"
        );
        // From 20000 samples: log det of a sample correlation matrix has standard error about
        // sqrt(2 d / N) = 0.028; allow 4 of them.
        let v = sample_volume(&equicorrelated(20000, d, rho, 1), d).unwrap();
        assert!(
            (v.log_volume - exact.ln()).abs() < 0.11,
            "{} vs {}",
            v.log_volume,
            exact.ln()
        );
    }

    #[test]
    fn independent_weights_have_volume_near_one_and_blocks_average() {
        let v = sample_volume(&equicorrelated(20000, 12, 0.0, 2), 4).unwrap();
        assert_eq!(v.blocks, 3);
        assert!(v.volume > 0.99 && v.volume <= 1.0, "{v:?}");
        let err = sample_volume(&equicorrelated(10, 12, 0.0, 2), 12).unwrap_err();
        assert!(err.to_string().contains("block size"), "{err}");
    }

    #[test]
    fn independent_baseline_is_the_mean_of_sampled_independent_volumes() {
        // 400 repeats of 30 samples in 6 independent dimensions: the mean sampled log vol (its
        // spread over repeats is ~0.5, so the mean's standard error ~0.025) within 0.1 of the
        // closed form, which is far from the population value 0.
        let (n, k, repeats) = (30usize, 6usize, 400usize);
        let want = independent_log_volume(n, k).unwrap();
        let mean = (0..repeats)
            .map(|r| {
                sample_volume(&equicorrelated(n, k, 0.0, 100 + r as u64), k)
                    .unwrap()
                    .log_volume
            })
            .sum::<f64>()
            / repeats as f64;
        assert!(want < -0.4, "{want}");
        assert!((mean - want).abs() < 0.1, "{mean} vs {want}");
    }

    #[test]
    fn log_det_matches_a_dense_f64_determinant() {
        let mut rng = stream(3, Stream::Directions);
        let b = DMatrix::<f64>::from_fn(6, 6, |_, _| rng.random_range(-1.0..1.0));
        let cov = &b * b.transpose() + DMatrix::identity(6, 6) * 0.1;
        let want = cov.determinant() / (0..6).map(|i| cov[(i, i)]).product::<f64>();
        assert!((log_volume(&cov).unwrap() - want.ln()).abs() < 1e-10);
    }

    #[test]
    fn kronecker_volume_equals_the_dense_kronecker_product() {
        let mut rng = stream(4, Stream::Directions);
        let spd = |n: usize, rng: &mut rand_chacha::ChaCha8Rng| {
            let b = DMatrix::<f64>::from_fn(n, n, |_, _| rng.random_range(-1.0..1.0));
            &b * b.transpose() + DMatrix::identity(n, n) * 0.5
        };
        let (a, h) = (spd(4, &mut rng), spd(3, &mut rng));
        let sigma = a
            .clone()
            .try_inverse()
            .unwrap()
            .kronecker(&h.clone().try_inverse().unwrap());
        let dense = log_volume(&sigma).unwrap();
        assert!(
            (kronecker_log_volume(&a, &h).unwrap() - dense).abs() < 1e-9,
            "{} vs {dense}",
            kronecker_log_volume(&a, &h).unwrap()
        );
        // det and diagonal identities of Kronecker products, exactly.
        let k = a.kronecker(&h);
        assert!(
            (k.determinant() - a.determinant().powi(3) * h.determinant().powi(4)).abs()
                < 1e-9 * k.determinant().abs()
        );
        for i in 0..4 {
            for j in 0..3 {
                assert_eq!(k[(i * 3 + j, i * 3 + j)], a[(i, i)] * h[(j, j)]);
            }
        }
    }
}

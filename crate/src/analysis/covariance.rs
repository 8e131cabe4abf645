//! PCA of a sample covariance (paper 000 Sec. 3.4.1): eigenvalues λ_i(Σ) and unit eigenvectors
//! v_i(Σ) of Σ = Xcᵀ Xc / (N - 1), Xc the N x D centred samples.
//!
//! When N < D (e.g. 3000 samples of a 2500-weight block, or fewer) the nonzero spectrum comes from
//! the N x N Gram matrix G = Xc Xcᵀ / (N - 1): G u = λ u gives v = Xcᵀ u / sqrt((N - 1) λ).
//! Eigen-solver: `linalg::dense` (faer's self-adjoint eigendecomposition), in f64.

use nalgebra::DMatrix;

use crate::linalg::dense::symmetric_eigen;

use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Descending.
    pub eigenvalues: Vec<f64>,
    /// eigenvectors[i] belongs to eigenvalues[i]; unit length, dimension D.
    pub eigenvectors: Vec<Vec<f64>>,
}

fn centred(samples: &[Vec<f32>]) -> LabResult<DMatrix<f64>> {
    let n = samples.len();
    if n < 2 {
        return Err(LabError::Config(format!(
            "a covariance needs at least 2 samples, got {n}"
        )));
    }
    let d = samples[0].len();
    if d == 0 || samples.iter().any(|s| s.len() != d) {
        return Err(LabError::Config(
            "samples must be non-empty and of equal length".into(),
        ));
    }
    // An eigensolver fed NaN need not terminate: refuse it with a message instead.
    if let Some(i) = samples
        .iter()
        .position(|s| s.iter().any(|v| !v.is_finite()))
    {
        return Err(LabError::Config(format!(
            "sample {i} contains NaN or infinite values: the model has diverged"
        )));
    }
    let mut x = DMatrix::<f64>::from_fn(n, d, |i, j| samples[i][j] as f64);
    for j in 0..d {
        let mean = x.column(j).mean();
        x.column_mut(j).add_scalar_mut(-mean);
    }
    Ok(x)
}

/// The top `k` principal components (all available if fewer); eigenvalues below
/// 1e-12 · λ_max are numerically zero and dropped.
pub fn pca(samples: &[Vec<f32>], k: usize) -> LabResult<Pca> {
    let x = centred(samples)?;
    let (n, d) = x.shape();
    let scale = 1.0 / (n as f64 - 1.0);
    let mut pairs: Vec<(f64, Vec<f64>)> = if n < d {
        let gram = (&x * x.transpose()) * scale;
        let eig = symmetric_eigen(gram)?;
        (0..n)
            .filter_map(|i| {
                let lambda = eig.values[i];
                if lambda <= 0.0 {
                    return None;
                }
                let v = x.transpose() * eig.vectors.column(i) / ((n as f64 - 1.0) * lambda).sqrt();
                Some((lambda, v.iter().copied().collect()))
            })
            .collect()
    } else {
        let cov = (x.transpose() * &x) * scale;
        let eig = symmetric_eigen(cov)?;
        (0..d)
            .map(|i| {
                (
                    eig.values[i],
                    eig.vectors.column(i).iter().copied().collect(),
                )
            })
            .collect()
    };
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top = pairs.first().map_or(0.0, |p| p.0);
    pairs.retain(|p| p.0 > 1e-12 * top);
    pairs.truncate(k);
    Ok(Pca {
        eigenvalues: pairs.iter().map(|p| p.0).collect(),
        eigenvectors: pairs.into_iter().map(|p| p.1).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};
    use rand::Rng;
    use rand_distr::StandardNormal;

    fn random_samples(n: usize, d: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = stream(seed, Stream::Directions);
        // Correlated data: a random mixing of independent Gaussians with unequal scales.
        let mix: Vec<f64> = (0..d * d)
            .map(|_| rng.sample::<f64, _>(StandardNormal) / (d as f64).sqrt())
            .collect();
        (0..n)
            .map(|_| {
                let z: Vec<f64> = (0..d)
                    .map(|j| rng.sample::<f64, _>(StandardNormal) * (1.0 + j as f64))
                    .collect();
                (0..d)
                    .map(|i| (0..d).map(|j| mix[i * d + j] * z[j]).sum::<f64>() as f32)
                    .collect()
            })
            .collect()
    }

    /// Oracle: the dense D x D covariance built entry by entry, then its eigendecomposition.
    fn dense_oracle(samples: &[Vec<f32>]) -> (Vec<f64>, DMatrix<f64>) {
        let (n, d) = (samples.len(), samples[0].len());
        let mean: Vec<f64> = (0..d)
            .map(|j| samples.iter().map(|s| s[j] as f64).sum::<f64>() / n as f64)
            .collect();
        let cov = DMatrix::<f64>::from_fn(d, d, |a, b| {
            samples
                .iter()
                .map(|s| (s[a] as f64 - mean[a]) * (s[b] as f64 - mean[b]))
                .sum::<f64>()
                / (n as f64 - 1.0)
        });
        // nalgebra here, faer in `pca`: the oracle uses an independent eigensolver.
        let eig = nalgebra::SymmetricEigen::new(cov);
        let mut idx: Vec<usize> = (0..d).collect();
        idx.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let vals = idx.iter().map(|&i| eig.eigenvalues[i]).collect();
        let vecs = DMatrix::from_fn(d, d, |r, c| eig.eigenvectors[(r, idx[c])]);
        (vals, vecs)
    }

    fn check_against_dense(n: usize, d: usize) {
        let s = random_samples(n, d, n as u64);
        let got = pca(&s, 10).unwrap();
        let (vals, vecs) = dense_oracle(&s);
        assert_eq!(got.eigenvalues.len(), 10);
        for i in 0..10 {
            assert!(
                (got.eigenvalues[i] / vals[i] - 1.0).abs() < 1e-6,
                "n={n} d={d} λ{i}: {} vs {}",
                got.eigenvalues[i],
                vals[i]
            );
            let v = &got.eigenvectors[i];
            let dot: f64 = (0..d).map(|r| v[r] * vecs[(r, i)]).sum();
            let len: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((len - 1.0).abs() < 1e-9, "unit eigenvector");
            assert!(
                (dot.abs() - 1.0).abs() < 1e-6,
                "n={n} d={d} v{i}: |<v, v_dense>| = {}",
                dot.abs()
            );
        }
    }

    #[test]
    fn direct_path_matches_dense_covariance() {
        check_against_dense(200, 40);
    }

    #[test]
    fn gram_path_matches_dense_covariance() {
        check_against_dense(30, 120);
    }

    #[test]
    fn recovers_a_known_gaussian_covariance() {
        // Independent N(0, σ_j²) coordinates: Σ = diag(σ²), eigenvalues σ² in descending order.
        let sigmas = [3.0f64, 2.0, 1.0, 0.5];
        let mut rng = stream(9, Stream::Directions);
        let n = 40_000;
        let s: Vec<Vec<f32>> = (0..n)
            .map(|_| {
                sigmas
                    .iter()
                    .map(|sd| (rng.sample::<f64, _>(StandardNormal) * sd) as f32)
                    .collect()
            })
            .collect();
        let p = pca(&s, 4).unwrap();
        for (i, sd) in sigmas.iter().enumerate() {
            // The sample variance has relative standard error sqrt(2 / n) = 0.7%; allow 4 of them.
            assert!(
                (p.eigenvalues[i] / (sd * sd) - 1.0).abs() < 0.03,
                "λ{i} = {}",
                p.eigenvalues[i]
            );
            assert!(
                p.eigenvectors[i][i].abs() > 0.99,
                "v{i} is the axis e{i}: {:?}",
                p.eigenvectors[i]
            );
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(pca(&[vec![1.0, 2.0]], 1).is_err());
        assert!(pca(&[vec![1.0, 2.0], vec![1.0]], 1).is_err());
        let e = pca(&[vec![1.0, 2.0], vec![f32::NAN, 1.0], vec![0.0, 0.0]], 1).unwrap_err();
        assert!(e.to_string().contains("sample 1 contains NaN"), "{e}");
    }
}

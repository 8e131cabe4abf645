//! Hutchinson's estimators with Rademacher probes z (entries ±1, E[z zᵀ] = I):
//! Tr(A) = E[zᵀ A z] and, for symmetric A, ‖A‖_F² = Tr(A²) = E[‖A z‖²]. Each estimate comes with
//! its standard error, the sample standard deviation over probes divided by sqrt(probes).

use rand::Rng;

use super::operator::LinearOperator;
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub std_error: f64,
}

fn mean_and_se(xs: &[f64]) -> Estimate {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        f64::INFINITY
    };
    Estimate {
        value: mean,
        std_error: (var / n).sqrt(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hutchinson {
    pub trace: Estimate,
    pub frobenius_sq: Estimate,
    pub probes: usize,
}

fn rademacher(probes: usize, n: usize, rng: &mut impl Rng) -> LabResult<Vec<Vec<f64>>> {
    if probes < 2 {
        return Err(LabError::Config(
            "Hutchinson needs at least 2 probes for an error estimate".into(),
        ));
    }
    Ok((0..probes)
        .map(|_| {
            (0..n)
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect()
        })
        .collect())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Both estimates from the same `probes` Rademacher vectors (applied in one batch).
pub async fn hutchinson(
    op: &mut impl LinearOperator,
    probes: usize,
    rng: &mut impl Rng,
) -> LabResult<Hutchinson> {
    let zs = rademacher(probes, op.dim(), rng)?;
    let azs = op.apply(&zs).await?;
    let quad: Vec<f64> = zs.iter().zip(&azs).map(|(z, az)| dot(z, az)).collect();
    let sq: Vec<f64> = azs.iter().map(|az| dot(az, az)).collect();
    Ok(Hutchinson {
        trace: mean_and_se(&quad),
        frobenius_sq: mean_and_se(&sq),
        probes,
    })
}

/// The same estimates for an operator whose every product is an independent unbiased draw of
/// A v (A = E[A_δ], e.g. the expected-dropout Hessian with a fresh mask per product). Each probe
/// is applied twice: Tr(A) = E[zᵀ A_δ z] from both draws, and ‖A‖_F² = E[(A_δ z)·(A_δ' z)] from
/// their product, since E[A_δ z] (A_δ' z)ᵀ = A z zᵀ A for independent δ, δ'. Squaring one draw
/// would add E‖(A_δ - A) z‖² to ‖A‖_F². For a deterministic operator this is `hutchinson`.
pub async fn hutchinson_independent(
    op: &mut impl LinearOperator,
    probes: usize,
    rng: &mut impl Rng,
) -> LabResult<Hutchinson> {
    let zs = rademacher(probes, op.dim(), rng)?;
    let twice: Vec<Vec<f64>> = zs.iter().flat_map(|z| [z.clone(), z.clone()]).collect();
    let azs = op.apply(&twice).await?;
    let quad: Vec<f64> = zs
        .iter()
        .zip(azs.chunks(2))
        .map(|(z, pair)| 0.5 * (dot(z, &pair[0]) + dot(z, &pair[1])))
        .collect();
    let cross: Vec<f64> = azs.chunks(2).map(|p| dot(&p[0], &p[1])).collect();
    Ok(Hutchinson {
        trace: mean_and_se(&quad),
        frobenius_sq: mean_and_se(&cross),
        probes,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::linalg::DenseOperator;
    use crate::rng::{stream, Stream};
    use nalgebra::DMatrix;

    #[test]
    fn estimates_lie_within_their_stated_error_of_the_exact_values() {
        let mut rng = stream(8, Stream::Directions);
        let b = DMatrix::<f64>::from_fn(40, 40, |_, _| rng.random_range(-1.0..1.0));
        let a = &b + b.transpose();
        let (trace, frob_sq) = (a.trace(), a.norm_squared());
        let mut op = DenseOperator(a);
        let h = pollster::block_on(hutchinson(&mut op, 400, &mut stream(9, Stream::Directions)))
            .unwrap();
        // 4 standard errors: a 6e-5 chance per estimate for a Gaussian mean; the seed is fixed.
        assert!(
            (h.trace.value - trace).abs() <= 4.0 * h.trace.std_error,
            "{:?} vs {trace}",
            h.trace
        );
        assert!(
            (h.frobenius_sq.value - frob_sq).abs() <= 4.0 * h.frobenius_sq.std_error,
            "{:?} vs {frob_sq}",
            h.frobenius_sq
        );
        // The error estimate is informative, not vacuous: well below the quantities themselves.
        assert!(h.frobenius_sq.std_error < 0.1 * frob_sq);
    }

    /// A_δ = A + δ E with E symmetric and δ = ±1 fair: E[A_δ] = A. One squared draw has
    /// expectation ‖A z‖² + ‖E z‖²; two independent draws give ‖A‖_F² without the ‖E‖_F² bias.
    struct Noisy {
        a: DMatrix<f64>,
        e: DMatrix<f64>,
        rng: rand_chacha::ChaCha8Rng,
    }

    impl LinearOperator for Noisy {
        fn dim(&self) -> usize {
            self.a.nrows()
        }
        async fn apply(&mut self, vs: &[Vec<f64>]) -> LabResult<Vec<Vec<f64>>> {
            Ok(vs
                .iter()
                .map(|v| {
                    let s = if self.rng.random::<bool>() { 1.0 } else { -1.0 };
                    let m = &self.a + &self.e * s;
                    (m * nalgebra::DVector::from_column_slice(v))
                        .iter()
                        .copied()
                        .collect()
                })
                .collect())
        }
    }

    #[test]
    fn independent_draws_estimate_the_mean_operator_without_the_noise_bias() {
        let mut rng = stream(3, Stream::Directions);
        let b = DMatrix::<f64>::from_fn(30, 30, |_, _| rng.random_range(-1.0..1.0));
        let a = &b + b.transpose();
        let c = DMatrix::<f64>::from_fn(30, 30, |_, _| rng.random_range(-1.0..1.0));
        let e = &c + c.transpose();
        let (trace, frob_sq, bias) = (a.trace(), a.norm_squared(), e.norm_squared());
        let mut op = Noisy {
            a,
            e,
            rng: stream(4, Stream::Directions),
        };
        let h = pollster::block_on(hutchinson_independent(
            &mut op,
            2000,
            &mut stream(5, Stream::Directions),
        ))
        .unwrap();
        assert!(
            (h.trace.value - trace).abs() <= 4.0 * h.trace.std_error,
            "{:?} vs {trace}",
            h.trace
        );
        assert!(
            (h.frobenius_sq.value - frob_sq).abs() <= 4.0 * h.frobenius_sq.std_error,
            "{:?} vs {frob_sq}",
            h.frobenius_sq
        );
        // The bias a squared draw would carry is far outside that error: the test can tell.
        assert!(
            bias > 20.0 * h.frobenius_sq.std_error,
            "{bias} vs {:?}",
            h.frobenius_sq
        );
        let naive = pollster::block_on(hutchinson(
            &mut op,
            2000,
            &mut stream(5, Stream::Directions),
        ))
        .unwrap();
        assert!(
            naive.frobenius_sq.value - frob_sq > 10.0 * naive.frobenius_sq.std_error,
            "one squared draw is biased up by ‖E‖_F² = {bias}: {:?} vs {frob_sq}",
            naive.frobenius_sq
        );
    }

    #[test]
    fn a_diagonal_matrix_has_zero_trace_error() {
        // zᵀ D z = Tr(D) for every Rademacher z: the estimator is exact and its error 0.
        let mut op = DenseOperator(DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![
            1.0, 2.0, -3.0, 5.0,
        ])));
        let h = pollster::block_on(hutchinson(&mut op, 10, &mut stream(1, Stream::Directions)))
            .unwrap();
        assert_eq!(h.trace.value, 5.0);
        assert_eq!(h.trace.std_error, 0.0);
    }
}

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

/// Both estimates from the same `probes` Rademacher vectors (applied in one batch).
pub async fn hutchinson(
    op: &mut impl LinearOperator,
    probes: usize,
    rng: &mut impl Rng,
) -> LabResult<Hutchinson> {
    if probes < 2 {
        return Err(LabError::Config(
            "Hutchinson needs at least 2 probes for an error estimate".into(),
        ));
    }
    let n = op.dim();
    let zs: Vec<Vec<f64>> = (0..probes)
        .map(|_| {
            (0..n)
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect()
        })
        .collect();
    let azs = op.apply(&zs).await?;
    let quad: Vec<f64> = zs
        .iter()
        .zip(&azs)
        .map(|(z, az)| z.iter().zip(az).map(|(a, b)| a * b).sum())
        .collect();
    let sq: Vec<f64> = azs
        .iter()
        .map(|az| az.iter().map(|x| x * x).sum())
        .collect();
    Ok(Hutchinson {
        trace: mean_and_se(&quad),
        frobenius_sq: mean_and_se(&sq),
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

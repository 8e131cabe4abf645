//! A symmetric linear operator seen only through its products, e.g. a Hessian through HVPs.

use std::future::Future;

use nalgebra::{DMatrix, DVector};

use crate::error::{LabError, LabResult};
use crate::progress::Reporter;

pub trait LinearOperator {
    fn dim(&self) -> usize;
    /// A v for each v. Implementations batch the products where that pays (one device pass for
    /// many directions), so callers hand over as many vectors as they have.
    fn apply(&mut self, vs: &[Vec<f64>]) -> impl Future<Output = LabResult<Vec<Vec<f64>>>>;
}

/// An explicit matrix as an operator: the oracle the iterative methods are tested against, and the
/// form a dense block Hessian takes once built.
pub struct DenseOperator(pub DMatrix<f64>);

impl LinearOperator for DenseOperator {
    fn dim(&self) -> usize {
        self.0.nrows()
    }

    fn apply(&mut self, vs: &[Vec<f64>]) -> impl Future<Output = LabResult<Vec<Vec<f64>>>> {
        let out = vs
            .iter()
            .map(|v| {
                (&self.0 * DVector::from_column_slice(v))
                    .iter()
                    .copied()
                    .collect()
            })
            .collect();
        std::future::ready(Ok(out))
    }
}

/// The operator as a dense matrix: A applied to the unit vectors in batches of `batch`, then
/// symmetrised. Also returns ‖A - Aᵀ‖_F / ‖A‖_F before symmetrising, a measure of the rounding in
/// the products (an exact Hessian is symmetric). Progress goes to `reporter` under `stage`.
pub async fn to_dense(
    op: &mut impl LinearOperator,
    batch: usize,
    reporter: &mut impl Reporter,
    stage: &str,
) -> LabResult<(DMatrix<f64>, f64)> {
    let d = op.dim();
    let mut m = DMatrix::<f64>::zeros(d, d);
    let mut start = 0;
    while start < d {
        let end = (start + batch.max(1)).min(d);
        let units: Vec<Vec<f64>> = (start..end)
            .map(|j| {
                let mut e = vec![0.0; d];
                e[j] = 1.0;
                e
            })
            .collect();
        for (j, col) in (start..end).zip(op.apply(&units).await?) {
            m.column_mut(j).copy_from_slice(&col);
        }
        start = end;
        if !reporter.report(stage, end, d).await {
            return Err(LabError::Cancelled);
        }
    }
    let asymmetry = (&m - m.transpose()).norm() / m.norm().max(f64::MIN_POSITIVE);
    let sym = (&m + m.transpose()) * 0.5;
    Ok((sym, asymmetry))
}

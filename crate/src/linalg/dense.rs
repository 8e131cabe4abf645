//! Full symmetric eigendecomposition (nalgebra, f64), eigenpairs sorted by descending eigenvalue.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::error::{LabError, LabResult};

pub struct Eigen {
    /// Descending.
    pub values: Vec<f64>,
    /// Column i is the unit eigenvector of values[i].
    pub vectors: DMatrix<f64>,
}

pub fn symmetric_eigen(m: DMatrix<f64>) -> LabResult<Eigen> {
    if !m.is_square() {
        return Err(LabError::Config(format!(
            "eigendecomposition of a non-square {}x{} matrix",
            m.nrows(),
            m.ncols()
        )));
    }
    // The QR iteration need not terminate on NaN: refuse it with a message.
    if m.iter().any(|v| !v.is_finite()) {
        return Err(LabError::Numerical(
            "the matrix has NaN or infinite entries (has the model diverged?)".into(),
        ));
    }
    let eig = SymmetricEigen::new(m);
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let values = order.iter().map(|&i| eig.eigenvalues[i]).collect();
    let vectors = DMatrix::from_fn(eig.eigenvectors.nrows(), order.len(), |r, c| {
        eig.eigenvectors[(r, order[c])]
    });
    Ok(Eigen { values, vectors })
}

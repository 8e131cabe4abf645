//! Lanczos with full reorthogonalisation for the extreme eigenpairs of a symmetric operator known
//! only through products (a Hessian through HVPs). Every new Lanczos vector is orthogonalised twice
//! against all previous ones ("twice is enough", Parlett), which keeps the basis orthonormal to
//! rounding and so prevents the ghost copies of converged eigenvalues that plain Lanczos produces.
//! Ritz pairs come from the tridiagonal T_m (nalgebra); the residual of a Ritz pair (θ, Q s) is
//! β_m |s_m|, and iteration stops when the wanted pairs' residuals fall below tol · |θ_max|.

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

use super::dense::symmetric_eigen;
use super::operator::LinearOperator;
use crate::error::{LabError, LabResult};
use crate::progress::Reporter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Largest,
    Smallest,
}

#[derive(Debug, Clone)]
pub struct LanczosOptions {
    pub k: usize,
    pub which: Which,
    /// Krylov dimension limit (capped at the operator's dimension).
    pub max_iter: usize,
    /// Relative residual for convergence.
    pub tol: f64,
}

impl LanczosOptions {
    pub fn top(k: usize) -> Self {
        LanczosOptions {
            k,
            which: Which::Largest,
            max_iter: 20 * k + 100,
            tol: 1e-6,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LanczosResult {
    /// Descending for Largest, ascending for Smallest.
    pub values: Vec<f64>,
    pub vectors: Vec<Vec<f64>>,
    /// ‖A v - θ v‖ bound per pair.
    pub residuals: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// The k wanted eigenpairs; progress (iterations) goes to `reporter` under `stage`.
pub async fn lanczos(
    op: &mut impl LinearOperator,
    opts: &LanczosOptions,
    rng: &mut impl Rng,
    reporter: &mut impl Reporter,
    stage: &str,
) -> LabResult<LanczosResult> {
    let n = op.dim();
    if opts.k == 0 || opts.k > n {
        return Err(LabError::Config(format!(
            "Lanczos: asked for {} eigenpairs of a {n}-dimensional operator",
            opts.k
        )));
    }
    let max_iter = opts.max_iter.clamp(opts.k, n);
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(max_iter);
    let mut alpha: Vec<f64> = Vec::new();
    let mut beta: Vec<f64> = Vec::new();
    let start: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
    let s = norm(&start);
    q.push(start.into_iter().map(|x| x / s).collect());
    let mut last: Option<Ritz> = None;
    for j in 0..max_iter {
        let mut w = op
            .apply(std::slice::from_ref(&q[j]))
            .await?
            .pop()
            .expect("one product per vector");
        if w.iter().any(|x| !x.is_finite()) {
            return Err(LabError::Numerical(
                "an operator product has NaN or infinite entries (has the model diverged?)".into(),
            ));
        }
        alpha.push(dot(&q[j], &w));
        for _ in 0..2 {
            for qi in &q {
                let c = dot(qi, &w);
                w.iter_mut().zip(qi).for_each(|(x, y)| *x -= c * y);
            }
        }
        let b = norm(&w);
        let m = j + 1;
        let r = ritz(&alpha, &beta, b, opts)?;
        let scale = r
            .values
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        // An invariant subspace (b ≈ 0) makes every Ritz pair exact.
        let exhausted = b <= 1e-12 * scale || m == n;
        let converged = m >= opts.k && r.residuals.iter().all(|res| *res <= opts.tol * scale);
        if !reporter.report(stage, m, max_iter).await {
            return Err(LabError::Cancelled);
        }
        if converged || exhausted {
            return Ok(assemble(&q, r, m, true));
        }
        last = Some(r);
        beta.push(b);
        q.push(w.into_iter().map(|x| x / b).collect());
    }
    let r = last.expect("max_iter >= 1");
    Ok(assemble(&q, r, max_iter, false))
}

/// Ritz values, residual bounds β_m |s_m| and the small eigenvectors s of T_m for the wanted pairs.
struct Ritz {
    values: Vec<f64>,
    residuals: Vec<f64>,
    small: Vec<Vec<f64>>,
}

/// Ritz vectors Q s, formed only once, at the end (each costs n·m).
fn assemble(q: &[Vec<f64>], r: Ritz, iterations: usize, converged: bool) -> LanczosResult {
    let n = q[0].len();
    let vectors = r
        .small
        .iter()
        .map(|s| {
            let mut v = vec![0.0; n];
            for (qj, sj) in q.iter().zip(s) {
                v.iter_mut().zip(qj).for_each(|(x, y)| *x += sj * y);
            }
            v
        })
        .collect();
    LanczosResult {
        values: r.values,
        vectors,
        residuals: r.residuals,
        iterations,
        converged,
    }
}

fn ritz(alpha: &[f64], beta: &[f64], b_next: f64, opts: &LanczosOptions) -> LabResult<Ritz> {
    let m = alpha.len();
    let t = DMatrix::from_fn(m, m, |r, c| {
        if r == c {
            alpha[r]
        } else if r + 1 == c {
            beta[r]
        } else if c + 1 == r {
            beta[c]
        } else {
            0.0
        }
    });
    let eig = symmetric_eigen(t)?;
    let take = opts.k.min(m);
    let idx: Vec<usize> = match opts.which {
        Which::Largest => (0..take).collect(),
        Which::Smallest => (0..take).map(|i| m - 1 - i).collect(),
    };
    let mut r = Ritz {
        values: Vec::with_capacity(take),
        residuals: Vec::with_capacity(take),
        small: Vec::with_capacity(take),
    };
    for i in idx {
        let s = eig.vectors.column(i);
        r.values.push(eig.values[i]);
        r.residuals.push(b_next * s[m - 1].abs());
        r.small.push(s.iter().copied().collect());
    }
    Ok(r)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::linalg::orthonormal::haar_frame;
    use crate::linalg::DenseOperator;
    use crate::progress::Silent;
    use crate::rng::{stream, Stream};

    /// Q diag(λ) Qᵀ with a known spectrum: a cluster near the top, negatives, and a big bulk.
    fn known(d: usize) -> (DMatrix<f64>, Vec<f64>) {
        let mut rng = stream(4, Stream::Directions);
        let q = haar_frame(d, d, &mut rng);
        let mut lambda: Vec<f64> = (0..d).map(|i| 10.0 * 0.8f64.powi(i as i32) - 0.5).collect();
        lambda[1] = lambda[0] * 0.999; // a close pair tests resolution
        let m = &q
            * DMatrix::from_diagonal(&nalgebra::DVector::from_vec(lambda.clone()))
            * q.transpose();
        lambda.sort_by(|a, b| b.total_cmp(a));
        (m, lambda)
    }

    #[test]
    fn top_k_equals_dense_and_has_no_ghosts() {
        let (m, lambda) = known(120);
        let mut op = DenseOperator(m.clone());
        let r = pollster::block_on(lanczos(
            &mut op,
            &LanczosOptions::top(8),
            &mut stream(1, Stream::Directions),
            &mut Silent,
            "",
        ))
        .unwrap();
        assert!(r.converged, "not converged in {} iterations", r.iterations);
        for (i, (got, want)) in r.values.iter().zip(&lambda).enumerate() {
            assert!(
                (got - want).abs() <= 1e-4 * want.abs(),
                "λ_{i}: {got} vs {want}"
            );
        }
        // A ghost is a second copy of a converged value: each true eigenvalue is matched once.
        for w in r.values.windows(2) {
            assert!(w[0] - w[1] > 1e-6, "repeated Ritz value {} (ghost)", w[0]);
        }
        for (v, &l) in r.vectors.iter().zip(&r.values) {
            let av = &m * nalgebra::DVector::from_column_slice(v);
            let res = (av - nalgebra::DVector::from_column_slice(v) * l).norm();
            assert!(res <= 1e-4 * lambda[0], "eigenvector residual {res}");
        }
    }

    #[test]
    fn smallest_end_and_cancellation() {
        let (m, lambda) = known(60);
        let mut op = DenseOperator(m);
        let opts = LanczosOptions {
            k: 3,
            which: Which::Smallest,
            max_iter: 60,
            tol: 1e-8,
        };
        let r = pollster::block_on(lanczos(
            &mut op,
            &opts,
            &mut stream(2, Stream::Directions),
            &mut Silent,
            "",
        ))
        .unwrap();
        let mut bottom: Vec<f64> = lambda.iter().rev().take(3).copied().collect();
        bottom.sort_by(f64::total_cmp);
        for (got, want) in r.values.iter().zip(&bottom) {
            assert!((got - want).abs() <= 1e-6, "{got} vs {want}");
        }
        struct StopAt3;
        impl Reporter for StopAt3 {
            async fn report(&mut self, _: &str, done: usize, _: usize) -> bool {
                done < 3
            }
        }
        let cancelled = pollster::block_on(lanczos(
            &mut op,
            &opts,
            &mut stream(2, Stream::Directions),
            &mut StopAt3,
            "",
        ));
        assert_eq!(cancelled.unwrap_err(), LabError::Cancelled);
    }
}

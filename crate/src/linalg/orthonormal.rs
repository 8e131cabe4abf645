//! Haar-random orthonormal frames: the first r columns of a uniformly random orthogonal D x D
//! matrix, from the QR factorisation of a Gaussian D x r matrix with R's diagonal made positive
//! (Mezzadri 2007; without the sign fix the distribution is not Haar).

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

pub fn haar_frame(d: usize, r: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let g = DMatrix::<f64>::from_fn(d, r.min(d), |_, _| rng.sample(StandardNormal));
    let qr = g.qr();
    let mut q = qr.q();
    let rdiag = qr.r().diagonal();
    for (j, s) in rdiag.iter().enumerate() {
        if *s < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

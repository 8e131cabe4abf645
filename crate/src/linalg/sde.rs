//! Euler–Maruyama for dΘ = b(Θ) dt + σ(Θ) dW (Kloeden & Platen 2011, Sec. 9.1): weak order 1 in
//! the step h. Paper 001 checks SMEs of weak order 1 and 2 in the learning rate η, so the step
//! must be a fraction of η (the SME experiments use h = η / substeps) or the solver's own O(h)
//! error would hide the order-2 approximation.

use rand::Rng;

/// Advance `x` by `steps` steps of size `h`: x += h b(x) + √h σ(x) Z. `noise(x, rng)` returns one
/// draw of σ(x) Z (Z ~ N(0, I)), so a caller can sample from a factor of σσᵀ directly.
pub fn euler_maruyama<R: Rng>(
    x: &mut [f64],
    h: f64,
    steps: usize,
    rng: &mut R,
    mut drift: impl FnMut(&[f64]) -> Vec<f64>,
    mut noise: impl FnMut(&[f64], &mut R) -> Vec<f64>,
) {
    let root = h.sqrt();
    for _ in 0..steps {
        let b = drift(x);
        let s = noise(x, rng);
        for ((xi, bi), si) in x.iter_mut().zip(&b).zip(&s) {
            *xi += h * bi + root * si;
        }
    }
}

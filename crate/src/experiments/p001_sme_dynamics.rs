//! The four dynamics of paper 001 Sec. 4.3 from one θ_0, on MNIST resized to 7x7 (means of 4x4
//! blocks, data/resize.rs) with one-hot targets and the two-layer tanh network of
//! objectives/modified_loss.rs:
//! - dropout GD (eq. 6): θ ← θ − η ∇R_S^drop(θ; δ), δ_r ∈ {0, 1/p};
//! - GD on the modified loss L_S (eq. 7);
//! - the order-1 SME (eq. 15), dΘ = −∇L_S dt + √η Σ^{1/2} dW, and the order-2 SME (eq. 16), drift
//!   −∇(L_S + η/4 ‖∇L_S‖²), both by Euler–Maruyama with step h = η / substeps (linalg/sde.rs),
//!   noise drawn exactly from the factor of Σ (analysis/dropout_covariance.rs).
//!
//! Choices where the paper's appendix (not in our copy) would say: θ_0 has w_r ~ N(0, I/d) and
//! a_r ~ N(0, I/m) (drawn once from the seed; every trial starts there, "the same
//! initialization"); the first n training images; T = ηN identifies dropout step N with SDE time.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::analysis::dropout_covariance::DropoutCovariance;
use crate::data::resize::block_means;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::linalg::sde::euler_maruyama;
use crate::objectives::modified_loss::{Sample, TwoLayer};
use crate::rng::{stream, Stream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dynamics {
    /// Dropout GD, eq. 6.
    Dropout,
    /// Order-1 SME, eq. 15.
    Sme1,
    /// Order-2 SME, eq. 16.
    Sme2,
    /// GD on L_S, eq. 7 (the drift alone).
    ModifiedGd,
}

impl Dynamics {
    pub fn label(self) -> &'static str {
        match self {
            Dynamics::Dropout => "dropout",
            Dynamics::Sme1 => "SME order 1",
            Dynamics::Sme2 => "SME order 2",
            Dynamics::ModifiedGd => "GD on L_S",
        }
    }
}

/// The two-layer problem: network shape, training and test samples.
pub struct Problem {
    pub net: TwoLayer,
    pub train: Sample,
    pub test: Sample,
}

fn sample(data: &Dataset) -> Sample {
    let c = data.classes;
    let mut y = vec![0.0; data.len() * c];
    for (i, &l) in data.labels.iter().enumerate() {
        y[i * c + l as usize] = 1.0;
    }
    Sample {
        n: data.len(),
        d: data.dim,
        c,
        x: data.features.iter().map(|&v| v as f64).collect(),
        y,
    }
}

impl Problem {
    /// The first `n_train` / `n_test` images of 28x28 data at 7x7, with `hidden` units.
    pub fn mnist_7x7(
        train: &Dataset,
        test: &Dataset,
        n_train: usize,
        n_test: usize,
        hidden: usize,
    ) -> LabResult<Self> {
        if hidden == 0 {
            return Err(LabError::Config(
                "the two-layer network needs at least one hidden unit".into(),
            ));
        }
        let train = sample(&block_means(&train.first(n_train)?, 4)?);
        let test = sample(&block_means(&test.first(n_test)?, 4)?);
        Ok(Problem {
            net: TwoLayer {
                m: hidden,
                d: train.d,
                c: train.c,
            },
            train,
            test,
        })
    }

    /// θ_0: w_r ~ N(0, I/d), a_r ~ N(0, I/m), from the seed's init stream.
    pub fn initial(&self, seed: u64) -> Vec<f64> {
        let mut rng = stream(seed, Stream::Init);
        let TwoLayer { m, d, c } = self.net;
        let mut theta = Vec::with_capacity(self.net.dim());
        for _ in 0..m {
            for _ in 0..c {
                theta.push(rng.sample::<f64, _>(StandardNormal) / (m as f64).sqrt());
            }
            for _ in 0..d {
                theta.push(rng.sample::<f64, _>(StandardNormal) / (d as f64).sqrt());
            }
        }
        theta
    }
}

/// One trajectory of `dynamics` from θ_0 over `steps` dropout steps of size η (time T = η steps),
/// calling `observe(step, θ)` at step 0 and after each dropout step (every `substeps` SDE steps).
#[allow(clippy::too_many_arguments)]
pub fn trajectory(
    problem: &Problem,
    dynamics: Dynamics,
    theta0: &[f64],
    p: f64,
    eta: f64,
    steps: usize,
    substeps: usize,
    rng: &mut ChaCha8Rng,
    mut observe: impl FnMut(usize, &[f64]),
) -> Vec<f64> {
    let Problem { net, train, .. } = problem;
    let mut theta = theta0.to_vec();
    observe(0, &theta);
    let h = eta / substeps as f64;
    for step in 1..=steps {
        match dynamics {
            Dynamics::Dropout => {
                let delta: Vec<f64> = net.dropout_mask(p, rng);
                let g = net.dropout_grad(&theta, train, Some(&delta));
                theta.iter_mut().zip(&g).for_each(|(t, gi)| *t -= eta * gi);
            }
            Dynamics::ModifiedGd => {
                let g = net.modified_grad(&theta, train, p);
                theta.iter_mut().zip(&g).for_each(|(t, gi)| *t -= eta * gi);
            }
            Dynamics::Sme1 | Dynamics::Sme2 => {
                let noise_scale = eta.sqrt();
                euler_maruyama(
                    &mut theta,
                    h,
                    substeps,
                    rng,
                    |x| match dynamics {
                        Dynamics::Sme2 => net.order2_drift(x, train, p, eta),
                        _ => net.modified_grad(x, train, p).iter().map(|g| -g).collect(),
                    },
                    |x, r| {
                        let z = DropoutCovariance::new(*net, x, train, p).sample(r);
                        z.iter().map(|v| noise_scale * v).collect()
                    },
                );
            }
        }
        observe(step, &theta);
    }
    theta
}

/// The random stream of trial `trial` of `dynamics`: each dynamics and trial draws on its own,
/// so adding trials or settings never shifts the others.
pub fn trial_rng(seed: u64, dynamics: Dynamics, setting: usize, trial: usize) -> ChaCha8Rng {
    let which = match dynamics {
        Dynamics::Dropout => 0,
        Dynamics::Sme1 => 1,
        Dynamics::Sme2 => 2,
        Dynamics::ModifiedGd => 3,
    };
    let mixed = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(((setting as u64) << 32) ^ ((trial as u64) << 2) ^ which);
    stream(mixed, Stream::SdeNoise)
}

/// Number of dropout steps to reach time T at learning rate η (N = ⌊T/η⌋, at least 1).
pub fn steps_for(time: f64, eta: f64) -> usize {
    ((time / eta) + 1e-9).floor().max(1.0) as usize
}

//! Paper 001's SME ingredients against independent oracles: L_S (eq. 7) is the exact average of
//! R_S^drop over all 2^m masks; ∇L_S, ∇²L_S v and ∇‖∇L_S‖² match f64 central differences; the
//! closed-form covariance Σ equals the covariance over all masks, enumerated, and its sampler
//! draws N(0, Σ); the Euler–Maruyama integrator has the mean and variance of its OU recursion and
//! weak order 1 in the step.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use dropout_lab::analysis::dropout_covariance::{
    monte_carlo_covariance, sqrt_psd, DropoutCovariance,
};
use dropout_lab::data::resize::block_means;
use dropout_lab::data::Dataset;
use dropout_lab::linalg::sde::euler_maruyama;
use dropout_lab::objectives::modified_loss::{Sample, TwoLayer};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn tiny(m: usize, d: usize, c: usize, n: usize, seed: u64) -> (TwoLayer, Vec<f64>, Sample) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let net = TwoLayer { m, d, c };
    let theta: Vec<f64> = (0..net.dim())
        .map(|_| rng.random_range(-0.8..0.8))
        .collect();
    let x: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut y = vec![0.0; n * c];
    for i in 0..n {
        y[i * c + rng.random_range(0..c)] = 1.0;
    }
    (net, theta, Sample { n, d, c, x, y })
}

/// Every mask δ ∈ {0, 1/p}^m with its probability.
fn all_masks(m: usize, p: f64) -> Vec<(Vec<f64>, f64)> {
    (0..1u32 << m)
        .map(|bits| {
            let kept = bits.count_ones() as i32;
            let delta = (0..m)
                .map(|r| if bits >> r & 1 == 1 { 1.0 / p } else { 0.0 })
                .collect();
            (delta, p.powi(kept) * (1.0 - p).powi(m as i32 - kept))
        })
        .collect()
}

#[test]
fn modified_loss_is_the_exact_mean_over_all_masks() {
    for (m, p) in [(5, 0.8), (12, 0.3)] {
        let (net, theta, s) = tiny(m, 3, 2, 7, m as u64);
        let exact: f64 = all_masks(m, p)
            .iter()
            .map(|(d, w)| w * net.loss(&theta, &s, Some(d)))
            .sum();
        let ls = net.modified_loss(&theta, &s, p);
        assert!(
            (ls - exact).abs() < 1e-12 * exact,
            "m {m}: L_S {ls} vs mean over masks {exact}"
        );
    }
    // Larger m: the Monte-Carlo mean, within 4 standard errors.
    let (m, p) = (24, 0.6);
    let (net, theta, s) = tiny(m, 4, 3, 9, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let draws = 40_000;
    let vals: Vec<f64> = (0..draws)
        .map(|_| {
            let d: Vec<f64> = net.dropout_mask(p, &mut rng);
            net.loss(&theta, &s, Some(&d))
        })
        .collect();
    let mean = vals.iter().sum::<f64>() / draws as f64;
    let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (draws - 1) as f64).sqrt();
    let ls = net.modified_loss(&theta, &s, p);
    assert!(
        (ls - mean).abs() < 4.0 * sd / (draws as f64).sqrt(),
        "L_S {ls} vs Monte-Carlo {mean} ± {}",
        sd / (draws as f64).sqrt()
    );
}

#[test]
fn gradients_and_hessian_products_match_central_differences() {
    let (net, theta, s) = tiny(6, 4, 3, 8, 5);
    let p = 0.7;
    let h = 1e-5;
    let g = net.modified_grad(&theta, &s, p);
    let v: Vec<f64> = (0..net.dim()).map(|i| ((i as f64) * 0.37).sin()).collect();
    let hv = net.modified_hvp(&theta, &v, &s, p);
    let shifted = |t: f64| -> Vec<f64> { theta.iter().zip(&v).map(|(a, b)| a + t * b).collect() };
    let grad_sq = |th: &[f64]| {
        net.modified_grad(th, &s, p)
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
    };
    let hg = net.modified_hvp(&theta, &g, &s, p);
    let scale = g.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    for i in 0..net.dim() {
        let mut plus = theta.clone();
        plus[i] += h;
        let mut minus = theta.clone();
        minus[i] -= h;
        let fd = (net.modified_loss(&plus, &s, p) - net.modified_loss(&minus, &s, p)) / (2.0 * h);
        assert!(
            (g[i] - fd).abs() < 1e-8 * scale.max(1.0),
            "∇L_S[{i}]: {} vs {fd}",
            g[i]
        );
        // ∇‖∇L_S‖² = 2 ∇²L_S ∇L_S (what the order-2 drift of eq. 16 uses).
        let fd_sq = (grad_sq(&plus) - grad_sq(&minus)) / (2.0 * h);
        assert!(
            (2.0 * hg[i] - fd_sq).abs() < 1e-7 * fd_sq.abs().max(1e-3),
            "∇‖∇L_S‖²[{i}]: {} vs {fd_sq}",
            2.0 * hg[i]
        );
    }
    let (gp, gm) = (
        net.modified_grad(&shifted(h), &s, p),
        net.modified_grad(&shifted(-h), &s, p),
    );
    for i in 0..net.dim() {
        let fd = (gp[i] - gm[i]) / (2.0 * h);
        assert!(
            (hv[i] - fd).abs() < 1e-7 * fd.abs().max(1e-2),
            "∇²L_S v [{i}]: {} vs {fd}",
            hv[i]
        );
    }
    let drift = net.order2_drift(&theta, &s, p, 0.1);
    for i in 0..net.dim() {
        assert!((drift[i] + g[i] + 0.05 * hg[i]).abs() < 1e-12);
    }
}

#[test]
fn the_closed_form_covariance_is_the_covariance_over_all_masks() {
    for (m, p) in [(7, 0.9), (8, 0.3), (6, 0.5)] {
        let (net, theta, s) = tiny(m, 3, 2, 6, 10 + m as u64);
        let masks = all_masks(m, p);
        let dim = net.dim();
        let mut mean = vec![0.0; dim];
        let mut second = DMatrix::<f64>::zeros(dim, dim);
        for (d, w) in &masks {
            let g = nalgebra::DVector::from_vec(net.dropout_grad(&theta, &s, Some(d)));
            second += &g * g.transpose() * *w;
            mean.iter_mut().zip(g.iter()).for_each(|(a, b)| *a += w * b);
        }
        let mean = nalgebra::DVector::from_vec(mean);
        let exact = second - &mean * mean.transpose();
        // The mean over masks is ∇L_S (Sec. 4.1).
        let gl = net.modified_grad(&theta, &s, p);
        for i in 0..dim {
            assert!((mean[i] - gl[i]).abs() < 1e-12, "E g ≠ ∇L_S at {i}");
        }
        let closed = DropoutCovariance::new(net, &theta, &s, p).dense();
        let err = (&closed - &exact).amax() / exact.amax();
        assert!(
            err < 1e-10,
            "m {m}, p {p}: closed-form Σ off by {err:.2e} of max|Σ|"
        );
    }
}

#[test]
fn the_sampler_draws_the_closed_form_covariance_and_so_do_masks() {
    let (net, theta, s) = tiny(5, 3, 2, 6, 21);
    let p = 0.6;
    let cov = DropoutCovariance::new(net, &theta, &s, p);
    let sigma = cov.dense();
    let dim = net.dim();
    let draws = 40_000;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut second = DMatrix::<f64>::zeros(dim, dim);
    let mut mean = nalgebra::DVector::<f64>::zeros(dim);
    for _ in 0..draws {
        let z = nalgebra::DVector::from_vec(cov.sample(&mut rng));
        second += &z * z.transpose();
        mean += &z;
    }
    let n = draws as f64;
    mean /= n;
    let sampled = (second - &mean * mean.transpose() * n) / (n - 1.0);
    // Gaussian draws: the sample covariance's element (i, j) has sd √((Σ_ii Σ_jj + Σ_ij²)/N).
    let mut worst = 0.0f64;
    for i in 0..dim {
        for j in 0..dim {
            let sd = ((sigma[(i, i)] * sigma[(j, j)] + sigma[(i, j)].powi(2)) / n).sqrt();
            if sd > 0.0 {
                worst = worst.max((sampled[(i, j)] - sigma[(i, j)]).abs() / sd);
            }
        }
    }
    assert!(
        worst < 5.5,
        "sampler: worst element {worst:.1} sd from Σ over {} elements",
        dim * dim
    );
    // Real masks: the same Σ within Monte-Carlo error (looser: the gradients are not Gaussian).
    let mc = monte_carlo_covariance(net, &theta, &s, p, draws, &mut rng);
    let rel = (&mc - &sigma).norm() / sigma.norm();
    assert!(
        rel < 0.05,
        "mask covariance off by {rel:.3} (Frobenius, relative)"
    );
    // Σ^{1/2} by eigendecomposition squares back to Σ.
    let (root, clipped) = sqrt_psd(sigma.clone()).unwrap();
    let back = (&root * &root - &sigma).amax() / sigma.amax();
    assert!(
        back < 1e-9 && clipped < 1e-9,
        "√Σ² off by {back:.1e}, clipped {clipped:.1e}"
    );
}

#[test]
fn euler_maruyama_follows_its_ou_recursion_and_has_weak_order_one() {
    // dX = −λX dt + s dW: E X_T = x0 e^{−λT}, Var X_T = s²(1 − e^{−2λT})/(2λ).
    let (lambda, s, x0, t): (f64, f64, f64, f64) = (1.5, 0.8, 2.0, 1.0);
    let exact_mean = x0 * (-lambda * t).exp();
    let mut errors = Vec::new();
    for steps in [10usize, 20, 40] {
        let h = t / steps as f64;
        // Euler–Maruyama's own moments: m ← (1 − λh) m, v ← (1 − λh)² v + s² h.
        let (mut m, mut v) = (x0, 0.0);
        for _ in 0..steps {
            m *= 1.0 - lambda * h;
            v = (1.0 - lambda * h).powi(2) * v + s * s * h;
        }
        let paths = 20_000;
        let mut rng = ChaCha8Rng::seed_from_u64(steps as u64);
        let ends: Vec<f64> = (0..paths)
            .map(|_| {
                let mut x = [x0];
                euler_maruyama(
                    &mut x,
                    h,
                    steps,
                    &mut rng,
                    |x| vec![-lambda * x[0]],
                    |_, r| vec![s * r.sample::<f64, _>(rand_distr::StandardNormal)],
                );
                x[0]
            })
            .collect();
        let mean = ends.iter().sum::<f64>() / paths as f64;
        let var = ends.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (paths - 1) as f64;
        let se = (var / paths as f64).sqrt();
        assert!(
            (mean - m).abs() < 4.0 * se,
            "h {h}: mean {mean} vs recursion {m} ± {se}"
        );
        let se_var = var * (2.0 / (paths - 1) as f64).sqrt();
        assert!(
            (var - v).abs() < 4.0 * se_var,
            "h {h}: var {var} vs recursion {v}"
        );
        errors.push((m - exact_mean).abs());
    }
    for w in errors.windows(2) {
        let ratio = w[0] / w[1];
        assert!(
            (ratio - 2.0).abs() < 0.15,
            "halving h divides the weak error by {ratio:.2}, not 2"
        );
    }
}

#[test]
fn block_means_average_each_four_by_four_block() {
    let img: Vec<f32> = (0..28 * 28).map(|i| (i % 97) as f32 / 97.0).collect();
    let data = Dataset {
        features: img.clone(),
        labels: vec![3],
        dim: 784,
        classes: 10,
    };
    let small = block_means(&data, 4).unwrap();
    assert_eq!(small.dim, 49);
    for by in 0..7 {
        for bx in 0..7 {
            let mut sum = 0.0f64;
            for y in 0..4 {
                for x in 0..4 {
                    sum += img[(4 * by + y) * 28 + 4 * bx + x] as f64;
                }
            }
            assert!((small.features[by * 7 + bx] as f64 - sum / 16.0).abs() < 1e-6);
        }
    }
    assert!(block_means(&data, 5).is_err());
}

#[test]
fn the_order2_sme_has_the_mean_and_variance_of_dropout_gd_on_a_tiny_net() {
    use dropout_lab::experiments::p001_sme_dynamics::{trajectory, trial_rng, Dynamics, Problem};
    let (net, theta0, train) = tiny(3, 2, 1, 4, 77);
    let problem = Problem {
        net,
        test: train.clone(),
        train,
    };
    let (p, eta, steps, trials) = (0.7, 0.02, 20, 4000);
    let finals = |dynamics| -> Vec<Vec<f64>> {
        (0..trials)
            .map(|t| {
                let mut rng = trial_rng(5, dynamics, 0, t);
                trajectory(
                    &problem,
                    dynamics,
                    &theta0,
                    p,
                    eta,
                    steps,
                    4,
                    &mut rng,
                    |_, _| {},
                )
            })
            .collect()
    };
    let (drop, sme) = (finals(Dynamics::Dropout), finals(Dynamics::Sme2));
    let stats = |runs: &[Vec<f64>], j: usize| {
        let k = runs.len() as f64;
        let mean = runs.iter().map(|r| r[j]).sum::<f64>() / k;
        let var = runs.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / (k - 1.0);
        (mean, var)
    };
    for j in 0..net.dim() {
        let ((md, vd), (ms, vs)) = (stats(&drop, j), stats(&sme, j));
        let se = ((vd + vs) / trials as f64).sqrt();
        assert!(
            (md - ms).abs() < 4.0 * se,
            "θ[{j}]: dropout mean {md}, SME {ms} ± {se}"
        );
        // Second moments agree to O(η) (weak order): 10 % plus Monte-Carlo error (√(2/K) Var).
        let se_var = (vd + vs) * (2.0 / trials as f64).sqrt();
        assert!(
            (vd - vs).abs() < 0.1 * vd + 4.0 * se_var,
            "θ[{j}]: dropout variance {vd:.3e}, SME {vs:.3e}"
        );
        assert!(vd > 0.0);
    }
}

//! Paper 003's explicit regulariser and implicit noise against independent f64 oracles on a tiny
//! ReLU net: the input gradients against finite differences of the reference loss in the mask
//! entries, R against (a) second differences of that loss and (b) the exact expectation over all
//! dropout masks (enumerated, no Monte Carlo) of the ε-scaled dropout loss, the sampled estimator
//! against R by Monte Carlo, and the implicit-noise objectives against separately computed
//! dropout gradients.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use burn::tensor::{Tensor, TensorData};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::model::dropout::sample_mask;
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, HostParams, InitScheme, Mlp, MlpConfig};
use dropout_lab::objectives::explicit_implicit::{
    explicit_regulariser, first_order_noise, gumbel_noise, implicit_noise_objective,
    input_gradients, trace, ExplicitForm, ImplicitForm, NoiseScale,
};
use dropout_lab::rng::{stream, Stream};
use rand::Rng;

use common::reference::loss_f64;

const WIDTHS: [usize; 4] = [5, 4, 3, 3];
const ROWS: usize = 2;
const RATES: [f32; 2] = [0.3, 0.2];

struct Net {
    cfg: MlpConfig,
    params: HostParams,
    x: Vec<f32>,
    labels: Vec<usize>,
}

fn net(act: Activation, seed: u64) -> Net {
    let cfg = MlpConfig {
        widths: WIDTHS.to_vec(),
        activation: act,
        drop_rates: RATES.to_vec(),
        init: InitScheme::He,
    };
    let mut rng = stream(seed, Stream::Init);
    let mut params = initial_params(&cfg, &mut rng);
    for (_, b) in params.layers.iter_mut() {
        b.iter_mut().for_each(|v| *v = rng.random_range(0.1..0.5));
    }
    Net {
        x: (0..ROWS * 5).map(|_| rng.random_range(0.0..1.0)).collect(),
        labels: (0..ROWS).map(|i| i % 3).collect(),
        cfg,
        params,
    }
}

impl Net {
    fn p64(&self) -> Vec<Vec<f64>> {
        common::reference::params_f64(&self.params)
    }
    fn x64(&self) -> Vec<f64> {
        self.x.iter().map(|&a| a as f64).collect()
    }
    /// The reference loss with hidden activations multiplied by `mult` (flattened per layer).
    fn loss(&self, mult: &[Vec<f64>]) -> (f64, f64) {
        let masks: Vec<Option<Vec<f64>>> = mult.iter().cloned().map(Some).collect();
        loss_f64(
            &self.p64(),
            &WIDTHS,
            self.cfg.activation,
            &self.x64(),
            &self.labels,
            &masks,
        )
    }
    fn ones(&self) -> Vec<Vec<f64>> {
        WIDTHS[1..3].iter().map(|&w| vec![1.0; ROWS * w]).collect()
    }
    fn tensors(&self) -> (Mlp, Tensor<2>, Tensor<2>) {
        let d = cpu_device();
        let mut y = vec![0.0f32; ROWS * 3];
        self.labels
            .iter()
            .enumerate()
            .for_each(|(r, &l)| y[r * 3 + l] = 1.0);
        (
            Mlp::from_host(&self.cfg, &self.params, &d),
            Tensor::from_data(TensorData::new(self.x.clone(), [ROWS, 5]), &d),
            Tensor::from_data(TensorData::new(y, [ROWS, 3]), &d),
        )
    }
}

fn read(t: Tensor<2>) -> Vec<f64> {
    pollster::block_on(read_f32(t))
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn scalar(t: Tensor<1>) -> f64 {
    pollster::block_on(read_f32(t)).unwrap()[0] as f64
}

#[test]
fn input_gradients_match_finite_differences_in_the_masks() {
    // J(m) = mean_r ℓ_r with h_i multiplied by m_i: ∂J/∂m_{rj} = g_{rj} h_{rj} / rows.
    for act in [Activation::Relu, Activation::Tanh] {
        let n = net(act, 1);
        let (model, x, y) = n.tensors();
        let t = trace(&model, x, &[]);
        let p = burn::tensor::activation::softmax(t.logits.clone(), 1);
        let g = input_gradients(&model, &t, p - y);
        let (_, margin) = n.loss(&n.ones());
        let h = 1e-6;
        assert!(margin > 100.0 * h, "a pre-activation at a kink: {margin}");
        for (i, gi) in g.into_iter().enumerate() {
            let (gi, hi) = (read(gi), read(t.h[i].clone()));
            for k in 0..gi.len() {
                let (mut plus, mut minus) = (n.ones(), n.ones());
                plus[i][k] += h;
                minus[i][k] -= h;
                let fd = (n.loss(&plus).0 - n.loss(&minus).0) / (2.0 * h) * ROWS as f64;
                assert!(
                    (gi[k] * hi[k] - fd).abs() < 1e-5,
                    "{act:?} layer {i} entry {k}: {} vs {fd}",
                    gi[k] * hi[k]
                );
            }
        }
    }
}

/// Σ_i c_i Σ_{rj} ∂²J/∂m_{i,rj}² by second differences, c_i = q_i / (2(1 − q_i)).
fn second_difference_r(n: &Net) -> f64 {
    let h = 1e-4;
    let base = n.loss(&n.ones()).0;
    let mut r = 0.0;
    for (i, &q) in RATES.iter().enumerate() {
        let c = q as f64 / (2.0 * (1.0 - q as f64));
        for k in 0..ROWS * WIDTHS[i + 1] {
            let (mut plus, mut minus) = (n.ones(), n.ones());
            plus[i][k] += h;
            minus[i][k] -= h;
            r += c * (n.loss(&plus).0 - 2.0 * base + n.loss(&minus).0) / (h * h);
        }
    }
    r
}

#[test]
fn explicit_regulariser_is_the_second_order_term_of_the_dropout_loss() {
    let n = net(Activation::Relu, 2);
    let (model, x, _) = n.tensors();
    let r = scalar(explicit_regulariser(
        &model,
        x,
        &RATES,
        ExplicitForm::Exact,
        None,
    ));
    assert!(r > 0.0);
    // (a) For ReLU the Gauss-Newton Hessian of J_i is exact: R equals the mask-curvature sum.
    let fd = second_difference_r(&n);
    assert!(
        (r - fd).abs() < 1e-3 * fd,
        "R {r} vs second differences {fd}"
    );
    // (b) E over all 2^(ROWS·7) masks of J(1 + ε η) − J = ε² R + O(ε³): enumerate them exactly.
    let units: Vec<(usize, usize, f64)> = (0..2)
        .flat_map(|i| (0..ROWS * WIDTHS[i + 1]).map(move |k| (i, k, RATES[i] as f64)))
        .collect();
    let expectation = |eps: f64| {
        let base = n.loss(&n.ones()).0;
        let mut e = 0.0;
        for bits in 0u32..(1 << units.len()) {
            let mut mult = n.ones();
            let mut prob = 1.0;
            for (b, &(i, k, q)) in units.iter().enumerate() {
                let dropped = bits >> b & 1 == 1;
                let eta = if dropped { -1.0 } else { q / (1.0 - q) };
                prob *= if dropped { q } else { 1.0 - q };
                mult[i][k] = 1.0 + eps * eta;
            }
            e += prob * (n.loss(&mult).0 - base);
        }
        e
    };
    for eps in [0.02, 0.01] {
        let ratio = expectation(eps) / (eps * eps * r);
        // The cubic term is O(ε) relative: 2 % at ε = 0.02 leaves room.
        assert!(
            (ratio - 1.0).abs() < 0.02 * eps / 0.01,
            "ε {eps}: E[ΔJ] / (ε² R) = {ratio}"
        );
    }
}

#[test]
fn sampled_estimator_is_unbiased() {
    // 3000 draws of ŷ ~ softmax(F(x)); the mean within 4 standard errors of the exact R.
    let n = net(Activation::Tanh, 3);
    let (model, x, _) = n.tensors();
    let exact = scalar(explicit_regulariser(
        &model,
        x.clone(),
        &RATES,
        ExplicitForm::Exact,
        None,
    ));
    let mut rng = stream(7, Stream::DropoutMasks);
    let draws: Vec<f64> = (0..3000)
        .map(|_| {
            let g = gumbel_noise(&mut rng, ROWS, 3, &cpu_device());
            scalar(explicit_regulariser(
                &model,
                x.clone(),
                &RATES,
                ExplicitForm::Sampled,
                Some(g),
            ))
        })
        .collect();
    let mean = draws.iter().sum::<f64>() / draws.len() as f64;
    let sd =
        (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (draws.len() - 1) as f64).sqrt();
    let se = sd / (draws.len() as f64).sqrt();
    assert!(sd > 0.0, "the estimator varies with ŷ");
    assert!(
        (mean - exact).abs() < 4.0 * se,
        "mean {mean} ± {se} vs exact {exact}"
    );
}

/// Gradients of a scalar objective, flattened.
fn grads(model: &Mlp, f: impl FnOnce(&Mlp) -> Tensor<1>) -> Vec<f64> {
    let (_, g) = model.grads_of(f);
    g.into_iter()
        .flat_map(|(w, b)| {
            let mut v = read(w);
            v.extend(
                pollster::block_on(read_f32(b))
                    .unwrap()
                    .into_iter()
                    .map(f64::from),
            );
            v
        })
        .collect()
}

#[test]
fn implicit_difference_is_the_difference_of_two_dropout_gradients() {
    let n = net(Activation::Tanh, 4);
    let (model, x, y) = n.tensors();
    let got = grads(&model, |m| {
        implicit_noise_objective(
            m,
            x.clone(),
            y.clone(),
            &RATES,
            ImplicitForm::Difference,
            NoiseScale::Slides,
            &mut stream(9, Stream::DropoutMasks),
        )
    });
    // The same two masks, drawn again from the stream, through the ordinary dropout gradient.
    let mut rng = stream(9, Stream::DropoutMasks);
    let mut draw = || -> Vec<Option<Tensor<2>>> {
        RATES
            .iter()
            .zip(&WIDTHS[1..3])
            .map(|(&q, &w)| {
                sample_mask(&mut rng, ROWS, w, q)
                    .map(|m| Tensor::from_data(TensorData::new(m, [ROWS, w]), &cpu_device()))
            })
            .collect()
    };
    let (m1, m2) = (draw(), draw());
    let flat = |masks: &[Option<Tensor<2>>]| {
        grads(&model, |m| {
            dropout_lab::model::loss::cross_entropy(m.forward(x.clone(), masks), y.clone())
        })
    };
    let want: Vec<f64> = flat(&m1)
        .iter()
        .zip(flat(&m2))
        .map(|(a, b)| a - b)
        .collect();
    assert!(want.iter().any(|v| v.abs() > 1e-3), "two different masks");
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() < 1e-5, "entry {k}: {g} vs {w}");
    }
}

#[test]
fn implicit_approximation_is_the_first_order_noise() {
    // With multipliers 1 + ε η¹ and 1 + ε η², ξ̃ / ε → ∇_W Σ_i ⟨∇J_i, (η¹ − η²) ⊙ h_i⟩ as ε → 0.
    let n = net(Activation::Tanh, 5);
    let (model, x, y) = n.tensors();
    let d = cpu_device();
    let mut rng = stream(11, Stream::DropoutMasks);
    let etas: Vec<[Vec<f32>; 2]> = RATES
        .iter()
        .zip(&WIDTHS[1..3])
        .map(|(&q, &w)| {
            [0, 1].map(|_| {
                sample_mask(&mut rng, ROWS, w, q)
                    .unwrap()
                    .into_iter()
                    .map(|m| m - 1.0)
                    .collect()
            })
        })
        .collect();
    let tensor = |v: Vec<f32>, w: usize| Tensor::from_data(TensorData::new(v, [ROWS, w]), &d);
    let u: Vec<Option<Tensor<2>>> = etas
        .iter()
        .zip(&WIDTHS[1..3])
        .map(|(e, &w)| {
            Some(tensor(
                e[0].iter().zip(&e[1]).map(|(a, b)| a - b).collect(),
                w,
            ))
        })
        .collect();
    let approx = grads(&model, |m| first_order_noise(m, x.clone(), y.clone(), &u));
    let scale = approx.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let mut errors = Vec::new();
    for eps in [1e-2f32, 5e-3] {
        let mult = |k: usize| -> Vec<Option<Tensor<2>>> {
            etas.iter()
                .zip(&WIDTHS[1..3])
                .map(|(e, &w)| Some(tensor(e[k].iter().map(|v| 1.0 + eps * v).collect(), w)))
                .collect()
        };
        let loss = |m: &Mlp, k: usize| {
            dropout_lab::model::loss::cross_entropy(m.forward(x.clone(), &mult(k)), y.clone())
        };
        let diff = grads(&model, |m| loss(m, 0) - loss(m, 1));
        let err = diff
            .iter()
            .zip(&approx)
            .map(|(a, b)| (a / eps as f64 - b).abs())
            .fold(0.0f64, f64::max)
            / scale;
        errors.push(err);
    }
    // First order: the relative error is O(ε) (f32 adds ~1e-4 / ε).
    assert!(errors[0] < 0.05 && errors[1] < 0.05, "{errors:?}");
}

#[test]
fn the_dropout_like_scale_carries_dropouts_own_gradient_noise() {
    // ξ_drop = ∇J_drop(η) − E∇J_drop has E‖ξ_drop‖² = tr Cov(∇J_drop); ξ̃ = g¹ − g² of two
    // independent masks has twice that, ξ̃/√2 exactly that. Monte Carlo over k = 800 masks: each
    // trace estimate has a relative standard error of a few per cent; allow 25 %.
    let n = net(Activation::Tanh, 4);
    let (model, x, y) = n.tensors();
    let k = 800;
    let mut rng = stream(21, Stream::DropoutMasks);
    let drop: Vec<Vec<f64>> = (0..k)
        .map(|_| {
            let masks: Vec<Option<Tensor<2>>> = RATES
                .iter()
                .zip(&WIDTHS[1..3])
                .map(|(&q, &w)| {
                    sample_mask(&mut rng, ROWS, w, q)
                        .map(|m| Tensor::from_data(TensorData::new(m, [ROWS, w]), &cpu_device()))
                })
                .collect();
            grads(&model, |m| {
                dropout_lab::model::loss::cross_entropy(m.forward(x.clone(), &masks), y.clone())
            })
        })
        .collect();
    let dim = drop[0].len();
    let mean: Vec<f64> = (0..dim)
        .map(|j| drop.iter().map(|g| g[j]).sum::<f64>() / k as f64)
        .collect();
    let tr_drop = drop
        .iter()
        .map(|g| {
            g.iter()
                .zip(&mean)
                .map(|(a, m)| (a - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (k - 1) as f64;
    for (scale, ratio) in [(NoiseScale::Slides, 2.0), (NoiseScale::DropoutLike, 1.0)] {
        let mut rng = stream(22, Stream::DropoutMasks);
        let injected = (0..k)
            .map(|_| {
                let xi = grads(&model, |m| {
                    implicit_noise_objective(
                        m,
                        x.clone(),
                        y.clone(),
                        &RATES,
                        ImplicitForm::Difference,
                        scale,
                        &mut rng,
                    )
                });
                xi.iter().map(|v| v * v).sum::<f64>()
            })
            .sum::<f64>()
            / k as f64;
        let got = injected / tr_drop;
        assert!(
            (got - ratio).abs() < 0.25 * ratio,
            "{scale:?}: E‖ξ‖² / tr Cov(∇J_drop) = {got}, want {ratio}"
        );
    }
}

//! Paper 003 (Wei, Kakade & Ma 2020, as presented in the slides): the explicit and the implicit
//! regularisation of dropout, as differentiable scalars whose gradients are the quantities the
//! slides define, so training can use them without a double backward.
//!
//! Notation. Dropout multiplies hidden layer i's activations h_i by 1 + η_i, η = −1 with
//! probability q and q/(1−q) otherwise (inverted dropout), so E η = 0, E η² = q/(1−q).
//! J_i(h) is the loss as a function of h_i, ℓ_c the cross-entropy with label c.
//!
//! - Explicit regulariser: E_η J_drop − J ≈ ½ Σ_i ⟨∇²J_i(h_i), E δδᵀ⟩ with δ = η ⊙ h_i and
//!   E δδᵀ = q_i/(1−q_i) diag(h_i²); with the Gauss-Newton Hessian J_Fᵀ H_out J_F and, for the
//!   cross-entropy, H_out = diag(p) − ppᵀ = Σ_c p_c (e_c − p)(e_c − p)ᵀ:
//!   R = Σ_i q_i/(2(1−q_i)) Σ_j [J_Fᵀ H_out J_F]_jj h_ij² = Σ_i q_i/(2(1−q_i)) Σ_c p_c Σ_j (∂ℓ_c/∂h_ij)² h_ij².
//!   `Exact` sums over the classes c; `Sampled` is the slides' memory-efficient unbiased
//!   estimator with one ŷ ~ softmax(F(x)) per example (drawn by the Gumbel-max trick from host
//!   noise, so the seed fixes it on every backend). For ReLU nets the Gauss-Newton Hessian is the
//!   exact Hessian of J_i in h_i (F_i is piecewise linear).
//! - Implicit noise: ξ̃_drop = ∇_W J_drop(x, η¹) − ∇_W J_drop(x, η²) (two independent masks),
//!   the gradient of the scalar J_drop(η¹) − J_drop(η²); its first-order approximation
//!   ξ_approx = ∇_W Σ_i ⟨∇J_i(h_i), u_i ⊙ h_i⟩ with u_i = √2 η_i (the slides' choice, giving
//!   ξ_approx the covariance of the first-order expansion of ξ̃_drop).
//! - Scale. ξ̃_drop, the difference of two independent dropout gradients, has twice the
//!   covariance of dropout's own gradient noise ξ_drop = ∇J_drop(η) − ∇E J_drop, and the slides'
//!   "replace (η¹ − η²) with √2 η" keeps that factor for ξ_approx (their summary slide writes
//!   ξ_approx with η alone; the two slides disagree). `NoiseScale::Slides` (the default) injects
//!   ξ̃ and √2 η as written; `NoiseScale::DropoutLike` injects ξ̃/√2 and η, the covariance of
//!   ξ_drop itself, so "implicit only" then carries exactly dropout's amount of noise.
//!
//! ∂ℓ/∂h_i is computed by a hand-written backward pass out of ordinary tensor operations, so
//! burn's (first-order) autodiff can differentiate it once more with respect to W.

use burn::tensor::{activation, Device, Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::kernels::matmul;
use crate::model::dropout::sample_mask;
use crate::model::loss::cross_entropy;
use crate::model::{Activation, Mlp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplicitForm {
    /// Σ over all classes weighted by p (K backward passes).
    Exact,
    /// One sampled class per example (one backward pass), unbiased for `Exact`.
    Sampled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImplicitForm {
    /// ξ̃_drop: the difference of two dropout gradients.
    Difference,
    /// ξ_approx: its first-order approximation with √2 η.
    Approx,
}

/// How large the injected implicit noise is (see the module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseScale {
    /// ξ̃ = ∇J(η¹) − ∇J(η²) and ξ_approx with √2 η: twice the covariance of ξ_drop.
    #[default]
    Slides,
    /// ξ̃/√2 and ξ_approx with η: the covariance of dropout's own gradient noise.
    DropoutLike,
}

impl NoiseScale {
    /// The factor on ξ̃ (and on √2 η in ξ_approx).
    pub fn factor(self) -> f64 {
        match self {
            NoiseScale::Slides => 1.0,
            NoiseScale::DropoutLike => std::f64::consts::FRAC_1_SQRT_2,
        }
    }
}

/// The forward pass with what the hand-written backward pass needs.
pub struct Trace {
    /// Pre-activations of the hidden layers.
    pub z: Vec<Tensor<2>>,
    /// Their activations h_i (before any mask).
    pub h: Vec<Tensor<2>>,
    pub logits: Tensor<2>,
}

/// The clean forward pass, or with hidden layer i's activations multiplied by `mult[i]`.
pub fn trace(model: &Mlp, x: Tensor<2>, mult: &[Option<Tensor<2>>]) -> Trace {
    let last = model.layers.len() - 1;
    let (mut z, mut h) = (Vec::new(), Vec::new());
    let mut a = x;
    for (i, layer) in model.layers.iter().enumerate() {
        let pre = matmul(a, layer.weight.clone()) + layer.bias.clone().unsqueeze_dim(0);
        if i == last {
            return Trace { z, h, logits: pre };
        }
        let act = match model.config.activation {
            Activation::Relu => activation::relu(pre.clone()),
            Activation::Tanh => activation::tanh(pre.clone()),
        };
        z.push(pre);
        h.push(act.clone());
        a = match mult.get(i) {
            Some(Some(m)) => act * m.clone(),
            _ => act,
        };
    }
    unreachable!("an MLP has an output layer")
}

/// ∂ℓ/∂h_i of the per-example loss for each hidden layer i, given ∂ℓ/∂logits (rows: examples),
/// as a differentiable function of the weights.
pub fn input_gradients(model: &Mlp, t: &Trace, d_logits: Tensor<2>) -> Vec<Tensor<2>> {
    let hidden = t.h.len();
    let mut out = vec![None; hidden];
    let mut g_z = d_logits;
    for i in (0..hidden).rev() {
        let g_h = matmul(g_z, model.layers[i + 1].weight.clone().transpose());
        let slope = match model.config.activation {
            // The step has derivative zero almost everywhere: a constant for autodiff.
            Activation::Relu => t.z[i].clone().greater_elem(0.0).float().detach(),
            Activation::Tanh => t.h[i].clone().powi_scalar(2).neg().add_scalar(1.0),
        };
        g_z = g_h.clone() * slope;
        out[i] = Some(g_h);
    }
    out.into_iter().map(|g| g.expect("filled")).collect()
}

/// c_i = q_i / (2(1 − q_i)): the dropout variance with the ½ of the Taylor expansion.
fn coefficients(rates: &[f32]) -> Vec<f64> {
    rates
        .iter()
        .map(|&q| q as f64 / (2.0 * (1.0 - q as f64)))
        .collect()
}

/// Σ_i c_i Σ_j g_ij² h_ij², per example [rows].
fn weighted_square_sum(t: &Trace, g: &[Tensor<2>], c: &[f64]) -> Option<Tensor<1>> {
    let mut total: Option<Tensor<1>> = None;
    for (i, gi) in g.iter().enumerate() {
        if c[i] == 0.0 {
            continue;
        }
        let term = (gi.clone() * t.h[i].clone())
            .powi_scalar(2)
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .mul_scalar(c[i]);
        total = Some(match total {
            Some(s) => s + term,
            None => term,
        });
    }
    total
}

/// The explicit regulariser R (module note), averaged over the batch; `gumbel` ([rows, K] host
/// noise, −log(−log U)) picks the sampled classes of `Sampled`.
pub fn explicit_regulariser(
    model: &Mlp,
    x: Tensor<2>,
    rates: &[f32],
    form: ExplicitForm,
    gumbel: Option<Tensor<2>>,
) -> Tensor<1> {
    let t = trace(model, x, &[]);
    let c = coefficients(rates);
    let rows = t.logits.dims()[0];
    let classes = t.logits.dims()[1];
    let p = activation::softmax(t.logits.clone(), 1);
    let device = t.logits.device();
    let zero = || Tensor::<1>::zeros([1], &device);
    match form {
        ExplicitForm::Exact => {
            let mut total: Option<Tensor<1>> = None;
            for class in 0..classes {
                let e = one_hot_column(rows, classes, class, &device);
                // p − e_c, and the weight p_c of class c per example.
                let g = input_gradients(model, &t, p.clone() - e.clone());
                let weight = (p.clone() * e).sum_dim(1).squeeze_dim::<1>(1);
                if let Some(s) = weighted_square_sum(&t, &g, &c) {
                    let term = s * weight;
                    total = Some(match total {
                        Some(acc) => acc + term,
                        None => term,
                    });
                }
            }
            total.map_or_else(zero, |s| s.mean())
        }
        ExplicitForm::Sampled => {
            let gumbel = gumbel.expect("the sampled estimator needs Gumbel noise");
            let noisy = t.logits.clone().detach() + gumbel;
            let pick = noisy.clone().equal(noisy.max_dim(1)).float();
            let g = input_gradients(model, &t, p - pick);
            weighted_square_sum(&t, &g, &c).map_or_else(zero, |s| s.mean())
        }
    }
}

fn one_hot_column(rows: usize, classes: usize, class: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; rows * classes];
    for r in 0..rows {
        v[r * classes + class] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [rows, classes]), device)
}

/// [rows, classes] standard Gumbel noise from the host stream.
pub fn gumbel_noise(rng: &mut impl Rng, rows: usize, classes: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..rows * classes)
        .map(|_| {
            let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            -(-u.ln()).ln() as f32
        })
        .collect();
    Tensor::from_data(TensorData::new(v, [rows, classes]), device)
}

/// A scalar whose gradient is the implicit noise: J_drop(η¹) − J_drop(η²) for `Difference`,
/// Σ_i ⟨∇J_i(h_i), √2 η_i ⊙ h_i⟩ (batch mean) for `Approx`, both times `scale.factor()`.
/// Masks and η come from `rng`.
pub fn implicit_noise_objective(
    model: &Mlp,
    x: Tensor<2>,
    y: Tensor<2>,
    rates: &[f32],
    form: ImplicitForm,
    scale: NoiseScale,
    rng: &mut impl Rng,
) -> Tensor<1> {
    let rows = x.dims()[0];
    let device = x.device();
    let widths: Vec<usize> = model.config.widths[1..model.config.widths.len() - 1].to_vec();
    let mut draw = |shift: f32, scale: f32| -> Vec<Option<Tensor<2>>> {
        rates
            .iter()
            .zip(&widths)
            .map(|(&q, &w)| {
                sample_mask(rng, rows, w, q).map(|m| {
                    // m = 1 + η; the approximation wants (m − 1)·√2.
                    let v = m.into_iter().map(|v| (v + shift) * scale).collect();
                    Tensor::from_data(TensorData::new(v, [rows, w]), &device)
                })
            })
            .collect()
    };
    match form {
        ImplicitForm::Difference => {
            let (m1, m2) = (draw(0.0, 1.0), draw(0.0, 1.0));
            let difference = cross_entropy(trace(model, x.clone(), &m1).logits, y.clone())
                - cross_entropy(trace(model, x, &m2).logits, y);
            match scale {
                NoiseScale::Slides => difference,
                NoiseScale::DropoutLike => difference.mul_scalar(scale.factor()),
            }
        }
        ImplicitForm::Approx => {
            let u = draw(-1.0, (std::f64::consts::SQRT_2 * scale.factor()) as f32);
            first_order_noise(model, x, y, &u)
        }
    }
}

/// Σ_i ⟨∇J_i(h_i), u_i ⊙ h_i⟩ averaged over the batch, for given multipliers u_i (None: layer
/// without noise). Its gradient in W is ξ_approx when u_i = √2 η_i.
pub fn first_order_noise(
    model: &Mlp,
    x: Tensor<2>,
    y: Tensor<2>,
    u: &[Option<Tensor<2>>],
) -> Tensor<1> {
    let t = trace(model, x, &[]);
    let p = activation::softmax(t.logits.clone(), 1);
    let g = input_gradients(model, &t, p - y);
    let mut total: Option<Tensor<1>> = None;
    for (i, gi) in g.iter().enumerate() {
        let Some(Some(ui)) = u.get(i) else { continue };
        let term = (gi.clone() * ui.clone() * t.h[i].clone()).sum();
        total = Some(match total {
            Some(s) => s + term,
            None => term,
        });
    }
    let rows = t.logits.dims()[0] as f64;
    total.map_or_else(
        || Tensor::zeros([1], &t.logits.device()),
        |s| s.div_scalar(rows),
    )
}

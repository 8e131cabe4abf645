//! The MLP's exact Hessian-vector products by Pearlmutter's R-operator (Pearlmutter 1994, "Fast
//! exact multiplication by the Hessian"): the directional derivative R{·} = d/dε(·)(θ + εv) at
//! ε = 0 pushed through the forward pass and then through the hand-written backward pass, so
//! R{∇L} = H v with no autodiff graph at all. The forward quantities and the ordinary gradient
//! do not depend on v: a `Linearisation` holds them, computed once per (θ, masks) and reused for
//! every batch of directions (Lanczos, Hutchinson and dense blocks apply one operator many times).
//!
//! Notation per layer l (0-based; L the last): z_l = h_{l-1} W_l + b_l, h_l = act(z_l) ⊙ m_l with
//! h_{-1} = x, D_l = act'(z_l) ⊙ m_l, p = softmax(z_L), and the mean loss over all N rows.
//!   forward gradient:  g_L = (p - y) / N,   g_l = (g_{l+1} W_{l+1}ᵀ) ⊙ D_l
//!   tangent:           ż_l = ḣ_{l-1} W_l + h_{l-1} V_l + c_l,   ḣ_l = ż_l ⊙ D_l
//!   R-backward:        ġ_L = (p ⊙ ż_L - p (p · ż_L)) / N        (softmax's Jacobian diag(p) - ppᵀ)
//!                      ġ_l = (ġ_{l+1} W_{l+1}ᵀ + g_{l+1} V_{l+1}ᵀ) ⊙ D_l + (g_{l+1} W_{l+1}ᵀ) ⊙ act''(z_l) ⊙ m_l ⊙ ż_l
//!   products:          (H v)_{W_l} = ḣ_{l-1}ᵀ g_l + h_{l-1}ᵀ ġ_l,   (H v)_{b_l} = Σ_rows ġ_l
//! ReLU's act' is the step 1[z > 0] and act'' = 0 (exact almost everywhere); tanh's act' = 1 - a²
//! and act'' = -2a(1 - a²). Layers before the span's first have ż = 0; V_l, c_l are zero outside
//! the span. A dropout mask is held fixed: the Hessian is that of the masked loss.
//!
//! Many directions at once: the directions are [K, in, out] tensors and every tangent quantity
//! carries K in its leading dimension; forward quantities carry 1 (shared masks) or K (a mask per
//! direction) and broadcast.

use burn::tensor::{activation, Tensor};

use crate::error::{LabError, LabResult};
use crate::kernels::matmul;
use crate::model::{Activation, Mlp};

/// Everything the products need that does not depend on the direction, for one data chunk.
struct ChunkLinearisation {
    /// Layer inputs h_{l-1}: [1 or K, rows, in]; the first is the chunk's x.
    inputs: Vec<Tensor<3>>,
    /// D_l for the hidden layers: [1 or K, rows, width].
    slopes: Vec<Tensor<3>>,
    /// (g_{l+1} W_{l+1}ᵀ) ⊙ act''(z_l) ⊙ m_l for the hidden layers; None where act'' = 0 (ReLU).
    curvature: Vec<Option<Tensor<3>>>,
    /// g_l, the mean loss's gradient at every pre-activation: [1 or K, rows, width].
    grads: Vec<Tensor<3>>,
    /// softmax(z_L): [1 or K, rows, classes].
    probs: Tensor<3>,
}

/// The forward pass and the ordinary backward pass over every chunk, at fixed θ and masks. It
/// holds about seven [rows, width] tensors per hidden layer for all rows (14 MB for 784-50-50-10
/// on 10000 rows).
pub struct Linearisation {
    chunks: Vec<ChunkLinearisation>,
    /// N, the row count the loss is a mean over.
    total_rows: usize,
}

impl Linearisation {
    /// `masks(chunk)` gives the chunk's masks per hidden layer ([1 or K, rows, width], None: no
    /// dropout there); `chunks` are the data's (x, one-hot y) pairs.
    pub fn new(
        model: &Mlp,
        chunks: &[(Tensor<2>, Tensor<2>)],
        total_rows: usize,
        mut masks: impl FnMut(usize) -> LabResult<Vec<Option<Tensor<3>>>>,
    ) -> LabResult<Self> {
        let chunks = chunks
            .iter()
            .enumerate()
            .map(|(i, (x, y))| linearise_chunk(model, x, y, &masks(i)?, total_rows))
            .collect::<LabResult<_>>()?;
        Ok(Linearisation { chunks, total_rows })
    }
}

fn linearise_chunk(
    model: &Mlp,
    x: &Tensor<2>,
    y: &Tensor<2>,
    masks: &[Option<Tensor<3>>],
    total_rows: usize,
) -> LabResult<ChunkLinearisation> {
    let last = model.layers.len() - 1;
    let act = model.config.activation;
    let mut inputs = vec![x.clone().unsqueeze::<3>()];
    let mut slopes = Vec::with_capacity(last);
    // act''(z_l) ⊙ m_l, turned into `curvature` once the gradient above it is known.
    let mut second: Vec<Option<Tensor<3>>> = Vec::with_capacity(last);
    let mut logits = None;
    for (l, layer) in model.layers.iter().enumerate() {
        let h = inputs[l].clone();
        let z = matmul(h, weight(model, l)) + layer.bias.clone().reshape([1, 1, -1]);
        if l == last {
            logits = Some(z);
            break;
        }
        let mask = masks.get(l).cloned().flatten();
        let masked = |t: Tensor<3>| match &mask {
            Some(m) => t * m.clone(),
            None => t,
        };
        let (a, slope, curv) = match act {
            Activation::Relu => {
                let slope = z.clone().greater_elem(0.0).float();
                (activation::relu(z), slope, None)
            }
            Activation::Tanh => {
                let a = activation::tanh(z);
                let slope = a.clone().mul(a.clone()).neg().add_scalar(1.0);
                let curv = a.clone().mul(slope.clone()).mul_scalar(-2.0);
                (a, slope, Some(masked(curv)))
            }
        };
        slopes.push(masked(slope));
        second.push(curv);
        inputs.push(masked(a));
    }
    let logits = logits.ok_or_else(|| LabError::Config("the model has no layers".into()))?;
    let probs = activation::softmax(logits, 2);
    let mut grads =
        vec![(probs.clone() - y.clone().unsqueeze::<3>()).div_scalar(total_rows as f64)];
    let mut curvature: Vec<Option<Tensor<3>>> = vec![None; last];
    for l in (0..last).rev() {
        let above = grads.last().expect("the output gradient is there").clone();
        let back = matmul(above, weight_t(model, l + 1));
        curvature[l] = second[l].take().map(|c| c * back.clone());
        grads.push(back * slopes[l].clone());
    }
    grads.reverse();
    Ok(ChunkLinearisation {
        inputs,
        slopes,
        curvature,
        grads,
        probs,
    })
}

/// A batch's direction as per-layer tensors: (V_l [K, in, out], c_l [K, 1, out] or None when the
/// span holds no biases); None for layers outside the span.
pub type LayerDirections = Vec<Option<(Tensor<3>, Option<Tensor<3>>)>>;

/// The span's first layer: where the tangent pass starts and the R-backward stops.
fn first_spanned(directions: &LayerDirections) -> LabResult<usize> {
    directions
        .iter()
        .position(Option::is_some)
        .ok_or_else(|| LabError::Config("the direction has no component in any layer".into()))
}

fn add_chunk(total: Option<Tensor<2>>, part: Tensor<2>) -> Option<Tensor<2>> {
    Some(match total {
        Some(t) => t + part,
        None => part,
    })
}

/// H v_k for the K directions, summed over the chunks: [K, dim] in span order (per spanned
/// layer: the weight's [in, out] row-major, then the bias where the span has it).
pub fn products(
    model: &Mlp,
    lin: &Linearisation,
    directions: &LayerDirections,
) -> LabResult<Tensor<2>> {
    let first = first_spanned(directions)?;
    let mut total = None;
    for chunk in &lin.chunks {
        total = add_chunk(
            total,
            chunk_products(model, chunk, directions, first, lin.total_rows),
        );
    }
    total.ok_or_else(|| LabError::Config("the Hessian needs at least one data row".into()))
}

/// `products` for a linearisation used only once (masks drawn per direction): each chunk's
/// forward pass is built, used and dropped in turn, so only one chunk's is held at a time.
pub fn products_once(
    model: &Mlp,
    chunks: &[(Tensor<2>, Tensor<2>)],
    total_rows: usize,
    mut masks: impl FnMut(usize) -> LabResult<Vec<Option<Tensor<3>>>>,
    directions: &LayerDirections,
) -> LabResult<Tensor<2>> {
    let first = first_spanned(directions)?;
    let mut total = None;
    for (i, (x, y)) in chunks.iter().enumerate() {
        let chunk = linearise_chunk(model, x, y, &masks(i)?, total_rows)?;
        total = add_chunk(
            total,
            chunk_products(model, &chunk, directions, first, total_rows),
        );
    }
    total.ok_or_else(|| LabError::Config("the Hessian needs at least one data row".into()))
}

/// W_l as a batch of one, [1, in, out], to broadcast against [K, rows, in].
fn weight(model: &Mlp, l: usize) -> Tensor<3> {
    model.layers[l].weight.clone().unsqueeze::<3>()
}

/// W_lᵀ as a batch of one, [1, out, in].
fn weight_t(model: &Mlp, l: usize) -> Tensor<3> {
    weight(model, l).swap_dims(1, 2)
}

fn sum_some(terms: impl IntoIterator<Item = Option<Tensor<3>>>) -> Option<Tensor<3>> {
    terms.into_iter().flatten().reduce(|a, b| a + b)
}

fn chunk_products(
    model: &Mlp,
    c: &ChunkLinearisation,
    directions: &LayerDirections,
    first: usize,
    total_rows: usize,
) -> Tensor<2> {
    let last = model.layers.len() - 1;
    // Tangent pass: ż_l for l >= first (ḣ_{l-1} = ż_{l-1} ⊙ D_{l-1}).
    let mut dz: Vec<Tensor<3>> = Vec::with_capacity(last + 1 - first);
    let mut dh: Vec<Option<Tensor<3>>> = vec![None; last + 1];
    for l in first..=last {
        let (v, cb) = match &directions[l] {
            Some((v, cb)) => (Some(v), cb.as_ref()),
            None => (None, None),
        };
        let z = sum_some([
            dh[l].clone().map(|d| matmul(d, weight(model, l))),
            v.map(|v| matmul(c.inputs[l].clone(), v.clone())),
            cb.cloned(),
        ])
        .expect("layer `first` has a direction, later ones a tangent input");
        if l < last {
            dh[l + 1] = Some(z.clone() * c.slopes[l].clone());
        }
        dz.push(z);
    }
    // R-backward from the softmax down to `first`, collecting the spanned layers' products.
    let p = c.probs.clone();
    let dz_top = dz[last - first].clone();
    let pdz = p.clone() * dz_top;
    let mut dg = (pdz.clone() - p * pdz.sum_dim(2)).div_scalar(total_rows as f64);
    let mut parts: Vec<Tensor<2>> = Vec::new();
    for l in (first..=last).rev() {
        if let Some((v, cb)) = &directions[l] {
            let k = v.dims()[0];
            let (fi, fo) = (v.dims()[1], v.dims()[2]);
            let hw = sum_some([
                dh[l]
                    .clone()
                    .map(|d| matmul(d.swap_dims(1, 2), c.grads[l].clone())),
                Some(matmul(c.inputs[l].clone().swap_dims(1, 2), dg.clone())),
            ])
            .expect("the input term is always there");
            // ġ carries K (it is linear in v), so both products and the row sum are [K, ...].
            if cb.is_some() {
                parts.push(dg.clone().sum_dim(1).reshape([k, fo]));
            }
            parts.push(hw.reshape([k, fi * fo]));
        }
        if l == first {
            break;
        }
        let below = l - 1;
        let dgh = sum_some([
            Some(matmul(dg, weight_t(model, l))),
            directions[l]
                .as_ref()
                .map(|(v, _)| matmul(c.grads[l].clone(), v.clone().swap_dims(1, 2))),
        ])
        .expect("the first term is always there");
        let mut next = dgh * c.slopes[below].clone();
        if let Some(curv) = &c.curvature[below] {
            next = next + curv.clone() * dz[below - first].clone();
        }
        dg = next;
    }
    // Collected top-down with each bias before its weight; span order is bottom-up, weight first.
    parts.reverse();
    Tensor::cat(parts, 1)
}

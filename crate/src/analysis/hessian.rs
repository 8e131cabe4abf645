//! Exact Hessian-vector products of the MLP's mean cross-entropy (paper 000 Sec. 3.4.2 and 3.5,
//! paper 001 eq. 18 all need H), without double backward, which burn lacks.
//!
//! Reverse-over-forward: a hand-written tangent (JVP) pass carries, next to every activation h, its
//! directional derivative ḣ along a direction v = (V_l, c_l):
//!   ż_l = ḣ_{l-1} W_l + h_{l-1} V_l + c_l,   ḣ_l = act'(z_l) ⊙ ż_l ⊙ m_l,
//! and at the logits  L̇ = (1/n) Σ_rows (softmax(z_L) - y) · ż_L  =  ∇L(θ) · v.
//! That scalar is an ordinary differentiable function of θ (burn tracks h, z and softmax), so one
//! first-order backward gives ∇_θ(∇L · v) = H v. ReLU's act' is the step 1[z > 0], a constant for
//! autodiff (its derivative is 0 almost everywhere, which is exact); tanh's is 1 - tanh², tracked.
//! A dropout mask, when given, is held fixed: the Hessian is that of the masked loss.
//!
//! Many directions at once: the weights that receive gradients are replicated K times as
//! [K, in, out] autodiff leaves, so one backward yields K separate products H v_k (a single
//! shared leaf would only give Σ_k H v_k). Data rows go through in the evaluation chunks and the
//! per-chunk products are summed on the device: one read-back per batch of directions.

use burn::tensor::{activation, Device, Tensor, TensorData};

use super::noise::Block;
use crate::backend::read_f32;
use crate::error::{LabError, LabResult};
use crate::kernels::matmul;
use crate::model::{Activation, HostParams, Mlp};
use crate::train::eval::DeviceData;

/// Which parameters the Hessian is taken over; directions and products are flat vectors in this
/// span's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Every parameter, in `HostParams::flatten` order (per layer: weight row-major, then bias).
    All,
    /// One weight matrix (row-major [fan_in, fan_out]); all other parameters fixed.
    Block(Block),
}

impl Span {
    pub fn dim(&self, widths: &[usize]) -> usize {
        match self {
            Span::All => widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum(),
            Span::Block(b) => widths[b.layer] * widths[b.layer + 1],
        }
    }

    fn covers(&self, layer: usize) -> bool {
        match self {
            Span::All => true,
            Span::Block(b) => b.layer == layer,
        }
    }
}

impl From<Block> for Span {
    fn from(b: Block) -> Self {
        Span::Block(b)
    }
}

/// Floats one activation tensor of a batched pass may hold; bounds K x rows x width.
const BATCH_FLOATS: usize = 1 << 23;

/// The largest number of directions one batched pass takes for this model and data.
pub fn batch_capacity(widths: &[usize], data: &DeviceData) -> usize {
    let rows = data.chunks.first().map_or(1, |(x, _)| x.dims()[0]);
    // The input rows are never replicated: only activations after the first layer carry K.
    let widest = widths[1..].iter().copied().max().unwrap_or(1);
    (BATCH_FLOATS / (rows * widest)).clamp(1, 256)
}

/// Exact H v_k for each direction, H the Hessian of the mean cross-entropy over `data` with the
/// given fixed dropout masks (`masks[l]`: host [rows, width of hidden layer l], all rows of
/// `data`; empty slice for no dropout). Directions are split into batches of `batch_capacity`.
pub async fn hvp(
    model: &Mlp,
    data: &DeviceData,
    masks: &[Option<Vec<f32>>],
    span: Span,
    directions: &[Vec<f64>],
) -> LabResult<Vec<Vec<f64>>> {
    let widths = &model.config.widths;
    let dim = span.dim(widths);
    if let Some(bad) = directions.iter().position(|v| v.len() != dim) {
        return Err(LabError::Config(format!(
            "direction {bad} has length {}, the span has {dim} parameters",
            directions[bad].len()
        )));
    }
    if let Span::Block(b) = span {
        b.validate(&model.config)?;
    }
    let capacity = batch_capacity(widths, data);
    let mut out = Vec::with_capacity(directions.len());
    for batch in directions.chunks(capacity) {
        out.extend(hvp_masked_batch(model, data, MaskSet::Shared(masks), span, batch).await?);
    }
    Ok(out)
}

/// The dropout masks of one batched pass, host-side, one entry per hidden layer (None: no mask).
#[derive(Clone, Copy)]
pub enum MaskSet<'m> {
    /// [rows, width] per layer, the same for every direction.
    Shared(&'m [Option<Vec<f32>>]),
    /// [directions, rows, width] per layer: direction k's product is H_{δ_k} v_k.
    PerDirection(&'m [Option<Vec<f32>>]),
}

/// One batch (at most `batch_capacity` directions) of exact products under `masks`, read back.
/// Callers validate the directions' length and the span first, as `hvp` does.
pub async fn hvp_masked_batch(
    model: &Mlp,
    data: &DeviceData,
    masks: MaskSet<'_>,
    span: Span,
    directions: &[Vec<f64>],
) -> LabResult<Vec<Vec<f64>>> {
    let dim = span.dim(&model.config.widths);
    let products = hvp_batch(model, data, masks, span, directions)?;
    let flat = read_f32(products).await?;
    Ok(flat
        .chunks(dim)
        .map(|r| r.iter().map(|&x| x as f64).collect())
        .collect())
}

/// The Hessian of the loss on `data` (fixed masks, possibly none) over `span`, as an operator.
pub struct HessianOperator<'a> {
    pub model: &'a Mlp,
    pub data: &'a DeviceData,
    pub masks: Vec<Option<Vec<f32>>>,
    pub span: Span,
    /// Products computed so far (a cost measure for progress and benchmarks).
    pub products: usize,
}

impl<'a> HessianOperator<'a> {
    pub fn new(model: &'a Mlp, data: &'a DeviceData, span: Span) -> Self {
        HessianOperator {
            model,
            data,
            masks: Vec::new(),
            span,
            products: 0,
        }
    }
}

impl crate::linalg::LinearOperator for HessianOperator<'_> {
    fn dim(&self) -> usize {
        self.span.dim(&self.model.config.widths)
    }

    async fn apply(&mut self, vs: &[Vec<f64>]) -> LabResult<Vec<Vec<f64>>> {
        self.products += vs.len();
        hvp(self.model, self.data, &self.masks, self.span, vs).await
    }
}

/// One layer as the tangent pass sees it: weights [1 or K, in, out], bias [1 or K, 1, out], and the
/// direction's components [K, ...] where the span covers the layer.
struct TangentLayer {
    w: Tensor<3>,
    b: Tensor<3>,
    dw: Option<Tensor<3>>,
    db: Option<Tensor<3>>,
}

/// [K, dim] products for one batch of directions, summed over the data chunks, on the device.
fn hvp_batch(
    model: &Mlp,
    data: &DeviceData,
    masks: MaskSet<'_>,
    span: Span,
    directions: &[Vec<f64>],
) -> LabResult<Tensor<2>> {
    let device = model.layers[0].weight.device();
    let k = directions.len();
    let widths = &model.config.widths;
    let (leaves, tangents) = split_directions(model, span, directions, &device);
    let mut total: Option<Tensor<2>> = None;
    let mut row0 = 0;
    for (x, y) in &data.chunks {
        let rows = x.dims()[0];
        let chunk_masks = slice_masks(masks, k, widths, (row0, rows, data.len), &device)?;
        row0 += rows;
        let layers: Vec<TangentLayer> = model
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let (w, b) = match &leaves[l] {
                    Some((w, b)) => (w.clone(), b.clone()),
                    None => (
                        layer.weight.clone().unsqueeze::<3>(),
                        layer.bias.clone().unsqueeze::<3>(),
                    ),
                };
                let (dw, db) = match &tangents[l] {
                    Some((dw, db)) => (Some(dw.clone()), db.clone()),
                    None => (None, None),
                };
                TangentLayer { w, b, dw, db }
            })
            .collect();
        // Chunk sums weighted to the mean over all rows: L̇ = (1/N) Σ_rows.
        let directional = directional_derivative(
            &layers,
            model.config.activation,
            x.clone(),
            y.clone(),
            &chunk_masks,
            data.len,
        )?;
        let grads = directional.backward();
        let mut parts: Vec<Tensor<2>> = Vec::new();
        for (l, leaf) in leaves.iter().enumerate() {
            if let Some((w, b)) = leaf {
                let (fi, fo) = (widths[l], widths[l + 1]);
                let gw = w
                    .grad(&grads)
                    .unwrap_or_else(|| Tensor::zeros([k, fi, fo], &device));
                parts.push(gw.reshape([k, fi * fo]));
                if matches!(span, Span::All) {
                    let gb = b
                        .grad(&grads)
                        .unwrap_or_else(|| Tensor::zeros([k, 1, fo], &device));
                    parts.push(gb.reshape([k, fo]));
                }
            }
        }
        let chunk = Tensor::cat(parts, 1);
        total = Some(match total {
            Some(t) => t + chunk,
            None => chunk,
        });
    }
    total.ok_or_else(|| LabError::Config("the Hessian needs at least one data row".into()))
}

type LayerPair = Option<(Tensor<3>, Tensor<3>)>;

/// Replicated autodiff leaves for the spanned layers, and the directions as per-layer tensors.
fn split_directions(
    model: &Mlp,
    span: Span,
    directions: &[Vec<f64>],
    device: &Device,
) -> (Vec<LayerPair>, Vec<Option<(Tensor<3>, Option<Tensor<3>>)>>) {
    let k = directions.len();
    let widths = &model.config.widths;
    let mut offset = 0;
    let mut leaves = Vec::new();
    let mut tangents = Vec::new();
    for (l, layer) in model.layers.iter().enumerate() {
        if !span.covers(l) {
            leaves.push(None);
            tangents.push(None);
            continue;
        }
        let (fi, fo) = (widths[l], widths[l + 1]);
        let w = layer
            .weight
            .clone()
            .unsqueeze::<3>()
            .repeat_dim(0, k)
            .autodiff()
            .require_grad();
        let b = layer
            .bias
            .clone()
            .reshape([1, 1, fo])
            .repeat_dim(0, k)
            .autodiff()
            .require_grad();
        leaves.push(Some((w, b)));
        let gather = |start: usize, len: usize| -> Vec<f32> {
            directions
                .iter()
                .flat_map(|v| v[start..start + len].iter().map(|&x| x as f32))
                .collect()
        };
        let dw = Tensor::from_data(
            TensorData::new(gather(offset, fi * fo), [k, fi, fo]),
            device,
        );
        offset += fi * fo;
        let db = if matches!(span, Span::All) {
            let db = Tensor::from_data(TensorData::new(gather(offset, fo), [k, 1, fo]), device);
            offset += fo;
            Some(db)
        } else {
            None
        };
        tangents.push(Some((dw, db)));
    }
    (leaves, tangents)
}

/// The rows [row0, row0 + rows) of each host mask (of `total` rows) as device tensors: [1, rows,
/// width] for shared masks, [k, rows, width] for per-direction ones.
fn slice_masks(
    masks: MaskSet<'_>,
    k: usize,
    widths: &[usize],
    (row0, rows, total): (usize, usize, usize),
    device: &Device,
) -> LabResult<Vec<Option<Tensor<3>>>> {
    let (host, copies) = match masks {
        MaskSet::Shared(m) => (m, 1),
        MaskSet::PerDirection(m) => (m, k),
    };
    host.iter()
        .enumerate()
        .map(|(l, m)| {
            let Some(m) = m else { return Ok(None) };
            let w = widths[l + 1];
            if m.len() != copies * total * w {
                return Err(LabError::Config(format!(
                    "dropout mask {l} has {} entries, {copies} x {total} rows x {w} units expected",
                    m.len()
                )));
            }
            let part: Vec<f32> = (0..copies)
                .flat_map(|c| {
                    let start = (c * total + row0) * w;
                    m[start..start + rows * w].iter().copied()
                })
                .collect();
            Ok(Some(Tensor::from_data(
                TensorData::new(part, [copies, rows, w]),
                device,
            )))
        })
        .collect()
}

/// Σ_k L̇_k on one chunk, each L̇_k the chunk's share of ∇L(θ)·v_k (divided by the total row count).
fn directional_derivative(
    layers: &[TangentLayer],
    act: Activation,
    x: Tensor<2>,
    y: Tensor<2>,
    masks: &[Option<Tensor<3>>],
    total_rows: usize,
) -> LabResult<Tensor<1>> {
    let last = layers.len() - 1;
    let mut h: Tensor<3> = x.unsqueeze::<3>();
    let mut dh: Option<Tensor<3>> = None;
    for (l, layer) in layers.iter().enumerate() {
        let z = matmul(h.clone(), layer.w.clone()) + layer.b.clone();
        let terms = [
            layer.dw.as_ref().map(|dw| matmul(h.clone(), dw.clone())),
            layer.db.clone(),
            dh.take().map(|dh| matmul(dh, layer.w.clone())),
        ];
        let mut dz: Option<Tensor<3>> = None;
        for t in terms.into_iter().flatten() {
            dz = Some(match dz {
                Some(s) => s + t,
                None => t,
            });
        }
        if l == last {
            let dz = dz.ok_or_else(|| {
                LabError::Config("the direction has no component in any layer".into())
            })?;
            let residual = activation::softmax(z, 2) - y.unsqueeze::<3>();
            return Ok((residual * dz).sum().div_scalar(total_rows as f64));
        }
        let (a, slope) = match act {
            Activation::Relu => {
                let slope = z.clone().greater_elem(0.0).float();
                (activation::relu(z), slope)
            }
            Activation::Tanh => {
                let a = activation::tanh(z);
                let slope = a.clone().mul(a.clone()).neg().add_scalar(1.0);
                (a, slope)
            }
        };
        let mask = masks.get(l).cloned().flatten();
        dh = dz.map(|dz| {
            let d = dz * slope;
            match &mask {
                Some(m) => d * m.clone(),
                None => d,
            }
        });
        h = match &mask {
            Some(m) => a * m.clone(),
            None => a,
        };
    }
    unreachable!("the loop returns at the last layer")
}

/// Central-difference fallback for models without an exact tangent pass:
/// H v ≈ (∇L(θ + εv) - ∇L(θ - εv)) / 2ε. In f32 this is 1-40 % off on ReLU nets (kinks inside
/// ±εv, cancellation), so the lab uses it only where `hvp` does not apply. ε is absolute (a
/// sensible choice is ~1e-3 |θ| / |v|); dropout is off.
pub async fn hvp_central_difference(
    model: &Mlp,
    data: &DeviceData,
    v: &HostParams,
    epsilon: f64,
) -> LabResult<Vec<f64>> {
    let device = model.layers[0].weight.device();
    let direction = Mlp::from_host(&model.config, v, &device);
    let grad_at = |alpha: f64| {
        let shifted = model.axpy(alpha, &direction);
        let mut sum: Option<Vec<Tensor<2>>> = None;
        for (x, y) in &data.chunks {
            let rows = x.dims()[0] as f64;
            let (_, g) = shifted.loss_and_grads(x.clone(), y.clone(), &[]);
            let flat: Vec<Tensor<2>> = g
                .into_iter()
                .flat_map(|(w, b)| [w.mul_scalar(rows), b.mul_scalar(rows).unsqueeze::<2>()])
                .collect();
            sum = Some(match sum {
                Some(s) => s.into_iter().zip(flat).map(|(a, b)| a + b).collect(),
                None => flat,
            });
        }
        sum.expect("at least one chunk")
    };
    let plus = grad_at(epsilon);
    let minus = grad_at(-epsilon);
    let parts: Vec<Tensor<1>> = plus
        .into_iter()
        .zip(minus)
        .map(|(p, m)| (p - m).flatten::<1>(0, 1))
        .collect();
    let diff = read_f32(Tensor::cat(parts, 0)).await?;
    let scale = 1.0 / (2.0 * epsilon * data.len as f64);
    Ok(diff.iter().map(|&d| d as f64 * scale).collect())
}

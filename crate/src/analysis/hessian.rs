//! Exact Hessian-vector products of the MLP's mean cross-entropy (paper 000 Sec. 3.4.2 and 3.5,
//! paper 001 eq. 18 all need H), without double backward, which burn lacks: Pearlmutter's
//! R-operator through a hand-written backward pass (`hvp_pass`), no autodiff graph.
//!
//! Many directions at once: every tangent quantity carries the batch of K directions in its
//! leading dimension, so one pass over the data yields K products. The direction-free part (the
//! forward pass and the ordinary gradient) is computed once per operator and masks and reused
//! for every later batch. Data rows go through in the evaluation chunks and the per-chunk
//! products are summed on the device: one read-back per batch of directions.

use burn::tensor::{Device, Tensor, TensorData};

use super::hvp_pass::{products, products_once, LayerDirections, Linearisation};
use super::noise::Block;
use crate::backend::read_f32;
use crate::error::{LabError, LabResult};
use crate::model::{HostParams, Mlp};
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
    let mut op = HessianOperator::new(model, data, span);
    op.masks = masks.to_vec();
    crate::linalg::LinearOperator::apply(&mut op, directions).await
}

/// Directions of the span's length, over a block the model has.
fn validate(model: &Mlp, span: Span, directions: &[Vec<f64>]) -> LabResult<()> {
    let dim = span.dim(&model.config.widths);
    if let Some(bad) = directions.iter().position(|v| v.len() != dim) {
        return Err(LabError::Config(format!(
            "direction {bad} has length {}, the span has {dim} parameters",
            directions[bad].len()
        )));
    }
    if let Span::Block(b) = span {
        b.validate(&model.config)?;
    }
    Ok(())
}

/// The masks of chunk `i` of `data` as device tensors, for the forward pass.
fn chunk_masks<'d>(
    data: &'d DeviceData,
    masks: MaskSet<'d>,
    k: usize,
    widths: &'d [usize],
    device: &'d Device,
) -> impl FnMut(usize) -> LabResult<Vec<Option<Tensor<3>>>> + 'd {
    let mut row0 = 0;
    move |i| {
        let rows = data.chunks[i].0.dims()[0];
        let m = slice_masks(masks, k, widths, (row0, rows, data.len), device);
        row0 += rows;
        m
    }
}

/// Read back [K, dim] products as one f64 vector per direction.
async fn read_rows(products: Tensor<2>, dim: usize) -> LabResult<Vec<Vec<f64>>> {
    let flat = read_f32(products).await?;
    Ok(flat
        .chunks(dim)
        .map(|r| r.iter().map(|&x| x as f64).collect())
        .collect())
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
pub async fn hvp_masked_batch(
    model: &Mlp,
    data: &DeviceData,
    masks: MaskSet<'_>,
    span: Span,
    directions: &[Vec<f64>],
) -> LabResult<Vec<Vec<f64>>> {
    validate(model, span, directions)?;
    let device = model.layers[0].weight.device();
    let widths = &model.config.widths;
    let tangents = split_directions(model, span, directions, &device);
    let k = directions.len();
    let masks = chunk_masks(data, masks, k, widths, &device);
    let products = products_once(model, &data.chunks, data.len, masks, &tangents)?;
    read_rows(products, span.dim(widths)).await
}

/// The Hessian of the loss on `data` (fixed masks, possibly none) over `span`, as an operator.
pub struct HessianOperator<'a> {
    pub model: &'a Mlp,
    pub data: &'a DeviceData,
    pub masks: Vec<Option<Vec<f32>>>,
    pub span: Span,
    /// Products computed so far (a cost measure for progress and benchmarks).
    pub products: usize,
    /// The linearisation at `masks` as they were when it was built: reused while they stay the
    /// same (callers may swap `masks` between applications).
    cached: Option<(Vec<Option<Vec<f32>>>, Linearisation)>,
}

impl<'a> HessianOperator<'a> {
    pub fn new(model: &'a Mlp, data: &'a DeviceData, span: Span) -> Self {
        HessianOperator {
            model,
            data,
            masks: Vec::new(),
            span,
            products: 0,
            cached: None,
        }
    }
}

impl crate::linalg::LinearOperator for HessianOperator<'_> {
    fn dim(&self) -> usize {
        self.span.dim(&self.model.config.widths)
    }

    async fn apply(&mut self, vs: &[Vec<f64>]) -> LabResult<Vec<Vec<f64>>> {
        let (model, span) = (self.model, self.span);
        validate(model, span, vs)?;
        let widths = &model.config.widths;
        let device = model.layers[0].weight.device();
        if self.cached.as_ref().is_none_or(|(m, _)| *m != self.masks) {
            let masks = chunk_masks(self.data, MaskSet::Shared(&self.masks), 1, widths, &device);
            let lin = Linearisation::new(model, &self.data.chunks, self.data.len, masks)?;
            self.cached = Some((self.masks.clone(), lin));
        }
        let lin = &self.cached.as_ref().expect("built above").1;
        let mut out = Vec::with_capacity(vs.len());
        for batch in vs.chunks(batch_capacity(widths, self.data)) {
            let tangents = split_directions(model, span, batch, &device);
            out.extend(read_rows(products(model, lin, &tangents)?, span.dim(widths)).await?);
        }
        self.products += vs.len();
        Ok(out)
    }
}

/// The directions as per-layer tensors (V_l [K, in, out], c_l [K, 1, out] when the span holds
/// biases), None for layers outside the span.
fn split_directions(
    model: &Mlp,
    span: Span,
    directions: &[Vec<f64>],
    device: &Device,
) -> LayerDirections {
    let k = directions.len();
    let widths = &model.config.widths;
    let gather = |start: usize, len: usize| -> Vec<f32> {
        directions
            .iter()
            .flat_map(|v| v[start..start + len].iter().map(|&x| x as f32))
            .collect()
    };
    let mut offset = 0;
    (0..model.layers.len())
        .map(|l| {
            if !span.covers(l) {
                return None;
            }
            let (fi, fo) = (widths[l], widths[l + 1]);
            let dw = Tensor::from_data(
                TensorData::new(gather(offset, fi * fo), [k, fi, fo]),
                device,
            );
            offset += fi * fo;
            let db = matches!(span, Span::All).then(|| {
                let db = Tensor::from_data(TensorData::new(gather(offset, fo), [k, 1, fo]), device);
                offset += fo;
                db
            });
            Some((dw, db))
        })
        .collect()
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

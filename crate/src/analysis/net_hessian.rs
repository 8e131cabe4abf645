//! Exact Hessian-vector products through a network of layers (conv, pooling, BatchNorm in
//! evaluation mode, residual blocks, dropout masks held fixed), reverse-over-forward as for the
//! MLP (`analysis::hessian`): the forward pass carries the tangent ż of the logits along v
//! (`model::net::forward`), L̇ = (1/n) Σ_rows (softmax(z) − y) · ż = ∇L · v is a differentiable
//! scalar of θ, and burn's first-order backward of it is H v. No double backward.
//!
//! BatchNorm is taken in evaluation mode (running statistics, an affine map): H is the Hessian
//! of the evaluation-mode loss, as PyHessian computes it for BatchNorm nets.

use burn::tensor::{activation::softmax, Tensor, TensorData};

use crate::backend::read_f32;
use crate::error::{LabError, LabResult};
use crate::model::net::{BnMode, Net};
use crate::train::eval::DeviceData;

/// Which parameters H is taken over; directions and products are flat vectors in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetSpan {
    /// Every parameter, in state_dict order.
    All,
    /// One parameter tensor (a weight block), by its index in `Net::param_specs`.
    Param(usize),
}

impl NetSpan {
    pub fn dim(&self, net: &Net) -> usize {
        match *self {
            NetSpan::All => net.param_specs.iter().map(|p| p.len()).sum(),
            NetSpan::Param(i) => net.param_specs.get(i).map_or(0, |p| p.len()),
        }
    }

    pub fn covers(&self, i: usize) -> bool {
        match *self {
            NetSpan::All => true,
            NetSpan::Param(j) => i == j,
        }
    }

    /// A flat vector over the span as one device vector per parameter (None outside the span).
    pub fn split(&self, net: &Net, v: &[f64]) -> Vec<Option<Tensor<1>>> {
        let device = net.device();
        let mut offset = 0;
        net.param_specs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                self.covers(i).then(|| {
                    let part: Vec<f32> = v[offset..offset + p.len()]
                        .iter()
                        .map(|&a| a as f32)
                        .collect();
                    offset += p.len();
                    Tensor::from_data(TensorData::new(part, [p.len()]), &device)
                })
            })
            .collect()
    }
}

/// Exact H v for each direction; H the Hessian of the mean cross-entropy over `data` under the
/// fixed dropout masks `masks` (one per dropout site, host [data rows, site mask size]; empty for
/// none), BatchNorm in evaluation mode. One read-back for all directions.
pub async fn net_hvp(
    net: &Net,
    data: &DeviceData,
    masks: &[Option<Vec<f32>>],
    span: NetSpan,
    directions: &[Vec<f64>],
) -> LabResult<Vec<Vec<f64>>> {
    let dim = span.dim(net);
    if let NetSpan::Param(i) = span {
        if i >= net.param_specs.len() {
            return Err(LabError::Config(format!(
                "parameter {i} does not exist: the network has {}",
                net.param_specs.len()
            )));
        }
    }
    if let Some(bad) = directions.iter().position(|v| v.len() != dim) {
        return Err(LabError::Config(format!(
            "direction {bad} has length {}, the span has {dim} parameters",
            directions[bad].len()
        )));
    }
    let sites = sites_for(net, masks)?;
    if directions.is_empty() {
        return Ok(Vec::new());
    }
    let device = net.device();
    let mut products = Vec::with_capacity(directions.len());
    for v in directions {
        let dir = span.split(net, v);
        let mut total: Option<Tensor<1>> = None;
        let mut row0 = 0;
        for (x, y) in &data.chunks {
            let rows = x.dims()[0];
            let chunk_masks = slice_masks(masks, &sites, row0, rows, &device);
            row0 += rows;
            let leaves = net.grad_leaves();
            let pass = net.run(&leaves, x.clone(), Some(&dir), &chunk_masks, BnMode::Eval)?;
            let tangent = pass.tangent.ok_or_else(|| {
                LabError::Numerical("the direction reaches no parameter of the span".into())
            })?;
            let residual = softmax(pass.logits, 1) - y.clone();
            let directional = (residual * tangent).sum().div_scalar(data.len as f64);
            let grads = directional.backward();
            let parts: Vec<Tensor<1>> = leaves
                .iter()
                .enumerate()
                .filter(|(i, _)| span.covers(*i))
                .map(|(_, l)| {
                    l.grad(&grads)
                        .unwrap_or_else(|| l.clone().inner().zeros_like())
                })
                .collect();
            let hv = Tensor::cat(parts, 0);
            total = Some(match total {
                Some(t) => t + hv,
                None => hv,
            });
        }
        products.push(total.expect("data has at least one chunk"));
    }
    let flat = read_f32(Tensor::cat(products, 0)).await?;
    Ok(flat
        .chunks(dim)
        .map(|r| r.iter().map(|&a| a as f64).collect())
        .collect())
}

/// The network's dropout sites, checked against host masks (one per site, or none at all).
pub(crate) fn sites_for(
    net: &Net,
    masks: &[Option<Vec<f32>>],
) -> LabResult<Vec<crate::model::net::DropoutSite>> {
    let sites = net.spec.dropout_sites()?;
    if !masks.is_empty() && masks.len() != sites.len() {
        return Err(LabError::Config(format!(
            "{} masks for {} dropout sites",
            masks.len(),
            sites.len()
        )));
    }
    Ok(sites)
}

/// The rows [row0, row0 + rows) of each site's host mask, on the device.
pub(crate) fn slice_masks(
    masks: &[Option<Vec<f32>>],
    sites: &[crate::model::net::DropoutSite],
    row0: usize,
    rows: usize,
    device: &burn::tensor::Device,
) -> Vec<Option<Tensor<4>>> {
    masks
        .iter()
        .zip(sites)
        .map(|(m, s)| {
            let [c, h, w] = s.mask_shape;
            let per = c * h * w;
            m.as_ref().map(|m| {
                let part = m[row0 * per..(row0 + rows) * per].to_vec();
                Tensor::from_data(TensorData::new(part, [rows, c, h, w]), device)
            })
        })
        .collect()
}

/// The Hessian of a network's loss on `data` (fixed masks, possibly none) over `span`, as an
/// operator for Lanczos, Hutchinson and dense block Hessians.
pub struct NetHessianOperator<'a> {
    pub net: &'a Net,
    pub data: &'a DeviceData,
    pub masks: Vec<Option<Vec<f32>>>,
    pub span: NetSpan,
    pub products: usize,
}

impl<'a> NetHessianOperator<'a> {
    pub fn new(net: &'a Net, data: &'a DeviceData, span: NetSpan) -> Self {
        NetHessianOperator {
            net,
            data,
            masks: Vec::new(),
            span,
            products: 0,
        }
    }
}

impl crate::linalg::LinearOperator for NetHessianOperator<'_> {
    fn dim(&self) -> usize {
        self.span.dim(self.net)
    }

    async fn apply(&mut self, vs: &[Vec<f64>]) -> LabResult<Vec<Vec<f64>>> {
        self.products += vs.len();
        net_hvp(self.net, self.data, &self.masks, self.span, vs).await
    }
}

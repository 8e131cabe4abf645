//! Paper 000 Sec. 3.3's dropout noise on conv nets, as `analysis::noise` for MLPs: S_grad, N
//! full-data gradients at a frozen θ, each under fresh Bernoulli masks at the network's dropout
//! sites (Sec. 3.3.2), restricted to one parameter tensor (a weight block) or over all of them;
//! and the loss profile along a direction in that block for interval flatness (Sec. 3.2).
//!
//! BatchNorm is in evaluation mode (running statistics), the network the Hessian and the
//! landscapes are taken of, so gradient noise, curvature and flatness describe one loss; the
//! full-data gradient is then exactly the row-weighted sum of the chunks' gradients.

use burn::tensor::Tensor;

use super::flatness::Profile;
use super::net_hessian::NetSpan;
use crate::backend::read_f32;
use crate::error::{LabError, LabResult};
use crate::model::net::masks::device_site_masks;
use crate::model::net::{BnMode, Net};
use crate::progress::Reporter;
use crate::rng::{stream, Stream};
use crate::train::eval::{evaluate_logits, DeviceData};

/// S_grad: `n` gradients of the mean cross-entropy over `data` w.r.t. the span's parameters
/// (flat, state_dict order), each with fresh masks drawn from `seed`'s gradient-noise stream.
pub async fn net_gradient_samples(
    net: &Net,
    data: &DeviceData,
    span: NetSpan,
    n: usize,
    seed: u64,
    reporter: &mut impl Reporter,
) -> LabResult<Vec<Vec<f32>>> {
    check_span(net, span)?;
    if data.len == 0 {
        return Err(LabError::Config("S_grad needs at least one example".into()));
    }
    let sites = net.spec.dropout_sites()?;
    let device = net.device();
    let mut rng = stream(seed, Stream::GradientNoise);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let mut total: Option<Vec<Tensor<1>>> = None;
        for (x, y) in &data.chunks {
            let rows = x.dims()[0];
            let masks = device_site_masks(&mut rng, rows, &sites, &device);
            let lg = net.loss_and_grads(x.clone(), y.clone(), &masks, BnMode::Eval)?;
            let w = rows as f64 / data.len as f64;
            let parts: Vec<Tensor<1>> = lg
                .grads
                .into_iter()
                .enumerate()
                .filter(|(j, _)| span.covers(*j))
                .map(|(_, g)| g.mul_scalar(w))
                .collect();
            total = Some(match total {
                None => parts,
                Some(t) => t.into_iter().zip(parts).map(|(a, b)| a + b).collect(),
            });
        }
        let g = Tensor::cat(total.expect("data has a chunk"), 0);
        samples.push(read_f32(g).await?);
        if !reporter.report("S_grad: gradient", i + 1, n).await {
            return Err(LabError::Cancelled);
        }
    }
    Ok(samples)
}

fn check_span(net: &Net, span: NetSpan) -> LabResult<()> {
    match span {
        NetSpan::Param(i) if i >= net.param_specs.len() => Err(LabError::Config(format!(
            "parameter {i} does not exist: the network has {}",
            net.param_specs.len()
        ))),
        _ => Ok(()),
    }
}

/// L(θ0 + δ v) with v in the span (flat, state_dict order), evaluation mode, dropout off.
pub struct NetProfile<'a> {
    net: &'a Net,
    direction: Vec<Option<Tensor<1>>>,
    data: &'a DeviceData,
}

impl<'a> NetProfile<'a> {
    pub fn new(net: &'a Net, span: NetSpan, v: &[f64], data: &'a DeviceData) -> LabResult<Self> {
        check_span(net, span)?;
        if v.len() != span.dim(net) {
            return Err(LabError::Config(format!(
                "the direction has {} entries, the span {}",
                v.len(),
                span.dim(net)
            )));
        }
        let direction = span.split(net, v);
        Ok(NetProfile {
            net,
            direction,
            data,
        })
    }
}

impl Profile for NetProfile<'_> {
    async fn loss(&mut self, delta: f64) -> LabResult<f64> {
        let mut moved = self.net.clone();
        moved.params = self
            .net
            .params
            .iter()
            .zip(&self.direction)
            .map(|(p, d)| match d {
                Some(d) => p.clone() + d.clone().mul_scalar(delta),
                None => p.clone(),
            })
            .collect();
        Ok(evaluate_logits(self.data, |x| moved.logits(x)).await?.0 as f64)
    }
}

//! Dropout-noise samples restricted to one parameter block, or over all parameters (paper 000
//! Sec. 3.3):
//! S_grad, N full-batch gradients at a frozen θ, each with a fresh dropout mask (Sec. 3.3.2);
//! S_para (Sec. 3.3.1) comes from training snapshots cut to the same block.
//! A block is the weight matrix of one layer (default: between the two hidden layers of
//! 784-50-50-10, D = 2500), flattened row-major as stored ([fan_in, fan_out]).

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::flatness::Profile;
use super::hessian::Span;
use crate::backend::read_f32;
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::dropout::device_masks;
use crate::model::{HostParams, Mlp, MlpConfig};
use crate::rng::{stream, Stream};
use crate::train::batch::upload;
use crate::train::eval::{evaluate, DeviceData};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// 0-based layer whose weight matrix is the block.
    pub layer: usize,
}

impl Block {
    pub fn validate(&self, cfg: &MlpConfig) -> LabResult<()> {
        if self.layer + 1 >= cfg.widths.len() {
            return Err(LabError::Config(format!(
                "block layer {} does not exist: the model has {} layers",
                self.layer,
                cfg.widths.len() - 1
            )));
        }
        Ok(())
    }

    pub fn dim(&self, cfg: &MlpConfig) -> usize {
        cfg.widths[self.layer] * cfg.widths[self.layer + 1]
    }

    pub fn extract(&self, params: &HostParams) -> Vec<f32> {
        params.layers[self.layer].0.clone()
    }

    /// A full-size direction that is `v` inside the block and zero elsewhere.
    pub fn embed(&self, params: &HostParams, v: &[f64]) -> HostParams {
        let layers = params
            .layers
            .iter()
            .enumerate()
            .map(|(l, (w, b))| {
                let w = if l == self.layer {
                    v.iter().map(|&x| x as f32).collect()
                } else {
                    vec![0.0; w.len()]
                };
                (w, vec![0.0; b.len()])
            })
            .collect();
        HostParams {
            widths: params.widths.clone(),
            layers,
        }
    }
}

/// S_grad: `n` gradients of the full-batch training loss w.r.t. the span's parameters at θ (a
/// block, or all of them in `HostParams::flatten` order), each with a fresh dropout mask at
/// `drop_rates` (one per hidden layer). `on_sample` sees the count so far.
pub async fn gradient_samples(
    cfg: &MlpConfig,
    theta: &HostParams,
    drop_rates: &[f32],
    train: &Dataset,
    span: impl Into<Span>,
    n: usize,
    seed: u64,
    device: &Device,
    mut on_sample: impl FnMut(usize),
) -> LabResult<Vec<Vec<f32>>> {
    let span = span.into();
    if let Span::Block(block) = span {
        block.validate(cfg)?;
    }
    if drop_rates.len() != cfg.hidden_layers() || drop_rates.iter().any(|p| !(0.0..1.0).contains(p))
    {
        return Err(LabError::Config(
            "one drop rate in [0, 1) per hidden layer is needed for S_grad".into(),
        ));
    }
    let model = Mlp::from_host(cfg, theta, device);
    let rows: Vec<usize> = (0..train.len()).collect();
    let (x, y) = upload(train, &rows, device);
    let mut rng = stream(seed, Stream::GradientNoise);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let masks = device_masks(&mut rng, rows.len(), &cfg.widths[1..], drop_rates, device);
        let (_, grads) = model.loss_and_grads(x.clone(), y.clone(), &masks);
        let g = match span {
            Span::Block(block) => {
                let w = grads
                    .into_iter()
                    .nth(block.layer)
                    .expect("validated layer")
                    .0;
                let [fi, fo] = w.dims();
                w.reshape([fi * fo])
            }
            // One read-back per sample: the layers' weights and biases joined on the device.
            Span::All => Tensor::cat(
                grads
                    .into_iter()
                    .flat_map(|(w, b)| {
                        let [fi, fo] = w.dims();
                        [w.reshape([fi * fo]), b]
                    })
                    .collect(),
                0,
            ),
        };
        samples.push(read_f32(g).await?);
        on_sample(i + 1);
    }
    Ok(samples)
}

/// L(θ0 + δ v) with v living in one block, evaluated (dropout off) on resident data.
pub struct BlockProfile<'a> {
    base: Mlp,
    direction: Mlp,
    data: &'a DeviceData,
}

impl<'a> BlockProfile<'a> {
    pub fn new(
        cfg: &MlpConfig,
        theta: &HostParams,
        block: Block,
        v: &[f64],
        data: &'a DeviceData,
        device: &Device,
    ) -> Self {
        BlockProfile {
            base: Mlp::from_host(cfg, theta, device),
            direction: Mlp::from_host(cfg, &block.embed(theta, v), device),
            data,
        }
    }
}

impl Profile for BlockProfile<'_> {
    async fn loss(&mut self, delta: f64) -> LabResult<f64> {
        Ok(evaluate(&self.base.axpy(delta, &self.direction), self.data)
            .await?
            .0 as f64)
    }
}

//! A trained network as paper 000's noise and curvature analyses take it (Sec. 3.2-3.4: the
//! dropout gradient noise S_grad, the Hessian H, the loss profile along a direction), whatever
//! its architecture. The one entry point picks the path: an all-dense network (an MLP) keeps the
//! dense fast paths (`hessian.rs`'s batched exact HVP pass, `noise.rs`'s gradient noise and block
//! profiles, all in the MLP's [in, out] layout); any other network goes through the layer stack
//! (`net_hessian.rs`, `net_noise.rs`, in state_dict layout). Samples, directions and products of
//! one network always share its layout, so eigenvalues and projected variances do not depend on
//! the path that measured them.

use burn::tensor::Device;

use rand_chacha::ChaCha8Rng;

use super::expected_hessian::ExpectedHessian;
use super::flatness::Profile;
use super::hessian::{batch_capacity, HessianOperator, Span};
use super::net_hessian::{NetHessianOperator, NetSpan};
use super::net_noise::{net_gradient_samples, NetProfile};
use super::noise::{gradient_samples, Block, BlockProfile};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::linalg::LinearOperator;
use crate::model::net::{Net, NetParams, ParamSpec, Role};
use crate::model::{HostParams, Mlp};
use crate::progress::Reporter;
use crate::train::eval::DeviceData;

/// Which parameters a measurement covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// The k-th weight tensor (dense or convolution) in state_dict order: for an MLP the weight
    /// matrix of layer k, the papers' "block".
    Weight(usize),
    /// Every parameter.
    All,
}

/// The network analysed.
pub enum Analysed {
    /// An MLP on the device and its host weights (the block embeddings need them).
    Dense { model: Mlp, theta: HostParams },
    /// Any other network of layers.
    Layers(Net),
}

/// The state_dict index of the k-th weight tensor among `specs` (BatchNorm's γ is not a weight).
pub fn weight_index(specs: &[ParamSpec], k: usize) -> LabResult<usize> {
    let weights: Vec<usize> = specs
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.role, Role::Weight { .. }))
        .map(|(i, _)| i)
        .collect();
    weights.get(k).copied().ok_or_else(|| {
        LabError::Config(format!(
            "weight block {k} does not exist: the network has {} weight tensors (0 = the first)",
            weights.len()
        ))
    })
}

/// "block: features.3.weight [50, 20, 5, 5], D = 25000" or "all parameters, D = 431080": the
/// parameters of a network of layers that `params` names, for titles and summaries.
pub fn describe_params(specs: &[ParamSpec], params: Params) -> LabResult<(String, usize)> {
    Ok(match params {
        Params::Weight(k) => {
            let p = &specs[weight_index(specs, k)?];
            let d = p.len();
            (format!("block: {} {:?}, D = {d}", p.name, p.shape), d)
        }
        Params::All => {
            let d = specs.iter().map(ParamSpec::len).sum();
            (format!("all parameters, D = {d}"), d)
        }
    })
}

impl Analysed {
    /// The network at `params` on `device`: an MLP takes the dense fast paths, any other network
    /// the layers.
    pub fn new(params: &NetParams, device: &Device) -> LabResult<Self> {
        Ok(match params.as_mlp() {
            Some((config, theta)) => Analysed::Dense {
                model: Mlp::from_host(&config, &theta, device),
                theta,
            },
            None => Analysed::Layers(Net::from_host(params, device)?),
        })
    }

    /// The network's parameters on the host, in state_dict layout.
    pub async fn params(&self) -> LabResult<NetParams> {
        match self {
            Analysed::Dense { model, theta } => theta.to_net(&model.config),
            Analysed::Layers(net) => net.to_host().await,
        }
    }

    /// ∇²L_S over `params`, the Hessian of the expected dropout loss at the network's own drop
    /// rates (paper 001 eq. 17; `expected_hessian.rs`): `masks` = None draws a fresh mask for
    /// every product from `rng`, Some(k) averages exact Hessians over k masks drawn now.
    pub fn expected_hessian<'a>(
        &'a self,
        data: &'a DeviceData,
        params: Params,
        masks: Option<usize>,
        mut rng: ChaCha8Rng,
    ) -> LabResult<ExpectedHessian<'a>> {
        self.dim(params)?;
        match self {
            Analysed::Dense { model, .. } => {
                let (rates, span) = (&model.config.drop_rates, Self::dense_span(params));
                match masks {
                    None => ExpectedHessian::fresh(model, data, rates, span, rng),
                    Some(k) => ExpectedHessian::fixed(model, data, rates, span, k, &mut rng),
                }
            }
            Analysed::Layers(net) => {
                let span = Self::net_span(net, params)?;
                match masks {
                    None => ExpectedHessian::fresh_layers(net, data, span, rng),
                    Some(k) => ExpectedHessian::fixed_layers(net, data, span, k, &mut rng),
                }
            }
        }
    }

    /// True for the MLP's dense fast paths, for progress and CLI messages.
    pub fn is_dense(&self) -> bool {
        matches!(self, Analysed::Dense { .. })
    }

    fn dense_span(params: Params) -> Span {
        match params {
            Params::Weight(k) => Span::Block(Block { layer: k }),
            Params::All => Span::All,
        }
    }

    fn net_span(net: &Net, params: Params) -> LabResult<NetSpan> {
        Ok(match params {
            Params::Weight(k) => NetSpan::Param(weight_index(&net.param_specs, k)?),
            Params::All => NetSpan::All,
        })
    }

    /// How many parameters `params` covers (an error names a block the network lacks).
    pub fn dim(&self, params: Params) -> LabResult<usize> {
        match self {
            Analysed::Dense { model, .. } => {
                if let Params::Weight(k) = params {
                    Block { layer: k }.validate(&model.config)?;
                }
                Ok(Self::dense_span(params).dim(&model.config.widths))
            }
            Analysed::Layers(net) => Ok(describe_params(&net.param_specs, params)?.1),
        }
    }

    /// The Hessian of the mean cross-entropy over `data`, dropout off (BatchNorm in evaluation
    /// mode), restricted to `params`.
    pub fn hessian<'a>(&'a self, data: &'a DeviceData, params: Params) -> LabResult<Hessian<'a>> {
        self.dim(params)?;
        Ok(match self {
            Analysed::Dense { model, .. } => {
                Hessian::Dense(HessianOperator::new(model, data, Self::dense_span(params)))
            }
            Analysed::Layers(net) => Hessian::Layers(NetHessianOperator::new(
                net,
                data,
                Self::net_span(net, params)?,
            )),
        })
    }

    /// Directions per product batch when a dense Hessian is assembled column by column.
    pub fn column_batch(&self, data: &DeviceData) -> usize {
        match self {
            Analysed::Dense { model, .. } => batch_capacity(&model.config.widths, data),
            // One product per pass through the layers: the batch only sets the read-backs.
            Analysed::Layers(_) => 16,
        }
    }

    /// S_grad (paper 000 Sec. 3.3.2): `n` full-data gradients over `params` at the frozen θ, each
    /// under fresh dropout masks from `seed`'s gradient-noise stream. `train` and `data` are the
    /// same examples, on the host and on the device.
    #[allow(clippy::too_many_arguments)]
    pub async fn gradient_samples(
        &self,
        train: &Dataset,
        data: &DeviceData,
        params: Params,
        n: usize,
        seed: u64,
        device: &Device,
        reporter: &mut impl Reporter,
    ) -> LabResult<Vec<Vec<f32>>> {
        match self {
            Analysed::Dense { model, theta } => {
                let cfg = &model.config;
                let span = Self::dense_span(params);
                let g = gradient_samples(
                    cfg,
                    theta,
                    &cfg.drop_rates,
                    train,
                    span,
                    n,
                    seed,
                    device,
                    |_| {},
                )
                .await?;
                if !reporter.report("S_grad", n, n).await {
                    return Err(LabError::Cancelled);
                }
                Ok(g)
            }
            Analysed::Layers(net) => {
                let span = Self::net_span(net, params)?;
                net_gradient_samples(net, data, span, n, seed, reporter).await
            }
        }
    }

    /// The loss profile L(θ + δ v) along `v` in `params`, dropout off (interval flatness,
    /// Sec. 3.2).
    pub fn profile<'a>(
        &'a self,
        params: Params,
        v: &[f64],
        data: &'a DeviceData,
        device: &Device,
    ) -> LabResult<AnyProfile<'a>> {
        match self {
            Analysed::Dense { model, theta } => match params {
                Params::Weight(k) => {
                    let block = Block { layer: k };
                    block.validate(&model.config)?;
                    if v.len() != block.dim(&model.config) {
                        return Err(LabError::Config(format!(
                            "the direction has {} entries, the block {}",
                            v.len(),
                            block.dim(&model.config)
                        )));
                    }
                    Ok(AnyProfile::Dense(BlockProfile::new(
                        &model.config,
                        theta,
                        block,
                        v,
                        data,
                        device,
                    )))
                }
                Params::All => Err(LabError::Config(
                    "the MLP's loss profile is taken along one weight block".into(),
                )),
            },
            Analysed::Layers(net) => Ok(AnyProfile::Layers(NetProfile::new(
                net,
                Self::net_span(net, params)?,
                v,
                data,
            )?)),
        }
    }
}

/// The Hessian operator of either path.
pub enum Hessian<'a> {
    Dense(HessianOperator<'a>),
    Layers(NetHessianOperator<'a>),
}

impl LinearOperator for Hessian<'_> {
    fn dim(&self) -> usize {
        match self {
            Hessian::Dense(op) => op.dim(),
            Hessian::Layers(op) => op.dim(),
        }
    }

    async fn apply(&mut self, vs: &[Vec<f64>]) -> LabResult<Vec<Vec<f64>>> {
        match self {
            Hessian::Dense(op) => op.apply(vs).await,
            Hessian::Layers(op) => op.apply(vs).await,
        }
    }
}

/// The loss profile of either path.
pub enum AnyProfile<'a> {
    Dense(BlockProfile<'a>),
    Layers(NetProfile<'a>),
}

impl Profile for AnyProfile<'_> {
    async fn loss(&mut self, delta: f64) -> LabResult<f64> {
        match self {
            AnyProfile::Dense(p) => p.loss(delta).await,
            AnyProfile::Layers(p) => p.loss(delta).await,
        }
    }
}

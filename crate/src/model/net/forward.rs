//! The network's forward pass and, beside every activation h, its tangent ḣ along a direction
//! of the parameters (a JVP), so the directional derivative of the loss is a differentiable
//! scalar and one first-order backward of it gives an exact Hessian-vector product (see
//! `analysis::net_hessian`). Per layer, with direction components (V, c) of its parameters:
//!   conv / dense   ż = conv(ḣ, W) + conv(h, V) + c   (linear in each argument)
//!   max pool       ż routed by the forward argmax (the pool is locally a selection)
//!   avg pool       ż = avg(ḣ);  global average likewise
//!   BatchNorm      eval: ẏ = ḣ γ/s + (h − μ) γ̇/s + β̇  with the running μ, s = sqrt(σ² + ε);
//!                  training mode (batch statistics) has no tangent here: the Hessian is that
//!                  of the evaluation-mode loss, as PyHessian computes it
//!   ReLU           ż ⊙ 1[z > 0] (the step is constant almost everywhere: exact);  tanh ż (1 − tanh²)
//!   dropout        ḣ ⊙ m with the mask held fixed;  residual  the sum of the branches' tangents.

use burn::tensor::module::{avg_pool2d, max_pool2d_with_indices};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions, PadMode};
use burn::tensor::{activation, Device, Tensor, TensorData};

use super::params::{NetParams, RunningStats};
use super::spec::{Layer, NetSpec, ParamSpec, Shortcut, BN_EPS, BN_MOMENTUM};
use crate::backend::read_f32;
use crate::error::{LabError, LabResult};
use crate::kernels::{conv2d, matmul};

/// Which statistics BatchNorm normalises with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BnMode {
    /// The batch's own mean and (biased) variance; the pass returns them for the running update.
    Train,
    /// The running statistics: BatchNorm is a fixed affine map.
    Eval,
}

/// A dropout site's masks for one pass (paper 004's modes, `model::dropout::DropoutMode`).
#[derive(Debug, Clone)]
pub enum SiteMask {
    None,
    /// m_f = m_b: the activations are multiplied, autodiff does the rest.
    Same(Tensor<4>),
    /// m_f ≠ m_b (None = all ones): the next layer, which must be a convolution or dense layer,
    /// computes op(h ⊙ m_b) + (op(h ⊙ m_f) − op(h ⊙ m_b)).detach(), whose value is op(h ⊙ m_f)
    /// and whose gradients are those of op(h ⊙ m_b): paper 004 eq. 5-6 with m_b in place of ε.
    Split {
        forward: Option<Tensor<4>>,
        backward: Option<Tensor<4>>,
    },
}

/// A network on a device: parameters as flat vectors (state_dict order), reshaped per layer.
#[derive(Debug, Clone)]
pub struct Net {
    pub spec: NetSpec,
    pub param_specs: Vec<ParamSpec>,
    pub params: Vec<Tensor<1>>,
    /// (running mean, running variance) per BatchNorm.
    pub running: Vec<(Tensor<1>, Tensor<1>)>,
    /// PyTorch's num_batches_tracked, the same for every BatchNorm of the network.
    pub batches_tracked: u64,
}

/// What one pass returns.
pub struct Pass {
    /// [batch, classes]
    pub logits: Tensor<2>,
    /// ∂logits along the direction, when one was given.
    pub tangent: Option<Tensor<2>>,
    /// Per BatchNorm in training mode: the batch mean and biased variance, detached, and the
    /// number of values each channel averaged (for PyTorch's unbiased running variance).
    pub batch_stats: Vec<(Tensor<1>, Tensor<1>, usize)>,
    /// Per convolution / dense layer, in order, when the pass was asked for them.
    pub taps: Vec<Tap>,
}

/// A convolution or dense layer's input and geometry as one pass saw them (a dense layer is a
/// 1x1 convolution of its flattened input), for the Kronecker factors of `analysis::kfc`.
#[derive(Debug, Clone)]
pub struct Tap {
    /// The weight's index in `Net::param_specs`.
    pub param: usize,
    /// The layer's input, detached: [n, c, h, w] (dense: [n, fan_in, 1, 1]).
    pub input: Tensor<4>,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// The pre-activation's shape [n, out, h', w'].
    pub out: [usize; 4],
}

/// What a pass records and adds beyond the plain forward.
#[derive(Default)]
struct Extras<'a> {
    /// Record each weight layer's `Tap`.
    taps: bool,
    /// Added to each weight layer's pre-activation in order (zero autodiff leaves, whose
    /// gradients are then ∂loss/∂z per example and position).
    probes: Option<&'a [Tensor<4>]>,
}

impl Net {
    pub fn from_host(host: &NetParams, device: &Device) -> LabResult<Self> {
        let param_specs = host.validate()?;
        let params = host
            .params
            .iter()
            .map(|p| Tensor::from_data(TensorData::new(p.clone(), [p.len()]), device))
            .collect();
        let vec = |v: &Vec<f32>| Tensor::from_data(TensorData::new(v.clone(), [v.len()]), device);
        let running = host
            .running
            .iter()
            .map(|r| (vec(&r.mean), vec(&r.var)))
            .collect();
        Ok(Net {
            spec: host.spec.clone(),
            param_specs,
            params,
            running,
            batches_tracked: host.running.first().map_or(0, |r| r.batches),
        })
    }

    pub async fn to_host(&self) -> LabResult<NetParams> {
        let mut params = Vec::with_capacity(self.params.len());
        for p in &self.params {
            params.push(read_f32(p.clone()).await?);
        }
        let mut running = Vec::with_capacity(self.running.len());
        for (m, v) in &self.running {
            running.push(RunningStats {
                mean: read_f32(m.clone()).await?,
                var: read_f32(v.clone()).await?,
                batches: self.batches_tracked,
            });
        }
        Ok(NetParams {
            spec: self.spec.clone(),
            params,
            running,
        })
    }

    pub fn device(&self) -> Device {
        self.params[0].device()
    }

    /// Rows of flat features [n, c·h·w] as the [n, c, h, w] maps the network takes.
    pub fn images(&self, x: Tensor<2>) -> Tensor<4> {
        let [c, h, w] = self.spec.input;
        let n = x.dims()[0];
        x.reshape([n, c, h, w])
    }

    /// The forward pass with the given parameters (the network's own, or autodiff leaves of
    /// them), the optional direction (one entry per parameter; None where the direction is 0),
    /// dropout masks (one per `NetSpec::dropout_sites`, broadcastable to the activations; empty
    /// for none) and BatchNorm mode.
    pub fn run(
        &self,
        params: &[Tensor<1>],
        x: Tensor<2>,
        direction: Option<&[Option<Tensor<1>>]>,
        masks: &[Option<Tensor<4>>],
        mode: BnMode,
    ) -> LabResult<Pass> {
        let masks: Vec<SiteMask> = masks
            .iter()
            .map(|m| m.clone().map_or(SiteMask::None, SiteMask::Same))
            .collect();
        self.pass(params, x, direction, masks, mode, Extras::default())
    }

    /// As `run` without a direction, recording every convolution / dense layer's input and
    /// adding `probes` (one per such layer, shaped as its pre-activation) to the pre-activations.
    pub fn run_tapped(
        &self,
        params: &[Tensor<1>],
        x: Tensor<2>,
        masks: &[Option<Tensor<4>>],
        mode: BnMode,
        probes: Option<&[Tensor<4>]>,
    ) -> LabResult<Pass> {
        let masks = masks
            .iter()
            .map(|m| m.clone().map_or(SiteMask::None, SiteMask::Same))
            .collect();
        let extras = Extras { taps: true, probes };
        self.pass(params, x, None, masks, mode, extras)
    }

    /// As `run` without a direction, each site's masks under a dropout mode.
    pub fn run_modes(
        &self,
        params: &[Tensor<1>],
        x: Tensor<2>,
        masks: Vec<SiteMask>,
        mode: BnMode,
    ) -> LabResult<Pass> {
        self.pass(params, x, None, masks, mode, Extras::default())
    }

    fn pass(
        &self,
        params: &[Tensor<1>],
        x: Tensor<2>,
        direction: Option<&[Option<Tensor<1>>]>,
        masks: Vec<SiteMask>,
        mode: BnMode,
        extras: Extras,
    ) -> LabResult<Pass> {
        if mode == BnMode::Train && direction.is_some() && self.spec.has_batch_norm() {
            return Err(LabError::Config(
                "second order through BatchNorm is taken in evaluation mode (running \
                 statistics): the Hessian is that of the evaluation-mode loss"
                    .into(),
            ));
        }
        let mut cursor = Cursor {
            net: self,
            params,
            direction,
            masks,
            mode,
            param: 0,
            bn: 0,
            site: 0,
            stats: Vec::new(),
            split: None,
            extras,
            taps: Vec::new(),
        };
        let mut h = self.images(x);
        let mut t: Option<Tensor<4>> = None;
        for (i, layer) in self.spec.layers.iter().enumerate() {
            if cursor.split.is_some() && !matches!(layer, Layer::Conv { .. } | Layer::Dense { .. })
            {
                return Err(split_error(i, layer));
            }
            (h, t) = cursor.layer(layer, h, t)?;
        }
        if cursor.split.is_some() {
            return Err(LabError::Config(
                "a dropout mode other than standard needs a convolution or dense layer after \
                 the dropout; the network ends with the dropout"
                    .into(),
            ));
        }
        let n = h.dims()[0];
        let flat = |a: Tensor<4>| a.reshape([n, self.spec.classes]);
        Ok(Pass {
            logits: flat(h),
            tangent: t.map(flat),
            batch_stats: cursor.stats,
            taps: cursor.taps,
        })
    }

    /// Logits in evaluation mode without dropout (inverted dropout makes this the expected net).
    pub fn logits(&self, x: Tensor<2>) -> LabResult<Tensor<2>> {
        Ok(self.run(&self.params, x, None, &[], BnMode::Eval)?.logits)
    }

    /// PyTorch's running-statistics update from one training pass's batch statistics:
    /// r ← (1 − 0.1) r + 0.1 b, the variance unbiased (n/(n − 1)) as PyTorch stores it.
    pub fn update_running(&mut self, stats: Vec<(Tensor<1>, Tensor<1>, usize)>) {
        if stats.is_empty() {
            return;
        }
        for ((m, v), (bm, bv, n)) in self.running.iter_mut().zip(stats) {
            let unbias = n as f64 / (n.max(2) - 1) as f64;
            *m = m.clone().mul_scalar(1.0 - BN_MOMENTUM) + bm.mul_scalar(BN_MOMENTUM);
            *v = v.clone().mul_scalar(1.0 - BN_MOMENTUM) + bv.mul_scalar(BN_MOMENTUM * unbias);
        }
        self.batches_tracked += 1;
    }

    /// The same parameters as autodiff leaves that keep their gradients.
    pub fn grad_leaves(&self) -> Vec<Tensor<1>> {
        self.params
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .collect()
    }
}

/// Walks the layers, consuming parameters, BatchNorm buffers and dropout masks in order.
struct Cursor<'a> {
    net: &'a Net,
    params: &'a [Tensor<1>],
    direction: Option<&'a [Option<Tensor<1>>]>,
    masks: Vec<SiteMask>,
    mode: BnMode,
    param: usize,
    bn: usize,
    site: usize,
    stats: Vec<(Tensor<1>, Tensor<1>, usize)>,
    /// A split site's (forward view h ⊙ m_f, backward view h ⊙ m_b), for the next layer.
    split: Option<(Tensor<4>, Tensor<4>)>,
    extras: Extras<'a>,
    taps: Vec<Tap>,
}

fn split_error(i: usize, layer: &Layer) -> LabError {
    LabError::Config(format!(
        "a dropout mode other than standard acts through the layer after the dropout, which \
         must be a convolution or dense layer; layer {i} is {}",
        layer.label()
    ))
}

type Act = (Tensor<4>, Option<Tensor<4>>);

fn add(a: Option<Tensor<4>>, b: Option<Tensor<4>>) -> Option<Tensor<4>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A per-channel vector as [1, c, 1, 1], to broadcast over a map.
fn channel(v: Tensor<1>) -> Tensor<4> {
    let c = v.dims()[0];
    v.reshape([1, c, 1, 1])
}

impl Cursor<'_> {
    /// The next parameter, its direction component, and its shape.
    fn take(&mut self) -> (Tensor<1>, Option<Tensor<1>>, Vec<usize>) {
        let i = self.param;
        self.param += 1;
        let d = self.direction.and_then(|d| d[i].clone());
        (
            self.params[i].clone(),
            d,
            self.net.param_specs[i].shape.clone(),
        )
    }

    fn layer(&mut self, layer: &Layer, h: Tensor<4>, t: Option<Tensor<4>>) -> LabResult<Act> {
        Ok(match *layer {
            Layer::Pad { pixels: p } => {
                let pad = |a: Tensor<4>| a.pad((p, p, p, p), PadMode::Constant(0.0));
                (pad(h), t.map(pad))
            }
            Layer::Conv {
                stride,
                padding,
                bias,
                ..
            } => self.conv(h, t, stride, padding, bias),
            Layer::Dense { out } => {
                let param = self.param;
                let (w, dw, _) = self.take();
                let (b, db, _) = self.take();
                let n = h.dims()[0];
                let fan_in = h.dims()[1];
                let w = w.reshape([out, fan_in]).transpose();
                let flat = |a: Tensor<4>| a.reshape([n, fan_in]);
                let map = |a: Tensor<2>| a.reshape([n, out, 1, 1]);
                let split = self.split.take();
                let x_map = h.clone().reshape([n, fan_in, 1, 1]);
                let x = flat(h);
                let mut dz = t.map(|t| map(matmul(flat(t), w.clone())));
                if let Some(dw) = dw {
                    dz = add(
                        dz,
                        Some(map(matmul(
                            x.clone(),
                            dw.reshape([out, fan_in]).transpose(),
                        ))),
                    );
                }
                if let Some(db) = db {
                    dz = add(dz, Some(channel(db)));
                }
                let z = match split {
                    None => matmul(x, w),
                    Some((f, b_view)) => {
                        let zb = matmul(flat(b_view), w.clone());
                        zb.clone() + (matmul(flat(f), w) - zb).detach()
                    }
                };
                let n_out = [n, out, 1, 1];
                self.tap(param, || x_map.clone(), 1, 1, 0, n_out);
                (self.probe(map(z + b.unsqueeze_dim(0))), dz)
            }
            Layer::MaxPool {
                kernel,
                stride,
                ceil,
            } => {
                let opts = MaxPoolOptions::new([kernel, kernel])
                    .with_stride([stride, stride])
                    .with_ceil_mode(ceil);
                let (z, idx) = max_pool2d_with_indices(h, opts);
                let t = t.map(|t| {
                    let [n, c, hi, wi] = t.dims();
                    let [_, _, ho, wo] = z.dims();
                    t.reshape([n, c, hi * wi])
                        .gather(2, idx.reshape([n, c, ho * wo]))
                        .reshape([n, c, ho, wo])
                });
                (z, t)
            }
            Layer::AvgPool {
                kernel,
                stride,
                ceil,
            } => {
                let opts = AvgPoolOptions::new([kernel, kernel])
                    .with_stride([stride, stride])
                    .with_ceil_mode(ceil)
                    .with_count_include_pad(false);
                (avg_pool2d(h, opts.clone()), t.map(|t| avg_pool2d(t, opts)))
            }
            Layer::GlobalAvgPool => {
                let g = |a: Tensor<4>| a.mean_dim(2).mean_dim(3);
                (g(h), t.map(g))
            }
            Layer::BatchNorm => self.batch_norm(h, t)?,
            Layer::Relu => relu(h, t),
            Layer::Tanh => {
                let z = activation::tanh(h);
                let t = t.map(|t| t * (z.clone() * z.clone()).neg().add_scalar(1.0));
                (z, t)
            }
            Layer::Flatten => {
                let [n, c, hh, ww] = h.dims();
                let f = |a: Tensor<4>| a.reshape([n, c * hh * ww, 1, 1]);
                (f(h), t.map(f))
            }
            Layer::Dropout { rate, .. } => self.dropout(rate, h, t)?,
            Layer::Residual {
                out,
                stride,
                shortcut,
                drop_rate,
                ..
            } => self.residual(h, t, out, stride, shortcut, drop_rate)?,
        })
    }

    fn conv(
        &mut self,
        h: Tensor<4>,
        t: Option<Tensor<4>>,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> Act {
        let param = self.param;
        let (w, dw, shape) = self.take();
        let shape: [usize; 4] = [shape[0], shape[1], shape[2], shape[3]];
        let (b, db) = if bias {
            let (b, db, _) = self.take();
            (Some(b), db)
        } else {
            (None, None)
        };
        let conv = |x: Tensor<4>, w: Tensor<4>| conv2d(x, w, None, stride, padding);
        let w = w.reshape(shape);
        let mut dz = t.map(|t| conv(t, w.clone()));
        if let Some(dw) = dw {
            dz = add(dz, Some(conv(h.clone(), dw.reshape(shape))));
        }
        if let Some(db) = db {
            dz = add(dz, Some(channel(db)));
        }
        let input = h.clone();
        let z = match self.split.take() {
            None => conv2d(h, w, b, stride, padding),
            Some((f, b_view)) => {
                let zb = conv(b_view, w.clone());
                let zf = conv(f, w);
                let z = zb.clone() + (zf - zb).detach();
                match b {
                    Some(b) => z + channel(b),
                    None => z,
                }
            }
        };
        self.tap(param, || input, shape[2], stride, padding, z.dims());
        (self.probe(z), dz)
    }

    fn tap(
        &mut self,
        param: usize,
        input: impl FnOnce() -> Tensor<4>,
        kernel: usize,
        stride: usize,
        padding: usize,
        out: [usize; 4],
    ) {
        if self.extras.taps {
            self.taps.push(Tap {
                param,
                input: input().detach(),
                kernel,
                stride,
                padding,
                out,
            });
        }
    }

    /// The pre-activation plus this layer's probe, if the pass has probes.
    fn probe(&self, z: Tensor<4>) -> Tensor<4> {
        match self.extras.probes {
            // `taps` has just recorded this layer, so its index is the count minus one.
            Some(p) => z + p[self.taps.len() - 1].clone(),
            None => z,
        }
    }

    fn batch_norm(&mut self, h: Tensor<4>, t: Option<Tensor<4>>) -> LabResult<Act> {
        let (gamma, dgamma, _) = self.take();
        let (beta, dbeta, _) = self.take();
        let i = self.bn;
        self.bn += 1;
        let (mean, var) = match self.mode {
            BnMode::Eval => {
                let (m, v) = &self.net.running[i];
                (channel(m.clone()), channel(v.clone()))
            }
            BnMode::Train => {
                let [n, c, hh, ww] = h.dims();
                let mean = h.clone().mean_dim(0).mean_dim(2).mean_dim(3);
                let centred = h.clone() - mean.clone();
                let var = (centred.clone() * centred)
                    .mean_dim(0)
                    .mean_dim(2)
                    .mean_dim(3);
                self.stats.push((
                    mean.clone().reshape([c]).inner(),
                    var.clone().reshape([c]).inner(),
                    n * hh * ww,
                ));
                (mean, var)
            }
        };
        let inv = var.add_scalar(BN_EPS).sqrt().recip();
        let centred = h - mean;
        let scale = channel(gamma) * inv.clone();
        let mut dz = t.map(|t| t * scale.clone());
        if let Some(dg) = dgamma {
            dz = add(dz, Some(centred.clone() * inv * channel(dg)));
        }
        if let Some(db) = dbeta {
            dz = add(dz, Some(channel(db)));
        }
        Ok((centred * scale + channel(beta), dz))
    }

    fn dropout(&mut self, rate: f32, h: Tensor<4>, t: Option<Tensor<4>>) -> LabResult<Act> {
        if rate <= 0.0 {
            return Ok((h, t));
        }
        let i = self.site;
        self.site += 1;
        Ok(match self.masks.get(i) {
            Some(SiteMask::Same(m)) => (h * m.clone(), t.map(|t| t * m.clone())),
            Some(SiteMask::Split { forward, backward }) => {
                if t.is_some() {
                    return Err(LabError::Config(
                        "tangents (second order) take fixed masks, not a dropout mode".into(),
                    ));
                }
                let view = |m: &Option<Tensor<4>>| match m {
                    Some(m) => h.clone() * m.clone(),
                    None => h.clone(),
                };
                let (f, b) = (view(forward), view(backward));
                self.split = Some((f.clone(), b));
                (f, None)
            }
            Some(SiteMask::None) | None => (h, t),
        })
    }

    fn residual(
        &mut self,
        x: Tensor<4>,
        t: Option<Tensor<4>>,
        out: usize,
        stride: usize,
        shortcut: Shortcut,
        drop_rate: f32,
    ) -> LabResult<Act> {
        let c_in = x.dims()[1];
        let (h, dh) = self.conv(x.clone(), t.clone(), stride, 1, false);
        let (h, dh) = self.batch_norm(h, dh)?;
        let (h, dh) = relu(h, dh);
        let (h, dh) = self.dropout(drop_rate, h, dh)?;
        let (h, dh) = self.conv(h, dh, 1, 1, false);
        let (h, dh) = self.batch_norm(h, dh)?;
        let (s, ds) = if stride == 1 && out == c_in {
            (x, t)
        } else {
            match shortcut {
                Shortcut::A => {
                    let select = option_a_kernel(c_in, out, &x.device());
                    let f = |a: Tensor<4>| conv2d(a, select.clone(), None, stride, 0);
                    (f(x), t.map(f))
                }
                Shortcut::B => {
                    let (s, ds) = self.conv(x, t, stride, 0, false);
                    self.batch_norm(s, ds)?
                }
            }
        };
        Ok(relu(h + s, add(dh, ds)))
    }
}

fn relu(h: Tensor<4>, t: Option<Tensor<4>>) -> Act {
    let t = t.map(|t| t * h.clone().greater_elem(0.0).float());
    (activation::relu(h), t)
}

/// Option A's shortcut as a fixed 1x1 convolution [out, in, 1, 1]: input channel i goes to output
/// channel i + (out − in)/2, the others are 0; with stride s it samples x[:, :, ::s, ::s].
fn option_a_kernel(c_in: usize, out: usize, device: &Device) -> Tensor<4> {
    let offset = (out - c_in) / 2;
    let mut k = vec![0.0f32; out * c_in];
    for i in 0..c_in {
        k[(i + offset) * c_in + i] = 1.0;
    }
    Tensor::from_data(TensorData::new(k, [out, c_in, 1, 1]), device)
}

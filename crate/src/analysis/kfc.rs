//! KFC: Kronecker factors for convolution (Grosse & Martens 2016), so paper 002's K-FAC Laplace
//! weight volume (eq. 9-11, App. I eq. 20-23; `analysis::kfac` for MLPs) works on conv nets.
//!
//! For a convolution z_t = W a_t at output positions t ∈ T (a_t the im2col patch of the layer's
//! input, c·k² values in PyTorch's weight order; a dense layer is the case |T| = 1), the weight
//! curvature Σ_{t,t'} E[a_t a_t'ᵀ ⊗ G_tt'] becomes, under KFC's three assumptions (activations
//! independent of derivatives, spatial homogeneity, spatially uncorrelated derivatives),
//!   Ω ⊗ Γ,  Ω = E[Σ_t a_t a_tᵀ],  Γ = (1/|T|) E[Σ_t G_t]
//! — the spatial scaling: Ω sums over positions and Γ averages over them. G_t is paper 002's H
//! at position t: the Gauss-Newton curvature ∂²ℓ/∂z_t² = J_tᵀ (diag p − ppᵀ) J_t (J_t = ∂logits
//! /∂z_t), computed exactly as Σ_k p_k g_k g_kᵀ with g_k = J_tᵀ(p − e_k), one backward per class
//! (diag p − ppᵀ = Σ_k p_k (e_k − p)(e_k − p)ᵀ). For ReLU / max-pool nets the map z → logits is
//! piecewise linear, so this is the exact Hessian of the pre-activation.
//!
//! Expectations run over the data and `mask_draws` draws of the network's dropout masks (the
//! dropout-aware factors of App. I), BatchNorm in evaluation mode (the net as the analyses see
//! it). The volume uses the weights only (biases and BatchNorm parameters are not in Def. 3.1's
//! layers); its correlation determinant does not depend on the factors' scale, so the spatial
//! scaling changes Σ but not the volume.

use burn::tensor::activation::softmax;
use burn::tensor::module::unfold4d;
use burn::tensor::ops::UnfoldOptions;
use burn::tensor::{Tensor, TensorData};
use nalgebra::DMatrix;
use rand::Rng;

use super::kfac::{damped, LayerVolume, MaskNoise};
use super::net_hessian::{sites_for, slice_masks};
use super::volume::kronecker_log_volume;
use crate::backend::read_f32;
use crate::error::{LabError, LabResult};
use crate::kernels::matmul;
use crate::model::dropout::sample_gaussian_mask;
use crate::model::net::masks::sample_site_masks;
use crate::model::net::{BnMode, DropoutSite, Net, Tap};
use crate::progress::Reporter;
use crate::train::eval::DeviceData;

/// One convolution or dense layer's factors.
#[derive(Debug, Clone)]
pub struct KfcLayer {
    /// The weight's index in `Net::param_specs` and its state_dict name.
    pub param: usize,
    pub name: String,
    /// |T|, the output positions the weight is shared over (1 for a dense layer).
    pub positions: usize,
    /// Ω, (c·k²) x (c·k²).
    pub a: DMatrix<f64>,
    /// Γ, out x out.
    pub h: DMatrix<f64>,
}

/// Ω and Γ of every convolution / dense layer, averaged over `data` and `mask_draws` draws of
/// `noise` at the network's dropout rates (one draw when there is no noise to draw).
pub async fn kfc_factors(
    net: &Net,
    data: &DeviceData,
    noise: MaskNoise,
    mask_draws: usize,
    rng: &mut impl Rng,
    reporter: &mut impl Reporter,
) -> LabResult<Vec<KfcLayer>> {
    let sites = net.spec.dropout_sites()?;
    let draws = if noise == MaskNoise::Off || sites.is_empty() {
        1
    } else {
        mask_draws.max(1)
    };
    let mut total: Option<Vec<KfcLayer>> = None;
    for d in 0..draws {
        let masks = draw_masks(noise, rng, data.len, &sites);
        let f = kfc_factors_masked(net, data, &masks).await?;
        total = Some(match total {
            None => f,
            Some(mut t) => {
                for (acc, l) in t.iter_mut().zip(f) {
                    acc.a += l.a;
                    acc.h += l.h;
                }
                t
            }
        });
        if !reporter
            .report("KFC factors: mask draw", d + 1, draws)
            .await
        {
            return Err(LabError::Cancelled);
        }
    }
    let mut t = total.expect("at least one draw");
    for l in &mut t {
        l.a /= draws as f64;
        l.h /= draws as f64;
    }
    Ok(t)
}

fn draw_masks(
    noise: MaskNoise,
    rng: &mut impl Rng,
    rows: usize,
    sites: &[DropoutSite],
) -> Vec<Option<Vec<f32>>> {
    match noise {
        MaskNoise::Off => Vec::new(),
        MaskNoise::Bernoulli => sample_site_masks(rng, rows, sites),
        MaskNoise::Gaussian => sites
            .iter()
            .map(|s| sample_gaussian_mask(rng, rows, s.mask_shape.iter().product(), s.rate))
            .collect(),
    }
}

/// Ω and Γ over `data` under fixed dropout masks (one per site, host [rows, site size]; empty
/// for none).
pub async fn kfc_factors_masked(
    net: &Net,
    data: &DeviceData,
    masks: &[Option<Vec<f32>>],
) -> LabResult<Vec<KfcLayer>> {
    let sites = sites_for(net, masks)?;
    if data.len == 0 {
        return Err(LabError::Config(
            "KFC factors need at least one example".into(),
        ));
    }
    let device = net.device();
    let classes = net.spec.classes;
    let leaves: Vec<Tensor<1>> = net.params.iter().map(|p| p.clone().autodiff()).collect();
    // Device sums over the data: Σ_n Σ_t a aᵀ and Σ_n Σ_t Σ_k p_k g gᵀ per layer.
    let mut omega: Vec<Tensor<2>> = Vec::new();
    let mut gamma: Vec<Tensor<2>> = Vec::new();
    let mut shapes: Vec<Tap> = Vec::new();
    let mut row0 = 0;
    for (x, _) in &data.chunks {
        let rows = x.dims()[0];
        let chunk_masks = slice_masks(masks, &sites, row0, rows, &device);
        row0 += rows;
        let pass = net.run_tapped(&net.params, x.clone(), &chunk_masks, BnMode::Eval, None)?;
        let p = softmax(pass.logits, 1);
        for (l, tap) in pass.taps.iter().enumerate() {
            let patches = patches(tap);
            let outer = matmul(patches.clone().transpose(), patches);
            accumulate(&mut omega, l, outer);
        }
        for k in 0..classes {
            // c_n = sqrt(p_nk) (p_n − e_k): the backward of Σ_n c_n · logits_n leaves
            // sqrt(p_nk) g_k at every probe, so Σ over k of the probes' outer products is Σ_k p_k g gᵀ.
            let mut onehot = vec![0.0f32; rows * classes];
            for r in 0..rows {
                onehot[r * classes + k] = 1.0;
            }
            let e_k = Tensor::from_data(TensorData::new(onehot, [rows, classes]), &device);
            let weight = p.clone().slice([0..rows, k..k + 1]).sqrt();
            let coef = (p.clone() - e_k) * weight;
            let probes: Vec<Tensor<4>> = pass
                .taps
                .iter()
                .map(|t| Tensor::zeros(t.out, &device).autodiff().require_grad())
                .collect();
            let run = net.run_tapped(
                &leaves,
                x.clone(),
                &chunk_masks,
                BnMode::Eval,
                Some(&probes),
            )?;
            let grads = (run.logits * coef).sum().backward();
            for (l, probe) in probes.iter().enumerate() {
                let g = probe.grad(&grads).ok_or_else(|| {
                    LabError::Numerical(format!(
                        "layer {} does not reach the loss",
                        net.param_specs[pass.taps[l].param].name
                    ))
                })?;
                let [n, c, h, w] = pass.taps[l].out;
                // [n, c, h, w] → rows (n, h, w), columns c.
                let g = g.swap_dims(1, 2).swap_dims(2, 3).reshape([n * h * w, c]);
                accumulate(&mut gamma, l, matmul(g.clone().transpose(), g));
            }
        }
        if shapes.is_empty() {
            shapes = pass.taps;
        }
    }
    let n = data.len as f64;
    let mut out = Vec::with_capacity(shapes.len());
    for ((tap, o), g) in shapes.iter().zip(omega).zip(gamma) {
        let [_, c, h, w] = tap.out;
        let positions = h * w;
        out.push(KfcLayer {
            param: tap.param,
            name: net.param_specs[tap.param].name.clone(),
            positions,
            a: host(o, 1.0 / n).await?,
            h: host(g, 1.0 / (n * positions as f64)).await?,
        });
        debug_assert_eq!(out.last().map(|l| l.h.nrows()), Some(c));
    }
    Ok(out)
}

/// The layer's im2col patches as rows (example, position) x columns (c·k², PyTorch's weight
/// order: channel, then kernel row, then kernel column).
fn patches(tap: &Tap) -> Tensor<2> {
    let k = tap.kernel;
    let opts = UnfoldOptions::new([tap.stride, tap.stride], [tap.padding, tap.padding], [1, 1]);
    let u = unfold4d(tap.input.clone(), [k, k], opts);
    let [n, d, positions] = u.dims();
    u.swap_dims(1, 2).reshape([n * positions, d])
}

fn accumulate(acc: &mut Vec<Tensor<2>>, l: usize, m: Tensor<2>) {
    if l < acc.len() {
        acc[l] = acc[l].clone() + m;
    } else {
        acc.push(m);
    }
}

async fn host(m: Tensor<2>, scale: f64) -> LabResult<DMatrix<f64>> {
    let [r, c] = m.dims();
    let v = read_f32(m).await?;
    Ok(DMatrix::from_row_slice(r, c, &v).map(|x| x as f64 * scale))
}

/// log vol of each layer's weights from Σ ≈ Ω⁻¹ ⊗ Γ⁻¹, damping τ relative to each factor's
/// mean diagonal (as `analysis::kfac::laplace_volumes`).
pub fn kfc_volumes(layers: &[KfcLayer], damping: f64) -> LabResult<Vec<LayerVolume>> {
    if !(damping > 0.0) {
        return Err(LabError::Config(format!(
            "the K-FAC damping must be positive, got {damping}"
        )));
    }
    layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(LayerVolume {
                layer: i,
                fan_in: l.a.nrows(),
                fan_out: l.h.nrows(),
                log_volume: kronecker_log_volume(&damped(&l.a, damping), &damped(&l.h, damping))?,
            })
        })
        .collect()
}

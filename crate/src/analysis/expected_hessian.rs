//! The Hessian of the expected dropout loss, H = ∇²L_S with L_S(θ) = E_δ R_S^drop(θ; δ): paper
//! 001 takes H := ∇²L_S (Sec. 5.2, eq. 17) in its cosine α (Sec. 5.3, eq. 18). For the two-layer
//! MSE model L_S has the closed form of eq. 7 (`objectives/modified_loss.rs`); for a deeper
//! cross-entropy MLP it has none, but the masks do not depend on θ, so ∇²L_S = E_δ[H_δ] with H_δ
//! the exact Hessian of the loss under the fixed mask δ, and products H v are expectations of
//! exact products H_δ v (`hessian.rs`, one mask per direction in a batched pass).
//!
//! The same operator runs on any network: an MLP takes the batched masked pass above, masks per
//! hidden layer; any other network exact masked products through its layers (`net_hessian.rs`),
//! masks per dropout site (`model::net::masks`), one direction per pass.
//!
//! Two ways to draw δ:
//! - `Fresh`: a new mask for every product. Each product is an unbiased draw of H v, so linear
//!   functionals (Tr(HΣ) = Σ_s g̃_sᵀ H g̃_s / (N-1), Tr(H) = E zᵀHz) stay unbiased at the cost of
//!   one product each. ‖H‖_F² = E‖Hz‖² must not square one draw (E‖H_δ z‖² exceeds ‖Hz‖² by the
//!   mask variance): `hutchinson_independent` multiplies two independent draws instead.
//! - `Fixed`: K masks drawn once; the operator is the deterministic H_K = (1/K) Σ_k H_{δ_k}, whose
//!   columns give a symmetric dense matrix (the null baseline's spectrum). H_K is an unbiased
//!   estimate of H entrywise; its spectrum is spread by a Monte-Carlo error of order 1/√K.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::hessian::{batch_capacity, hvp_masked_batch, MaskSet, Span};
use super::net_hessian::{net_hvp, NetSpan};
use crate::error::{LabError, LabResult};
use crate::linalg::LinearOperator;
use crate::model::dropout::sample_mask;
use crate::model::net::masks::sample_site_masks;
use crate::model::net::{DropoutSite, Net};
use crate::model::Mlp;
use crate::train::eval::DeviceData;

/// Masks of every hidden layer (an MLP) or dropout site (a network of layers) for one product:
/// host [rows, mask size] each (None where the rate is 0).
pub type Masks = Vec<Option<Vec<f32>>>;

pub enum MaskDraw {
    Fresh(Box<ChaCha8Rng>),
    Fixed(Vec<Masks>),
}

/// Which pass computes the masked products.
enum Path<'a> {
    /// An MLP: the batched masked HVP pass, one mask per hidden layer at `drop_rates`.
    Dense {
        model: &'a Mlp,
        drop_rates: Vec<f32>,
        span: Span,
    },
    /// Any network of layers: masked HVPs through its layers, one mask per dropout site.
    Layers {
        net: &'a Net,
        sites: Vec<DropoutSite>,
        span: NetSpan,
    },
}

pub struct ExpectedHessian<'a> {
    path: Path<'a>,
    data: &'a DeviceData,
    draw: MaskDraw,
    /// Exact masked products computed so far (K per product in `Fixed` mode).
    pub products: usize,
}

impl<'a> ExpectedHessian<'a> {
    /// A fresh mask at `drop_rates` (one per hidden layer) for every product.
    pub fn fresh(
        model: &'a Mlp,
        data: &'a DeviceData,
        drop_rates: &[f32],
        span: Span,
        rng: ChaCha8Rng,
    ) -> LabResult<Self> {
        Self::checked(
            model,
            data,
            drop_rates,
            span,
            MaskDraw::Fresh(Box::new(rng)),
        )
    }

    /// H_K over `k` masks drawn now from `rng`.
    pub fn fixed(
        model: &'a Mlp,
        data: &'a DeviceData,
        drop_rates: &[f32],
        span: Span,
        k: usize,
        rng: &mut impl Rng,
    ) -> LabResult<Self> {
        if k == 0 {
            return Err(LabError::Config(
                "the mask-averaged Hessian needs at least one mask".into(),
            ));
        }
        let masks = (0..k)
            .map(|_| draw_masks(rng, &model.config.widths, drop_rates, data.len))
            .collect();
        Self::with_masks(model, data, drop_rates, span, masks)
    }

    /// H_K over the given masks (each: one host [rows, width] mask per hidden layer).
    pub fn with_masks(
        model: &'a Mlp,
        data: &'a DeviceData,
        drop_rates: &[f32],
        span: Span,
        masks: Vec<Masks>,
    ) -> LabResult<Self> {
        if masks.is_empty() {
            return Err(LabError::Config(
                "the mask-averaged Hessian needs at least one mask".into(),
            ));
        }
        Self::checked(model, data, drop_rates, span, MaskDraw::Fixed(masks))
    }

    fn checked(
        model: &'a Mlp,
        data: &'a DeviceData,
        drop_rates: &[f32],
        span: Span,
        draw: MaskDraw,
    ) -> LabResult<Self> {
        let hidden = model.config.widths.len() - 2;
        if drop_rates.len() != hidden || drop_rates.iter().any(|p| !(0.0..1.0).contains(p)) {
            return Err(LabError::Config(format!(
                "the expected-dropout Hessian needs one drop rate in [0, 1) per hidden layer \
                 ({hidden}), got {drop_rates:?}"
            )));
        }
        if let Span::Block(b) = span {
            b.validate(&model.config)?;
        }
        Ok(ExpectedHessian {
            path: Path::Dense {
                model,
                drop_rates: drop_rates.to_vec(),
                span,
            },
            data,
            draw,
            products: 0,
        })
    }

    /// A network of layers, a fresh mask at its sites' rates for every product.
    pub fn fresh_layers(
        net: &'a Net,
        data: &'a DeviceData,
        span: NetSpan,
        rng: ChaCha8Rng,
    ) -> LabResult<Self> {
        Self::checked_layers(net, data, span, MaskDraw::Fresh(Box::new(rng)))
    }

    /// A network of layers, H_K over `k` masks of its sites drawn now from `rng`.
    pub fn fixed_layers(
        net: &'a Net,
        data: &'a DeviceData,
        span: NetSpan,
        k: usize,
        rng: &mut impl Rng,
    ) -> LabResult<Self> {
        let sites = net.spec.dropout_sites()?;
        let masks = (0..k)
            .map(|_| sample_site_masks(rng, data.len, &sites))
            .collect();
        Self::with_layer_masks(net, data, span, masks)
    }

    /// A network of layers, H_K over the given masks (each: one host [rows, mask size] mask per
    /// dropout site, None where it drops nothing).
    pub fn with_layer_masks(
        net: &'a Net,
        data: &'a DeviceData,
        span: NetSpan,
        masks: Vec<Masks>,
    ) -> LabResult<Self> {
        if masks.is_empty() {
            return Err(LabError::Config(
                "the mask-averaged Hessian needs at least one mask".into(),
            ));
        }
        let sites = net.spec.dropout_sites()?;
        for m in &masks {
            let fits = m.len() == sites.len()
                && m.iter().zip(&sites).all(|(m, s)| {
                    m.as_ref().is_none_or(|m| {
                        m.len() == data.len * s.mask_shape.iter().product::<usize>()
                    })
                });
            if !fits {
                return Err(LabError::Config(format!(
                    "a mask set does not fit the network's {} dropout sites over {} rows",
                    sites.len(),
                    data.len
                )));
            }
        }
        Self::checked_layers(net, data, span, MaskDraw::Fixed(masks))
    }

    fn checked_layers(
        net: &'a Net,
        data: &'a DeviceData,
        span: NetSpan,
        draw: MaskDraw,
    ) -> LabResult<Self> {
        if let NetSpan::Param(i) = span {
            if i >= net.param_specs.len() {
                return Err(LabError::Config(format!(
                    "parameter {i} does not exist: the network has {}",
                    net.param_specs.len()
                )));
            }
        }
        let sites = net.spec.dropout_sites()?;
        Ok(ExpectedHessian {
            path: Path::Layers { net, sites, span },
            data,
            draw,
            products: 0,
        })
    }

    /// Masks per direction, laid out direction-major as `MaskSet::PerDirection` wants.
    fn per_direction(layers: usize, per: impl Iterator<Item = Masks>) -> Masks {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; layers];
        for masks in per {
            for (o, m) in out.iter_mut().zip(masks) {
                if let Some(m) = m {
                    o.get_or_insert_with(Vec::new).extend(m);
                }
            }
        }
        out
    }
}

/// One mask per hidden layer over all `rows` of the data, from the same draw as training's.
fn draw_masks(rng: &mut impl Rng, widths: &[usize], drop_rates: &[f32], rows: usize) -> Masks {
    drop_rates
        .iter()
        .zip(&widths[1..])
        .map(|(&p, &w)| sample_mask(rng, rows, w, p))
        .collect()
}

impl ExpectedHessian<'_> {
    /// Masked products through the layers: fresh masks one direction at a time, fixed masks
    /// each over all directions at once.
    async fn apply_layers(
        net: &Net,
        sites: &[DropoutSite],
        span: NetSpan,
        data: &DeviceData,
        draw: &mut MaskDraw,
        vs: &[Vec<f64>],
    ) -> LabResult<(Vec<Vec<f64>>, usize)> {
        match draw {
            MaskDraw::Fresh(rng) => {
                let mut out = Vec::with_capacity(vs.len());
                for v in vs {
                    let masks = sample_site_masks(rng, data.len, sites);
                    out.extend(net_hvp(net, data, &masks, span, std::slice::from_ref(v)).await?);
                }
                Ok((out, vs.len()))
            }
            MaskDraw::Fixed(fixed) => {
                let mut sums = vec![vec![0.0; span.dim(net)]; vs.len()];
                for masks in fixed.iter() {
                    let products = net_hvp(net, data, masks, span, vs).await?;
                    for (sum, hv) in sums.iter_mut().zip(products) {
                        sum.iter_mut().zip(hv).for_each(|(s, x)| *s += x);
                    }
                }
                let k = fixed.len() as f64;
                let out = sums
                    .into_iter()
                    .map(|s| s.into_iter().map(|x| x / k).collect())
                    .collect();
                Ok((out, vs.len() * fixed.len()))
            }
        }
    }
}

impl LinearOperator for ExpectedHessian<'_> {
    fn dim(&self) -> usize {
        match &self.path {
            Path::Dense { model, span, .. } => span.dim(&model.config.widths),
            Path::Layers { net, span, .. } => span.dim(net),
        }
    }

    async fn apply(&mut self, vs: &[Vec<f64>]) -> LabResult<Vec<Vec<f64>>> {
        let dim = self.dim();
        if let Some(bad) = vs.iter().position(|v| v.len() != dim) {
            return Err(LabError::Config(format!(
                "direction {bad} has length {}, the span has {dim} parameters",
                vs[bad].len()
            )));
        }
        let (model, drop_rates, span) = match &self.path {
            Path::Dense {
                model,
                drop_rates,
                span,
            } => (*model, drop_rates, *span),
            Path::Layers { net, sites, span } => {
                let (out, products) =
                    Self::apply_layers(net, sites, *span, self.data, &mut self.draw, vs).await?;
                self.products += products;
                return Ok(out);
            }
        };
        let widths = &model.config.widths;
        let layers = widths.len() - 2;
        let capacity = batch_capacity(widths, self.data);
        let mut out = Vec::with_capacity(vs.len());
        match &mut self.draw {
            MaskDraw::Fresh(rng) => {
                for batch in vs.chunks(capacity) {
                    let masks = Self::per_direction(
                        layers,
                        (0..batch.len())
                            .map(|_| draw_masks(rng, widths, drop_rates, self.data.len)),
                    );
                    out.extend(
                        hvp_masked_batch(
                            model,
                            self.data,
                            MaskSet::PerDirection(&masks),
                            span,
                            batch,
                        )
                        .await?,
                    );
                    self.products += batch.len();
                }
            }
            MaskDraw::Fixed(fixed) => {
                // Each direction goes through K times, once under each mask, then is averaged;
                // a batch holds at most `capacity` (direction, mask) pairs.
                let k = fixed.len();
                let group = (capacity / k).max(1);
                let chunk = k.min(capacity);
                for batch in vs.chunks(group) {
                    let mut sums = vec![vec![0.0; dim]; batch.len()];
                    for part in fixed.chunks(chunk) {
                        let repeated: Vec<Vec<f64>> = batch
                            .iter()
                            .flat_map(|v| std::iter::repeat_n(v.clone(), part.len()))
                            .collect();
                        let masks = Self::per_direction(
                            layers,
                            batch.iter().flat_map(|_| part.iter().cloned()),
                        );
                        let products = hvp_masked_batch(
                            model,
                            self.data,
                            MaskSet::PerDirection(&masks),
                            span,
                            &repeated,
                        )
                        .await?;
                        self.products += repeated.len();
                        for (sum, hv) in sums.iter_mut().zip(products.chunks(part.len())) {
                            for p in hv {
                                sum.iter_mut().zip(p).for_each(|(s, x)| *s += x);
                            }
                        }
                    }
                    out.extend(
                        sums.into_iter()
                            .map(|s| s.into_iter().map(|x| x / k as f64).collect::<Vec<f64>>()),
                    );
                }
            }
        }
        Ok(out)
    }
}

//! The Hessian of the expected dropout loss, ∇²L_S with L_S = E_δ R_S^drop (paper 001's H, eq.
//! 17-18), against an exact f64 oracle. Masks are independent across rows, so
//! L_S(θ) = (1/n) Σ_i Σ_c P(c) ℓ_i(θ; c) = Σ_c P(c) R(θ; every row masked by c), c running over
//! the 2^w keep patterns of the dropped layer: an exact finite sum. Its gradient is the f64
//! backprop of `common/reference.rs` and its Hessian columns central differences of that gradient
//! (tanh, so no kinks; error O(ε²) ≈ 1e-10).
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::reference::backprop_f64;
use dropout_lab::analysis::alignment::centre;
use dropout_lab::analysis::expected_hessian::ExpectedHessian;
use dropout_lab::analysis::hessian::Span;
use dropout_lab::analysis::noise::{gradient_samples, Block};
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::experiments::alignment_track::{alignment_at, HessianOf, TrackConfig};
use dropout_lab::experiments::fig6_alignment::Fig6Config;
use dropout_lab::experiments::noise_run::Setting;
use dropout_lab::experiments::Silent;
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::linalg::LinearOperator;
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, HostParams, InitScheme, Mlp, MlpConfig};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::DeviceData;
use nalgebra::{DMatrix, DVector};
use rand::Rng;

struct Net {
    cfg: MlpConfig,
    theta: HostParams,
    data: Dataset,
    /// Drop rate of the first hidden layer (the only one with dropout).
    q: f64,
}

fn net(widths: Vec<usize>, rows: usize, q: f32, seed: u64) -> Net {
    let mut drop_rates = vec![0.0; widths.len() - 2];
    drop_rates[0] = q;
    let cfg = MlpConfig {
        widths: widths.clone(),
        activation: Activation::Tanh,
        drop_rates,
        init: InitScheme::Xavier,
    };
    let mut rng = stream(seed, Stream::Init);
    let mut theta = initial_params(&cfg, &mut rng);
    for (_, b) in theta.layers.iter_mut() {
        b.iter_mut().for_each(|v| *v = rng.random_range(-0.5..0.5));
    }
    let classes = *widths.last().unwrap();
    let features = (0..rows * widths[0])
        .map(|_| rng.random_range(-1.5..1.5))
        .collect();
    let labels = (0..rows).map(|i| (i % classes) as u8).collect();
    Net {
        cfg,
        theta,
        data: Dataset {
            features,
            labels,
            dim: widths[0],
            classes,
        },
        q: q as f64,
    }
}

impl Net {
    fn flat(&self) -> Vec<f64> {
        self.theta.flatten().iter().map(|&v| v as f64).collect()
    }

    fn split(&self, flat: &[f64]) -> Vec<Vec<f64>> {
        let mut p = Vec::new();
        let mut o = 0;
        for w in self.cfg.widths.windows(2) {
            for len in [w[0] * w[1], w[1]] {
                p.push(flat[o..o + len].to_vec());
                o += len;
            }
        }
        p
    }

    /// Keep patterns of the dropped layer with their probabilities, as inverted-dropout values.
    fn patterns(&self) -> Vec<(f64, Vec<f64>)> {
        let w = self.cfg.widths[1];
        let keep = 1.0 - self.q;
        (0..1usize << w)
            .map(|bits| {
                let kept = bits.count_ones() as i32;
                let p = keep.powi(kept) * self.q.powi(w as i32 - kept);
                let m = (0..w)
                    .map(|u| if bits >> u & 1 == 1 { 1.0 / keep } else { 0.0 })
                    .collect();
                (p, m)
            })
            .collect()
    }

    /// ∇ of the loss over `rows` (all when None) with every row masked by pattern `m`.
    fn grad_masked(&self, flat: &[f64], m: &[f64], rows: Option<usize>) -> Vec<f64> {
        let (lo, hi) = rows.map_or((0, self.data.len()), |r| (r, r + 1));
        let tiled: Vec<f64> = (lo..hi).flat_map(|_| m.iter().copied()).collect();
        self.grad_rows(flat, tiled, lo, hi)
    }

    /// ∇ of the loss over rows [lo, hi) with the dropped layer's per-row mask `mask`.
    fn grad_rows(&self, flat: &[f64], mask: Vec<f64>, lo: usize, hi: usize) -> Vec<f64> {
        let d = self.data.dim;
        let x: Vec<f64> = self.data.features[lo * d..hi * d]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let labels: Vec<usize> = self.data.labels[lo..hi]
            .iter()
            .map(|&l| l as usize)
            .collect();
        let mut masks: Vec<Option<Vec<f64>>> = vec![None; self.cfg.widths.len() - 2];
        masks[0] = Some(mask);
        let (_, g) = backprop_f64(
            &self.split(flat),
            &self.cfg.widths,
            self.cfg.activation,
            &x,
            &labels,
            &masks,
            &masks,
        );
        g.concat()
    }

    /// ∇L_S exactly: the probability-weighted sum over keep patterns.
    fn expected_grad(&self, flat: &[f64]) -> Vec<f64> {
        let mut g = vec![0.0; flat.len()];
        for (p, m) in self.patterns() {
            for (a, b) in g.iter_mut().zip(self.grad_masked(flat, &m, None)) {
                *a += p * b;
            }
        }
        g
    }

    /// Dense Hessian over `indices` of the gradient `grad` by central differences.
    fn dense(&self, indices: &[usize], grad: impl Fn(&[f64]) -> Vec<f64>) -> DMatrix<f64> {
        let theta = self.flat();
        let eps = 1e-5;
        let mut h = DMatrix::zeros(indices.len(), indices.len());
        for (c, &j) in indices.iter().enumerate() {
            let mut plus = theta.clone();
            plus[j] += eps;
            let mut minus = theta.clone();
            minus[j] -= eps;
            let (gp, gm) = (grad(&plus), grad(&minus));
            for (r, &i) in indices.iter().enumerate() {
                h[(r, c)] = (gp[i] - gm[i]) / (2.0 * eps);
            }
        }
        (&h + h.transpose()) * 0.5
    }

    fn block_indices(&self, layer: usize) -> Vec<usize> {
        let w = &self.cfg.widths;
        let start: usize = (0..layer).map(|l| w[l] * w[l + 1] + w[l + 1]).sum();
        (start..start + w[layer] * w[layer + 1]).collect()
    }

    fn drop_rates(&self) -> Vec<f32> {
        self.cfg.drop_rates.clone()
    }
}

fn rel_max(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a - b).amax() / b.amax()
}

#[test]
fn averaging_every_joint_mask_gives_the_exact_hessian_of_the_expected_loss() {
    // Two rows of three dropped units: 64 joint masks, equally likely at drop 0.5, so their plain
    // average is ∇²L_S exactly. Over all parameters (the dropped layer's own weights included).
    let n = net(vec![4, 3, 3, 2], 2, 0.5, 11);
    let all: Vec<usize> = (0..n.flat().len()).collect();
    let oracle = n.dense(&all, |t| n.expected_grad(t));
    let masks: Vec<Vec<Option<Vec<f32>>>> = (0..64u32)
        .map(|bits| {
            let m: Vec<f32> = (0..6).map(|b| (bits >> b & 1) as f32 * 2.0).collect();
            vec![Some(m), None]
        })
        .collect();
    let device = cpu_device();
    let model = Mlp::from_host(&n.cfg, &n.theta, &device);
    let resident = DeviceData::upload(&n.data, &device);
    let mut op =
        ExpectedHessian::with_masks(&model, &resident, &n.drop_rates(), Span::All, masks).unwrap();
    let (h, asym) = pollster::block_on(to_dense(&mut op, 8, &mut Silent, "")).unwrap();
    let err = rel_max(&h, &oracle);
    assert!(err < 1e-4, "max |H_K - ∇²L_S| / max|∇²L_S| = {err:e}");
    assert!(
        asym < 1e-5,
        "a mask average of Hessians is symmetric: {asym:e}"
    );
    // Not the plain Hessian: the expectation over masks is what is being checked.
    let plain = n.dense(&all, |t| n.grad_masked(t, &[1.0; 3], None));
    assert!(rel_max(&plain, &oracle) > 0.05);
}

#[test]
fn fresh_mask_products_average_to_the_expected_hessian_across_data_chunks() {
    // 2100 rows: more than one evaluation chunk (2048), so per-direction masks are sliced by rows.
    let n = net(vec![5, 4, 4, 3], 2100, 0.3, 12);
    let block = n.block_indices(1);
    let oracle = n.dense(&block, |t| n.expected_grad(t));
    let mut rng = stream(3, Stream::Directions);
    let v: Vec<f64> = (0..block.len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let want = &oracle * DVector::from_column_slice(&v);
    let device = cpu_device();
    let model = Mlp::from_host(&n.cfg, &n.theta, &device);
    let resident = DeviceData::upload(&n.data, &device);
    let mut op = ExpectedHessian::fresh(
        &model,
        &resident,
        &n.drop_rates(),
        Span::Block(Block { layer: 1 }),
        stream(4, Stream::HessianMasks),
    )
    .unwrap();
    let draws = 400;
    let products = pollster::block_on(op.apply(&vec![v.clone(); draws])).unwrap();
    assert_eq!(op.products, draws);
    for (i, want_i) in want.iter().enumerate() {
        let xs: Vec<f64> = products.iter().map(|p| p[i]).collect();
        let mean = xs.iter().sum::<f64>() / draws as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (draws as f64 - 1.0)).sqrt();
        let se = sd / (draws as f64).sqrt();
        // 4.5 standard errors per component: 16 components, a 1e-4 chance in all; seed fixed.
        assert!(
            (mean - want_i).abs() <= 4.5 * se + 1e-5 * want.amax(),
            "component {i}: mean {mean} vs exact {want_i} (se {se})"
        );
        assert!(sd > 0.0, "fresh masks give varying products");
    }
    // The draws are informative: the mean is far from the plain Hessian's product.
    let plain = n.dense(&block, |t| n.grad_masked(t, &[1.0; 4], None));
    let plain_v = &plain * DVector::from_column_slice(&v);
    let mean: Vec<f64> = (0..block.len())
        .map(|i| products.iter().map(|p| p[i]).sum::<f64>() / draws as f64)
        .collect();
    let to_plain = (DVector::from_vec(mean.clone()) - &plain_v).norm();
    let to_exact = (DVector::from_vec(mean) - &want).norm();
    assert!(to_exact * 5.0 < to_plain, "{to_exact} vs {to_plain}");
}

#[test]
fn mask_averages_over_several_data_chunks_use_each_rows_own_mask() {
    // Two fixed masks over 2100 rows (two evaluation chunks): H_K v against the f64 Hessians of
    // the loss under exactly those masks, which a mis-sliced mask would not reproduce.
    let n = net(vec![5, 4, 4, 3], 2100, 0.3, 14);
    let rows = n.data.len();
    let mut rng = stream(6, Stream::DropoutMasks);
    let masks: Vec<Vec<f64>> = (0..2)
        .map(|_| {
            (0..rows * 4)
                .map(|_| {
                    if rng.random::<f64>() < 0.7 {
                        1.0 / 0.7
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let block = n.block_indices(1);
    let mut want = DVector::zeros(block.len());
    let mut vr = stream(7, Stream::Directions);
    let v: Vec<f64> = (0..block.len())
        .map(|_| vr.random_range(-1.0..1.0))
        .collect();
    for m in &masks {
        let h = n.dense(&block, |t| n.grad_rows(t, m.clone(), 0, rows));
        want += h * DVector::from_column_slice(&v) * 0.5;
    }
    let device = cpu_device();
    let model = Mlp::from_host(&n.cfg, &n.theta, &device);
    let resident = DeviceData::upload(&n.data, &device);
    let host: Vec<Vec<Option<Vec<f32>>>> = masks
        .iter()
        .map(|m| vec![Some(m.iter().map(|&x| x as f32).collect()), None])
        .collect();
    let mut op = ExpectedHessian::with_masks(
        &model,
        &resident,
        &n.drop_rates(),
        Span::Block(Block { layer: 1 }),
        host,
    )
    .unwrap();
    let got = pollster::block_on(op.apply(&[v])).unwrap();
    let err = (DVector::from_vec(got[0].clone()) - &want).amax() / want.amax();
    assert!(err < 1e-4, "relative error {err:e}");
}

#[test]
fn alignment_with_the_expected_hessian_matches_its_dense_definition() {
    let n = net(vec![5, 4, 4, 3], 12, 0.3, 13);
    let mut cfg: TrackConfig = Fig6Config::demo().track;
    cfg.widths = n.cfg.widths.clone();
    cfg.activation = Activation::Tanh;
    cfg.train_size = n.data.len();
    cfg.samples = 1200;
    cfg.probes = 400;
    cfg.hessian = HessianOf::Expected;
    cfg.compare_plain = true;
    let s = Setting {
        drop_rate: n.q as f32,
        lr: 0.1,
    };
    let device = cpu_device();
    let resident = DeviceData::upload(&n.data, &device);
    let block = n.block_indices(1);
    let h = n.dense(&block, |t| n.expected_grad(t));
    let plain = n.dense(&block, |t| n.grad_masked(t, &[1.0; 4], None));
    // Per-row, per-pattern Hessians for the Monte-Carlo error of Tr(HΣ) with one mask per product.
    let rows = n.data.len();
    let patterns = n.patterns();
    let per_row: Vec<Vec<(f64, DMatrix<f64>)>> = (0..rows)
        .map(|r| {
            patterns
                .iter()
                .map(|(p, m)| (*p, n.dense(&block, |t| n.grad_masked(t, m, Some(r)))))
                .collect()
        })
        .collect();
    pollster::block_on(async {
        let (a, compared) = alignment_at(
            &cfg,
            &s,
            &n.theta.to_net(&n.cfg).unwrap(),
            &n.data,
            &resident,
            &device,
            5,
        )
        .await
        .unwrap();
        let seed = cfg
            .seed
            .wrapping_add(5u64.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let noisy = cfg.model(s.drop_rate);
        let samples = gradient_samples(
            &noisy,
            &n.theta,
            &noisy.drop_rates,
            &n.data,
            Block { layer: 1 },
            cfg.samples,
            seed,
            &device,
            |_| {},
        )
        .await
        .unwrap();
        let g = centre(&samples).unwrap();
        let dof = cfg.samples as f64 - 1.0;
        let sigma = g.transpose() * &g / dof;
        let exact = (&h * &sigma).trace();
        // Var_δ(g̃ᵀ H_δ g̃) with H_δ = (1/n) Σ_i H_i(δ_i), the rows' masks independent.
        let var: f64 = (0..cfg.samples)
            .map(|k| {
                let gk = g.row(k).transpose();
                per_row
                    .iter()
                    .map(|pats| {
                        let q: Vec<(f64, f64)> = pats
                            .iter()
                            .map(|(p, hr)| (*p, (gk.transpose() * hr * &gk)[(0, 0)]))
                            .collect();
                        let m1: f64 = q.iter().map(|(p, x)| p * x).sum();
                        let m2: f64 = q.iter().map(|(p, x)| p * x * x).sum();
                        (m2 - m1 * m1) / (rows * rows) as f64
                    })
                    .sum::<f64>()
            })
            .sum();
        let se = var.sqrt() / dof;
        assert!(
            (a.trace_h_sigma - exact).abs() <= 4.0 * se + 1e-5 * exact.abs(),
            "Tr(∇²L_S Σ) {} vs exact {exact} (Monte-Carlo se {se})",
            a.trace_h_sigma
        );
        assert!(
            se < 0.05 * exact.abs(),
            "the check is sharp: se {se} vs {exact}"
        );
        let (tr, fr) = (h.trace(), h.norm_squared());
        common::assert_hutchinson_near(&a, tr, fr);
        let cosine = exact / (fr.sqrt() * sigma.norm());
        // First-order propagation of the two errors (4 se each): δα/α = δT/T - δF²/(2F²).
        let tol =
            cosine.abs() * (4.0 * se / exact.abs() + 2.0 * a.frobenius_sq_h.std_error / fr) + 1e-6;
        assert!(
            (a.cosine - cosine).abs() <= tol,
            "α {} vs dense {cosine} (tolerance {tol})",
            a.cosine
        );
        // The plain comparison: the Hessian of the loss with dropout off, same samples.
        let c = compared.expect("compare_plain asks for the plain alignment");
        let t_plain = (&plain * &sigma).trace();
        assert!(
            (c.trace_h_sigma - t_plain).abs() <= 1e-4 * t_plain.abs(),
            "{} vs {t_plain}",
            c.trace_h_sigma
        );
        assert!(
            (t_plain - exact).abs() > 4.0 * se,
            "the two Hessians must differ measurably here: {t_plain} vs {exact}"
        );
    });
}

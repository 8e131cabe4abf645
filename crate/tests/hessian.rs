//! Exact Hessian-vector products (reverse-over-forward, f32 on burn) against a dense f64 Hessian
//! of an independent implementation, built by second central differences of its loss:
//! H_ij ≈ [L(+i+j) - L(+i-j) - L(-i+j) + L(-i-j)] / 4h², error O(h²) + O(ε_f64 / h²) ≈ 1e-8.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use dropout_lab::analysis::hessian::{hvp, hvp_central_difference, HessianOperator, Span};
use dropout_lab::analysis::noise::Block;
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::linalg::dense::symmetric_eigen;
use dropout_lab::linalg::lanczos::{lanczos, LanczosOptions};
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::model::dropout::sample_mask;
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, HostParams, InitScheme, Mlp, MlpConfig};
use dropout_lab::progress::Silent;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::DeviceData;
use nalgebra::DMatrix;
use rand::Rng;

use crate::common;
use common::reference::loss_f64;

struct Tiny {
    cfg: MlpConfig,
    params: HostParams,
    data: Dataset,
    masks: Vec<Option<Vec<f32>>>,
}

fn tiny(act: Activation, drop_rates: Vec<f32>, rows: usize, seed: u64) -> Tiny {
    let widths = vec![5, 4, 6, 3];
    let cfg = MlpConfig {
        widths: widths.clone(),
        activation: act,
        drop_rates: drop_rates.clone(),
        init: InitScheme::Xavier,
    };
    let mut rng = stream(seed, Stream::Init);
    let mut params = initial_params(&cfg, &mut rng);
    for (_, b) in params.layers.iter_mut() {
        b.iter_mut().for_each(|v| *v = rng.random_range(-0.5..0.5));
    }
    let features: Vec<f32> = (0..rows * 5).map(|_| rng.random_range(-1.0..1.0)).collect();
    let labels: Vec<u8> = (0..rows).map(|i| (i % 3) as u8).collect();
    let mut mrng = stream(seed, Stream::DropoutMasks);
    let masks = drop_rates
        .iter()
        .zip(&widths[1..])
        .map(|(&p, &w)| sample_mask(&mut mrng, rows, w, p))
        .collect();
    Tiny {
        cfg,
        params,
        data: Dataset {
            features,
            labels,
            dim: 5,
            classes: 3,
        },
        masks,
    }
}

impl Tiny {
    fn loss64(&self, flat: &[f64]) -> (f64, f64) {
        let mut p = Vec::new();
        let mut o = 0;
        for w in self.cfg.widths.windows(2) {
            for len in [w[0] * w[1], w[1]] {
                p.push(flat[o..o + len].to_vec());
                o += len;
            }
        }
        let x: Vec<f64> = self.data.features.iter().map(|&v| v as f64).collect();
        let labels: Vec<usize> = self.data.labels.iter().map(|&l| l as usize).collect();
        let masks: Vec<Option<Vec<f64>>> = self
            .masks
            .iter()
            .map(|m| m.as_ref().map(|m| m.iter().map(|&v| v as f64).collect()))
            .collect();
        loss_f64(
            &p,
            &self.cfg.widths,
            self.cfg.activation,
            &x,
            &labels,
            &masks,
        )
    }

    /// Dense f64 Hessian over the given flat parameter indices.
    fn dense_oracle(&self, indices: &[usize]) -> DMatrix<f64> {
        let theta: Vec<f64> = self.params.flatten().iter().map(|&v| v as f64).collect();
        let h = 1e-4;
        let (_, min_pre) = self.loss64(&theta);
        // Second differences move pre-activations by a few h·|x|: stay clear of ReLU kinks.
        if self.cfg.activation == Activation::Relu {
            assert!(
                min_pre > 1e-2,
                "a pre-activation sits within {min_pre} of a kink; pick another seed"
            );
        }
        let at = |i: usize, si: f64, j: usize, sj: f64| {
            let mut t = theta.clone();
            t[i] += si * h;
            t[j] += sj * h;
            self.loss64(&t).0
        };
        let d = indices.len();
        let mut m = DMatrix::zeros(d, d);
        for a in 0..d {
            for b in a..d {
                let (i, j) = (indices[a], indices[b]);
                let v = (at(i, 1.0, j, 1.0) - at(i, 1.0, j, -1.0) - at(i, -1.0, j, 1.0)
                    + at(i, -1.0, j, -1.0))
                    / (4.0 * h * h);
                m[(a, b)] = v;
                m[(b, a)] = v;
            }
        }
        m
    }

    fn block_indices(&self, layer: usize) -> Vec<usize> {
        let w = &self.cfg.widths;
        let start: usize = (0..layer).map(|l| w[l] * w[l + 1] + w[l + 1]).sum();
        (start..start + w[layer] * w[layer + 1]).collect()
    }
}

fn assert_close(burn: &DMatrix<f64>, oracle: &DMatrix<f64>, what: &str) {
    let scale = oracle.amax();
    let err = (burn - oracle).amax();
    assert!(
        err <= 1e-4 * scale,
        "{what}: max |H_burn - H_f64| = {err:e}, max |H| = {scale:e}"
    );
}

fn check_full(act: Activation, drop_rates: Vec<f32>, seed: u64) {
    let t = tiny(act, drop_rates, 7, seed);
    let device = cpu_device();
    let model = Mlp::from_host(&t.cfg, &t.params, &device);
    let data = DeviceData::upload(&t.data, &device);
    let mut op = HessianOperator::new(&model, &data, Span::All);
    op.masks = t.masks.clone();
    let (dense, asymmetry) = pollster::block_on(to_dense(&mut op, 16, &mut Silent, "")).unwrap();
    let all: Vec<usize> = (0..t.cfg.param_count()).collect();
    let oracle = t.dense_oracle(&all);
    assert_close(&dense, &oracle, &format!("{act:?} full Hessian"));
    assert!(
        asymmetry < 1e-5,
        "exact HVPs give a symmetric matrix up to f32 rounding, got {asymmetry:e}"
    );
    // Random directions, several per batch: H v against the oracle's product.
    let mut rng = stream(seed, Stream::Directions);
    let vs: Vec<Vec<f64>> = (0..3)
        .map(|_| {
            (0..all.len())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect()
        })
        .collect();
    let products = pollster::block_on(hvp(&model, &data, &t.masks, Span::All, &vs)).unwrap();
    for (v, hv) in vs.iter().zip(&products) {
        let expected = &oracle * nalgebra::DVector::from_column_slice(v);
        let err = expected
            .iter()
            .zip(hv)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err <= 1e-4 * expected.amax(),
            "{act:?}: H v off by {err:e} (max |Hv| {:e})",
            expected.amax()
        );
    }
}

/// A seed whose pre-activations all lie farther than 1e-2 from ReLU's kink (checked by the oracle).
const RELU_SEED: u64 = 22;

#[test]
fn relu_hvp_equals_dense_f64_hessian() {
    check_full(Activation::Relu, vec![0.0, 0.0], RELU_SEED);
}

#[test]
fn relu_hvp_with_fixed_dropout_mask() {
    check_full(Activation::Relu, vec![0.5, 0.3], RELU_SEED);
}

#[test]
fn tanh_hvp_equals_dense_f64_hessian() {
    check_full(Activation::Tanh, vec![0.0, 0.0], 21);
}

#[test]
fn tanh_hvp_with_fixed_dropout_mask() {
    check_full(Activation::Tanh, vec![0.4, 0.2], 21);
}

/// 2100 rows span two evaluation chunks: the per-chunk products and mask slices must add up.
#[test]
fn block_hessian_over_several_chunks_with_a_mask() {
    let t = tiny(Activation::Tanh, vec![0.3, 0.5], 2100, 5);
    let device = cpu_device();
    let model = Mlp::from_host(&t.cfg, &t.params, &device);
    let data = DeviceData::upload(&t.data, &device);
    assert!(data.chunks.len() >= 2);
    let mut op = HessianOperator::new(&model, &data, Span::Block(Block { layer: 1 }));
    op.masks = t.masks.clone();
    let (dense, _) = pollster::block_on(to_dense(&mut op, 7, &mut Silent, "")).unwrap();
    assert_close(
        &dense,
        &t.dense_oracle(&t.block_indices(1)),
        "block Hessian of layer 1",
    );
}

/// The operator keeps its forward pass and gradient between products; masks swapped in between
/// must be used, not the pass built under the old ones.
#[test]
fn operator_follows_masks_swapped_between_products() {
    let masked = tiny(Activation::Tanh, vec![0.4, 0.2], 7, 21);
    let plain = tiny(Activation::Tanh, vec![0.0, 0.0], 7, 21);
    assert_eq!(masked.params.flatten(), plain.params.flatten());
    assert_eq!(masked.data.features, plain.data.features);
    let device = cpu_device();
    let model = Mlp::from_host(&masked.cfg, &masked.params, &device);
    let data = DeviceData::upload(&masked.data, &device);
    let all: Vec<usize> = (0..masked.cfg.param_count()).collect();
    let mut op = HessianOperator::new(&model, &data, Span::All);
    for (masks, reference, what) in [
        (Vec::new(), &plain, "no mask"),
        (masked.masks.clone(), &masked, "masks set after a product"),
        (Vec::new(), &plain, "masks taken away again"),
    ] {
        op.masks = masks;
        let (dense, _) = pollster::block_on(to_dense(&mut op, 16, &mut Silent, "")).unwrap();
        assert_close(&dense, &reference.dense_oracle(&all), what);
    }
}

#[test]
fn lanczos_on_the_hessian_finds_the_dense_top_eigenvalues() {
    let t = tiny(Activation::Tanh, vec![0.0, 0.0], 7, 21);
    let device = cpu_device();
    let model = Mlp::from_host(&t.cfg, &t.params, &device);
    let data = DeviceData::upload(&t.data, &device);
    let mut op = HessianOperator::new(&model, &data, Span::All);
    let all: Vec<usize> = (0..t.cfg.param_count()).collect();
    let exact = symmetric_eigen(t.dense_oracle(&all)).unwrap().values;
    let r = pollster::block_on(lanczos(
        &mut op,
        &LanczosOptions::top(5),
        &mut stream(1, Stream::Directions),
        &mut Silent,
        "",
    ))
    .unwrap();
    assert!(r.converged);
    for (i, (got, want)) in r.values.iter().zip(&exact).enumerate() {
        assert!(
            (got - want).abs() <= 1e-4 * want.abs().max(exact[0] * 1e-3),
            "λ_{i}: Lanczos {got} vs dense {want}"
        );
    }
}

#[test]
fn central_difference_fallback_approximates_the_exact_product_on_tanh() {
    let t = tiny(Activation::Tanh, vec![0.0, 0.0], 7, 21);
    let device = cpu_device();
    let model = Mlp::from_host(&t.cfg, &t.params, &device);
    let data = DeviceData::upload(&t.data, &device);
    let mut rng = stream(3, Stream::Directions);
    let v: Vec<f64> = (0..t.cfg.param_count())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let exact = pollster::block_on(hvp(&model, &data, &[], Span::All, std::slice::from_ref(&v)))
        .unwrap()
        .remove(0);
    let mut dir = t.params.clone();
    let mut o = 0;
    for (w, b) in dir.layers.iter_mut() {
        for x in w.iter_mut().chain(b.iter_mut()) {
            *x = v[o] as f32;
            o += 1;
        }
    }
    let fd = pollster::block_on(hvp_central_difference(&model, &data, &dir, 1e-2)).unwrap();
    let norm = exact.iter().map(|x| x * x).sum::<f64>().sqrt();
    let err = exact
        .iter()
        .zip(&fd)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    // f32 gradients differenced over ±1e-2: about 1e-3 relative on a smooth net.
    assert!(
        err <= 1e-2 * norm,
        "central difference off by {:.2e} relative",
        err / norm
    );
}

#[test]
fn weights_through_safetensors_give_identical_hessian_eigenvalues() {
    let t = tiny(Activation::Relu, vec![0.0, 0.0], 50, 21);
    let device = cpu_device();
    let data = DeviceData::upload(&t.data, &device);
    let spectrum = |cfg: &MlpConfig, params: &HostParams| {
        let model = Mlp::from_host(cfg, params, &device);
        let mut op = HessianOperator::new(&model, &data, Span::Block(Block { layer: 1 }));
        let (dense, _) = pollster::block_on(to_dense(&mut op, 8, &mut Silent, "")).unwrap();
        symmetric_eigen(dense).unwrap().values
    };
    let bytes = dropout_lab::io::safetensors::export(&t.cfg, &t.params).unwrap();
    let (cfg2, params2) = dropout_lab::io::safetensors::import(&bytes).unwrap();
    assert_eq!(spectrum(&t.cfg, &t.params), spectrum(&cfg2, &params2));
}

/// Index in the MLP's flat layout (W_l [in, out], then b_l) of each parameter of the same MLP as
/// a network (W_l [out, in], then b_l), in the network's order.
fn net_to_mlp_index(widths: &[usize]) -> Vec<usize> {
    let mut map = Vec::new();
    let mut start = 0;
    for w in widths.windows(2) {
        let (fan_in, fan_out) = (w[0], w[1]);
        for o in 0..fan_out {
            for i in 0..fan_in {
                map.push(start + i * fan_out + o);
            }
        }
        let bias = start + fan_in * fan_out;
        map.extend(bias..bias + fan_out);
        start = bias + fan_out;
    }
    map
}

/// The MLP built as a network of layers (Linear, activation, Dropout) gives the f64 reference's
/// loss, gradient (backprop written in common/reference.rs) and dense Hessian (second differences
/// of the reference loss), through the network's own forward, autodiff and tangent pass.
fn check_mlp_as_net(act: Activation, drop_rates: Vec<f32>, seed: u64) {
    use common::reference::{backprop_f64, params_f64};
    use dropout_lab::analysis::net_hessian::{net_hvp, NetSpan};
    use dropout_lab::backend::read_f32;
    use dropout_lab::model::net::masks::upload_site_masks;
    use dropout_lab::model::net::{BnMode, Net};

    let t = tiny(act, drop_rates, 7, seed);
    let device = cpu_device();
    let params = t.params.to_net(&t.cfg).unwrap();
    let net = Net::from_host(&params, &device).unwrap();
    let sites = net.spec.dropout_sites().unwrap();
    let site_masks: Vec<Option<Vec<f32>>> =
        t.masks.iter().filter(|m| m.is_some()).cloned().collect();
    assert_eq!(
        site_masks.len(),
        sites.len(),
        "one site per hidden layer with dropout"
    );
    let data = DeviceData::upload(&t.data, &device);
    let rows = t.data.len();
    let (x, y) = data.chunks[0].clone();
    let masks = upload_site_masks(&site_masks, rows, &sites, &device);
    let lg = net.loss_and_grads(x, y, &masks, BnMode::Eval).unwrap();

    let p = params_f64(&t.params);
    let x64: Vec<f64> = t.data.features.iter().map(|&v| v as f64).collect();
    let labels: Vec<usize> = t.data.labels.iter().map(|&l| l as usize).collect();
    let m64: Vec<Option<Vec<f64>>> = t
        .masks
        .iter()
        .map(|m| m.as_ref().map(|m| m.iter().map(|&v| v as f64).collect()))
        .collect();
    let (loss, grads) = backprop_f64(&p, &t.cfg.widths, act, &x64, &labels, &m64, &m64);
    let lab_loss = pollster::block_on(read_f32(lg.loss)).unwrap()[0] as f64;
    assert!(
        (lab_loss - loss).abs() <= 1e-5 * loss.abs().max(1.0),
        "loss {lab_loss} vs {loss}"
    );
    let map = net_to_mlp_index(&t.cfg.widths);
    let want: Vec<f64> = grads.concat();
    let mut got = Vec::new();
    for g in lg.grads {
        got.extend(
            pollster::block_on(read_f32(g))
                .unwrap()
                .into_iter()
                .map(|v| v as f64),
        );
    }
    let scale = want.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
    assert!(scale > 1e-3, "a vanishing gradient tests nothing");
    for (n, &m) in map.iter().enumerate() {
        assert!(
            (got[n] - want[m]).abs() <= 1e-5 * scale,
            "{act:?}: gradient entry {n} (MLP {m}) {} vs {}",
            got[n],
            want[m]
        );
    }

    let d = map.len();
    let units: Vec<Vec<f64>> = (0..d)
        .map(|j| {
            let mut e = vec![0.0; d];
            e[j] = 1.0;
            e
        })
        .collect();
    let columns =
        pollster::block_on(net_hvp(&net, &data, &site_masks, NetSpan::All, &units)).unwrap();
    let all: Vec<usize> = (0..d).collect();
    let oracle = t.dense_oracle(&all);
    let lab = DMatrix::from_fn(d, d, |a, b| {
        // Row and column in the MLP's layout: find the network indices that land there.
        let (na, nb) = (inverse(&map, a), inverse(&map, b));
        columns[nb][na]
    });
    assert_close(
        &lab,
        &oracle,
        &format!("{act:?} MLP as a network, full Hessian"),
    );
}

fn inverse(map: &[usize], target: usize) -> usize {
    map.iter()
        .position(|&m| m == target)
        .expect("a permutation")
}

#[test]
fn an_mlp_as_a_network_equals_the_f64_reference() {
    check_mlp_as_net(Activation::Relu, vec![0.0, 0.0], RELU_SEED);
    check_mlp_as_net(Activation::Tanh, vec![0.4, 0.2], 21);
}

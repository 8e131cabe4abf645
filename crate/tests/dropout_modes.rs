//! Paper 004's dropout modes against eq. 4-6 written out by hand in f64 (common/reference.rs
//! `backprop_f64`) on a tiny MLP with fixed masks: standard, forward-only (Def. 1), backward-only
//! (Def. 2) and augmented (eq. 7-10); the hand-written standard rule itself against finite
//! differences of the masked loss.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use burn::tensor::{Tensor, TensorData};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::model::dropout::{device_mode_masks, DropoutMode};
use dropout_lab::model::init::initial_params;
use dropout_lab::model::{Activation, HostParams, InitScheme, Mlp, MlpConfig};
use dropout_lab::rng::{stream, Stream};
use rand::Rng;

use common::reference::{backprop_f64, loss_f64};

const WIDTHS: [usize; 4] = [5, 4, 6, 3];
const ROWS: usize = 7;

struct Problem {
    cfg: MlpConfig,
    params: HostParams,
    x: Vec<f32>,
    labels: Vec<usize>,
}

fn problem(act: Activation) -> Problem {
    let cfg = MlpConfig {
        widths: WIDTHS.to_vec(),
        activation: act,
        drop_rates: vec![0.5, 0.3],
        init: InitScheme::Xavier,
    };
    let mut rng = stream(21, Stream::Init);
    let mut params = initial_params(&cfg, &mut rng);
    for (_, b) in params.layers.iter_mut() {
        b.iter_mut().for_each(|v| *v = rng.random_range(-0.5..0.5));
    }
    let x = (0..ROWS * 5).map(|_| rng.random_range(-1.0..1.0)).collect();
    let labels = (0..ROWS).map(|i| i % 3).collect();
    Problem {
        cfg,
        params,
        x,
        labels,
    }
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| a as f64).collect()
}

/// burn's loss and gradients under `mode`, and the f64 reference with the same masks.
fn compare(act: Activation, mode: DropoutMode) {
    let pr = problem(act);
    let device = cpu_device();
    // The masks the mode draws, as tensors for burn and as host vectors for the reference.
    let hidden = &WIDTHS[1..3];
    let host: Vec<(Option<Vec<f32>>, Option<Vec<f32>>)> = {
        let mut rng = stream(5, Stream::DropoutMasks);
        pr.cfg
            .drop_rates
            .iter()
            .zip(hidden)
            .map(|(&p, &w)| mode.host_masks(&mut rng, ROWS, w, p))
            .collect()
    };
    let masks = device_mode_masks(
        mode,
        &mut stream(5, Stream::DropoutMasks),
        ROWS,
        hidden,
        &pr.cfg.drop_rates,
        &device,
    );
    let mut onehot = vec![0.0f32; ROWS * 3];
    pr.labels
        .iter()
        .enumerate()
        .for_each(|(r, &l)| onehot[r * 3 + l] = 1.0);
    let model = Mlp::from_host(&pr.cfg, &pr.params, &device);
    let (loss, grads) = model.loss_and_grads_modes(
        Tensor::from_data(TensorData::new(pr.x.clone(), [ROWS, 5]), &device),
        Tensor::from_data(TensorData::new(onehot, [ROWS, 3]), &device),
        &masks,
    );
    let burn_loss = pollster::block_on(read_f32(loss)).unwrap()[0] as f64;
    let burn: Vec<Vec<f32>> = grads
        .into_iter()
        .flat_map(|(w, b)| {
            [
                pollster::block_on(read_f32(w)).unwrap(),
                pollster::block_on(read_f32(b)).unwrap(),
            ]
        })
        .collect();

    let p64 = common::reference::params_f64(&pr.params);
    let f: Vec<Option<Vec<f64>>> = host.iter().map(|(f, _)| f.as_deref().map(to64)).collect();
    let b: Vec<Option<Vec<f64>>> = host.iter().map(|(_, b)| b.as_deref().map(to64)).collect();
    let (ref_loss, ref_grads) = backprop_f64(&p64, &WIDTHS, act, &to64(&pr.x), &pr.labels, &f, &b);
    assert!(
        (burn_loss - ref_loss).abs() < 1e-5,
        "{mode:?}: loss {burn_loss} vs {ref_loss}"
    );
    let scale = ref_grads
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    for (t, (g, r)) in burn.iter().zip(&ref_grads).enumerate() {
        for (i, (&g, &r)) in g.iter().zip(r).enumerate() {
            assert!(
                (g as f64 - r).abs() < 1e-5 * scale.max(1.0),
                "{act:?} {mode:?} tensor {t} index {i}: burn {g} vs eq. 5-6 {r}"
            );
        }
    }
}

#[test]
fn hand_written_standard_rule_is_the_gradient_of_the_masked_loss() {
    // The oracle's oracle: with m_f = m_b, eq. 5-6 must be the derivative of the masked loss.
    for act in [Activation::Tanh, Activation::Relu] {
        let pr = problem(act);
        let mut rng = stream(5, Stream::DropoutMasks);
        let masks: Vec<Option<Vec<f64>>> = [(0.5, 4), (0.3, 6)]
            .iter()
            .map(|&(p, w)| {
                DropoutMode::Standard
                    .host_masks(&mut rng, ROWS, w, p)
                    .0
                    .as_deref()
                    .map(to64)
            })
            .collect();
        let p64: Vec<Vec<f64>> = pr
            .params
            .layers
            .iter()
            .flat_map(|(w, b)| [to64(w), to64(b)])
            .collect();
        let x = to64(&pr.x);
        let (_, g) = backprop_f64(&p64, &WIDTHS, act, &x, &pr.labels, &masks, &masks);
        let (_, min_pre) = loss_f64(&p64, &WIDTHS, act, &x, &pr.labels, &masks);
        let h = 1e-6;
        assert!(min_pre > 10.0 * h, "pre-activation {min_pre} at a kink");
        for t in 0..p64.len() {
            for i in 0..p64[t].len() {
                let mut plus = p64.clone();
                plus[t][i] += h;
                let mut minus = p64.clone();
                minus[t][i] -= h;
                let fd = (loss_f64(&plus, &WIDTHS, act, &x, &pr.labels, &masks).0
                    - loss_f64(&minus, &WIDTHS, act, &x, &pr.labels, &masks).0)
                    / (2.0 * h);
                assert!(
                    (g[t][i] - fd).abs() < 1e-7 + 1e-5 * fd.abs(),
                    "{act:?} {t}/{i}: {} vs {fd}",
                    g[t][i]
                );
            }
        }
    }
}

#[test]
fn standard_mode_is_autograd_of_the_masked_forward() {
    compare(Activation::Tanh, DropoutMode::Standard);
    compare(Activation::Relu, DropoutMode::Standard);
}

#[test]
fn forward_only_drops_nothing_in_the_backward_pass() {
    compare(Activation::Tanh, DropoutMode::ForwardOnly);
    compare(Activation::Relu, DropoutMode::ForwardOnly);
}

#[test]
fn backward_only_keeps_the_forward_pass_clean() {
    compare(Activation::Tanh, DropoutMode::BackwardOnly);
    compare(Activation::Relu, DropoutMode::BackwardOnly);
}

#[test]
fn augmented_composes_an_extra_backward_mask() {
    compare(
        Activation::Tanh,
        DropoutMode::Augmented { backward_rate: 0.4 },
    );
    compare(
        Activation::Relu,
        DropoutMode::Augmented { backward_rate: 0.4 },
    );
}

#[test]
fn augmented_with_no_extra_rate_is_standard() {
    let pr = problem(Activation::Tanh);
    let device = cpu_device();
    let run = |mode: DropoutMode| {
        let masks = device_mode_masks(
            mode,
            &mut stream(5, Stream::DropoutMasks),
            ROWS,
            &WIDTHS[1..3],
            &pr.cfg.drop_rates,
            &device,
        );
        let model = Mlp::from_host(&pr.cfg, &pr.params, &device);
        let mut onehot = vec![0.0f32; ROWS * 3];
        pr.labels
            .iter()
            .enumerate()
            .for_each(|(r, &l)| onehot[r * 3 + l] = 1.0);
        let (_, g) = model.loss_and_grads_modes(
            Tensor::from_data(TensorData::new(pr.x.clone(), [ROWS, 5]), &device),
            Tensor::from_data(TensorData::new(onehot, [ROWS, 3]), &device),
            &masks,
        );
        g.into_iter()
            .flat_map(|(w, b)| {
                [
                    pollster::block_on(read_f32(w)).unwrap(),
                    pollster::block_on(read_f32(b)).unwrap(),
                ]
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run(DropoutMode::Augmented { backward_rate: 0.0 }),
        run(DropoutMode::Standard)
    );
}

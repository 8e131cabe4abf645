//! Runs in headless Chromium (wasm-bindgen-test): the same training steps on WebGPU and on the
//! CPU backend give the same numbers. Same seed = same initial weights, masks and batches on
//! both, so only floating-point rounding may differ.
#![cfg(target_arch = "wasm32")]

use dropout_lab::backend::{cpu_device, webgpu_device};
use dropout_lab::data::Dataset;
use dropout_lab::model::{Activation, InitScheme, MlpConfig};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::{OptimizerKind, TrainConfig, Trainer};
use rand::Rng;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/conv_oracle.rs"]
mod conv_oracle;
#[path = "common/matmul_oracle.rs"]
mod matmul_oracle;

/// Ten Gaussian blobs in 64 dimensions: learnable, deterministic, no files needed.
fn blobs(n: usize, seed: u64) -> Dataset {
    let mut rng = stream(seed, Stream::Directions);
    let centres: Vec<f32> = (0..10 * 64).map(|_| rng.random_range(0.0..1.0)).collect();
    let mut features = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 10;
        labels.push(c as u8);
        features.extend((0..64).map(|j| centres[c * 64 + j] + rng.random_range(-0.3..0.3)));
    }
    Dataset {
        features,
        labels,
        dim: 64,
        classes: 10,
    }
}

fn config(activation: Activation, optimizer: OptimizerKind) -> TrainConfig {
    TrainConfig {
        model: MlpConfig {
            widths: vec![64, 32, 32, 10],
            activation,
            drop_rates: vec![0.2, 0.5],
            init: InitScheme::He,
        }
        .into(),
        train_size: 256,
        test_size: 128,
        optimizer,
        lr: if optimizer == OptimizerKind::Adam {
            1e-2
        } else {
            0.1
        },
        momentum: 0.9,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        schedule: Default::default(),
        epochs: 2,
        batch_size: 64,
        seed: 5,
        eval_every: 1,
        record_steps: true,
        snapshot_every: 0,
        snapshot_layer: None,
        snapshot_after: 0,
        dropout_mode: Default::default(),
        dropout_split: None,
        noise: None,
        augment: false,
        full_batch: false,
    }
}

async fn run(
    cfg: TrainConfig,
    device: burn::tensor::Device,
    backend: &str,
) -> (dropout_lab::train::History, Vec<f32>) {
    let (train, test) = (blobs(256, 1), blobs(128, 2));
    let mut t = Trainer::new(cfg, &train, &test, device, backend, "blobs")
        .await
        .expect("trainer");
    while !t.is_done() {
        t.run(3).await.expect("training steps");
    }
    let params = t
        .mlp()
        .unwrap()
        .to_host()
        .await
        .expect("read back")
        .flatten();
    (t.history().clone(), params)
}

fn rel(a: f32, b: f32) -> f32 {
    (a - b).abs() / b.abs().max(1e-6)
}

#[wasm_bindgen_test]
async fn webgpu_training_matches_cpu() {
    let gpu = webgpu_device()
        .await
        .expect("WebGPU adapter (Chromium needs --enable-unsafe-webgpu)");
    for (act, opt) in [
        (Activation::Relu, OptimizerKind::Sgd),
        (Activation::Tanh, OptimizerKind::Adam),
    ] {
        let (hc, pc) = run(config(act, opt), cpu_device(), "cpu").await;
        let (hg, pg) = run(config(act, opt), gpu.clone(), "webgpu").await;
        assert_eq!(hc.steps.len(), 8);
        for (c, g) in hc.steps.iter().zip(&hg.steps) {
            assert!(
                rel(g.loss, c.loss) < 1e-4,
                "{act:?}/{opt:?} step {}: webgpu {} vs cpu {}",
                c.step,
                g.loss,
                c.loss
            );
        }
        for (c, g) in hc.epochs.iter().zip(&hg.epochs) {
            assert!(
                rel(g.train_loss, c.train_loss) < 1e-4,
                "{act:?}/{opt:?} epoch {}: {} vs {}",
                c.epoch,
                g.train_loss,
                c.train_loss
            );
            assert!((g.test_accuracy - c.test_accuracy).abs() <= 1.0 / 128.0 + 1e-6);
        }
        let max_diff = pc
            .iter()
            .zip(&pg)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff < 1e-4,
            "{act:?}/{opt:?}: parameters differ by up to {max_diff}"
        );
        // The run really learned something, so the comparison is not between two broken runs.
        assert!(
            hg.epochs[2].train_loss < 0.8 * hg.epochs[0].train_loss,
            "{act:?}/{opt:?}: {:?}",
            hg.epochs
        );
    }
}

/// Paper 000 Fig. 1 machinery: the 1-D loss landscape along a filter-normalised direction is the
/// same on WebGPU as on the CPU, and it is a valley around the trained θ (α = 0 is its minimum).
#[wasm_bindgen_test]
async fn landscape_on_webgpu_matches_cpu() {
    use dropout_lab::analysis::landscape::{curve, filter_normalised_direction, grid, Filter};
    use dropout_lab::train::eval::DeviceData;
    let gpu = webgpu_device().await.expect("WebGPU adapter");
    let cfg = config(Activation::Relu, OptimizerKind::Sgd);
    let (train, test) = (blobs(256, 1), blobs(128, 2));
    let mut t = Trainer::new(cfg.clone(), &train, &test, cpu_device(), "cpu", "blobs")
        .await
        .unwrap();
    while !t.is_done() {
        t.run(8).await.unwrap();
    }
    let theta = t.params().await.unwrap();
    let dir =
        filter_normalised_direction(&theta, Filter::Layer, &mut stream(3, Stream::Directions))
            .unwrap();
    let alphas = grid(-1.0, 1.0, 11);
    let mut curves = Vec::new();
    for device in [cpu_device(), gpu.clone()] {
        let data = DeviceData::upload(&train, &device);
        curves.push(
            curve(&theta, &dir, &alphas, &data, &device)
                .await
                .unwrap()
                .into_iter()
                .map(|(loss, _)| loss)
                .collect::<Vec<f32>>(),
        );
    }
    for (i, (c, g)) in curves[0].iter().zip(&curves[1]).enumerate() {
        assert!(
            rel(*g, *c) < 1e-4,
            "α = {}: webgpu {g} vs cpu {c}",
            alphas[i]
        );
    }
    let at_zero = curves[0][5];
    assert!(
        curves[0][0] > at_zero && curves[0][10] > at_zero,
        "a valley: {:?}",
        curves[0]
    );
}

/// Exact Hessian-vector products (tangent pass + backward, several directions per batch, with a
/// fixed dropout mask) on WebGPU equal the CPU backend's; the f64 oracle of tests/hessian.rs
/// vouches for the CPU side.
#[wasm_bindgen_test]
async fn hessian_vector_products_on_webgpu_match_cpu() {
    use dropout_lab::analysis::hessian::{hvp, Span};
    use dropout_lab::analysis::noise::Block;
    use dropout_lab::model::dropout::sample_mask;
    use dropout_lab::model::init::initial_params;
    use dropout_lab::model::Mlp;
    use dropout_lab::train::eval::DeviceData;
    let gpu = webgpu_device().await.expect("WebGPU adapter");
    let train = blobs(128, 4);
    for activation in [Activation::Relu, Activation::Tanh] {
        let cfg = MlpConfig {
            widths: vec![64, 16, 16, 10],
            activation,
            drop_rates: vec![0.3, 0.0],
            init: InitScheme::He,
        };
        let theta = initial_params(&cfg, &mut stream(8, Stream::Init));
        let masks = vec![
            sample_mask(&mut stream(8, Stream::DropoutMasks), 128, 16, 0.3),
            None,
        ];
        let mut rng = stream(9, Stream::Directions);
        for span in [Span::All, Span::Block(Block { layer: 1 })] {
            let d = span.dim(&cfg.widths);
            let vs: Vec<Vec<f64>> = (0..3)
                .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
                .collect();
            let mut out = Vec::new();
            for device in [cpu_device(), gpu.clone()] {
                let model = Mlp::from_host(&cfg, &theta, &device);
                let data = DeviceData::upload(&train, &device);
                out.push(hvp(&model, &data, &masks, span, &vs).await.unwrap());
            }
            for (c, g) in out[0].iter().zip(&out[1]) {
                let scale = c.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let err = c
                    .iter()
                    .zip(g)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    err <= 1e-4 * scale,
                    "{activation:?} {span:?}: max |Hv_gpu - Hv_cpu| {err:e} of {scale:e}"
                );
            }
        }
    }
}

#[path = "common/reference.rs"]
#[allow(dead_code)]
mod reference;

/// Paper 004's dropout modes on WebGPU: the gradients of each mode equal eq. 5-6 written out in
/// f64 with the same masks (the oracle the native tests use), and a few training steps with each
/// mode give the same losses on WebGPU as on the CPU.
#[wasm_bindgen_test]
async fn dropout_modes_on_webgpu_follow_the_hand_written_rules() {
    use burn::tensor::{Tensor, TensorData};
    use dropout_lab::backend::read_f32;
    use dropout_lab::model::dropout::{device_mode_masks, DropoutMode};
    use dropout_lab::model::init::initial_params;
    use dropout_lab::model::Mlp;
    let gpu = webgpu_device()
        .await
        .expect("WebGPU adapter (Chromium needs --enable-unsafe-webgpu)");
    let modes = [
        DropoutMode::Standard,
        DropoutMode::ForwardOnly,
        DropoutMode::BackwardOnly,
        DropoutMode::Augmented { backward_rate: 0.4 },
    ];
    let (widths, rows) = ([6usize, 5, 4, 3], 8usize);
    let cfg = MlpConfig {
        widths: widths.to_vec(),
        activation: Activation::Tanh,
        drop_rates: vec![0.5, 0.3],
        init: InitScheme::Xavier,
    };
    let params = initial_params(&cfg, &mut stream(3, Stream::Init));
    let mut rng = stream(3, Stream::Directions);
    let x: Vec<f32> = (0..rows * 6).map(|_| rng.random_range(-1.0..1.0)).collect();
    let labels: Vec<usize> = (0..rows).map(|i| i % 3).collect();
    let mut onehot = vec![0.0f32; rows * 3];
    labels
        .iter()
        .enumerate()
        .for_each(|(r, &l)| onehot[r * 3 + l] = 1.0);
    let to64 = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
    let p64: Vec<Vec<f64>> = params
        .layers
        .iter()
        .flat_map(|(w, b)| [to64(w), to64(b)])
        .collect();
    for mode in modes {
        let host: Vec<_> = {
            let mut r = stream(9, Stream::DropoutMasks);
            [(0.5f32, 5usize), (0.3, 4)]
                .iter()
                .map(|&(p, w)| mode.host_masks(&mut r, rows, w, p))
                .collect()
        };
        let masks = device_mode_masks(
            mode,
            &mut stream(9, Stream::DropoutMasks),
            rows,
            &widths[1..3],
            &cfg.drop_rates,
            &gpu,
        );
        let model = Mlp::from_host(&cfg, &params, &gpu);
        let (_, grads) = model.loss_and_grads_modes(
            Tensor::from_data(TensorData::new(x.clone(), [rows, 6]), &gpu),
            Tensor::from_data(TensorData::new(onehot.clone(), [rows, 3]), &gpu),
            &masks,
        );
        let mut got = Vec::new();
        for (w, b) in grads {
            got.push(read_f32(w).await.unwrap());
            got.push(read_f32(b).await.unwrap());
        }
        let f: Vec<Option<Vec<f64>>> = host.iter().map(|(f, _)| f.as_deref().map(to64)).collect();
        let b: Vec<Option<Vec<f64>>> = host.iter().map(|(_, b)| b.as_deref().map(to64)).collect();
        let (_, want) =
            reference::backprop_f64(&p64, &widths, Activation::Tanh, &to64(&x), &labels, &f, &b);
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            for (i, (&g, &w)) in g.iter().zip(w).enumerate() {
                assert!(
                    (g as f64 - w).abs() < 1e-5,
                    "{mode:?} tensor {t} index {i}: webgpu {g} vs eq. 5-6 {w}"
                );
            }
        }
        let mut tc = config(Activation::Relu, OptimizerKind::Sgd);
        tc.dropout_mode = mode;
        let (hc, _) = run(tc.clone(), cpu_device(), "cpu").await;
        let (hg, _) = run(tc, gpu.clone(), "webgpu").await;
        for (c, g) in hc.steps.iter().zip(&hg.steps) {
            assert!(
                rel(g.loss, c.loss) < 1e-4,
                "{mode:?} step {}: webgpu {} vs cpu {}",
                c.step,
                g.loss,
                c.loss
            );
        }
    }
}

/// Paper 003's split training step (clean loss + sampled R + the difference noise) gives the
/// same step losses on WebGPU as on the CPU: the Gumbel and mask draws are host-side.
#[wasm_bindgen_test]
async fn explicit_implicit_training_on_webgpu_matches_cpu() {
    use dropout_lab::objectives::explicit_implicit::{ExplicitForm, ImplicitForm};
    use dropout_lab::train::DropoutSplit;
    let gpu = webgpu_device()
        .await
        .expect("WebGPU adapter (Chromium needs --enable-unsafe-webgpu)");
    for (explicit, implicit) in [
        (ExplicitForm::Sampled, ImplicitForm::Difference),
        (ExplicitForm::Exact, ImplicitForm::Approx),
    ] {
        let mut tc = config(Activation::Relu, OptimizerKind::Sgd);
        tc.dropout_split = Some(DropoutSplit {
            explicit: Some(explicit),
            implicit: Some(implicit),
            implicit_scale: Default::default(),
        });
        let (hc, _) = run(tc.clone(), cpu_device(), "cpu").await;
        let (hg, _) = run(tc, gpu.clone(), "webgpu").await;
        assert_eq!(hc.steps.len(), hg.steps.len());
        for (c, g) in hc.steps.iter().zip(&hg.steps) {
            assert!(
                rel(g.loss, c.loss) < 1e-4,
                "{explicit:?}/{implicit:?} step {}: webgpu {} vs cpu {}",
                c.step,
                g.loss,
                c.loss
            );
        }
    }
}

/// Paper 002's noises (Gaussian dropout, disentanglement, weight noise) train on WebGPU with the
/// same step losses as on the CPU: every draw is host-side and Σ_a, Σ_h come from host K-FAC.
#[wasm_bindgen_test]
async fn noise_injection_training_on_webgpu_matches_cpu() {
    use dropout_lab::train::noise_step::NoiseInjection;
    let gpu = webgpu_device()
        .await
        .expect("WebGPU adapter (Chromium needs --enable-unsafe-webgpu)");
    for (dropout, noise) in [
        (true, NoiseInjection::GaussianDropout),
        (
            false,
            NoiseInjection::Disentanglement {
                lambda_a: 0.1,
                lambda_h: 0.2,
                refresh_every: 3,
                rows: 64,
                damping: 1e-3,
            },
        ),
        (false, NoiseInjection::WeightNoise { std: 0.02 }),
    ] {
        let mut tc = config(Activation::Relu, OptimizerKind::Sgd);
        if !dropout {
            let m = tc.model.mlp_mut().unwrap();
            m.drop_rates = vec![0.0; m.drop_rates.len()];
        }
        tc.noise = Some(noise);
        let (hc, _) = run(tc.clone(), cpu_device(), "cpu").await;
        let (hg, _) = run(tc, gpu.clone(), "webgpu").await;
        for (c, g) in hc.steps.iter().zip(&hg.steps) {
            assert!(
                rel(g.loss, c.loss) < 1e-3,
                "{noise:?} step {}: webgpu {} vs cpu {}",
                c.step,
                g.loss,
                c.loss
            );
        }
    }
}

/// Conv nets on WebGPU: one training pass (BatchNorm on batch statistics, dropout masks) through
/// every layer type gives the CPU's loss and gradients, exact HVPs through them (BatchNorm in
/// evaluation mode) the CPU's products, and a few ResNet-20 training steps the CPU's weights.
/// The first net's convolutions have 48 to 56 output channels, so on WebGPU they run as im2col
/// products (kernels/conv_wgpu.rs), tangents and gradients included; the narrow ResNet's stay
/// with burn's kernel.
/// The f64 oracles of tests/net_hessian.rs vouch for the CPU side.
#[wasm_bindgen_test]
async fn conv_nets_on_webgpu_match_cpu() {
    use burn::tensor::{Tensor, TensorData};
    use dropout_lab::analysis::net_hessian::{net_hvp, NetSpan};
    use dropout_lab::backend::read_f32;
    use dropout_lab::model::net::masks::{sample_site_masks, upload_site_masks};
    use dropout_lab::model::net::{
        Arch, ArchConfig, BnMode, Layer, Net, NetParams, NetSpec, Shortcut,
    };
    use dropout_lab::train::eval::DeviceData;
    let gpu = webgpu_device().await.expect("WebGPU adapter");
    let conv = |out, kernel, stride, padding| Layer::Conv {
        out,
        kernel,
        stride,
        padding,
        bias: true,
    };
    let spec = NetSpec {
        input: [1, 8, 8],
        classes: 10,
        layers: vec![
            Layer::Pad { pixels: 1 },
            conv(48, 3, 1, 1),
            Layer::BatchNorm,
            Layer::Relu,
            Layer::MaxPool {
                kernel: 3,
                stride: 2,
                ceil: true,
            },
            Layer::Residual {
                out: 52,
                stride: 2,
                shortcut: Shortcut::A,
                drop_rate: 0.2,
                channelwise: true,
            },
            Layer::Residual {
                out: 56,
                stride: 1,
                shortcut: Shortcut::B,
                drop_rate: 0.0,
                channelwise: false,
            },
            Layer::AvgPool {
                kernel: 2,
                stride: 2,
                ceil: true,
            },
            conv(48, 1, 1, 0),
            Layer::Tanh,
            Layer::GlobalAvgPool,
            Layer::Flatten,
            Layer::Dropout {
                rate: 0.3,
                channelwise: false,
            },
            Layer::Dense { out: 10 },
        ],
    };
    let data = blobs(64, 6);
    let params = NetParams::init(&spec, &mut stream(3, Stream::Init)).unwrap();
    let sites = spec.dropout_sites().unwrap();
    let masks = sample_site_masks(&mut stream(3, Stream::DropoutMasks), 64, &sites);
    let d = NetSpan::All.dim(&Net::from_host(&params, &cpu_device()).unwrap());
    let mut rng = stream(4, Stream::Directions);
    let vs: Vec<Vec<f64>> = (0..2)
        .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let mut grads = Vec::new();
    let mut hvps = Vec::new();
    for device in [cpu_device(), gpu.clone()] {
        let net = Net::from_host(&params, &device).unwrap();
        let x = Tensor::<2>::from_data(TensorData::new(data.features.clone(), [64, 64]), &device);
        let mut y = vec![0.0f32; 640];
        data.labels
            .iter()
            .enumerate()
            .for_each(|(r, &l)| y[r * 10 + l as usize] = 1.0);
        let y = Tensor::<2>::from_data(TensorData::new(y, [64, 10]), &device);
        let m = upload_site_masks(&masks, 64, &sites, &device);
        let lg = net.loss_and_grads(x, y, &m, BnMode::Train).unwrap();
        let mut flat = read_f32(lg.loss).await.unwrap();
        for g in lg.grads {
            flat.extend(read_f32(g).await.unwrap());
        }
        grads.push(flat);
        let dev = DeviceData::upload(&data, &device);
        hvps.push(
            net_hvp(&net, &dev, &masks, NetSpan::All, &vs)
                .await
                .unwrap(),
        );
    }
    let scale = grads[0].iter().fold(0.0f32, |m, x| m.max(x.abs()));
    for (i, (c, g)) in grads[0].iter().zip(&grads[1]).enumerate() {
        assert!(
            (c - g).abs() <= 1e-4 * scale,
            "gradient [{i}]: cpu {c} webgpu {g}"
        );
    }
    for (c, g) in hvps[0].iter().zip(&hvps[1]) {
        let scale = c.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let err = c
            .iter()
            .zip(g)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err <= 1e-4 * scale,
            "Hv: max |gpu - cpu| {err:e} of {scale:e}"
        );
    }

    // ResNet-20 at width 1/8 on 3x32x32 images: 2 momentum-SGD steps with dropout, weight decay
    // and augmentation.
    let mut rng = stream(5, Stream::Directions);
    let images = Dataset {
        features: (0..32 * 3072)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        labels: (0..32).map(|i| (i % 10) as u8).collect(),
        dim: 3072,
        classes: 10,
    };
    let mut arch = ArchConfig::new(Arch::Resnet20);
    arch.width = 0.125;
    arch.drop_rate = 0.2;
    let mut c = TrainConfig::new(arch);
    c.train_size = 32;
    c.test_size = 16;
    c.batch_size = 16;
    c.epochs = 1;
    c.lr = 0.05;
    c.weight_decay = 1e-4;
    c.augment = true;
    let mut finals = Vec::new();
    for device in [cpu_device(), gpu.clone()] {
        let mut t = Trainer::new(c.clone(), &images, &images, device, "test", "random")
            .await
            .unwrap();
        t.run(10).await.unwrap();
        assert!(t.is_done());
        finals.push(t.params().await.unwrap());
    }
    for (a, b) in finals[0].params.iter().zip(&finals[1].params) {
        let scale = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let err = a
            .iter()
            .zip(b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            err <= 1e-4 * scale.max(1.0),
            "ResNet-20 weights: {err:e} of {scale:e}"
        );
    }
}

/// The lab's matmul (`kernels::matmul`: the WGSL kernel on WebGPU, burn's matmul on the CPU),
/// which every dense layer, HVP and K-FAC product runs on, against f64 products and closed-form
/// gradients computed in the test (common/matmul_oracle.rs): shapes that are 1, odd, one below
/// or above a power of two, MNIST's 784, 1024; each operand transposed; broadcast batches.
#[wasm_bindgen_test]
async fn matmul_on_webgpu_and_cpu_equals_an_f64_product_for_awkward_shapes() {
    let gpu = webgpu_device().await.expect("WebGPU adapter");
    for (label, device) in [("webgpu", gpu), ("cpu", cpu_device())] {
        matmul_oracle::products_match_f64(&device, label, true).await;
        matmul_oracle::gradients_match_f64(&device, label).await;
    }
}

/// The lab's convolution (`kernels::conv2d`: im2col products through the WGSL kernels on WebGPU,
/// burn's convolution on the CPU), which the conv nets run on, against a direct f64
/// convolution and its closed-form gradients (common/conv_oracle.rs): 1x1 to 5x5 kernels,
/// strides 1 and 2, padding, odd and non-square images, more channels than a tile, and a batch
/// split into two im2col chunks.
#[wasm_bindgen_test]
async fn convolutions_on_webgpu_and_cpu_equal_an_f64_convolution() {
    let gpu = webgpu_device().await.expect("WebGPU adapter");
    for (label, device) in [("webgpu", gpu), ("cpu", cpu_device())] {
        conv_oracle::convolutions_match_f64(&device, label, true).await;
    }
}

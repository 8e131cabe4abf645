//! Paper 002's noise steps on conv nets (`TrainConfig::noise`): one SGD step with Gaussian
//! dropout or weight noise equals θ − lr ∇L taken under the noise redrawn here from the run's
//! seeded stream; the combinations that are not implemented are refused by name.
#![cfg(not(target_arch = "wasm32"))]

use burn::tensor::{Tensor, TensorData};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::data::Dataset;
use dropout_lab::model::net::masks::device_gaussian_site_masks;
use dropout_lab::model::net::{Arch, ArchConfig, BnMode, Net, NetParams, Role, SiteMask};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::batch::{epoch_order, gather};
use dropout_lab::train::noise_step::NoiseInjection;
use dropout_lab::train::{DropoutSplit, OptimizerKind, TrainConfig, Trainer};
use rand::Rng;
use rand_distr::StandardNormal;

const ROWS: usize = 16;

fn data() -> Dataset {
    let mut r = stream(77, Stream::Directions);
    Dataset {
        features: (0..ROWS * 784).map(|_| r.random::<f32>()).collect(),
        labels: (0..ROWS).map(|i| (i % 10) as u8).collect(),
        dim: 784,
        classes: 10,
    }
}

fn config(drop: f32, noise: NoiseInjection) -> TrainConfig {
    let mut a = ArchConfig::new(Arch::Lenet5);
    a.width = 0.25;
    a.drop_rate = drop;
    let mut c = TrainConfig::new(a);
    c.optimizer = OptimizerKind::Sgd;
    c.lr = 0.1;
    c.train_size = ROWS;
    c.test_size = ROWS;
    c.batch_size = ROWS;
    c.seed = 5;
    c.noise = Some(noise);
    c
}

/// The parameters after one step of the trainer.
fn one_step(c: TrainConfig) -> Vec<Vec<f32>> {
    let d = data();
    pollster::block_on(async {
        let mut t = Trainer::new(c, &d, &d, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        t.run(1).await.unwrap();
        t.params().await.unwrap().params
    })
}

/// θ − lr ∇L at `at` (BatchNorm-free LeNet, training mode) under `masks`, the batch in the
/// epoch's seeded order.
fn expected(
    c: &TrainConfig,
    theta: &NetParams,
    at: &NetParams,
    masks: Vec<SiteMask>,
) -> Vec<Vec<f32>> {
    let d = data();
    let device = cpu_device();
    let order = epoch_order(ROWS, &mut stream(c.seed, Stream::BatchOrder));
    let (x, y) = gather(&d, &order);
    let x = Tensor::<2>::from_data(TensorData::new(x, [ROWS, 784]), &device);
    let y = Tensor::<2>::from_data(TensorData::new(y, [ROWS, 10]), &device);
    let net = Net::from_host(at, &device).unwrap();
    let lg = net
        .loss_and_grads_modes(x, y, masks, BnMode::Train)
        .unwrap();
    theta
        .params
        .iter()
        .zip(lg.grads)
        .map(|(p, g)| {
            let g = pollster::block_on(read_f32(g)).unwrap();
            p.iter().zip(g).map(|(a, b)| a - c.lr as f32 * b).collect()
        })
        .collect()
}

fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for (a, b) in g.iter().zip(w) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "parameter {i}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn a_gaussian_dropout_step_takes_the_gradient_under_gaussian_multipliers() {
    let c = config(0.4, NoiseInjection::GaussianDropout);
    let spec = c.validate(ROWS, ROWS, 784, 10).unwrap();
    let theta = NetParams::init(&spec, &mut stream(c.seed, Stream::Init)).unwrap();
    let masks = device_gaussian_site_masks(
        &mut stream(c.seed, Stream::DropoutMasks),
        ROWS,
        &spec.dropout_sites().unwrap(),
        &cpu_device(),
    );
    assert!(matches!(masks[0], SiteMask::Same(_)));
    let want = expected(&c, &theta, &theta, masks);
    assert_close(&one_step(c), &want);
}

#[test]
fn a_weight_noise_step_takes_the_gradient_at_w_plus_sigma_z_and_moves_w() {
    let std = 0.05;
    let c = config(0.0, NoiseInjection::WeightNoise { std });
    let spec = c.validate(ROWS, ROWS, 784, 10).unwrap();
    let theta = NetParams::init(&spec, &mut stream(c.seed, Stream::Init)).unwrap();
    // z ~ N(0, I) on the convolution and dense weights in state_dict order; biases untouched.
    let mut r = stream(c.seed, Stream::DropoutMasks);
    let mut at = theta.clone();
    for (p, s) in at.params.iter_mut().zip(spec.params().unwrap()) {
        if let Role::Weight { .. } = s.role {
            for v in p.iter_mut() {
                *v += std as f32 * r.sample::<f32, _>(StandardNormal);
            }
        }
    }
    let want = expected(&c, &theta, &at, vec![]);
    let got = one_step(c);
    assert_close(&got, &want);
    // The noise matters: the step without it differs.
    let clean = expected(
        &config(0.0, NoiseInjection::WeightNoise { std }),
        &theta,
        &theta,
        vec![],
    );
    let diff = got[0]
        .iter()
        .zip(&clean[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff > 1e-4, "{diff}");
}

#[test]
fn noise_that_is_not_implemented_for_conv_nets_is_refused_by_name() {
    let check = |c: TrainConfig, needle: &str| {
        let e = c.validate(ROWS, ROWS, 784, 10).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    };
    check(
        config(
            0.0,
            NoiseInjection::Disentanglement {
                lambda_a: 1.0,
                lambda_h: 1.0,
                refresh_every: 10,
                rows: 100,
                damping: 0.1,
            },
        ),
        "disentanglement",
    );
    check(config(0.0, NoiseInjection::GaussianDropout), "rate > 0");
    let mut c = config(0.3, NoiseInjection::GaussianDropout);
    c.dropout_mode = dropout_lab::model::dropout::DropoutMode::ForwardOnly;
    check(c, "one or the other");
    let mut c = config(0.3, NoiseInjection::GaussianDropout);
    c.noise = None;
    c.dropout_split = Some(DropoutSplit {
        explicit: None,
        implicit: None,
        implicit_scale: Default::default(),
    });
    check(c, "paper 003");
    // Both fields round-trip through the JSON the CLI and the page read.
    let mut json = serde_json::to_value(config(0.3, NoiseInjection::GaussianDropout)).unwrap();
    let back: TrainConfig = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.noise, Some(NoiseInjection::GaussianDropout));
    json["dropout_split"] = serde_json::json!({"explicit": null, "implicit": null});
    let back: TrainConfig = serde_json::from_value(json).unwrap();
    check(back, "paper 003");
}

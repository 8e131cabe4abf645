//! Paper 000 Fig 6 and paper 001's cosine α on a named architecture (LeNet-5 at tiny width,
//! genuine MNIST), through the same tracked-alignment engine as the FNN's. Oracles built here:
//! the block Hessian of the last dense layer in Gauss-Newton form from the f64 reference
//! forward's Jacobian (exact there: the logits are affine in that weight, with or without a
//! dropout mask on its input), so H under a mask δ and the mask average (1/K) Σ_k H_{δ_k} of
//! ∇²L_S are dense f64 matrices; Σ is formed densely from the samples.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_oracle::block_hessian;
use dropout_lab::analysis::alignment::centre;
use dropout_lab::analysis::analysed::{weight_index, Analysed, Params};
use dropout_lab::analysis::expected_hessian::ExpectedHessian;
use dropout_lab::analysis::net_hessian::NetSpan;
use dropout_lab::backend::cpu_device;
use dropout_lab::data::Dataset;
use dropout_lab::experiments::alignment_track::{alignment_at, HessianOf, TrackConfig};
use dropout_lab::experiments::fig6_alignment::Fig6Config;
use dropout_lab::experiments::noise_run::Setting;
use dropout_lab::experiments::p001_fig3_cosine::{run as run_cosine, CosineConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::linalg::operator::to_dense;
use dropout_lab::linalg::LinearOperator;
use dropout_lab::model::net::masks::sample_site_masks;
use dropout_lab::model::net::{Arch, Net, NetParams};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::DeviceData;
use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

/// LeNet-5 at width 0.04; its weights: conv1, conv2, ip1, ip2, and ip2 (index 3) is the block.
fn lenet(mut t: TrackConfig) -> TrackConfig {
    t.arch = Some(Arch::Lenet5);
    t.arch_width = 0.04;
    t.train_size = 8;
    t.settings = vec![Setting {
        drop_rate: 0.5,
        lr: 0.1,
    }];
    (t.epochs, t.every, t.samples, t.probes) = (2, 1, 6, 40);
    t.block_layer = 3;
    t
}

/// The run's network at dropout `p`, initialised from `seed`.
fn network(cfg: &TrackConfig, p: f32, data: &Dataset, seed: u64) -> NetParams {
    let spec = cfg.network(p).build(data.dim, data.classes).unwrap();
    NetParams::init(&spec, &mut stream(seed, Stream::Init)).unwrap()
}

#[test]
fn fig6_alignment_on_lenet_equals_the_dense_definitions() {
    let train = common::mnist("train").first(8).unwrap();
    let cfg = lenet(Fig6Config::demo().track);
    let s = cfg.settings[0];
    let device = cpu_device();
    let resident = DeviceData::upload(&train, &device);
    let info = cfg.parameters(train.dim, train.classes).unwrap();
    assert!(info.label.contains(".weight [10, "), "{}", info.label);
    // Trained without dropout, as Fig 6: the noise's rate comes from the setting.
    let theta = network(&cfg, 0.0, &train, 4);
    pollster::block_on(async {
        let (a, compared) = alignment_at(&cfg, &s, &theta, &train, &resident, &device, 3)
            .await
            .unwrap();
        assert!(compared.is_none());
        let noisy = theta
            .with_spec(
                &cfg.network(s.drop_rate)
                    .build(train.dim, train.classes)
                    .unwrap(),
            )
            .unwrap();
        let analysed = Analysed::new(&noisy, &device).unwrap();
        assert!(!analysed.is_dense(), "LeNet-5 takes the layer path");
        let seed = cfg
            .seed
            .wrapping_add(3u64.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let params = Params::Weight(3);
        let samples = analysed
            .gradient_samples(
                &train,
                &resident,
                params,
                cfg.samples,
                seed,
                &device,
                &mut Silent,
            )
            .await
            .unwrap();
        let block = weight_index(&Net::from_host(&noisy, &device).unwrap().param_specs, 3).unwrap();
        let h = block_hessian(&noisy, &train, &[], block);
        assert_eq!(h.nrows(), info.dim);
        let g = centre(&samples).unwrap();
        let sigma = g.transpose() * &g / (cfg.samples as f64 - 1.0);
        let t = (&h * &sigma).trace();
        assert!(t > 0.0, "a vacuous Tr(HΣ)");
        assert!(
            (a.trace_h_sigma - t).abs() <= 1e-4 * t.abs(),
            "Tr(HΣ) {} vs dense {t}",
            a.trace_h_sigma
        );
        assert!((a.covariance.trace - sigma.trace()).abs() <= 1e-9 * sigma.trace());
        let (tr, fr) = (h.trace(), h.norm_squared());
        common::assert_hutchinson_near(&a, tr, fr);
        assert!(
            (a.trace_h_isotropic - tr * sigma.trace() / info.dim as f64).abs()
                <= 4.0 * a.trace_h.std_error * sigma.trace() / info.dim as f64
        );
    });
}

#[test]
fn the_expected_hessian_through_layers_averages_the_masked_hessians() {
    let train = common::mnist("train").first(8).unwrap();
    let cfg = lenet(Fig6Config::demo().track);
    let device = cpu_device();
    let resident = DeviceData::upload(&train, &device);
    let theta = network(&cfg, 0.5, &train, 6);
    let net = Net::from_host(&theta, &device).unwrap();
    let block = weight_index(&net.param_specs, 3).unwrap();
    let sites = theta.spec.dropout_sites().unwrap();
    assert!(!sites.is_empty() && sites.iter().all(|s| s.rate == 0.5));
    pollster::block_on(async {
        // Fixed masks: H_K = (1/K) Σ_k H_{δ_k}, column by column.
        let mut rng = stream(7, Stream::HessianMasks);
        let masks: Vec<_> = (0..3)
            .map(|_| sample_site_masks(&mut rng, train.len(), &sites))
            .collect();
        let mut want = DMatrix::<f64>::zeros(0, 0);
        for m in &masks {
            let h = block_hessian(&theta, &train, m, block);
            want = if want.is_empty() { h } else { want + h };
        }
        want /= masks.len() as f64;
        let plain = block_hessian(&theta, &train, &[], block);
        assert!(
            (&want - &plain).norm() > 1e-2 * plain.norm(),
            "the masks change the Hessian"
        );
        let mut op =
            ExpectedHessian::with_layer_masks(&net, &resident, NetSpan::Param(block), masks)
                .unwrap();
        let (got, _) = to_dense(&mut op, 16, &mut Silent, "H_K").await.unwrap();
        let scale = want.abs().max();
        assert!(
            (&got - &want).abs().max() <= 1e-4 * scale,
            "H_K off by {:e} of {scale:e}",
            (&got - &want).abs().max()
        );
        assert_eq!(op.products, 3 * want.nrows());

        // Fresh masks: each product is H_δ v under the next mask of the stream.
        let mut op = ExpectedHessian::fresh_layers(
            &net,
            &resident,
            NetSpan::Param(block),
            stream(8, Stream::HessianMasks),
        )
        .unwrap();
        let mut draws = stream(8, Stream::HessianMasks);
        let mut dirs = stream(9, Stream::Directions);
        let vs: Vec<Vec<f64>> = (0..2)
            .map(|_| (0..op.dim()).map(|_| dirs.sample(StandardNormal)).collect())
            .collect();
        let got = op.apply(&vs).await.unwrap();
        for (v, hv) in vs.iter().zip(&got) {
            let m = sample_site_masks(&mut draws, train.len(), &sites);
            let want =
                block_hessian(&theta, &train, &m, block) * nalgebra::DVector::from_column_slice(v);
            let err = want
                .iter()
                .zip(hv)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                err <= 1e-4 * want.amax(),
                "H_δ v off by {err:e} of {:e}",
                want.amax()
            );
        }
        // A mask set that does not fit the sites is refused.
        let short = vec![vec![Some(vec![1.0f32; 3])]];
        let e = ExpectedHessian::with_layer_masks(&net, &resident, NetSpan::Param(block), short);
        assert!(e.is_err());
    });
}

#[test]
fn the_cosine_preset_runs_on_lenet_with_the_expected_hessian_and_its_null() {
    let train = common::mnist("train").first(8).unwrap();
    let mut cfg = CosineConfig::demo();
    cfg.track = lenet(cfg.track);
    assert_eq!(cfg.track.hessian, HessianOf::Expected);
    (cfg.null_repeats, cfg.null_masks) = (10, 2);
    let r = pollster::block_on(run_cosine(
        &cfg,
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap();
    let info = r
        .parameters
        .clone()
        .expect("the result names its parameters");
    assert!(info.label.starts_with("block: ") && info.label.contains(".weight [10, "));
    let series = &r.series[0];
    assert_eq!(series.checkpoints.len(), 3, "steps 0, 1 and 2");
    for c in &series.checkpoints {
        let (a, p) = (
            &c.alignment,
            c.plain.as_ref().expect("compared with the plain H"),
        );
        assert!(a.cosine.abs() <= 1.0 && p.cosine.abs() <= 1.0);
        // The same noise samples under both Hessians.
        assert_eq!(a.covariance, p.covariance);
    }
    let null = r.null.expect("the null baseline on the block");
    assert!(null.analytic_mean > 0.0 && null.analytic_mean < 1.0);
    // A block the network lacks is refused by name before any training.
    cfg.track.block_layer = 9;
    let e = pollster::block_on(run_cosine(
        &cfg,
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("weight block 9 does not exist"), "{e}");
}

//! The Fig 2 pipeline (paper 000) at tiny scale on genuine MNIST: each reported width is a real
//! crossing of the loss profile, checked by evaluating the loss there directly.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use dropout_lab::analysis::covariance::pca;
use dropout_lab::analysis::noise::{gradient_samples, Block};
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::fig2_variance_flatness::{run, Fig2Config, NoiseSource, Setting};
use dropout_lab::experiments::Silent;
use dropout_lab::model::Mlp;
use dropout_lab::train::eval::{evaluate, DeviceData};

fn tiny(source: NoiseSource) -> Fig2Config {
    let mut c = Fig2Config::demo();
    c.run.train_size = 300;
    c.run.settings = vec![Setting {
        drop_rate: 0.2,
        lr: 0.1,
    }];
    c.run.epochs = 60;
    c.run.samples = 40;
    c.top_k = 6;
    c.run.sources = vec![source];
    c
}

#[test]
fn reported_widths_are_real_crossings() {
    let train = common::mnist("train");
    let cfg = tiny(NoiseSource::Grad);
    let r =
        pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent)).unwrap();
    let s = &r.settings[0];
    assert_eq!(s.eigenvalues.len(), 6);
    assert!(
        s.eigenvalues.windows(2).all(|w| w[0] >= w[1]),
        "descending: {:?}",
        s.eigenvalues
    );
    assert!(s.final_train_loss < 1.0, "trained: {}", s.final_train_loss);
    assert!(s.flatness.iter().any(|f| f.width.is_some()));

    // Recompute θ, the samples and the top direction independently of `run`, then find the
    // crossings of L(θ + δ v) = 2 L(θ) by a fine scan, independent of the doubling + bisection.
    pollster::block_on(async {
        let device = cpu_device();
        let tc = cfg.run.train_config(&cfg.run.settings[0], 0);
        let sub = train.first(cfg.run.train_size).unwrap();
        let theta = common::trained_params(&tc, &sub).await;
        let block = Block { layer: 1 };
        let samples = gradient_samples(
            &tc.model,
            &theta,
            &tc.model.drop_rates,
            &sub,
            block,
            cfg.run.samples,
            cfg.run.seed,
            &device,
            |_| {},
        )
        .await
        .unwrap();
        let pcs = pca(&samples, cfg.top_k).unwrap();
        assert_eq!(
            pcs.eigenvalues, s.eigenvalues,
            "the run is reproducible from its config"
        );
        let data = DeviceData::upload(&sub, &device);
        let base = Mlp::from_host(&tc.model, &theta, &device);
        let (l0, _) = evaluate(&base, &data).await.unwrap();
        let dir = Mlp::from_host(
            &tc.model,
            &block.embed(&theta, &pcs.eigenvectors[0]),
            &device,
        );
        let f = s.flatness[0];
        assert!((f.loss0 - l0 as f64).abs() < 1e-6);
        for (sign, reported) in [
            (1.0, f.right.expect("right crossing")),
            (-1.0, f.left.expect("left crossing")),
        ] {
            let step = 1e-3 * reported.abs().max(1.0);
            let mut d = 0.0;
            while evaluate(&base.axpy(sign * d, &dir), &data).await.unwrap().0 < 2.0 * l0 {
                d += step;
                assert!(
                    d < 2.0 * reported.abs() + 1.0,
                    "no crossing near the reported {reported}"
                );
            }
            assert!(
                (sign * d - reported).abs() <= step + cfg.flatness.tolerance,
                "scan {} vs reported {reported}",
                sign * d
            );
        }
    });
}
#[test]
fn trajectory_samples_also_run() {
    let train = common::mnist("train");
    let r = pollster::block_on(run(
        &tiny(NoiseSource::Para),
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(r.settings[0].eigenvalues.len(), 6);
    assert!(r.settings[0].eigenvalues.iter().all(|l| *l > 0.0));
}

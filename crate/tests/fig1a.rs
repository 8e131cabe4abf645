//! Fig 1a (paper 000) at tiny scale: the curve's point at α is the loss of θ + α d computed on the
//! host and evaluated afresh (an independent path from the device-side θ + α d), and α = 0 is
//! the trained model's own loss.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use dropout_lab::analysis::landscape::filter_normalised_direction;
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::fig1a_landscape::{run, Fig1aConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::model::{HostParams, Mlp};
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::eval::{evaluate, DeviceData};
use dropout_lab::train::Trainer;

#[test]
fn curves_are_the_losses_of_perturbed_models() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = Fig1aConfig::demo();
    (
        cfg.train_size,
        cfg.test_size,
        cfg.widths,
        cfg.epochs,
        cfg.points,
    ) = (300, 200, vec![784, 32, 32, 10], 3, 5);
    let r = pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &test), &mut Silent)).unwrap();
    assert_eq!(r.curves.len(), 4);
    assert_eq!(r.alphas, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    pollster::block_on(async {
        let device = cpu_device();
        let tc = cfg.train_config(true);
        let mut t = Trainer::new(tc.clone(), &train, &test, device.clone(), "cpu", "mnist")
            .await
            .unwrap();
        while !t.is_done() {
            t.run(100).await.unwrap();
        }
        let theta = t.model().to_host().await.unwrap();
        let d = filter_normalised_direction(&theta, &mut stream(cfg.seed, Stream::Directions));
        let data = DeviceData::upload(&test.first(cfg.test_size).unwrap(), &device);
        let curve = r
            .curves
            .iter()
            .find(|c| c.dropout && c.direction == 0)
            .unwrap();
        for (i, &alpha) in r.alphas.iter().enumerate() {
            let moved = HostParams {
                widths: theta.widths.clone(),
                layers: theta
                    .layers
                    .iter()
                    .zip(&d.layers)
                    .map(|((tw, tb), (dw, db))| {
                        (
                            tw.iter()
                                .zip(dw)
                                .map(|(a, b)| a + alpha as f32 * b)
                                .collect(),
                            tb.iter()
                                .zip(db)
                                .map(|(a, b)| a + alpha as f32 * b)
                                .collect(),
                        )
                    })
                    .collect(),
            };
            let (loss, _) = evaluate(&Mlp::from_host(&tc.model, &moved, &device), &data)
                .await
                .unwrap();
            assert!(
                (loss - curve.test[i]).abs() <= 1e-5 * loss.max(1.0),
                "α = {alpha}: {loss} vs curve {}",
                curve.test[i]
            );
        }
        let with = r.models.iter().find(|m| m.dropout).unwrap();
        assert_eq!(curve.test[2], with.test_loss, "α = 0 is the trained model");
    });
}

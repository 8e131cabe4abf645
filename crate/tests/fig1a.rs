//! Fig 1a (paper 000) at tiny scale: the curve's point at α is the loss of θ + α d with the
//! direction d drawn in the test from its definition and the loss from the f64 reference forward
//! (no lab code on the oracle side but the trainer that produced θ), and α = 0 is the trained
//! model's own loss.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::fig1a_landscape::{run, Fig1aConfig};
use dropout_lab::experiments::Silent;
use dropout_lab::rng::{stream, Stream};
use dropout_lab::train::Trainer;
use rand::Rng;
use rand_distr::StandardNormal;

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
        let theta = t.mlp().unwrap().to_host().await.unwrap();
        // The filter-normalised direction of Li et al. as paper 000 defines it for an FNN, drawn
        // here: per layer a Gaussian weight direction (f32 draws from the directions stream, in
        // the state_dict's [out, in] order) rescaled to the norm of θ's weights, biases zero;
        // then put in the reference's [in, out] layout.
        let mut rng = stream(cfg.seed, Stream::Directions);
        let d: Vec<(Vec<f64>, Vec<f64>)> = theta
            .layers
            .iter()
            .zip(theta.widths.windows(2))
            .map(|((w, b), dims)| {
                let (fi, fo) = (dims[0], dims[1]);
                let g: Vec<f64> = (0..w.len())
                    .map(|_| rng.sample::<f32, _>(StandardNormal) as f64)
                    .collect();
                let g_in_out: Vec<f64> = (0..fi * fo).map(|k| g[(k % fo) * fi + k / fo]).collect();
                let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
                let tw: Vec<f64> = w.iter().map(|&v| v as f64).collect();
                let scale = norm(&tw) / norm(&g);
                (
                    g_in_out.iter().map(|x| x * scale).collect(),
                    vec![0.0; b.len()],
                )
            })
            .collect();
        let sub = test.first(cfg.test_size).unwrap();
        let x64: Vec<f64> = sub.features.iter().map(|&v| v as f64).collect();
        let labels: Vec<usize> = sub.labels.iter().map(|&l| l as usize).collect();
        let curve = r
            .curves
            .iter()
            .find(|c| c.dropout && c.direction == 0)
            .unwrap();
        for (i, &alpha) in r.alphas.iter().enumerate() {
            let p: Vec<Vec<f64>> = theta
                .layers
                .iter()
                .zip(&d)
                .flat_map(|((tw, tb), (dw, db))| {
                    [
                        tw.iter()
                            .zip(dw)
                            .map(|(a, b)| *a as f64 + alpha * b)
                            .collect(),
                        tb.iter()
                            .zip(db)
                            .map(|(a, b)| *a as f64 + alpha * b)
                            .collect(),
                    ]
                })
                .collect();
            let none = vec![None; tc.mlp().unwrap().widths.len() - 2];
            let (loss, _) = common::reference::loss_f64(
                &p,
                &tc.mlp().unwrap().widths,
                tc.mlp().unwrap().activation,
                &x64,
                &labels,
                &none,
            );
            assert!(
                (loss - curve.test[i] as f64).abs() <= 1e-5 * loss.max(1.0),
                "α = {alpha}: f64 loss {loss} vs curve {}",
                curve.test[i]
            );
        }
        let with = r.models.iter().find(|m| m.dropout).unwrap();
        assert_eq!(curve.test[2], with.test_loss, "α = 0 is the trained model");
    });
}

//! Paper 004's tables on conv nets (`experiments::p004_net_modes`) at tiny scale: a cell's test
//! accuracy is the accuracy of the network its config trains, evaluated here by the f64
//! reference forward (`common::net_reference`); diverged seeds are counted, not averaged; the
//! CIFAR tables say when they ran on other data.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use common::net_reference::{RefBn, Reference};
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::p004_net_modes::{run, NetModesConfig, Table, Table1, Table3};
use dropout_lab::experiments::Silent;
use dropout_lab::model::DropoutMode;
use dropout_lab::train::Trainer;

fn tiny(mut c: NetModesConfig) -> NetModesConfig {
    c.net.model.arch_mut().unwrap().width = 0.25;
    (
        c.net.train_size,
        c.net.test_size,
        c.net.batch_size,
        c.net.epochs,
    ) = (64, 40, 32, 1);
    c.net.schedule.milestones = vec![1];
    c.rates = vec![0.3];
    c.seeds = 1;
    c
}

#[test]
fn a_cells_accuracy_is_the_reference_accuracy_of_the_network_its_config_trains() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let cfg = tiny(Table3::demo());
    let inputs = common::cpu_inputs(&train, &test);
    let r = pollster::block_on(run(&cfg, &Table3::DATA, &inputs, &mut Silent)).unwrap();
    assert_eq!(r.data_note, None, "MNIST is Table 3's data");
    assert_eq!(r.cells.len(), 2);
    let augmented = r
        .cells
        .iter()
        .find(|c| matches!(c.mode, DropoutMode::Augmented { .. }))
        .unwrap();
    for (cell, mode, rate) in [
        (&r.plain, DropoutMode::Standard, 0.0f32),
        (augmented, augmented.mode, 0.3),
    ] {
        let mut c = cfg.net.clone();
        c.model.set_drop_rate(rate);
        c.dropout_mode = mode;
        c.seed = cfg.seed;
        let host = pollster::block_on(async {
            let mut t = Trainer::new(c, &train, &test, cpu_device(), "cpu", "mnist")
                .await
                .unwrap();
            while !t.is_done() {
                t.run(10).await.unwrap();
            }
            t.params().await.unwrap()
        });
        let theta: Vec<Vec<f64>> = host
            .params
            .iter()
            .map(|v| v.iter().map(|&a| a as f64).collect())
            .collect();
        let sub = test.first(cfg.net.test_size).unwrap();
        let xs: Vec<Vec<f64>> = sub
            .features
            .chunks(sub.dim)
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect();
        let (z, _) = Reference {
            spec: &host.spec,
            params: &theta,
            bn: RefBn::Eval(&[]),
            masks: &[],
        }
        .logits(&xs);
        let hits = z
            .iter()
            .zip(&sub.labels)
            .filter(|(z, &y)| z.iter().all(|&v| v <= z[y as usize]))
            .count();
        let want = hits as f64 / sub.len() as f64;
        // The lab's accuracy is an f32 fraction of the 40 images.
        let got = cell.test_accuracy.unwrap();
        assert!(
            (got.mean - want).abs() < 1e-6,
            "{mode:?} at {rate}: {got:?} vs {want}"
        );
        assert_eq!(got.std, 0.0);
        assert_eq!(cell.accuracies.len(), 1);
    }
}

#[test]
fn diverged_seeds_are_counted_and_other_data_is_named() {
    let (train, test) = (common::mnist("train"), common::mnist("test"));
    let mut cfg = tiny(Table1::demo());
    cfg.modes = vec![DropoutMode::Standard];
    cfg.seeds = 2;
    // A rate no ConvNet-Quick survives: the second step's logits overflow f32.
    cfg.net.lr = 1e38;
    let r = pollster::block_on(run(
        &cfg,
        &Table1::DATA,
        &common::cpu_inputs(&train, &test),
        &mut Silent,
    ))
    .unwrap();
    assert!(r
        .data_note
        .as_deref()
        .unwrap()
        .contains("not the paper's CIFAR-10"));
    let cell = &r.cells[0];
    assert_eq!((cell.diverged, cell.test_accuracy), (2, None));
    assert_eq!(cell.accuracies, vec![None, None]);
}

//! Conv nets learn genuine data on the CPU backend, reproducibly, and stop on divergence.
// Native only: the wasm build runs tests/browser.rs.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::backend::cpu_device;
use dropout_lab::model::net::{Arch, ArchConfig};
use dropout_lab::train::{LrSchedule, ScheduleUnit, TrainConfig, Trainer};
use dropout_lab::LabError;

fn train(config: TrainConfig, fashion: bool) -> Trainer {
    let (train, test) = if fashion {
        (common::fashion("train"), common::fashion("test"))
    } else {
        (common::mnist("train"), common::mnist("test"))
    };
    pollster::block_on(async {
        let mut t = Trainer::new(config, &train, &test, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        while !t.is_done() {
            t.run(50).await.unwrap();
        }
        t
    })
}

/// LeNet-5 with Caffe's lenet_solver as paper 004 Table 3 uses it (SGD with momentum 0.9, weight
/// decay 5e-4, batch 64 as in lenet_train_test; dropout 0.5 on the input of the last fully
/// connected layer) at a fixed lr 0.02 (Caffe's base rate is 0.01 with its "inv" decay), on the
/// first 5000 MNIST training images, 15 epochs (1185 steps), evaluated on all 10000 test images.
/// Measured here, test accuracy after epochs 1..15: lr 0.02 reaches 97.1% at epoch 7 and ends at
/// 97.33%; lr 0.01 ends at 97.10%; batch 100 with lr 0.01 levels off at 96.9%; Adam (lr 1e-3,
/// batch 64) ends at 96.93%; lr 0.05 diverges. The bound is the 97%.
#[test]
fn lenet5_learns_mnist() {
    let mut arch = ArchConfig::new(Arch::Lenet5);
    arch.drop_rate = 0.5;
    let mut c = TrainConfig::new(arch);
    c.train_size = 5000;
    c.test_size = 10000;
    c.lr = 0.02;
    c.batch_size = 64;
    c.weight_decay = 5e-4;
    c.epochs = 15;
    c.eval_every = 15;
    let t = train(c, false);
    let last = t.epochs().last().unwrap();
    eprintln!("LeNet-5: {:#?}", t.epochs());
    // Epoch 0 and the last: evaluation only at the ends.
    assert_eq!(
        t.epochs().iter().map(|e| e.epoch).collect::<Vec<_>>(),
        vec![0, 15]
    );
    assert!(last.test_accuracy > 0.97, "{last:?}");
}

/// ResNet-20 at a quarter width (4/8/16 channels) on Fashion-MNIST padded to 32x32, with
/// dropout 0.1 in every block, weight decay 1e-4 and augmentation: 3 epochs over 4000 images
/// (189 steps of 64, lr 0.05 divided by 10 after epoch 2). Measured here: 66% on 1000 test
/// images (ConvNet-Quick at the same width and steps: 72%); the bound is what the test guards.
#[test]
fn resnet20_learns_fashion_mnist() {
    let mut arch = ArchConfig::new(Arch::Resnet20);
    arch.width = 0.25;
    arch.drop_rate = 0.1;
    let mut c = TrainConfig::new(arch);
    c.train_size = 4000;
    c.test_size = 1000;
    c.lr = 0.05;
    c.batch_size = 64;
    c.epochs = 3;
    c.augment = true;
    c.weight_decay = 1e-4;
    c.schedule = LrSchedule::divide_at(vec![2], 10.0, ScheduleUnit::Epochs);
    let t = train(c, true);
    let last = t.epochs().last().unwrap();
    eprintln!("ResNet-20/4 after 3 epochs: {last:?}");
    assert!(last.test_accuracy > 0.60, "{last:?}");
}

#[test]
fn same_seed_same_network_and_divergence_is_reported() {
    let mut arch = ArchConfig::new(Arch::ConvnetQuick);
    arch.width = 0.25;
    arch.drop_rate = 0.5;
    let mut c = TrainConfig::new(arch);
    c.train_size = 200;
    c.test_size = 100;
    c.batch_size = 50;
    let a = pollster::block_on(train(c.clone(), false).params()).unwrap();
    let b = pollster::block_on(train(c.clone(), false).params()).unwrap();
    assert_eq!(a, b);
    c.seed = 2;
    let other = pollster::block_on(train(c.clone(), false).params()).unwrap();
    assert_ne!(a, other);

    c.lr = 1e6;
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    let err = pollster::block_on(async {
        let mut t = Trainer::new(c, &tr, &te, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        loop {
            match t.run(10).await {
                Err(e) => return e,
                Ok(p) if p.done => panic!("lr 1e6 trained to the end"),
                Ok(_) => {}
            }
        }
    });
    assert!(matches!(err, LabError::NonFinite { .. }), "{err}");
}

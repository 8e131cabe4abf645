//! Conv nets learn genuine data on the CPU backend, reproducibly, and stop on divergence.
// Native only: the wasm build runs tests/browser.rs.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use dropout_lab::backend::cpu_device;
use dropout_lab::model::net::{Arch, ArchConfig};
use dropout_lab::train::{LrSchedule, NetTrainConfig, NetTrainer, ScheduleUnit};
use dropout_lab::LabError;

fn train(config: NetTrainConfig, fashion: bool) -> NetTrainer {
    let (train, test) = if fashion {
        (common::fashion("train"), common::fashion("test"))
    } else {
        (common::mnist("train"), common::mnist("test"))
    };
    pollster::block_on(async {
        let mut t = NetTrainer::new(config, &train, &test, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        while !t.is_done() {
            t.run(50).await.unwrap();
        }
        t
    })
}

/// Paper 004 Table 3's LeNet setting (Caffe's lenet_solver: SGD with momentum 0.9, batch 100,
/// lr 0.01, weight decay 5e-4; dropout 0.5 on the input of the last fully
/// connected layer) on the first 5000 MNIST training images, 8 epochs (400 steps), evaluated on
/// all 10000 test images. Measured here: 96.6% (96.9% at best over 15 epochs, where it levels
/// off): the 97% once hoped for is not reached by this recipe from 5000 images; the bound below
/// is what the test guards.
#[test]
fn lenet5_learns_mnist() {
    let mut arch = ArchConfig::new(Arch::Lenet5);
    arch.drop_rate = 0.5;
    let mut c = NetTrainConfig::new(arch);
    c.train_size = 5000;
    c.test_size = 10000;
    c.weight_decay = 5e-4;
    c.epochs = 8;
    let t = train(c, false);
    let last = t.epochs().last().unwrap();
    eprintln!("LeNet-5: {:#?}", t.epochs());
    assert_eq!(t.epochs().len(), 9);
    assert!(last.test_accuracy > 0.96, "{last:?}");
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
    let mut c = NetTrainConfig::new(arch);
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
    let mut c = NetTrainConfig::new(arch);
    c.train_size = 200;
    c.test_size = 100;
    c.batch_size = 50;
    let a = pollster::block_on(train(c.clone(), false).net().to_host()).unwrap();
    let b = pollster::block_on(train(c.clone(), false).net().to_host()).unwrap();
    assert_eq!(a, b);
    c.seed = 2;
    let other = pollster::block_on(train(c.clone(), false).net().to_host()).unwrap();
    assert_ne!(a, other);

    c.lr = 1e6;
    let (tr, te) = (common::mnist("train"), common::mnist("test"));
    let err = pollster::block_on(async {
        let mut t = NetTrainer::new(c, &tr, &te, cpu_device(), "cpu", "mnist")
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

//! Benchmark bodies shared by the page's `npm run bench` (wasm, timed with Date.now) and the
//! native CLI (`dropout-lab bench-hessian`): just the work, timed by the caller's clock.

use burn::tensor::Device;
use rand::Rng;
use serde::Serialize;

use crate::analysis::hessian::{batch_capacity, HessianOperator, Span};
use crate::analysis::noise::Block;
use crate::data::Dataset;
use crate::error::LabResult;
use crate::linalg::dense::symmetric_eigen;
use crate::linalg::lanczos::{lanczos, LanczosOptions};
use crate::linalg::operator::to_dense;
use crate::model::init::initial_params;
use crate::model::{Activation, InitScheme, Mlp, MlpConfig};
use crate::progress::Silent;
use crate::rng::{stream, Stream};
use crate::train::eval::DeviceData;

#[derive(Debug, Serialize)]
pub struct HessianBench {
    pub widths: Vec<usize>,
    pub rows: usize,
    pub top_k: usize,
    pub lanczos_ms: f64,
    pub lanczos_iterations: usize,
    pub lanczos_converged: bool,
    pub top_eigenvalue: f64,
    pub block_dim: usize,
    /// Building the dense block Hessian from batched HVPs.
    pub dense_hvp_ms: f64,
    pub dense_eig_ms: f64,
}

/// 784-50-50-10 (ReLU, Xavier) on `rows` random inputs: top-`top_k` eigenvalues of the full
/// Hessian by Lanczos, then the dense 2500 x 2500 block between the hidden layers and its
/// eigendecomposition. `now` is a millisecond clock.
pub async fn hessian(
    device: Device,
    rows: usize,
    top_k: usize,
    now: fn() -> f64,
) -> LabResult<HessianBench> {
    let widths = vec![784, 50, 50, 10];
    let cfg = MlpConfig {
        widths: widths.clone(),
        activation: Activation::Relu,
        drop_rates: vec![0.0, 0.0],
        init: InitScheme::Xavier,
    };
    let mut rng = stream(0, Stream::Directions);
    let data = Dataset {
        features: (0..rows * 784).map(|_| rng.random::<f32>()).collect(),
        labels: (0..rows).map(|i| (i % 10) as u8).collect(),
        dim: 784,
        classes: 10,
    };
    let resident = DeviceData::upload(&data, &device);
    let model = Mlp::from_host(
        &cfg,
        &initial_params(&cfg, &mut stream(0, Stream::Init)),
        &device,
    );
    // Warm-up: compile the kernels of one product before timing.
    let mut op = HessianOperator::new(&model, &resident, Span::All);
    crate::linalg::LinearOperator::apply(&mut op, &[vec![1.0; Span::All.dim(&widths)]]).await?;

    let t0 = now();
    let r = lanczos(
        &mut op,
        &LanczosOptions::top(top_k),
        &mut stream(1, Stream::Directions),
        &mut Silent,
        "",
    )
    .await?;
    let lanczos_ms = now() - t0;

    let block = Span::Block(Block { layer: 1 });
    let mut op = HessianOperator::new(&model, &resident, block);
    let t1 = now();
    let (h, _) = to_dense(&mut op, batch_capacity(&widths, &resident), &mut Silent, "").await?;
    let t2 = now();
    symmetric_eigen(h)?;
    let t3 = now();
    Ok(HessianBench {
        widths,
        rows,
        top_k,
        lanczos_ms,
        lanczos_iterations: r.iterations,
        lanczos_converged: r.converged,
        top_eigenvalue: r.values[0],
        block_dim: block.dim(&cfg.widths),
        dense_hvp_ms: t2 - t1,
        dense_eig_ms: t3 - t2,
    })
}

#[derive(Debug, Serialize)]
pub struct ConvTrainingBench {
    pub arch: String,
    pub width: f64,
    pub input: [usize; 3],
    pub parameters: usize,
    pub batch: usize,
    pub steps: usize,
    pub ms_per_step: f64,
    pub samples_per_s: f64,
}

/// Training throughput of a named conv net: momentum SGD with dropout 0.5 at the architecture's
/// sites on random images of `input` (the data does not change a step's cost). Two warm-up steps
/// compile kernels and are not timed. `now` is a millisecond clock.
pub async fn conv_training(
    device: Device,
    arch: crate::model::net::Arch,
    width: f64,
    input: [usize; 3],
    batch: usize,
    steps: usize,
    now: fn() -> f64,
) -> LabResult<ConvTrainingBench> {
    use crate::model::net::ArchConfig;
    use crate::train::{TrainConfig, Trainer};
    let dim: usize = input.iter().product();
    let rows = batch * (steps + 2);
    let mut rng = stream(0, Stream::Directions);
    let data = Dataset {
        features: (0..rows * dim).map(|_| rng.random::<f32>()).collect(),
        labels: (0..rows).map(|i| (i % 10) as u8).collect(),
        dim,
        classes: 10,
    };
    let mut a = ArchConfig::new(arch);
    a.width = width;
    a.drop_rate = 0.5;
    let mut c = TrainConfig::new(a);
    c.train_size = rows;
    c.test_size = batch;
    c.batch_size = batch;
    let parameters = c.spec(dim, 10)?.param_count()?;
    let mut trainer = Trainer::new(c, &data, &data, device, "bench", "random").await?;
    trainer.run(2).await?;
    let t0 = now();
    trainer.run(steps).await?;
    let ms = (now() - t0) / steps as f64;
    Ok(ConvTrainingBench {
        arch: arch.id().to_string(),
        width,
        input,
        parameters,
        batch,
        steps,
        ms_per_step: ms,
        samples_per_s: batch as f64 * 1000.0 / ms,
    })
}

/// The conv nets `npm run bench` measures: LeNet-5 on 1x28x28, ConvNet-Quick and ResNet-20 on
/// 3x32x32 (issue 13's list), each at full width.
pub const CONV_BENCH: [(crate::model::net::Arch, [usize; 3]); 3] = [
    (crate::model::net::Arch::Lenet5, [1, 28, 28]),
    (crate::model::net::Arch::ConvnetQuick, [3, 32, 32]),
    (crate::model::net::Arch::Resnet20, [3, 32, 32]),
];

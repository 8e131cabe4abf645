//! Benchmark entry points (`npm run bench`): just the hot loops, timed in the worker.

use burn::tensor::{Device, Distribution, Tensor};
use wasm_bindgen::prelude::*;

use super::js_err;
use crate::backend::read_f32;
use crate::data::Dataset;
use crate::model::{Activation, InitScheme, MlpConfig};
use crate::rng::{stream, Stream};
use crate::train::{OptimizerKind, TrainConfig, Trainer};

/// Milliseconds from the worker's `performance.now()` (sub-millisecond, where `Date.now()` steps
/// by whole milliseconds: a 784-50-50-10 step takes about 1.5), or `Date.now()` without it.
pub(crate) fn now_ms() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"));
    performance
        .ok()
        .and_then(|p| {
            let now: js_sys::Function = js_sys::Reflect::get(&p, &JsValue::from_str("now"))
                .ok()?
                .dyn_into()
                .ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

#[derive(serde::Serialize)]
pub struct TrainingBench {
    pub widths: Vec<usize>,
    pub batch: usize,
    pub steps: usize,
    pub ms_per_step: f64,
    pub samples_per_s: f64,
    /// 6 x batch x the weights' count (2 for the forward product, 2 each for the input and
    /// weight gradients) per step, over the time: the number to read against the roofline.
    pub gflops: f64,
}

/// SGD with dropout 0.5 after every hidden layer on random inputs (the data does not change the
/// cost of a dense step). Warm-up steps compile kernels and are not timed.
pub async fn training(
    device: Device,
    backend: &str,
    widths: Vec<usize>,
    batch: usize,
    steps: usize,
) -> Result<TrainingBench, JsError> {
    use rand::Rng;
    let rows = batch * 4;
    let dim = widths[0];
    let classes = *widths.last().unwrap();
    let mut rng = stream(0, Stream::Directions);
    let data = Dataset {
        features: (0..rows * dim).map(|_| rng.random::<f32>()).collect(),
        labels: (0..rows).map(|i| (i % classes) as u8).collect(),
        dim,
        classes,
    };
    let hidden = widths.len() - 2;
    let weights: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
    let config = TrainConfig {
        eval_every: 100_000,
        ..TrainConfig::for_preset(
            MlpConfig {
                widths: widths.clone(),
                activation: Activation::Relu,
                drop_rates: vec![0.5; hidden],
                init: InitScheme::He,
            },
            OptimizerKind::Sgd,
            0.01,
            1000,
            batch,
            rows,
            batch,
            0,
        )
    };
    let mut trainer = Trainer::new(config, &data, &data, device, backend, "random")
        .await
        .map_err(js_err)?;
    trainer.run(3).await.map_err(js_err)?;
    let t0 = now_ms();
    trainer.run(steps).await.map_err(js_err)?;
    let ms = (now_ms() - t0) / steps as f64;
    Ok(TrainingBench {
        widths,
        batch,
        steps,
        ms_per_step: ms,
        samples_per_s: batch as f64 * 1000.0 / ms,
        gflops: 6.0 * batch as f64 * weights as f64 / ms / 1e6,
    })
}

#[derive(serde::Serialize)]
pub struct MatmulBench {
    pub n: usize,
    pub reps: usize,
    /// burn's own `Tensor::matmul` (cubek's default strategy without autotune).
    pub burn_gflops: f64,
    /// The lab's `kernels::matmul`, the product its layers and HVPs run on.
    pub lab_gflops: f64,
    /// cubek's `SimpleUnit` and `DoubleUnit` routines with the smallest tile through
    /// `launch_ref` (`kernels::cubek_unit_matmul`); `None` where the product is not the lab's
    /// (cubek refused the set-up: NaN, or computed something else).
    pub cubek_simple_unit_gflops: Option<f64>,
    pub cubek_double_unit_gflops: Option<f64>,
}

/// Achieved GFLOP/s of n x n x n f32 products, burn's, the lab's and cubek's, in the same run.
pub async fn matmul(device: Device, n: usize, reps: usize) -> Result<MatmulBench, JsError> {
    let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), &device);
    let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), &device);
    let burn_gflops = gflops(n, reps, &a, &b, |a, b| a.matmul(b)).await?;
    let lab_gflops = gflops(n, reps, &a, &b, crate::kernels::matmul).await?;
    // cubek's routines are timed only where their product is the lab's (the kernel checked
    // against f64 in the browser tests) to f32 accumulation error.
    let reference = read_f32(crate::kernels::matmul(a.clone(), b.clone()))
        .await
        .map_err(js_err)?;
    let mut cubek = [None, None];
    for (slot, double) in cubek.iter_mut().zip([false, true]) {
        let got = read_f32(crate::kernels::cubek_unit_matmul(
            a.clone(),
            b.clone(),
            double,
        ))
        .await
        .map_err(js_err)?;
        // Written so that NaN (cubek's refusal) fails it: `f32::max` would skip a NaN.
        let tolerance = 1e-4 * n as f32;
        let agrees = got.len() == reference.len()
            && got
                .iter()
                .zip(&reference)
                .all(|(g, r)| (g - r).abs() <= tolerance);
        if agrees {
            let product = move |a, b| crate::kernels::cubek_unit_matmul(a, b, double);
            *slot = Some(gflops(n, reps, &a, &b, product).await?);
        }
    }
    Ok(MatmulBench {
        n,
        reps,
        burn_gflops,
        lab_gflops,
        cubek_simple_unit_gflops: cubek[0],
        cubek_double_unit_gflops: cubek[1],
    })
}

async fn gflops(
    n: usize,
    reps: usize,
    a: &Tensor<2>,
    b: &Tensor<2>,
    product: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
) -> Result<f64, JsError> {
    // One warm-up product compiles the kernel outside the timed loop.
    read_f32(product(a.clone(), b.clone()).sum())
        .await
        .map_err(js_err)?;
    let t0 = now_ms();
    let mut acc = product(a.clone(), b.clone());
    for _ in 1..reps {
        acc = acc + product(a.clone(), b.clone());
    }
    read_f32(acc.sum()).await.map_err(js_err)?;
    let s = (now_ms() - t0) / 1000.0;
    Ok(2.0 * (n as f64).powi(3) * reps as f64 / s / 1e9)
}

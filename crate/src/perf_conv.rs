//! Where a conv net's step goes, layer by layer (`conv_layers` in `npm run bench`'s JSON): burn's
//! convolution against the lab's (`kernels::conv2d`) on the layer shapes the benchmark nets use,
//! and the lab's split into its parts (forward = im2col + product, ∂x = product + col2im,
//! ∂W = im2col + batch-summed product; `product` alone is the forward's matmul on a ready
//! im2col matrix). Times are per call, after one warm-up call, synchronised by reading back.

use burn::backend::Dispatch;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;

use crate::backend::read_f32;
use crate::error::LabResult;
use crate::kernels::{conv2d, matmul, LabConv};

#[derive(Debug, Serialize)]
pub struct ConvLayerBench {
    /// [n, c, h, w] convolved with [out, c, k, k], stride, padding.
    pub input: [usize; 4],
    pub kernel: [usize; 4],
    pub stride: usize,
    pub padding: usize,
    /// 2 n out c k² ho wo / 1e9: one product's work (forward, ∂x and ∂W each do this much).
    pub gflop: f64,
    pub burn_forward_ms: f64,
    /// Forward and both gradients by autodiff.
    pub burn_training_ms: f64,
    pub lab_forward_ms: f64,
    pub lab_training_ms: f64,
    pub lab_x_backward_ms: f64,
    pub lab_weight_backward_ms: f64,
    pub lab_product_ms: f64,
}

/// The layers: ResNet-20's three stages, LeNet-5's second convolution and ConvNet-Quick's first,
/// at batch `n`.
pub const CONV_LAYERS: [([usize; 3], usize, usize, usize, usize); 5] = [
    ([16, 32, 32], 16, 3, 1, 1),
    ([32, 16, 16], 32, 3, 1, 1),
    ([64, 8, 8], 64, 3, 1, 1),
    ([20, 12, 12], 50, 5, 1, 0),
    ([3, 32, 32], 32, 5, 1, 2),
];

/// Mean milliseconds of `f` over `reps` calls after one warm-up call.
async fn time<const D: usize>(
    reps: usize,
    now: fn() -> f64,
    f: impl Fn() -> Tensor<D>,
) -> LabResult<f64> {
    read_f32(f().sum()).await?;
    let t0 = now();
    for _ in 0..reps {
        read_f32(f().sum()).await?;
    }
    Ok((now() - t0) / reps as f64)
}

pub async fn conv_layers(
    device: Device,
    n: usize,
    reps: usize,
    now: fn() -> f64,
) -> LabResult<Vec<ConvLayerBench>> {
    let mut out = Vec::new();
    for ([c, h, w], o, k, stride, padding) in CONV_LAYERS {
        let dist = Distribution::Uniform(-1.0, 1.0);
        let x = Tensor::<4>::random([n, c, h, w], dist, &device);
        let wt = Tensor::<4>::random([o, c, k, k], dist, &device);
        let (ho, wo) = (
            (h + 2 * padding - k) / stride + 1,
            (w + 2 * padding - k) / stride + 1,
        );
        let g = Tensor::<4>::random([n, o, ho, wo], dist, &device);
        let opts = ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1);
        let burn_forward = || burn_conv2d(x.clone(), wt.clone(), None, opts.clone());
        let lab_forward = || conv2d(x.clone(), wt.clone(), None, stride, padding);
        // Both gradients of Σ g ⊙ conv(x, W), returned summed so one read-back waits for both.
        let training = |lab: bool| {
            let xa = x.clone().autodiff().require_grad();
            let wa = wt.clone().autodiff().require_grad();
            let z = match lab {
                true => conv2d(xa.clone(), wa.clone(), None, stride, padding),
                false => burn_conv2d(xa.clone(), wa.clone(), None, opts.clone()),
            };
            let grads = (z * g.clone().autodiff()).sum().backward();
            let dx = xa.grad(&grads).expect("x tracked").sum();
            let dw = wa.grad(&grads).expect("w tracked").sum();
            dx + dw
        };
        let x_backward = || {
            Tensor::<4>::from_dispatch(Dispatch::lab_conv2d_x_backward(
                x.clone().into_dispatch(),
                wt.clone().into_dispatch(),
                g.clone().into_dispatch(),
                stride,
                padding,
            ))
        };
        let weight_backward = || {
            Tensor::<4>::from_dispatch(Dispatch::lab_conv2d_weight_backward(
                x.clone().into_dispatch(),
                wt.clone().into_dispatch(),
                g.clone().into_dispatch(),
                stride,
                padding,
            ))
        };
        let cols = Tensor::<3>::random([n, c * k * k, ho * wo], dist, &device);
        let wm = wt.clone().reshape([1, o, c * k * k]);
        let product = || matmul(wm.clone(), cols.clone());
        out.push(ConvLayerBench {
            input: [n, c, h, w],
            kernel: [o, c, k, k],
            stride,
            padding,
            gflop: 2.0 * (n * o * c * k * k * ho * wo) as f64 / 1e9,
            burn_forward_ms: time(reps, now, burn_forward).await?,
            burn_training_ms: time(reps, now, || training(false)).await?,
            lab_forward_ms: time(reps, now, lab_forward).await?,
            lab_training_ms: time(reps, now, || training(true)).await?,
            lab_x_backward_ms: time(reps, now, x_backward).await?,
            lab_weight_backward_ms: time(reps, now, weight_backward).await?,
            lab_product_ms: time(reps, now, product).await?,
        });
    }
    Ok(out)
}

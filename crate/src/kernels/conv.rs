//! `conv2d(x, w, stride, padding)`: the lab's 2-D convolution (square stride and padding, no
//! dilation, one group), one backend-extension op with its two gradients as ops of their own.
//! On the CPU backend all three are burn's (`ModuleOps::conv2d` and its backward functions, so
//! the CPU's numbers are what `burn::tensor::module::conv2d` gives); on a wgpu device they are
//! im2col products through the lab's matmul kernel (conv_wgpu.rs) instead of burn's direct
//! convolution kernels, which run at a fraction of the matmul's speed on WebGPU (README
//! "Benchmarks"). Under autodiff the backward calls the two gradient ops (conv_backward.rs).

use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Shape, Tensor};

/// burn's options for the lab's convolutions.
pub(super) fn options(stride: usize, padding: usize) -> ConvOptions<2> {
    ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1)
}

/// One output side: ⌊(size + 2 padding − kernel) / stride⌋ + 1.
pub(super) fn out_side(size: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (size + 2 * padding - kernel) / stride + 1
}

/// [n, c, h, w] convolved with [out, c, kh, kw]: [n, out, ho, wo].
pub(super) fn conv_shape(x: &Shape, w: &Shape, stride: usize, padding: usize) -> Shape {
    Shape::new([
        x[0],
        w[0],
        out_side(x[2], w[2], stride, padding),
        out_side(x[3], w[3], stride, padding),
    ])
}

#[backend_extension(Cube, Flex, Autodiff, Fusion)]
pub trait LabConv: Backend {
    /// z = conv(x, w) for x [n, c, h, w] and w [out, c, kh, kw], no bias.
    #[fusion(dtype = x, shape = conv_shape(x, w, *stride, *padding))]
    fn lab_conv2d(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;

    /// ∂L/∂x for ∂L/∂z = `grad` (x is read for its shape only on wgpu devices).
    #[fusion(dtype = x, shape = x)]
    fn lab_conv2d_x_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;

    /// ∂L/∂w for ∂L/∂z = `grad`.
    #[fusion(dtype = w, shape = w)]
    fn lab_conv2d_weight_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;
}

impl LabConv for Flex {
    fn lab_conv2d(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, w, None, options(stride, padding))
    }

    fn lab_conv2d_x_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, w, grad, options(stride, padding))
    }

    fn lab_conv2d_weight_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, w, grad, options(stride, padding))
    }
}

/// conv(x, w) (+ b per output channel) for x [n, c, h, w], w [out, c, kh, kw] with the given
/// stride and zero padding on every side; panics on mismatched shapes, as burn's `conv2d` does:
/// these are programming errors, never user input.
pub fn conv2d(
    x: Tensor<4>,
    w: Tensor<4>,
    b: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let (xs, ws) = (x.dims(), w.dims());
    assert!(
        xs[1] == ws[1]
            && stride > 0
            && xs[2] + 2 * padding >= ws[2]
            && xs[3] + 2 * padding >= ws[3],
        "conv2d: input {xs:?}, kernel {ws:?}, stride {stride}, padding {padding} do not fit"
    );
    let z = Tensor::from_dispatch(Dispatch::lab_conv2d(
        x.into_dispatch(),
        w.into_dispatch(),
        stride,
        padding,
    ));
    match b {
        Some(b) => {
            let out = b.dims()[0];
            z + b.reshape([1, out, 1, 1])
        }
        None => z,
    }
}

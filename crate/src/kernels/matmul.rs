//! `matmul(a, b)`: the lab's matrix product (2-D, or a batch of them), one backend-extension op
//! for every backend. On a wgpu device it launches `matmul.wgsl` (matmul_wgpu.rs); on the CPU
//! backend it is burn's `float_matmul` (natively the same gemm on all cores, matmul_cpu.rs);
//! under autodiff its backward is two more calls of the same op (matmul_backward.rs), so
//! training and HVPs run on the kernel in both directions.

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::tensor::{Shape, Tensor};

/// The product's shape, for fusion's lazy graph: [.., m, k] x [.., k, n] -> [.., m, n], a batch
/// dimension of 1 broadcast against the other's.
pub(super) fn product_shape(lhs: &Shape, rhs: &Shape) -> Shape {
    let mut out = lhs.clone();
    let r = out.num_dims();
    for d in 0..r - 2 {
        out[d] = lhs[d].max(rhs[d]);
    }
    out[r - 1] = rhs[r - 1];
    out
}

#[backend_extension(Cube, Flex, Autodiff, Fusion)]
pub trait LabMatmul: Backend {
    /// C = A B for A [m, k] and B [k, n], or batches of them ([b, m, k] x [b, k, n], either
    /// batch may be 1 and is then broadcast); any strides.
    #[fusion(dtype = lhs, shape = product_shape(lhs, rhs))]
    fn lab_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl LabMatmul for Flex {
    fn lab_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        // Natively on all cores, bit for bit burn's product (matmul_cpu.rs); wasm has one thread.
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(out) = super::matmul_cpu::threaded_f32(&lhs, &rhs) {
            return out;
        }
        Self::float_matmul(lhs, rhs)
    }
}

/// A B for A [m, k] and B [k, n] (D = 2) or batches [b, m, k] x [b, k, n] with a batch of 1
/// broadcast (D = 3); panics on mismatched dimensions or another rank, as `Tensor::matmul` does
/// on a mismatch: these are programming errors, never user input.
pub fn matmul<const D: usize>(lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<D> {
    let (a, b) = (lhs.dims(), rhs.dims());
    assert!(D == 2 || D == 3, "matmul: rank {D} (2 or 3 expected)");
    let batch_ok = D == 2 || a[0] == b[0] || a[0] == 1 || b[0] == 1;
    assert!(
        a[D - 1] == b[D - 2] && batch_ok,
        "matmul: {a:?} x {b:?} has mismatched dimensions"
    );
    // An empty batch broadcast against a batch of 1 crashes burn-flex 0.22.1's own matmul
    // (SIGSEGV, [0, 3, 4] x [1, 4, 5]); the product of an empty batch is empty whatever the rest.
    if D == 3 && (a[0] == 0 || b[0] == 0) {
        let mut shape = a;
        shape[0] = 0;
        shape[D - 1] = b[D - 1];
        return Tensor::zeros(shape, &lhs.device());
    }
    Tensor::from_dispatch(Dispatch::lab_matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
    ))
}

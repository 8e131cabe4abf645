//! Kernels the lab owns. burn's eager matmul on WebGPU is cubek's `SimpleUnit` (no autotune, see
//! README "WebGPU in Chrome"), ~0.4 GFLOP/s on SwiftShader against ~3.7 for a register-blocked
//! WGSL kernel in the same page; this module routes the lab's dense products through such a
//! kernel on wgpu devices via burn's backend-extension API, and through burn's own matmul on the
//! CPU backend (bit for bit what `Tensor::matmul` gives there; natively threaded, matmul_cpu.rs).
//! The conv nets' convolutions are im2col products through the same kernel on wgpu devices and
//! burn's convolution on the CPU (conv.rs).

mod conv;
mod conv_backward;
mod conv_wgpu;
mod cubek_matmul;
mod matmul;
mod matmul_backward;
#[cfg(not(target_arch = "wasm32"))]
mod matmul_cpu;
mod matmul_wgpu;
mod wgsl;

pub use conv::{conv2d, LabConv};
pub use cubek_matmul::{cubek_unit_matmul, CubekMatmul};
pub use matmul::{matmul, LabMatmul};

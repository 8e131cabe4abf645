//! The native integration tests as one binary: every module below was its own test binary, and
//! each linked burn, cubecl and wgpu again. One
//! binary links once. `wgpu_native` stays apart (it sets process-wide WebGPU limits before the
//! first device) and `browser` is the wasm-bindgen-test target.
#![cfg(not(target_arch = "wasm32"))]

mod common;
// Shared with the wgpu_native and browser binaries, which include them by path too.
#[path = "common/conv_oracle.rs"]
mod conv_oracle;
#[path = "common/matmul_oracle.rs"]
mod matmul_oracle;

mod alignment;
mod alignment_nets;
mod bad_data;
mod cifar;
mod complexity;
mod determinism;
mod dropout_modes;
mod expected_hessian;
mod explicit_implicit;
mod fig1a;
mod fig2;
mod fig4;
mod fig4_nets;
mod gradient;
mod hessian;
mod kernels;
mod kfac;
mod net_gradient_noise;
mod net_hessian;
mod net_import;
mod net_kfc;
mod net_landscape;
mod net_landscape_presets;
mod net_modes;
mod net_modes_table;
mod net_noise;
mod net_training;
mod noise_injection;
mod pytorch_import;
mod registry;
mod resnet_noise;
mod sme;
mod start_weights;
mod training;
mod volume;
mod volume_vgg;

//! Dropout Lab core: data -> model -> training -> charts, the same code natively and in the
//! browser (wasm32 + WebGPU). Dependencies point one way: web / bin -> experiments -> analysis ->
//! train -> objectives -> model -> data; charts depend only on result types.

pub mod analysis;
pub mod backend;
pub mod charts;
pub mod data;
pub mod error;
pub mod experiments;
pub mod io;
pub mod kernels;
pub mod linalg;
pub mod model;
pub mod objectives;
pub mod perf;
pub mod perf_conv;
pub mod progress;
pub mod rng;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{LabError, LabResult};

/// Version of this crate, written into every exported result.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

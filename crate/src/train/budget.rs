//! Refuse a run that cannot fit, before anything is allocated: a model too wide for one WebGPU
//! buffer would otherwise end in a validation error that poisons the device, and one too large
//! for wasm's memory in an out-of-memory trap that kills the worker.
//!
//! The estimate counts f32 buffers the trainer holds at once: weights, their gradient, the
//! optimiser's state (none for GD and SGD, one copy for momentum and Nesterov, two for Adam) and
//! one temporary copy of the parameters during the update; per layer of a step, four values per
//! unit and row (pre-activation, activation, dropout mask, their gradient); the resident data
//! (train and test subsets, and for GD the full batch uploaded once). It is a lower bound on what
//! the backends allocate (they pool and pad), so a run it refuses cannot succeed.
//!
//! Limits: on WebGPU, one buffer may not exceed the adapter's `maxStorageBufferBindingSize` nor
//! `maxBufferSize` (the page passes them in; cubecl requests the adapter's own limits). In total
//! the lab allows itself 2 GiB in the browser (wasm32 addresses 4 GiB, and host copies of
//! parameters and data live there too) and natively `DROPOUT_LAB_MEMORY_MIB` MiB (16384 unless
//! set).

use std::sync::Mutex;

use super::{OptimizerKind, TrainConfig};
use crate::error::{LabError, LabResult};

const F32: u64 = 4;
const MIB: u64 = 1 << 20;
const BROWSER_TOTAL: u64 = 2048 * MIB;
const NATIVE_TOTAL_DEFAULT_MIB: u64 = 16384;

/// The largest single buffer a WebGPU device accepts, and the limit that sets it.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferLimit {
    pub bytes: u64,
    pub name: String,
}

static WEBGPU_BUFFER: Mutex<Option<BufferLimit>> = Mutex::new(None);

/// Record the WebGPU adapter's limits (bytes): the smaller of the two bounds one buffer.
pub fn set_webgpu_limits(max_storage_binding: u64, max_buffer: u64) {
    let limit = if max_storage_binding <= max_buffer {
        BufferLimit {
            bytes: max_storage_binding,
            name: "maxStorageBufferBindingSize".into(),
        }
    } else {
        BufferLimit {
            bytes: max_buffer,
            name: "maxBufferSize".into(),
        }
    };
    *WEBGPU_BUFFER.lock().unwrap_or_else(|e| e.into_inner()) = Some(limit);
}

/// What a backend lets a run use.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub total: u64,
    /// Where the total comes from, for the message.
    pub total_source: String,
    pub buffer: Option<BufferLimit>,
}

impl Budget {
    /// The budget of `backend` ("cpu" or "webgpu") in this build.
    pub fn for_backend(backend: &str) -> Budget {
        let (total, total_source) = if cfg!(target_arch = "wasm32") {
            (
                BROWSER_TOTAL,
                "the 2 GiB the lab allows itself in the browser".to_string(),
            )
        } else {
            let mib = std::env::var("DROPOUT_LAB_MEMORY_MIB")
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&m| m > 0);
            match mib {
                Some(m) => (m * MIB, format!("DROPOUT_LAB_MEMORY_MIB = {m}")),
                None => (
                    NATIVE_TOTAL_DEFAULT_MIB * MIB,
                    format!(
                        "the {} GiB the lab allows itself natively (set DROPOUT_LAB_MEMORY_MIB to change it)",
                        NATIVE_TOTAL_DEFAULT_MIB / 1024
                    ),
                ),
            }
        };
        let buffer = match backend {
            "webgpu" | "wgpu" => WEBGPU_BUFFER
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            _ => None,
        };
        Budget {
            total,
            total_source,
            buffer,
        }
    }
}

/// The estimate of one run's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    pub total: u64,
    pub largest: u64,
    /// What the largest buffer holds.
    pub largest_what: String,
}

/// The estimate for an MLP (None for other networks, which are not estimated yet).
pub fn footprint(cfg: &TrainConfig, input_dim: usize) -> Option<Footprint> {
    let widths = &cfg.mlp()?.widths;
    let n = |x: usize| x as u64;
    let params: u64 = widths.windows(2).map(|w| n(w[0]) * n(w[1]) + n(w[1])).sum();
    let optimiser_copies = match cfg.optimizer {
        OptimizerKind::Gd | OptimizerKind::Sgd => 0,
        OptimizerKind::Momentum | OptimizerKind::Nesterov => 1,
        OptimizerKind::Adam => 2,
    };
    let rows = n(cfg.effective_batch());
    let units: u64 = widths[1..].iter().map(|&w| n(w)).sum();
    let resident = (n(cfg.train_size) + n(cfg.test_size)) * n(input_dim)
        + if cfg.is_full_batch() {
            // The full batch stays uploaded for every step.
            n(cfg.train_size) * n(input_dim)
        } else {
            0
        };
    let floats =
        (3 + optimiser_copies) * params + rows * n(input_dim) + 4 * rows * units + resident;
    let mut largest = (0u64, String::new());
    let mut consider = |floats: u64, what: String| {
        if floats * F32 > largest.0 {
            largest = (floats * F32, what);
        }
    };
    for (l, w) in widths.windows(2).enumerate() {
        consider(
            n(w[0]) * n(w[1]),
            format!("layer {} weights, {} x {} floats", l + 1, w[0], w[1]),
        );
    }
    let widest = widths[1..].iter().copied().max().unwrap_or(0);
    consider(
        rows * n(widest),
        format!("one step's activations, {rows} rows x {widest} units"),
    );
    consider(
        rows * n(input_dim),
        format!("one step's inputs, {rows} rows x {input_dim} features"),
    );
    Some(Footprint {
        total: floats * F32,
        largest: largest.0,
        largest_what: largest.1,
    })
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b / MIB as f64)
    }
}

/// Refuse `cfg` if its estimate exceeds `budget`, naming the size asked for and the limit.
pub fn check_against(cfg: &TrainConfig, input_dim: usize, budget: &Budget) -> LabResult<()> {
    let Some(f) = footprint(cfg, input_dim) else {
        return Ok(());
    };
    let arch = cfg.model.label();
    let arch = arch.split(' ').next().unwrap_or_default();
    if let Some(limit) = &budget.buffer {
        if f.largest > limit.bytes {
            return Err(LabError::Config(format!(
                "{arch} is too large for this WebGPU device: its largest buffer ({}) needs {}, \
                 more than the adapter's {} of {}; use narrower layers{} or the CPU backend",
                f.largest_what,
                human(f.largest),
                limit.name,
                human(limit.bytes),
                if f.largest_what.contains("rows") {
                    " or a smaller batch / train subset"
                } else {
                    ""
                },
            )));
        }
    }
    if f.total > budget.total {
        return Err(LabError::Config(format!(
            "{arch} with {} training rows per step needs at least {} (weights, gradients, \
             optimiser state, activations and data), more than {}; use narrower layers or \
             fewer rows",
            cfg.effective_batch(),
            human(f.total),
            budget.total_source
        )));
    }
    Ok(())
}

/// `check_against` the budget of `backend` in this build.
pub fn check(cfg: &TrainConfig, input_dim: usize, backend: &str) -> LabResult<()> {
    check_against(cfg, input_dim, &Budget::for_backend(backend))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, InitScheme, MlpConfig};

    fn config(widths: Vec<usize>, optimizer: OptimizerKind, batch: usize) -> TrainConfig {
        let hidden = widths.len() - 2;
        TrainConfig::for_preset(
            MlpConfig {
                widths,
                activation: Activation::Relu,
                drop_rates: vec![0.5; hidden],
                init: InitScheme::Xavier,
            },
            optimizer,
            0.1,
            1,
            batch,
            60000,
            10000,
            1,
        )
    }

    #[test]
    fn the_estimate_counts_each_buffer_by_hand() {
        // 784-100-10, momentum, batch 50, 60000 train and 10000 test rows:
        // params 78500 + 1010 = 79510, x (3 + 1); inputs 50 x 784; 4 x 50 x 110 activations;
        // data (60000 + 10000) x 784.
        let f = footprint(
            &config(vec![784, 100, 10], OptimizerKind::Momentum, 50),
            784,
        )
        .unwrap();
        let floats = 4 * 79510 + 50 * 784 + 4 * 50 * 110 + 70000 * 784;
        assert_eq!(f.total, 4 * floats as u64);
        assert_eq!(f.largest, 4 * 784 * 100);
        assert!(
            f.largest_what.contains("layer 1 weights"),
            "{}",
            f.largest_what
        );
        // GD uploads the full batch once more and steps on all 60000 rows.
        let g = footprint(&config(vec![784, 100, 10], OptimizerKind::Gd, 50), 784).unwrap();
        let floats = 3 * 79510 + 60000 * 784 + 4 * 60000 * 110 + 130000 * 784;
        assert_eq!(g.total, 4 * floats as u64);
        assert!(g.largest_what.contains("60000 rows"), "{}", g.largest_what);
    }

    #[test]
    fn a_784_200000_10_model_is_refused_by_webgpu_and_the_browser_cap_with_both_sizes() {
        let cfg = config(vec![784, 200000, 10], OptimizerKind::Momentum, 128);
        let gpu = Budget {
            total: 1 << 40,
            total_source: "test".into(),
            buffer: Some(BufferLimit {
                bytes: 128 * MIB,
                name: "maxStorageBufferBindingSize".into(),
            }),
        };
        let e = check_against(&cfg, 784, &gpu).unwrap_err().to_string();
        assert!(
            e.contains("layer 1 weights, 784 x 200000") && e.contains("598.1 MiB"),
            "{e}"
        );
        assert!(
            e.contains("maxStorageBufferBindingSize of 128.0 MiB"),
            "{e}"
        );
        let browser = Budget {
            total: BROWSER_TOTAL,
            total_source: "the 2 GiB the lab allows itself in the browser".into(),
            buffer: None,
        };
        let e = check_against(&cfg, 784, &browser).unwrap_err().to_string();
        // 4 x 159000010 params + 128 x 784 inputs + 4 x 128 x 200010 activations + 70000 x 784
        // data = 793385512 floats = 3173542048 bytes.
        assert!(e.contains("784-200000-10") && e.contains("2.96 GiB"), "{e}");
        assert!(e.contains("the 2 GiB the lab allows itself"), "{e}");
        // The default demo-sized network passes both.
        let small = config(vec![784, 50, 50, 10], OptimizerKind::Momentum, 128);
        check_against(&small, 784, &gpu).unwrap();
        check_against(&small, 784, &browser).unwrap();
    }
}

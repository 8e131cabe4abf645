//! Backend selection. burn 0.22 picks the backend at run time through `Device`; this module names
//! the two the lab uses and reads tensors back without blocking (WebGPU only allows async reads).

use burn::tensor::{Device, Tensor};

use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend `flex`.
    Cpu,
    /// burn-wgpu: WebGPU in the browser, Vulkan/Metal natively.
    Webgpu,
}

impl BackendKind {
    pub fn label(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Webgpu => "webgpu",
        }
    }
}

// Devices are created without autodiff: parameters, optimiser state and data live as plain
// tensors, and a training step lifts the parameters into autodiff only for its own backward pass
// (`Tensor::autodiff().require_grad()`), so evaluation and updates pay no graph bookkeeping.

/// burn's pure-Rust CPU device, available everywhere.
pub fn cpu_device() -> Device {
    run_static_constructors();
    Device::flex()
}

/// Runs the module's static constructors once. Dependencies register types at start-up through
/// `inventory` (cubecl's IR, via pliron: thousands of constructors). When nothing in a wasm
/// module calls `__wasm_call_ctors`, wasm-ld links it as a "command" and wraps every export,
/// down to wasm-bindgen's externref helpers that JS calls many times per tensor op, in a call to
/// all of them: 45% of a WebGPU training step's CPU time in the page (Chrome's profiler,
/// 2026-12-06). A call here marks the module as initialising itself, so the linker adds no
/// wrappers; it runs before the first device exists (`web::start` calls it too).
#[cfg(target_arch = "wasm32")]
pub fn run_static_constructors() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: wasm-ld synthesises this function; it runs the constructors, which `inventory`
    // makes idempotent, and the Once runs it a single time.
    ONCE.call_once(|| unsafe { __wasm_call_ctors() });
}

/// Native builds run constructors at load time.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_static_constructors() {}

/// The wgpu runtime can be registered only once per process (page, worker): later requests get
/// the same device.
static WEBGPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();

/// How many kernel launches cubecl gathers into one command buffer before it submits (its
/// `tasks_max`); None keeps cubecl's default (32, or `CUBECL_WGPU_MAX_TASKS` natively). Only the
/// benchmark's sweep sets it (`bench.html?tasks_max=…`), before the device exists.
static TASKS_MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Set the wgpu runtime's `tasks_max` for this process; refused once the device exists (cubecl
/// reads it when the runtime registers) or for 0.
pub fn set_webgpu_tasks_max(tasks: usize) -> LabResult<()> {
    if tasks == 0 {
        return Err(LabError::Config("tasks_max must be at least 1".into()));
    }
    if WEBGPU.get().is_some() {
        return Err(LabError::Config(
            "tasks_max must be set before the WebGPU device is first used".into(),
        ));
    }
    TASKS_MAX
        .set(tasks)
        .map_err(|_| LabError::Config("tasks_max is already set".into()))
}

/// The `tasks_max` this process asked for, None for cubecl's default.
fn webgpu_tasks_max() -> Option<usize> {
    TASKS_MAX.get().copied()
}

/// The wgpu device, initialised on first use (async: required in browsers, fine natively).
pub async fn webgpu_device() -> LabResult<Device> {
    if let Some(device) = WEBGPU.get() {
        return Ok(device.clone());
    }
    run_static_constructors();
    let mut options = Device::wgpu_options();
    if let Some(tasks) = webgpu_tasks_max() {
        options = options.tasks_max(tasks);
    }
    let device = options
        .init_async()
        .await
        .map_err(|e| LabError::Backend(format!("WebGPU initialisation failed: {e}")))?;
    Ok(WEBGPU.get_or_init(|| device).clone())
}

/// Read a tensor back to the host as f32, asynchronously.
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> LabResult<Vec<f32>> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| LabError::Backend(format!("read-back failed: {e}")))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| LabError::Backend(format!("read-back conversion failed: {e:?}")))
}

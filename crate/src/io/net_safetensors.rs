//! A network's weights as safetensors in PyTorch's state_dict layout, so `torch.nn` code with
//! the same module names loads them as they are (README gives the definitions): conv weights
//! [out, in, kh, kw], linear [out, in], BatchNorm weight, bias, running_mean, running_var (f32)
//! and num_batches_tracked (i64, 0-dim). `__metadata__` holds the network (`net`, a NetSpec) and,
//! when it is a named one, its architecture (`arch`).

use std::collections::{HashMap, HashSet};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{LabError, LabResult};
use crate::model::net::{ArchConfig, NetParams, NetSpec, RunningStats};

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn export(params: &NetParams, arch: Option<&ArchConfig>) -> LabResult<Vec<u8>> {
    let specs = params.validate()?;
    let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = specs
        .iter()
        .zip(&params.params)
        .map(|(s, v)| (s.name.clone(), Dtype::F32, s.shape.clone(), f32_bytes(v)))
        .collect();
    for ((prefix, c), r) in params.spec.batch_norms()?.into_iter().zip(&params.running) {
        buffers.push((
            format!("{prefix}.running_mean"),
            Dtype::F32,
            vec![c],
            f32_bytes(&r.mean),
        ));
        buffers.push((
            format!("{prefix}.running_var"),
            Dtype::F32,
            vec![c],
            f32_bytes(&r.var),
        ));
        buffers.push((
            format!("{prefix}.num_batches_tracked"),
            Dtype::I64,
            vec![],
            (r.batches as i64).to_le_bytes().to_vec(),
        ));
    }
    let views: Vec<(String, TensorView)> = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| LabError::Weights(format!("cannot build tensor view: {e}")))?;
    let mut meta = HashMap::new();
    meta.insert(
        "net".to_string(),
        serde_json::to_string(&params.spec).expect("spec serialises"),
    );
    if let Some(a) = arch {
        meta.insert(
            "arch".to_string(),
            serde_json::to_string(a).expect("arch serialises"),
        );
    }
    meta.insert(
        "crate_version".to_string(),
        crate::CRATE_VERSION.to_string(),
    );
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| LabError::Weights(format!("cannot serialise: {e}")))
}

/// The network a file describes in its metadata (files written by `export`), if it does.
pub fn spec_of(bytes: &[u8]) -> LabResult<Option<NetSpec>> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| LabError::Weights(format!("not a safetensors file: {e}")))?;
    match metadata.metadata().as_ref().and_then(|m| m.get("net")) {
        None => Ok(None),
        Some(json) => serde_json::from_str(json)
            .map(Some)
            .map_err(|e| LabError::Weights(format!("the `net` metadata is not a network: {e}"))),
    }
}

/// Read the weights of `spec` from a file: ours, or a plain PyTorch state_dict saved with
/// `safetensors.torch.save_file(model.state_dict(), ...)` from a module with the same names.
pub fn import(bytes: &[u8], spec: &NetSpec) -> LabResult<NetParams> {
    let bad = LabError::Weights;
    let tensors =
        SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    if let Some(theirs) = spec_of(bytes)? {
        if &theirs != spec {
            return Err(bad(format!(
                "the file holds another network ({} layers, input {:?}) than the configured one \
                 ({} layers, input {:?})",
                theirs.layers.len(),
                theirs.input,
                spec.layers.len(),
                spec.input
            )));
        }
    }
    let used = std::cell::RefCell::new(HashSet::new());
    let read = |name: &str, shape: &[usize]| -> LabResult<Vec<f32>> {
        let t = tensors
            .tensor(name)
            .map_err(|_| bad(format!("tensor `{name}` is missing")))?;
        used.borrow_mut().insert(name.to_string());
        if t.shape() != shape {
            return Err(bad(format!(
                "`{name}` has shape {:?}, the network needs {shape:?}",
                t.shape()
            )));
        }
        match t.dtype() {
            Dtype::F32 => Ok(t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()),
            other => Err(bad(format!(
                "`{name}` is {other:?}; the lab reads f32 (save with model.float())"
            ))),
        }
    };
    let params = spec
        .params()?
        .iter()
        .map(|p| read(&p.name, &p.shape))
        .collect::<LabResult<Vec<_>>>()?;
    let mut running = Vec::new();
    for (prefix, c) in spec.batch_norms()? {
        let mean = read(&format!("{prefix}.running_mean"), &[c])?;
        let var = read(&format!("{prefix}.running_var"), &[c])?;
        if let Some(v) = var.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(bad(format!(
                "`{prefix}.running_var` holds {v}: a variance must be finite and ≥ 0"
            )));
        }
        let batches = match tensors.tensor(&format!("{prefix}.num_batches_tracked")) {
            Ok(t) if t.dtype() == Dtype::I64 && t.data().len() == 8 => {
                let b: [u8; 8] = t.data().try_into().expect("8 bytes");
                used.borrow_mut()
                    .insert(format!("{prefix}.num_batches_tracked"));
                i64::from_le_bytes(b).max(0) as u64
            }
            // Optional (older PyTorch omits it); anything else under that name is an error.
            Ok(t) => {
                return Err(bad(format!(
                    "`{prefix}.num_batches_tracked` is {:?} {:?}, PyTorch writes a 0-dim i64",
                    t.dtype(),
                    t.shape()
                )))
            }
            Err(_) => 0,
        };
        running.push(RunningStats { mean, var, batches });
    }
    let mut extra: Vec<String> = tensors
        .names()
        .into_iter()
        .filter(|n| !used.borrow().contains(*n))
        .map(str::to_string)
        .collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(bad(format!(
            "the file has tensors the network does not: {} (another architecture or width?)",
            extra.join(", ")
        )));
    }
    let out = NetParams {
        spec: spec.clone(),
        params,
        running,
    };
    if let Some((name, _)) = spec
        .params()?
        .iter()
        .zip(&out.params)
        .find(|(_, v)| v.iter().any(|x| !x.is_finite()))
    {
        return Err(bad(format!("`{}` holds NaN or infinity", name.name)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::net::{Arch, Shortcut};
    use crate::rng::{stream, Stream};

    fn resnet() -> (ArchConfig, NetParams) {
        let mut a = ArchConfig::new(Arch::Resnet20);
        a.width = 0.25;
        a.shortcut = Shortcut::B;
        let spec = a.build([3, 32, 32], 10).unwrap();
        let mut p = NetParams::init(&spec, &mut stream(1, Stream::Init)).unwrap();
        p.running[2].mean[1] = 0.25;
        p.running[2].batches = 17;
        (a, p)
    }

    #[test]
    fn round_trip_keeps_parameters_buffers_and_network() {
        let (a, p) = resnet();
        let bytes = export(&p, Some(&a)).unwrap();
        assert_eq!(spec_of(&bytes).unwrap().as_ref(), Some(&p.spec));
        assert_eq!(import(&bytes, &p.spec).unwrap(), p);
        let t = SafeTensors::deserialize(&bytes).unwrap();
        let w = t.tensor("layers.3.conv1.weight").unwrap();
        assert_eq!(w.shape(), &[4, 4, 3, 3]);
        assert_eq!(
            t.tensor("layers.1.num_batches_tracked").unwrap().dtype(),
            Dtype::I64
        );
        // Option B's projection exists where the shape changes.
        assert!(t.tensor("layers.6.shortcut.0.weight").is_ok());
    }

    #[test]
    fn mismatches_are_named() {
        let (a, p) = resnet();
        let bytes = export(&p, Some(&a)).unwrap();
        let mut other = a.clone();
        other.width = 0.5;
        let spec2 = other.build([3, 32, 32], 10).unwrap();
        let e = import(&bytes, &spec2).unwrap_err().to_string();
        assert!(e.contains("another network"), "{e}");
        // A plain state_dict (no metadata) with one tensor of the wrong shape and one extra.
        let t = SafeTensors::deserialize(&bytes).unwrap();
        let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = t
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
            .collect();
        let plain = |owned: &[(String, Dtype, Vec<usize>, Vec<u8>)]| {
            let views: Vec<(String, TensorView)> = owned
                .iter()
                .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
                .collect();
            safetensors::tensor::serialize(views, None::<HashMap<String, String>>).unwrap()
        };
        assert_eq!(import(&plain(&owned), &p.spec).unwrap(), p);
        owned.push(("fc.weight".into(), Dtype::F32, vec![1], vec![0; 4]));
        let e = import(&plain(&owned), &p.spec).unwrap_err().to_string();
        assert!(e.contains("fc.weight"), "{e}");
        owned.pop();
        let i = owned.iter().position(|o| o.0 == "layers.0.weight").unwrap();
        owned[i].2 = vec![4, 3, 9];
        let e = import(&plain(&owned), &p.spec).unwrap_err().to_string();
        assert!(
            e.contains("layers.0.weight") && e.contains("[4, 3, 3, 3]"),
            "{e}"
        );
        owned.remove(i);
        let e = import(&plain(&owned), &p.spec).unwrap_err().to_string();
        assert!(e.contains("`layers.0.weight` is missing"), "{e}");
    }
}

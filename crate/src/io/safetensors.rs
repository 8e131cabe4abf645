//! Weights as safetensors, in PyTorch `nn.Linear` layout so others can load them with their own
//! tools: `layers.{i}.weight` is f32 [out, in] and `layers.{i}.bias` is f32 [out], i = 0 for the
//! first layer. The header's `__metadata__` holds the model config (`config`) and `crate_version`.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{LabError, LabResult};
use crate::model::net::mlp::transpose;
use crate::model::{HostParams, MlpConfig};

fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn export(config: &MlpConfig, params: &HostParams) -> LabResult<Vec<u8>> {
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, ((w, b), dims)) in params
        .layers
        .iter()
        .zip(params.widths.windows(2))
        .enumerate()
    {
        let (fan_in, fan_out) = (dims[0], dims[1]);
        buffers.push((
            format!("layers.{i}.weight"),
            vec![fan_out, fan_in],
            to_bytes(&transpose(w, fan_in, fan_out)),
        ));
        buffers.push((format!("layers.{i}.bias"), vec![fan_out], to_bytes(b)));
    }
    let views: Vec<(String, TensorView)> = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| LabError::Weights(format!("cannot build tensor view: {e}")))?;
    let mut meta = HashMap::new();
    meta.insert(
        "config".to_string(),
        serde_json::to_string(config).expect("config serialises"),
    );
    meta.insert(
        "crate_version".to_string(),
        crate::CRATE_VERSION.to_string(),
    );
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| LabError::Weights(format!("cannot serialise: {e}")))
}

/// Read weights written by `export` (or by anyone using the same names and shapes).
pub fn import(bytes: &[u8]) -> LabResult<(MlpConfig, HostParams)> {
    let bad = |m: String| LabError::Weights(m);
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let config_json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("config"))
        .ok_or_else(|| {
            bad("the file has no `config` metadata describing the architecture".into())
        })?;
    let config: MlpConfig = serde_json::from_str(config_json)
        .map_err(|e| bad(format!("the `config` metadata is not an MLP config: {e}")))?;
    let tensors =
        SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let read = |name: &str, shape: &[usize]| -> LabResult<Vec<f32>> {
        let t = tensors
            .tensor(name)
            .map_err(|_| bad(format!("tensor `{name}` is missing")))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor `{name}` is {:?}, expected F32",
                t.dtype()
            )));
        }
        if t.shape() != shape {
            return Err(bad(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                t.shape()
            )));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    };
    let mut layers = Vec::new();
    for (i, dims) in config.widths.windows(2).enumerate() {
        let (fan_in, fan_out) = (dims[0], dims[1]);
        let w = read(&format!("layers.{i}.weight"), &[fan_out, fan_in])?;
        let b = read(&format!("layers.{i}.bias"), &[fan_out])?;
        if w.iter().chain(&b).any(|x| !x.is_finite()) {
            return Err(bad(format!("layer {i} contains NaN or infinite values")));
        }
        layers.push((transpose(&w, fan_out, fan_in), b));
    }
    Ok((
        config.clone(),
        HostParams {
            widths: config.widths,
            layers,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::initial_params;
    use crate::model::{Activation, InitScheme};
    use crate::rng::{stream, Stream};

    fn cfg() -> MlpConfig {
        MlpConfig {
            widths: vec![6, 4, 3],
            activation: Activation::Tanh,
            drop_rates: vec![0.2],
            init: InitScheme::Xavier,
        }
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let p = initial_params(&cfg(), &mut stream(4, Stream::Init));
        let bytes = export(&cfg(), &p).unwrap();
        let (c, q) = import(&bytes).unwrap();
        assert_eq!(c, cfg());
        assert_eq!(q, p);
    }

    #[test]
    fn stores_pytorch_linear_layout() {
        let mut p = initial_params(&cfg(), &mut stream(4, Stream::Init));
        p.layers[0].0[1] = 42.0; // W[in = 0, out = 1]
        let bytes = export(&cfg(), &p).unwrap();
        let t = SafeTensors::deserialize(&bytes).unwrap();
        let w = t.tensor("layers.0.weight").unwrap();
        assert_eq!(w.shape(), &[4, 6]);
        let row1_col0 = f32::from_le_bytes(w.data()[6 * 4..6 * 4 + 4].try_into().unwrap());
        assert_eq!(row1_col0, 42.0); // weight[out = 1, in = 0]
    }

    #[test]
    fn corrupt_files_are_clear_errors() {
        assert!(import(b"garbage")
            .unwrap_err()
            .to_string()
            .contains("not a safetensors file"));
        let p = initial_params(&cfg(), &mut stream(4, Stream::Init));
        let bytes = export(&cfg(), &p).unwrap();
        let e = import(&bytes[..bytes.len() - 10]).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");
        let no_meta =
            safetensors::tensor::serialize(Vec::<(String, TensorView)>::new(), None).unwrap();
        assert!(import(&no_meta).unwrap_err().to_string().contains("config"));
    }
}

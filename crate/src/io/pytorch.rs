//! A plain PyTorch `state_dict` saved with `safetensors.torch.save_file` (no lab metadata): the
//! architecture is read from the tensor names and shapes. Supported today: a stack of `nn.Linear`
//! layers (an `nn.Sequential` such as `0.weight, 0.bias, 2.weight, …`, or named layers such as
//! `fc1.weight, fc2.weight`), weight [out, in] and bias [out] in f32 or f64; the activation
//! between them is not stored by PyTorch, so the caller names it. Anything else gets a message that
//! names the tensor it cannot place.

use safetensors::tensor::{Dtype, SafeTensors};

use crate::error::{LabError, LabResult};
use crate::model::net::mlp::transpose;
use crate::model::{Activation, HostParams, InitScheme, MlpConfig};

/// A name's parts with numbers compared as numbers, so `layers.10` follows `layers.2`.
pub(crate) fn natural_key(name: &str) -> Vec<(u64, String)> {
    name.split('.')
        .map(|p| {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            let text: String = p.chars().filter(|c| !c.is_ascii_digit()).collect();
            (digits.parse().unwrap_or(0), text)
        })
        .collect()
}

fn floats(name: &str, dtype: Dtype, data: &[u8]) -> LabResult<Vec<f32>> {
    let values: Vec<f32> = match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        other => {
            return Err(LabError::Weights(format!(
                "tensor `{name}` is {other:?}: save the state_dict as float32 (model.float())"
            )))
        }
    };
    if values.iter().any(|x| !x.is_finite()) {
        return Err(LabError::Weights(format!(
            "tensor `{name}` contains NaN or infinite values"
        )));
    }
    Ok(values)
}

/// The MLP a state_dict of Linear layers describes, with its weights in the lab's [in, out] layout.
pub fn import_state_dict(
    bytes: &[u8],
    activation: Activation,
) -> LabResult<(MlpConfig, HostParams)> {
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| LabError::Weights(format!("not a safetensors file: {e}")))?;
    let mut names: Vec<String> = tensors.names().into_iter().map(str::to_string).collect();
    if names.is_empty() {
        return Err(LabError::Weights("the file holds no tensors".into()));
    }
    names.sort_by_key(|n| natural_key(n));
    let mut layers: Vec<(String, Vec<usize>)> = Vec::new();
    for name in &names {
        let t = tensors.tensor(name).expect("listed names exist");
        let shape = t.shape().to_vec();
        match (name.rsplit_once('.'), shape.len()) {
            (Some((prefix, "weight")), 2) => layers.push((prefix.to_string(), shape)),
            (Some((_, "bias")), 1) => {}
            _ => {
                return Err(LabError::Weights(format!(
                    "cannot place tensor `{name}` of shape {shape:?}: the lab loads stacks of \
                     nn.Linear layers (`<layer>.weight` [out, in], `<layer>.bias` [out]); conv, \
                     batch-norm and embedding layers are not supported yet"
                )))
            }
        }
    }
    let mut widths = vec![layers[0].1[1]];
    let mut params = Vec::new();
    for (prefix, shape) in &layers {
        let (out, inp) = (shape[0], shape[1]);
        let last = *widths.last().expect("widths start with the input");
        if inp != last {
            let found: Vec<String> = layers
                .iter()
                .map(|(p, s)| format!("{p}.weight {s:?}"))
                .collect();
            return Err(LabError::Weights(format!(
                "`{prefix}.weight` takes {inp} inputs but the layer before it gives {last}: the \
                 Linear layers do not chain in name order ({})",
                found.join(", ")
            )));
        }
        let name = format!("{prefix}.weight");
        let t = tensors.tensor(&name).expect("listed names exist");
        let w = floats(&name, t.dtype(), t.data())?;
        let b = match tensors.tensor(&format!("{prefix}.bias")) {
            Ok(bt) if bt.shape() == [out] => {
                floats(&format!("{prefix}.bias"), bt.dtype(), bt.data())?
            }
            Ok(bt) => {
                return Err(LabError::Weights(format!(
                    "`{prefix}.bias` has shape {:?}, expected [{out}] to match `{name}`",
                    bt.shape()
                )))
            }
            Err(_) => vec![0.0; out], // nn.Linear(bias=False)
        };
        // PyTorch keeps [out, in] row-major; the lab keeps [in, out].
        params.push((transpose(&w, out, inp), b));
        widths.push(out);
    }
    if widths.len() < 2 {
        return Err(LabError::Weights("the file holds no Linear layer".into()));
    }
    let config = MlpConfig {
        widths: widths.clone(),
        activation,
        drop_rates: vec![0.0; widths.len() - 2],
        init: match activation {
            Activation::Relu => InitScheme::He,
            Activation::Tanh => InitScheme::Xavier,
        },
    };
    Ok((
        config,
        HostParams {
            widths,
            layers: params,
        },
    ))
}

/// Where imported weights came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Written by the lab (its config is in the metadata).
    Lab,
    /// A plain PyTorch state_dict.
    Pytorch,
}

/// The lab's own file when it carries the lab's metadata, else a PyTorch state_dict.
pub fn import_any(
    bytes: &[u8],
    activation: Activation,
) -> LabResult<(MlpConfig, HostParams, Source)> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| LabError::Weights(format!("not a safetensors file: {e}")))?;
    let has_config = metadata
        .metadata()
        .as_ref()
        .is_some_and(|m| m.contains_key("config"));
    if has_config {
        let (c, p) = super::safetensors::import(bytes)?;
        Ok((c, p, Source::Lab))
    } else {
        let (c, p) = import_state_dict(bytes, activation)?;
        Ok((c, p, Source::Pytorch))
    }
}

//! The one entry point for the weights of any network, out and in. Out: an MLP in its
//! `nn.Linear` file (`safetensors.rs`, the layout the lab has always written for MLPs, which
//! PyTorch code of Linear layers named `layers.{i}` loads), any other network in PyTorch's
//! state_dict layout with its spec (`net_safetensors.rs`). In: the lab's files of either kind,
//! a plain PyTorch state_dict of Linear layers (`pytorch.rs`) or of one of the lab's named
//! architectures (`recognise.rs`).

use std::collections::BTreeMap;

use safetensors::tensor::SafeTensors;
use serde::Serialize;

use super::{net_safetensors, pytorch, recognise, safetensors as mlp_file};
use crate::error::{LabError, LabResult};
use crate::model::net::{ArchConfig, NetParams};
use crate::model::{Activation, ModelConfig};

pub fn export(model: &ModelConfig, params: &NetParams) -> LabResult<Vec<u8>> {
    match (model.mlp(), params.as_mlp()) {
        (Some(mlp), Some((_, host))) => mlp_file::export(mlp, &host),
        _ => net_safetensors::export(params, model.arch()),
    }
}

/// Where imported weights came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Written by the lab (its network is in the metadata).
    Lab,
    /// A plain PyTorch state_dict.
    Pytorch,
}

/// A network read from a file: what it is, its weights (state_dict layout) and their origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub model: ModelConfig,
    pub params: NetParams,
    pub source: Source,
}

/// Read any network's weights. `activation` is the MLP's between its Linear layers, which a
/// PyTorch state_dict does not store (the lab's files and the named architectures carry theirs).
pub fn import(bytes: &[u8], activation: Activation) -> LabResult<Imported> {
    if let Some(spec) = net_safetensors::spec_of(bytes)? {
        let params = net_safetensors::import(bytes, &spec)?;
        let model = match (arch_of(bytes)?, spec.as_mlp()) {
            (Some(a), _) => ModelConfig::Arch(a),
            (None, Some(m)) => ModelConfig::Mlp(m),
            (None, None) => {
                return Err(LabError::Weights(
                    "the file's network is neither an MLP nor a named architecture".into(),
                ))
            }
        };
        return Ok(Imported {
            model,
            params,
            source: Source::Lab,
        });
    }
    let shapes = shapes(bytes)?;
    if shapes.values().any(|s| s.len() == 4) {
        let (arch, spec) = recognise::recognise(&shapes)?;
        return Ok(Imported {
            params: net_safetensors::import(bytes, &spec)?,
            model: ModelConfig::Arch(arch),
            source: Source::Pytorch,
        });
    }
    let (config, host, source) = pytorch::import_any(bytes, activation)?;
    Ok(Imported {
        params: host.to_net(&config)?,
        model: ModelConfig::Mlp(config),
        source: match source {
            pytorch::Source::Lab => Source::Lab,
            pytorch::Source::Pytorch => Source::Pytorch,
        },
    })
}

/// The named architecture in a lab file's metadata, if any.
fn arch_of(bytes: &[u8]) -> LabResult<Option<ArchConfig>> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| LabError::Weights(format!("not a safetensors file: {e}")))?;
    match metadata.metadata().as_ref().and_then(|m| m.get("arch")) {
        None => Ok(None),
        Some(json) => serde_json::from_str(json).map(Some).map_err(|e| {
            LabError::Weights(format!("the `arch` metadata is not an architecture: {e}"))
        }),
    }
}

fn shapes(bytes: &[u8]) -> LabResult<BTreeMap<String, Vec<usize>>> {
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| LabError::Weights(format!("not a safetensors file: {e}")))?;
    if tensors.is_empty() {
        return Err(LabError::Weights("the file holds no tensors".into()));
    }
    Ok(tensors
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec()))
        .collect())
}

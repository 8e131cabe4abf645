//! The one entry point for writing a trained network's weights: an MLP in its `nn.Linear` file
//! (`safetensors.rs`, the layout the lab has always written for MLPs, which PyTorch code of
//! Linear layers named `layers.{i}` loads), any other network in PyTorch's state_dict layout
//! with its spec (`net_safetensors.rs`).

use super::{net_safetensors, safetensors};
use crate::error::LabResult;
use crate::model::net::NetParams;
use crate::model::ModelConfig;

pub fn export(model: &ModelConfig, params: &NetParams) -> LabResult<Vec<u8>> {
    match (model.mlp(), params.as_mlp()) {
        (Some(mlp), Some((_, host))) => safetensors::export(mlp, &host),
        _ => net_safetensors::export(params, model.arch()),
    }
}

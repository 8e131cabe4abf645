//! Files that leave or enter the lab.

pub mod net_safetensors;
pub mod pytorch;
pub mod recognise;
pub mod safetensors;
pub mod weights;

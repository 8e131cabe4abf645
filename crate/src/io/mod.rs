//! Files that leave or enter the lab.

pub mod pytorch;
pub mod safetensors;

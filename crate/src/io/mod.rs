//! Files that leave or enter the lab.

pub mod safetensors;

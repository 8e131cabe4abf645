//! Models: one network type, a list of layers (`net`), of which an MLP is one kind (`net::mlp`);
//! `ModelConfig` picks it. `mlp` is the all-dense fast path on [in, out] weight matrices that the
//! trainer and the analyses choose when the network is an MLP.

pub mod config;
pub mod dropout;
pub mod host;
pub mod init;
pub mod loss;
pub mod mlp;
pub mod net;
pub mod network;

pub use config::{Activation, InitScheme, MlpConfig};
pub use dropout::DropoutMode;
pub use host::HostParams;
pub use mlp::Mlp;
pub use network::ModelConfig;

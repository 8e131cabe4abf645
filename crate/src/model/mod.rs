//! Models: a multi-layer perceptron with explicit, seeded dropout masks.

pub mod config;
pub mod dropout;
pub mod host;
pub mod init;
pub mod loss;
pub mod mlp;
pub mod net;

pub use config::{Activation, InitScheme, MlpConfig};
pub use dropout::DropoutMode;
pub use host::HostParams;
pub use mlp::Mlp;

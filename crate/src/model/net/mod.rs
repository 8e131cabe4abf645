//! Networks of layers (convolutional nets, ResNets, MLPs written as layers) as plain tensors,
//! with host-side seeded initialisation, a forward pass that carries tangents for exact
//! second order, and the papers' named architectures.

pub mod arch;
pub mod forward;
pub mod grads;
pub mod masks;
pub mod mlp;
pub mod params;
pub mod spec;
pub mod torch;

pub use arch::{Arch, ArchConfig, Placement};
pub use forward::{BnMode, Net, Pass, SiteMask, Tap};
pub use params::{NetParams, RunningStats};
pub use spec::{DropoutSite, Layer, NetSpec, ParamSpec, Role, Shortcut};

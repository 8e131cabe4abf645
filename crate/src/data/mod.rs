//! Dataset decoding and preparation: IDX files (MNIST, Fashion-MNIST), CIFAR binary archives,
//! subsets, normalisation.

pub mod augment;
pub mod cifar;
pub mod dataset;
pub mod idx;
pub mod resize;

pub use dataset::{Dataset, Normalisation};
pub use idx::{decode_idx, IdxArray};

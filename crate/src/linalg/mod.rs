//! Linear algebra on the host in f64: operators known only through products (Hessians), Lanczos,
//! Hutchinson, and dense symmetric eigendecompositions (nalgebra).

pub mod dense;
pub mod hutchinson;
pub mod lanczos;
pub mod operator;
pub mod orthonormal;
pub mod sde;

pub use operator::{DenseOperator, LinearOperator};

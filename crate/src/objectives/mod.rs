//! Training objectives that the papers add to the loss or to the gradient: paper 003's explicit
//! regulariser R and implicit noise, paper 002's reverse (disentanglement) noise and the K-FAC
//! factors it is sampled from. `train` uses them to train and `analysis` to measure, so they sit
//! below both (dependencies: train -> objectives -> model).

pub mod explicit_implicit;
pub mod kfac_factors;
pub mod modified_loss;
pub mod reverse_noise;

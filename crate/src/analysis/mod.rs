//! Measurements of paper 000 (and later papers): one file per measurement, pure functions of
//! (model, data, config). Each is tested against an independent oracle.

pub mod alignment;
pub mod analysed;
pub mod complexity;
pub mod covariance;
pub mod dropout_covariance;
pub mod expected_hessian;
pub mod flatness;
pub mod hessian;
pub mod hvp_pass;
pub mod kfac;
pub mod kfc;
pub mod landscape;
pub mod net_hessian;
pub mod net_noise;
pub mod noise;
pub mod powerlaw;
pub mod rank_agreement;
pub mod sharpness;
pub mod special;
pub mod update_correlation;
pub mod volume;
pub mod weight_sampling;
pub mod worst_case_sharpness;

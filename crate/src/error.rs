//! One error type for the whole core: every bad input ends here as a message a person can act on,
//! never as a panic.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum LabError {
    /// A data file that is not what it claims to be (magic, dimensions, length, counts).
    #[error("data error in {source_name}: {message}")]
    Data {
        source_name: String,
        message: String,
    },
    /// A configuration that cannot run (drop_rate >= 1, zero widths, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Training diverged; nothing is recorded past this point.
    #[error(
        "training diverged at step {step}: the loss became {value} (try a smaller learning rate)"
    )]
    NonFinite { step: usize, value: f32 },
    /// An analysis met values it cannot work with (NaN/Inf in a matrix, a diverged model).
    #[error("numerical problem: {0}")]
    Numerical(String),
    /// The compute backend failed (device lost, read-back failed, no adapter).
    #[error("backend error: {0}")]
    Backend(String),
    /// The user cancelled a long job.
    #[error("cancelled")]
    Cancelled,
    /// A result file that is not one this version reads (malformed, another schema version).
    #[error("{0}")]
    ResultFile(String),
    /// A weights file that does not match the model.
    #[error("weights error: {0}")]
    Weights(String),
}

impl LabError {
    pub fn data(source_name: &str, message: impl Into<String>) -> Self {
        LabError::Data {
            source_name: source_name.to_string(),
            message: message.into(),
        }
    }
}

pub type LabResult<T> = Result<T, LabError>;

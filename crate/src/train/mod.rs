//! Training: optimisers, the loop, evaluation and the recorded history.

pub mod batch;
pub mod bn_recalibration;
pub mod budget;
pub mod config;
mod dense_step;
pub mod eval;
pub mod history;
mod layer_step;
pub mod noise_step;
pub mod optim;
pub mod split_step;
pub mod trainer;

pub use config::{DropoutSplit, LrSchedule, OptimizerKind, ScheduleUnit, TrainConfig};
pub use history::{EpochRecord, History, StepRecord};
pub use trainer::{Progress, Trainer};

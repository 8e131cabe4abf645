//! Training: optimisers, the loop, evaluation and the recorded history.

pub mod batch;
pub mod bn_recalibration;
pub mod budget;
pub mod config;
pub mod eval;
pub mod history;
pub mod net_config;
pub mod net_trainer;
pub mod noise_step;
pub mod optim;
pub mod split_step;
pub mod trainer;

pub use config::{DropoutSplit, LrSchedule, OptimizerKind, ScheduleUnit, TrainConfig};
pub use history::{EpochRecord, History, StepRecord};
pub use net_config::NetTrainConfig;
pub use net_trainer::NetTrainer;
pub use trainer::{Progress, Trainer};

//! One file per preset that reproduces a paper figure: its config, its run, its result type.
//! A run reports progress through a `Reporter`, which may also cancel it.

pub mod fig1a_landscape;
pub mod fig2_variance_flatness;

use std::future::Future;

/// Progress of a long job: a stage name and a count within it.
pub trait Reporter {
    /// Returns false to cancel the job.
    fn report(&mut self, stage: &str, done: usize, total: usize) -> impl Future<Output = bool>;
}

/// Reports nothing and never cancels (native runs, tests).
pub struct Silent;

impl Reporter for Silent {
    fn report(&mut self, _: &str, _: usize, _: usize) -> impl Future<Output = bool> {
        std::future::ready(true)
    }
}

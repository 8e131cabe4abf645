//! Progress of a long job: a stage name and a count within it. The reporter may cancel the job.

use std::future::Future;

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

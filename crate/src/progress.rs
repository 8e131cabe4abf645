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

/// Forwards to another reporter with "{prefix}: " before each stage, so a step inside a larger
/// job (one network of a table) says which part of the job it belongs to.
pub struct StagePrefix<'a, R: Reporter> {
    prefix: &'a str,
    inner: &'a mut R,
}

impl<'a, R: Reporter> StagePrefix<'a, R> {
    pub fn new(prefix: &'a str, inner: &'a mut R) -> Self {
        StagePrefix { prefix, inner }
    }
}

impl<R: Reporter> Reporter for StagePrefix<'_, R> {
    async fn report(&mut self, stage: &str, done: usize, total: usize) -> bool {
        self.inner
            .report(&format!("{}: {stage}", self.prefix), done, total)
            .await
    }
}

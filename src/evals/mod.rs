//! Evaluations of prompt and model variants on financial tasks (`bullpen eval`).
//!
//! A task is configuration alone ([`task::TaskSpec`]): a dataset read by [`dataset`], a prompt
//! template, few-shot examples ([`fewshot`]), an output parser ([`parse`]) and metrics
//! ([`crate::core::metrics`]). Variants (prompt versions × profiles × parameters × agents) run
//! on the same items in the same order ([`run`]); answers are cached by content ([`cache`]);
//! [`summary`] scores them with bootstrap intervals and paired comparisons against the
//! baseline, and [`output`] writes the per-item results and the summary.

pub mod cache;
pub mod dataset;
pub mod fewshot;
pub mod output;
pub mod parse;
pub mod run;
pub mod summary;
pub mod task;

use std::path::PathBuf;

pub use run::{EvalOutcome, ItemResult};
pub use summary::{Summary, VariantSummary};
pub use task::{FewShotSpec, FewShotStrategy, MatrixSpec, Metric, TaskSpec, Variant, VariantSpec};

/// Why an evaluation could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Dataset(#[from] dataset::DatasetError),
    #[error("evaluation settings: {0}")]
    Config(String),
    #[error("prompt template: {0}")]
    Template(String),
    #[error("cannot write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("model: {0}")]
    Model(String),
    #[error(transparent)]
    Tracking(#[from] crate::io::tracking::TrackingError),
}

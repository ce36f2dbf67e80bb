//! Small shared utilities.

pub mod files;
pub mod progress;
pub mod signers;
pub mod splitters;

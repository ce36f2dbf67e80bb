//! Small shared utilities.

pub mod progress;
pub mod signers;
pub mod splitters;

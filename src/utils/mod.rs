//! Small shared utilities.

pub mod signers;
pub mod splitters;

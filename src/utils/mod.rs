//! Small shared utilities.

pub mod signers;

//! Core types shared by every layer: model descriptors, JSON-schema helpers.

pub mod metrics;
pub mod models;
pub mod schemas;

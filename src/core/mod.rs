//! Core types shared by every layer: model descriptors, JSON-schema helpers.

pub mod models;
pub mod schemas;

//! Input/output: configs, environment variables, services.

pub mod configs;
pub mod datasets;
pub mod osvariables;
pub mod services;
pub mod tracking;

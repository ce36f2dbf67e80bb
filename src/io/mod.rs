//! Input/output: configs, environment variables, services.

pub mod configs;
pub mod osvariables;
pub mod services;

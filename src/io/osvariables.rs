//! Environment variables Bullpen reads (all prefixed `BULLPEN_`).

use std::path::PathBuf;

/// Root of Bullpen's state: models, indexes, registries, runs.
pub const HOME_VAR: &str = "BULLPEN_HOME";
/// Prefix of settings overrides from the environment (`BULLPEN_JOB__PROFILE=local`).
pub const SETTINGS_PREFIX: &str = "BULLPEN_";
/// Separator of key paths in settings overrides from the environment.
pub const SETTINGS_SEPARATOR: &str = "__";

/// `BULLPEN_HOME`, else the user's data directory + `/bullpen`, else `./.bullpen`.
pub fn bullpen_home() -> PathBuf {
    match std::env::var_os(HOME_VAR) {
        Some(home) if !home.is_empty() => PathBuf::from(home),
        _ => dirs::data_dir().map(|d| d.join("bullpen")).unwrap_or_else(|| PathBuf::from(".bullpen")),
    }
}

/// The data universe directory used when a command gets no `--data`.
pub const DATA_VAR: &str = "BULLPEN_DATA";

/// `--data DIR`, else `BULLPEN_DATA`, else the demo universe of the repository (`data/`).
pub fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = arg {
        return dir;
    }
    match std::env::var_os(DATA_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => demo_data_dir(),
    }
}

/// The demo universe shipped in the repository (`data/` beside `Cargo.toml`), else `./data`.
pub fn demo_data_dir() -> PathBuf {
    let built = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data"));
    if built.join("prices").is_dir() { built } else { PathBuf::from("data") }
}

//! Datasets on disk: the data universe directory and its `universe.toml`.

use std::path::Path;

use bullpen_connectors::ConnectorError;
use bullpen_connectors::universe::{Universe, UniverseConfig};

/// The column mapping of a universe: `DIR/universe.toml`, or the defaults when absent.
pub fn universe_config(dir: &Path) -> Result<UniverseConfig, ConnectorError> {
    let path = dir.join("universe.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| ConnectorError::Config(format!("invalid {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UniverseConfig::default()),
        Err(e) => Err(ConnectorError::Config(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Opens the universe in `dir` with its `universe.toml`.
pub fn open_universe(dir: &Path) -> Result<Universe, ConnectorError> {
    Universe::open(dir, &universe_config(dir)?)
}

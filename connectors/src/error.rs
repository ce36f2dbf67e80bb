//! The one error type of the connectors crate. Every variant names what was wrong and where.

use std::path::PathBuf;

/// An error from a data source. Messages name the file, URL or ticker involved.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A document or response did not have the expected shape.
    #[error("{location}: {message}")]
    Parse {
        /// Where: a file path (with line or element where known) or a URL.
        location: String,
        /// What was wrong.
        message: String,
    },
    /// The ticker is not in the universe / not known to the source.
    #[error("unknown ticker {ticker:?}: {detail}")]
    UnknownTicker {
        /// The ticker as given.
        ticker: String,
        /// Where it was looked up (and close matches, if any).
        detail: String,
    },
    /// Something that was asked for does not exist in the source.
    #[error("{what} not found: {detail}")]
    NotFound {
        /// What kind of thing (a filing, an item, a price range ...).
        what: String,
        /// Which one, and where it was looked for.
        detail: String,
    },
    /// An HTTP request failed (after retries where they apply).
    #[error("{url}: {message}")]
    Http {
        /// The URL (never containing an API key).
        url: String,
        /// The HTTP status, when a response came back.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// A source is misconfigured (missing API key, bad column mapping, ...).
    #[error("configuration: {0}")]
    Config(String),
}

impl ConnectorError {
    /// Shorthand for [`ConnectorError::Parse`].
    pub fn parse(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Parse { location: location.into(), message: message.into() }
    }

    /// Shorthand for [`ConnectorError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// Result alias of the crate.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

//! The document model of a report: what the data, valuation and prose steps produce and
//! what the Markdown, HTML and PDF renderers lay out. Every number in it is already
//! formatted text; renderers never compute.

use serde::Serialize;

/// A whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Document {
    /// `Apple Inc. (AAPL)`.
    pub title: String,
    /// `Equity research · as of 2024-03-08 · NASDAQ · Information Technology`.
    pub subtitle: String,
    /// The key data box at the top: label → value (`Price` → `172.75 USD (close 2024-03-08)`).
    pub key_data: Vec<(String, String)>,
    /// Content in reading order.
    pub blocks: Vec<Block>,
    /// Footer line of every page / the end of the document (`Bullpen · run 0f3a… · generated …`).
    pub footer: String,
}

/// One block of content.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A heading; level 1 = section, 2 = subsection.
    Heading { level: u8, text: String, id: String },
    /// A paragraph of plain text (no markup; `[1]`-style citation markers are plain text).
    Paragraph { text: String },
    /// A small-print note (how a value was computed, why one is absent, a failed model call).
    Note { text: String },
    /// A bulleted list.
    Bullets { items: Vec<String> },
    /// A table.
    Table(Table),
    /// A chart as a complete SVG document (`<svg …>…</svg>`, width/height attributes set).
    Chart { title: String, svg: String, caption: String },
}

/// A table: header, rows of formatted cells, which columns are numeric (right-aligned).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// One flag per column: right-align (numbers).
    pub numeric: Vec<bool>,
    /// Shown under the table (sources, definitions, absent-value reasons).
    pub notes: Vec<String>,
}

impl Document {
    /// Every section heading id (level 1), in order.
    pub fn section_ids(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Heading { level: 1, id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every chart.
    pub fn charts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Chart { title, svg, .. } => Some((title.as_str(), svg.as_str())),
            _ => None,
        })
    }

    /// Every table.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
    }
}

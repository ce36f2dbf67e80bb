//! What gets ingested: a [`Document`] — one filing Item, one transcript, one news item or
//! post, one ratio card, or one file (part) — as paragraphs and tables, with the metadata
//! every chunk's payload and citation carries.

use std::fmt;
use std::ops::Range;

use bullpen_connectors::types::{Block, Table};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::utils::splitters::{clean_text, is_page_furniture};

/// Kind of document; stored in the payload as `doc_type` and filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    /// A section (Item) of an SEC filing.
    Filing,
    /// An earnings-call transcript.
    Transcript,
    /// A news headline or article.
    News,
    /// A social-media post.
    Tweet,
    /// A text rendering of the ratio engine's values for one ticker and period.
    RatioCard,
    /// Any other text file.
    Text,
}

impl DocType {
    /// Every kind, in declaration order.
    pub const ALL: [DocType; 6] = [
        DocType::Filing,
        DocType::Transcript,
        DocType::News,
        DocType::Tweet,
        DocType::RatioCard,
        DocType::Text,
    ];

    /// The payload value (`filing`, `ratio_card` …).
    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Filing => "filing",
            DocType::Transcript => "transcript",
            DocType::News => "news",
            DocType::Tweet => "tweet",
            DocType::RatioCard => "ratio_card",
            DocType::Text => "text",
        }
    }

    /// The kind named `name` (payload value, case-insensitive, `-` or `_`).
    pub fn parse(name: &str) -> Option<DocType> {
        let norm = name.trim().to_ascii_lowercase().replace('-', "_");
        DocType::ALL
            .into_iter()
            .find(|t| t.as_str() == norm || (norm == "ratios" && *t == DocType::RatioCard))
    }
}

impl fmt::Display for DocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document to ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Stable identity across runs (`filings/aapl-10-k-2024-11-01.html.gz#1A`): a document
    /// with the same id replaces its earlier chunks.
    pub id: String,
    /// The ingestion source it came from (`filings`, `news`, `transcripts`, `ratios`,
    /// `files`): pruning removed documents only looks at the sources of the run.
    pub source: String,
    pub doc_type: DocType,
    pub ticker: Option<String>,
    pub cik: Option<u64>,
    /// Form (`10-K`, `10-Q`) for filings.
    pub form: Option<String>,
    /// Fiscal period label (`FY2024`, `Q3 FY2025`).
    pub fiscal_period: Option<String>,
    /// Date: filing date, publication date or period end.
    pub date: Option<NaiveDate>,
    /// Section label (`Item 1A. Risk Factors`).
    pub section: Option<String>,
    /// Title or headline.
    pub title: Option<String>,
    /// Where it came from: a file path or URL (with `#fragment` for a part).
    pub uri: String,
    /// Paragraphs and tables, cleaned (see [`Document::new`]).
    pub blocks: Vec<Block>,
}

/// Byte spans of a document's rendered text: one per kept block, and per table row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The text: paragraphs, and tables as pipe rows, separated by blank lines.
    pub text: String,
    /// One entry per block, in order.
    pub blocks: Vec<RenderedBlock>,
}

/// Where one block sits in [`Rendered::text`].
#[derive(Debug, Clone, PartialEq)]
pub enum RenderedBlock {
    Paragraph(Range<usize>),
    /// A table: the span of each row (header rows first).
    Table(Vec<Range<usize>>),
}

impl Document {
    /// A document of `blocks`, cleaned: whitespace collapsed, control characters dropped,
    /// page furniture (page numbers, running footers) and empty blocks removed, table
    /// cells cleaned and empty rows dropped.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        doc_type: DocType,
        uri: impl Into<String>,
        blocks: Vec<Block>,
    ) -> Self {
        Self {
            id: id.into(),
            source: source.into(),
            doc_type,
            ticker: None,
            cik: None,
            form: None,
            fiscal_period: None,
            date: None,
            section: None,
            title: None,
            uri: uri.into(),
            blocks: clean_blocks(blocks),
        }
    }

    /// Whether nothing is left to index.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The text of the document, the spans of its blocks and table rows.
    pub fn render(&self) -> Rendered {
        let mut text = String::new();
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            match block {
                Block::Paragraph { text: p } => {
                    let start = text.len();
                    text.push_str(p);
                    blocks.push(RenderedBlock::Paragraph(start..text.len()));
                }
                Block::Table { table } => {
                    let mut rows = Vec::with_capacity(table.rows.len());
                    for (i, row) in table.rows.iter().enumerate() {
                        if i > 0 {
                            text.push('\n');
                        }
                        let start = text.len();
                        text.push_str(&render_row(row));
                        rows.push(start..text.len());
                    }
                    blocks.push(RenderedBlock::Table(rows));
                }
            }
        }
        Rendered { text, blocks }
    }

    /// SHA-256 (hex) of everything that ends up in the chunks and their payloads: the
    /// metadata and the blocks. `salt` adds what else decides the chunks (chunker
    /// settings, embedding model), so changing those re-ingests.
    pub fn content_hash(&self, salt: &str) -> String {
        let mut h = Sha256::new();
        h.update(salt.as_bytes());
        h.update([0]);
        // serde_json of the document is canonical here: field order is fixed by the struct.
        match serde_json::to_vec(self) {
            Ok(bytes) => h.update(&bytes),
            Err(_) => h.update(format!("{self:?}").as_bytes()),
        }
        hex::encode(h.finalize())
    }
}

/// One table row as a pipe row: `| a | b |`.
pub fn render_row(row: &[String]) -> String {
    let mut out = String::from("|");
    for cell in row {
        out.push(' ');
        out.push_str(cell);
        out.push_str(" |");
    }
    out
}

fn clean_blocks(blocks: Vec<Block>) -> Vec<Block> {
    blocks
        .into_iter()
        .filter_map(|block| match block {
            Block::Paragraph { text } => {
                let text = clean_text(&text);
                (!is_page_furniture(&text)).then_some(Block::Paragraph { text })
            }
            Block::Table { table } => {
                let rows: Vec<Vec<String>> = table
                    .rows
                    .into_iter()
                    .map(|row| row.iter().map(|c| clean_text(c)).collect::<Vec<_>>())
                    .filter(|row: &Vec<String>| row.iter().any(|c| !c.is_empty()))
                    .collect();
                (!rows.is_empty()).then_some(Block::Table { table: Table { rows } })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(t: &str) -> Block {
        Block::Paragraph { text: t.to_string() }
    }

    #[test]
    fn cleaning_and_rendering_keep_spans_exact() {
        let table = Table {
            rows: vec![
                vec!["".into(), "2024".into()],
                vec![" ".into(), "".into()],
                vec!["Revenue".into(), "391,035".into()],
            ],
        };
        let doc = Document::new(
            "d",
            "files",
            DocType::Text,
            "x.txt",
            vec![para("  Net\u{a0}sales  rose. "), para("21"), Block::Table { table }],
        );
        assert_eq!(doc.blocks.len(), 2, "page number dropped");
        let r = doc.render();
        assert_eq!(r.text, "Net sales rose.\n\n|  | 2024 |\n| Revenue | 391,035 |");
        let RenderedBlock::Table(rows) = &r.blocks[1] else { panic!("table") };
        assert_eq!(rows.len(), 2, "empty row dropped");
        assert_eq!(&r.text[rows[1].clone()], "| Revenue | 391,035 |");
        let RenderedBlock::Paragraph(p) = &r.blocks[0] else { panic!("paragraph") };
        assert_eq!(&r.text[p.clone()], "Net sales rose.");
    }

    #[test]
    fn hash_changes_with_content_metadata_and_salt() {
        let a = Document::new("d", "files", DocType::Text, "x", vec![para("one")]);
        let mut b = a.clone();
        assert_eq!(a.content_hash("s"), b.content_hash("s"));
        assert_ne!(a.content_hash("s"), a.content_hash("t"));
        b.ticker = Some("AAPL".into());
        assert_ne!(a.content_hash("s"), b.content_hash("s"));
        assert_eq!(DocType::parse("Ratio-Card"), Some(DocType::RatioCard));
        assert_eq!(DocType::parse("10-K"), None);
    }
}

//! Token chunking of a [`Document`]: sentences are packed into chunks of at most `size`
//! tokens (of the embedding model's tokenizer) with about `overlap` tokens carried over;
//! a sentence longer than a chunk is cut into token windows. Tables are chunked apart
//! from prose and never cut mid-row: a table that does not fit is split between rows,
//! its header row repeated at the top of every part. A document is one filing Item (or
//! one transcript, news item …), so no chunk spans two Items.

use std::ops::Range;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::RagError;
use super::document::{Document, RenderedBlock};
use super::tokens::TokenCounter;
use crate::utils::splitters::sentence_spans;

/// Chunking settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkSettings {
    /// Most tokens of a chunk, its context header included (must fit the embedding model's
    /// input).
    #[serde(default = "default_size")]
    pub size: usize,
    /// Tokens of prose repeated at the start of the next chunk (whole sentences, at most
    /// this many; windows of an over-long sentence overlap by exactly this many).
    #[serde(default = "default_overlap")]
    pub overlap: usize,
}

fn default_size() -> usize {
    192
}

fn default_overlap() -> usize {
    32
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self { size: default_size(), overlap: default_overlap() }
    }
}

impl ChunkSettings {
    /// Checks the settings against the embedding model's input limit (in tokens, special
    /// tokens included), when known.
    pub fn check(&self, model_limit: Option<usize>) -> Result<(), RagError> {
        let bad = |reason: String| Err(RagError::Settings { key: "chunking".into(), reason });
        if self.size < 16 {
            return bad(format!("size {} is too small (at least 16 tokens)", self.size));
        }
        if self.overlap >= self.size / 2 {
            return bad(format!("overlap {} must be less than half the size ({})", self.overlap, self.size));
        }
        if let Some(limit) = model_limit
            && self.size + 2 > limit
        {
            return bad(format!(
                "size {} does not fit the embedding model's input of {limit} tokens (2 are special tokens)",
                self.size
            ));
        }
        Ok(())
    }
}

/// Whether a chunk holds prose or table rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChunkKind {
    Prose,
    Table,
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub index: usize,
    /// The text shown and cited (a table part starts with its repeated header row).
    pub text: String,
    /// Character offsets of the cited span in the document's rendered text.
    pub chars: Range<usize>,
    /// Tokens of `text`.
    pub tokens: usize,
    pub kind: ChunkKind,
}

/// Chunks documents with one tokenizer and settings.
#[derive(Clone)]
pub struct Chunker {
    tokens: Arc<dyn TokenCounter>,
    settings: ChunkSettings,
}

struct Unit {
    span: Range<usize>,
    tokens: usize,
}

impl Chunker {
    pub fn new(tokens: Arc<dyn TokenCounter>, settings: ChunkSettings) -> Self {
        Self { tokens, settings }
    }

    pub fn settings(&self) -> ChunkSettings {
        self.settings
    }

    /// The tokenizer's name.
    pub fn tokenizer(&self) -> &str {
        self.tokens.name()
    }

    /// Tokens of `text`.
    pub fn count(&self, text: &str) -> usize {
        self.tokens.count(text)
    }

    /// The chunks of `doc`; `budget` tokens per chunk (the size less the context header
    /// the caller adds before embedding, at least 8).
    pub fn chunk(&self, doc: &Document, header_tokens: usize) -> Vec<Chunk> {
        let budget = self.settings.size.saturating_sub(header_tokens).max(8);
        let overlap = self.settings.overlap.min(budget / 2);
        let rendered = doc.render();
        let text = rendered.text.as_str();
        let mut out = Spans::default();
        let mut prose: Vec<Unit> = Vec::new();
        let mut fresh = false; // whether `prose` holds a unit not yet emitted
        for block in &rendered.blocks {
            match block {
                RenderedBlock::Paragraph(span) => {
                    for s in sentence_spans(&text[span.clone()]) {
                        let span = span.start + s.start..span.start + s.end;
                        let tokens = self.tokens.count(&text[span.clone()]);
                        if tokens > budget {
                            self.flush_prose(&mut prose, &mut fresh, &mut out, overlap, false);
                            prose.clear();
                            self.windows(text, span, budget, overlap, &mut out);
                            continue;
                        }
                        if prose.iter().map(|u| u.tokens).sum::<usize>() + tokens > budget {
                            self.flush_prose(&mut prose, &mut fresh, &mut out, overlap, true);
                            // The carried-over tail plus this sentence must fit.
                            while !prose.is_empty()
                                && prose.iter().map(|u| u.tokens).sum::<usize>() + tokens > budget
                            {
                                prose.remove(0);
                            }
                        }
                        prose.push(Unit { span, tokens });
                        fresh = true;
                    }
                }
                RenderedBlock::Table(rows) => {
                    self.flush_prose(&mut prose, &mut fresh, &mut out, overlap, false);
                    prose.clear();
                    self.table(text, rows, budget, &mut out);
                }
            }
        }
        self.flush_prose(&mut prose, &mut fresh, &mut out, overlap, false);
        out.into_chunks(text)
    }

    /// Emits the prose buffer as one chunk (when it holds something new) and, with
    /// `carry`, keeps its last sentences (at most `overlap` tokens) for the next chunk.
    fn flush_prose(
        &self,
        prose: &mut Vec<Unit>,
        fresh: &mut bool,
        out: &mut Spans,
        overlap: usize,
        carry: bool,
    ) {
        if *fresh && let (Some(first), Some(last)) = (prose.first(), prose.last()) {
            out.push(
                None,
                first.span.start..last.span.end,
                prose.iter().map(|u| u.tokens).sum(),
                ChunkKind::Prose,
            );
        }
        *fresh = false;
        if !carry {
            prose.clear();
            return;
        }
        let mut kept = 0;
        let mut from = prose.len();
        while from > 0 && kept + prose[from - 1].tokens <= overlap {
            kept += prose[from - 1].tokens;
            from -= 1;
        }
        prose.drain(..from);
    }

    /// Token windows of one over-long sentence.
    fn windows(&self, text: &str, span: Range<usize>, budget: usize, overlap: usize, out: &mut Spans) {
        let toks = self.tokens.token_spans(&text[span.clone()]);
        let step = budget.saturating_sub(overlap).max(1);
        let mut i = 0;
        while i < toks.len() {
            let j = (i + budget).min(toks.len());
            let start = span.start + toks[i].start;
            let end = span.start + toks[j - 1].end;
            out.push(None, start..end, j - i, ChunkKind::Prose);
            if j == toks.len() {
                break;
            }
            i += step;
        }
    }

    /// A table: whole when it fits, else parts between rows with the header repeated.
    fn table(&self, text: &str, rows: &[Range<usize>], budget: usize, out: &mut Spans) {
        let Some((first, last)) = rows.first().zip(rows.last()) else { return };
        let counts: Vec<usize> = rows.iter().map(|r| self.tokens.count(&text[r.clone()])).collect();
        let total: usize = counts.iter().sum();
        if total <= budget || rows.len() == 1 {
            out.push(None, first.start..last.end, total, ChunkKind::Table);
            return;
        }
        let header = first.clone();
        let header_tokens = counts[0];
        let room = budget.saturating_sub(header_tokens).max(1);
        // The first part includes the header row itself.
        let mut start = 1;
        let mut first_part = true;
        while start < rows.len() {
            let mut end = start;
            let mut used = 0;
            while end < rows.len() && (end == start || used + counts[end] <= room) {
                used += counts[end];
                end += 1;
            }
            let span = if first_part {
                header.start..rows[end - 1].end
            } else {
                rows[start].start..rows[end - 1].end
            };
            let prefix = (!first_part).then(|| header.clone());
            out.push(prefix, span, used + header_tokens, ChunkKind::Table);
            first_part = false;
            start = end;
        }
    }
}

/// A chunk as byte spans: an optional prefix (a repeated table header) and the cited span.
struct SpanChunk {
    prefix: Option<Range<usize>>,
    span: Range<usize>,
    tokens: usize,
    kind: ChunkKind,
}

/// Chunks as byte spans, turned into text and character offsets at the end.
#[derive(Default)]
struct Spans(Vec<SpanChunk>);

impl Spans {
    fn push(&mut self, prefix: Option<Range<usize>>, span: Range<usize>, tokens: usize, kind: ChunkKind) {
        self.0.push(SpanChunk { prefix, span, tokens, kind });
    }

    fn into_chunks(self, text: &str) -> Vec<Chunk> {
        let chars = CharIndex::new(text);
        self.0
            .into_iter()
            .enumerate()
            .map(|(index, SpanChunk { prefix, span, tokens, kind })| {
                let body = &text[span.clone()];
                let text = match prefix {
                    Some(h) => format!("{}\n{body}", &text[h]),
                    None => body.to_string(),
                };
                Chunk { index, text, chars: chars.at(span.start)..chars.at(span.end), tokens, kind }
            })
            .collect()
    }
}

/// Byte offset → character offset.
struct CharIndex {
    /// Byte offsets of the characters; empty when the text is ASCII.
    starts: Vec<usize>,
    len: usize,
}

impl CharIndex {
    fn new(text: &str) -> Self {
        let starts = if text.is_ascii() { Vec::new() } else { text.char_indices().map(|(i, _)| i).collect() };
        Self { starts, len: text.len() }
    }

    fn at(&self, byte: usize) -> usize {
        if self.starts.is_empty() {
            return byte.min(self.len);
        }
        match self.starts.binary_search(&byte) {
            Ok(i) | Err(i) => i,
        }
    }
}

#[cfg(test)]
mod tests {
    use bullpen_connectors::types::{Block, Table};

    use super::*;
    use crate::rag::document::DocType;
    use crate::rag::tokens::WordTokens;

    fn chunker(size: usize, overlap: usize) -> Chunker {
        Chunker::new(Arc::new(WordTokens), ChunkSettings { size, overlap })
    }

    fn doc(blocks: Vec<Block>) -> Document {
        Document::new("d", "files", DocType::Text, "x", blocks)
    }

    fn para(t: &str) -> Block {
        Block::Paragraph { text: t.to_string() }
    }

    #[test]
    fn prose_packs_sentences_with_overlap_and_offsets_point_into_the_text() {
        // Each sentence is 4 word tokens + 1 period = 5 tokens.
        let p = "One two three four. Five six seven eight. Nine ten eleven twelve. Alpha beta gamma delta.";
        let d = doc(vec![para(p)]);
        let chunks = chunker(16, 5).chunk(&d, 0);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "One two three four. Five six seven eight. Nine ten eleven twelve.",
                "Nine ten eleven twelve. Alpha beta gamma delta."
            ]
        );
        let rendered = d.render().text;
        for c in &chunks {
            let cited: String = rendered.chars().skip(c.chars.start).take(c.chars.len()).collect();
            assert_eq!(cited, c.text);
            assert!(c.tokens <= 16);
        }
    }

    #[test]
    fn a_long_sentence_is_cut_into_overlapping_windows() {
        let words: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
        let d = doc(vec![para(&words.join(" "))]);
        let chunks = chunker(20, 5).chunk(&d, 0);
        assert_eq!(chunks.len(), 3);
        assert!(chunks[0].text.starts_with("w0 ") && chunks[0].text.ends_with("w19"));
        assert!(chunks[1].text.starts_with("w15 "), "{}", chunks[1].text);
        assert!(chunks[2].text.ends_with("w49"));
    }

    #[test]
    fn tables_are_split_between_rows_with_the_header_repeated() {
        let mut rows = vec![vec!["Item".to_string(), "2024".to_string(), "2023".to_string()]];
        for i in 0..12 {
            rows.push(vec![format!("Line{i}"), format!("{i}00"), format!("{i}50")]);
        }
        let d =
            doc(vec![para("Intro sentence here."), Block::Table { table: Table { rows } }, para("After.")]);
        let chunks = chunker(24, 4).chunk(&d, 0);
        assert_eq!(chunks[0].text, "Intro sentence here.");
        let tables: Vec<&Chunk> = chunks.iter().filter(|c| c.kind == ChunkKind::Table).collect();
        assert!(tables.len() >= 3, "{tables:?}");
        for t in &tables {
            assert!(t.text.starts_with("| Item | 2024 | 2023 |"), "{}", t.text);
            for line in t.text.lines() {
                assert!(line.starts_with("| ") && line.ends_with(" |"), "row cut: {line}");
            }
        }
        let all: String = tables.iter().map(|t| t.text.clone()).collect::<Vec<_>>().join("\n");
        for i in 0..12 {
            assert_eq!(all.matches(&format!("| Line{i} |")).count(), 1, "row {i} exactly once");
        }
        assert_eq!(chunks.last().map(|c| c.text.as_str()), Some("After."));
    }

    #[test]
    fn unicode_offsets_are_characters() {
        let d = doc(vec![para("Café résumé. Ünïcode ☃ text.")]);
        let chunks = chunker(5, 1).chunk(&d, 0);
        let rendered = d.render().text;
        for c in &chunks {
            let cited: String = rendered.chars().skip(c.chars.start).take(c.chars.len()).collect();
            assert_eq!(cited, c.text);
        }
    }

    #[test]
    fn settings_are_checked_against_the_model() {
        assert!(ChunkSettings::default().check(Some(256)).is_ok());
        assert!(ChunkSettings { size: 300, overlap: 10 }.check(Some(256)).is_err());
        assert!(ChunkSettings { size: 100, overlap: 60 }.check(None).is_err());
    }
}

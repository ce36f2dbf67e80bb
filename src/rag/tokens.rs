//! Token counting for the chunker: the embedding model's own tokenizer when it has one
//! ([`HfTokens`], a `tokenizer.json`), else an approximation by words and punctuation
//! ([`WordTokens`], for hosted embedders whose tokenizer is not local).

use std::ops::Range;
use std::path::Path;

use tokenizers::Tokenizer;

use super::RagError;

/// Splits text into tokens, returning their byte spans.
pub trait TokenCounter: Send + Sync {
    /// What counts the tokens (`tokenizer.json of minilm`, `words`).
    fn name(&self) -> &str;
    /// Byte spans of the tokens of `text`, in order, special tokens excluded.
    fn token_spans(&self, text: &str) -> Vec<Range<usize>>;
    /// Number of tokens of `text`.
    fn count(&self, text: &str) -> usize {
        self.token_spans(text).len()
    }
}

/// A Hugging Face tokenizer, with truncation and padding turned off.
pub struct HfTokens {
    name: String,
    tokenizer: Tokenizer,
}

impl HfTokens {
    /// Wraps `tokenizer` (its truncation and padding are removed: the chunker needs every
    /// token).
    pub fn new(name: impl Into<String>, mut tokenizer: Tokenizer) -> Result<Self, RagError> {
        let name = name.into();
        tokenizer
            .with_truncation(None)
            .map_err(|e| RagError::Tokenizer { name: name.clone(), reason: e.to_string() })?;
        tokenizer.with_padding(None);
        Ok(Self { name, tokenizer })
    }

    /// Reads a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, RagError> {
        let name = path.display().to_string();
        let tokenizer = Tokenizer::from_file(path)
            .map_err(|e| RagError::Tokenizer { name: name.clone(), reason: e.to_string() })?;
        Self::new(name, tokenizer)
    }
}

impl TokenCounter for HfTokens {
    fn name(&self) -> &str {
        &self.name
    }

    fn token_spans(&self, text: &str) -> Vec<Range<usize>> {
        match self.tokenizer.encode(text, false) {
            Ok(encoding) => encoding
                .get_offsets()
                .iter()
                .zip(encoding.get_special_tokens_mask())
                .filter(|(_, special)| **special == 0)
                .map(|(&(s, e), _)| s..e)
                .collect(),
            // Encoding plain text does not fail with these tokenizers; should it, fall back
            // to words rather than lose the text.
            Err(e) => {
                tracing::warn!(tokenizer = %self.name, error = %e, "tokenizer failed; counting words");
                WordTokens.token_spans(text)
            }
        }
    }
}

/// Words and single punctuation characters: about 1.3 tokens per word under a WordPiece
/// or BPE tokenizer, so chunk sizes are approximate with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordTokens;

impl TokenCounter for WordTokens {
    fn name(&self) -> &str {
        "words"
    }

    fn token_spans(&self, text: &str) -> Vec<Range<usize>> {
        let mut spans = Vec::new();
        let mut word: Option<usize> = None;
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                word.get_or_insert(i);
                continue;
            }
            if let Some(s) = word.take() {
                spans.push(s..i);
            }
            if !c.is_whitespace() {
                spans.push(i..i + c.len_utf8());
            }
        }
        if let Some(s) = word {
            spans.push(s..text.len());
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokens_split_words_and_punctuation() {
        let text = "Net sales: $391.0bn, up 2%.";
        let toks: Vec<&str> = WordTokens.token_spans(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(toks, ["Net", "sales", ":", "$", "391", ".", "0bn", ",", "up", "2", "%", "."]);
        assert_eq!(WordTokens.count("é à"), 2);
    }
}

//! `news_sentiment`: recent news about a ticker scored with the Loughran–McDonald lexicon
//! when the user has it (word counts per category, a net tone per item), else classified
//! by the model (grammar-constrained to positive / negative / neutral).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bullpen_connectors::{DateRange, TextKind, TextSource};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolContext, ToolError, ToolOutput, TypedTool, connector_error, failed, parse_date, truncate};
use crate::analytics::calc::round_to;
use crate::llm::{ChatModel, ChatRequest, Message};

/// The lexicon's categories Bullpen reads.
pub const CATEGORIES: [&str; 5] = ["Negative", "Positive", "Uncertainty", "Litigious", "Constraining"];

/// The Loughran–McDonald master dictionary: upper-case word → categories it belongs to.
#[derive(Debug, Default)]
pub struct Lexicon {
    words: HashMap<String, u8>,
    pub source: PathBuf,
}

/// Why a lexicon file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error("cannot read the lexicon `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("lexicon `{}` line {line}: {reason}", path.display())]
    Format { path: PathBuf, line: usize, reason: String },
}

impl Lexicon {
    /// Reads the master dictionary CSV (optionally gzipped): a `Word` column and one column
    /// per category whose cell is the year the word was added (0: not in the category).
    pub fn load(path: &Path) -> Result<Self, LexiconError> {
        let read = |source| LexiconError::Read { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut text = String::new();
        if path.extension().is_some_and(|e| e == "gz") {
            flate2::read::GzDecoder::new(file).read_to_string(&mut text).map_err(read)?;
        } else {
            std::io::BufReader::new(file).read_to_string(&mut text).map_err(read)?;
        }
        Self::parse(&text, path)
    }

    /// Parses the CSV text of the dictionary.
    pub fn parse(text: &str, path: &Path) -> Result<Self, LexiconError> {
        let format = |line, reason: String| LexiconError::Format { path: path.to_path_buf(), line, reason };
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').map(str::trim).collect();
        let word_col = header
            .iter()
            .position(|h| h.eq_ignore_ascii_case("word"))
            .ok_or_else(|| format(1, "no `Word` column".into()))?;
        let mut cols = Vec::new();
        for (bit, cat) in CATEGORIES.iter().enumerate() {
            let i = header
                .iter()
                .position(|h| h.eq_ignore_ascii_case(cat))
                .ok_or_else(|| format(1, format!("no `{cat}` column")))?;
            cols.push((bit, i));
        }
        let mut words = HashMap::new();
        for (n, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            let Some(word) = cells.get(word_col).map(|w| w.trim()) else { continue };
            if word.is_empty() {
                continue;
            }
            let mut mask = 0u8;
            for &(bit, i) in &cols {
                let cell = cells.get(i).map(|c| c.trim()).unwrap_or("");
                let year: i64 = cell.parse().map_err(|_| {
                    format(n + 2, format!("`{}` is not a year or 0 in column {}", cell, CATEGORIES[bit]))
                })?;
                if year != 0 {
                    mask |= 1 << bit;
                }
            }
            if mask != 0 {
                words.insert(word.to_uppercase(), mask);
            }
        }
        if words.is_empty() {
            return Err(format(1, "no word belongs to any category".into()));
        }
        Ok(Self { words, source: path.to_path_buf() })
    }

    /// The lexicon at `path`, else `$BULLPEN_HOME/lexicons/LoughranMcDonald_MasterDictionary.csv[.gz]`
    /// when present; `Ok(None)` when the user has none.
    pub fn find(path: Option<&Path>, home: &Path) -> Result<Option<Arc<Self>>, LexiconError> {
        if let Some(p) = path {
            return Self::load(p).map(|l| Some(Arc::new(l)));
        }
        for name in ["LoughranMcDonald_MasterDictionary.csv.gz", "LoughranMcDonald_MasterDictionary.csv"] {
            let p = home.join("lexicons").join(name);
            if p.is_file() {
                return Self::load(&p).map(|l| Some(Arc::new(l)));
            }
        }
        Ok(None)
    }

    /// Category counts of a text, in [`CATEGORIES`] order, and its word count.
    pub fn counts(&self, text: &str) -> ([u32; 5], u32) {
        let mut counts = [0u32; 5];
        let mut total = 0;
        for word in text.split(|c: char| !c.is_alphabetic() && c != '\'').filter(|w| w.len() > 1) {
            total += 1;
            if let Some(mask) = self.words.get(&word.to_uppercase()) {
                for (bit, c) in counts.iter_mut().enumerate() {
                    if mask & (1 << bit) != 0 {
                        *c += 1;
                    }
                }
            }
        }
        (counts, total)
    }
}

/// Arguments of `news_sentiment`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentimentArgs {
    /// Ticker, e.g. AAPL.
    pub ticker: String,
    /// Latest date of news (YYYY-MM-DD); default: the latest available.
    #[serde(default)]
    #[schemars(extend("format" = "date"))]
    pub to: Option<String>,
    /// News items to score (1-20, default 8).
    #[serde(default)]
    #[schemars(range(min = 1, max = 20))]
    pub limit: Option<u8>,
}

/// The `news_sentiment` tool.
pub struct NewsSentiment;

#[async_trait]
impl TypedTool for NewsSentiment {
    type Args = SentimentArgs;
    const NAME: &'static str = "news_sentiment";
    const DESCRIPTION: &'static str = "Recent news and posts about a ticker with a sentiment per item and overall (positive, negative, neutral).";

    async fn run(&self, args: SentimentArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ticker = ctx.ticker(&args.ticker).await?;
        let to = match &args.to {
            Some(d) => Some(parse_date("to", d)?),
            None => ctx.as_of,
        };
        let items = ctx
            .universe
            .text_items(
                Some(&ticker.symbol),
                &[TextKind::News, TextKind::Tweet],
                DateRange { from: None, to },
            )
            .await
            .map_err(connector_error)?;
        // Latest first; reposts of the same text once.
        let mut seen = HashSet::new();
        let limit = usize::from(args.limit.unwrap_or(8).clamp(1, 20));
        let mut chosen: Vec<_> =
            items.iter().rev().filter(|i| seen.insert(normalise(&i.text))).take(limit).collect();
        chosen.sort_by_key(|i| std::cmp::Reverse(i.date));
        if chosen.is_empty() {
            return Err(ToolError::NotFound(format!("no news about {} in the data", ticker.symbol)));
        }
        let (labels, method) = match (&ctx.lexicon, &ctx.model) {
            (Some(lex), _) => (
                chosen.iter().map(|i| lexicon_label(lex, &i.text)).collect::<Vec<_>>(),
                "Loughran-McDonald lexicon",
            ),
            (None, Some(model)) => (model_labels(model.as_ref(), &chosen).await?, "model classification"),
            (None, None) => {
                return Err(ToolError::Failed("no lexicon and no model to classify sentiment".into()));
            }
        };
        let mut tally = [0usize; 3];
        let scored: Vec<_> = chosen
            .iter()
            .zip(&labels)
            .map(|(item, (label, tone))| {
                tally[match label.as_str() {
                    "positive" => 0,
                    "negative" => 1,
                    _ => 2,
                }] += 1;
                let mut v = json!({"date": item.date, "text": truncate(&item.text, 160), "sentiment": label, "source": item.source});
                if let Some(t) = tone {
                    v["tone"] = json!(round_to(*t, 3));
                }
                v
            })
            .collect();
        let overall = match tally[0].cmp(&tally[1]) {
            std::cmp::Ordering::Greater => "positive",
            std::cmp::Ordering::Less => "negative",
            std::cmp::Ordering::Equal => "neutral",
        };
        Ok(ToolOutput::json(json!({
            "ticker": ticker.symbol,
            "method": method,
            "items": scored.len(),
            "positive": tally[0],
            "negative": tally[1],
            "neutral": tally[2],
            "overall": overall,
            "news": scored,
        })))
    }
}

fn normalise(text: &str) -> String {
    let t = text.trim();
    let t = match t.strip_prefix("RT @") {
        Some(rest) => rest.split_once(':').map(|(_, r)| r).unwrap_or(rest),
        None => t,
    };
    t.split_whitespace().filter(|w| !w.starts_with("http")).collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The lexicon's label and net tone ((positive − negative) / (positive + negative)).
fn lexicon_label(lex: &Lexicon, text: &str) -> (String, Option<f64>) {
    let (counts, _) = lex.counts(text);
    let (neg, pos) = (f64::from(counts[0]), f64::from(counts[1]));
    if neg + pos == 0.0 {
        return ("neutral".into(), Some(0.0));
    }
    let tone = (pos - neg) / (pos + neg);
    let label = if tone > 0.0 {
        "positive"
    } else if tone < 0.0 {
        "negative"
    } else {
        "neutral"
    };
    (label.into(), Some(tone))
}

/// One grammar-constrained classification per item, all in flight at once.
async fn model_labels(
    model: &dyn ChatModel,
    items: &[&bullpen_connectors::TextItem],
) -> Result<Vec<(String, Option<f64>)>, ToolError> {
    let schema = json!({
        "type": "object",
        "properties": {"sentiment": {"enum": ["positive", "negative", "neutral"]}},
        "required": ["sentiment"],
        "additionalProperties": false
    });
    let calls = items.iter().map(|item| {
        let request = ChatRequest::new(vec![
            Message::system("Classify the sentiment of this financial news for the company's stock."),
            Message::user(truncate(&item.text, 600)),
        ])
        .with_schema("sentiment", schema.clone())
        .temperature(0.0)
        .max_tokens(16);
        model.chat(request)
    });
    let answers = futures::future::join_all(calls).await;
    answers
        .into_iter()
        .map(|a| {
            let a = a.map_err(failed)?;
            let v = a.json().map_err(failed)?;
            let label = v.get("sentiment").and_then(|s| s.as_str()).unwrap_or("neutral").to_string();
            Ok((label, None))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "Word,Sequence Number,Negative,Positive,Uncertainty,Litigious,Constraining\n\
        LOSS,1,2009,0,0,0,0\nGAIN,2,0,2009,0,0,0\nMAY,3,0,0,2009,0,0\nTABLE,4,0,0,0,0,0\n";

    #[test]
    fn lexicon_counts_categories_and_labels_tone() {
        let lex = Lexicon::parse(CSV, Path::new("lm.csv")).expect("parse");
        let (c, total) = lex.counts("A gain, another gain and a loss may follow.");
        assert_eq!((c[0], c[1], c[2], total), (1, 2, 1, 7), "one-letter words are not counted");
        assert_eq!(lexicon_label(&lex, "gain gain loss").0, "positive");
        assert_eq!(lexicon_label(&lex, "loss").0, "negative");
        assert_eq!(lexicon_label(&lex, "table").0, "neutral");
    }

    #[test]
    fn a_bad_lexicon_names_the_line() {
        let err = Lexicon::parse(
            "Word,Negative,Positive,Uncertainty,Litigious,Constraining\nX,abc,0,0,0,0\n",
            Path::new("lm.csv"),
        )
        .expect_err("bad cell");
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(Lexicon::parse("Word,Positive\n", Path::new("lm.csv")).is_err());
    }

    #[test]
    fn reposts_normalise_to_the_same_text() {
        assert_eq!(normalise("RT @a: Apple beats http://x"), normalise("Apple beats  https://y"));
    }
}

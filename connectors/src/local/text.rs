//! Dated text items (news, transcripts, posts) from files in a directory: CSV, JSON or JSONL,
//! plain or gzipped, one record per item.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::parse_date;
use super::table::{is_table_file, read_table};
use crate::error::{ConnectorError, Result};
use crate::files::list_dir;
use crate::traits::TextSource;
use crate::types::{DateRange, SkippedRow, TextItem, TextKind};

/// Column names of text files; unset names are found by aliases (`date`/`published`,
/// `text`/`body`/`content`/`transcript`/`summary`, `title`/`headline`, `ticker`/`tickers`/
/// `symbol`, `id`). A file without a date column may give `year` and `quarter` instead (the
/// quarter's last day is used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextColumns {
    /// Date column.
    pub date: Option<String>,
    /// Text column.
    pub text: Option<String>,
    /// Title column.
    pub title: Option<String>,
    /// Ticker(s) column (one ticker, or several separated by `,` `;` or spaces).
    pub tickers: Option<String>,
    /// Id column.
    pub id: Option<String>,
}

/// Every item of a directory, and the rows skipped while reading it.
pub type LoadedText = (Vec<TextItem>, Vec<SkippedRow>);

/// Text items from one directory, all of one kind. Files are read once, on first use.
#[derive(Debug, Clone)]
pub struct LocalText {
    dir: PathBuf,
    kind: TextKind,
    columns: TextColumns,
    items: Arc<OnceCell<Arc<LoadedText>>>,
}

impl LocalText {
    /// Items of `kind` from every table file in `dir` (a missing directory has none).
    pub fn new(dir: impl Into<PathBuf>, kind: TextKind, columns: TextColumns) -> Self {
        Self { dir: dir.into(), kind, columns, items: Arc::default() }
    }

    /// Every item, and the rows skipped while reading.
    pub async fn all(&self) -> Result<Arc<LoadedText>> {
        self.items
            .get_or_try_init(|| async {
                let (dir, kind, cols) = (self.dir.clone(), self.kind, self.columns.clone());
                let loaded = tokio::task::spawn_blocking(move || load_dir(&dir, kind, &cols))
                    .await
                    .map_err(|e| ConnectorError::Config(format!("text reader task failed: {e}")))??;
                Ok(Arc::new(loaded))
            })
            .await
            .cloned()
    }
}

#[async_trait]
impl TextSource for LocalText {
    async fn text_items(
        &self,
        ticker: Option<&str>,
        kinds: &[TextKind],
        range: DateRange,
    ) -> Result<Vec<TextItem>> {
        if !kinds.is_empty() && !kinds.contains(&self.kind) {
            return Ok(Vec::new());
        }
        let all = self.all().await?;
        let t = ticker.map(|t| t.trim().to_uppercase());
        Ok(all
            .0
            .iter()
            .filter(|i| range.contains(i.date))
            .filter(|i| t.as_ref().is_none_or(|t| i.tickers.iter().any(|x| x == t)))
            .cloned()
            .collect())
    }
}

fn load_dir(dir: &Path, kind: TextKind, cols: &TextColumns) -> Result<LoadedText> {
    let files: Vec<PathBuf> = list_dir(dir)?.into_iter().filter(|p| is_table_file(p)).collect();
    let (mut items, mut skipped) = (Vec::new(), Vec::new());
    for f in files {
        read_file(&f, kind, cols, &mut items, &mut skipped)?;
    }
    items.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.id.cmp(&b.id)));
    Ok((items, skipped))
}

fn quarter_end(year: &str, quarter: &str) -> Option<NaiveDate> {
    let y: i32 = year.trim().parse().ok()?;
    let q: u32 = quarter.trim().trim_start_matches(['q', 'Q']).parse().ok()?;
    let (m, d) = match q {
        1 => (3, 31),
        2 => (6, 30),
        3 => (9, 30),
        4 => (12, 31),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Reads one file of text items into `items`, reporting unusable rows in `skipped`.
pub fn read_file(
    path: &Path,
    kind: TextKind,
    cols: &TextColumns,
    items: &mut Vec<TextItem>,
    skipped: &mut Vec<SkippedRow>,
) -> Result<()> {
    let t = read_table(path)?;
    let text_col = t.require(
        "text",
        cols.text.as_deref(),
        &["text", "body", "content", "transcript", "summary", "article", "headline", "headlines", "title"],
    )?;
    let date_col = t.find(cols.date.as_deref(), &["date", "published", "published_at", "time", "datetime"]);
    let year_q = match (&date_col, t.find(None, &["year"]), t.find(None, &["quarter"])) {
        (None, Some(y), Some(q)) => Some((t.cells(&y)?, t.cells(&q)?)),
        (None, _, _) => {
            return Err(t
                .require("date", cols.date.as_deref(), &["date", "published"])
                .err()
                .unwrap_or_else(|| ConnectorError::parse(&t.path, "missing date column")));
        }
        _ => None,
    };
    let dates = match &date_col {
        Some(c) => Some(t.cells(c)?),
        None => None,
    };
    let title_col =
        t.find(cols.title.as_deref(), &["title", "headline", "headlines"]).filter(|c| *c != text_col);
    let titles = title_col.map(|c| t.cells(&c)).transpose()?;
    let tickers = t
        .find(cols.tickers.as_deref(), &["ticker", "tickers", "symbol", "symbols"])
        .map(|c| t.cells(&c))
        .transpose()?;
    let ids = t.find(cols.id.as_deref(), &["id"]).map(|c| t.cells(&c)).transpose()?;
    let texts = t.cells(&text_col)?;
    for (row, text) in texts.into_iter().enumerate() {
        let date = match (&dates, &year_q) {
            (Some(d), _) => d[row].as_deref().and_then(|c| parse_date(c, None)),
            (None, Some((y, q))) => {
                y[row].as_deref().zip(q[row].as_deref()).and_then(|(y, q)| quarter_end(y, q))
            }
            _ => None,
        };
        let Some(date) = date else {
            skipped.push(SkippedRow { location: t.location(row), reason: "no readable date".into() });
            continue;
        };
        let Some(text) = text.filter(|s| !s.trim().is_empty()) else {
            skipped.push(SkippedRow { location: t.location(row), reason: format!("empty {text_col:?}") });
            continue;
        };
        let tick: Vec<String> = tickers
            .as_ref()
            .and_then(|c| c[row].as_deref())
            .map(|s| {
                s.split([',', ';', ' ', '|'])
                    .map(|x| x.trim().trim_start_matches('$').to_uppercase())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let id = ids.as_ref().and_then(|c| c[row].clone()).unwrap_or_else(|| t.location(row));
        items.push(TextItem {
            id,
            kind,
            date,
            tickers: tick,
            title: titles.as_ref().and_then(|c| c[row].clone()),
            text,
            source: t.location(row),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_jsonl_and_csv_filters_by_ticker_and_date() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.jsonl"),
            "{\"ticker\":\"AAPL\",\"date\":\"2014-01-02\",\"id\":\"1\",\"text\":\"$AAPL up\"}\n\
             {\"ticker\":\"MSFT\",\"date\":\"2014-01-03\",\"id\":\"2\",\"text\":\"MSFT down\"}\n\
             {\"ticker\":\"MSFT\",\"date\":\"bad\",\"id\":\"3\",\"text\":\"x\"}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.csv"),
            "Date,Headlines,Tickers\n2014-01-05,Big news,\"AAPL, MSFT\"\n",
        )
        .unwrap();
        let src = LocalText::new(dir.path(), TextKind::News, TextColumns::default());
        let all = src.text_items(None, &[], DateRange::ALL).await.unwrap();
        assert_eq!(all.len(), 3);
        let aapl = src.text_items(Some("aapl"), &[], DateRange::ALL).await.unwrap();
        assert_eq!(aapl.iter().map(|i| i.id.as_str()).collect::<Vec<_>>()[0], "1");
        assert_eq!(aapl.len(), 2);
        assert_eq!(src.all().await.unwrap().1.len(), 1, "the bad date is reported");
        assert!(src.text_items(None, &[TextKind::Tweet], DateRange::ALL).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn transcripts_dated_by_year_and_quarter() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.jsonl"),
            "{\"ticker\":\"ABM\",\"year\":2021,\"quarter\":\"q1\",\"transcript\":\"Revenue was up.\"}\n",
        )
        .unwrap();
        let src = LocalText::new(dir.path(), TextKind::Transcript, TextColumns::default());
        let items = src.text_items(Some("ABM"), &[TextKind::Transcript], DateRange::ALL).await.unwrap();
        assert_eq!(items[0].date, NaiveDate::from_ymd_opt(2021, 3, 31).unwrap());
    }
}

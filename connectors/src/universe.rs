//! A universe: a directory a user brings (or the demo one in the repo), laid out as
//!
//! ```text
//! prices/TICKER.csv[.gz]                        daily OHLCV (Parquet / JSON / JSONL too)
//! filings/*.html[.gz]                           EDGAR 10-K / 10-Q documents, any file name
//! sec/companyfacts_CIK##########.json[.gz]      XBRL company facts
//! sec/submissions_CIK##########.json[.gz]       filing indexes
//! sec/company_tickers.json[.gz]                 ticker ↔ CIK
//! news/, transcripts/                           optional dated text (CSV / JSON / JSONL)
//! ```
//!
//! Every part is optional: one ticker's filing and prices are enough for that ticker. The
//! form, company and period of a filing are read from the document itself; its filing date
//! from the company's submissions index when present, else the file name, else the statutory
//! deadline (an upper bound, so as-of filters never see a number early).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::error::{ConnectorError, Result};
use crate::files::{existing_with_gz, list_dir, read_bytes};
use crate::local::{LocalPrices, LocalText, PriceColumns, TextColumns};
use crate::sec::companyfacts::CompanyFacts;
use crate::sec::submissions::Submissions;
use crate::sec::{cik10, companyfacts, ixbrl, normalize, submissions, tickers};
use crate::traits::{FilingSource, FundamentalsSource, PriceSource, ReferenceSource, TextSource};
use crate::types::{
    Company, DateRange, Fact, FiledDateSource, Filing, FilingRef, PriceSeries, SkippedRow, Statements,
    TextItem, TextKind,
};

/// How to read a universe directory (column mappings for files that differ from the defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UniverseConfig {
    /// Column names of the price files.
    #[serde(default)]
    pub prices: PriceColumns,
    /// Column names of the files in `news/`.
    #[serde(default)]
    pub news: TextColumns,
    /// Column names of the files in `transcripts/`.
    #[serde(default)]
    pub transcripts: TextColumns,
}

#[derive(Debug, Default)]
struct SecIndex {
    tickers: Vec<Company>,
    submissions: HashMap<u64, Submissions>,
    /// `reference/companies.csv`: names, sectors, industries and exchanges by ticker.
    reference: HashMap<String, Company>,
}

/// A data directory implementing every source trait.
#[derive(Debug, Clone)]
pub struct Universe {
    root: PathBuf,
    prices: LocalPrices,
    news: LocalText,
    transcripts: LocalText,
    sec: Arc<OnceCell<Arc<SecIndex>>>,
    filings: Arc<OnceCell<Arc<ParsedFilings>>>,
    /// Parsed companyfacts by CIK: read once, however many as-of views are asked for.
    companyfacts: Arc<tokio::sync::Mutex<HashMap<u64, Arc<CompanyFacts>>>>,
}

/// The filings of `filings/`: the ones that parsed, and the files that did not (with why).
#[derive(Debug, Default)]
pub struct ParsedFilings {
    /// Parsed filings, by file name.
    pub filings: Vec<Arc<Filing>>,
    /// Files that could not be parsed, with the error (also logged as warnings).
    pub errors: Vec<SkippedRow>,
}

impl Universe {
    /// Opens `root`; an error when it is not a directory.
    pub fn open(root: impl Into<PathBuf>, config: &UniverseConfig) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(ConnectorError::NotFound {
                what: "data directory".into(),
                detail: format!("{} is not a directory", root.display()),
            });
        }
        Ok(Self {
            prices: LocalPrices::new(root.join("prices"), config.prices.clone()),
            news: LocalText::new(root.join("news"), TextKind::News, config.news.clone()),
            transcripts: LocalText::new(
                root.join("transcripts"),
                TextKind::Transcript,
                config.transcripts.clone(),
            ),
            root,
            sec: Arc::default(),
            filings: Arc::default(),
            companyfacts: Arc::default(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The price source of the universe.
    pub fn prices(&self) -> &LocalPrices {
        &self.prices
    }

    async fn sec(&self) -> Result<Arc<SecIndex>> {
        self.sec
            .get_or_try_init(|| async {
                let root = self.root.clone();
                tokio::task::spawn_blocking(move || load_sec(&root))
                    .await
                    .map_err(|e| ConnectorError::Config(format!("SEC index task failed: {e}")))?
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Every filing in `filings/`, parsed once (in parallel) and kept in memory. A file that
    /// does not parse does not hide the others: it is listed in [`ParsedFilings::errors`].
    pub async fn all_filings(&self) -> Result<Arc<ParsedFilings>> {
        let sec = self.sec().await?;
        self.filings
            .get_or_try_init(|| async {
                let files = list_filing_files(&self.root.join("filings"))?;
                let mut tasks = tokio::task::JoinSet::new();
                let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).max(1);
                let chunks: Vec<Vec<PathBuf>> =
                    (0..workers).map(|w| files.iter().skip(w).step_by(workers).cloned().collect()).collect();
                for chunk in chunks {
                    tasks.spawn_blocking(move || {
                        chunk
                            .into_iter()
                            .map(|p| {
                                let parsed = ixbrl::parse_filing_file(&p);
                                (p, parsed)
                            })
                            .collect::<Vec<_>>()
                    });
                }
                let mut out = ParsedFilings::default();
                while let Some(done) = tasks.join_next().await {
                    let parsed =
                        done.map_err(|e| ConnectorError::Config(format!("filing parser task failed: {e}")))?;
                    for (path, filing) in parsed {
                        match filing {
                            Ok(mut filing) => {
                                date_from_index(&mut filing, &sec);
                                out.filings.push(Arc::new(filing));
                            }
                            Err(e) => {
                                tracing::warn!(file = %path.display(), error = %e, "filing skipped");
                                out.errors.push(SkippedRow {
                                    location: path.display().to_string(),
                                    reason: e.to_string(),
                                });
                            }
                        }
                    }
                }
                out.filings.sort_by(|a, b| a.meta.source.cmp(&b.meta.source));
                out.errors.sort_by(|a, b| a.location.cmp(&b.location));
                Ok(Arc::new(out))
            })
            .await
            .cloned()
    }

    /// The filings of `ticker` (by trading symbol or CIK), newest period first.
    pub async fn filings_of(&self, ticker: &str) -> Result<Vec<Arc<Filing>>> {
        let company = self.company(ticker).await?;
        let all = self.all_filings().await?;
        let mut mine: Vec<Arc<Filing>> =
            all.filings.iter().filter(|f| belongs_to(f, &company)).cloned().collect();
        mine.sort_by(|a, b| {
            b.meta.period_end.cmp(&a.meta.period_end).then_with(|| b.meta.form.cmp(&a.meta.form))
        });
        Ok(mine)
    }

    /// Parses one filing file outside the universe's `filings/` (for `--file`).
    pub async fn filing_file(&self, path: &Path) -> Result<Filing> {
        let sec = self.sec().await?;
        let p = path.to_path_buf();
        let mut filing = tokio::task::spawn_blocking(move || ixbrl::parse_filing_file(&p))
            .await
            .map_err(|e| ConnectorError::Config(format!("filing parser task failed: {e}")))??;
        date_from_index(&mut filing, &sec);
        Ok(filing)
    }

    /// The companyfacts file of a CIK, if the universe has one.
    pub fn companyfacts_path(&self, cik: u64) -> Option<PathBuf> {
        existing_with_gz(&self.root.join("sec").join(format!("companyfacts_CIK{}.json", cik10(cik))))
    }
}

fn belongs_to(f: &Filing, c: &Company) -> bool {
    match (f.meta.cik, c.cik) {
        (Some(a), Some(b)) => a == b,
        _ => f.meta.ticker.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(&c.ticker)),
    }
}

fn list_filing_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(list_dir(dir)?
        .into_iter()
        .filter(|p| {
            let n = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
            let n = n.strip_suffix(".gz").unwrap_or(&n).to_string();
            n.ends_with(".html") || n.ends_with(".htm") || n.ends_with(".xhtml")
        })
        .collect())
}

/// Sets a filing's date from the company's submissions index (same form and report date).
fn date_from_index(filing: &mut Filing, sec: &SecIndex) {
    let (Some(cik), Some(end)) = (filing.meta.cik, filing.meta.period_end) else { return };
    let Some(sub) = sec.submissions.get(&cik) else { return };
    let Some(r) = sub.filings.iter().find(|r| r.form == filing.meta.form && r.report_date == Some(end))
    else {
        return;
    };
    filing.meta.filed = Some(r.filed);
    filing.meta.filed_source = Some(FiledDateSource::Index);
    for f in &mut filing.facts {
        f.source.filed = Some(r.filed);
        f.source.accession = Some(r.accession.clone());
    }
}

/// Reads `reference/companies.csv` (or `.tsv`, `.parquet`, … , gzipped or not): columns
/// `ticker`, and any of `name`, `sector`, `industry`, `exchange`, `cik`. A row without a ticker
/// or with a malformed CIK is an error naming its line: reference data is small and hand-kept.
fn load_reference(dir: &Path) -> Result<HashMap<String, Company>> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(out) };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("companies."))
                && crate::local::table::is_table_file(p)
        })
        .collect();
    files.sort();
    for path in files {
        let table = crate::local::table::read_table(&path)?;
        let ticker_col = table.require("ticker", None, &["ticker", "symbol"])?;
        let tickers = table.cells(&ticker_col)?;
        let opt = |names: &[&str]| -> Result<Vec<Option<String>>> {
            match table.find(None, names) {
                Some(c) => table.cells(&c),
                None => Ok(vec![None; table.height()]),
            }
        };
        let (names, sectors, industries, exchanges, ciks) = (
            opt(&["name", "company"])?,
            opt(&["sector", "gics sector"])?,
            opt(&["industry", "sub-industry", "gics industry"])?,
            opt(&["exchange"])?,
            opt(&["cik"])?,
        );
        let clean =
            |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        for (row, ticker) in tickers.iter().enumerate() {
            let Some(ticker) = clean(ticker) else {
                return Err(ConnectorError::parse(table.location(row), "empty ticker"));
            };
            let cik = match clean(&ciks[row]) {
                Some(c) => Some(c.parse::<u64>().map_err(|_| {
                    ConnectorError::parse(table.location(row), format!("CIK {c:?} is not a number"))
                })?),
                None => None,
            };
            let ticker = ticker.to_uppercase();
            out.insert(
                ticker.clone(),
                Company {
                    ticker,
                    cik,
                    name: clean(&names[row]),
                    sector: clean(&sectors[row]),
                    industry: clean(&industries[row]),
                    exchange: clean(&exchanges[row]),
                },
            );
        }
    }
    Ok(out)
}

fn load_sec(root: &Path) -> Result<SecIndex> {
    let dir = &root.join("sec");
    let mut idx = SecIndex { reference: load_reference(&root.join("reference"))?, ..SecIndex::default() };
    if let Some(p) = existing_with_gz(&dir.join("company_tickers.json")) {
        idx.tickers = tickers::parse(&read_bytes(&p)?, &p.display().to_string())?;
    }
    for path in list_dir(dir)? {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let stem = name.strip_suffix(".gz").unwrap_or(&name);
        if stem.starts_with("submissions_CIK")
            && stem.ends_with(".json")
            && stem.len() == "submissions_CIK0000000000.json".len()
        {
            let s = submissions::parse(&read_bytes(&path)?, &path.display().to_string())?;
            idx.submissions.insert(s.cik, s);
        }
    }
    Ok(idx)
}

#[async_trait]
impl PriceSource for Universe {
    fn name(&self) -> &str {
        "local"
    }

    async fn daily_prices(&self, ticker: &str, range: DateRange) -> Result<PriceSeries> {
        self.prices.daily_prices(ticker, range).await
    }
}

#[async_trait]
impl ReferenceSource for Universe {
    async fn company(&self, ticker: &str) -> Result<Company> {
        let t = ticker.trim().to_uppercase();
        let sec = self.sec().await?;
        let mut company = sec.tickers.iter().find(|c| c.ticker == t).cloned();
        let reference = sec.reference.get(&t);
        if company.is_none() {
            let filings = self.all_filings().await?;
            company =
                filings.filings.iter().find(|f| f.meta.ticker.as_deref() == Some(t.as_str())).map(|f| {
                    Company {
                        ticker: t.clone(),
                        cik: f.meta.cik,
                        name: f.meta.company.clone(),
                        sector: None,
                        industry: None,
                        exchange: None,
                    }
                });
        }
        if company.is_none() && self.prices.file_for(&t).is_some() {
            company = Some(Company { ticker: t.clone(), ..Company::default() });
        }
        if let (Some(c), Some(r)) = (company.as_mut(), reference) {
            // Hand-kept reference data wins over the SEC index's SIC description.
            c.name = r.name.clone().or(c.name.take());
            c.cik = c.cik.or(r.cik);
            c.sector = r.sector.clone().or(c.sector.take());
            c.industry = r.industry.clone().or(c.industry.take());
            c.exchange = r.exchange.clone().or(c.exchange.take());
        }
        let mut company = company.ok_or_else(|| ConnectorError::UnknownTicker {
            ticker: ticker.to_string(),
            detail: format!(
                "not in the universe {} (no prices/{t}.csv, not in sec/company_tickers.json, no filing with that trading symbol)",
                self.root.display()
            ),
        })?;
        if let Some(sub) = company.cik.and_then(|c| sec.submissions.get(&c)) {
            company.sector = company.sector.or_else(|| sub.sic_description.clone());
            company.exchange = company.exchange.or_else(|| sub.exchanges.first().cloned());
            company.name = company.name.or_else(|| sub.name.clone());
        }
        Ok(company)
    }

    async fn companies(&self) -> Result<Vec<Company>> {
        let mut tickers: BTreeSet<String> = self.prices.tickers()?.into_iter().collect();
        for f in self.all_filings().await?.filings.iter() {
            if let Some(t) = &f.meta.ticker {
                tickers.insert(t.clone());
            }
        }
        let mut out = Vec::with_capacity(tickers.len());
        for t in tickers {
            out.push(self.company(&t).await?);
        }
        Ok(out)
    }
}

#[async_trait]
impl FundamentalsSource for Universe {
    async fn statements(&self, ticker: &str) -> Result<Statements> {
        self.statements_filtered(ticker, None).await
    }

    async fn statements_as_of(&self, ticker: &str, as_of: NaiveDate) -> Result<Statements> {
        self.statements_filtered(ticker, Some(as_of)).await
    }
}

impl Universe {
    /// Statements from companyfacts and the filings, keeping only facts filed on or before
    /// `as_of` (a fact with no known filing date is kept only when there is no `as_of`).
    /// The companyfacts of a CIK, parsed on first use; `None` when the universe has none.
    async fn company_facts(&self, cik: Option<u64>) -> Result<Option<Arc<CompanyFacts>>> {
        let Some((cik, path)) = cik.and_then(|c| self.companyfacts_path(c).map(|p| (c, p))) else {
            return Ok(None);
        };
        let mut cache = self.companyfacts.lock().await;
        if let Some(cf) = cache.get(&cik) {
            return Ok(Some(cf.clone()));
        }
        let cf = tokio::task::spawn_blocking(move || companyfacts::parse_file(&path))
            .await
            .map_err(|e| ConnectorError::Config(format!("companyfacts task failed: {e}")))??;
        let cf = Arc::new(cf);
        cache.insert(cik, cf.clone());
        Ok(Some(cf))
    }

    async fn statements_filtered(&self, ticker: &str, as_of: Option<NaiveDate>) -> Result<Statements> {
        let company = self.company(ticker).await?;
        let mut facts: Vec<Fact> = Vec::new();
        let mut skipped: Vec<SkippedRow> = Vec::new();
        let mut entity_name = company.name.clone();
        if let Some(cf) = self.company_facts(company.cik).await? {
            entity_name = entity_name.or(cf.entity_name.clone());
            facts.extend(cf.facts.iter().cloned());
            skipped.extend(cf.skipped.iter().cloned());
        }
        for f in self.filings_of(ticker).await? {
            facts.extend(f.facts.iter().filter(|x| x.dimensions.is_empty()).cloned());
        }
        if facts.is_empty() {
            return Err(ConnectorError::NotFound {
                what: "fundamentals".into(),
                detail: format!(
                    "{}: no sec/companyfacts_CIK{}.json and no inline-XBRL filing in {}",
                    company.ticker,
                    company.cik.map(cik10).unwrap_or_else(|| "??????????".into()),
                    self.root.join("filings").display()
                ),
            });
        }
        if let Some(d) = as_of {
            facts.retain(|f| f.source.filed.is_some_and(|filed| filed <= d));
        }
        let (periods, more) = normalize::statements_from_facts(&facts);
        skipped.extend(more);
        Ok(Statements { ticker: Some(company.ticker), cik: company.cik, entity_name, periods, skipped })
    }
}

#[async_trait]
impl FilingSource for Universe {
    async fn filings(&self, ticker: &str) -> Result<Vec<FilingRef>> {
        Ok(self
            .filings_of(ticker)
            .await?
            .iter()
            .map(|f| FilingRef {
                cik: f.meta.cik.unwrap_or(0),
                accession: f
                    .facts
                    .iter()
                    .find_map(|x| x.source.accession.clone())
                    .unwrap_or_else(|| "local".into()),
                form: f.meta.form.clone(),
                filed: f.meta.filed.or(f.meta.period_end).unwrap_or_default(),
                report_date: f.meta.period_end,
                primary_document: Some(f.meta.source.clone()),
                inline_xbrl: true,
            })
            .collect())
    }

    async fn filing(&self, filing: &FilingRef) -> Result<Filing> {
        let all = self.all_filings().await?;
        all.filings
            .iter()
            .find(|f| Some(&f.meta.source) == filing.primary_document.as_ref())
            .map(|f| (**f).clone())
            .ok_or_else(|| ConnectorError::NotFound {
                what: "filing".into(),
                detail: format!(
                    "{} {} is not in {}",
                    filing.form,
                    filing.accession,
                    self.root.join("filings").display()
                ),
            })
    }
}

#[async_trait]
impl TextSource for Universe {
    async fn text_items(
        &self,
        ticker: Option<&str>,
        kinds: &[TextKind],
        range: DateRange,
    ) -> Result<Vec<TextItem>> {
        let mut out = self.news.text_items(ticker, kinds, range).await?;
        out.extend(self.transcripts.text_items(ticker, kinds, range).await?);
        out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }
}

/// The filings that were public on `as_of` (filed on or before it; a filing whose date is
/// unknown is not). `None` keeps them all.
pub fn filed_by(filings: &[Arc<Filing>], as_of: Option<NaiveDate>) -> Vec<Arc<Filing>> {
    filings
        .iter()
        .filter(|f| as_of.is_none_or(|d| f.meta.filed.is_some_and(|filed| filed <= d)))
        .cloned()
        .collect()
}

/// The filing of a company matching a form (`10-K`) and, optionally, a fiscal label
/// (`FY2024`, `Q2 FY2025`, `2024`) or period end year; newest first otherwise.
pub fn pick_filing<'a>(
    filings: &'a [Arc<Filing>],
    form: Option<&str>,
    period: Option<&str>,
) -> Option<&'a Arc<Filing>> {
    filings.iter().find(|f| {
        let form_ok = form.is_none_or(|want| f.meta.form.eq_ignore_ascii_case(want));
        let period_ok = period.is_none_or(|p| {
            let p = p.trim().to_uppercase();
            let year: Option<i32> = p.trim_start_matches("FY").trim().parse().ok();
            let label = match (f.meta.fiscal_period, f.meta.fiscal_year) {
                (Some(fp), Some(fy)) if fp.as_str() != "FY" => format!("{} FY{fy}", fp.as_str()),
                (_, Some(fy)) => format!("FY{fy}"),
                _ => String::new(),
            };
            label == p
                || year.is_some_and(|y| {
                    f.meta.fiscal_year == Some(y) && f.meta.fiscal_period.is_none_or(|fp| fp.as_str() == "FY")
                })
        });
        form_ok && period_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_companies_fill_sectors_and_bad_rows_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("reference");
        std::fs::create_dir_all(&reference).unwrap();
        std::fs::write(
            reference.join("companies.csv"),
            "ticker,name,sector,industry,exchange\nko,The Coca-Cola Company,Consumer Staples,Beverages,NYSE\n",
        )
        .unwrap();
        let got = load_reference(&reference).unwrap();
        let ko = &got["KO"];
        assert_eq!(ko.sector.as_deref(), Some("Consumer Staples"));
        assert_eq!(ko.industry.as_deref(), Some("Beverages"));
        assert_eq!(ko.exchange.as_deref(), Some("NYSE"));

        std::fs::write(reference.join("companies.csv"), "ticker,cik\nKO,21344\nPG,abc\n").unwrap();
        let err = load_reference(&reference).unwrap_err().to_string();
        assert!(err.contains("companies.csv:3") && err.contains("\"abc\""), "{err}");
        std::fs::write(reference.join("companies.csv"), "ticker,name\n,Nameless\n").unwrap();
        let err = load_reference(&reference).unwrap_err().to_string();
        assert!(err.contains("companies.csv:2") && err.contains("empty ticker"), "{err}");
        assert!(load_reference(&dir.path().join("absent")).unwrap().is_empty());
    }
}

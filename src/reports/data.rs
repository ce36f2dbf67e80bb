//! What a report knows about one ticker as of a date: the company, the ratio engine's report
//! (statements, ratios, market metrics, each value with its inputs), the statements, prices
//! and index up to the date, the latest 10-K and 10-Q filed by then, and the sector peers'
//! ratio reports. Nothing published after the as-of date is read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bullpen_connectors::universe::{Universe, filed_by, pick_filing};
use bullpen_connectors::{
    Company, ConnectorError, DateRange, Filing, FiscalPeriod, FundamentalsSource, LineItem, PriceSeries,
    PriceSource, ReferenceSource, StatementPeriod, Statements,
};
use chrono::NaiveDate;

use super::ReportError;
use crate::analytics::{AnalyticsError, RatioEngine, RatioReport, RatioValue};

/// The last close on or before the as-of date.
#[derive(Debug, Clone, PartialEq)]
pub struct PricePoint {
    pub date: NaiveDate,
    pub close: f64,
    /// Days between the close and the as-of date.
    pub age_days: i64,
    /// The price file / source.
    pub source: String,
}

/// A peer of the same sector and its ratio report as of the same date.
#[derive(Debug, Clone)]
pub struct Peer {
    pub company: Company,
    pub ratios: RatioReport,
}

/// Everything gathered for one report.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub company: Company,
    pub as_of: NaiveDate,
    /// The ratio engine's report (the tables take their values from it).
    pub ratios: RatioReport,
    /// Statements as known on the as-of date.
    pub statements: Statements,
    pub prices: Option<PriceSeries>,
    pub index: Option<PriceSeries>,
    pub index_ticker: String,
    pub price: Option<PricePoint>,
    /// The latest 10-K and 10-Q filed on or before the as-of date.
    pub annual: Option<Arc<Filing>>,
    pub quarterly: Option<Arc<Filing>>,
    pub peers: Vec<Peer>,
    /// Files read (for the manifest's data hashes).
    pub files: Vec<PathBuf>,
}

impl Inputs {
    /// Fiscal years known on the as-of date, oldest first.
    pub fn fiscal_years(&self) -> Vec<&StatementPeriod> {
        self.statements.periods.iter().filter(|p| p.fiscal_period == FiscalPeriod::FY).collect()
    }

    /// The latest fiscal year's statements.
    pub fn latest_year(&self) -> Option<&StatementPeriod> {
        self.fiscal_years().into_iter().last()
    }

    /// A ratio of the latest fiscal year (absent with its reason when that year lacks it;
    /// quarters never stand in for a year).
    pub fn latest(&self, name: &str) -> Option<&RatioValue> {
        self.ratios
            .periods
            .iter()
            .rev()
            .find(|p| p.fiscal_period == FiscalPeriod::FY)?
            .values
            .iter()
            .find(|v| v.name == name)
    }

    /// A valuation value at the as-of price (`pe`, `ev_ebitda`, `market_cap`, …).
    pub fn valuation(&self, name: &str) -> Option<&RatioValue> {
        self.ratios.valuation.as_ref()?.values.iter().find(|v| v.name == name)
    }

    /// A market metric (`high_52w`, `volatility`, `beta`, …).
    pub fn market(&self, name: &str) -> Option<&RatioValue> {
        self.ratios.market.iter().find(|v| v.name == name)
    }

    /// The currency of the statements (`USD` unless a unit says otherwise).
    pub fn currency(&self) -> String {
        self.latest_year()
            .and_then(|p| p.values.get(&LineItem::Revenue))
            .map(|v| v.unit.split('/').next().unwrap_or("USD").to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "USD".into())
    }
}

/// Ratio reports by (ticker, as-of date), shared by the tickers of a batch: a company is
/// often another one's peer.
pub type RatioCache =
    Arc<tokio::sync::Mutex<HashMap<(String, NaiveDate), Arc<tokio::sync::OnceCell<RatioReport>>>>>;

/// What the gathering needs: the universe, the engine and the index.
#[derive(Clone)]
pub struct Gatherer {
    pub universe: Arc<Universe>,
    pub engine: RatioEngine,
    pub index_ticker: String,
    /// Peers compared at most (largest by EBITDA first).
    pub max_peers: usize,
    pub cache: RatioCache,
}

fn connector(ticker: &str, e: ConnectorError) -> ReportError {
    match e {
        ConnectorError::UnknownTicker { detail, .. } => {
            ReportError::UnknownTicker { ticker: ticker.to_string(), detail }
        }
        ConnectorError::NotFound { what, detail } => {
            ReportError::MissingData { ticker: ticker.to_string(), detail: format!("{what}: {detail}") }
        }
        other => ReportError::Data { ticker: ticker.to_string(), detail: other.to_string() },
    }
}

fn analytics(ticker: &str, e: AnalyticsError) -> ReportError {
    match e {
        AnalyticsError::Source(c) => connector(ticker, c),
        AnalyticsError::NoData { detail, .. } => {
            ReportError::MissingData { ticker: ticker.to_string(), detail }
        }
        other => ReportError::Data { ticker: ticker.to_string(), detail: other.to_string() },
    }
}

impl Gatherer {
    /// A gatherer with an empty cache.
    pub fn new(universe: Arc<Universe>, engine: RatioEngine, index_ticker: String, max_peers: usize) -> Self {
        Self { universe, engine, index_ticker, max_peers, cache: RatioCache::default() }
    }

    /// The ratio engine's report, computed once per (ticker, date) for the whole batch.
    async fn ratios(&self, ticker: &str, as_of: NaiveDate) -> Result<RatioReport, AnalyticsError> {
        let cell = {
            let mut map = self.cache.lock().await;
            map.entry((ticker.to_string(), as_of)).or_default().clone()
        };
        cell.get_or_try_init(|| self.engine.report(self.universe.as_ref(), ticker, Some(as_of)))
            .await
            .cloned()
    }

    /// Gathers the inputs of a report on `ticker` as of `as_of`. An unknown ticker, or one with
    /// no statements filed on or before the date, is an error naming what is missing.
    pub async fn gather(&self, ticker: &str, as_of: NaiveDate) -> Result<Inputs, ReportError> {
        let ticker = ticker.trim().to_uppercase();
        let company = self.universe.company(&ticker).await.map_err(|e| connector(&ticker, e))?;
        let ratios = self.ratios(&ticker, as_of).await.map_err(|e| analytics(&ticker, e))?;
        let statements = match self.universe.statements_as_of(&ticker, as_of).await {
            Ok(s) => s,
            Err(ConnectorError::NotFound { .. }) => Statements {
                ticker: Some(ticker.clone()),
                cik: company.cik,
                entity_name: company.name.clone(),
                periods: vec![],
                skipped: vec![],
            },
            Err(e) => return Err(connector(&ticker, e)),
        };
        let mut statements = statements;
        statements.periods.retain(|p| p.end <= as_of);
        if !statements.periods.iter().any(|p| p.fiscal_period == FiscalPeriod::FY) {
            return Err(ReportError::MissingData {
                ticker: ticker.clone(),
                detail: format!(
                    "no annual statements (10-K or XBRL company facts) filed on or before {as_of} in {}",
                    self.universe.root().display()
                ),
            });
        }
        let mut files = Vec::new();
        let prices = self.prices_until(&ticker, as_of, &mut files).await?;
        let index = self.prices_until(&self.index_ticker, as_of, &mut files).await?;
        let price = prices.as_ref().and_then(|s| {
            s.bars.last().map(|b| PricePoint {
                date: b.date,
                close: b.close,
                age_days: (as_of - b.date).num_days(),
                source: s.source.clone(),
            })
        });
        let filings = match self.universe.filings_of(&ticker).await {
            Ok(f) => filed_by(&f, Some(as_of)),
            Err(ConnectorError::UnknownTicker { .. }) => Vec::new(),
            Err(e) => return Err(connector(&ticker, e)),
        };
        let annual = pick_filing(&filings, Some("10-K"), None).cloned();
        let quarterly = pick_filing(&filings, Some("10-Q"), None).cloned();
        for f in annual.iter().chain(quarterly.iter()) {
            files.push(PathBuf::from(&f.meta.source));
        }
        if let Some(p) = company.cik.and_then(|cik| self.universe.companyfacts_path(cik)) {
            files.push(p);
        }
        for name in ["reference/companies.csv", "sec/company_tickers.json.gz"] {
            let p = self.universe.root().join(name);
            if p.is_file() {
                files.push(p);
            }
        }
        let peers = self.peers(&company, as_of).await;
        Ok(Inputs {
            company,
            as_of,
            ratios,
            statements,
            prices,
            index,
            index_ticker: self.index_ticker.clone(),
            price,
            annual,
            quarterly,
            peers,
            files,
        })
    }

    /// Prices of `ticker` up to `as_of` (None when the universe has none).
    async fn prices_until(
        &self,
        ticker: &str,
        as_of: NaiveDate,
        files: &mut Vec<PathBuf>,
    ) -> Result<Option<PriceSeries>, ReportError> {
        match self.universe.daily_prices(ticker, DateRange::ALL).await {
            Ok(mut s) => {
                s.bars.retain(|b| b.date <= as_of);
                if let Some(p) = self.universe.prices().file_for(ticker) {
                    files.push(p);
                }
                Ok((!s.bars.is_empty()).then_some(s))
            }
            Err(ConnectorError::UnknownTicker { .. }) => Ok(None),
            Err(e) => Err(connector(ticker, e)),
        }
    }

    /// Companies of the same sector with statements as of the date, largest revenue first.
    /// A peer whose data cannot be read is left out (logged), never fatal to the report.
    async fn peers(&self, company: &Company, as_of: NaiveDate) -> Vec<Peer> {
        let Some(sector) = company.sector.as_deref() else { return Vec::new() };
        let all = match self.universe.companies().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "companies of the universe unreadable: no peers");
                return Vec::new();
            }
        };
        let mut peers = Vec::new();
        for c in all.into_iter().filter(|c| c.ticker != company.ticker && c.sector.as_deref() == Some(sector))
        {
            match self.ratios(&c.ticker, as_of).await {
                Ok(r) if !r.periods.is_empty() => peers.push(Peer { company: c, ratios: r }),
                Ok(_) => tracing::debug!(peer = %c.ticker, "no statements as of {as_of}"),
                Err(e) => tracing::debug!(peer = %c.ticker, error = %e, "peer left out"),
            }
        }
        let size = |p: &Peer| {
            p.ratios
                .periods
                .iter()
                .rev()
                .find_map(|x| x.values.iter().find(|v| v.name == "ebitda").and_then(|v| v.value))
        };
        peers.sort_by(|a, b| size(b).partial_cmp(&size(a)).unwrap_or(std::cmp::Ordering::Equal));
        peers.truncate(self.max_peers);
        peers
    }
}

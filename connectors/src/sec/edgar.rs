//! Live SEC EDGAR client: company tickers, companyfacts, submissions and filing documents from
//! `data.sec.gov` and `www.sec.gov`.
//!
//! SEC's fair-access rules (<https://www.sec.gov/os/accessing-edgar-data>) ask every client to
//! declare who it is in the `User-Agent` header (`"Company Name admin@example.com"`) and to send
//! at most 10 requests per second. [`EdgarClient::new`] refuses to build without a user agent,
//! and every client draws from one process-wide limiter ([`edgar_rate_limit`]), so the limit
//! holds however many clients a program creates. Responses go through the crate's
//! [`HttpClient`] (on-disk cache, retries).
//!
//! Endpoints (paths relative to the configurable base URLs):
//! - `www`: `/files/company_tickers.json` (ticker ↔ CIK, read once per client and kept in memory);
//! - `data`: `/api/xbrl/companyfacts/CIK##########.json` → [`Statements`];
//! - `data`: `/submissions/CIK##########.json` (and older pages) → [`FilingRef`]s, newest first;
//! - `www`: `/Archives/edgar/data/{cik}/{accession without dashes}/{primary document}` →
//!   parsed [`Filing`].

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::error::{ConnectorError, Result};
use crate::http::{HttpClient, HttpConfig, RateLimit};
use crate::sec::{cik10, companyfacts, ixbrl, submissions, tickers};
use crate::traits::{FilingSource, FundamentalsSource, ReferenceSource};
use crate::types::{Company, FiledDateSource, Filing, FilingRef, Statements};

/// Default host of the JSON APIs (companyfacts, submissions).
pub const EDGAR_DATA_BASE_URL: &str = "https://data.sec.gov";
/// Default host of the archives and `company_tickers.json`.
pub const EDGAR_WWW_BASE_URL: &str = "https://www.sec.gov";
/// Environment variable read by [`EdgarConfig::default`] for the `User-Agent`.
pub const SEC_USER_AGENT_ENV: &str = "BULLPEN_SEC_USER_AGENT";
/// SEC's limit on requests per second, per user.
pub const EDGAR_MAX_REQUESTS_PER_SECOND: u32 = 10;

/// The process-wide EDGAR rate limit (10 requests per second, evenly spaced), shared by every
/// [`EdgarClient`] that does not bring its own.
pub fn edgar_rate_limit() -> Arc<RateLimit> {
    static LIMIT: OnceLock<Arc<RateLimit>> = OnceLock::new();
    LIMIT
        .get_or_init(|| {
            RateLimit::per_second(NonZeroU32::new(EDGAR_MAX_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN))
        })
        .clone()
}

/// Settings of an [`EdgarClient`].
#[derive(Debug, Clone)]
pub struct EdgarConfig {
    /// `User-Agent` naming you and a contact e-mail (`"Acme Research admin@acme.com"`);
    /// `Default` reads `BULLPEN_SEC_USER_AGENT`. Required.
    pub user_agent: Option<String>,
    /// Host of the JSON APIs, no trailing slash (`https://data.sec.gov`).
    pub data_base_url: String,
    /// Host of the archives and ticker file, no trailing slash (`https://www.sec.gov`).
    pub www_base_url: String,
    /// On-disk cache directory; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    /// How long cached responses are served without asking EDGAR again.
    pub cache_ttl: Duration,
    /// Retries of transient failures.
    pub max_retries: u32,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Backoff before the first retry (doubled each retry, with jitter).
    pub base_backoff: Duration,
    /// The limiter to draw from; `None` = the process-wide [`edgar_rate_limit`]. A limiter of
    /// more than 10 requests per second is refused.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// Whether [`FilingSource::filings`] also reads the older pages of the filing index
    /// (`filings.files`, one request each); the main file lists at least the last year, or
    /// the last 1,000 filings.
    pub older_filings: bool,
}

impl Default for EdgarConfig {
    fn default() -> Self {
        Self {
            user_agent: std::env::var(SEC_USER_AGENT_ENV).ok().filter(|u| !u.trim().is_empty()),
            data_base_url: EDGAR_DATA_BASE_URL.to_string(),
            www_base_url: EDGAR_WWW_BASE_URL.to_string(),
            cache_dir: None,
            cache_ttl: Duration::from_secs(24 * 3600),
            max_retries: 3,
            timeout: Duration::from_secs(60),
            base_backoff: Duration::from_secs(1),
            rate_limit: None,
            older_filings: false,
        }
    }
}

/// Checks a user agent against SEC's rule: some name and a contact e-mail address.
fn validate_user_agent(user_agent: Option<&str>) -> Result<String> {
    let rule = format!(
        "SEC EDGAR requires a User-Agent that names you and gives a contact e-mail, e.g. \
         \"Acme Research admin@acme.com\" (https://www.sec.gov/os/accessing-edgar-data); set the \
         {SEC_USER_AGENT_ENV} environment variable or EdgarConfig.user_agent"
    );
    let Some(ua) = user_agent.map(str::trim).filter(|u| !u.is_empty()) else {
        return Err(ConnectorError::Config(format!("no EDGAR user agent: {rule}")));
    };
    let has_email = ua
        .split_whitespace()
        .any(|w| w.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.')));
    let has_name = ua.split_whitespace().any(|w| !w.contains('@'));
    if !has_email || !has_name {
        return Err(ConnectorError::Config(format!(
            "EDGAR user agent {ua:?} is not a name and an e-mail: {rule}"
        )));
    }
    Ok(ua.to_string())
}

/// A live SEC EDGAR client. Cheap to clone (clones share the HTTP client, the rate limit and
/// the ticker table).
#[derive(Debug, Clone)]
pub struct EdgarClient {
    http: HttpClient,
    data_base_url: String,
    www_base_url: String,
    older_filings: bool,
    companies: Arc<OnceCell<Arc<Vec<Company>>>>,
}

impl EdgarClient {
    /// A client; fails with [`ConnectorError::Config`] without a valid user agent or with a
    /// rate limit above 10 requests per second.
    pub fn new(config: EdgarConfig) -> Result<Self> {
        let user_agent = validate_user_agent(config.user_agent.as_deref())?;
        let limit = config.rate_limit.unwrap_or_else(edgar_rate_limit);
        if limit.requests_per_second() > EDGAR_MAX_REQUESTS_PER_SECOND {
            return Err(ConnectorError::Config(format!(
                "EDGAR allows at most {EDGAR_MAX_REQUESTS_PER_SECOND} requests per second; the rate limit \
                 given allows {}",
                limit.requests_per_second()
            )));
        }
        let http = HttpClient::with_rate_limit(
            HttpConfig {
                user_agent,
                max_requests_per_second: limit.requests_per_second(),
                cache_dir: config.cache_dir,
                cache_ttl: config.cache_ttl,
                max_retries: config.max_retries,
                timeout: config.timeout,
                base_backoff: config.base_backoff,
            },
            limit,
        )?;
        Ok(Self {
            http,
            data_base_url: config.data_base_url.trim_end_matches('/').to_string(),
            www_base_url: config.www_base_url.trim_end_matches('/').to_string(),
            older_filings: config.older_filings,
            companies: Arc::new(OnceCell::new()),
        })
    }

    /// The HTTP client (its rate limit is the EDGAR limiter).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `{www}/files/company_tickers.json`.
    pub fn tickers_url(&self) -> String {
        format!("{}/files/company_tickers.json", self.www_base_url)
    }

    /// `{data}/api/xbrl/companyfacts/CIK##########.json`.
    pub fn companyfacts_url(&self, cik: u64) -> String {
        format!("{}/api/xbrl/companyfacts/CIK{}.json", self.data_base_url, cik10(cik))
    }

    /// `{data}/submissions/CIK##########.json`.
    pub fn submissions_url(&self, cik: u64) -> String {
        format!("{}/submissions/CIK{}.json", self.data_base_url, cik10(cik))
    }

    /// `{www}/Archives/edgar/data/{cik}/{accession without dashes}/{primary document}`, or
    /// `None` when the index names no primary document.
    pub fn document_url(&self, filing: &FilingRef) -> Option<String> {
        let doc = filing.primary_document.as_deref().filter(|d| !d.is_empty())?;
        Some(format!(
            "{}/Archives/edgar/data/{}/{}/{}",
            self.www_base_url,
            filing.cik,
            filing.accession.replace('-', ""),
            doc
        ))
    }

    /// Every company in `company_tickers.json`, fetched once per client.
    async fn company_table(&self) -> Result<Arc<Vec<Company>>> {
        self.companies
            .get_or_try_init(|| async {
                let url = self.tickers_url();
                let bytes = self.http.get_bytes(&url).await?;
                let companies = tickers::parse(&bytes, &url)?;
                tracing::debug!(url, count = companies.len(), "EDGAR company tickers loaded");
                Ok(Arc::new(companies))
            })
            .await
            .cloned()
    }

    /// The CIK of `ticker` (case-insensitive) from `company_tickers.json`.
    pub async fn cik(&self, ticker: &str) -> Result<u64> {
        let table = self.company_table().await?;
        tickers::cik_of(&table, ticker).map_err(|e| self.locate_unknown(e))
    }

    /// The company's submissions file (details and recent filings, in EDGAR's order).
    pub async fn submissions(&self, ticker: &str) -> Result<submissions::Submissions> {
        let cik = self.cik(ticker).await?;
        let url = self.submissions_url(cik);
        let bytes = self.http.get_bytes(&url).await?;
        submissions::parse(&bytes, &url)
    }

    /// Adds where an unknown ticker was looked up.
    fn locate_unknown(&self, e: ConnectorError) -> ConnectorError {
        match e {
            ConnectorError::UnknownTicker { ticker, detail } => {
                ConnectorError::UnknownTicker { ticker, detail: format!("{detail} ({})", self.tickers_url()) }
            }
            other => other,
        }
    }
}

#[async_trait]
impl ReferenceSource for EdgarClient {
    async fn company(&self, ticker: &str) -> Result<Company> {
        let table = self.company_table().await?;
        tickers::find(&table, ticker).cloned().map_err(|e| self.locate_unknown(e))
    }

    async fn companies(&self) -> Result<Vec<Company>> {
        Ok(self.company_table().await?.as_ref().clone())
    }
}

#[async_trait]
impl FundamentalsSource for EdgarClient {
    async fn statements(&self, ticker: &str) -> Result<Statements> {
        let cik = self.cik(ticker).await?;
        let url = self.companyfacts_url(cik);
        let bytes = self.http.get_bytes(&url).await?;
        let mut statements = companyfacts::statements(&bytes, &url)?;
        statements.ticker.get_or_insert_with(|| ticker.trim().to_ascii_uppercase());
        statements.cik.get_or_insert(cik);
        Ok(statements)
    }
}

#[async_trait]
impl FilingSource for EdgarClient {
    async fn filings(&self, ticker: &str) -> Result<Vec<FilingRef>> {
        let subs = self.submissions(ticker).await?;
        for row in &subs.skipped {
            tracing::warn!(location = %row.location, "EDGAR filing index row skipped: {}", row.reason);
        }
        let mut filings = subs.filings;
        if self.older_filings {
            for name in &subs.more_files {
                let url = format!("{}/submissions/{}", self.data_base_url, name);
                let bytes = self.http.get_bytes(&url).await?;
                filings.extend(submissions::parse_page(&bytes, subs.cik, &url)?);
            }
        }
        // Newest first; the accession number (which embeds the year and a sequence) breaks ties.
        filings.sort_by(|a, b| b.filed.cmp(&a.filed).then_with(|| b.accession.cmp(&a.accession)));
        filings.dedup_by(|a, b| a.accession == b.accession);
        Ok(filings)
    }

    async fn filing(&self, filing: &FilingRef) -> Result<Filing> {
        let Some(url) = self.document_url(filing) else {
            return Err(ConnectorError::NotFound {
                what: "primary document".to_string(),
                detail: format!(
                    "the EDGAR index lists none for {} {} (CIK {})",
                    filing.form, filing.accession, filing.cik
                ),
            });
        };
        let bytes = self.http.get_bytes(&url).await?;
        let html = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(url, "filing is not valid UTF-8; invalid bytes replaced");
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        let mut parsed = ixbrl::parse_filing(&html, &url)?;
        parsed.meta.filed = Some(filing.filed);
        parsed.meta.filed_source = Some(FiledDateSource::Index);
        parsed.meta.cik.get_or_insert(filing.cik);
        for fact in &mut parsed.facts {
            fact.source.filed = Some(filing.filed);
            fact.source.accession = Some(filing.accession.clone());
            fact.source.form.get_or_insert_with(|| filing.form.clone());
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_needs_a_name_and_an_email() {
        assert_eq!(
            validate_user_agent(Some(" Acme Research admin@acme.com ")).unwrap(),
            "Acme Research admin@acme.com"
        );
        for bad in
            [None, Some(""), Some("   "), Some("bullpen/0.1"), Some("admin@acme.com"), Some("Acme admin@")]
        {
            let err = validate_user_agent(bad).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, ConnectorError::Config(_)), "{bad:?}: {msg}");
            assert!(msg.contains(SEC_USER_AGENT_ENV) && msg.contains("e-mail"), "{msg}");
        }
    }

    #[test]
    fn edgar_limit_is_shared_and_ten_per_second() {
        let a = edgar_rate_limit();
        let b = edgar_rate_limit();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.requests_per_second(), 10);
        let config =
            EdgarConfig { user_agent: Some("Bullpen Tests admin@example.com".into()), ..Default::default() };
        let c1 = EdgarClient::new(config.clone()).unwrap();
        let c2 = EdgarClient::new(config.clone()).unwrap();
        assert!(Arc::ptr_eq(c1.http().rate_limit(), c2.http().rate_limit()));
        assert!(Arc::ptr_eq(c1.http().rate_limit(), &a));

        let too_fast = RateLimit::per_second(NonZeroU32::new(11).unwrap());
        let err = EdgarClient::new(EdgarConfig { rate_limit: Some(too_fast), ..config }).unwrap_err();
        assert!(err.to_string().contains("at most 10"), "{err}");
    }

    #[test]
    fn urls_follow_edgar_paths() {
        let c = EdgarClient::new(EdgarConfig {
            user_agent: Some("Bullpen Tests admin@example.com".into()),
            data_base_url: "http://d/".into(),
            www_base_url: "http://w".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.companyfacts_url(320193), "http://d/api/xbrl/companyfacts/CIK0000320193.json");
        assert_eq!(c.submissions_url(320193), "http://d/submissions/CIK0000320193.json");
        assert_eq!(c.tickers_url(), "http://w/files/company_tickers.json");
        let f = FilingRef {
            cik: 320193,
            accession: "0000320193-24-000123".into(),
            form: "10-K".into(),
            filed: "2024-11-01".parse().unwrap(),
            report_date: None,
            primary_document: Some("aapl-20240928.htm".into()),
            inline_xbrl: true,
        };
        assert_eq!(
            c.document_url(&f).unwrap(),
            "http://w/Archives/edgar/data/320193/000032019324000123/aapl-20240928.htm"
        );
        assert_eq!(c.document_url(&FilingRef { primary_document: None, ..f }), None);
    }
}

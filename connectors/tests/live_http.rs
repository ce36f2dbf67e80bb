//! Live HTTP sources against recorded responses.
//!
//! The build machine cannot reach the internet, so Yahoo Finance, Tiingo and SEC EDGAR are
//! replaced by `wiremock`: a local HTTP server used here as a named test double for those
//! remote services. It serves, at the services' real paths, the fixtures of
//! `tests/fixtures/http/` (real AAPL prices from `data/prices/AAPL.csv.gz` written in each API's
//! live JSON format; see the README there) and the real SEC files kept in `data/sec/` and
//! `data/filings/`. The tests exercise the real client code: URLs, headers, the on-disk cache,
//! retries, the rate limit, parsing and failover. Nothing here proves that the live services
//! still answer in these formats.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bullpen_connectors::http::{HttpClient, HttpConfig};
use bullpen_connectors::live::{FailoverPrices, TiingoConfig, TiingoPrices, YahooConfig, YahooPrices};
use bullpen_connectors::sec::edgar::{EdgarClient, EdgarConfig, SEC_USER_AGENT_ENV};
use bullpen_connectors::{
    ConnectorError, DateRange, FiledDateSource, FilingSource, FiscalPeriod, FundamentalsSource, LineItem,
    PriceBar, PriceSource, ReferenceSource,
};
use chrono::NaiveDate;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const UA: &str = "Bullpen Tests admin@example.com";
const KEY: &str = "test-key-5ecret";

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(manifest().join("tests/fixtures/http").join(name)).expect("fixture")
}

/// A file of the repository's `data/` folder, gunzipped.
fn data(rel: &str) -> Vec<u8> {
    bullpen_connectors::files::read_bytes(&manifest().join("../data").join(rel)).expect("data file")
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn feb_mar() -> DateRange {
    DateRange { from: Some(d("2024-02-01")), to: Some(d("2024-03-08")) }
}

/// Fast settings for tests: no waiting worth the name between retries.
fn http_config(cache_dir: Option<&Path>) -> HttpConfig {
    HttpConfig {
        user_agent: "bullpen-tests".to_string(),
        max_requests_per_second: 1000,
        cache_dir: cache_dir.map(Path::to_path_buf),
        cache_ttl: Duration::from_secs(3600),
        max_retries: 2,
        timeout: Duration::from_secs(10),
        base_backoff: Duration::from_millis(1),
    }
}

fn yahoo(server: &MockServer) -> YahooPrices {
    YahooPrices::new(YahooConfig { base_url: server.uri(), http: http_config(None) }).expect("yahoo")
}

fn tiingo(server: &MockServer, key: Option<&str>) -> TiingoPrices {
    TiingoPrices::new(TiingoConfig {
        base_url: server.uri(),
        api_key: key.map(str::to_string),
        http: http_config(None),
    })
    .expect("tiingo")
}

/// AAPL rows of `data/prices/AAPL.csv.gz` inside `range`: (date, close, adj close).
fn csv_rows(range: DateRange) -> Vec<(NaiveDate, f64, f64)> {
    let text = String::from_utf8(data("prices/AAPL.csv.gz")).expect("utf8");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let date = f[0].parse().ok()?;
            range.contains(date).then(|| (date, f[4].parse().unwrap(), f[5].parse().unwrap()))
        })
        .collect()
}

async fn mount_yahoo_aapl(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "1d"))
        .and(query_param("events", "div,split"))
        .and(query_param("includeAdjustedClose", "true"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("yahoo_chart_AAPL.json"), "application/json"),
        )
        .mount(server)
        .await;
}

async fn mount_tiingo_aapl(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/tiingo/daily/AAPL/prices"))
        .and(query_param("startDate", "2024-02-01"))
        .and(query_param("endDate", "2024-03-08"))
        .and(query_param("format", "json"))
        .and(query_param("token", KEY))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("tiingo_daily_AAPL.json"), "application/json"),
        )
        .mount(server)
        .await;
}

// ---------------------------------------------------------------- HTTP layer

#[tokio::test]
async fn cache_hit_avoids_a_second_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/data.json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"v\":1}"))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let client = HttpClient::new(http_config(Some(dir.path()))).unwrap();
    let url = format!("{}/data.json?token={KEY}", server.uri());

    assert_eq!(client.get_bytes(&url).await.unwrap(), b"{\"v\":1}");
    let cached = client.cache_path(&url).unwrap();
    assert!(cached.exists());
    assert!(!cached.to_string_lossy().contains(KEY));
    // Second call (and a second client on the same directory): served from disk.
    assert_eq!(client.get_bytes(&url).await.unwrap(), b"{\"v\":1}");
    let other = HttpClient::new(http_config(Some(dir.path()))).unwrap();
    let v: serde_json::Value = other.get_json(&url).await.unwrap();
    assert_eq!(v["v"], 1);
    // `.expect(1)` is verified when the server drops.
}

#[tokio::test]
async fn stale_cache_is_served_when_the_server_fails_after_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string("first"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .expect(3) // 1 attempt + max_retries (2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    // TTL zero: every call asks the server; the cache is only the fallback.
    let client =
        HttpClient::new(HttpConfig { cache_ttl: Duration::ZERO, ..http_config(Some(dir.path())) }).unwrap();
    let url = format!("{}/flaky", server.uri());
    assert_eq!(client.get_bytes(&url).await.unwrap(), b"first");
    assert_eq!(client.get_bytes(&url).await.unwrap(), b"first", "stale copy after three 500s");
}

#[tokio::test]
async fn stale_cache_is_served_when_the_host_is_unreachable() {
    // A port nobody listens on: every attempt is a connect error.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/gone?token={KEY}");
    let dir = tempfile::tempdir().unwrap();
    let client =
        HttpClient::new(HttpConfig { cache_ttl: Duration::ZERO, ..http_config(Some(dir.path())) }).unwrap();
    // An expired entry from an earlier run.
    bullpen_connectors::files::write_atomic(&client.cache_path(&url).unwrap(), b"kept").unwrap();
    assert_eq!(client.get_bytes(&url).await.unwrap(), b"kept");

    let uncached = HttpClient::new(http_config(None)).unwrap();
    let err = uncached.get_bytes(&url).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Http { status: None, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("/gone?token=REDACTED") && !text.contains(KEY), "{text}");
}

#[tokio::test]
async fn server_errors_without_cache_fail_with_status_and_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down for maintenance"))
        .expect(3)
        .mount(&server)
        .await;
    let client = HttpClient::new(http_config(None)).unwrap();
    let url = format!("{}/x?apikey={KEY}", server.uri());
    match client.get_bytes(&url).await {
        Err(ConnectorError::Http { url: shown, status, message }) => {
            assert_eq!(status, Some(503));
            assert_eq!(shown, format!("{}/x?apikey=REDACTED", server.uri()));
            assert!(message.contains("3 attempt") && message.contains("maintenance"), "{message}");
        }
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let client = HttpClient::new(http_config(None)).unwrap();
    let started = Instant::now();
    assert_eq!(client.get_bytes(&format!("{}/limited", server.uri())).await.unwrap(), b"ok");
    // Lower bound only (cannot flake): the backoff is 1 ms, so waiting a second means the
    // Retry-After header was honoured.
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
}

#[tokio::test]
async fn not_found_fails_at_once_naming_the_url_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/tiingo/daily/XXXX/prices"))
        .respond_with(
            ResponseTemplate::new(404).set_body_raw(fixture("tiingo_not_found.json"), "application/json"),
        )
        .expect(2) // once through HttpClient, once through TiingoPrices; never retried
        .mount(&server)
        .await;
    let client = HttpClient::new(http_config(None)).unwrap();
    let url = format!("{}/tiingo/daily/XXXX/prices?startDate=2024-02-01&token={KEY}", server.uri());
    let err = client.get_bytes(&url).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::Http { status: Some(404), .. }), "{err:?}");
    assert!(
        text.contains(&format!(
            "{}/tiingo/daily/XXXX/prices?startDate=2024-02-01&token=REDACTED",
            server.uri()
        ))
    );
    assert!(text.contains("Ticker 'XXXX' not found"), "{text}");
    assert!(!text.contains(KEY), "{text}");

    let err = tiingo(&server, Some(KEY)).daily_prices("xxxx", feb_mar()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::UnknownTicker { ticker, .. } if ticker == "XXXX"), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(KEY));
}

#[tokio::test]
async fn rate_limit_spaces_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x"))
        .expect(5)
        .mount(&server)
        .await;
    let client = HttpClient::new(HttpConfig { max_requests_per_second: 4, ..http_config(None) }).unwrap();
    let started = Instant::now();
    let calls = (0..5).map(|i| {
        let client = client.clone();
        let url = format!("{}/r{i}", server.uri());
        async move { client.get_bytes(&url).await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
    // 5 requests at 4/s with no burst: the 5th cannot start before 4 × 250 ms. A lower bound
    // cannot flake; the exact window property is checked on governor's fake clock in the unit
    // tests of `http.rs`.
    assert!(started.elapsed() >= Duration::from_millis(990), "{:?}", started.elapsed());
    // Clones share the limiter.
    assert!(Arc::ptr_eq(client.rate_limit(), client.clone().rate_limit()));
}

// ---------------------------------------------------------------- prices

fn assert_bars_match_csv(bars: &[PriceBar], skip: &[NaiveDate]) {
    let expected: Vec<_> = csv_rows(feb_mar()).into_iter().filter(|(day, ..)| !skip.contains(day)).collect();
    assert_eq!(bars.len(), expected.len());
    for (bar, (day, close, adj)) in bars.iter().zip(&expected) {
        assert_eq!(bar.date, *day);
        assert!((bar.close - close).abs() < 1e-9, "{day}: {} vs {close}", bar.close);
        assert!((bar.adj_close - adj).abs() < 1e-9, "{day}: {} vs {adj}", bar.adj_close);
    }
}

#[tokio::test]
async fn yahoo_and_tiingo_agree_with_the_csv() {
    let server = MockServer::start().await;
    mount_yahoo_aapl(&server).await;
    mount_tiingo_aapl(&server).await;

    let y = yahoo(&server).daily_prices("aapl", feb_mar()).await.unwrap();
    let t = tiingo(&server, Some(KEY)).daily_prices("AAPL", feb_mar()).await.unwrap();

    assert_eq!(csv_rows(feb_mar()).len(), 26);
    assert_bars_match_csv(&t.bars, &[]);
    assert_bars_match_csv(&y.bars, &[d("2024-02-14")]);
    // Same days → identical bars (the fixtures carry the same CSV values).
    for yb in &y.bars {
        let tb = t.bars.iter().find(|b| b.date == yb.date).unwrap();
        assert_eq!(yb, tb);
    }
    assert_eq!((y.ticker.as_str(), t.ticker.as_str()), ("AAPL", "AAPL"));
    assert_eq!(y.currency.as_deref(), Some("USD"));
    assert_eq!((y.adjustment.as_str(), t.adjustment.as_str()), ("column", "column"));
    assert!(y.source.starts_with("yahoo http://"), "{}", y.source);
    assert!(t.source.starts_with("tiingo http://") && t.source.contains("token=REDACTED"), "{}", t.source);
    assert!(!t.source.contains(KEY));
    assert!(t.skipped.is_empty());

    // A narrower range is filtered by trading day.
    let one = DateRange { from: Some(d("2024-03-08")), to: Some(d("2024-03-08")) };
    let y1 = yahoo(&server).daily_prices("AAPL", one).await.unwrap();
    assert_eq!(y1.bars.len(), 1);
    assert_eq!(y1.bars[0].date, d("2024-03-08"));
    assert_eq!(y1.bars[0].close, 170.729996);
}

#[tokio::test]
async fn yahoo_null_row_is_skipped_and_reported() {
    let server = MockServer::start().await;
    mount_yahoo_aapl(&server).await;
    let y = yahoo(&server).daily_prices("AAPL", feb_mar()).await.unwrap();
    assert_eq!(y.bars.len(), 25);
    assert!(y.bars.iter().all(|b| b.date != d("2024-02-14") && b.close > 0.0));
    assert_eq!(y.skipped.len(), 1, "{:?}", y.skipped);
    let row = &y.skipped[0];
    assert!(
        row.location.contains("/v8/finance/chart/AAPL") && row.location.contains("2024-02-14"),
        "{row:?}"
    );
    assert!(row.reason.contains("null close"), "{row:?}");
}

/// Both price APIs answer "not found" for `ticker`, in their live formats.
async fn mount_unknown_ticker(server: &MockServer, ticker: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v8/finance/chart/{ticker}")))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(fixture("yahoo_chart_not_found.json"), "application/json"),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/tiingo/daily/{ticker}/prices")))
        .respond_with(
            ResponseTemplate::new(404).set_body_raw(fixture("tiingo_not_found.json"), "application/json"),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn unknown_tickers_and_missing_key() {
    let server = MockServer::start().await;
    mount_unknown_ticker(&server, "XXXX").await;
    // Yahoo's older behaviour: HTTP 200 with a null result.
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/YYYY"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("yahoo_chart_not_found.json"), "application/json"),
        )
        .mount(&server)
        .await;

    for t in ["XXXX", "yyyy"] {
        let err = yahoo(&server).daily_prices(t, feb_mar()).await.unwrap_err();
        assert!(matches!(&err, ConnectorError::UnknownTicker { .. }), "{err:?}");
        assert!(err.to_string().contains("symbol may be delisted"), "{err}");
    }
    let err = tiingo(&server, Some(KEY)).daily_prices("XXXX", feb_mar()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::UnknownTicker { .. }), "{err:?}");

    let err = tiingo(&server, None).daily_prices("AAPL", feb_mar()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Config(m) if m.contains("TIINGO_API_KEY")), "{err:?}");
}

#[tokio::test]
async fn exchange_suffixes_pass_through() {
    let server = MockServer::start().await;
    let body = r#"{"chart":{"result":[{"meta":{"currency":"JPY","symbol":"7203.T","exchangeName":"JPX","gmtoffset":32400,"exchangeTimezoneName":"Asia/Tokyo"},
        "timestamp":[1709856000],"indicators":{"quote":[{"open":[3600.0],"high":[3650.0],"low":[3580.0],"close":[3620.0],"volume":[1000]}],
        "adjclose":[{"adjclose":[3620.0]}]}}],"error":null}}"#;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/7203.T"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .expect(1)
        .mount(&server)
        .await;
    let s = yahoo(&server).daily_prices("7203.t", DateRange::ALL).await.unwrap();
    assert_eq!(s.ticker, "7203.T");
    assert_eq!(s.currency.as_deref(), Some("JPY"));
    assert_eq!(s.bars[0].date, d("2024-03-08"), "00:00 UTC is 09:00 in Tokyo");
}

#[tokio::test]
async fn failover_moves_past_a_failing_source() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    mount_tiingo_aapl(&server).await;
    let prices = FailoverPrices::new(vec![Arc::new(yahoo(&server)), Arc::new(tiingo(&server, Some(KEY)))]);
    assert_eq!(prices.source_names(), vec!["yahoo", "tiingo"]);
    let s = prices.daily_prices("AAPL", feb_mar()).await.unwrap();
    assert!(s.source.starts_with("tiingo "), "{}", s.source);
    assert_eq!(s.bars.len(), 26);
}

#[tokio::test]
async fn failover_unknown_everywhere_and_combined_errors() {
    let server = MockServer::start().await;
    mount_unknown_ticker(&server, "XXXX").await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;

    let both = FailoverPrices::new(vec![Arc::new(yahoo(&server)), Arc::new(tiingo(&server, Some(KEY)))]);
    let err = both.daily_prices("XXXX", feb_mar()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::UnknownTicker { .. }), "{err:?}");
    assert!(text.contains("yahoo:") && text.contains("tiingo:"), "{text}");

    // Unknown on the second source does not hide that the first one is down.
    let no_key = FailoverPrices::new(vec![Arc::new(yahoo(&server)), Arc::new(tiingo(&server, None))]);
    let err = no_key.daily_prices("AAPL", feb_mar()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::Http { status: Some(502), .. }), "{err:?}");
    assert!(text.contains("502") && text.contains("TIINGO_API_KEY"), "{text}");
    assert!(!text.contains(KEY));
}

// ---------------------------------------------------------------- EDGAR

const AAPL_10K_2024: &str = "/Archives/edgar/data/320193/000032019324000123/aapl-20240928.htm";

/// Serves the SEC files of `data/` at their EDGAR paths, requiring the user agent.
async fn edgar_server() -> MockServer {
    let server = MockServer::start().await;
    let serve = |p: &'static str, body: Vec<u8>, ctype: &'static str| {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("user-agent", UA))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, ctype))
    };
    serve("/files/company_tickers.json", data("sec/company_tickers.json.gz"), "application/json")
        .mount(&server)
        .await;
    serve(
        "/api/xbrl/companyfacts/CIK0000320193.json",
        data("sec/companyfacts_CIK0000320193.json.gz"),
        "application/json",
    )
    .mount(&server)
    .await;
    serve(
        "/submissions/CIK0000320193.json",
        data("sec/submissions_CIK0000320193.json.gz"),
        "application/json",
    )
    .mount(&server)
    .await;
    serve(AAPL_10K_2024, data("filings/aapl-10-k-2024-11-01.html.gz"), "text/html").mount(&server).await;
    server
}

fn edgar(server: &MockServer) -> EdgarClient {
    EdgarClient::new(EdgarConfig {
        user_agent: Some(UA.to_string()),
        data_base_url: server.uri(),
        www_base_url: server.uri(),
        base_backoff: Duration::from_millis(1),
        max_retries: 1,
        ..EdgarConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn edgar_requires_a_user_agent_and_sends_it() {
    let err = EdgarClient::new(EdgarConfig { user_agent: None, ..EdgarConfig::default() }).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert!(text.contains(SEC_USER_AGENT_ENV) && text.contains("sec.gov"), "{text}");

    let server = edgar_server().await;
    let client = edgar(&server);
    // The mocks match only requests carrying the user agent, so success proves it was sent.
    let apple = client.company("aapl").await.unwrap();
    assert_eq!(apple.cik, Some(320193));
    assert_eq!(apple.ticker, "AAPL");
    // The ticker table is kept in memory: a second lookup makes no request.
    assert_eq!(client.cik("MSFT").await.unwrap(), 789019);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers.get("user-agent").unwrap().to_str().unwrap(), UA);

    let err = client.company("NOPE-NOT-A-TICKER").await.unwrap_err();
    assert!(matches!(err, ConnectorError::UnknownTicker { .. }), "{err:?}");
    assert!(err.to_string().contains("/files/company_tickers.json"), "{err}");
    assert!(client.companies().await.unwrap().len() > 5000);
}

#[tokio::test]
async fn edgar_filings_are_newest_first() {
    let server = edgar_server().await;
    let filings = edgar(&server).filings("AAPL").await.unwrap();
    assert!(filings.len() > 100);
    assert!(filings.windows(2).all(|w| w[0].filed >= w[1].filed));
    let ten_k = filings.iter().find(|f| f.accession == "0000320193-24-000123").unwrap();
    assert_eq!(ten_k.form, "10-K");
    assert_eq!(ten_k.filed, d("2024-11-01"));
    assert_eq!(ten_k.primary_document.as_deref(), Some("aapl-20240928.htm"));
}

#[tokio::test]
async fn edgar_statements_have_fy2024_revenue() {
    let server = edgar_server().await;
    let st = edgar(&server).statements("AAPL").await.unwrap();
    assert_eq!(st.cik, Some(320193));
    let fy2024 = st
        .periods
        .iter()
        .find(|p| p.fiscal_year == 2024 && p.fiscal_period == FiscalPeriod::FY)
        .unwrap_or_else(|| panic!("no FY2024 period"));
    assert_eq!(fy2024.end, d("2024-09-28"));
    assert_eq!(fy2024.get(LineItem::Revenue), Some(391_035_000_000.0));
    assert!(fy2024.values[&LineItem::Revenue].source.filed.is_some());
}

#[tokio::test]
async fn edgar_filing_parses_with_index_dates() {
    let server = edgar_server().await;
    let client = edgar(&server);
    let filings = client.filings("AAPL").await.unwrap();
    let ten_k = filings.iter().find(|f| f.accession == "0000320193-24-000123").unwrap();
    let filing = client.filing(ten_k).await.unwrap();
    assert_eq!(filing.meta.form, "10-K");
    assert_eq!(filing.meta.filed, Some(d("2024-11-01")));
    assert_eq!(filing.meta.filed_source, Some(FiledDateSource::Index));
    assert!(filing.meta.source.ends_with(AAPL_10K_2024), "{}", filing.meta.source);
    assert!(!filing.facts.is_empty());
    assert!(filing.facts.iter().all(|f| f.source.filed == Some(d("2024-11-01"))
        && f.source.accession.as_deref() == Some("0000320193-24-000123")));
    assert!(filing.facts.iter().any(|f| f.value == 391_035_000_000.0));
}

#[tokio::test]
async fn edgar_older_filing_pages_are_read_when_asked() {
    let server = MockServer::start().await;
    let serve = |p: &'static str, body: Vec<u8>| {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("user-agent", UA))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
    };
    serve("/files/company_tickers.json", data("sec/company_tickers.json.gz")).mount(&server).await;
    serve("/submissions/CIK0001318605.json", data("sec/submissions_CIK0001318605.json.gz"))
        .expect(2)
        .mount(&server)
        .await;
    let page = bullpen_connectors::files::read_bytes(
        &manifest().join("tests/fixtures/sec/submissions_CIK0001318605-submissions-001.json.gz"),
    )
    .unwrap();
    serve("/submissions/CIK0001318605-submissions-001.json", page).expect(1).mount(&server).await;

    let recent = edgar(&server).filings("TSLA").await.unwrap();
    let all = EdgarClient::new(EdgarConfig {
        user_agent: Some(UA.to_string()),
        data_base_url: server.uri(),
        www_base_url: server.uri(),
        older_filings: true,
        ..EdgarConfig::default()
    })
    .unwrap()
    .filings("TSLA")
    .await
    .unwrap();
    assert_eq!(recent.len(), 1000);
    assert_eq!(all.len(), 1720);
    assert!(all.windows(2).all(|w| w[0].filed >= w[1].filed));
    assert_eq!(all.last().unwrap().filed, d("2005-02-17"));
}

//! The ratio engine for one ticker as of a date: statements known on that date, prices up to
//! that date, every value with its inputs (concept, period, document, location), every absent
//! value with its reason.

use std::collections::BTreeMap;

use bullpen_connectors::{
    ConnectorError, DateRange, FiscalPeriod, FundamentalsSource, LineItem, PriceSeries, PriceSource,
    SkippedRow, StatementPeriod, Statements,
};
use chrono::NaiveDate;
use polars::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

use super::market::{market_metrics, months_before};
use super::ratios::{Input, RATIOS, RatioDef, Unit, explain_absent, period_ratios};

/// Errors of the analytics layer.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// A data source failed.
    #[error(transparent)]
    Source(#[from] ConnectorError),
    /// A polars computation failed.
    #[error("ratio computation failed: {0}")]
    Polars(#[from] PolarsError),
    /// A blocking computation task failed to complete.
    #[error("ratio computation task failed: {0}")]
    Task(String),
    /// Nothing is known about the ticker.
    #[error("no data for {ticker}: {detail}")]
    NoData {
        /// The ticker.
        ticker: String,
        /// What was looked for.
        detail: String,
    },
}

/// Collects a lazy frame on the blocking pool: polars' engine blocks, and must not run on an
/// async worker thread (it would stall the runtime, and panics on a current-thread runtime).
pub async fn collect_blocking(lf: PolarsResult<LazyFrame>) -> Result<DataFrame, AnalyticsError> {
    let lf = lf?;
    tokio::task::spawn_blocking(move || lf.collect())
        .await
        .map_err(|e| AnalyticsError::Task(e.to_string()))?
        .map_err(Into::into)
}

/// One input of a value, precise enough to cite.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct InputRef {
    /// Input name (`revenue`, `prior revenue`, `price`).
    pub name: String,
    /// Its value.
    pub value: f64,
    /// XBRL concept (or `close` for a price).
    pub concept: String,
    /// Period of the fact or date of the price.
    pub period: String,
    /// Document (filing path / URL, companyfacts, price file).
    pub document: String,
    /// Location in the document.
    pub location: String,
    /// When it became public.
    pub filed: Option<NaiveDate>,
    /// How it was derived, when it was (`FY − Q1 − Q2 − Q3`).
    pub derived: Option<String>,
}

/// A computed value or the reason it is absent.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RatioValue {
    /// Name (`gross_margin`).
    pub name: String,
    /// Label (`Gross margin`).
    pub label: String,
    /// Unit.
    pub unit: Unit,
    /// The value; `None` when absent.
    pub value: Option<f64>,
    /// Why it is absent.
    pub reason: Option<String>,
    /// The inputs used.
    pub inputs: Vec<InputRef>,
}

/// Ratios of one fiscal period.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PeriodRatios {
    /// `FY2024`, `Q3 FY2025`.
    pub label: String,
    /// Fiscal year.
    pub fiscal_year: i32,
    /// Fiscal period.
    pub fiscal_period: FiscalPeriod,
    /// Period end.
    pub end: NaiveDate,
    /// Date of the price used for valuation values (None when no price).
    pub price_date: Option<NaiveDate>,
    /// Values in [`RATIOS`] order.
    pub values: Vec<RatioValue>,
}

/// Everything the engine says about one ticker as of a date.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RatioReport {
    /// Ticker.
    pub ticker: String,
    /// The as-of date: no input published after it is used.
    pub as_of: NaiveDate,
    /// Fiscal periods known on the as-of date, oldest first.
    pub periods: Vec<PeriodRatios>,
    /// Valuation at the as-of price on the latest fiscal year known then.
    pub valuation: Option<PeriodRatios>,
    /// Market metrics (52-week range, returns, volatility, beta, drawdown).
    pub market: Vec<RatioValue>,
    /// Notes: skipped rows, stale data, sources.
    pub notes: Vec<String>,
}

impl RatioReport {
    /// A value of the latest period that has it, or of the market block.
    pub fn latest(&self, name: &str) -> Option<&RatioValue> {
        self.market.iter().find(|v| v.name == name).or_else(|| {
            self.periods
                .iter()
                .rev()
                .flat_map(|p| p.values.iter())
                .find(|v| v.name == name && v.value.is_some())
        })
    }
}

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct RatioEngine {
    /// Ticker of the index for beta (`^GSPC`); `None` = no beta.
    pub index: Option<String>,
    /// A price older than this many days before a date is not used for that date.
    pub max_price_age_days: i64,
    /// Trading days needed in the trailing year for volatility, beta and drawdown.
    pub min_window_days: u32,
}

impl Default for RatioEngine {
    fn default() -> Self {
        Self { index: Some("^GSPC".into()), max_price_age_days: 10, min_window_days: 150 }
    }
}

/// The last bar on or before `date`, if no older than `max_age` days.
fn price_on(series: &PriceSeries, date: NaiveDate, max_age: i64) -> Option<(NaiveDate, f64)> {
    let i = series.bars.partition_point(|b| b.date <= date);
    let bar = series.bars.get(i.checked_sub(1)?)?;
    ((date - bar.date).num_days() <= max_age).then_some((bar.date, bar.close))
}

/// The wide frame of the engine: one row per period, `price` filled from `prices`.
pub fn statements_frame(
    ticker: &str,
    periods: &[StatementPeriod],
    prices: Option<&PriceSeries>,
    max_price_age: i64,
) -> PolarsResult<DataFrame> {
    let mut cols: Vec<Column> = vec![
        Column::new("ticker".into(), vec![ticker; periods.len()]),
        Column::new("fiscal_year".into(), periods.iter().map(|p| p.fiscal_year).collect::<Vec<_>>()),
        Column::new(
            "fiscal_period".into(),
            periods.iter().map(|p| p.fiscal_period.as_str()).collect::<Vec<_>>(),
        ),
        Column::new("end".into(), periods.iter().map(|p| p.end).collect::<Vec<_>>()),
        Column::new(
            "price".into(),
            periods
                .iter()
                .map(|p| prices.and_then(|s| price_on(s, p.end, max_price_age)).map(|x| x.1))
                .collect::<Vec<_>>(),
        ),
    ];
    for item in LineItem::ALL {
        cols.push(Column::new(item.as_str().into(), periods.iter().map(|p| p.get(item)).collect::<Vec<_>>()));
    }
    DataFrame::new_infer_height(cols)
}

fn input_refs(
    def: &RatioDef,
    p: &StatementPeriod,
    prior: Option<&StatementPeriod>,
    price: Option<(NaiveDate, f64)>,
    price_source: &str,
) -> Vec<InputRef> {
    let mut out = Vec::new();
    let mut push_line = |name: String, period: &StatementPeriod, item: LineItem| {
        if let Some(v) = period.values.get(&item) {
            out.push(InputRef {
                name,
                value: v.value,
                concept: v.concept.clone(),
                period: v.period.to_string(),
                document: v.source.document.clone(),
                location: v.source.location.clone(),
                filed: v.source.filed,
                derived: v.derived.clone(),
            });
        }
    };
    let present = |i: &Input| match i {
        Input::Line(item) => p.values.contains_key(item),
        Input::Prior(item) => prior.is_some_and(|pp| pp.values.contains_key(item)),
        Input::Price => price.is_some(),
    };
    // Every needed input, and of each group of alternatives the first one present.
    let inputs = def.needs.iter().chain(def.any_of.iter().filter_map(|g| g.iter().find(|i| present(i))));
    let mut price_used = false;
    for input in inputs {
        match input {
            Input::Line(item) => push_line(item.as_str().to_string(), p, *item),
            Input::Prior(item) => {
                if let Some(pp) = prior {
                    push_line(format!("prior {}", item.as_str()), pp, *item)
                }
            }
            Input::Price => price_used = true,
        }
    }
    if let (true, Some((date, close))) = (price_used, price) {
        out.push(InputRef {
            name: "price".into(),
            value: close,
            concept: "close".into(),
            period: date.to_string(),
            document: price_source.to_string(),
            location: format!("row {date}"),
            filed: Some(date),
            derived: None,
        });
    }
    out
}

/// A cell as f64; `None` for null, a missing column or a row past the end (never a panic).
fn value_at(df: &DataFrame, column: &str, row: usize) -> Option<f64> {
    if row >= df.height() {
        return None;
    }
    df.column(column).ok()?.f64().ok()?.get(row)
}

fn u32_at(df: &DataFrame, column: &str, row: usize) -> Option<u32> {
    if row >= df.height() {
        return None;
    }
    df.column(column).ok()?.u32().ok()?.get(row)
}

fn date_at(df: &DataFrame, column: &str, row: usize) -> Option<NaiveDate> {
    if row >= df.height() {
        return None;
    }
    df.column(column).ok()?.date().ok()?.as_date_iter().nth(row).flatten()
}

fn period_values(
    df: &DataFrame,
    row: usize,
    p: &StatementPeriod,
    prior: Option<&StatementPeriod>,
    price: Option<(NaiveDate, f64)>,
    price_source: &str,
    no_price_reason: &str,
) -> Vec<RatioValue> {
    RATIOS
        .iter()
        .map(|def| {
            let value = value_at(df, def.name, row).filter(|v| v.is_finite());
            let reason = value.is_none().then(|| {
                explain_absent(def, p.fiscal_period.as_str(), &|c| value_at(df, c, row), no_price_reason)
            });
            RatioValue {
                name: def.name.into(),
                label: def.label.into(),
                unit: def.unit,
                value,
                reason,
                inputs: if value.is_some() {
                    input_refs(def, p, prior, price, price_source)
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

impl RatioEngine {
    /// The report of `ticker` as of `as_of` (default: the ticker's last price date, else today).
    pub async fn report<S>(
        &self,
        src: &S,
        ticker: &str,
        as_of: Option<NaiveDate>,
    ) -> Result<RatioReport, AnalyticsError>
    where
        S: PriceSource + FundamentalsSource + ?Sized,
    {
        let mut notes = Vec::new();
        let prices = match src.daily_prices(ticker, DateRange::ALL).await {
            Ok(s) if !s.bars.is_empty() => Some(s),
            Ok(_) => None,
            Err(ConnectorError::UnknownTicker { detail, .. }) => {
                notes.push(format!("no prices: {detail}"));
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(s) = &prices
            && let Some(skipped) = SkippedRow::summary(&s.skipped)
        {
            notes.push(format!("price rows of {}: {skipped}", s.source));
        }
        let as_of = as_of
            .or_else(|| prices.as_ref().and_then(|s| s.bars.last().map(|b| b.date)))
            .unwrap_or_else(|| chrono::Local::now().date_naive());
        let statements = match src.statements_as_of(ticker, as_of).await {
            Ok(s) => s,
            Err(ConnectorError::NotFound { detail, .. }) if prices.is_some() => {
                notes.push(format!("no fundamentals: {detail}"));
                Statements {
                    ticker: Some(ticker.to_uppercase()),
                    cik: None,
                    entity_name: None,
                    periods: vec![],
                    skipped: vec![],
                }
            }
            Err(e) => return Err(e.into()),
        };
        if prices.is_none() && statements.periods.is_empty() {
            return Err(AnalyticsError::NoData {
                ticker: ticker.to_string(),
                detail: format!("no prices and no fundamentals filed on or before {as_of}"),
            });
        }
        if let Some(skipped) = SkippedRow::summary(&statements.skipped) {
            notes.push(format!("facts while normalising: {skipped}"));
        }
        let price_source = prices.as_ref().map(|s| s.source.clone()).unwrap_or_default();
        let no_price_reason = match &prices {
            None => "no prices for the ticker".to_string(),
            Some(s) => format!(
                "prices run {}..{}, none within {} days before the date",
                s.bars.first().map(|b| b.date).unwrap_or_default(),
                s.bars.last().map(|b| b.date).unwrap_or_default(),
                self.max_price_age_days
            ),
        };

        // Fiscal periods (as of), oldest first.
        let periods: Vec<StatementPeriod> =
            statements.periods.iter().filter(|p| p.end <= as_of).cloned().collect();
        let ticker_u = ticker.trim().to_uppercase();
        let frame = statements_frame(&ticker_u, &periods, prices.as_ref(), self.max_price_age_days)?;
        let computed = collect_blocking(period_ratios(frame.lazy())).await?;
        let key = |fy: i32, fp: &str| {
            periods.iter().position(|p| p.fiscal_year == fy && p.fiscal_period.as_str() == fp)
        };
        let fys = computed.column("fiscal_year")?.i32()?.clone();
        let fps = computed.column("fiscal_period")?.str()?.clone();
        let mut by_index: BTreeMap<usize, PeriodRatios> = BTreeMap::new();
        for row in 0..computed.height() {
            let (Some(fy), Some(fp)) = (fys.get(row), fps.get(row)) else { continue };
            let Some(i) = key(fy, fp) else { continue };
            let p = &periods[i];
            let prior = key(fy - 1, fp).map(|j| &periods[j]);
            let price = prices.as_ref().and_then(|s| price_on(s, p.end, self.max_price_age_days));
            by_index.insert(
                i,
                PeriodRatios {
                    label: p.label(),
                    fiscal_year: p.fiscal_year,
                    fiscal_period: p.fiscal_period,
                    end: p.end,
                    price_date: price.map(|x| x.0),
                    values: period_values(&computed, row, p, prior, price, &price_source, &no_price_reason),
                },
            );
        }

        // Valuation now: the latest fiscal year known on the as-of date at the as-of price.
        let valuation = match periods.iter().rev().find(|p| p.fiscal_period == FiscalPeriod::FY) {
            Some(latest) => {
                let mut at = latest.clone();
                at.end = as_of;
                let one = statements_frame(
                    &ticker_u,
                    std::slice::from_ref(&at),
                    prices.as_ref(),
                    self.max_price_age_days,
                )?;
                let computed = collect_blocking(period_ratios(one.lazy())).await?;
                let price = prices.as_ref().and_then(|s| price_on(s, as_of, self.max_price_age_days));
                let mut values =
                    period_values(&computed, 0, latest, None, price, &price_source, &no_price_reason);
                values.retain(|v| {
                    ["market_cap", "pe", "pb", "ps", "ev_ebitda", "dividend_yield"].contains(&v.name.as_str())
                });
                Some(PeriodRatios {
                    label: format!("as of {as_of} ({})", latest.label()),
                    fiscal_year: latest.fiscal_year,
                    fiscal_period: latest.fiscal_period,
                    end: as_of,
                    price_date: price.map(|x| x.0),
                    values,
                })
            }
            None => None,
        };

        let market = match &prices {
            Some(s) => self.market_values(src, s, as_of, &mut notes).await?,
            None => Vec::new(),
        };
        Ok(RatioReport {
            ticker: ticker_u,
            as_of,
            periods: by_index.into_values().collect(),
            valuation,
            market,
            notes,
        })
    }

    /// Market metrics of one price series as of a date (52-week range, returns, volatility,
    /// beta against the engine's index, drawdown), each with its inputs or absence reason;
    /// stale or missing prices are noted in `notes`.
    pub async fn market_values<S>(
        &self,
        src: &S,
        s: &PriceSeries,
        as_of: NaiveDate,
        notes: &mut Vec<String>,
    ) -> Result<Vec<RatioValue>, AnalyticsError>
    where
        S: PriceSource + FundamentalsSource + ?Sized,
    {
        // The index series, when one is configured and known; its absence is a reason for beta.
        let index = match &self.index {
            None => Err("no index configured".to_string()),
            Some(name) => match src.daily_prices(name, DateRange::ALL).await {
                Ok(ix) => Ok((name.clone(), ix)),
                Err(ConnectorError::UnknownTicker { detail, .. }) => Err(format!("index {name}: {detail}")),
                Err(e) => return Err(e.into()),
            },
        };
        let frame = prices_frame(std::slice::from_ref(s))?;
        let ix_frame = match &index {
            Ok((_, ix)) => Some(prices_frame(std::slice::from_ref(ix))?.lazy()),
            Err(_) => None,
        };
        let m = collect_blocking(market_metrics(frame.lazy(), ix_frame, as_of)).await?;
        let get_f = |c: &str| value_at(&m, c, 0);
        let get_d = |c: &str| date_at(&m, c, 0);
        let last = get_d("last_date");
        let stale = match last {
            None => Some(format!("no price on or before {as_of}")),
            Some(d) if (as_of - d).num_days() > self.max_price_age_days => {
                Some(format!("latest price {d} is {} days before {as_of}", (as_of - d).num_days()))
            }
            _ => None,
        };
        let window_days = u32_at(&m, "window_days", 0).unwrap_or(0);
        let window_start = get_d("window_start_date");
        let year_ago = months_before(as_of, 12);
        let short_window = window_start.is_none_or(|w| (w - year_ago).num_days() > 7);
        let src_ref = |name: &str, value: f64, period: String| InputRef {
            name: name.into(),
            value,
            concept: "daily bars".into(),
            period,
            document: s.source.clone(),
            location: format!("rows {year_ago}..{as_of}"),
            filed: last,
            derived: None,
        };
        let mut out = Vec::new();
        let mut push = |name: &str,
                        label: &str,
                        unit: Unit,
                        value: Option<f64>,
                        reason: Option<String>,
                        inputs: Vec<InputRef>| {
            let value = value.filter(|v| v.is_finite());
            let reason =
                if value.is_none() { Some(reason.unwrap_or_else(|| "not computable".into())) } else { None };
            out.push(RatioValue {
                name: name.into(),
                label: label.into(),
                unit,
                value,
                reason,
                inputs: if value.is_some() { inputs } else { vec![] },
            });
        };
        let window_reason = stale.clone().or_else(|| {
            short_window.then(|| {
                format!(
                    "prices start {}, less than a year before {as_of}",
                    window_start.map(|d| d.to_string()).unwrap_or_default()
                )
            })
        });
        let stat_reason = window_reason.clone().or_else(|| {
            (window_days < self.min_window_days).then(|| {
                format!("{window_days} daily returns in the trailing year (need {})", self.min_window_days)
            })
        });
        let period = format!("{year_ago}..{as_of}");
        for (name, label, col, reason) in [
            ("high_52w", "52-week high", "high_52w", &window_reason),
            ("low_52w", "52-week low", "low_52w", &window_reason),
        ] {
            let v = if reason.is_none() { get_f(col) } else { None };
            push(
                name,
                label,
                Unit::PerShare,
                v,
                reason.clone(),
                v.map(|v| vec![src_ref(col, v, period.clone())]).unwrap_or_default(),
            );
        }
        for months in [1u32, 3, 12] {
            let horizon = months_before(as_of, months);
            let d = get_d(&format!("date_{months}m"));
            let reason = stale.clone().or_else(|| match d {
                None => Some(format!("no price on or before {horizon}")),
                Some(d) if (horizon - d).num_days() > self.max_price_age_days => {
                    Some(format!("no price within {} days before {horizon}", self.max_price_age_days))
                }
                _ => None,
            });
            let v = if reason.is_none() { get_f(&format!("return_{months}m")) } else { None };
            let inputs = match (v, d, get_f(&format!("adj_{months}m")), get_f("last_adj")) {
                (Some(_), Some(d), Some(a0), Some(a1)) => vec![
                    src_ref("adj_close start", a0, d.to_string()),
                    src_ref("adj_close end", a1, last.map(|x| x.to_string()).unwrap_or_default()),
                ],
                _ => vec![],
            };
            push(
                &format!("return_{months}m"),
                &format!("{months}-month return"),
                Unit::Fraction,
                v,
                reason,
                inputs,
            );
        }
        let v = if stat_reason.is_none() { get_f("volatility") } else { None };
        push(
            "volatility",
            "Volatility (annualised)",
            Unit::Fraction,
            v,
            stat_reason.clone(),
            v.map(|v| vec![src_ref("daily returns", v, period.clone())]).unwrap_or_default(),
        );
        let v = if stat_reason.is_none() { get_f("max_drawdown") } else { None };
        push(
            "max_drawdown",
            "Maximum drawdown (1y)",
            Unit::Fraction,
            v,
            stat_reason.clone(),
            v.map(|v| vec![src_ref("adj_close", v, period.clone())]).unwrap_or_default(),
        );

        // Beta against the index.
        let (beta, beta_reason, beta_inputs) = match index {
            Err(why) => (None, Some(why), vec![]),
            Ok(_) if stat_reason.is_some() => (None, stat_reason, vec![]),
            Ok((name, ix)) => {
                let days = u32_at(&m, "beta_days", 0).unwrap_or(0);
                if days < self.min_window_days {
                    let why = format!(
                        "{days} common trading days with {name} in the trailing year (need {}; index prices end {})",
                        self.min_window_days,
                        ix.bars.last().map(|x| x.date.to_string()).unwrap_or_default()
                    );
                    (None, Some(why), vec![])
                } else {
                    let inputs = vec![InputRef {
                        name: format!("{name} daily returns"),
                        value: days as f64,
                        concept: "common trading days".into(),
                        period: period.clone(),
                        document: ix.source.clone(),
                        location: format!("rows {year_ago}..{as_of}"),
                        filed: ix.bars.iter().rev().find(|x| x.date <= as_of).map(|x| x.date),
                        derived: None,
                    }];
                    (value_at(&m, "beta", 0), None, inputs)
                }
            }
        };
        push("beta", "Beta", Unit::Multiple, beta, beta_reason, beta_inputs);
        if let Some(s) = stale {
            notes.push(s);
        }
        Ok(out)
    }
}

/// The long price frame (`ticker`, `date`, `open`, `high`, `low`, `close`, `adj_close`,
/// `volume`) of several series.
pub fn prices_frame(series: &[PriceSeries]) -> PolarsResult<DataFrame> {
    let n: usize = series.iter().map(|s| s.bars.len()).sum();
    let mut ticker = Vec::with_capacity(n);
    let (mut date, mut open, mut high, mut low, mut close, mut adj, mut vol) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for s in series {
        for b in &s.bars {
            ticker.push(s.ticker.as_str());
            date.push(b.date);
            open.push(b.open);
            high.push(b.high);
            low.push(b.low);
            close.push(b.close);
            adj.push(b.adj_close);
            vol.push(b.volume);
        }
    }
    df!("ticker" => ticker, "date" => date, "open" => open, "high" => high, "low" => low, "close" => close, "adj_close" => adj, "volume" => vol)
}

//! `bullpen data …`: prices, facts, filings and ratios of a universe, as tables on a terminal
//! or JSON for machines.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use bullpen_connectors::http::HttpConfig;
use bullpen_connectors::live::{FailoverPrices, TiingoConfig, TiingoPrices, YahooConfig, YahooPrices};
use bullpen_connectors::universe::{Universe, pick_filing};
use bullpen_connectors::{DateRange, Fact, Filing, PriceSource, SkippedRow};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::analytics::format::{fmt_number, fmt_value};
use crate::analytics::{RatioEngine, RatioReport};
use crate::io::osvariables;

/// Arguments of `bullpen data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The universe directory (default: `BULLPEN_DATA`, else the demo universe in `data/`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: DataCommand,
}

/// What to show.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Daily prices (OHLCV, adjusted close).
    Prices {
        /// Ticker.
        ticker: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Fetch over HTTP instead of the universe: Yahoo's chart API, then Tiingo when
        /// `TIINGO_API_KEY` is set; cached under `$BULLPEN_HOME/cache/http`.
        #[arg(long)]
        live: bool,
    },
    /// XBRL facts of one filing (the latest, or chosen by --form / --period / --file).
    Facts {
        /// Ticker (not needed with --file).
        ticker: Option<String>,
        /// Form: 10-K, 10-Q.
        #[arg(long)]
        form: Option<String>,
        /// Fiscal period: FY2024, Q2 FY2025, 2024.
        #[arg(long)]
        period: Option<String>,
        /// One filing document (.html or .html.gz) instead of the universe's.
        #[arg(long, value_name = "FILING.html[.gz]")]
        file: Option<PathBuf>,
        /// Only facts of this concept (e.g. us-gaap:Revenues).
        #[arg(long)]
        concept: Option<String>,
        /// Include dimensional facts (segments, products).
        #[arg(long)]
        dimensions: bool,
    },
    /// A filing's Items, or the text of one (tables kept as tables).
    Filing {
        /// Ticker.
        ticker: String,
        /// Form.
        #[arg(long, default_value = "10-K")]
        form: String,
        /// Fiscal period: FY2024, Q2 FY2025.
        #[arg(long)]
        period: Option<String>,
        /// Item: 1, 1A, 7, 7A, 8 (10-Q: II-1A for Part II).
        #[arg(long)]
        item: Option<String>,
    },
    /// Ratios per fiscal period and market metrics, as of a date (default: last price date).
    Ratios {
        /// Ticker.
        ticker: String,
        /// No input published after this date is used.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Index for beta.
        #[arg(long, default_value = "^GSPC")]
        index: String,
        /// Fiscal periods shown (latest N; quarters with --quarters).
        #[arg(long, default_value_t = 5)]
        periods: usize,
        /// Show quarters instead of fiscal years.
        #[arg(long)]
        quarters: bool,
    },
}

/// The live price sources in failover order, sharing an on-disk cache in `BULLPEN_HOME`.
fn live_prices() -> anyhow::Result<FailoverPrices> {
    let cache = osvariables::bullpen_home().join("cache").join("http");
    let yahoo = YahooConfig::default();
    let yahoo = YahooConfig { http: HttpConfig { cache_dir: Some(cache.clone()), ..yahoo.http }, ..yahoo };
    let mut sources: Vec<Arc<dyn PriceSource>> = vec![Arc::new(YahooPrices::new(yahoo)?)];
    let tiingo = TiingoConfig::default();
    if tiingo.api_key.is_some() {
        let tiingo = TiingoConfig { http: HttpConfig { cache_dir: Some(cache), ..tiingo.http }, ..tiingo };
        sources.push(Arc::new(TiingoPrices::new(tiingo)?));
    }
    Ok(FailoverPrices::new(sources))
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.iter().map(Cell::new));
    t
}

fn right(s: impl ToString) -> Cell {
    Cell::new(s.to_string()).set_alignment(CellAlignment::Right)
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    super::print(&(serde_json::to_string_pretty(value).context("cannot print JSON")? + "\n"))
}

/// Runs `bullpen data …`.
pub async fn run(args: DataArgs) -> anyhow::Result<()> {
    let dir = osvariables::data_dir(args.data);
    let universe = crate::io::datasets::open_universe(&dir).context("cannot open the data universe")?;
    match args.command {
        DataCommand::Prices { ticker, from, to, live } => {
            let range = DateRange { from, to };
            let s = if live {
                live_prices()?.daily_prices(&ticker, range).await?
            } else {
                universe.daily_prices(&ticker, range).await?
            };
            if args.json {
                return print_json(&s);
            }
            let mut t = table(&["date", "open", "high", "low", "close", "adj close", "volume"]);
            for b in &s.bars {
                t.add_row(vec![
                    Cell::new(b.date),
                    right(format!("{:.2}", b.open)),
                    right(format!("{:.2}", b.high)),
                    right(format!("{:.2}", b.low)),
                    right(format!("{:.2}", b.close)),
                    right(format!("{:.2}", b.adj_close)),
                    right(fmt_number(b.volume)),
                ]);
            }
            let mut text = format!("{t}\n{} bars of {} from {}\n", s.bars.len(), s.ticker, s.source);
            if let Some(skipped) = SkippedRow::summary(&s.skipped) {
                text.push_str(&format!("rows {skipped}\n"));
            }
            super::print(&text)
        }
        DataCommand::Facts { ticker, form, period, file, concept, dimensions } => {
            let filing = match (&file, &ticker) {
                (Some(path), _) => universe.filing_file(path).await?,
                (None, Some(t)) => {
                    let filings = universe.filings_of(t).await?;
                    let form = form.as_deref().or(if period.is_some() { None } else { Some("10-K") });
                    let Some(f) = pick_filing(&filings, form, period.as_deref())
                        .or_else(|| pick_filing(&filings, None, period.as_deref()))
                    else {
                        bail!(
                            "no filing of {t} matching form {} period {} in {} ({} filings: {}){}",
                            form.unwrap_or("any"),
                            period.as_deref().unwrap_or("any"),
                            dir.join("filings").display(),
                            filings.len(),
                            filings
                                .iter()
                                .map(|f| format!(
                                    "{} {}",
                                    f.meta.form,
                                    f.meta.period_end.map(|d| d.to_string()).unwrap_or_default()
                                ))
                                .collect::<Vec<_>>()
                                .join(", "),
                            broken_note(&universe).await
                        );
                    };
                    (**f).clone()
                }
                (None, None) => bail!("give a TICKER or --file FILING.html[.gz]"),
            };
            let facts: Vec<&Fact> = filing
                .facts
                .iter()
                .filter(|f| dimensions || f.dimensions.is_empty())
                .filter(|f| {
                    concept.as_deref().is_none_or(|c| {
                        f.concept.eq_ignore_ascii_case(c) || f.concept.rsplit(':').next() == Some(c)
                    })
                })
                .collect();
            if args.json {
                return print_json(
                    &serde_json::json!({ "meta": filing.meta, "facts": facts, "skipped": filing.skipped }),
                );
            }
            print_facts(&filing, &facts)
        }
        DataCommand::Filing { ticker, form, period, item } => {
            let filings = universe.filings_of(&ticker).await?;
            let Some(f) = pick_filing(&filings, Some(&form), period.as_deref()) else {
                bail!(
                    "no {form} of {ticker} for {} in {}{}",
                    period.as_deref().unwrap_or("any period"),
                    dir.join("filings").display(),
                    broken_note(&universe).await
                );
            };
            match item {
                Some(item) => {
                    let Some(s) = f.section(&item) else {
                        bail!(
                            "{} {} has no Item {item}; Items found: {}",
                            ticker.to_uppercase(),
                            f.meta.form,
                            f.sections.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
                        );
                    };
                    if args.json {
                        return print_json(s);
                    }
                    super::print(&format!("{} {} — {}\n\n{}", s.label(), s.title, f.meta.source, s.text()))
                }
                None => {
                    if args.json {
                        return print_json(
                            &serde_json::json!({ "meta": f.meta, "sections": f.sections.iter().map(|s| serde_json::json!({"part": s.part, "item": s.item, "title": s.title, "chars": s.text().len()})).collect::<Vec<_>>() }),
                        );
                    }
                    let mut t = table(&["item", "title", "characters", "tables"]);
                    for s in &f.sections {
                        let tables = s
                            .blocks
                            .iter()
                            .filter(|b| matches!(b, bullpen_connectors::Block::Table { .. }))
                            .count();
                        t.add_row(vec![
                            Cell::new(s.label()),
                            Cell::new(&s.title),
                            right(fmt_number(s.text().len() as f64)),
                            right(tables),
                        ]);
                    }
                    super::print(&format!("{}\n{t}\n", filing_header(f)))
                }
            }
        }
        DataCommand::Ratios { ticker, as_of, index, periods, quarters } => {
            let engine = RatioEngine { index: Some(index), ..RatioEngine::default() };
            let report = engine.report(&universe, &ticker, as_of).await?;
            if args.json {
                return print_json(&report);
            }
            super::print(&ratio_table(&report, periods, quarters))
        }
    }
}

/// `; N files could not be parsed: FILE: why, …` when some could not.
async fn broken_note(universe: &Universe) -> String {
    match universe.all_filings().await {
        Ok(all) if !all.errors.is_empty() => format!(
            "; {} files could not be parsed: {}",
            all.errors.len(),
            all.errors.iter().map(|e| format!("{}: {}", e.location, e.reason)).collect::<Vec<_>>().join("; ")
        ),
        _ => String::new(),
    }
}

fn filing_header(f: &Filing) -> String {
    let m = &f.meta;
    format!(
        "{} {} — {} (CIK {}), period ending {}, filed {} [{}]\n{}",
        m.ticker.as_deref().unwrap_or("?"),
        m.form,
        m.company.as_deref().unwrap_or("?"),
        m.cik.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
        m.period_end.map(|d| d.to_string()).unwrap_or_else(|| "?".into()),
        m.filed.map(|d| d.to_string()).unwrap_or_else(|| "?".into()),
        m.filed_source.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_else(|| "unknown".into()),
        m.source
    )
}

fn print_facts(filing: &Filing, facts: &[&Fact]) -> anyhow::Result<()> {
    let mut t = table(&["concept", "period", "value", "unit", "dimensions"]);
    for f in facts {
        let dims = f.dimensions.iter().map(|(a, m)| format!("{a}={m}")).collect::<Vec<_>>().join("; ");
        t.add_row(vec![
            Cell::new(&f.concept),
            Cell::new(f.period),
            right(fmt_number(f.value)),
            Cell::new(&f.unit),
            Cell::new(dims),
        ]);
    }
    let mut text = format!("{}\n{t}\n{} facts", filing_header(filing), facts.len());
    if let Some(skipped) = SkippedRow::summary(&filing.skipped) {
        text.push_str(&format!("; {skipped}"));
    }
    text.push('\n');
    super::print(&text)
}

/// The ratio report as tables: ratios × periods, the valuation as of the date, market metrics,
/// then the reasons for absent values of the latest period.
pub fn ratio_table(r: &RatioReport, n: usize, quarters: bool) -> String {
    let shown: Vec<_> = r
        .periods
        .iter()
        .filter(|p| (p.fiscal_period.as_str() == "FY") != quarters)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take(n)
        .rev()
        .collect();
    let mut header = vec!["ratio".to_string()];
    header.extend(shown.iter().map(|p| p.label.clone()));
    let mut t = table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    if let Some(first) = shown.first() {
        for (i, v) in first.values.iter().enumerate() {
            let mut row = vec![Cell::new(&v.label)];
            row.extend(shown.iter().map(|p| right(fmt_value(&p.values[i]))));
            t.add_row(row);
        }
    }
    let mut out = format!("{} as of {}\n{t}\n", r.ticker, r.as_of);
    if let Some(v) = &r.valuation {
        let mut t = table(&["valuation", &v.label]);
        for x in &v.values {
            t.add_row(vec![Cell::new(&x.label), right(fmt_value(x))]);
        }
        out.push_str(&format!("{t}\n"));
    }
    if !r.market.is_empty() {
        let mut t = table(&["market", "value"]);
        for x in &r.market {
            t.add_row(vec![Cell::new(&x.label), right(fmt_value(x))]);
        }
        out.push_str(&format!("{t}\n"));
    }
    let absent: Vec<String> = shown
        .last()
        .into_iter()
        .flat_map(|p| p.values.iter().map(move |v| (p.label.clone(), v)))
        .chain(r.valuation.iter().flat_map(|p| p.values.iter().map(move |v| (p.label.clone(), v))))
        .chain(r.market.iter().map(|v| ("market".to_string(), v)))
        .filter_map(|(label, v)| v.reason.as_ref().map(|why| format!("  {} ({label}): {why}", v.label)))
        .collect();
    if !absent.is_empty() {
        out.push_str("absent:\n");
        out.push_str(&absent.join("\n"));
        out.push('\n');
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_without_losing_digits() {
        assert_eq!(fmt_number(391_035_000_000.0), "391,035,000,000");
        assert_eq!(fmt_number(-1234.5), "-1,234.5");
        assert_eq!(fmt_number(6.08), "6.08");
        assert_eq!(fmt_number(0.0), "0");
    }
}

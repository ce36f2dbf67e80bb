//! Throughput of Bullpen's polars analytics (not a test: no assertions on time). Prints one
//! JSON object like `benches/ratios_peer.py`, its pandas peer; `benches/run_ratios.sh` runs
//! both on the same data, prints the ratios and checks that the two outputs agree.
//!
//! ```text
//! cargo bench --profile dev --bench ratios -- [--fundamentals CSV] [--prices DIR]
//!     [--index CSV.GZ] [--reps 200] [--passes 3] [--scale 1] [--dump PREFIX]
//! ```
//!
//! Two workloads, loading not timed:
//! - fundamentals: the NYSE fundamentals 2012–2016 CSV mapped to the wide statements frame
//!   (one row per ticker × fiscal year, `price` null), then `--reps` times
//!   `period_ratios(wide).collect()` (`--scale K` stacks K copies of the frame under distinct
//!   tickers first, to see the rate on a larger frame);
//! - market: the stocknet daily prices (one CSV per ticker, rows with a missing price dropped)
//!   and the S&P 500 index, then `--passes` times, for each of the 48 month ends 2013-09-30 …
//!   2017-08-31, `market_metrics(prices, Some(index), as_of).collect()` (the price metrics and
//!   the betas in one query, as the engine runs them).
//!
//! `--dump PREFIX` writes the outputs of the first repetition / pass to `PREFIX_ratios.csv` and
//! `PREFIX_market.csv` (after the timing) for the agreement check. Threads: polars' pool
//! (`POLARS_MAX_THREADS`, default: all cores). Dev profile: every dependency (polars) is
//! compiled as in release (`[profile.dev.package."*"]`: opt-level 3, no debug assertions, no
//! overflow checks); the engine's own code only builds
//! the query plans.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

use bullpen::analytics::market::market_metrics;
use bullpen::analytics::ratios::{RATIOS, period_ratios};
use bullpen_connectors::LineItem;

const DEFAULT_FUNDAMENTALS: &str = "../shared/data/fundamentals/nyse_fundamentals_2012_2016.csv";
const DEFAULT_PRICES: &str = "../shared/data/market/stocknet_prices_2012_2017";
const DEFAULT_INDEX: &str = "../shared/data/market/arch_sp500.csv.gz";

type Res<T> = Result<T, String>;

struct Args {
    fundamentals: PathBuf,
    prices: PathBuf,
    index: PathBuf,
    reps: usize,
    passes: usize,
    scale: usize,
    dump: Option<PathBuf>,
}

fn parse_args() -> Res<Args> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = Args {
        fundamentals: root.join(DEFAULT_FUNDAMENTALS),
        prices: root.join(DEFAULT_PRICES),
        index: root.join(DEFAULT_INDEX),
        reps: 200,
        passes: 3,
        scale: 1,
        dump: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` appends `--bench`; ignore it.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--fundamentals" => args.fundamentals = PathBuf::from(value),
            "--prices" => args.prices = PathBuf::from(value),
            "--index" => args.index = PathBuf::from(value),
            "--reps" => args.reps = number(&value)?,
            "--passes" => args.passes = number(&value)?,
            "--scale" => args.scale = number(&value)?,
            "--dump" => args.dump = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.reps == 0 || args.passes == 0 || args.scale == 0 {
        return Err("--reps, --passes and --scale must be at least 1".into());
    }
    Ok(args)
}

fn pe(e: PolarsError) -> String {
    e.to_string()
}

/// A CSV (gunzipped if `.gz`) with every column read as text.
fn read_csv(path: &Path) -> Res<DataFrame> {
    let bytes = bullpen_connectors::files::read_bytes(path).map_err(|e| e.to_string())?;
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn texts(df: &DataFrame, name: &str) -> Res<Vec<Option<String>>> {
    let column = df.column(name).map_err(|e| format!("column {name}: {e}"))?;
    Ok(column.str().map_err(pe)?.iter().map(|v| v.map(str::to_string)).collect())
}

/// Numbers of a text column: empty, `null` and `NaN` cells are missing.
fn numbers(df: &DataFrame, name: &str) -> Res<Vec<Option<f64>>> {
    Ok(texts(df, name)?
        .into_iter()
        .map(|v| v.and_then(|s| s.trim().parse::<f64>().ok()).filter(|x| !x.is_nan()))
        .collect())
}

fn date(s: &str, format: &str) -> Res<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), format).map_err(|e| format!("date {s:?}: {e}"))
}

/// The fundamentals CSV as the wide statements frame of [`period_ratios`].
fn load_fundamentals(path: &Path) -> Res<DataFrame> {
    let raw = read_csv(path)?;
    let n = raw.height();
    let tickers: Vec<String> =
        texts(&raw, "TickerSymbol")?.into_iter().map(Option::unwrap_or_default).collect();
    let ends: Vec<NaiveDate> = texts(&raw, "PeriodEnding")?
        .into_iter()
        .map(|s| date(&s.unwrap_or_default(), "%Y-%m-%d"))
        .collect::<Res<_>>()?;
    // ForYear when given, else the calendar year of the period end.
    let years: Vec<i32> = numbers(&raw, "ForYear")?
        .into_iter()
        .zip(&ends)
        .map(|(fy, end)| fy.map_or(end.year(), |y| y as i32))
        .collect();
    let mut columns = vec![
        Column::new("ticker".into(), tickers),
        Column::new("fiscal_year".into(), years),
        Column::new("fiscal_period".into(), vec!["FY"; n]),
        Column::new("end".into(), ends),
        Column::new("price".into(), vec![None::<f64>; n]),
    ];
    for item in LineItem::ALL {
        let source = match item {
            LineItem::Revenue => Some("TotalRevenue"),
            LineItem::CostOfRevenue => Some("CostofRevenue"),
            LineItem::GrossProfit => Some("GrossProfit"),
            LineItem::OperatingIncome => Some("OperatingIncome"),
            LineItem::PretaxIncome => Some("EarningsBeforeTax"),
            LineItem::IncomeTax => Some("IncomeTax"),
            LineItem::NetIncome => Some("NetIncome"),
            LineItem::InterestExpense => Some("InterestExpense"),
            LineItem::DepreciationAmortization => Some("Depreciation"),
            // One EPS column in the data set.
            LineItem::EpsBasic | LineItem::EpsDiluted => Some("EarningsPerShare"),
            LineItem::SharesOutstanding => Some("EstimatedSharesOutstanding"),
            LineItem::TotalAssets => Some("TotalAssets"),
            LineItem::CurrentAssets => Some("TotalCurrentAssets"),
            LineItem::CurrentLiabilities => Some("TotalCurrentLiabilities"),
            LineItem::TotalLiabilities => Some("TotalLiabilities"),
            LineItem::StockholdersEquity => Some("TotalEquity"),
            LineItem::Cash => Some("CashandCashEquivalents"),
            LineItem::LongTermDebt => Some("Long-TermDebt"),
            LineItem::ShortTermDebt => Some("Short-TermDebt/CurrentPortionofLong-TermDebt"),
            LineItem::OperatingCashFlow => Some("NetCashFlow-Operating"),
            LineItem::CapitalExpenditure => Some("CapitalExpenditures"),
            _ => None,
        };
        let mut values = match source {
            Some(name) => numbers(&raw, name)?,
            None => vec![None; n],
        };
        // Capital expenditures are reported as cash outflows (negative).
        if item == LineItem::CapitalExpenditure {
            values.iter_mut().for_each(|v| *v = v.map(|x| -x));
        }
        columns.push(Column::new(item.as_str().into(), values));
    }
    DataFrame::new_infer_height(columns).map_err(pe)
}

/// `k` copies of the wide frame, the tickers of copy `i` suffixed with `#i` (none for k = 1).
fn scaled(wide: DataFrame, k: usize) -> Res<DataFrame> {
    if k == 1 {
        return Ok(wide);
    }
    let tickers = texts(&wide, "ticker")?;
    let mut out: Option<DataFrame> = None;
    for i in 0..k {
        let suffixed: Vec<String> =
            tickers.iter().map(|t| format!("{}#{i}", t.as_deref().unwrap_or_default())).collect();
        let mut copy = wide.clone();
        copy.with_column(Column::new("ticker".into(), suffixed)).map_err(pe)?;
        match out.as_mut() {
            None => out = Some(copy),
            Some(df) => {
                df.vstack_mut(&copy).map_err(pe)?;
            }
        }
    }
    let mut df = out.unwrap_or(wide);
    df.rechunk_mut();
    Ok(df)
}

/// Daily prices of every `TICKER.csv` of a directory as one long frame (`ticker`, `date`,
/// `high`, `low`, `close`, `adj_close`); rows with a missing price are dropped.
fn load_prices(dir: &Path) -> Res<(DataFrame, usize)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    let (mut ticker, mut dates) = (Vec::new(), Vec::new());
    let (mut high, mut low, mut close, mut adj) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for path in &paths {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let raw = read_csv(path)?;
        let d = texts(&raw, "Date")?;
        let (h, l, c, a) = (
            numbers(&raw, "High")?,
            numbers(&raw, "Low")?,
            numbers(&raw, "Close")?,
            numbers(&raw, "Adj Close")?,
        );
        for i in 0..raw.height() {
            if let (Some(d), Some(h), Some(l), Some(c), Some(a)) = (&d[i], h[i], l[i], c[i], a[i]) {
                ticker.push(name.clone());
                dates.push(date(d, "%Y-%m-%d")?);
                high.push(h);
                low.push(l);
                close.push(c);
                adj.push(a);
            }
        }
    }
    let df = df!(
        "ticker" => ticker, "date" => dates, "high" => high, "low" => low, "close" => close, "adj_close" => adj,
    )
    .map_err(pe)?;
    Ok((df, paths.len()))
}

/// The index (`Date` as M/D/YYYY, `Adj Close`) as `date`, `adj_close`.
fn load_index(path: &Path) -> Res<DataFrame> {
    let raw = read_csv(path)?;
    let (mut dates, mut adj) = (Vec::new(), Vec::new());
    for (d, a) in texts(&raw, "Date")?.into_iter().zip(numbers(&raw, "Adj Close")?) {
        if let (Some(d), Some(a)) = (d, a) {
            dates.push(date(&d, "%m/%d/%Y")?);
            adj.push(a);
        }
    }
    df!("date" => dates, "adj_close" => adj).map_err(pe)
}

/// Month ends from September 2013 to August 2017 (48 dates).
fn month_ends() -> Vec<NaiveDate> {
    (0..48)
        .map(|i| {
            let (y, m) = (2013 + (8 + i) / 12, (8 + i) % 12 + 1);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            NaiveDate::from_ymd_opt(ny, nm as u32, 1).unwrap().pred_opt().unwrap()
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn write_csv(df: &mut DataFrame, path: PathBuf) -> Res<()> {
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    CsvWriter::new(file)
        .with_float_scientific(Some(true))
        .with_float_precision(Some(17))
        .finish(df)
        .map_err(pe)
}

fn run(args: Args) -> Res<serde_json::Value> {
    // Fundamentals → ratios.
    let wide = scaled(load_fundamentals(&args.fundamentals)?, args.scale)?;
    let first = period_ratios(wide.clone().lazy()).map_err(pe)?.collect().map_err(pe)?; // warm-up
    let mut times = Vec::with_capacity(args.reps);
    let started = Instant::now();
    for _ in 0..args.reps {
        let t = Instant::now();
        let out = period_ratios(wide.clone().lazy()).map_err(pe)?.collect().map_err(pe)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(out);
    }
    let ratio_s = started.elapsed().as_secs_f64();
    let ratio_median_ms = median(times);

    // Prices → market metrics and betas.
    let (prices, tickers) = load_prices(&args.prices)?;
    let index = load_index(&args.index)?;
    let dates = month_ends();
    let mut kept = Vec::with_capacity(dates.len());
    let mut times = Vec::with_capacity(dates.len() * args.passes);
    let started = Instant::now();
    for pass in 0..args.passes {
        for &as_of in &dates {
            let t = Instant::now();
            let metrics = market_metrics(prices.clone().lazy(), Some(index.clone().lazy()), as_of)
                .map_err(pe)?
                .collect()
                .map_err(pe)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if pass == 0 {
                kept.push((as_of, metrics));
            }
        }
    }
    let market_s = started.elapsed().as_secs_f64();
    let market_median_ms = median(times);

    // Agreement material, after the timing.
    let mut ratio_sums = serde_json::Map::new();
    for def in RATIOS {
        let sum = first.column(def.name).map_err(pe)?.as_materialized_series().sum::<f64>().map_err(pe)?;
        ratio_sums.insert(def.name.to_string(), serde_json::json!(sum));
    }
    let market_rows: usize = kept.iter().map(|(_, m)| m.height()).sum();
    if let Some(prefix) = &args.dump {
        let mut cols = vec![col("ticker"), col("end"), col("fiscal_year"), col("prior_revenue")];
        cols.extend(RATIOS.iter().map(|d| col(d.name)));
        let mut ratios = first.clone().lazy().select(cols).collect().map_err(pe)?;
        write_csv(&mut ratios, PathBuf::from(format!("{}_ratios.csv", prefix.display())))?;
        let frames: Vec<LazyFrame> = kept
            .into_iter()
            .map(|(as_of, m)| m.lazy().with_column(lit(as_of).cast(DataType::Date).alias("as_of")))
            .collect();
        let mut market = concat(frames, UnionArgs::default()).map_err(pe)?.collect().map_err(pe)?;
        write_csv(&mut market, PathBuf::from(format!("{}_market.csv", prefix.display())))?;
    }

    let threads = std::env::var("POLARS_MAX_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    Ok(serde_json::json!({
        "impl": "bullpen polars",
        "ratios": {
            "collects_per_s": round(args.reps as f64 / ratio_s, 1),
            "rows_per_s": round((first.height() * args.reps) as f64 / ratio_s, 0),
            "median_ms": round(ratio_median_ms, 3),
            "reps": args.reps,
            "scale": args.scale,
            "rows": first.height(),
            "tickers": wide.column("ticker").map_err(pe)?.n_unique().map_err(pe)?,
            "seconds": round(ratio_s, 3),
            "sums": ratio_sums,
        },
        "market": {
            "as_of_per_s": round((dates.len() * args.passes) as f64 / market_s, 2),
            "median_ms": round(market_median_ms, 3),
            "dates": dates.len(),
            "passes": args.passes,
            "tickers": tickers,
            "price_rows": prices.height(),
            "rows_out": market_rows,
            "seconds": round(market_s, 3),
        },
        "threads": threads,
    }))
}

fn main() {
    match parse_args().and_then(run) {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("ratios bench: {e}");
            std::process::exit(1);
        }
    }
}

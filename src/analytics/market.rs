//! Market metrics as of a date, for many tickers in one polars query: 52-week high (daily
//! highs) and low (daily lows), 1/3/12-month returns, annualised volatility, beta against an
//! index, maximum drawdown. Returns use adjusted closes, so a split day is not a crash.

use chrono::{Months, NaiveDate};
use polars::prelude::*;

/// Trading days per year used to annualise volatility.
pub const TRADING_DAYS: f64 = 252.0;

/// Calendar window of the trailing-year metrics.
pub fn window_start(as_of: NaiveDate) -> NaiveDate {
    as_of.checked_sub_months(Months::new(12)).unwrap_or(as_of)
}

/// The as-of date minus `months` calendar months.
pub fn months_before(as_of: NaiveDate, months: u32) -> NaiveDate {
    as_of.checked_sub_months(Months::new(months)).unwrap_or(as_of)
}

/// One row per ticker: `last_date`, `last_close`, `first_date`, `window_start_date`,
/// `window_days`, `high_52w`, `low_52w`, `volatility`, `max_drawdown`, and for each horizon
/// `adj_Nm` / `date_Nm` (the last adjusted close on or before as-of − N months) and
/// `return_Nm`; with an index (`date`, `adj_close`) also `beta` (cov(r, r_index) /
/// var(r_index) of daily adjusted returns over the trailing year, on the dates both traded)
/// and `beta_days`. One sort and one pass over the returns. `prices` needs `ticker` (str),
/// `date` (date), `high`, `low`, `close`, `adj_close` (f64).
pub fn market_metrics(
    prices: LazyFrame,
    index: Option<LazyFrame>,
    as_of: NaiveDate,
) -> PolarsResult<LazyFrame> {
    let start = window_start(as_of);
    let in_window = col("date").gt(lit(start));
    let has_index = index.is_some();
    let mut prices = prices.filter(col("date").lt_eq(lit(as_of)));
    if let Some(index) = index {
        prices = prices.join(
            index_returns(index, as_of),
            [col("date")],
            [col("date")],
            JoinArgs::new(JoinType::Left),
        );
    }
    let ret =
        (col("adj_close") / col("adj_close").shift(lit(1)).over([col("ticker")])? - lit(1.0)).alias("ret");
    let mut aggs = vec![
        col("date").max().alias("last_date"),
        col("date").min().alias("first_date"),
        col("close").last().alias("last_close"),
        col("adj_close").last().alias("last_adj"),
        col("date").filter(in_window.clone()).min().alias("window_start_date"),
        col("ret").filter(in_window.clone()).count().alias("window_days"),
        col("high").filter(in_window.clone()).max().alias("high_52w"),
        col("low").filter(in_window.clone()).min().alias("low_52w"),
        (col("ret").filter(in_window.clone()).std(1) * lit(TRADING_DAYS.sqrt())).alias("volatility"),
        (col("adj_close").filter(in_window.clone())
            / col("adj_close").filter(in_window.clone()).cum_max(false)
            - lit(1.0))
        .min()
        .alias("max_drawdown"),
    ];
    for m in [1u32, 3, 12] {
        let before = col("date").lt_eq(lit(months_before(as_of, m)));
        aggs.push(col("adj_close").filter(before.clone()).last().alias(format!("adj_{m}m")));
        aggs.push(col("date").filter(before).last().alias(format!("date_{m}m")));
    }
    if has_index {
        let both = in_window.and(col("ret").is_not_null()).and(col("ret_index").is_not_null());
        aggs.push(
            (cov(col("ret").filter(both.clone()), col("ret_index").filter(both.clone()), 1)
                / col("ret_index").filter(both.clone()).var(1))
            .alias("beta"),
        );
        aggs.push(col("ret").filter(both).count().alias("beta_days"));
    }
    let mut out = prices
        .sort(["ticker", "date"], SortMultipleOptions::default())
        .with_column(ret)
        .group_by_stable([col("ticker")])
        .agg(aggs);
    for m in [1u32, 3, 12] {
        out = out.with_column(
            (col("last_adj") / col(format!("adj_{m}m")) - lit(1.0)).alias(format!("return_{m}m")),
        );
    }
    Ok(out)
}

/// Daily returns of an index series up to `as_of`: `date`, `ret_index`.
fn index_returns(index: LazyFrame, as_of: NaiveDate) -> LazyFrame {
    index
        .filter(col("date").lt_eq(lit(as_of)))
        .sort(["date"], SortMultipleOptions::default())
        .with_column((col("adj_close") / col("adj_close").shift(lit(1)) - lit(1.0)).alias("ret_index"))
        .select([col("date"), col("ret_index")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn window_high_low_returns_drawdown_and_beta() {
        // 400 calendar days of a stock that doubles each ~year and has one bad day; the index
        // moves at half the stock's daily return, so beta is 2.
        let start = d("2023-01-01");
        let n = 500;
        let dates: Vec<NaiveDate> = (0..n).map(|i| start + chrono::Days::new(i)).collect();
        let mut adj = vec![100.0f64];
        let mut idx = vec![1000.0f64];
        for i in 1..n as usize {
            let r = if i == 450 { -0.2 } else { 0.002 * ((i % 7) as f64 - 3.0) / 3.0 + 0.001 };
            adj.push(adj[i - 1] * (1.0 + r));
            idx.push(idx[i - 1] * (1.0 + r / 2.0));
        }
        let high: Vec<f64> = adj.iter().map(|x| x * 1.01).collect();
        let low: Vec<f64> = adj.iter().map(|x| x * 0.99).collect();
        let df = df!(
            "ticker" => vec!["S"; n as usize],
            "date" => dates.clone(),
            "high" => high.clone(),
            "low" => low.clone(),
            "close" => adj.clone(),
            "adj_close" => adj.clone(),
        )
        .unwrap();
        let as_of = d("2024-05-01");
        let k = dates.iter().position(|x| *x == as_of).unwrap();
        let out = market_metrics(df.clone().lazy(), None, as_of).unwrap().collect().unwrap();
        let f = |c: &str| out.column(c).unwrap().f64().unwrap().get(0).unwrap();
        let ws = window_start(as_of);
        let win: Vec<usize> = (0..=k).filter(|&i| dates[i] > ws).collect();
        let hi = win.iter().map(|&i| high[i]).fold(f64::MIN, f64::max);
        let lo = win.iter().map(|&i| low[i]).fold(f64::MAX, f64::min);
        assert!((f("high_52w") - hi).abs() < 1e-9 && (f("low_52w") - lo).abs() < 1e-9);
        let j = dates.iter().rposition(|x| *x <= months_before(as_of, 3)).unwrap();
        assert!((f("return_3m") - (adj[k] / adj[j] - 1.0)).abs() < 1e-12);
        assert!(f("max_drawdown") < -0.19 && f("max_drawdown") > -0.21, "the -20% day is in the window");

        let index = df!("date" => dates, "adj_close" => idx).unwrap();
        let both = market_metrics(df.lazy(), Some(index.lazy()), as_of).unwrap().collect().unwrap();
        let g = |c: &str| both.column(c).unwrap().f64().unwrap().get(0).unwrap();
        let beta = g("beta");
        assert!((beta - 2.0).abs() < 1e-9, "beta {beta}");
        assert!((g("high_52w") - hi).abs() < 1e-12);
        assert_eq!(
            both.column("beta_days").unwrap().u32().unwrap().get(0),
            out.column("window_days").unwrap().u32().unwrap().get(0)
        );
    }
}

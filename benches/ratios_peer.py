#!/usr/bin/env python3
"""Fundamental ratios and market metrics in pandas: the peer of benches/ratios.rs.

Same data, same mapping to the wide statements frame, same formulas and rules as
src/analytics/ratios.rs (`period_ratios`) and src/analytics/market.rs (`price_metrics`,
`betas`), same repetitions. Loading is not timed. Prints one JSON object with the keys of
the Rust bench; `--dump PREFIX` writes PREFIX_ratios.csv and PREFIX_market.csv (outputs of
the first repetition / pass) for the agreement check of benches/run_ratios.sh.

    python3 benches/ratios_peer.py [--fundamentals CSV] [--prices DIR] [--index CSV.GZ]
        [--reps 200] [--passes 3] [--scale 1] [--dump PREFIX]
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FUNDAMENTALS = ROOT / ".." / "shared" / "data" / "fundamentals" / "nyse_fundamentals_2012_2016.csv"
DEFAULT_PRICES = ROOT / ".." / "shared" / "data" / "market" / "stocknet_prices_2012_2017"
DEFAULT_INDEX = ROOT / ".." / "shared" / "data" / "market" / "arch_sp500.csv.gz"
TRADING_DAYS = 252.0

# LineItem (snake_case) → column of the fundamentals CSV; absent → all missing.
LINE_ITEMS = {
    "revenue": "TotalRevenue",
    "cost_of_revenue": "CostofRevenue",
    "gross_profit": "GrossProfit",
    "operating_income": "OperatingIncome",
    "pretax_income": "EarningsBeforeTax",
    "income_tax": "IncomeTax",
    "net_income": "NetIncome",
    "interest_expense": "InterestExpense",
    "depreciation_amortization": "Depreciation",
    "eps_basic": "EarningsPerShare",
    "eps_diluted": "EarningsPerShare",
    "shares_basic": None,
    "shares_diluted": None,
    "shares_outstanding": "EstimatedSharesOutstanding",
    "total_assets": "TotalAssets",
    "current_assets": "TotalCurrentAssets",
    "current_liabilities": "TotalCurrentLiabilities",
    "total_liabilities": "TotalLiabilities",
    "stockholders_equity": "TotalEquity",
    "cash": "CashandCashEquivalents",
    "long_term_debt": "Long-TermDebt",
    "short_term_debt": "Short-TermDebt/CurrentPortionofLong-TermDebt",
    "operating_cash_flow": "NetCashFlow-Operating",
    "capital_expenditure": "CapitalExpenditures",
    "dividends_paid": None,
    "dividends_per_share": None,
}

RATIO_COLUMNS = [
    "revenue_growth", "gross_margin", "operating_margin", "net_margin", "ebitda", "ebitda_margin",
    "free_cash_flow", "fcf_conversion", "roe", "roa", "roic", "debt_to_equity", "current_ratio",
    "interest_coverage", "eps_basic", "eps_diluted", "market_cap", "pe", "pb", "ps", "ev_ebitda",
    "dividend_yield",
]


def load_fundamentals(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, index_col=0)
    end = pd.to_datetime(raw["PeriodEnding"], format="%Y-%m-%d")
    wide = pd.DataFrame(
        {
            "ticker": raw["TickerSymbol"].astype(str),
            # ForYear when given, else the calendar year of the period end.
            "fiscal_year": raw["ForYear"].fillna(end.dt.year).astype("int32"),
            "fiscal_period": "FY",
            "end": end,
            "price": np.nan,
        }
    )
    for item, source in LINE_ITEMS.items():
        wide[item] = raw[source].astype("float64") if source else np.nan
    # Capital expenditures are reported as cash outflows (negative).
    wide["capital_expenditure"] = -wide["capital_expenditure"]
    return wide.reset_index(drop=True)


def period_ratios(wide: pd.DataFrame) -> pd.DataFrame:
    """The columns of ratios.rs `period_ratios`: same prior-year rule, same guards."""
    # Prior-year revenue by a join on (ticker, fiscal period, fiscal year − 1), as ratios.rs
    # does; a label that occurs twice for a ticker has no unambiguous prior (NaN).
    keys = ["ticker", "fiscal_period", "fiscal_year"]
    prev = wide[keys + ["revenue"]].assign(fiscal_year=wide["fiscal_year"] + 1)
    prev = prev.groupby(keys, sort=False).agg(prior_revenue=("revenue", "first"), prior_rows=("revenue", "size"))
    prev["prior_revenue"] = prev["prior_revenue"].where(prev["prior_rows"] == 1)
    df = wide.merge(prev[["prior_revenue"]].reset_index(), on=keys, how="left")
    prior_revenue = df["prior_revenue"]

    revenue, oi, ni = df["revenue"], df["operating_income"], df["net_income"]
    equity, cash, price = df["stockholders_equity"], df["cash"], df["price"]
    debt = df["long_term_debt"] + df["short_term_debt"]
    # Weighted diluted shares (split-restated like the prices), else the cover-page count.
    shares = df["shares_diluted"].fillna(df["shares_outstanding"])
    invested = equity + debt - cash
    ebitda = oi + df["depreciation_amortization"]
    market_cap = price * shares
    gross = df["gross_profit"].fillna(revenue - df["cost_of_revenue"])
    fcf = df["operating_cash_flow"] - df["capital_expenditure"]
    tax_rate = df["income_tax"] / df["pretax_income"]
    annual = df["fiscal_period"] == "FY"
    rev_pos, eq_pos = revenue > 0, equity > 0

    out = {
        "prior_revenue": prior_revenue,
        "shares": shares,
        "invested_capital": invested,
        "ebitda": ebitda,
        "revenue_growth": (revenue / prior_revenue - 1.0).where(prior_revenue > 0),
        "gross_margin": (gross / revenue).where(rev_pos),
        "operating_margin": (oi / revenue).where(rev_pos),
        "net_margin": (ni / revenue).where(rev_pos),
        "ebitda_margin": (ebitda / revenue).where(rev_pos),
        "free_cash_flow": fcf,
        "fcf_conversion": (fcf / ni).where(ni > 0),
        "roe": (ni / equity).where(eq_pos),
        "roa": (ni / df["total_assets"]).where(df["total_assets"] > 0),
        "roic": (oi * (1.0 - tax_rate) / invested).where((df["pretax_income"] > 0) & (invested > 0)),
        "debt_to_equity": (debt / equity).where(eq_pos),
        "current_ratio": (df["current_assets"] / df["current_liabilities"]).where(df["current_liabilities"] > 0),
        "interest_coverage": (oi / df["interest_expense"]).where(df["interest_expense"] > 0),
        "market_cap": market_cap,
        "pe": (price / df["eps_diluted"]).where(annual & (df["eps_diluted"] > 0)),
        "pb": (market_cap / equity).where(annual & eq_pos),
        "ps": (market_cap / revenue).where(annual & rev_pos),
        "ev_ebitda": ((market_cap + debt - cash) / ebitda).where(annual & (ebitda > 0)),
        "dividend_yield": (df["dividends_per_share"] / price)
        .fillna(df["dividends_paid"] / market_cap)
        .where(annual),
    }
    # eps_basic / eps_diluted are reported as they are: already columns of the frame.
    return pd.concat([df, pd.DataFrame(out, index=df.index)], axis=1)


def load_prices(directory: Path) -> tuple[pd.DataFrame, int]:
    """Every TICKER.csv as one long frame; rows with a missing price are dropped."""
    paths = sorted(directory.glob("*.csv"))
    frames = []
    for path in paths:
        raw = pd.read_csv(path)
        raw = raw.dropna(subset=["Date", "High", "Low", "Close", "Adj Close"])
        frames.append(
            pd.DataFrame(
                {
                    "ticker": path.stem,
                    "date": pd.to_datetime(raw["Date"], format="%Y-%m-%d"),
                    "high": raw["High"].astype("float64"),
                    "low": raw["Low"].astype("float64"),
                    "close": raw["Close"].astype("float64"),
                    "adj_close": raw["Adj Close"].astype("float64"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True), len(paths)


def load_index(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path).dropna(subset=["Date", "Adj Close"])
    return pd.DataFrame(
        {"date": pd.to_datetime(raw["Date"], format="%m/%d/%Y"), "adj_close": raw["Adj Close"].astype("float64")}
    ).reset_index(drop=True)


def market(prices: pd.DataFrame, index: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """price_metrics + betas of market.rs for one as-of date: one row per ticker."""
    start = as_of - pd.DateOffset(months=12)
    p = prices[prices["date"] <= as_of].sort_values(["ticker", "date"], kind="stable")
    p = p.assign(ret=p["adj_close"] / p.groupby("ticker", sort=False)["adj_close"].shift(1) - 1.0)
    g = p.groupby("ticker", sort=False)
    out = pd.DataFrame(
        {
            "last_date": g["date"].max(),
            "first_date": g["date"].min(),
            "last_close": g["close"].last(),
            "last_adj": g["adj_close"].last(),
        }
    )
    w = p[p["date"] > start]
    gw = w.groupby("ticker", sort=False)
    out["window_start_date"] = gw["date"].min()
    out["window_days"] = gw["ret"].count()
    out["window_days"] = out["window_days"].fillna(0).astype("int64")
    out["high_52w"] = gw["high"].max()
    out["low_52w"] = gw["low"].min()
    out["volatility"] = gw["ret"].std(ddof=1) * math.sqrt(TRADING_DAYS)
    drawdown = w["adj_close"] / gw["adj_close"].cummax() - 1.0
    out["max_drawdown"] = drawdown.groupby(w["ticker"], sort=False).min()
    for m in (1, 3, 12):
        before = p[p["date"] <= as_of - pd.DateOffset(months=m)].groupby("ticker", sort=False)
        out[f"adj_{m}m"] = before["adj_close"].last()
        out[f"date_{m}m"] = before["date"].last()
    for m in (1, 3, 12):
        out[f"return_{m}m"] = out["last_adj"] / out[f"adj_{m}m"] - 1.0

    # Beta: cov / var of daily returns on the dates both traded, within the window.
    idx = index[index["date"] <= as_of].sort_values("date", kind="stable")
    idx = pd.DataFrame({"date": idx["date"], "ret_index": idx["adj_close"] / idx["adj_close"].shift(1) - 1.0})
    j = p[["ticker", "date", "ret"]].merge(idx, on="date", how="inner")
    j = j[(j["date"] > start) & j["ret"].notna() & j["ret_index"].notna()]
    gj = j.groupby("ticker", sort=False)
    dx = j["ret"] - gj["ret"].transform("mean")
    dy = j["ret_index"] - gj["ret_index"].transform("mean")
    n = gj["ret"].count()
    cov = (dx * dy).groupby(j["ticker"], sort=False).sum() / (n - 1)
    var = (dy * dy).groupby(j["ticker"], sort=False).sum() / (n - 1)
    out["beta"] = cov / var
    # A ticker with no day in common with the index has a count of 0 (and no beta), as in polars.
    out["beta_days"] = n.reindex(out.index).fillna(0).astype("int64")
    out.index.name = "ticker"
    return out.reset_index()


def month_ends() -> list[pd.Timestamp]:
    return list(pd.date_range("2013-09-30", "2017-08-31", freq="ME"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fundamentals", type=Path, default=DEFAULT_FUNDAMENTALS)
    parser.add_argument("--prices", type=Path, default=DEFAULT_PRICES)
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1, help="stack K copies of the wide frame (tickers suffixed #i)")
    parser.add_argument("--dump", type=str, default=None, help="write PREFIX_ratios.csv and PREFIX_market.csv")
    args = parser.parse_args()

    # Fundamentals → ratios.
    wide = load_fundamentals(args.fundamentals)
    if args.scale > 1:
        wide = pd.concat([wide.assign(ticker=wide["ticker"] + f"#{i}") for i in range(args.scale)], ignore_index=True)
    first = period_ratios(wide)  # warm-up
    times = []
    started = time.perf_counter()
    for _ in range(args.reps):
        t = time.perf_counter()
        period_ratios(wide)
        times.append((time.perf_counter() - t) * 1000)
    ratio_s = time.perf_counter() - started

    # Prices → market metrics and betas.
    prices, tickers = load_prices(args.prices)
    index = load_index(args.index)
    dates = month_ends()
    kept = []
    mtimes = []
    started = time.perf_counter()
    for pass_ in range(args.passes):
        for as_of in dates:
            t = time.perf_counter()
            out = market(prices, index, as_of)
            mtimes.append((time.perf_counter() - t) * 1000)
            if pass_ == 0:
                kept.append(out.assign(as_of=as_of))
    market_s = time.perf_counter() - started

    if args.dump:
        cols = ["ticker", "end", "fiscal_year", "prior_revenue", *RATIO_COLUMNS]
        first[cols].to_csv(f"{args.dump}_ratios.csv", index=False, float_format="%.17g", date_format="%Y-%m-%d")
        pd.concat(kept, ignore_index=True).to_csv(
            f"{args.dump}_market.csv", index=False, float_format="%.17g", date_format="%Y-%m-%d"
        )

    print(
        json.dumps(
            {
                "impl": "pandas",
                "ratios": {
                    "collects_per_s": round(args.reps / ratio_s, 1),
                    "rows_per_s": round(len(first) * args.reps / ratio_s),
                    "median_ms": round(float(np.median(times)), 3),
                    "reps": args.reps,
                    "scale": args.scale,
                    "rows": len(first),
                    "tickers": int(wide["ticker"].nunique()),
                    "seconds": round(ratio_s, 3),
                    "sums": {c: float(first[c].sum()) for c in RATIO_COLUMNS},
                },
                "market": {
                    "as_of_per_s": round(len(dates) * args.passes / market_s, 2),
                    "median_ms": round(float(np.median(mtimes)), 3),
                    "dates": len(dates),
                    "passes": args.passes,
                    "tickers": tickers,
                    "price_rows": len(prices),
                    "rows_out": int(sum(len(k) for k in kept)),
                    "seconds": round(market_s, 3),
                },
                "threads": 1,
                "pandas_version": pd.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

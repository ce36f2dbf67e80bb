//! Vectorised daily backtests of rule-based long/flat strategies, without look-ahead.
//!
//! A strategy turns adjusted closes into a target position per bar ([`positions`]): the
//! target of bar `t` is decided at its close from `close[..=t]` only. It is held over bar
//! `t + 1` (signal at the close, trade at the next bar), so the strategy return of bar `t` is
//! `held[t] * (close[t] / close[t - 1] - 1) - cost * |held[t] - held[t - 1]|`, with
//! `cost = (commission_bps + slippage_bps) / 1e4` charged on the bar the trade takes effect.
//! The first bar is flat and equity starts at 1.0 on it. The engine accepts any target in
//! [-1, 1] (long/short); the built-in strategies are long/flat.
//!
//! [`backtest`] compares a strategy with buy-and-hold of the same asset (held from the first
//! close, no cost) and optionally a benchmark index; [`choose`] picks parameters from a fixed
//! grid on a training window and scores the choice out of sample.

use std::fmt;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::market::TRADING_DAYS;

/// Calendar days per year, for `years` and CAGR.
const DAYS_PER_YEAR: f64 = 365.25;

/// Invalid inputs or parameters of a backtest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    /// A series does not have one value per date.
    #[error("{what} has {got} values but there are {expected} dates")]
    LengthMismatch {
        /// The series (`close`, `index`, `targets`).
        what: &'static str,
        /// The number of dates.
        expected: usize,
        /// The number of values.
        got: usize,
    },
    /// Too few bars for the strategy's window or for a return.
    #[error("{what} needs at least {needed} bars, got {got}")]
    TooFewBars {
        /// What needs the bars (a strategy label, a window).
        what: String,
        /// Bars needed.
        needed: usize,
        /// Bars given.
        got: usize,
    },
    /// A close is not finite or not positive.
    #[error("price at index {index}{} is {value}: prices must be finite and positive", on_date(.date))]
    BadPrice {
        /// Position in the series.
        index: usize,
        /// Its date, when dates are known.
        date: Option<NaiveDate>,
        /// The offending value.
        value: f64,
    },
    /// Dates are not strictly increasing.
    #[error("dates must be strictly increasing: {date} at index {index} does not follow {previous}")]
    DatesNotIncreasing {
        /// Position of the offending date.
        index: usize,
        /// The offending date.
        date: NaiveDate,
        /// The date before it.
        previous: NaiveDate,
    },
    /// A target position is not finite or outside [-1, 1].
    #[error("target position at index {index} is {value}: targets must be finite and within [-1, 1]")]
    BadTarget {
        /// Position in the series.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A strategy, cost or split parameter is invalid.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// No grid point's window fits the training window.
    #[error("no {kind} grid point fits the {bars}-bar training window")]
    NoGridPointFits {
        /// The strategy family.
        kind: StrategyKind,
        /// Bars in the training window.
        bars: usize,
    },
}

fn on_date(date: &Option<NaiveDate>) -> String {
    date.map(|d| format!(" ({d})")).unwrap_or_default()
}

/// A rule-based strategy; every rule is evaluated at the close of each bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// Long while SMA(fast) > SMA(slow) of the closes, flat otherwise.
    SmaCross {
        /// Fast moving-average window, in bars.
        fast: usize,
        /// Slow moving-average window, in bars (> fast).
        slow: usize,
    },
    /// Long while close / close `lookback` bars ago - 1 > 0, flat otherwise.
    Momentum {
        /// Lookback, in bars.
        lookback: usize,
    },
    /// z = (close - SMA(window)) / rolling std(window) (ddof 1): enter long when
    /// z < -entry_z, exit when z > -exit_z. A window with zero std gives no z (position kept).
    MeanReversion {
        /// Rolling window, in bars (>= 2).
        window: usize,
        /// Entry threshold: long below -entry_z.
        entry_z: f64,
        /// Exit threshold: flat above -exit_z (exit_z <= entry_z).
        exit_z: f64,
    },
    /// Long from the first close on.
    BuyAndHold,
}

impl Strategy {
    /// A short human-readable name, e.g. "SMA 20/50 cross".
    pub fn label(&self) -> String {
        match self {
            Self::SmaCross { fast, slow } => format!("SMA {fast}/{slow} cross"),
            Self::Momentum { lookback } => format!("Momentum {lookback}-day"),
            Self::MeanReversion { window, entry_z, exit_z } => {
                format!("Mean reversion {window}-day (entry z {entry_z}, exit z {exit_z})")
            }
            Self::BuyAndHold => "Buy and hold".to_string(),
        }
    }

    /// The longest window the rule looks back over, in bars (0 for buy-and-hold).
    pub fn window(&self) -> usize {
        match *self {
            Self::SmaCross { slow, .. } => slow,
            Self::Momentum { lookback } => lookback,
            Self::MeanReversion { window, .. } => window,
            Self::BuyAndHold => 0,
        }
    }

    /// Bars a backtest needs: the window plus two.
    pub fn min_bars(&self) -> usize {
        self.window() + 2
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), BacktestError> {
        let bad = |msg: String| Err(BacktestError::InvalidParameter(msg));
        match *self {
            Self::SmaCross { fast, slow } if fast == 0 || slow == 0 => {
                bad(format!("SMA windows must be at least 1, got fast {fast}, slow {slow}"))
            }
            Self::SmaCross { fast, slow } if fast >= slow => {
                bad(format!("SMA fast window ({fast}) must be shorter than the slow window ({slow})"))
            }
            Self::Momentum { lookback: 0 } => bad("momentum lookback must be at least 1".to_string()),
            Self::MeanReversion { window, .. } if window < 2 => {
                bad(format!("mean-reversion window must be at least 2 (rolling std), got {window}"))
            }
            Self::MeanReversion { entry_z, exit_z, .. } if !(entry_z.is_finite() && exit_z.is_finite()) => {
                bad(format!(
                    "mean-reversion thresholds must be finite, got entry_z {entry_z}, exit_z {exit_z}"
                ))
            }
            Self::MeanReversion { entry_z, exit_z, .. } if exit_z > entry_z => {
                bad(format!("mean-reversion exit_z ({exit_z}) must not exceed entry_z ({entry_z})"))
            }
            _ => Ok(()),
        }
    }
}

/// A strategy family whose parameters [`choose`] picks from a fixed grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// [`Strategy::SmaCross`]: fast in [5, 10, 20, 50], slow in [20, 50, 100, 200], fast < slow.
    SmaCross,
    /// [`Strategy::Momentum`]: lookback in [20, 60, 120, 250].
    Momentum,
    /// [`Strategy::MeanReversion`]: window in [10, 20, 50], entry_z in [1, 1.5, 2], exit_z 0.
    MeanReversion,
}

impl StrategyKind {
    /// The parameter grid, in evaluation order.
    pub fn grid(self) -> Vec<Strategy> {
        match self {
            Self::SmaCross => [5, 10, 20, 50]
                .into_iter()
                .flat_map(|fast| {
                    [20, 50, 100, 200]
                        .into_iter()
                        .filter(move |&slow| fast < slow)
                        .map(move |slow| Strategy::SmaCross { fast, slow })
                })
                .collect(),
            Self::Momentum => {
                [20, 60, 120, 250].into_iter().map(|lookback| Strategy::Momentum { lookback }).collect()
            }
            Self::MeanReversion => [10, 20, 50]
                .into_iter()
                .flat_map(|window| {
                    [1.0, 1.5, 2.0].into_iter().map(move |entry_z| Strategy::MeanReversion {
                        window,
                        entry_z,
                        exit_z: 0.0,
                    })
                })
                .collect(),
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SmaCross => "sma_cross",
            Self::Momentum => "momentum",
            Self::MeanReversion => "mean_reversion",
        })
    }
}

/// Trading costs, in basis points of the traded notional, per unit of position change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Costs {
    /// Commission (default 1 bp).
    pub commission_bps: f64,
    /// Slippage (default 2 bp).
    pub slippage_bps: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Self { commission_bps: 1.0, slippage_bps: 2.0 }
    }
}

impl Costs {
    /// Cost as a fraction per unit of position change.
    pub fn per_unit(&self) -> f64 {
        (self.commission_bps + self.slippage_bps) / 1e4
    }

    /// Checks that both costs are finite and non-negative.
    pub fn validate(&self) -> Result<(), BacktestError> {
        for (name, value) in [("commission_bps", self.commission_bps), ("slippage_bps", self.slippage_bps)] {
            let ok = value.is_finite() && value >= 0.0;
            if !ok {
                return Err(BacktestError::InvalidParameter(format!(
                    "{name} must be finite and non-negative, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// Performance statistics of a daily return series (252 trading days a year, risk-free 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metrics {
    /// Final equity / initial equity - 1.
    pub total_return: f64,
    /// Equity_end^(1 / years) - 1; None without elapsed time or with non-positive equity.
    pub cagr: Option<f64>,
    /// Annualised standard deviation (ddof 1) of daily returns; None with fewer than 2.
    pub volatility: Option<f64>,
    /// mean / std (ddof 1) of daily returns * sqrt(252); None when std is 0 or fewer than 2.
    pub sharpe: Option<f64>,
    /// mean / sqrt(mean(min(r, 0)^2)) * sqrt(252); None without a negative return.
    pub sortino: Option<f64>,
    /// Worst peak-to-trough fall of equity, as a non-positive fraction (-0.25 = 25% down).
    pub max_drawdown: f64,
    /// Share of closed trades with a positive net return; None without a closed trade.
    pub hit_rate: Option<f64>,
    /// Sum of |position changes| per year; None without elapsed time.
    pub turnover: Option<f64>,
    /// Positions opened (a position held on the first bar counts as one).
    pub trades: usize,
    /// Share of bars (after the first) with a non-zero position.
    pub exposure: f64,
    /// (last date - first date) in days / 365.25.
    pub years: f64,
}

/// One bar of the equity curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EquityPoint {
    /// The bar's date.
    #[schemars(with = "String")]
    pub date: NaiveDate,
    /// Strategy equity at the close (1.0 on the first bar).
    pub strategy: f64,
    /// Buy-and-hold equity of the asset at the close.
    pub buy_and_hold: f64,
    /// Benchmark index equity at the close, when an index was given.
    pub index: Option<f64>,
    /// Strategy position held over the bar (decided at the previous close).
    pub position: f64,
}

/// One position from entry to exit. Dates are the bars on which the held position changes;
/// prices are the closes the position was conceptually filled at, i.e. the close of the bar
/// before (where the signal was given). A position already held on the first bar is entered
/// at that bar's close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Trade {
    /// First bar held.
    #[schemars(with = "String")]
    pub entry: NaiveDate,
    /// Bar on which the position is closed (or reversed); None while open.
    #[schemars(with = "Option<String>")]
    pub exit: Option<NaiveDate>,
    /// Close before the entry bar.
    pub entry_price: f64,
    /// Close before the exit bar; None while open.
    pub exit_price: Option<f64>,
    /// Net compounded return from entry to exit, entry and exit costs included; None while
    /// open. On a reversal the reversal bar (its return and the whole cost) counts for the new
    /// position.
    pub ret: Option<f64>,
}

/// A backtest of one strategy over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BacktestResult {
    /// The strategy.
    pub strategy: Strategy,
    /// Its label.
    pub label: String,
    /// The costs charged.
    pub costs: Costs,
    /// First bar (equity 1.0).
    #[schemars(with = "String")]
    pub start: NaiveDate,
    /// Last bar.
    #[schemars(with = "String")]
    pub end: NaiveDate,
    /// Bars in the window.
    pub bars: usize,
    /// Strategy statistics.
    pub metrics: Metrics,
    /// Buy-and-hold of the asset over the same bars, no cost.
    pub buy_and_hold: Metrics,
    /// Benchmark index over the same bars, when given.
    pub index: Option<Metrics>,
    /// Equity curves, one point per bar.
    pub equity: Vec<EquityPoint>,
    /// The strategy's positions.
    pub trades: Vec<Trade>,
}

/// The strategy [`choose`] picked on the training window and its out-of-sample backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Chosen {
    /// The chosen parameters.
    pub strategy: Strategy,
    /// Its Sharpe ratio on the training window.
    pub train_sharpe: Option<f64>,
    /// First training bar.
    #[schemars(with = "String")]
    pub train_start: NaiveDate,
    /// Last training bar.
    #[schemars(with = "String")]
    pub train_end: NaiveDate,
    /// Backtest on the test window (the bars after the training window).
    pub result: BacktestResult,
    /// Every grid point that fitted the training window: label and training Sharpe.
    pub grid: Vec<(String, Option<f64>)>,
}

/// Target positions (1 long, 0 flat), one per close: the target of bar `t` uses `close[..=t]`
/// only and is 0 while the strategy's window is not filled. Errors on invalid parameters or a
/// non-finite or non-positive close; a series shorter than the window gives all zeros.
pub fn positions(strategy: &Strategy, close: &[f64]) -> Result<Vec<f64>, BacktestError> {
    strategy.validate()?;
    check_prices(close, None)?;
    let n = close.len();
    let long = |on: bool| if on { 1.0 } else { 0.0 };
    Ok(match *strategy {
        Strategy::BuyAndHold => vec![1.0; n],
        Strategy::SmaCross { fast, slow } => {
            let (fast, slow) = (rolling(close, fast, mean), rolling(close, slow, mean));
            fast.iter().zip(&slow).map(|pair| long(matches!(pair, (Some(f), Some(s)) if f > s))).collect()
        }
        Strategy::Momentum { lookback } => {
            let signals =
                close.iter().skip(lookback).zip(close).map(|(now, then)| long(now / then - 1.0 > 0.0));
            std::iter::repeat_n(0.0, lookback.min(n)).chain(signals).collect()
        }
        Strategy::MeanReversion { window, entry_z, exit_z } => {
            let mut held = false;
            rolling(close, window, zscore)
                .into_iter()
                .map(|z| {
                    if let Some(z) = z {
                        if !held && z < -entry_z {
                            held = true;
                        } else if held && z > -exit_z {
                            held = false;
                        }
                    }
                    long(held)
                })
                .collect()
        }
    })
}

/// Statistics of daily `returns` and positions `held`, both aligned with `dates` (entries
/// beyond the shortest of the three are ignored). `returns[t]` is the return from close
/// `t - 1` to close `t`; `returns[0]` is ignored and `held[0]` is the position at the start
/// (no trade). Returns must be finite; the optional statistics are None rather than NaN.
pub fn metrics(dates: &[NaiveDate], returns: &[f64], held: &[f64]) -> Metrics {
    let n = dates.len().min(returns.len()).min(held.len());
    let (dates, returns, held) = (&dates[..n], &returns[..n], &held[..n]);
    let daily = returns.get(1..).unwrap_or_default();
    let k = daily.len() as f64;

    let (mut equity, mut peak, mut max_drawdown) = (1.0_f64, 1.0_f64, 0.0_f64);
    for r in daily {
        equity *= 1.0 + r;
        peak = peak.max(equity);
        max_drawdown = max_drawdown.min(equity / peak - 1.0);
    }
    let years = match (dates.first(), dates.last()) {
        (Some(first), Some(last)) => (*last - *first).num_days() as f64 / DAYS_PER_YEAR,
        _ => 0.0,
    };
    let cagr = if years > 0.0 && equity > 0.0 { finite(equity.powf(1.0 / years) - 1.0) } else { None };

    let mean = if daily.is_empty() { 0.0 } else { daily.iter().sum::<f64>() / k };
    let std = if daily.len() >= 2 {
        Some((daily.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt())
    } else {
        None
    };
    let annual = TRADING_DAYS.sqrt();
    let sharpe = std.filter(|&s| s > 0.0).and_then(|s| finite(mean / s * annual));
    let downside = (daily.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / k.max(1.0)).sqrt();
    let sortino = if downside > 0.0 { finite(mean / downside * annual) } else { None };

    let moved: f64 = held.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    let turnover = if years > 0.0 { finite(moved / years) } else { None };
    let exposure =
        if daily.is_empty() { 0.0 } else { held[1..].iter().filter(|&&h| h != 0.0).count() as f64 / k };
    let spans = trade_spans(held, returns);
    let closed: Vec<f64> = spans.iter().filter(|s| s.exit.is_some()).map(|s| s.growth - 1.0).collect();
    let hit_rate = if closed.is_empty() {
        None
    } else {
        Some(closed.iter().filter(|&&r| r > 0.0).count() as f64 / closed.len() as f64)
    };

    Metrics {
        total_return: equity - 1.0,
        cagr,
        volatility: std.and_then(|s| finite(s * annual)),
        sharpe,
        sortino,
        max_drawdown,
        hit_rate,
        turnover,
        trades: spans.len(),
        exposure,
        years,
    }
}

/// Backtests `strategy` on the whole series. `index` holds benchmark closes aligned with
/// `dates`; non-finite or non-positive entries are missing and carry the previous value
/// forward (leading missing entries take the first valid one); an index without any valid
/// value is dropped (`index: None` in the result).
pub fn backtest(
    dates: &[NaiveDate],
    close: &[f64],
    index: Option<&[f64]>,
    strategy: &Strategy,
    costs: &Costs,
) -> Result<BacktestResult, BacktestError> {
    validate_series(dates, close)?;
    costs.validate()?;
    strategy.validate()?;
    if close.len() < strategy.min_bars() {
        return Err(BacktestError::TooFewBars {
            what: strategy.label(),
            needed: strategy.min_bars(),
            got: close.len(),
        });
    }
    let index = match index {
        Some(levels) if levels.len() != dates.len() => {
            return Err(BacktestError::LengthMismatch {
                what: "index",
                expected: dates.len(),
                got: levels.len(),
            });
        }
        Some(levels) => fill_forward(levels),
        None => None,
    };
    let targets = positions(strategy, close)?;
    let sim = run_positions(dates, close, &targets, costs)?;
    Ok(assemble(strategy, costs, dates, close, index.as_deref(), sim))
}

/// Picks the parameters of `kind` with the best Sharpe ratio (ties: the first in grid order)
/// on the first `train_fraction` of the bars, then backtests them on the remaining bars. Grid
/// points whose window does not fit the training bars are skipped. Positions of the test
/// window are computed on the whole series, so they may use warm-up bars from the training
/// window (still no look-ahead). Only test bars are scored: equity is 1.0 at the first test
/// close, and a position held then is carried in at no cost.
pub fn choose(
    kind: StrategyKind,
    dates: &[NaiveDate],
    close: &[f64],
    index: Option<&[f64]>,
    costs: &Costs,
    train_fraction: f64,
) -> Result<Chosen, BacktestError> {
    validate_series(dates, close)?;
    costs.validate()?;
    let index = match index {
        Some(levels) if levels.len() != dates.len() => {
            return Err(BacktestError::LengthMismatch {
                what: "index",
                expected: dates.len(),
                got: levels.len(),
            });
        }
        Some(levels) => fill_forward(levels),
        None => None,
    };
    let ok = train_fraction.is_finite() && train_fraction > 0.0 && train_fraction < 1.0;
    if !ok {
        return Err(BacktestError::InvalidParameter(format!(
            "train_fraction must be strictly between 0 and 1, got {train_fraction}"
        )));
    }
    let n = close.len();
    let split = (train_fraction * n as f64).floor() as usize;
    for (what, got) in [("the training window", split), ("the test window", n - split)] {
        if got < 2 {
            return Err(BacktestError::TooFewBars { what: what.to_string(), needed: 2, got });
        }
    }
    let (train_dates, train_close) = (&dates[..split], &close[..split]);

    let mut grid = Vec::new();
    let mut best: Option<(Strategy, Option<f64>)> = None;
    for strategy in kind.grid().into_iter().filter(|s| s.min_bars() <= split) {
        let targets = positions(&strategy, train_close)?;
        let sharpe = run_positions(train_dates, train_close, &targets, costs)?.metrics.sharpe;
        grid.push((strategy.label(), sharpe));
        let better = match (&best, sharpe) {
            (None, _) => true,
            (Some((_, None)), Some(_)) => true,
            (Some((_, Some(top))), Some(s)) => s > *top,
            _ => false,
        };
        if better {
            best = Some((strategy, sharpe));
        }
    }
    let Some((strategy, train_sharpe)) = best else {
        return Err(BacktestError::NoGridPointFits { kind, bars: split });
    };

    let held = held_from_targets(&positions(&strategy, close)?);
    let (dates_w, close_w) = (&dates[split..], &close[split..]);
    let sim = simulate(dates_w, close_w, &held[split..], costs.per_unit());
    Ok(Chosen {
        result: assemble(&strategy, costs, dates_w, close_w, index.as_ref().map(|ix| &ix[split..]), sim),
        strategy,
        train_sharpe,
        train_start: dates[0],
        train_end: dates[split - 1],
        grid,
    })
}

/// A simulated strategy: positions held, equity, trades and statistics, one entry per bar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Simulation {
    /// Position held over each bar (0 on the first).
    pub(crate) held: Vec<f64>,
    /// Equity at each close (1.0 on the first).
    pub(crate) equity: Vec<f64>,
    /// Positions from entry to exit.
    pub(crate) trades: Vec<Trade>,
    /// Statistics of the strategy returns.
    pub(crate) metrics: Metrics,
}

/// Runs arbitrary target positions (decided at each close, in [-1, 1]) through the engine.
pub(crate) fn run_positions(
    dates: &[NaiveDate],
    close: &[f64],
    targets: &[f64],
    costs: &Costs,
) -> Result<Simulation, BacktestError> {
    validate_series(dates, close)?;
    costs.validate()?;
    if targets.len() != close.len() {
        return Err(BacktestError::LengthMismatch {
            what: "targets",
            expected: dates.len(),
            got: targets.len(),
        });
    }
    if let Some((index, &value)) = targets.iter().enumerate().find(|(_, t)| !valid_target(**t)) {
        return Err(BacktestError::BadTarget { index, value });
    }
    Ok(simulate(dates, close, &held_from_targets(targets), costs.per_unit()))
}

fn simulate(dates: &[NaiveDate], close: &[f64], held: &[f64], cost: f64) -> Simulation {
    let returns = strategy_returns(&price_returns(close), held, cost);
    let trades = trade_spans(held, &returns)
        .into_iter()
        .map(|span| Trade {
            entry: dates[span.entry],
            exit: span.exit.map(|x| dates[x]),
            entry_price: close[span.entry.saturating_sub(1)],
            exit_price: span.exit.map(|x| close[x - 1]),
            ret: span.exit.map(|_| span.growth - 1.0),
        })
        .collect();
    Simulation {
        held: held.to_vec(),
        equity: equity_curve(&returns),
        trades,
        metrics: metrics(dates, &returns, held),
    }
}

fn assemble(
    strategy: &Strategy,
    costs: &Costs,
    dates: &[NaiveDate],
    close: &[f64],
    index: Option<&[f64]>,
    sim: Simulation,
) -> BacktestResult {
    let always = vec![1.0; close.len()];
    let hold_returns = price_returns(close);
    let hold_equity = equity_curve(&hold_returns);
    let (index_metrics, index_equity) = match index {
        Some(levels) => {
            let returns = price_returns(levels);
            (Some(metrics(dates, &returns, &always)), Some(equity_curve(&returns)))
        }
        None => (None, None),
    };
    let equity = dates
        .iter()
        .zip(&sim.equity)
        .zip(&hold_equity)
        .zip(&sim.held)
        .enumerate()
        .map(|(t, (((&date, &strategy), &buy_and_hold), &position))| EquityPoint {
            date,
            strategy,
            buy_and_hold,
            index: index_equity.as_ref().and_then(|e| e.get(t).copied()),
            position,
        })
        .collect();
    BacktestResult {
        strategy: strategy.clone(),
        label: strategy.label(),
        costs: *costs,
        start: dates.first().copied().unwrap_or_default(),
        end: dates.last().copied().unwrap_or_default(),
        bars: dates.len(),
        metrics: sim.metrics,
        buy_and_hold: metrics(dates, &hold_returns, &always),
        index: index_metrics,
        equity,
        trades: sim.trades,
    }
}

fn valid_price(p: f64) -> bool {
    p.is_finite() && p > 0.0
}

fn valid_target(t: f64) -> bool {
    t.is_finite() && t.abs() <= 1.0
}

fn finite(x: f64) -> Option<f64> {
    if x.is_finite() { Some(x) } else { None }
}

fn check_prices(close: &[f64], dates: Option<&[NaiveDate]>) -> Result<(), BacktestError> {
    match close.iter().position(|&p| !valid_price(p)) {
        Some(index) => Err(BacktestError::BadPrice {
            index,
            date: dates.and_then(|d| d.get(index).copied()),
            value: close[index],
        }),
        None => Ok(()),
    }
}

fn validate_series(dates: &[NaiveDate], close: &[f64]) -> Result<(), BacktestError> {
    if close.len() != dates.len() {
        return Err(BacktestError::LengthMismatch { what: "close", expected: dates.len(), got: close.len() });
    }
    if dates.len() < 2 {
        return Err(BacktestError::TooFewBars {
            what: "a backtest".to_string(),
            needed: 2,
            got: dates.len(),
        });
    }
    check_prices(close, Some(dates))?;
    match dates.windows(2).position(|w| w[1] <= w[0]) {
        Some(i) => {
            Err(BacktestError::DatesNotIncreasing { index: i + 1, date: dates[i + 1], previous: dates[i] })
        }
        None => Ok(()),
    }
}

/// Carries the last valid (finite, positive) level forward; leading gaps take the first valid
/// level. None when no level is valid.
fn fill_forward(levels: &[f64]) -> Option<Vec<f64>> {
    let mut last = levels.iter().copied().find(|&v| valid_price(v))?;
    Some(
        levels
            .iter()
            .map(|&v| {
                if valid_price(v) {
                    last = v;
                }
                last
            })
            .collect(),
    )
}

/// `f` over each full window ending at `t`; None while the window is not filled.
fn rolling(close: &[f64], window: usize, f: fn(&[f64]) -> Option<f64>) -> Vec<Option<f64>> {
    let window = window.max(1);
    std::iter::repeat_n(None, (window - 1).min(close.len())).chain(close.windows(window).map(f)).collect()
}

/// Mean anchored on the last value: exact for a constant window, so equal averages compare equal.
fn mean(win: &[f64]) -> Option<f64> {
    let anchor = *win.last()?;
    Some(anchor + win.iter().map(|x| x - anchor).sum::<f64>() / win.len() as f64)
}

/// z-score of the last value in its window (std ddof 1); None when the std is 0.
fn zscore(win: &[f64]) -> Option<f64> {
    let m = mean(win)?;
    let last = *win.last()?;
    let dof = win.len().checked_sub(1).filter(|&d| d > 0)? as f64;
    let std = (win.iter().map(|x| (x - m).powi(2)).sum::<f64>() / dof).sqrt();
    if std > 0.0 { finite((last - m) / std) } else { None }
}

/// Position held over each bar: flat on the first, then the target of the previous close.
fn held_from_targets(targets: &[f64]) -> Vec<f64> {
    std::iter::once(0.0).chain(targets.iter().copied()).take(targets.len()).collect()
}

/// Close-to-close simple returns, 0 on the first bar.
fn price_returns(close: &[f64]) -> Vec<f64> {
    std::iter::once(0.0).chain(close.windows(2).map(|w| w[1] / w[0] - 1.0)).take(close.len()).collect()
}

/// Position times price return minus the cost of the position change (none on the first bar).
fn strategy_returns(price: &[f64], held: &[f64], cost: f64) -> Vec<f64> {
    let previous = held.first().copied().into_iter().chain(held.iter().copied());
    price.iter().zip(held).zip(previous).map(|((p, h), before)| h * p - cost * (h - before).abs()).collect()
}

/// Compounded equity from 1.0, one value per return (`returns[0]` is 0 in practice).
fn equity_curve(returns: &[f64]) -> Vec<f64> {
    returns
        .iter()
        .scan(1.0, |equity, r| {
            *equity *= 1.0 + r;
            Some(*equity)
        })
        .collect()
}

/// One position from its entry bar to its exit bar, with its compounded growth factor.
struct Span {
    entry: usize,
    exit: Option<usize>,
    growth: f64,
}

/// Splits `held` into positions: a span opens on a bar where the position becomes non-zero
/// or changes sign and closes on the bar where it becomes zero (that bar's return, i.e. the
/// exit cost, included) or changes sign (that bar counted for the new span).
fn trade_spans(held: &[f64], returns: &[f64]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut open: Option<Span> = None;
    let mut before = 0.0;
    for (t, (&h, &r)) in held.iter().zip(returns).enumerate() {
        let reversal = before != 0.0 && h != 0.0 && (h > 0.0) != (before > 0.0);
        if let Some(mut span) = open.take() {
            if h == 0.0 {
                span.growth *= 1.0 + r;
                span.exit = Some(t);
                spans.push(span);
            } else if reversal {
                span.exit = Some(t);
                spans.push(span);
            } else {
                span.growth *= 1.0 + r;
                open = Some(span);
            }
        }
        if h != 0.0 && (before == 0.0 || reversal) {
            let growth = if t == 0 { 1.0 } else { 1.0 + r };
            open = Some(Span { entry: t, exit: None, growth });
        }
        before = h;
    }
    spans.extend(open);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<NaiveDate> {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        (0..n).map(|i| start.checked_add_days(chrono::Days::new(i as u64)).unwrap()).collect()
    }

    /// A deterministic noisy, cyclical price path.
    fn walk(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut price = 100.0;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                price *= 1.0 + 0.03 * u + 0.01 * (i as f64 / 15.0).sin();
                price
            })
            .collect()
    }

    fn strategies() -> [Strategy; 4] {
        [
            Strategy::SmaCross { fast: 3, slow: 8 },
            Strategy::Momentum { lookback: 5 },
            Strategy::MeanReversion { window: 6, entry_z: 1.0, exit_z: 0.0 },
            Strategy::BuyAndHold,
        ]
    }

    #[test]
    fn constant_prices_earn_nothing() {
        let dates = days(300);
        let free = Costs { commission_bps: 0.0, slippage_bps: 0.0 };
        let costs = Costs::default();
        let cost = (1.0 + 2.0) / 1e4;
        for level in [100.0, 101.37] {
            let close = vec![level; dates.len()];
            for strategy in strategies().into_iter().chain(StrategyKind::SmaCross.grid()) {
                let result = backtest(&dates, &close, None, &strategy, &free).unwrap();
                assert_eq!(result.metrics.total_return, 0.0, "{}", strategy.label());
                assert!(result.equity.iter().all(|p| p.strategy == 1.0 && p.buy_and_hold == 1.0));
                assert_eq!(result.buy_and_hold.total_return, 0.0);

                let result = backtest(&dates, &close, None, &strategy, &costs).unwrap();
                if strategy == Strategy::BuyAndHold {
                    // One entry cost on the second bar, then no trade.
                    assert_eq!(result.metrics.total_return, (1.0 - cost) - 1.0);
                    assert_eq!(result.metrics.trades, 1);
                    assert_eq!(result.trades[0].exit, None);
                } else {
                    // The rules never fire on a flat series, so no cost is paid.
                    assert_eq!(result.metrics.total_return, 0.0, "{}", strategy.label());
                    assert_eq!(result.metrics.trades, 0);
                    assert!(result.trades.is_empty());
                }
                // The benchmark buy-and-hold is held from the first close at no cost.
                assert_eq!(result.buy_and_hold.total_return, 0.0);
                assert_eq!(result.buy_and_hold.trades, 1);
            }
        }
    }

    #[test]
    fn two_trades_by_hand() {
        let close = [100.0, 100.0, 110.0, 121.0, 110.0, 100.0, 100.0, 110.0];
        let dates = days(close.len());
        // Decided at each close; held over the next bar: held = [0, 0, 1, 1, 0, 1, 1, 0].
        let targets = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let costs = Costs { commission_bps: 1.0, slippage_bps: 2.0 };
        let c = 0.0003;
        let sim = run_positions(&dates, &close, &targets, &costs).unwrap();
        assert_eq!(sim.held, [0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0]);

        let e0 = 1.0;
        let e1 = e0; // flat
        let e2 = e1 * (1.0 + 0.10 - c); // enter: +10% less the entry cost
        let e3 = e2 * (1.0 + 0.10); // hold: +10%
        let e4 = e3 * (1.0 - c); // exit: flat, pay the exit cost
        let e5 = e4 * (1.0 + (100.0 / 110.0 - 1.0) - c); // enter: -9.09% less the cost
        let e6 = e5; // hold: 100 -> 100
        let e7 = e6 * (1.0 - c); // exit: misses 100 -> 110
        let expected = [e0, e1, e2, e3, e4, e5, e6, e7];
        for (got, want) in sim.equity.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(sim.equity.len(), expected.len());
        assert!((sim.metrics.total_return - (e7 - 1.0)).abs() < 1e-12);

        assert_eq!(sim.trades.len(), 2);
        let (first, second) = (&sim.trades[0], &sim.trades[1]);
        assert_eq!((first.entry, first.exit), (dates[2], Some(dates[4])));
        assert_eq!((first.entry_price, first.exit_price), (100.0, Some(121.0)));
        let first_ret = (1.1 - c) * 1.1 * (1.0 - c) - 1.0;
        assert!((first.ret.unwrap() - first_ret).abs() < 1e-12);
        assert_eq!((second.entry, second.exit), (dates[5], Some(dates[7])));
        assert_eq!((second.entry_price, second.exit_price), (110.0, Some(100.0)));
        let second_ret = (100.0 / 110.0 - c) * (1.0 - c) - 1.0;
        assert!((second.ret.unwrap() - second_ret).abs() < 1e-12);

        assert_eq!(sim.metrics.trades, 2);
        assert_eq!(sim.metrics.hit_rate, Some(0.5));
        assert!((sim.metrics.exposure - 4.0 / 7.0).abs() < 1e-12);
        let years = 7.0 / 365.25;
        assert!((sim.metrics.turnover.unwrap() - 4.0 / years).abs() < 1e-9);
        assert!((sim.metrics.max_drawdown - (e7 / e3 - 1.0)).abs() < 1e-12); // peak at e3
    }

    #[test]
    fn short_position_by_hand() {
        let close = [100.0, 110.0, 99.0];
        let sim = run_positions(&days(3), &close, &[-1.0, 0.0, 0.0], &Costs::default()).unwrap();
        let c = 0.0003;
        let want = (1.0 - 0.1 - c) * (1.0 - c);
        assert!((sim.equity[2] - want).abs() < 1e-12);
        assert_eq!(sim.metrics.hit_rate, Some(0.0));
        let err = run_positions(&days(3), &close, &[2.0, 0.0, 0.0], &Costs::default()).unwrap_err();
        assert!(matches!(err, BacktestError::BadTarget { index: 0, .. }));
    }

    #[test]
    fn no_look_ahead() {
        let close = walk(160, 7);
        let dates = days(close.len());
        let costs = Costs::default();
        for strategy in strategies() {
            let full = positions(&strategy, &close).unwrap();
            assert!(full.iter().any(|&p| p != 0.0), "{} never trades", strategy.label());
            // Prefix invariance: the target of bar t is the same whatever follows it.
            for t in 1..=close.len() {
                assert_eq!(positions(&strategy, &close[..t]).unwrap(), full[..t], "{}", strategy.label());
            }
            // Appending future bars changes no equity point of the shorter run.
            let short = backtest(&dates[..60], &close[..60], None, &strategy, &costs).unwrap();
            let long = backtest(&dates, &close, None, &strategy, &costs).unwrap();
            assert_eq!(short.equity[..], long.equity[..60]);
            // Rewriting every bar after t changes neither the targets up to t, nor the
            // equity up to t, nor the position held over bar t + 1.
            for t in [10, 40, 77, 120] {
                let altered: Vec<f64> = close
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| {
                        if i <= t {
                            p
                        } else if i % 2 == 0 {
                            p * 1.5
                        } else {
                            p * 0.6
                        }
                    })
                    .collect();
                let moved = positions(&strategy, &altered).unwrap();
                assert_eq!(moved[..=t], full[..=t]);
                let other = backtest(&dates, &altered, None, &strategy, &costs).unwrap();
                assert_eq!(other.equity[..=t], long.equity[..=t], "{} at {t}", strategy.label());
                assert_eq!(other.equity[t + 1].position, long.equity[t + 1].position);
            }
        }
    }

    #[test]
    fn validation_errors() {
        let dates = days(10);
        let close = walk(10, 3);
        let sma = Strategy::SmaCross { fast: 2, slow: 4 };
        let costs = Costs::default();

        let err = backtest(&dates[..3], &close[..2], None, &sma, &costs).unwrap_err();
        assert!(matches!(err, BacktestError::LengthMismatch { what: "close", expected: 3, got: 2 }));

        let mut zero = close.clone();
        zero[2] = 0.0;
        let err = backtest(&dates, &zero, None, &sma, &costs).unwrap_err();
        assert!(matches!(err, BacktestError::BadPrice { index: 2, .. }));
        assert!(err.to_string().contains("2024-01-03"), "{err}");

        let err =
            backtest(&dates, &close, None, &Strategy::SmaCross { fast: 4, slow: 4 }, &costs).unwrap_err();
        assert!(matches!(err, BacktestError::InvalidParameter(_)));
        assert!(err.to_string().contains("fast"), "{err}");
        assert!(positions(&Strategy::Momentum { lookback: 0 }, &close).is_err());

        let mut shuffled = dates.clone();
        shuffled.swap(4, 5);
        let err = backtest(&shuffled, &close, None, &sma, &costs).unwrap_err();
        assert!(err.to_string().contains(&dates[4].to_string()), "{err}");

        let err =
            backtest(&dates, &close, None, &Strategy::SmaCross { fast: 2, slow: 9 }, &costs).unwrap_err();
        assert!(matches!(err, BacktestError::TooFewBars { needed: 11, got: 10, .. }));

        let err = backtest(&dates, &close, Some(&close[..9]), &sma, &costs).unwrap_err();
        assert!(matches!(err, BacktestError::LengthMismatch { what: "index", .. }));

        let negative = Costs { commission_bps: -1.0, slippage_bps: 0.0 };
        assert!(backtest(&dates, &close, None, &sma, &negative).is_err());
    }

    #[test]
    fn index_gaps_carry_forward() {
        let dates = days(5);
        let close = [10.0, 11.0, 12.0, 13.0, 14.0];
        let index = [f64::NAN, 100.0, f64::NAN, 120.0, 0.0];
        let result =
            backtest(&dates, &close, Some(&index), &Strategy::BuyAndHold, &Costs::default()).unwrap();
        let curve: Vec<f64> = result.equity.iter().map(|p| p.index.unwrap()).collect();
        for (got, want) in curve.iter().zip([1.0, 1.0, 1.0, 1.2, 1.2]) {
            assert!((got - want).abs() < 1e-12, "{curve:?}");
        }
        assert_eq!(curve.len(), 5);
        let gaps = [f64::NAN; 5];
        let none = backtest(&dates, &close, Some(&gaps[..]), &Strategy::BuyAndHold, &Costs::default());
        assert_eq!(none.unwrap().index, None);
    }

    #[test]
    fn metrics_of_a_known_path() {
        // Equity 1, 2, 1, 1.5.
        let m = metrics(&days(4), &[0.0, 1.0, -0.5, 0.5], &[1.0; 4]);
        assert_eq!(m.max_drawdown, -0.5);
        assert_eq!(m.total_return, 0.5);
        assert_eq!(m.trades, 1);
        assert_eq!(m.hit_rate, None);
        assert_eq!(m.exposure, 1.0);
        assert_eq!(m.turnover, Some(0.0));
        let mean = 1.0 / 3.0;
        let std =
            (((1.0 - mean) * (1.0 - mean) + (-0.5 - mean) * (-0.5 - mean) + (0.5 - mean) * (0.5 - mean))
                / 2.0_f64)
                .sqrt();
        assert!((m.sharpe.unwrap() - mean / std * 252f64.sqrt()).abs() < 1e-12);
        let downside = (0.25_f64 / 3.0).sqrt();
        assert!((m.sortino.unwrap() - mean / downside * 252f64.sqrt()).abs() < 1e-12);
        assert!((m.years - 3.0 / 365.25).abs() < 1e-15);

        let flat = metrics(&days(3), &[0.0; 3], &[0.0; 3]);
        assert_eq!((flat.sharpe, flat.sortino, flat.hit_rate), (None, None, None));
        assert_eq!(flat.max_drawdown, 0.0);
    }

    #[test]
    fn choose_picks_from_the_grid_out_of_sample() {
        let close = walk(700, 11);
        let dates = days(close.len());
        for kind in [StrategyKind::SmaCross, StrategyKind::Momentum, StrategyKind::MeanReversion] {
            let chosen = choose(kind, &dates, &close, None, &Costs::default(), 0.5).unwrap();
            assert!(kind.grid().contains(&chosen.strategy));
            assert_eq!(chosen.grid.len(), kind.grid().len());
            assert_eq!((chosen.train_start, chosen.train_end), (dates[0], dates[349]));
            assert!(chosen.result.start > chosen.train_end);
            assert_eq!((chosen.result.start, chosen.result.bars), (dates[350], 350));
            assert_eq!(chosen.result.equity[0].strategy, 1.0);
            assert!(chosen.grid.contains(&(chosen.strategy.label(), chosen.train_sharpe)));
            let best = chosen.grid.iter().filter_map(|(_, s)| *s).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(chosen.train_sharpe, Some(best));
        }
        let err = choose(StrategyKind::Momentum, &days(40), &walk(40, 1), None, &Costs::default(), 0.5)
            .unwrap_err();
        assert!(matches!(err, BacktestError::NoGridPointFits { bars: 20, .. }));
        assert!(choose(StrategyKind::Momentum, &dates, &close, None, &Costs::default(), 1.0).is_err());
    }
}

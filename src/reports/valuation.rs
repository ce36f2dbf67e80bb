//! Equity valuation computed in code, never by a model: the numbers a research report quotes.
//!
//! Method:
//!
//! - **DCF** ([`dcf`]): the last fiscal year's free cash flow grows at an explicit rate per year
//!   (often a linear fade from near-term growth to the terminal rate, [`growth_path`]); each year's
//!   cash flow is discounted at the WACC with end-of-year discounting, `df_t = 1 / (1 + wacc)^t`.
//!   The terminal value at the end of the explicit period is a Gordon growth perpetuity on the
//!   last cash flow, `FCF_n × (1 + g) / (wacc − g)`, discounted with the last year's factor.
//!   Enterprise value = Σ PV(FCF) + PV(TV); equity = EV − net debt; per share = equity / shares.
//! - **Sensitivity** ([`sensitivity`], [`grid`]): per-share value over a WACC × terminal-growth grid,
//!   empty cells where the perpetuity is undefined (wacc ≤ g).
//! - **Multiples** ([`pe_check`], [`ev_ebitda_check`]): the peers' median P/E times EPS, and the
//!   peers' median EV/EBITDA times EBITDA less net debt, per share.
//! - **Target and rating** ([`blend_target`], [`upside`], [`RatingRule`]): a weighted blend of the
//!   DCF and the multiples, the upside to the current price, and a rating from fixed thresholds.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a valuation could not be computed: names the input and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValuationError {
    /// An input is NaN or infinite.
    #[error("{input} is not finite (got {value})")]
    NotFinite {
        /// The input, in words (`base free cash flow`, `WACC`, `growth rate for year 3`).
        input: String,
        /// The offending value.
        value: f64,
    },
    /// Shares outstanding is zero or negative.
    #[error("shares outstanding must be > 0, got {0}")]
    NonPositiveShares(f64),
    /// The base free cash flow is zero or negative.
    #[error("base free cash flow is {0}: a DCF needs positive cash flow")]
    NonPositiveFcf(f64),
    /// The discount rate does not exceed the terminal growth rate (the perpetuity diverges).
    #[error("WACC {wacc:.3} must exceed terminal growth {terminal_growth:.3}")]
    WaccNotAboveGrowth {
        /// The discount rate.
        wacc: f64,
        /// The terminal growth rate.
        terminal_growth: f64,
    },
    /// The discount rate is −100% or lower (discount factors undefined).
    #[error("WACC {0:.3} must be greater than -1")]
    WaccTooLow(f64),
    /// No explicit-period growth rates were given.
    #[error("growth path is empty: the DCF needs at least one explicit-period year")]
    EmptyGrowth,
    /// An explicit-period growth rate of −100% or lower (cash flow would vanish or turn negative).
    #[error("growth rate for year {year} is {growth}: it must be greater than -1")]
    GrowthTooLow {
        /// The year (1-based).
        year: usize,
        /// The growth rate.
        growth: f64,
    },
    /// The inputs are valid but the result overflowed (e.g. wacc barely above growth).
    #[error("DCF result is not finite (enterprise value {0}): check WACC and terminal growth")]
    NonFiniteResult(f64),
    /// Rating thresholds out of order.
    #[error(
        "rating thresholds must satisfy sell < underperform < outperform < buy, \
         got sell {sell}, underperform {underperform}, outperform {outperform}, buy {buy}"
    )]
    InvalidRatingRule {
        /// The Sell threshold.
        sell: f64,
        /// The Underperform threshold.
        underperform: f64,
        /// The Outperform threshold.
        outperform: f64,
        /// The Buy threshold.
        buy: f64,
    },
}

fn require_finite(input: &str, value: f64) -> Result<(), ValuationError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ValuationError::NotFinite { input: input.to_string(), value })
    }
}

/// The assumptions of a discounted cash flow valuation. Rates are fractions (0.08 = 8%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DcfAssumptions {
    /// Last fiscal year's free cash flow, in currency units.
    pub base_fcf: f64,
    /// Explicit-period growth rates, one per year (e.g. 5 entries).
    pub growth: Vec<f64>,
    /// Weighted average cost of capital (discount rate).
    pub wacc: f64,
    /// Perpetual growth rate after the explicit period.
    pub terminal_growth: f64,
    /// Debt − cash; negative = net cash.
    pub net_debt: f64,
    /// Shares outstanding.
    pub shares: f64,
}

/// A linear fade of growth rates from `start` (year 1) to `terminal` (year `years`):
/// `g_i = start + (terminal − start) × i / (years − 1)` for `i` in `0..years`.
/// `years == 1` gives `[start]`; `years == 0` gives an empty path.
pub fn growth_path(start: f64, terminal: f64, years: usize) -> Vec<f64> {
    match years {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let last = (years - 1) as f64;
            (0..years).map(|i| start + (terminal - start) * (i as f64 / last)).collect()
        }
    }
}

/// One explicit-period year of a DCF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DcfYear {
    /// Year index, 1-based.
    pub year: u32,
    /// Growth rate applied this year.
    pub growth: f64,
    /// Free cash flow of the year.
    pub fcf: f64,
    /// End-of-year discount factor, `1 / (1 + wacc)^year`.
    pub discount_factor: f64,
    /// `fcf × discount_factor`.
    pub present_value: f64,
}

/// The result of a DCF valuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DcfResult {
    /// The explicit-period years.
    pub years: Vec<DcfYear>,
    /// Terminal value at the end of the explicit period: `FCF_n × (1 + g) / (wacc − g)`.
    pub terminal_value: f64,
    /// Terminal value discounted with the last year's factor.
    pub pv_terminal: f64,
    /// Σ present values + PV of the terminal value.
    pub enterprise_value: f64,
    /// Enterprise value − net debt.
    pub equity_value: f64,
    /// Equity value / shares (negative when net debt exceeds EV; reported as is).
    pub per_share: f64,
    /// Share of the enterprise value that comes from the terminal value.
    pub terminal_share: f64,
}

/// Runs a DCF on the assumptions. Errors name the invalid input: every input must be finite,
/// shares > 0, base FCF > 0, growth not empty and each rate > −1, wacc > −1 and wacc > terminal growth.
pub fn dcf(a: &DcfAssumptions) -> Result<DcfResult, ValuationError> {
    dcf_at(a, a.wacc, a.terminal_growth)
}

/// [`dcf`] with the discount rate and terminal growth replaced.
fn dcf_at(a: &DcfAssumptions, wacc: f64, terminal_growth: f64) -> Result<DcfResult, ValuationError> {
    require_finite("base free cash flow", a.base_fcf)?;
    for (i, &g) in a.growth.iter().enumerate() {
        require_finite(&format!("growth rate for year {}", i + 1), g)?;
    }
    require_finite("WACC", wacc)?;
    require_finite("terminal growth", terminal_growth)?;
    require_finite("net debt", a.net_debt)?;
    require_finite("shares outstanding", a.shares)?;
    if a.growth.is_empty() {
        return Err(ValuationError::EmptyGrowth);
    }
    if a.base_fcf <= 0.0 {
        return Err(ValuationError::NonPositiveFcf(a.base_fcf));
    }
    if a.shares <= 0.0 {
        return Err(ValuationError::NonPositiveShares(a.shares));
    }
    if wacc <= -1.0 {
        return Err(ValuationError::WaccTooLow(wacc));
    }
    if wacc <= terminal_growth {
        return Err(ValuationError::WaccNotAboveGrowth { wacc, terminal_growth });
    }
    if let Some((i, &g)) = a.growth.iter().enumerate().find(|&(_, &g)| g <= -1.0) {
        return Err(ValuationError::GrowthTooLow { year: i + 1, growth: g });
    }

    let mut fcf = a.base_fcf;
    let mut df = 1.0;
    let mut years = Vec::with_capacity(a.growth.len());
    for (i, &g) in a.growth.iter().enumerate() {
        fcf *= 1.0 + g;
        df /= 1.0 + wacc;
        years.push(DcfYear {
            year: u32::try_from(i + 1).unwrap_or(u32::MAX),
            growth: g,
            fcf,
            discount_factor: df,
            present_value: fcf * df,
        });
    }
    let terminal_value = fcf * (1.0 + terminal_growth) / (wacc - terminal_growth);
    let pv_terminal = terminal_value * df;
    let enterprise_value = years.iter().map(|y| y.present_value).sum::<f64>() + pv_terminal;
    if !enterprise_value.is_finite() || enterprise_value <= 0.0 {
        return Err(ValuationError::NonFiniteResult(enterprise_value));
    }
    let equity_value = enterprise_value - a.net_debt;
    Ok(DcfResult {
        years,
        terminal_value,
        pv_terminal,
        enterprise_value,
        equity_value,
        per_share: equity_value / a.shares,
        terminal_share: pv_terminal / enterprise_value,
    })
}

/// Per-share values over a WACC × terminal-growth grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sensitivity {
    /// The discount rates (rows).
    pub waccs: Vec<f64>,
    /// The terminal growth rates (columns).
    pub growths: Vec<f64>,
    /// `per_share[wacc_i][growth_j]`; `None` where wacc ≤ g or the DCF is otherwise invalid.
    pub per_share: Vec<Vec<Option<f64>>>,
}

/// The DCF per-share value for every (WACC, terminal growth) pair; the other assumptions stay as in `a`.
pub fn sensitivity(a: &DcfAssumptions, waccs: &[f64], growths: &[f64]) -> Sensitivity {
    let per_share = waccs
        .iter()
        .map(|&w| growths.iter().map(|&g| dcf_at(a, w, g).ok().map(|r| r.per_share)).collect())
        .collect();
    Sensitivity { waccs: waccs.to_vec(), growths: growths.to_vec(), per_share }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// `2 × n_each_side + 1` ascending values centred on `center`, `step` apart, rounded to 1e-6
/// (so `0.08` rather than `0.07999999`). Empty when `center` or `step` is not finite.
pub fn grid(center: f64, step: f64, n_each_side: usize) -> Vec<f64> {
    if !center.is_finite() || !step.is_finite() {
        return Vec::new();
    }
    let step = step.abs();
    let n = n_each_side as f64;
    (0..=2 * n_each_side).map(|i| round6(center + (i as f64 - n) * step)).collect()
}

/// A valuation cross-check from a peer multiple.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MultipleCheck {
    /// The multiple: `P/E`, `EV/EBITDA`.
    pub name: String,
    /// Median of the usable peer multiples.
    pub peer_median: f64,
    /// How many peer multiples were usable.
    pub peers: usize,
    /// The company's metric the multiple applies to (EPS or EBITDA).
    pub metric: f64,
    /// The value per share the median multiple implies.
    pub implied_per_share: f64,
}

/// The median of the finite values; `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { Some(v[mid]) } else { Some((v[mid - 1] + v[mid]) / 2.0) }
}

fn positive_finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|x| x.is_finite() && *x > 0.0).collect()
}

/// P/E cross-check: median of the peers' positive finite P/Es × EPS. `None` without usable peers
/// or unless EPS is finite and > 0.
pub fn pe_check(peer_pes: &[f64], eps: f64) -> Option<MultipleCheck> {
    if !eps.is_finite() || eps <= 0.0 {
        return None;
    }
    let peers = positive_finite(peer_pes);
    let m = median(&peers)?;
    Some(MultipleCheck {
        name: "P/E".to_string(),
        peer_median: m,
        peers: peers.len(),
        metric: eps,
        implied_per_share: m * eps,
    })
}

/// EV/EBITDA cross-check: `(median multiple × EBITDA − net debt) / shares`, from the peers' positive
/// finite multiples. `None` without usable peers, unless EBITDA > 0 and shares > 0, or when an
/// input is not finite. The implied value may be negative (net debt above the implied EV).
pub fn ev_ebitda_check(
    peer_multiples: &[f64],
    ebitda: f64,
    net_debt: f64,
    shares: f64,
) -> Option<MultipleCheck> {
    let inputs_ok = ebitda.is_finite() && ebitda > 0.0 && shares.is_finite() && shares > 0.0;
    if !inputs_ok || !net_debt.is_finite() {
        return None;
    }
    let peers = positive_finite(peer_multiples);
    let m = median(&peers)?;
    Some(MultipleCheck {
        name: "EV/EBITDA".to_string(),
        peer_median: m,
        peers: peers.len(),
        metric: ebitda,
        implied_per_share: (m * ebitda - net_debt) / shares,
    })
}

/// An analyst rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Rating {
    /// Upside at or above the Buy threshold.
    Buy,
    /// Upside at or above the Outperform threshold.
    Outperform,
    /// Upside between the Underperform and Outperform thresholds.
    Hold,
    /// Upside at or below the Underperform threshold.
    Underperform,
    /// Upside at or below the Sell threshold.
    Sell,
}

impl Rating {
    /// The rating as shown in a report: `Buy`, `Outperform`, `Hold`, `Underperform`, `Sell`.
    pub fn label(self) -> &'static str {
        match self {
            Rating::Buy => "Buy",
            Rating::Outperform => "Outperform",
            Rating::Hold => "Hold",
            Rating::Underperform => "Underperform",
            Rating::Sell => "Sell",
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Upside thresholds (fractions: 0.20 = 20%) that map an upside to a [`Rating`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RatingRule {
    /// Buy when upside ≥ this.
    pub buy: f64,
    /// Outperform when upside ≥ this (and below `buy`).
    pub outperform: f64,
    /// Underperform when upside ≤ this (and above `sell`).
    pub underperform: f64,
    /// Sell when upside ≤ this.
    pub sell: f64,
}

impl Default for RatingRule {
    fn default() -> Self {
        RatingRule { buy: 0.20, outperform: 0.05, underperform: -0.05, sell: -0.20 }
    }
}

/// A fraction as a percentage for prose: `0.2` → `20%`, `-0.05` → `−5%`, `0.075` → `7.5%`.
fn pct(x: f64) -> String {
    let p = x * 100.0;
    let body = if (p - p.round()).abs() < 1e-9 {
        format!("{:.0}", p.abs())
    } else {
        let s = format!("{:.2}", p.abs());
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if p < 0.0 && body != "0" { format!("−{body}%") } else { format!("{body}%") }
}

impl RatingRule {
    /// The rating for an upside: ≥ buy → Buy; ≥ outperform → Outperform; > underperform → Hold;
    /// > sell → Underperform; else Sell. `None` when the upside is not finite.
    pub fn rate(&self, upside: f64) -> Option<Rating> {
        if !upside.is_finite() {
            return None;
        }
        let rating = if upside >= self.buy {
            Rating::Buy
        } else if upside >= self.outperform {
            Rating::Outperform
        } else if upside > self.underperform {
            Rating::Hold
        } else if upside > self.sell {
            Rating::Underperform
        } else {
            Rating::Sell
        };
        Some(rating)
    }

    /// The rule in words, for a report's disclosures:
    /// `Buy if upside ≥ 20%, Outperform ≥ 5%, Hold between −5% and 5%, Underperform ≤ −5%, Sell ≤ −20%`.
    pub fn describe(&self) -> String {
        let (b, o, u, s) = (pct(self.buy), pct(self.outperform), pct(self.underperform), pct(self.sell));
        format!(
            "Buy if upside ≥ {b}, Outperform ≥ {o}, Hold between {u} and {o}, Underperform ≤ {u}, Sell ≤ {s}"
        )
    }

    /// Checks that the thresholds are finite and `sell < underperform < outperform < buy`.
    pub fn validate(&self) -> Result<(), ValuationError> {
        require_finite("rating threshold buy", self.buy)?;
        require_finite("rating threshold outperform", self.outperform)?;
        require_finite("rating threshold underperform", self.underperform)?;
        require_finite("rating threshold sell", self.sell)?;
        let ordered = self.sell < self.underperform
            && self.underperform < self.outperform
            && self.outperform < self.buy;
        if ordered {
            Ok(())
        } else {
            Err(ValuationError::InvalidRatingRule {
                sell: self.sell,
                underperform: self.underperform,
                outperform: self.outperform,
                buy: self.buy,
            })
        }
    }
}

/// The DCF weight [`blend_target`] uses when the one given is not finite.
pub const DEFAULT_DCF_WEIGHT: f64 = 0.5;

/// A blended price target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// The weighted mean of the parts.
    pub per_share: f64,
    /// The weight the DCF actually got (0 when it was absent).
    pub dcf_weight: f64,
    /// (method, value per share, weight); the weights sum to 1.
    pub parts: Vec<(String, f64, f64)>,
}

/// Blends the DCF value and the multiples' implied values into one target. The DCF gets
/// `dcf_weight` (clamped to [0, 1]; [`DEFAULT_DCF_WEIGHT`] if not finite) and the multiples share
/// the rest equally; without a DCF the multiples share everything, without multiples the DCF has
/// weight 1. Non-finite or negative values are ignored; `None` when nothing is usable.
pub fn blend_target(dcf_per_share: Option<f64>, checks: &[MultipleCheck], dcf_weight: f64) -> Option<Target> {
    let usable = |v: f64| v.is_finite() && v >= 0.0;
    let dcf_value = dcf_per_share.filter(|&v| usable(v));
    let multiples: Vec<&MultipleCheck> = checks.iter().filter(|c| usable(c.implied_per_share)).collect();
    let w_dcf = match (dcf_value.is_some(), multiples.is_empty()) {
        (false, true) => return None,
        (false, false) => 0.0,
        (true, true) => 1.0,
        (true, false) => {
            if dcf_weight.is_finite() {
                dcf_weight.clamp(0.0, 1.0)
            } else {
                DEFAULT_DCF_WEIGHT
            }
        }
    };
    let mut parts = Vec::with_capacity(multiples.len() + 1);
    if let Some(v) = dcf_value {
        parts.push(("DCF".to_string(), v, w_dcf));
    }
    if !multiples.is_empty() {
        let each = (1.0 - w_dcf) / multiples.len() as f64;
        parts.extend(multiples.iter().map(|c| (c.name.clone(), c.implied_per_share, each)));
    }
    let per_share = parts.iter().map(|(_, v, w)| v * w).sum();
    Some(Target { per_share, dcf_weight: w_dcf, parts })
}

/// `target / price − 1`; `None` unless both are finite and the price is > 0.
pub fn upside(target: f64, price: f64) -> Option<f64> {
    if target.is_finite() && price.is_finite() && price > 0.0 { Some(target / price - 1.0) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// base 100, growth [10%, 5%], wacc 10%, g 2%, net debt 50, 10 shares.
    fn sample() -> DcfAssumptions {
        DcfAssumptions {
            base_fcf: 100.0,
            growth: vec![0.10, 0.05],
            wacc: 0.10,
            terminal_growth: 0.02,
            net_debt: 50.0,
            shares: 10.0,
        }
    }

    #[test]
    fn dcf_by_hand() {
        let r = dcf(&sample()).expect("valid assumptions");
        assert_eq!(r.years.len(), 2);
        // Year 1: 100 × 1.10 = 110; df = 1/1.1; pv = 100.
        assert_eq!(r.years[0].year, 1);
        assert!(close(r.years[0].fcf, 110.0));
        assert!(close(r.years[0].discount_factor, 1.0 / 1.1));
        assert!(close(r.years[0].present_value, 100.0));
        // Year 2: 110 × 1.05 = 115.5; df = 1/1.21; pv = 115.5 / 1.21 = 95.4545…
        assert_eq!(r.years[1].year, 2);
        assert!(close(r.years[1].fcf, 115.5));
        assert!(close(r.years[1].discount_factor, 1.0 / 1.21));
        assert!(close(r.years[1].present_value, 115.5 / 1.21));
        // TV = 115.5 × 1.02 / 0.08 = 1472.625; PV(TV) = 1472.625 / 1.21 = 1217.0454…
        assert!(close(r.terminal_value, 1472.625));
        assert!(close(r.pv_terminal, 1472.625 / 1.21));
        // EV = 100 + 95.4545… + 1217.0454… = 1412.5; equity = 1362.5; per share 136.25.
        assert!(close(r.enterprise_value, 1412.5));
        assert!(close(r.equity_value, 1362.5));
        assert!(close(r.per_share, 136.25));
        assert!(close(r.terminal_share, (1472.625 / 1.21) / 1412.5));
    }

    #[test]
    fn negative_per_share_is_reported() {
        // EV 1412.5 − net debt 2000 = −587.5 → −58.75 per share.
        let a = DcfAssumptions { net_debt: 2000.0, ..sample() };
        let r = dcf(&a).expect("valid assumptions");
        assert!(close(r.per_share, -58.75));
    }

    #[test]
    fn growth_path_fades_linearly() {
        let p = growth_path(0.10, 0.02, 5);
        let want = [0.10, 0.08, 0.06, 0.04, 0.02];
        assert_eq!(p.len(), want.len());
        assert!(p.iter().zip(want).all(|(a, b)| close(*a, b)));
        assert_eq!(growth_path(0.10, 0.02, 1), vec![0.10]);
        assert!(growth_path(0.10, 0.02, 0).is_empty());
    }

    #[test]
    fn wacc_not_above_growth_is_an_error() {
        let a = DcfAssumptions { wacc: 0.02, terminal_growth: 0.025, ..sample() };
        let err = dcf(&a).expect_err("wacc below g");
        assert!(matches!(err, ValuationError::WaccNotAboveGrowth { .. }));
        assert_eq!(err.to_string(), "WACC 0.020 must exceed terminal growth 0.025");
        let a = DcfAssumptions { wacc: 0.02, terminal_growth: 0.02, ..sample() };
        assert!(matches!(dcf(&a), Err(ValuationError::WaccNotAboveGrowth { .. })));
    }

    #[test]
    fn zero_shares_is_an_error() {
        let a = DcfAssumptions { shares: 0.0, ..sample() };
        let err = dcf(&a).expect_err("no shares");
        assert!(matches!(err, ValuationError::NonPositiveShares(_)));
        assert_eq!(err.to_string(), "shares outstanding must be > 0, got 0");
    }

    #[test]
    fn non_finite_inputs_are_errors() {
        let a = DcfAssumptions { base_fcf: f64::NAN, ..sample() };
        let err = dcf(&a).expect_err("NaN FCF");
        assert!(matches!(err, ValuationError::NotFinite { .. }));
        assert!(err.to_string().contains("base free cash flow is not finite"));

        let a = DcfAssumptions { wacc: f64::INFINITY, ..sample() };
        let err = dcf(&a).expect_err("infinite wacc");
        assert!(matches!(err, ValuationError::NotFinite { .. }));
        assert!(err.to_string().contains("WACC"));

        let a = DcfAssumptions { growth: vec![0.1, f64::NAN], ..sample() };
        let err = dcf(&a).expect_err("NaN growth");
        assert!(err.to_string().contains("growth rate for year 2"));
    }

    #[test]
    fn negative_fcf_is_an_error() {
        let a = DcfAssumptions { base_fcf: -10.0, ..sample() };
        let err = dcf(&a).expect_err("negative FCF");
        assert!(matches!(err, ValuationError::NonPositiveFcf(_)));
        assert_eq!(err.to_string(), "base free cash flow is -10: a DCF needs positive cash flow");
    }

    #[test]
    fn empty_growth_and_low_rates_are_errors() {
        let a = DcfAssumptions { growth: Vec::new(), ..sample() };
        assert!(matches!(dcf(&a), Err(ValuationError::EmptyGrowth)));
        let a = DcfAssumptions { growth: vec![0.1, -1.0], ..sample() };
        assert!(matches!(dcf(&a), Err(ValuationError::GrowthTooLow { year: 2, .. })));
        let a = DcfAssumptions { wacc: -1.0, terminal_growth: -1.5, ..sample() };
        assert!(matches!(dcf(&a), Err(ValuationError::WaccTooLow(_))));
    }

    #[test]
    fn rating_boundaries() {
        let rule = RatingRule::default();
        assert_eq!(rule.rate(0.20), Some(Rating::Buy));
        assert_eq!(rule.rate(0.35), Some(Rating::Buy));
        assert_eq!(rule.rate(0.05), Some(Rating::Outperform));
        assert_eq!(rule.rate(0.10), Some(Rating::Outperform));
        assert_eq!(rule.rate(0.0), Some(Rating::Hold));
        assert_eq!(rule.rate(-0.05), Some(Rating::Underperform));
        assert_eq!(rule.rate(-0.10), Some(Rating::Underperform));
        assert_eq!(rule.rate(-0.20), Some(Rating::Sell));
        assert_eq!(rule.rate(-0.50), Some(Rating::Sell));
        assert_eq!(rule.rate(f64::NAN), None);
        assert_eq!(rule.rate(f64::INFINITY), None);
        assert_eq!(Rating::Underperform.to_string(), "Underperform");
        assert_eq!(Rating::Buy.label(), "Buy");
    }

    #[test]
    fn rating_rule_describe_and_validate() {
        let rule = RatingRule::default();
        assert_eq!(
            rule.describe(),
            "Buy if upside ≥ 20%, Outperform ≥ 5%, Hold between −5% and 5%, Underperform ≤ −5%, Sell ≤ −20%"
        );
        assert!(rule.validate().is_ok());
        let bad = RatingRule { outperform: 0.30, ..rule };
        assert!(matches!(bad.validate(), Err(ValuationError::InvalidRatingRule { .. })));
        let nan = RatingRule { sell: f64::NAN, ..rule };
        assert!(matches!(nan.validate(), Err(ValuationError::NotFinite { .. })));
        let odd = RatingRule { buy: 0.175, ..rule };
        assert!(odd.describe().starts_with("Buy if upside ≥ 17.5%,"));
    }

    #[test]
    fn grid_is_rounded_and_ascending() {
        let g = grid(0.08, 0.01, 2);
        assert_eq!(g.len(), 5);
        let want = [0.06, 0.07, 0.08, 0.09, 0.10];
        assert!(g.iter().zip(want).all(|(a, b)| close(*a, b)));
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        // Rounded to 1e-6: no 0.0799999… left.
        assert!(g.iter().all(|x| close(*x * 1e6, (*x * 1e6).round())));
        assert_eq!(grid(0.08, 0.01, 0).len(), 1);
        assert!(grid(f64::NAN, 0.01, 2).is_empty());
    }

    #[test]
    fn sensitivity_none_exactly_where_wacc_not_above_g() {
        let a = sample();
        let waccs = grid(0.04, 0.01, 2); // 0.02 … 0.06
        let growths = grid(0.03, 0.01, 2); // 0.01 … 0.05
        let s = sensitivity(&a, &waccs, &growths);
        assert_eq!(s.per_share.len(), waccs.len());
        for (row, &w) in s.per_share.iter().zip(&waccs) {
            assert_eq!(row.len(), growths.len());
            for (cell, &g) in row.iter().zip(&growths) {
                assert_eq!(cell.is_none(), w <= g, "wacc {w} g {g}");
            }
        }
    }

    #[test]
    fn sensitivity_centre_equals_dcf() {
        let a = sample();
        let waccs = grid(a.wacc, 0.01, 2);
        let growths = grid(a.terminal_growth, 0.005, 2);
        let s = sensitivity(&a, &waccs, &growths);
        let centre = s.per_share[2][2].expect("centre cell valid");
        let base = dcf(&a).expect("valid assumptions").per_share;
        assert!(close(centre, base));
        assert!(close(centre, 136.25));
        // Higher WACC → lower value; higher g → higher value.
        let lower = s.per_share[3][2].expect("valid");
        let higher = s.per_share[2][3].expect("valid");
        assert!(lower < centre && higher > centre);
    }

    #[test]
    fn median_odd_even_nan() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert!(median(&[4.0, 1.0, 3.0, 2.0]).is_some_and(|m| close(m, 2.5)));
        assert!(median(&[f64::NAN, 1.0, 3.0, f64::INFINITY]).is_some_and(|m| close(m, 2.0)));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN]), None);
    }

    #[test]
    fn pe_check_ignores_negative_and_non_finite() {
        // Usable P/Es: 10, 20, 30 → median 20; × EPS 2 = 40.
        let c = pe_check(&[10.0, -5.0, 20.0, f64::NAN, 30.0, 0.0], 2.0).expect("usable peers");
        assert_eq!(c.name, "P/E");
        assert_eq!(c.peers, 3);
        assert!(close(c.peer_median, 20.0));
        assert!(close(c.implied_per_share, 40.0));
        assert!(pe_check(&[10.0], -1.0).is_none());
        assert!(pe_check(&[-10.0, f64::NAN], 2.0).is_none());
    }

    #[test]
    fn ev_ebitda_check_by_hand() {
        // Usable multiples 8, 10, 12 → median 10; EV 1000 − net debt 200 = 800 / 10 shares = 80.
        let c = ev_ebitda_check(&[8.0, 10.0, 12.0, -3.0], 100.0, 200.0, 10.0).expect("usable peers");
        assert_eq!(c.name, "EV/EBITDA");
        assert_eq!(c.peers, 3);
        assert!(close(c.implied_per_share, 80.0));
        assert!(ev_ebitda_check(&[8.0], 100.0, 200.0, 0.0).is_none());
        assert!(ev_ebitda_check(&[8.0], 0.0, 200.0, 10.0).is_none());
    }

    fn check(name: &str, implied: f64) -> MultipleCheck {
        MultipleCheck {
            name: name.to_string(),
            peer_median: 1.0,
            peers: 1,
            metric: 1.0,
            implied_per_share: implied,
        }
    }

    #[test]
    fn blend_weights_sum_to_one() {
        // DCF 100 × 0.5 + P/E 90 × 0.25 + EV/EBITDA 130 × 0.25 = 50 + 22.5 + 32.5 = 105.
        let checks = [check("P/E", 90.0), check("EV/EBITDA", 130.0), check("Bad", f64::NAN)];
        let t = blend_target(Some(100.0), &checks, 0.5).expect("usable");
        assert_eq!(t.parts.len(), 3);
        assert!(close(t.parts.iter().map(|p| p.2).sum::<f64>(), 1.0));
        assert!(close(t.per_share, 105.0));
        assert!(close(t.dcf_weight, 0.5));

        // No DCF: multiples share everything → (90 + 130) / 2 = 110.
        let t = blend_target(None, &checks, 0.5).expect("usable");
        assert!(close(t.parts.iter().map(|p| p.2).sum::<f64>(), 1.0));
        assert!(close(t.per_share, 110.0));
        assert!(close(t.dcf_weight, 0.0));

        // No usable multiples (negative ignored): DCF alone.
        let t = blend_target(Some(100.0), &[check("P/E", -5.0)], 0.5).expect("usable");
        assert_eq!(t.parts.len(), 1);
        assert!(close(t.parts[0].2, 1.0));
        assert!(close(t.per_share, 100.0));

        // Negative DCF and nothing else: nothing usable.
        assert!(blend_target(Some(-3.0), &[], 0.5).is_none());
        assert!(blend_target(None, &[], 0.5).is_none());
    }

    #[test]
    fn upside_needs_positive_price() {
        assert!(upside(120.0, 100.0).is_some_and(|u| close(u, 0.2)));
        assert_eq!(upside(120.0, 0.0), None);
        assert_eq!(upside(f64::NAN, 100.0), None);
        assert_eq!(upside(120.0, f64::INFINITY), None);
    }

    #[test]
    fn rating_rule_serde_defaults() {
        let r: RatingRule = serde_json::from_str(r#"{"buy": 0.25}"#).expect("valid rule");
        assert_eq!(r, RatingRule { buy: 0.25, ..RatingRule::default() });
        assert!(serde_json::from_str::<RatingRule>(r#"{"bye": 0.25}"#).is_err());
    }
}

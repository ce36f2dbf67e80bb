//! The valuation of one report, in code: DCF assumptions derived from the statements (each
//! stated with where it came from), the peers' multiples cross-check, the blended target, the
//! rating by the stated rule, and the WACC × terminal growth sensitivity grid.

use bullpen_connectors::LineItem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::data::Inputs;
use super::valuation::{
    DcfAssumptions, DcfResult, MultipleCheck, Rating, RatingRule, Sensitivity, Target, blend_target, dcf,
    ev_ebitda_check, grid, growth_path, median, pe_check, sensitivity, upside,
};

/// Valuation settings of a report job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ValuationSettings {
    /// Years of the explicit DCF period.
    pub years: usize,
    /// Risk-free rate (CAPM).
    pub risk_free: f64,
    /// Equity risk premium (CAPM).
    pub equity_risk_premium: f64,
    /// Beta used when the market data cannot give one.
    pub default_beta: f64,
    /// Long-run growth after the explicit period.
    pub terminal_growth: f64,
    /// The explicit period starts at the median revenue growth of the last three fiscal
    /// years, clamped to this range.
    pub min_start_growth: f64,
    pub max_start_growth: f64,
    /// A WACC to use instead of the computed one.
    pub wacc: Option<f64>,
    /// Weight of the DCF in the target; the peer multiples share the rest.
    pub dcf_weight: f64,
    /// Rating thresholds on the upside to the target.
    pub rating: RatingRule,
    /// The price must be at most this many days old to rate the stock.
    pub max_price_age_days: i64,
}

impl Default for ValuationSettings {
    fn default() -> Self {
        Self {
            years: 5,
            risk_free: 0.04,
            equity_risk_premium: 0.05,
            default_beta: 1.0,
            terminal_growth: 0.025,
            min_start_growth: -0.05,
            max_start_growth: 0.15,
            wacc: None,
            dcf_weight: 0.5,
            rating: RatingRule::default(),
            max_price_age_days: 10,
        }
    }
}

/// One assumption and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assumption {
    pub name: String,
    pub value: f64,
    /// `percent`, `currency`, `shares`, `number`.
    pub unit: &'static str,
    pub source: String,
}

/// The valuation of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Analysis {
    pub assumptions: Vec<Assumption>,
    pub dcf_inputs: Option<DcfAssumptions>,
    pub dcf: Option<DcfResult>,
    /// Why there is no DCF.
    pub dcf_absent: Option<String>,
    pub checks: Vec<MultipleCheck>,
    pub target: Option<Target>,
    pub price: Option<f64>,
    pub upside: Option<f64>,
    pub rating: Option<Rating>,
    /// Why the stock is not rated (or the rule that rated it).
    pub rating_note: String,
    pub sensitivity: Option<Sensitivity>,
}

fn line(inputs: &Inputs, item: LineItem) -> Option<(f64, String)> {
    let p = inputs.latest_year()?;
    let v = p.values.get(&item)?;
    Some((v.value, format!("{} {} ({}, {})", item.as_str(), p.label(), v.concept, short(&v.source.document))))
}

/// The file name of a path-like document reference.
pub fn short(document: &str) -> String {
    document.rsplit('/').next().unwrap_or(document).to_string()
}

/// Values the analysis needs, with the reasons when absent.
pub fn analyse(inputs: &Inputs, s: &ValuationSettings) -> Analysis {
    let mut a = Analysis::default();
    let push = |a: &mut Analysis, name: &str, value: f64, unit: &'static str, source: String| {
        a.assumptions.push(Assumption { name: name.into(), value, unit, source })
    };

    // Base free cash flow and the growth path.
    let fcf = inputs.latest("free_cash_flow").and_then(|v| v.value);
    let fy = inputs.latest_year().map(|p| p.label()).unwrap_or_default();
    let growths: Vec<f64> = inputs
        .ratios
        .periods
        .iter()
        .filter(|p| p.fiscal_period.as_str() == "FY")
        .filter_map(|p| p.values.iter().find(|v| v.name == "revenue_growth").and_then(|v| v.value))
        .collect();
    let recent: Vec<f64> = growths.iter().rev().take(3).copied().collect();
    let start =
        median(&recent).map(|g| g.clamp(s.min_start_growth, s.max_start_growth)).unwrap_or(s.terminal_growth);
    let start_source = if recent.is_empty() {
        "no revenue growth known: the terminal growth rate".to_string()
    } else {
        format!(
            "median revenue growth of the last {} fiscal years, clamped to {:.0}%..{:.0}%",
            recent.len(),
            s.min_start_growth * 100.0,
            s.max_start_growth * 100.0
        )
    };

    // WACC: CAPM cost of equity, after-tax cost of debt, market-value weights.
    let beta_v = inputs.market("beta");
    let (beta, beta_source) = match beta_v.and_then(|v| v.value) {
        Some(b) => (b, "beta against the index over the trailing year".to_string()),
        None => (
            s.default_beta,
            format!(
                "default beta ({})",
                beta_v.and_then(|v| v.reason.clone()).unwrap_or_else(|| "no market data".into())
            ),
        ),
    };
    let cost_of_equity = s.risk_free + beta * s.equity_risk_premium;
    let debt: Option<(f64, String)> =
        match (line(inputs, LineItem::LongTermDebt), line(inputs, LineItem::ShortTermDebt)) {
            (None, None) => None,
            (l, st) => Some((
                l.as_ref().map_or(0.0, |x| x.0) + st.as_ref().map_or(0.0, |x| x.0),
                [l.map(|x| x.1), st.map(|x| x.1)].into_iter().flatten().collect::<Vec<_>>().join(" + "),
            )),
        };
    let cash = line(inputs, LineItem::Cash);
    let interest = line(inputs, LineItem::InterestExpense);
    let tax_rate = match (line(inputs, LineItem::IncomeTax), line(inputs, LineItem::PretaxIncome)) {
        (Some((t, _)), Some((p, _))) if p > 0.0 => (t / p).clamp(0.0, 0.35),
        _ => 0.21,
    };
    let market_cap = inputs.valuation("market_cap").and_then(|v| v.value);
    let (wacc, wacc_source) = match s.wacc {
        Some(w) => (w, "set in the job's settings".to_string()),
        None => {
            let kd = match (&interest, &debt) {
                (Some((i, _)), Some((d, _))) if *d > 0.0 && *i > 0.0 => (i / d).clamp(0.0, 0.15),
                _ => s.risk_free + 0.01,
            };
            match (market_cap, &debt) {
                (Some(e), Some((d, _))) if e > 0.0 && *d >= 0.0 => {
                    let we = e / (e + d);
                    let w = we * cost_of_equity + (1.0 - we) * kd * (1.0 - tax_rate);
                    (
                        w,
                        format!(
                            "{:.1}% equity at {:.2}% (CAPM: {:.1}% + {beta:.2} × {:.1}%), {:.1}% debt at {:.2}% before a {:.1}% tax rate",
                            we * 100.0,
                            cost_of_equity * 100.0,
                            s.risk_free * 100.0,
                            s.equity_risk_premium * 100.0,
                            (1.0 - we) * 100.0,
                            kd * 100.0,
                            tax_rate * 100.0
                        ),
                    )
                }
                _ => (
                    cost_of_equity,
                    format!(
                        "CAPM cost of equity {:.1}% + {beta:.2} × {:.1}% (no market value of equity for weights)",
                        s.risk_free * 100.0,
                        s.equity_risk_premium * 100.0
                    ),
                ),
            }
        }
    };
    let net_debt = match (&debt, &cash) {
        (Some((d, ds)), Some((c, cs))) => Some((d - c, format!("{ds} − {cs}"))),
        (Some((d, ds)), None) => Some((*d, format!("{ds} (no cash line)"))),
        (None, Some((c, cs))) => Some((-c, format!("no debt lines − {cs}"))),
        (None, None) => None,
    };
    let shares = line(inputs, LineItem::SharesDiluted).or_else(|| line(inputs, LineItem::SharesOutstanding));

    push(&mut a, "Beta", beta, "number", beta_source);
    push(
        &mut a,
        "Cost of equity",
        cost_of_equity,
        "percent",
        "risk-free rate + beta × equity risk premium".into(),
    );
    push(&mut a, "WACC", wacc, "percent", wacc_source);
    push(&mut a, "Terminal growth", s.terminal_growth, "percent", "job setting".into());
    push(&mut a, "Growth, year 1", start, "percent", start_source);
    if let Some(f) = fcf {
        push(&mut a, "Base free cash flow", f, "currency", format!("free cash flow {fy} (ratio engine)"));
    }
    if let Some((n, src)) = &net_debt {
        push(&mut a, "Net debt", *n, "currency", src.clone());
    }
    if let Some((sh, src)) = &shares {
        push(&mut a, "Diluted shares", *sh, "shares", src.clone());
    }

    let missing: Vec<&str> = [
        fcf.is_none().then_some("free cash flow"),
        net_debt.is_none().then_some("debt and cash"),
        shares.is_none().then_some("diluted shares"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        let assumptions = DcfAssumptions {
            base_fcf: fcf.unwrap_or_default(),
            growth: growth_path(start, s.terminal_growth, s.years.max(1)),
            wacc,
            terminal_growth: s.terminal_growth,
            net_debt: net_debt.as_ref().map_or(0.0, |x| x.0),
            shares: shares.as_ref().map_or(0.0, |x| x.0),
        };
        match dcf(&assumptions) {
            Ok(r) => {
                let waccs = grid(wacc, 0.01, 2);
                let gs = grid(s.terminal_growth, 0.005, 2);
                a.sensitivity = Some(sensitivity(&assumptions, &waccs, &gs));
                a.dcf = Some(r);
            }
            Err(e) => a.dcf_absent = Some(e.to_string()),
        }
        a.dcf_inputs = Some(assumptions);
    } else {
        a.dcf_absent = Some(format!("no DCF: {} not reported for {fy}", missing.join(", ")));
    }

    // Peer multiples at the as-of price.
    let peer_values = |name: &str| -> Vec<f64> {
        inputs
            .peers
            .iter()
            .filter_map(|p| p.ratios.valuation.as_ref()?.values.iter().find(|v| v.name == name)?.value)
            .collect()
    };
    let eps = inputs.latest("eps_diluted").and_then(|v| v.value);
    let ebitda = inputs.latest("ebitda").and_then(|v| v.value);
    if let Some(c) = eps.and_then(|e| pe_check(&peer_values("pe"), e)) {
        a.checks.push(c);
    }
    if let (Some(e), Some((nd, _)), Some((sh, _))) = (ebitda, &net_debt, &shares)
        && let Some(c) = ev_ebitda_check(&peer_values("ev_ebitda"), e, *nd, *sh)
    {
        a.checks.push(c);
    }
    a.target = blend_target(a.dcf.as_ref().map(|d| d.per_share), &a.checks, s.dcf_weight);

    // Rating: only on a fresh price.
    a.price = inputs.price.as_ref().map(|p| p.close);
    a.rating_note = match (&a.target, &inputs.price) {
        (None, _) => format!(
            "Not rated: no target price ({}; no peer multiples)",
            a.dcf_absent.clone().unwrap_or_else(|| "the DCF value is not usable".into())
        ),
        (Some(_), None) => "Not rated: no price on or before the report date".into(),
        (Some(_), Some(p)) if p.age_days > s.max_price_age_days => format!(
            "Not rated: the last price ({}) is {} days before the report date (limit {})",
            p.date, p.age_days, s.max_price_age_days
        ),
        (Some(t), Some(p)) => {
            a.upside = upside(t.per_share, p.close);
            a.rating = a.upside.and_then(|u| s.rating.rate(u));
            format!("Rule: {}", s.rating.describe())
        }
    };
    a
}

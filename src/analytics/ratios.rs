//! Fundamental ratios per ticker and fiscal period, computed with polars over a wide frame of
//! statement lines (one row per ticker × period, one `f64` column per line item).
//!
//! Definitions (ending balances; growth against the same fiscal period one year earlier):
//!
//! | ratio | formula |
//! |---|---|
//! | revenue_growth | revenue / revenue(prior year) − 1 |
//! | gross_margin | gross profit (or revenue − cost of revenue) / revenue |
//! | operating_margin, net_margin | operating income, net income / revenue |
//! | ebitda, ebitda_margin | operating income + D&A; / revenue |
//! | free_cash_flow, fcf_conversion | operating cash flow − capex; / net income |
//! | roe, roa | net income / equity, / total assets |
//! | roic | operating income × (1 − income tax / pretax income) / (equity + debt − cash) |
//! | debt_to_equity | (long-term + short-term debt) / equity |
//! | current_ratio | current assets / current liabilities |
//! | interest_coverage | operating income / interest expense |
//! | eps_basic, eps_diluted | as reported |
//! | market_cap | price × weighted diluted shares (restated for splits, like the prices), else the cover-page count |
//! | pe, pb, ps | price / diluted EPS; market cap / equity; market cap / revenue (fiscal years) |
//! | ev_ebitda | (market cap + debt − cash) / EBITDA (fiscal years) |
//! | dividend_yield | dividends per share / price (else dividends paid / market cap) |
//!
//! A ratio whose inputs are missing, or whose denominator is not positive, is null in the
//! frame; [`explain_absent`] names the reason from the same row.

use polars::prelude::*;

use bullpen_connectors::LineItem;

/// Unit of a ratio value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A fraction (0.25 = 25 %).
    Fraction,
    /// A multiple (x).
    Multiple,
    /// Currency amount in the statement currency.
    Currency,
    /// Currency per share.
    PerShare,
}

/// One input of a ratio: a line item of the period, of the prior-year period, or the price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A line item of the row's period.
    Line(LineItem),
    /// The same line item one fiscal year earlier.
    Prior(LineItem),
    /// Close price on the period end (or the as-of date).
    Price,
}

impl Input {
    /// The frame column holding the input.
    pub fn column(&self) -> String {
        match self {
            Input::Line(i) => i.as_str().to_string(),
            Input::Prior(i) => format!("prior_{}", i.as_str()),
            Input::Price => "price".to_string(),
        }
    }
}

/// A ratio: its name, unit, inputs (any missing → absent), alternatives (one of each group
/// needed), and inputs that must be positive.
#[derive(Debug, Clone, Copy)]
pub struct RatioDef {
    /// Column / JSON name.
    pub name: &'static str,
    /// Human label.
    pub label: &'static str,
    /// Unit.
    pub unit: Unit,
    /// Inputs that must all be present.
    pub needs: &'static [Input],
    /// Groups of alternatives: at least one input of each group must be present.
    pub any_of: &'static [&'static [Input]],
    /// Denominators: present and > 0 (named in the reason otherwise).
    pub positive: &'static [&'static str],
    /// Only for fiscal years (valuation multiples need a full year of flows).
    pub annual_only: bool,
}

use Input::{Line, Price, Prior};
use LineItem as L;

/// Every ratio, in display order.
pub const RATIOS: &[RatioDef] = &[
    def(
        "revenue_growth",
        "Revenue growth",
        Unit::Fraction,
        &[Line(L::Revenue), Prior(L::Revenue)],
        &[],
        &["prior_revenue"],
    ),
    RatioDef {
        name: "gross_margin",
        label: "Gross margin",
        unit: Unit::Fraction,
        needs: &[Line(L::Revenue)],
        any_of: &[&[Line(L::GrossProfit), Line(L::CostOfRevenue)]],
        positive: &["revenue"],
        annual_only: false,
    },
    def(
        "operating_margin",
        "Operating margin",
        Unit::Fraction,
        &[Line(L::OperatingIncome), Line(L::Revenue)],
        &[],
        &["revenue"],
    ),
    def(
        "net_margin",
        "Net margin",
        Unit::Fraction,
        &[Line(L::NetIncome), Line(L::Revenue)],
        &[],
        &["revenue"],
    ),
    def(
        "ebitda",
        "EBITDA",
        Unit::Currency,
        &[Line(L::OperatingIncome), Line(L::DepreciationAmortization)],
        &[],
        &[],
    ),
    def(
        "ebitda_margin",
        "EBITDA margin",
        Unit::Fraction,
        &[Line(L::OperatingIncome), Line(L::DepreciationAmortization), Line(L::Revenue)],
        &[],
        &["revenue"],
    ),
    def(
        "free_cash_flow",
        "Free cash flow",
        Unit::Currency,
        &[Line(L::OperatingCashFlow), Line(L::CapitalExpenditure)],
        &[],
        &[],
    ),
    def(
        "fcf_conversion",
        "FCF conversion",
        Unit::Fraction,
        &[Line(L::OperatingCashFlow), Line(L::CapitalExpenditure), Line(L::NetIncome)],
        &[],
        &["net_income"],
    ),
    def(
        "roe",
        "Return on equity",
        Unit::Fraction,
        &[Line(L::NetIncome), Line(L::StockholdersEquity)],
        &[],
        &["stockholders_equity"],
    ),
    def(
        "roa",
        "Return on assets",
        Unit::Fraction,
        &[Line(L::NetIncome), Line(L::TotalAssets)],
        &[],
        &["total_assets"],
    ),
    def(
        "roic",
        "Return on invested capital",
        Unit::Fraction,
        &[
            Line(L::OperatingIncome),
            Line(L::IncomeTax),
            Line(L::PretaxIncome),
            Line(L::StockholdersEquity),
            Line(L::LongTermDebt),
            Line(L::ShortTermDebt),
            Line(L::Cash),
        ],
        &[],
        &["pretax_income", "invested_capital"],
    ),
    def(
        "debt_to_equity",
        "Debt / equity",
        Unit::Multiple,
        &[Line(L::LongTermDebt), Line(L::ShortTermDebt), Line(L::StockholdersEquity)],
        &[],
        &["stockholders_equity"],
    ),
    def(
        "current_ratio",
        "Current ratio",
        Unit::Multiple,
        &[Line(L::CurrentAssets), Line(L::CurrentLiabilities)],
        &[],
        &["current_liabilities"],
    ),
    def(
        "interest_coverage",
        "Interest coverage",
        Unit::Multiple,
        &[Line(L::OperatingIncome), Line(L::InterestExpense)],
        &[],
        &["interest_expense"],
    ),
    def("eps_basic", "EPS (basic)", Unit::PerShare, &[Line(L::EpsBasic)], &[], &[]),
    def("eps_diluted", "EPS (diluted)", Unit::PerShare, &[Line(L::EpsDiluted)], &[], &[]),
    RatioDef {
        name: "market_cap",
        label: "Market cap",
        unit: Unit::Currency,
        needs: &[Price],
        any_of: &[&[Line(L::SharesDiluted), Line(L::SharesOutstanding)]],
        positive: &[],
        annual_only: false,
    },
    RatioDef {
        name: "pe",
        label: "P/E",
        unit: Unit::Multiple,
        needs: &[Price, Line(L::EpsDiluted)],
        any_of: &[],
        positive: &["eps_diluted"],
        annual_only: true,
    },
    RatioDef {
        name: "pb",
        label: "P/B",
        unit: Unit::Multiple,
        needs: &[Price, Line(L::StockholdersEquity)],
        any_of: &[&[Line(L::SharesDiluted), Line(L::SharesOutstanding)]],
        positive: &["stockholders_equity"],
        annual_only: true,
    },
    RatioDef {
        name: "ps",
        label: "P/S",
        unit: Unit::Multiple,
        needs: &[Price, Line(L::Revenue)],
        any_of: &[&[Line(L::SharesDiluted), Line(L::SharesOutstanding)]],
        positive: &["revenue"],
        annual_only: true,
    },
    RatioDef {
        name: "ev_ebitda",
        label: "EV / EBITDA",
        unit: Unit::Multiple,
        needs: &[
            Price,
            Line(L::LongTermDebt),
            Line(L::ShortTermDebt),
            Line(L::Cash),
            Line(L::OperatingIncome),
            Line(L::DepreciationAmortization),
        ],
        any_of: &[&[Line(L::SharesDiluted), Line(L::SharesOutstanding)]],
        positive: &["ebitda"],
        annual_only: true,
    },
    RatioDef {
        name: "dividend_yield",
        label: "Dividend yield",
        unit: Unit::Fraction,
        needs: &[Price],
        any_of: &[&[Line(L::DividendsPerShare), Line(L::DividendsPaid)]],
        positive: &[],
        annual_only: true,
    },
];

const fn def(
    name: &'static str,
    label: &'static str,
    unit: Unit,
    needs: &'static [Input],
    any_of: &'static [&'static [Input]],
    positive: &'static [&'static str],
) -> RatioDef {
    RatioDef { name, label, unit, needs, any_of, positive, annual_only: false }
}

/// Columns of the wide statements frame besides the line items.
pub const KEY_COLUMNS: [&str; 5] = ["ticker", "fiscal_year", "fiscal_period", "end", "price"];

fn c(name: &str) -> Expr {
    col(name)
}

fn pos(e: Expr) -> Expr {
    e.gt(lit(0.0))
}

fn null() -> Expr {
    lit(NULL).cast(DataType::Float64)
}

fn guard(cond: Expr, value: Expr) -> Expr {
    when(cond).then(value).otherwise(null())
}

/// Adds every ratio column (and helper columns `prior_revenue`, `invested_capital`, `shares`) to a
/// wide statements frame. The frame needs `ticker`, `fiscal_year` (i32), `fiscal_period`
/// (str), `price` (f64, null when unknown) and one f64 column per [`LineItem`] (null = absent).
pub fn period_ratios(wide: LazyFrame) -> PolarsResult<LazyFrame> {
    // Prior-year values by a hash join on (ticker, fiscal period, fiscal year − 1): no sort
    // and no window; a period label that occurs twice for a ticker has no unambiguous prior,
    // so the growth it would feed is absent rather than taken from an arbitrary row.
    let keys = [c("ticker"), c("fiscal_period"), c("fiscal_year")];
    let prior = wide
        .clone()
        .group_by([c("ticker"), c("fiscal_period"), (c("fiscal_year") + lit(1)).alias("fiscal_year")])
        .agg([c("revenue").first().alias("prior_revenue"), len().alias("prior_rows")])
        .select([
            c("ticker"),
            c("fiscal_period"),
            c("fiscal_year"),
            guard(c("prior_rows").eq(lit(1)), c("prior_revenue")).alias("prior_revenue"),
        ]);
    let annual = c("fiscal_period").eq(lit("FY"));
    let debt = c("long_term_debt") + c("short_term_debt");
    let ebitda = c("operating_income") + c("depreciation_amortization");
    let shares = c("shares_diluted").fill_null(c("shares_outstanding"));
    let market_cap = c("price") * c("shares");
    let gross = c("gross_profit").fill_null(c("revenue") - c("cost_of_revenue"));
    let fcf = c("operating_cash_flow") - c("capital_expenditure");
    let tax_rate = c("income_tax") / c("pretax_income");
    Ok(wide
        .join(prior, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .with_columns([
            shares.alias("shares"),
            (c("stockholders_equity") + debt.clone() - c("cash")).alias("invested_capital"),
            ebitda.clone().alias("ebitda"),
        ])
        .with_columns([
            guard(pos(c("prior_revenue")), c("revenue") / c("prior_revenue") - lit(1.0))
                .alias("revenue_growth"),
            guard(pos(c("revenue")), gross / c("revenue")).alias("gross_margin"),
            guard(pos(c("revenue")), c("operating_income") / c("revenue")).alias("operating_margin"),
            guard(pos(c("revenue")), c("net_income") / c("revenue")).alias("net_margin"),
            guard(pos(c("revenue")), c("ebitda") / c("revenue")).alias("ebitda_margin"),
            fcf.clone().alias("free_cash_flow"),
            guard(pos(c("net_income")), fcf / c("net_income")).alias("fcf_conversion"),
            guard(pos(c("stockholders_equity")), c("net_income") / c("stockholders_equity")).alias("roe"),
            guard(pos(c("total_assets")), c("net_income") / c("total_assets")).alias("roa"),
            guard(
                pos(c("pretax_income")).and(pos(c("invested_capital"))),
                c("operating_income") * (lit(1.0) - tax_rate) / c("invested_capital"),
            )
            .alias("roic"),
            guard(pos(c("stockholders_equity")), debt.clone() / c("stockholders_equity"))
                .alias("debt_to_equity"),
            guard(pos(c("current_liabilities")), c("current_assets") / c("current_liabilities"))
                .alias("current_ratio"),
            guard(pos(c("interest_expense")), c("operating_income") / c("interest_expense"))
                .alias("interest_coverage"),
            c("eps_basic").alias("eps_basic"),
            c("eps_diluted").alias("eps_diluted"),
            market_cap.clone().alias("market_cap"),
            guard(annual.clone().and(pos(c("eps_diluted"))), c("price") / c("eps_diluted")).alias("pe"),
            guard(
                annual.clone().and(pos(c("stockholders_equity"))),
                market_cap.clone() / c("stockholders_equity"),
            )
            .alias("pb"),
            guard(annual.clone().and(pos(c("revenue"))), market_cap.clone() / c("revenue")).alias("ps"),
            guard(
                annual.clone().and(pos(c("ebitda"))),
                (market_cap.clone() + debt - c("cash")) / c("ebitda"),
            )
            .alias("ev_ebitda"),
            guard(
                annual,
                (c("dividends_per_share") / c("price")).fill_null(c("dividends_paid") / market_cap),
            )
            .alias("dividend_yield"),
        ]))
}

/// Why a ratio is absent for a row, given a lookup of the row's column values (`None` = null)
/// and why the row has no price, if it has none.
pub fn explain_absent(
    def: &RatioDef,
    fiscal_period: &str,
    value: &dyn Fn(&str) -> Option<f64>,
    no_price: &str,
) -> String {
    if def.annual_only && fiscal_period != "FY" {
        return "computed for fiscal years only (needs a full year of flows)".into();
    }
    let mut missing: Vec<String> = def
        .needs
        .iter()
        .filter(|i| value(&i.column()).is_none())
        .map(|i| match i {
            Input::Prior(l) => format!("{} of the prior fiscal year", l.as_str()),
            Input::Price => format!("a price on the date ({no_price})"),
            Input::Line(l) => l.as_str().to_string(),
        })
        .collect();
    for group in def.any_of {
        if group.iter().all(|i| value(&i.column()).is_none()) {
            missing.push(group.iter().map(|i| i.column()).collect::<Vec<_>>().join(" or "));
        }
    }
    if !missing.is_empty() {
        return format!("missing {}", missing.join(", "));
    }
    for p in def.positive {
        match value(p) {
            Some(v) if v > 0.0 => {}
            Some(v) => return format!("{p} is {v} (not positive): not meaningful"),
            None => return format!("missing {p}"),
        }
    }
    "not computable from the inputs".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        let mut cols: Vec<Column> = vec![
            Column::new("ticker".into(), ["T", "T"]),
            Column::new("fiscal_year".into(), [2023i32, 2024]),
            Column::new("fiscal_period".into(), ["FY", "FY"]),
            Column::new("price".into(), [Some(50.0f64), Some(60.0)]),
        ];
        for item in LineItem::ALL {
            let v: [Option<f64>; 2] = match item {
                L::Revenue => [Some(100.0), Some(120.0)],
                L::CostOfRevenue => [Some(60.0), Some(70.0)],
                L::OperatingIncome => [Some(20.0), Some(30.0)],
                L::NetIncome => [Some(10.0), Some(-5.0)],
                L::StockholdersEquity => [Some(50.0), Some(0.0)],
                L::EpsDiluted => [Some(1.0), Some(-0.5)],
                L::SharesOutstanding => [Some(10.0), None],
                L::SharesDiluted => [None, Some(12.0)],
                _ => [None, None],
            };
            cols.push(Column::new(item.as_str().into(), v));
        }
        DataFrame::new_infer_height(cols).unwrap()
    }

    #[test]
    fn ratios_nulls_and_reasons() {
        let out = period_ratios(frame().lazy()).unwrap().collect().unwrap();
        let get = |name: &str, row: usize| out.column(name).unwrap().f64().unwrap().get(row);
        assert_eq!(get("revenue_growth", 0), None);
        assert!((get("revenue_growth", 1).unwrap() - 0.2).abs() < 1e-12);
        assert!((get("gross_margin", 1).unwrap() - 50.0 / 120.0).abs() < 1e-12, "revenue − cost of revenue");
        assert_eq!(get("roe", 1), None, "zero equity");
        assert_eq!(get("pe", 1), None, "negative EPS");
        assert!((get("pe", 0).unwrap() - 50.0).abs() < 1e-12);
        assert!((get("market_cap", 0).unwrap() - 500.0).abs() < 1e-9, "cover count when no diluted count");
        assert!((get("market_cap", 1).unwrap() - 720.0).abs() < 1e-9, "diluted shares first");
        assert_eq!(get("ebitda", 0), None);

        let lookup = |row: usize| {
            let out = out.clone();
            move |col: &str| out.column(col).ok().and_then(|c| c.f64().ok().and_then(|c| c.get(row)))
        };
        let by = |n: &str| RATIOS.iter().find(|d| d.name == n).unwrap();
        assert_eq!(
            explain_absent(by("roe"), "FY", &lookup(1), ""),
            "stockholders_equity is 0 (not positive): not meaningful"
        );
        assert_eq!(explain_absent(by("ebitda"), "FY", &lookup(0), ""), "missing depreciation_amortization");
        assert_eq!(
            explain_absent(by("revenue_growth"), "FY", &lookup(0), ""),
            "missing revenue of the prior fiscal year"
        );
        assert!(explain_absent(by("pe"), "Q1", &lookup(0), "").contains("fiscal years only"));
    }
}

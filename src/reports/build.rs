//! From inputs and analysis to the report: the tables (built by code from the ratio engine's
//! values), the charts, the key data box, each section's data lines and retrieved passages
//! for the writer, and the assembled [`Document`].

use std::collections::BTreeMap;

use bullpen_connectors::{Filing, LineItem, Period, StatementPeriod};
use serde::Serialize;

use super::analysis::{Analysis, short};
use super::charts;
use super::data::Inputs;
use super::doc::{Block, Document, Table};
use crate::analytics::RatioValue;
use crate::analytics::format::{fmt_number, fmt_value};
use crate::analytics::ratios::Unit;

/// A passage retrieved for the writer, with its citation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    pub text: String,
    pub citation: String,
}

/// One section before its prose is written.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub id: &'static str,
    pub title: &'static str,
    /// What the prose must cover (goes into the writer's prompt).
    pub task: &'static str,
    /// Data lines for the writer (numbers as computed).
    pub facts: Vec<String>,
    pub passages: Vec<Passage>,
    /// Tables, charts and notes, shown after the prose.
    #[serde(skip)]
    pub blocks: Vec<Block>,
    /// Whether the section has prose.
    pub prose: bool,
}

/// The prose of a section (or why there is none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Prose {
    /// The verified text (unsupported numbers marked or removed by the policy).
    pub text: Option<String>,
    /// Why there is no text (model failure, prose turned off).
    pub error: Option<String>,
    pub checked: usize,
    pub unsupported: Vec<String>,
    /// Whether the text is the revision asked for after the first draft's unsupported numbers.
    #[serde(default)]
    pub revised: bool,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u64,
}

/// The multi-year table's numbers, kept for `report.json` (tests compare them with the engine).
pub type YearTable = BTreeMap<String, BTreeMap<String, Option<f64>>>;

const YEARS_SHOWN: usize = 6;

fn money(v: f64) -> String {
    fmt_value(&RatioValue {
        name: String::new(),
        label: String::new(),
        unit: Unit::Currency,
        value: Some(v),
        reason: None,
        inputs: vec![],
    })
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The value of a ratio in a period of the engine's report.
fn ratio<'a>(inputs: &'a Inputs, label: &str, name: &str) -> Option<&'a RatioValue> {
    inputs.ratios.periods.iter().find(|p| p.label == label)?.values.iter().find(|v| v.name == name)
}

/// Rows of the multi-year table: (label, ratio name or statement line).
const YEAR_ROWS: &[(&str, &str)] = &[
    ("Revenue", "line:revenue"),
    ("Revenue growth", "revenue_growth"),
    ("Gross margin", "gross_margin"),
    ("EBITDA", "ebitda"),
    ("EBITDA margin", "ebitda_margin"),
    ("Free cash flow", "free_cash_flow"),
    ("FCF conversion", "fcf_conversion"),
    ("ROIC", "roic"),
    ("EPS (diluted)", "eps_diluted"),
    ("P/E", "pe"),
    ("P/B", "pb"),
    ("EV / EBITDA", "ev_ebitda"),
];

/// The multi-year table and its numbers.
pub fn year_table(inputs: &Inputs) -> (Table, YearTable) {
    let years: Vec<&StatementPeriod> = {
        let all = inputs.fiscal_years();
        let skip = all.len().saturating_sub(YEARS_SHOWN);
        all.into_iter().skip(skip).collect()
    };
    let mut header = vec!["".to_string()];
    header.extend(years.iter().map(|p| p.label()));
    let mut rows = Vec::new();
    let mut numbers = YearTable::new();
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    for (label, key) in YEAR_ROWS {
        let mut row = vec![label.to_string()];
        let mut nums = BTreeMap::new();
        for p in &years {
            let (cell, value) = match key.strip_prefix("line:") {
                Some(_) => match p.get(LineItem::Revenue) {
                    Some(v) => (money(v), Some(v)),
                    None => ("—".into(), None),
                },
                None => match ratio(inputs, &p.label(), key) {
                    Some(v) => {
                        if let Some(r) = &v.reason {
                            reasons.entry(label.to_string()).or_insert_with(|| format!("{}: {r}", p.label()));
                        }
                        (fmt_value(v), v.value)
                    }
                    None => ("—".into(), None),
                },
            };
            row.push(cell);
            nums.insert(p.label(), value);
        }
        numbers.insert(label.to_string(), nums);
        rows.push(row);
    }
    let mut notes = vec![format!(
        "Values from the ratio engine as of {}: statements filed on or before that date; multiples at each fiscal year-end's close. Currency amounts in millions.",
        inputs.as_of
    )];
    notes.extend(reasons.into_iter().map(|(k, r)| format!("{k} — absent for {r}")));
    let n = header.len();
    let table = Table {
        caption: "Financial summary by fiscal year".into(),
        header,
        rows,
        numeric: (0..n).map(|i| i > 0).collect(),
        notes,
    };
    (table, numbers)
}

/// The peer table: the company and its sector peers.
pub fn peer_table(inputs: &Inputs) -> Table {
    let cols = [
        ("Revenue growth", "revenue_growth", false),
        ("Gross margin", "gross_margin", false),
        ("Operating margin", "operating_margin", false),
        ("ROIC", "roic", false),
        ("EV / EBITDA", "ev_ebitda", true),
        ("P/E", "pe", true),
    ];
    let mut header = vec!["Company".to_string(), "Latest FY".to_string()];
    header.extend(cols.iter().map(|c| c.0.to_string()));
    let row_of = |ticker: &str, name: Option<&str>, r: &crate::analytics::RatioReport| {
        let fy = r.periods.iter().rev().find(|p| p.fiscal_period.as_str() == "FY");
        let mut row = vec![
            match name {
                Some(n) => format!("{ticker} — {n}"),
                None => ticker.to_string(),
            },
            fy.map(|p| p.label.clone()).unwrap_or_else(|| "—".into()),
        ];
        for (_, key, at_price) in cols {
            let v = if at_price {
                r.valuation.as_ref().and_then(|v| v.values.iter().find(|x| x.name == key))
            } else {
                fy.and_then(|p| p.values.iter().find(|x| x.name == key))
            };
            row.push(v.map(fmt_value).unwrap_or_else(|| "—".into()));
        }
        row
    };
    let mut rows = vec![row_of(&inputs.company.ticker, inputs.company.name.as_deref(), &inputs.ratios)];
    for p in &inputs.peers {
        rows.push(row_of(&p.company.ticker, p.company.name.as_deref(), &p.ratios));
    }
    let n = header.len();
    let mut notes = vec![format!(
        "Peers: companies of the sector {} in the universe with statements filed on or before {}; margins, growth and ROIC of each one's latest fiscal year, multiples at the close on or before {} (absent when that price is older than the engine's limit).",
        inputs.company.sector.as_deref().unwrap_or("(unknown)"),
        inputs.as_of,
        inputs.as_of
    )];
    if inputs.peers.is_empty() {
        notes.push("No peer of the same sector has statements as of this date in the universe.".into());
    }
    Table {
        caption: "Competitor comparison".into(),
        header,
        rows,
        numeric: (0..n).map(|i| i > 1).collect(),
        notes,
    }
}

/// Paragraphs of a filing's Items ranked by how many of `words` they contain.
pub fn passages(filing: Option<&Filing>, items: &[&str], words: &[&str], k: usize) -> Vec<Passage> {
    let Some(f) = filing else { return Vec::new() };
    let mut scored: Vec<(f64, usize, Passage)> = Vec::new();
    let mut order = 0usize;
    for item in items {
        let Some(section) = f.section(item) else { continue };
        for b in &section.blocks {
            let bullpen_connectors::Block::Paragraph { text } = b else { continue };
            order += 1;
            let n_words = text.split_whitespace().count();
            if n_words < 25 {
                continue;
            }
            let lower = text.to_lowercase();
            let hits = words.iter().filter(|w| lower.contains(*w)).count();
            if hits == 0 {
                continue;
            }
            let score = hits as f64 / (n_words as f64).sqrt();
            let shown: String = text.chars().take(600).collect();
            let citation = format!(
                "{} {}{}, {}. {}, filed {} ({})",
                f.meta.ticker.as_deref().unwrap_or(""),
                f.meta.form,
                f.meta.fiscal_year.map(|y| format!(" FY{y}")).unwrap_or_default(),
                section.label(),
                section.title,
                f.meta.filed.map(|d| d.to_string()).unwrap_or_else(|| "date unknown".into()),
                short(&f.meta.source)
            );
            scored.push((score, order, Passage { text: shown, citation }));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|x| x.2).collect()
}

/// Revenue by one dimension for the filing's own period (the longest duration ending at its
/// period end), by axis: `(member, value)` in the order of the filing.
pub fn revenue_segments(filing: &Filing) -> BTreeMap<String, Vec<(String, f64)>> {
    let end = filing.meta.period_end;
    let revenue = |c: &str| {
        let c = c.rsplit(':').next().unwrap_or(c);
        c == "Revenues" || c.starts_with("RevenueFromContractWithCustomer")
    };
    let candidates: Vec<_> = filing
        .facts
        .iter()
        .filter(|f| revenue(&f.concept) && f.dimensions.len() == 1)
        .filter(|f| matches!(f.period, Period::Duration { end: e, .. } if Some(e) == end))
        .collect();
    let longest = candidates.iter().map(|f| f.period.days()).max().unwrap_or(0);
    let mut by_axis: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for f in candidates.iter().filter(|f| f.period.days() == longest) {
        if let Some((axis, member)) = f.dimensions.iter().next() {
            let axis = axis.rsplit(':').next().unwrap_or(axis).to_string();
            let member = member.rsplit(':').next().unwrap_or(member).trim_end_matches("Member").to_string();
            let list = by_axis.entry(axis).or_default();
            if !list.iter().any(|(m, _)| *m == member) {
                list.push((member, f.value));
            }
        }
    }
    by_axis
}

fn statement_table(
    caption: &str,
    inputs: &Inputs,
    lines: &[(&str, LineItem)],
) -> Option<(Table, Vec<String>)> {
    let years = inputs.fiscal_years();
    let cur = *years.last()?;
    let prev = years.iter().rev().nth(1).copied();
    let mut rows = Vec::new();
    let mut facts = Vec::new();
    for (label, item) in lines {
        let Some(v) = cur.get(*item) else { continue };
        let pv = prev.and_then(|p| p.get(*item));
        let fmt = |x: f64| if *item == LineItem::EpsDiluted { format!("{x:.2}") } else { money(x) };
        let change = match pv {
            Some(p) if p.abs() > 0.0 => pct(v / p - 1.0),
            _ => "—".into(),
        };
        facts.push(format!(
            "{label} {}: {}{}",
            cur.label(),
            fmt(v),
            pv.map(|p| format!(
                " (prior year {}: {}, change {change})",
                prev.map(|x| x.label()).unwrap_or_default(),
                fmt(p)
            ))
            .unwrap_or_default()
        ));
        rows.push(vec![label.to_string(), fmt(v), pv.map(fmt).unwrap_or_else(|| "—".into()), change]);
    }
    if rows.is_empty() {
        return None;
    }
    let header = vec![
        "".to_string(),
        cur.label(),
        prev.map(|p| p.label()).unwrap_or_else(|| "prior year".into()),
        "Change".into(),
    ];
    let source = cur
        .values
        .values()
        .next()
        .map(|v| format!("Source: {} (as reported; millions except per share).", short(&v.source.document)))
        .unwrap_or_default();
    Some((
        Table {
            caption: caption.into(),
            header,
            rows,
            numeric: vec![false, true, true, true],
            notes: vec![source],
        },
        facts,
    ))
}

fn value_line(label: &str, v: Option<&RatioValue>) -> Option<String> {
    let v = v?;
    Some(match v.value {
        Some(_) => format!("{label}: {}", fmt_value(v)),
        None => format!("{label}: not available ({})", v.reason.clone().unwrap_or_default()),
    })
}

/// The key data box and how each value was computed.
pub fn key_data(inputs: &Inputs, a: &Analysis) -> (Vec<(String, String)>, Vec<String>) {
    let c = &inputs.company;
    let cur = inputs.currency();
    let mut kv = vec![
        ("Company".to_string(), c.name.clone().unwrap_or_else(|| c.ticker.clone())),
        ("Ticker".into(), c.ticker.clone()),
        ("Exchange".into(), c.exchange.clone().unwrap_or_else(|| "—".into())),
        (
            "Sector".into(),
            match (&c.sector, &c.industry) {
                (Some(s), Some(i)) => format!("{s} · {i}"),
                (Some(s), None) => s.clone(),
                _ => "—".into(),
            },
        ),
        ("Report date".into(), inputs.as_of.to_string()),
    ];
    let mut how = Vec::new();
    match &inputs.price {
        Some(p) => {
            kv.push(("Price".into(), format!("{:.2} {cur} (close {})", p.close, p.date)));
            how.push(format!(
                "Price: the last close on or before {} in {}{}.",
                inputs.as_of,
                short(&p.source),
                if p.age_days > 0 {
                    format!(", {} days before the report date", p.age_days)
                } else {
                    String::new()
                }
            ));
        }
        None => kv.push(("Price".into(), "—".into())),
    }
    let mcap = inputs.valuation("market_cap");
    kv.push(("Market cap".into(), mcap.map(fmt_value).unwrap_or_else(|| "—".into())));
    if let Some(v) = mcap {
        how.push(match &v.reason {
            None => "Market cap: price × diluted (or outstanding) shares of the latest fiscal year.".into(),
            Some(r) => format!("Market cap not available: {r}."),
        });
    }
    let (hi, lo) = (inputs.market("high_52w"), inputs.market("low_52w"));
    kv.push((
        "52-week range".into(),
        match (hi.and_then(|v| v.value), lo.and_then(|v| v.value)) {
            (Some(h), Some(l)) => format!("{l:.2} – {h:.2}"),
            _ => "—".into(),
        },
    ));
    how.push(match hi.and_then(|v| v.reason.clone()) {
        None => "52-week range: lowest and highest daily close of the year to the report date.".into(),
        Some(r) => format!("52-week range not available: {r}."),
    });
    kv.push(("Rating".into(), a.rating.map(|r| r.to_string()).unwrap_or_else(|| "Not rated".into())));
    kv.push((
        "Target price".into(),
        match (&a.target, a.upside) {
            (Some(t), Some(u)) => format!("{:.2} {cur} ({:+.1}% upside)", t.per_share, u * 100.0),
            (Some(t), None) => format!("{:.2} {cur}", t.per_share),
            (None, _) => "—".into(),
        },
    ));
    if let Some(t) = &a.target {
        how.push(format!(
            "Target price: {}.",
            t.parts
                .iter()
                .map(|(m, v, w)| format!("{:.0}% {m} ({v:.2})", w * 100.0))
                .collect::<Vec<_>>()
                .join(" + ")
        ));
    }
    how.push(format!("{}.", a.rating_note.trim_end_matches('.')));
    (kv, how)
}

fn series(points: impl Iterator<Item = (chrono::NaiveDate, f64)>) -> Vec<(chrono::NaiveDate, f64)> {
    points.filter(|(_, v)| v.is_finite()).collect()
}

/// The charts block for a chart result: the SVG, or a note saying why it is absent.
fn chart_block(title: &str, caption: &str, svg: Result<String, charts::ChartError>) -> Block {
    match svg {
        Ok(svg) => Block::Chart { title: title.into(), svg, caption: caption.into() },
        Err(e) => Block::Note { text: format!("Chart “{title}” not drawn: {e}") },
    }
}

/// Every section of the report, with data lines, passages and blocks; prose comes later.
pub fn drafts(inputs: &Inputs, a: &Analysis) -> (Vec<Draft>, YearTable) {
    let annual = inputs.annual.as_deref();
    let c = &inputs.company;
    let name = c.name.clone().unwrap_or_else(|| c.ticker.clone());
    let mut out = Vec::new();
    let fy = inputs.latest_year();
    let fy_label = fy.map(|p| p.label()).unwrap_or_default();
    let filing_note = match annual {
        Some(f) => format!(
            "Filing text from {} {} filed {} ({}).",
            f.meta.form,
            f.meta.fiscal_year.map(|y| format!("FY{y}")).unwrap_or_default(),
            f.meta.filed.map(|d| d.to_string()).unwrap_or_default(),
            short(&f.meta.source)
        ),
        None => format!(
            "No 10-K of {} filed on or before {} is in the universe: no filing text.",
            c.ticker, inputs.as_of
        ),
    };

    // Business overview.
    let mut facts = vec![
        format!("Company: {name} ({}), exchange {}", c.ticker, c.exchange.as_deref().unwrap_or("unknown")),
        format!(
            "Sector: {}; industry: {}",
            c.sector.as_deref().unwrap_or("unknown"),
            c.industry.as_deref().unwrap_or("unknown")
        ),
    ];
    if let Some(p) = fy {
        if let Some(r) = p.get(LineItem::Revenue) {
            facts.push(format!("Revenue {}: {}", p.label(), money(r)));
        }
        if let Some(n) = p.get(LineItem::NetIncome) {
            facts.push(format!("Net income {}: {}", p.label(), money(n)));
        }
    }
    out.push(Draft {
        id: "business-overview",
        title: "Business overview",
        task: "Describe what the company does, its main products or services and how it earns revenue.",
        facts,
        passages: passages(
            annual,
            &["1"],
            &["products", "services", "customers", "segment", "revenue", "business"],
            3,
        ),
        blocks: vec![Block::Note { text: filing_note.clone() }],
        prose: true,
    });

    // Market position.
    let mut facts = Vec::new();
    let sizes: Vec<(String, f64)> = std::iter::once((c.ticker.clone(), &inputs.ratios))
        .chain(inputs.peers.iter().map(|p| (p.company.ticker.clone(), &p.ratios)))
        .filter_map(|(t, r)| {
            let fy = r.periods.iter().rev().find(|p| p.fiscal_period.as_str() == "FY")?;
            fy.values.iter().find(|v| v.name == "ebitda")?.value.map(|v| (t, v))
        })
        .collect();
    if sizes.len() > 1 {
        let mut ranked = sizes.clone();
        ranked.sort_by(|x, y| y.1.total_cmp(&x.1));
        if let Some(pos) = ranked.iter().position(|(t, _)| *t == c.ticker) {
            facts.push(format!(
                "By EBITDA of the latest fiscal year, {} ranks {} of {} companies of its sector in the universe",
                c.ticker,
                pos + 1,
                ranked.len()
            ));
        }
    }
    facts.extend(value_line("Gross margin", inputs.latest("gross_margin")));
    facts.extend(value_line("Operating margin", inputs.latest("operating_margin")));
    out.push(Draft {
        id: "market-position",
        title: "Market position",
        task: "Describe the company's competitive position, its markets and what sets it apart.",
        facts,
        passages: passages(
            annual,
            &["1", "7"],
            &["compet", "market share", "markets", "brand", "position"],
            3,
        ),
        blocks: vec![],
        prose: true,
    });

    // Operating results.
    let (ytable, ynumbers) = year_table(inputs);
    let mut facts = Vec::new();
    for row in ytable.rows.iter().take(9) {
        let cells: Vec<String> = ytable
            .header
            .iter()
            .skip(1)
            .zip(row.iter().skip(1))
            .rev()
            .take(3)
            .map(|(h, v)| format!("{h} {v}"))
            .collect();
        facts.push(format!("{}: {}", row[0], cells.join(", ")));
    }
    let years: Vec<&StatementPeriod> = inputs.fiscal_years();
    let skip = years.len().saturating_sub(10);
    let rev_rows: Vec<charts::RevenueYear> = years
        .iter()
        .skip(skip)
        .map(|p| {
            let l = p.label();
            (
                l.clone(),
                p.get(LineItem::Revenue),
                ratio(inputs, &l, "gross_margin").and_then(|v| v.value),
                ratio(inputs, &l, "ebitda_margin").and_then(|v| v.value),
            )
        })
        .collect();
    out.push(Draft {
        id: "operating-results",
        title: "Operating results",
        task: "Explain the trend of revenue, margins and earnings over the last fiscal years.",
        facts,
        passages: passages(annual, &["7"], &["net sales", "revenue", "increase", "decrease", "margin"], 3),
        blocks: vec![
            Block::Table(ytable),
            chart_block(
                "Revenue and margins",
                "Revenue (bars, billions) and gross and EBITDA margins (lines) by fiscal year.",
                charts::revenue_and_margins(&rev_rows),
            ),
        ],
        prose: true,
    });

    // Financial analysis: the three statements.
    let mut blocks = Vec::new();
    let mut facts = Vec::new();
    for (caption, lines) in [
        (
            "Income statement",
            &[
                ("Revenue", LineItem::Revenue),
                ("Gross profit", LineItem::GrossProfit),
                ("Operating income", LineItem::OperatingIncome),
                ("Net income", LineItem::NetIncome),
                ("EPS (diluted)", LineItem::EpsDiluted),
            ][..],
        ),
        (
            "Balance sheet",
            &[
                ("Total assets", LineItem::TotalAssets),
                ("Cash and equivalents", LineItem::Cash),
                ("Long-term debt", LineItem::LongTermDebt),
                ("Short-term debt", LineItem::ShortTermDebt),
                ("Stockholders' equity", LineItem::StockholdersEquity),
            ][..],
        ),
        (
            "Cash flow",
            &[
                ("Operating cash flow", LineItem::OperatingCashFlow),
                ("Capital expenditure", LineItem::CapitalExpenditure),
                ("Dividends paid", LineItem::DividendsPaid),
            ][..],
        ),
    ] {
        match statement_table(caption, inputs, lines) {
            Some((t, f)) => {
                blocks.push(Block::Table(t));
                facts.extend(f);
            }
            None => blocks.push(Block::Note { text: format!("No {caption} lines reported for {fy_label}.") }),
        }
    }
    for (label, key) in [
        ("Free cash flow", "free_cash_flow"),
        ("Return on equity", "roe"),
        ("Debt / equity", "debt_to_equity"),
        ("Current ratio", "current_ratio"),
        ("Interest coverage", "interest_coverage"),
    ] {
        facts.extend(value_line(label, inputs.latest(key)));
    }
    out.push(Draft {
        id: "financial-analysis",
        title: "Financial analysis",
        task: "Analyse profitability, the balance sheet and cash generation.",
        facts,
        passages: passages(
            annual,
            &["7"],
            &["liquidity", "cash", "debt", "repurchase", "dividend", "capital"],
            3,
        ),
        blocks,
        prose: true,
    });

    // Segment analysis.
    let segs = annual.map(revenue_segments).unwrap_or_default();
    let mut blocks = Vec::new();
    let mut facts = Vec::new();
    if segs.is_empty() {
        blocks.push(Block::Note {
            text: match annual {
                Some(f) => {
                    format!("{} {} reports no revenue by segment for its period.", c.ticker, f.meta.form)
                }
                None => filing_note.clone(),
            },
        });
    }
    // Shares of the fiscal year's reported revenue (members of one axis may nest, e.g.
    // products inside Product).
    let year_revenue = annual.and_then(|f| {
        let end = f.meta.period_end?;
        inputs.fiscal_years().into_iter().find(|p| p.end == end)?.get(LineItem::Revenue)
    });
    for (axis, members) in &segs {
        let total: f64 = year_revenue.unwrap_or_else(|| members.iter().map(|m| m.1).sum());
        let rows: Vec<Vec<String>> = members
            .iter()
            .map(|(m, v)| {
                facts.push(format!("{axis} {m}: {}", money(*v)));
                vec![m.clone(), money(*v), if total > 0.0 { pct(v / total) } else { "—".into() }]
            })
            .collect();
        blocks.push(Block::Table(Table {
            caption: format!("Revenue by {}", axis.trim_end_matches("Axis")),
            header: vec!["Member".into(), "Revenue".into(), "Share".into()],
            rows,
            numeric: vec![false, true, true],
            notes: vec![format!(
                "From the dimensional facts of {} (millions; share of {}).",
                annual.map(|f| short(&f.meta.source)).unwrap_or_default(),
                if year_revenue.is_some() { "the year's reported revenue" } else { "the members listed" }
            )],
        }));
    }
    out.push(Draft {
        id: "segment-analysis",
        title: "Segment analysis",
        task: "Explain the revenue mix by segment, product or region.",
        facts,
        passages: passages(annual, &["7", "1"], &["segment", "geographic", "region", "category"], 2),
        prose: !segs.is_empty(),
        blocks,
    });

    // Valuation.
    let (vblocks, vfacts) = valuation_blocks(inputs, a);
    out.push(Draft {
        id: "valuation",
        title: "Valuation",
        task: "Explain the valuation: the DCF value, the peer multiples and the resulting target and rating.",
        facts: vfacts,
        passages: vec![],
        blocks: vblocks,
        prose: true,
    });

    // Risk assessment.
    let mut facts = Vec::new();
    let mut rows = Vec::new();
    for name in
        ["high_52w", "low_52w", "return_1m", "return_3m", "return_12m", "volatility", "beta", "max_drawdown"]
    {
        if let Some(v) = inputs.market(name) {
            facts.extend(value_line(&v.label, Some(v)));
            rows.push(vec![
                v.label.clone(),
                fmt_value(v),
                v.reason.clone().unwrap_or_else(|| "daily prices to the report date".into()),
            ]);
        }
    }
    for (label, key) in [
        ("Debt / equity", "debt_to_equity"),
        ("Interest coverage", "interest_coverage"),
        ("Current ratio", "current_ratio"),
    ] {
        if let Some(v) = inputs.latest(key) {
            facts.extend(value_line(label, Some(v)));
            rows.push(vec![
                label.to_string(),
                fmt_value(v),
                v.reason.clone().unwrap_or_else(|| fy_label.clone()),
            ]);
        }
    }
    let mut blocks = vec![Block::Table(Table {
        caption: "Market and balance-sheet risk".into(),
        header: vec!["Metric".into(), "Value".into(), "Basis".into()],
        rows,
        numeric: vec![false, true, false],
        notes: vec![format!("Index for beta: {}.", inputs.index_ticker)],
    })];
    let risk_passages = passages(
        annual,
        &["1A", "7A"],
        &["risk", "adverse", "interest rate", "foreign currency", "competition", "regulat", "supply"],
        4,
    );
    if annual.is_some() && risk_passages.is_empty() {
        blocks.push(Block::Note { text: "The 10-K's Items 1A and 7A could not be read.".into() });
    }
    blocks.push(Block::Note { text: filing_note.clone() });
    out.push(Draft {
        id: "risk-assessment",
        title: "Risk assessment",
        task: "Assess the main business, financial and market risks, from the risk factors and the market metrics.",
        facts,
        passages: risk_passages,
        blocks,
        prose: true,
    });

    // Competitor comparison.
    let peers = peer_table(inputs);
    let facts: Vec<String> = peers
        .rows
        .iter()
        .map(|r| {
            peers.header.iter().zip(r.iter()).map(|(h, v)| format!("{h} {v}")).collect::<Vec<_>>().join("; ")
        })
        .collect();
    out.push(Draft {
        id: "competitor-comparison",
        title: "Competitor comparison",
        task: "Compare the company with its peers on growth, margins, returns and multiples.",
        facts,
        passages: passages(annual, &["1"], &["compet"], 2),
        blocks: vec![Block::Table(peers)],
        prose: true,
    });

    // Investment thesis.
    let mut facts = Vec::new();
    if let Some(r) = a.rating {
        facts.push(format!("Rating: {r}"));
    } else {
        facts.push(a.rating_note.clone());
    }
    if let Some(t) = &a.target {
        facts.push(format!("Target price: {:.2}", t.per_share));
    }
    if let Some(u) = a.upside {
        facts.push(format!("Upside to target: {}", pct(u)));
    }
    facts.extend(value_line("Revenue growth", inputs.latest("revenue_growth")));
    facts.extend(value_line("Return on invested capital", inputs.latest("roic")));
    facts.extend(value_line("Free cash flow", inputs.latest("free_cash_flow")));
    let bullets: Vec<String> = facts.clone();
    out.push(Draft {
        id: "investment-thesis",
        title: "Investment thesis and recommendation",
        task: "State the investment thesis and the recommendation that follows from the rating.",
        facts,
        passages: vec![],
        blocks: vec![
            Block::Bullets { items: bullets },
            Block::Note {
                text: if a.rating.is_some() {
                    a.rating_note.clone()
                } else {
                    "See the valuation section.".into()
                },
            },
        ],
        prose: true,
    });
    (out, ynumbers)
}

fn valuation_blocks(inputs: &Inputs, a: &Analysis) -> (Vec<Block>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut facts = Vec::new();
    let fmt_assumption = |unit: &str, v: f64| match unit {
        "percent" => format!("{:.2}%", v * 100.0),
        "currency" => money(v),
        "shares" => format!("{}M", fmt_number((v / 1e6).round())),
        _ => format!("{v:.2}"),
    };
    blocks.push(Block::Table(Table {
        caption: "DCF assumptions".into(),
        header: vec!["Assumption".into(), "Value".into(), "Source".into()],
        rows: a
            .assumptions
            .iter()
            .map(|x| vec![x.name.clone(), fmt_assumption(x.unit, x.value), x.source.clone()])
            .collect(),
        numeric: vec![false, true, false],
        notes: vec![],
    }));
    for x in &a.assumptions {
        facts.push(format!("{}: {}", x.name, fmt_assumption(x.unit, x.value)));
    }
    match (&a.dcf, &a.dcf_inputs) {
        (Some(d), Some(_)) => {
            let mut rows: Vec<Vec<String>> = d
                .years
                .iter()
                .map(|y| {
                    vec![
                        format!("Year {}", y.year),
                        pct(y.growth),
                        money(y.fcf),
                        format!("{:.4}", y.discount_factor),
                        money(y.present_value),
                    ]
                })
                .collect();
            rows.push(vec![
                "Terminal".into(),
                "".into(),
                money(d.terminal_value),
                "".into(),
                money(d.pv_terminal),
            ]);
            blocks.push(Block::Table(Table {
                caption: "Discounted cash flow".into(),
                header: vec!["Year".into(), "Growth".into(), "FCF".into(), "Discount factor".into(), "Present value".into()],
                rows,
                numeric: vec![false, true, true, true, true],
                notes: vec![format!(
                    "Enterprise value {} − net debt = equity value {}; per share {:.2}. The terminal value is {} of the enterprise value.",
                    money(d.enterprise_value),
                    money(d.equity_value),
                    d.per_share,
                    pct(d.terminal_share)
                )],
            }));
            facts.push(format!("DCF enterprise value: {}", money(d.enterprise_value)));
            facts.push(format!("DCF equity value per share: {:.2}", d.per_share));
        }
        _ => blocks.push(Block::Note { text: a.dcf_absent.clone().unwrap_or_else(|| "No DCF.".into()) }),
    }
    if a.checks.is_empty() {
        blocks.push(Block::Note {
            text: "No multiples cross-check: no sector peer has a multiple at a price near the report date."
                .into(),
        });
    } else {
        blocks.push(Block::Table(Table {
            caption: "Multiples cross-check".into(),
            header: vec![
                "Multiple".into(),
                "Peer median".into(),
                "Peers".into(),
                "Company metric".into(),
                "Implied value per share".into(),
            ],
            rows: a
                .checks
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        format!("{:.2}x", c.peer_median),
                        c.peers.to_string(),
                        if c.name == "P/E" { format!("{:.2}", c.metric) } else { money(c.metric) },
                        format!("{:.2}", c.implied_per_share),
                    ]
                })
                .collect(),
            numeric: vec![false, true, true, true, true],
            notes: vec![],
        }));
        for c in &a.checks {
            facts.push(format!(
                "{} peer median {:.2}x implies {:.2} per share",
                c.name, c.peer_median, c.implied_per_share
            ));
        }
    }
    let mut summary = Vec::new();
    if let Some(t) = &a.target {
        summary.push(format!("Target price {:.2}", t.per_share));
    }
    if let Some(p) = a.price {
        summary.push(format!("price {p:.2}"));
    }
    if let Some(u) = a.upside {
        summary.push(format!("upside {}", pct(u)));
        facts.push(format!("Upside: {}", pct(u)));
    }
    summary.push(match a.rating {
        Some(r) => format!("rating {r}"),
        None => "not rated".into(),
    });
    blocks.push(Block::Paragraph { text: format!("{}.", summary.join(", ")) });
    blocks.push(Block::Note { text: a.rating_note.clone() });
    if let Some(s) = &a.sensitivity {
        let mut header = vec!["WACC \\ g".to_string()];
        header.extend(s.growths.iter().map(|g| pct(*g)));
        let rows = s
            .waccs
            .iter()
            .zip(&s.per_share)
            .map(|(w, row)| {
                let mut r = vec![pct(*w)];
                r.extend(row.iter().map(|v| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "n/a".into())));
                r
            })
            .collect();
        let n = header.len();
        blocks.push(Block::Table(Table {
            caption: "Sensitivity: DCF value per share by WACC and terminal growth".into(),
            header,
            rows,
            numeric: (0..n).map(|i| i > 0).collect(),
            notes: vec![],
        }));
        blocks.push(chart_block(
            "DCF sensitivity",
            "Value per share by WACC (rows) and terminal growth (columns); green above the price, red below.",
            charts::sensitivity_heatmap(&s.waccs, &s.growths, &s.per_share, a.price),
        ));
    }
    // P/E and EPS over the years; the share price against the index.
    let years = inputs.fiscal_years();
    let skip = years.len().saturating_sub(10);
    let pe_rows: Vec<(String, Option<f64>, Option<f64>)> = years
        .iter()
        .skip(skip)
        .map(|p| {
            let l = p.label();
            (
                l.clone(),
                ratio(inputs, &l, "pe").and_then(|v| v.value),
                ratio(inputs, &l, "eps_diluted").and_then(|v| v.value),
            )
        })
        .collect();
    blocks.push(chart_block(
        "P/E and EPS",
        "P/E at each fiscal year-end close (line) and diluted EPS (bars).",
        charts::pe_and_eps(&pe_rows),
    ));
    let from = inputs.as_of - chrono::Duration::days(5 * 365);
    let stock = inputs
        .prices
        .as_ref()
        .map(|s| series(s.bars.iter().filter(|b| b.date >= from).map(|b| (b.date, b.adj_close))))
        .unwrap_or_default();
    let index = inputs
        .index
        .as_ref()
        .map(|s| series(s.bars.iter().filter(|b| b.date >= from).map(|b| (b.date, b.adj_close))))
        .unwrap_or_default();
    blocks.push(chart_block(
        "Share price vs the index",
        &format!(
            "{} (adjusted close) and {} rebased to 100, five years to the report date.",
            inputs.company.ticker, inputs.index_ticker
        ),
        charts::price_vs_index(&inputs.company.ticker, &stock, &inputs.index_ticker, &index),
    ));
    (blocks, facts)
}

/// The passages' citations, numbered as the writer saw them; passages of one document
/// section share a line (`[1, 2] AAPL 10-K FY2024, Item 1. Business, …`).
fn citations(passages: &[Passage]) -> String {
    let mut groups: Vec<(Vec<usize>, &str)> = Vec::new();
    for (i, p) in passages.iter().enumerate() {
        match groups.iter_mut().find(|g| g.1 == p.citation) {
            Some(g) => g.0.push(i + 1),
            None => groups.push((vec![i + 1], &p.citation)),
        }
    }
    groups
        .iter()
        .map(|(n, c)| format!("[{}] {c}", n.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The whole document: key data, then each section (heading, prose or why none, citations,
/// blocks), then the sources and the verification summary.
pub fn assemble(
    inputs: &Inputs,
    a: &Analysis,
    drafts: &[Draft],
    prose: &[Prose],
    footer: String,
) -> Document {
    let c = &inputs.company;
    let (key_data, how) = key_data(inputs, a);
    let mut blocks = vec![Block::Bullets { items: how }];
    let mut checked = 0;
    let mut unsupported = 0;
    for (d, p) in drafts.iter().zip(prose) {
        blocks.push(Block::Heading { level: 1, text: d.title.into(), id: d.id.into() });
        if d.prose {
            match (&p.text, &p.error) {
                (Some(t), _) => {
                    for para in t.split("\n\n").map(str::trim).filter(|s| !s.is_empty()) {
                        blocks.push(Block::Paragraph { text: para.to_string() });
                    }
                    if !d.passages.is_empty() {
                        blocks.push(Block::Note { text: citations(&d.passages) });
                    }
                    let u = if p.unsupported.is_empty() {
                        String::new()
                    } else {
                        format!(", unsupported: {}", p.unsupported.join(", "))
                    };
                    blocks.push(Block::Note {
                        text: format!(
                            "Prose by the report writer; {} numbers checked against the data{u}.",
                            p.checked
                        ),
                    });
                }
                (None, Some(e)) => blocks.push(Block::Note { text: format!("Prose not written: {e}") }),
                (None, None) => {}
            }
            checked += p.checked;
            unsupported += p.unsupported.len();
        }
        blocks.extend(d.blocks.iter().cloned());
    }
    blocks.push(Block::Heading { level: 1, text: "Sources and checks".into(), id: "sources".into() });
    let mut sources: Vec<String> = inputs.files.iter().map(|p| p.display().to_string()).collect();
    sources.dedup();
    blocks.push(Block::Bullets { items: sources });
    blocks.push(Block::Paragraph {
        text: format!(
            "Numbers in the prose checked against the report's data and passages: {checked}; unsupported: {unsupported}."
        ),
    });
    Document {
        title: format!("{} ({})", c.name.clone().unwrap_or_else(|| c.ticker.clone()), c.ticker),
        subtitle: format!(
            "Equity research · as of {} · {} · {}",
            inputs.as_of,
            c.exchange.as_deref().unwrap_or("exchange unknown"),
            c.sector.as_deref().unwrap_or("sector unknown")
        ),
        key_data,
        blocks,
        footer,
    }
}

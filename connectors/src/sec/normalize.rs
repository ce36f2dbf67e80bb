//! Facts → statement periods (fiscal years and quarters).
//!
//! [`statements_from_facts`] turns XBRL facts (from companyfacts JSON, or from one inline-XBRL
//! filing) into one [`StatementPeriod`] per fiscal year and quarter:
//!
//! * **Consolidated only**: facts with dimensions are ignored.
//! * **Concepts**: each [`LineItem`] takes, per period, the first concept of
//!   [`LineItem::concepts`] that has a value there.
//! * **Duplicates and restatements**: the same concept and period reported by many filings →
//!   the value of the latest filing wins (ties: the later accession; a different value filed the
//!   same day is skipped). The value's source is the earliest filing that reported that same
//!   value after any different one, so that `filed` says when the number became public.
//! * **Units**: currency items take a currency code (`USD`), per-share items `<currency>/shares`,
//!   counts `shares`; an item keeps one unit (the most common), other units are skipped.
//! * **Periods**: durations of about a year are fiscal years, of about a quarter are quarters;
//!   six- and nine-month year-to-date spans only serve to derive missing quarters
//!   (`Q2 = H1 − Q1`, `Q3 = 9M − H1`). Q4 is derived as `FY − Q1 − Q2 − Q3` (or `FY − 9M`) when
//!   only annual values exist, never for per-share values or share counts.
//! * **Fiscal labels**: a filing's `fy`/`fp` describe the filing, not each fact. The label of a
//!   fiscal year comes from the filings whose own period ends there (the latest annual end
//!   date of a 10-K carries the 10-K's `fy`); other years follow the same offset from the
//!   calendar year of their end (a year ending in the first week of January belongs to the
//!   year before). Quarters take the label of the fiscal year that contains them.
//! * **Instants** attach to the periods ending on their date; the cover-page share count
//!   (`dei:EntityCommonStockSharesOutstanding`, dated weeks after the period) attaches to the
//!   latest period ending within 120 days before its date.
//!
//! Every fact that cannot be used for a line item is reported as a [`SkippedRow`]; nothing is
//! filled with zero.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::types::{Fact, FiscalPeriod, LineItem, LineValue, Period, SkippedRow, SourceRef, StatementPeriod};

/// The cover-page share count, dated after the period it belongs to.
const COVER_SHARES: &str = "dei:EntityCommonStockSharesOutstanding";
/// How long after a period end the cover-page share count may be dated.
const COVER_WINDOW_DAYS: i64 = 120;
/// Average days per fiscal quarter.
const QUARTER_DAYS: f64 = 91.3;

/// Statement periods (sorted by end date, quarters before the fiscal year ending the same
/// day) and the facts that could not be used, with reasons. See the module documentation for
/// the rules.
pub fn statements_from_facts(facts: &[Fact]) -> (Vec<StatementPeriod>, Vec<SkippedRow>) {
    let facts: Vec<&Fact> = facts.iter().filter(|f| f.dimensions.is_empty()).collect();
    let calendar = Calendar::build(&facts);
    let mut skipped = Vec::new();
    let mut out = Output::default();

    let items: Vec<ItemFacts> =
        LineItem::ALL.iter().map(|&item| collect_item(item, &facts, &mut skipped)).collect();

    for item in items.iter().filter(|i| !i.item.is_instant()) {
        durations(item, &calendar, &mut out, &mut skipped);
    }
    for item in items.iter().filter(|i| i.item.is_instant()) {
        instants(item, &mut out);
    }

    let mut periods: Vec<StatementPeriod> = out
        .values
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .filter_map(|((fiscal_year, fiscal_period), values)| {
            let (start, end) = *out.dates.get(&(fiscal_year, fiscal_period))?;
            Some(StatementPeriod { fiscal_year, fiscal_period, start: Some(start), end, values })
        })
        .collect();
    periods.sort_by(|a, b| {
        (a.end, a.fiscal_period, a.fiscal_year).cmp(&(b.end, b.fiscal_period, b.fiscal_year))
    });
    (periods, skipped)
}

/// What a duration is within a fiscal year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Span {
    Q1,
    Q2,
    Q3,
    Q4,
    FY,
    /// First six months (year to date at Q2).
    H1,
    /// First nine months (year to date at Q3).
    M9,
}

impl Span {
    fn quarter(n: i64) -> Span {
        match n {
            ..=1 => Span::Q1,
            2 => Span::Q2,
            3 => Span::Q3,
            _ => Span::Q4,
        }
    }

    fn fiscal_period(self) -> Option<FiscalPeriod> {
        match self {
            Span::Q1 => Some(FiscalPeriod::Q1),
            Span::Q2 => Some(FiscalPeriod::Q2),
            Span::Q3 => Some(FiscalPeriod::Q3),
            Span::Q4 => Some(FiscalPeriod::Q4),
            Span::FY => Some(FiscalPeriod::FY),
            Span::H1 | Span::M9 => None,
        }
    }
}

/// A fiscal year label and the kind of span inside it.
type Slot = (i32, Span);

fn is_annual(days: i64) -> bool {
    (350..=380).contains(&days)
}

fn is_quarter(days: i64) -> bool {
    (80..=100).contains(&days)
}

/// Number of quarters in `days`, rounded.
fn quarters(days: i64) -> i64 {
    (days as f64 / QUARTER_DAYS).round() as i64
}

/// The calendar year a fiscal year ending on `end` is named after by default: its own, or the
/// year before when it ends in the first week of January (52/53-week years).
fn default_year(end: NaiveDate) -> i32 {
    if end.month() == 1 && end.day() <= 7 { end.year() - 1 } else { end.year() }
}

fn shift_years(d: NaiveDate, k: i32) -> Option<NaiveDate> {
    let m = Months::new(12 * k.unsigned_abs());
    if k >= 0 { d.checked_add_months(m) } else { d.checked_sub_months(m) }
}

fn overlap_days(a: (NaiveDate, NaiveDate), b: (NaiveDate, NaiveDate)) -> i64 {
    let start = a.0.max(b.0);
    let end = a.1.min(b.1);
    (end - start).num_days() + 1
}

fn fiscal_number(p: FiscalPeriod) -> i64 {
    match p {
        FiscalPeriod::Q1 => 1,
        FiscalPeriod::Q2 => 2,
        FiscalPeriod::Q3 => 3,
        FiscalPeriod::Q4 | FiscalPeriod::FY => 4,
    }
}

/// One fiscal year: its label and dates (`real`: an annual duration reported in the facts;
/// otherwise estimated from a quarterly filing).
#[derive(Debug, Clone, Copy)]
struct FiscalYear {
    label: i32,
    start: NaiveDate,
    end: NaiveDate,
}

/// The company's fiscal years, and the usual dates of each slot.
#[derive(Debug, Default)]
struct Calendar {
    /// Fiscal years sorted by start, not overlapping by more than a month.
    years: Vec<FiscalYear>,
    /// Annual durations accepted as fiscal years.
    annual: BTreeSet<(NaiveDate, NaiveDate)>,
    /// The most common dates of each slot.
    slot_dates: HashMap<Slot, (NaiveDate, NaiveDate)>,
}

/// A quarterly filing's own period: its `fy`/`fp` and the estimated start of its fiscal year.
struct QuarterAnchor {
    fiscal_year: i32,
    end: NaiveDate,
    year_start: NaiveDate,
}

impl Calendar {
    fn build(facts: &[&Fact]) -> Calendar {
        let mut cal = Calendar::default();

        // Annual durations, most reported first; a span overlapping an accepted one by more
        // than a month (a trailing twelve months, a pro-forma year) is not a fiscal year.
        let mut support: HashMap<(NaiveDate, NaiveDate), usize> = HashMap::new();
        for f in facts {
            if let Period::Duration { start, end } = f.period
                && is_annual(f.period.days())
            {
                *support.entry((start, end)).or_default() += 1;
            }
        }
        let mut candidates: Vec<((NaiveDate, NaiveDate), usize)> = support.into_iter().collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.1.cmp(&a.0.1)).then(a.0.0.cmp(&b.0.0)));
        let mut accepted: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        for (span, _) in candidates {
            if !accepted.iter().any(|a| overlap_days(*a, span) > 30) {
                accepted.push(span);
            }
        }

        // Anchors: what each filing says about its own period.
        let mut by_filing: HashMap<&str, Vec<&Fact>> = HashMap::new();
        for f in facts {
            let key = f.source.accession.as_deref().unwrap_or(f.source.document.as_str());
            by_filing.entry(key).or_default().push(f);
        }
        let mut year_votes: BTreeMap<NaiveDate, BTreeMap<i32, usize>> = BTreeMap::new();
        let mut quarter_anchors: Vec<QuarterAnchor> = Vec::new();
        let mut filings: Vec<(&str, Vec<&Fact>)> = by_filing.into_iter().collect();
        filings.sort_by(|a, b| a.0.cmp(b.0));
        for (_, group) in &filings {
            let Some(first) = group.first() else { continue };
            let (Some(fy), Some(fp)) = (first.source.fiscal_year, first.source.fiscal_period) else {
                continue;
            };
            if fp == FiscalPeriod::FY {
                let own_end = group
                    .iter()
                    .filter(|f| matches!(f.period, Period::Duration { .. }) && is_annual(f.period.days()))
                    .map(|f| f.period.end())
                    .max();
                if let Some(end) = own_end {
                    *year_votes.entry(end).or_default().entry(fy).or_default() += 1;
                }
            } else {
                let durations = || {
                    group.iter().filter_map(|f| match f.period {
                        Period::Duration { start, end } if f.period.days() <= 300 => Some((start, end)),
                        _ => None,
                    })
                };
                let Some(end) = durations().map(|(_, e)| e).max() else { continue };
                let Some(longest_start) = durations().filter(|(_, e)| *e == end).map(|(s, _)| s).min() else {
                    continue;
                };
                let n = fiscal_number(fp);
                let len = quarters((end - longest_start).num_days() + 1);
                if len < 1 || len > n {
                    continue;
                }
                let Some(year_start) = longest_start.checked_sub_months(Months::new(3 * (n - len) as u32))
                else {
                    continue;
                };
                quarter_anchors.push(QuarterAnchor { fiscal_year: fy, end, year_start });
            }
        }

        // Labels: the filings' own votes, else the calendar year plus the usual offset. The
        // usual offset (label − calendar year of the end) also breaks ties between votes.
        let mut offsets: BTreeMap<i32, usize> = BTreeMap::new();
        for (end, votes) in &year_votes {
            if accepted.iter().any(|a| a.1 == *end) {
                for (fy, n) in votes {
                    *offsets.entry(fy - default_year(*end)).or_default() += n;
                }
            }
        }
        let offset = offsets
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.abs().cmp(&a.0.abs())).then(a.0.cmp(b.0)))
            .map_or(0, |(o, _)| *o);
        let majority = |votes: &BTreeMap<i32, usize>, end: NaiveDate| {
            let usual = default_year(end) + offset;
            votes
                .iter()
                .max_by(|a, b| {
                    a.1.cmp(b.1).then((b.0 - usual).abs().cmp(&(a.0 - usual).abs())).then(a.0.cmp(b.0))
                })
                .map(|(fy, _)| *fy)
        };
        for &(start, end) in &accepted {
            let label = match year_votes.get(&end).and_then(|v| majority(v, end)) {
                Some(fy) => fy,
                None => {
                    let mut votes = BTreeMap::new();
                    for q in quarter_anchors.iter().filter(|q| start < q.end && q.end <= end) {
                        *votes.entry(q.fiscal_year).or_default() += 1;
                    }
                    majority(&votes, end).unwrap_or(default_year(end) + offset)
                }
            };
            cal.years.push(FiscalYear { label, start, end });
            cal.annual.insert((start, end));
        }

        // Years with quarterly filings but no annual figures yet (the year in progress, or a
        // single 10-Q): estimated from the filing's year-to-date span.
        for q in &quarter_anchors {
            if cal.years.iter().any(|y| y.start <= q.end && q.end <= y.end) {
                continue;
            }
            let Some(end) = q.year_start.checked_add_months(Months::new(12)).and_then(|d| d.pred_opt())
            else {
                continue;
            };
            if cal.years.iter().any(|y| overlap_days((y.start, y.end), (q.year_start, end)) > 30) {
                continue;
            }
            cal.years.push(FiscalYear { label: q.fiscal_year, start: q.year_start, end });
        }
        cal.years.sort_by_key(|y| y.start);

        // The usual dates of each slot, counted over every fact.
        let mut dates: HashMap<Slot, BTreeMap<(NaiveDate, NaiveDate), usize>> = HashMap::new();
        for f in facts {
            if let Period::Duration { start, end } = f.period
                && let Ok(Some(slot)) = cal.classify(f.period)
            {
                *dates.entry(slot).or_default().entry((start, end)).or_default() += 1;
            }
        }
        for (slot, counts) in dates {
            if let Some((d, _)) = counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))) {
                cal.slot_dates.insert(slot, d);
            }
        }
        cal
    }

    /// The fiscal year containing `end`: its label and first day. A date outside every known
    /// year is placed by whole years from the nearest one.
    fn locate(&self, end: NaiveDate) -> Option<(i32, NaiveDate)> {
        if let Some(y) = self.years.iter().find(|y| y.start <= end && end <= y.end) {
            return Some((y.label, y.start));
        }
        let nearest = self.years.iter().min_by_key(|y| {
            let to_start = (y.start - end).num_days().abs();
            let to_end = (y.end - end).num_days().abs();
            to_start.min(to_end)
        })?;
        let days = (end - nearest.start).num_days();
        let k = ((days - 45) as f64 / 365.25).floor() as i32;
        let start = shift_years(nearest.start, k)?;
        Some((nearest.label + k, start))
    }

    /// The slot of a duration: `Ok(None)` when it is no statement span (an instant, a
    /// year-to-date span that does not start with the year, a stub), `Err` with a reason for an
    /// annual span that is not a fiscal year.
    fn classify(&self, period: Period) -> Result<Option<Slot>, String> {
        let Period::Duration { start, end } = period else { return Ok(None) };
        let days = period.days();
        if is_annual(days) {
            if !self.annual.contains(&(start, end)) {
                return Err(format!("annual span {period} overlaps the fiscal years and is not one"));
            }
            return Ok(self
                .years
                .iter()
                .find(|y| y.start == start && y.end == end)
                .map(|y| (y.label, Span::FY)));
        }
        let Some((label, year_start)) = self.locate(end) else { return Ok(None) };
        let position = quarters((end - year_start).num_days() + 1).clamp(1, 4);
        if is_quarter(days) {
            return Ok(Some((label, Span::quarter(position))));
        }
        let starts_with_year = (start - year_start).num_days().abs() <= 10;
        match (quarters(days), position) {
            (2, 2) if starts_with_year => Ok(Some((label, Span::H1))),
            (3, 3) if starts_with_year => Ok(Some((label, Span::M9))),
            _ => Ok(None),
        }
    }
}

/// One concept's value for one period after duplicates were resolved.
#[derive(Debug, Clone)]
struct Resolved {
    concept: String,
    unit: String,
    period: Period,
    value: f64,
    source: SourceRef,
}

impl Resolved {
    fn line_value(&self) -> LineValue {
        LineValue {
            value: self.value,
            unit: self.unit.clone(),
            concept: self.concept.clone(),
            period: self.period,
            source: self.source.clone(),
            derived: None,
        }
    }
}

/// The resolved facts of one line item: per concept (in priority order), per period.
struct ItemFacts {
    item: LineItem,
    concepts: Vec<Vec<Resolved>>,
}

fn fact_location(f: &Fact) -> String {
    if f.source.location.is_empty() {
        f.source.document.clone()
    } else {
        format!("{} {}", f.source.document, f.source.location)
    }
}

fn is_currency(unit: &str) -> bool {
    unit.len() == 3 && unit.bytes().all(|b| b.is_ascii_uppercase())
}

/// Whether `unit` fits the item: a currency, a currency per share, or shares.
fn unit_fits(item: LineItem, unit: &str) -> bool {
    match item {
        LineItem::EpsBasic | LineItem::EpsDiluted | LineItem::DividendsPerShare => {
            unit.strip_suffix("/shares").is_some_and(is_currency)
        }
        LineItem::SharesBasic | LineItem::SharesDiluted | LineItem::SharesOutstanding => unit == "shares",
        _ => is_currency(unit),
    }
}

/// Whether two reported values are the same number, given their precision.
fn same_value(a: &Fact, b: &Fact) -> bool {
    let tolerance = match a.decimals.into_iter().chain(b.decimals).min() {
        Some(d) => 0.5 * 10f64.powi(-d),
        None => 0.0,
    };
    let scale = a.value.abs().max(b.value.abs());
    (a.value - b.value).abs() <= tolerance.max(scale * 1e-12)
}

/// Unit checks and duplicate resolution for one line item.
fn collect_item(item: LineItem, facts: &[&Fact], skipped: &mut Vec<SkippedRow>) -> ItemFacts {
    let concepts = item.concepts();
    let mut fitting: Vec<&Fact> = Vec::new();
    for f in facts.iter().filter(|f| concepts.contains(&f.concept.as_str())) {
        if unit_fits(item, &f.unit) {
            fitting.push(f);
        } else {
            skipped.push(SkippedRow {
                location: fact_location(f),
                reason: format!(
                    "{} {} {}: unit {:?} does not fit {}",
                    f.concept,
                    f.period,
                    f.value,
                    f.unit,
                    item.as_str()
                ),
            });
        }
    }

    // One unit per item: the most common one (ties: USD first, then by name).
    let mut unit_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &fitting {
        *unit_counts.entry(f.unit.as_str()).or_default() += 1;
    }
    let unit = unit_counts
        .iter()
        .max_by(|a, b| {
            a.1.cmp(b.1).then(a.0.starts_with("USD").cmp(&b.0.starts_with("USD"))).then(b.0.cmp(a.0))
        })
        .map(|(u, _)| u.to_string());

    let mut per_concept: Vec<Vec<Resolved>> = Vec::with_capacity(concepts.len());
    for concept in concepts {
        let mut groups: BTreeMap<Period, Vec<&Fact>> = BTreeMap::new();
        for f in fitting.iter().filter(|f| f.concept == *concept) {
            if Some(f.unit.as_str()) == unit.as_deref() {
                groups.entry(f.period).or_default().push(f);
            } else {
                skipped.push(SkippedRow {
                    location: fact_location(f),
                    reason: format!(
                        "{} {} {}: unit {} differs from the unit {} used for {}",
                        f.concept,
                        f.period,
                        f.value,
                        f.unit,
                        unit.as_deref().unwrap_or("?"),
                        item.as_str()
                    ),
                });
            }
        }
        let resolved = groups.into_values().filter_map(|group| resolve(group, item, skipped)).collect();
        per_concept.push(resolved);
    }
    ItemFacts { item, concepts: per_concept }
}

/// The value of one concept for one period reported by one or more filings: the latest
/// filing's, sourced to the earliest filing that reported that same value since.
fn resolve(mut group: Vec<&Fact>, item: LineItem, skipped: &mut Vec<SkippedRow>) -> Option<Resolved> {
    group.sort_by(|a, b| (a.source.filed, &a.source.accession).cmp(&(b.source.filed, &b.source.accession)));
    let (&winner, earlier) = group.split_last()?;
    for f in earlier.iter().filter(|f| f.source.filed == winner.source.filed && !same_value(f, winner)) {
        skipped.push(SkippedRow {
            location: fact_location(f),
            reason: format!(
                "{} {} for {}: value {} conflicts with {} filed the same day in accession {}; the later accession wins",
                f.concept,
                f.period,
                item.as_str(),
                f.value,
                winner.value,
                winner.source.accession.as_deref().unwrap_or("?")
            ),
        });
    }
    let mut first = winner;
    for &f in earlier.iter().rev() {
        if same_value(f, winner) {
            first = f;
        } else if f.source.filed != winner.source.filed {
            break;
        }
    }
    Some(Resolved {
        concept: winner.concept.clone(),
        unit: winner.unit.clone(),
        period: winner.period,
        value: winner.value,
        source: first.source.clone(),
    })
}

/// Values and dates of the statement periods being built.
#[derive(Default)]
struct Output {
    values: BTreeMap<(i32, FiscalPeriod), BTreeMap<LineItem, LineValue>>,
    dates: BTreeMap<(i32, FiscalPeriod), (NaiveDate, NaiveDate)>,
}

impl Output {
    fn put(
        &mut self,
        key: (i32, FiscalPeriod),
        item: LineItem,
        value: LineValue,
        dates: (NaiveDate, NaiveDate),
    ) {
        self.dates.entry(key).or_insert(dates);
        self.values.entry(key).or_default().insert(item, value);
    }
}

fn later(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// A value computed from others: the first input's source, filed when the last input was.
fn derive(base: &LineValue, inputs: &[&LineValue], value: f64, period: Period, how: &str) -> LineValue {
    let mut source = base.source.clone();
    source.filed = inputs.iter().fold(base.source.filed, |acc, v| later(acc, v.source.filed));
    LineValue {
        value,
        unit: base.unit.clone(),
        concept: base.concept.clone(),
        period,
        source,
        derived: Some(how.to_string()),
    }
}

fn duration_dates(p: Period) -> Option<(NaiveDate, NaiveDate)> {
    match p {
        Period::Duration { start, end } => Some((start, end)),
        Period::Instant { .. } => None,
    }
}

/// Places a duration item's values into fiscal years and quarters, deriving missing quarters.
fn durations(item: &ItemFacts, cal: &Calendar, out: &mut Output, skipped: &mut Vec<SkippedRow>) {
    // Per concept: slot → value, one period per slot (the slot's usual dates win).
    let mut by_concept: Vec<HashMap<Slot, &Resolved>> = Vec::with_capacity(item.concepts.len());
    for values in &item.concepts {
        let mut slots: HashMap<Slot, &Resolved> = HashMap::new();
        for r in values {
            let slot = match cal.classify(r.period) {
                Ok(Some(slot)) => slot,
                Ok(None) => continue,
                Err(reason) => {
                    skipped.push(SkippedRow {
                        location: source_location(&r.source),
                        reason: format!("{} {} for {}: {reason}", r.concept, r.value, item.item.as_str()),
                    });
                    continue;
                }
            };
            let usual = cal.slot_dates.get(&slot).copied();
            match slots.get(&slot) {
                None => {
                    slots.insert(slot, r);
                }
                Some(existing) => {
                    let (keep, drop) =
                        if duration_dates(r.period) == usual { (r, *existing) } else { (*existing, r) };
                    skipped.push(SkippedRow {
                        location: source_location(&drop.source),
                        reason: format!(
                            "{} {} for {}: period {} falls in the same fiscal period as {}",
                            drop.concept,
                            drop.value,
                            item.item.as_str(),
                            drop.period,
                            keep.period
                        ),
                    });
                    slots.insert(slot, keep);
                }
            }
        }
        by_concept.push(slots);
    }

    // Direct values: the first concept with a value wins.
    let mut chosen: BTreeMap<Slot, LineValue> = BTreeMap::new();
    for slots in &by_concept {
        for (&slot, r) in slots {
            if slot.1.fiscal_period().is_some() && !chosen.contains_key(&slot) {
                chosen.insert(slot, r.line_value());
            }
        }
    }

    if !item.item.is_per_share_or_count() {
        let years: BTreeSet<i32> = by_concept.iter().flat_map(|s| s.keys().map(|k| k.0)).collect();
        for fy in years {
            derive_quarters(fy, &by_concept, &mut chosen);
        }
    }

    for ((fy, span), value) in chosen {
        let Some(fp) = span.fiscal_period() else { continue };
        let Some(dates) = cal.slot_dates.get(&(fy, span)).copied().or_else(|| duration_dates(value.period))
        else {
            continue;
        };
        out.put((fy, fp), item.item, value, dates);
    }
}

/// Q2 = H1 − Q1, Q3 = 9M − H1 (same concept), Q4 = FY − Q1 − Q2 − Q3 or FY − 9M.
fn derive_quarters(fy: i32, by_concept: &[HashMap<Slot, &Resolved>], chosen: &mut BTreeMap<Slot, LineValue>) {
    let pair = |a: Span, b: Span| {
        by_concept.iter().find_map(|s| Some((s.get(&(fy, a))?.line_value(), s.get(&(fy, b))?.line_value())))
    };
    let after = |first: &LineValue, last: &LineValue| -> Option<Period> {
        let start = first.period.end().checked_add_days(Days::new(1))?;
        let end = last.period.end();
        (start < end).then_some(Period::Duration { start, end })
    };

    if !chosen.contains_key(&(fy, Span::Q2))
        && let Some((h1, q1)) = pair(Span::H1, Span::Q1)
        && let Some(period) = after(&q1, &h1)
    {
        chosen.insert((fy, Span::Q2), derive(&h1, &[&q1], h1.value - q1.value, period, "H1 − Q1"));
    }
    if !chosen.contains_key(&(fy, Span::Q3))
        && let Some((m9, h1)) = pair(Span::M9, Span::H1)
        && let Some(period) = after(&h1, &m9)
    {
        chosen.insert((fy, Span::Q3), derive(&m9, &[&h1], m9.value - h1.value, period, "9M − H1"));
    }
    if chosen.contains_key(&(fy, Span::Q4)) {
        return;
    }
    let quarters = [Span::Q1, Span::Q2, Span::Q3].map(|q| chosen.get(&(fy, q)).cloned());
    if let (Some(annual), [Some(q1), Some(q2), Some(q3)]) = (chosen.get(&(fy, Span::FY)), &quarters)
        && let Some(period) = after(q3, annual)
    {
        let value = annual.value - q1.value - q2.value - q3.value;
        let q4 = derive(annual, &[q1, q2, q3], value, period, "FY − Q1 − Q2 − Q3");
        chosen.insert((fy, Span::Q4), q4);
    } else if let Some((annual, m9)) = pair(Span::FY, Span::M9)
        && let Some(period) = after(&m9, &annual)
    {
        chosen.insert((fy, Span::Q4), derive(&annual, &[&m9], annual.value - m9.value, period, "FY − 9M"));
    }
}

fn source_location(s: &SourceRef) -> String {
    if s.location.is_empty() { s.document.clone() } else { format!("{} {}", s.document, s.location) }
}

/// Attaches an instant item's values to the periods ending on their date (the cover-page share
/// count: to the latest period ending within 120 days before its date).
fn instants(item: &ItemFacts, out: &mut Output) {
    let mut ends: BTreeMap<NaiveDate, Vec<(i32, FiscalPeriod)>> = BTreeMap::new();
    for (&key, &(_, end)) in &out.dates {
        ends.entry(end).or_default().push(key);
    }
    let mut found: BTreeMap<(i32, FiscalPeriod), LineValue> = BTreeMap::new();
    for values in &item.concepts {
        // Per period: this concept's value (for the cover count, the one dated soonest after).
        let mut mine: BTreeMap<(i32, FiscalPeriod), &Resolved> = BTreeMap::new();
        for r in values {
            let Period::Instant { date } = r.period else { continue };
            let targets = if r.concept == COVER_SHARES {
                let from = date.checked_sub_days(Days::new(COVER_WINDOW_DAYS as u64)).unwrap_or(date);
                ends.range(from..=date).next_back().map(|(_, keys)| keys)
            } else {
                ends.get(&date)
            };
            for &key in targets.into_iter().flatten() {
                let sooner = mine.get(&key).is_none_or(|m| r.period.end() < m.period.end());
                if sooner {
                    mine.insert(key, r);
                }
            }
        }
        for (key, r) in mine {
            found.entry(key).or_insert_with(|| r.line_value());
        }
    }
    for (key, value) in found {
        out.values.entry(key).or_default().insert(item.item, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    struct F {
        concept: &'static str,
        start: Option<&'static str>,
        end: &'static str,
        value: f64,
        unit: &'static str,
        accn: &'static str,
        filed: &'static str,
        fy: i32,
        fp: FiscalPeriod,
    }

    fn fact(f: F) -> Fact {
        Fact {
            concept: f.concept.to_string(),
            value: f.value,
            unit: f.unit.to_string(),
            period: match f.start {
                Some(s) => Period::Duration { start: d(s), end: d(f.end) },
                None => Period::Instant { date: d(f.end) },
            },
            dimensions: BTreeMap::new(),
            decimals: None,
            source: SourceRef {
                document: "test".into(),
                location: format!("accn {}", f.accn),
                accession: Some(f.accn.into()),
                form: Some(if f.fp == FiscalPeriod::FY { "10-K" } else { "10-Q" }.into()),
                filed: Some(d(f.filed)),
                fiscal_year: Some(f.fy),
                fiscal_period: Some(f.fp),
            },
        }
    }

    const REV: &str = "us-gaap:Revenues";
    use FiscalPeriod::*;

    /// A fiscal year Oct–Sep (FY2024 = 2023-10-01..2024-09-28) with quarterly filings.
    fn year_2024() -> Vec<Fact> {
        vec![
            fact(F {
                concept: REV,
                start: Some("2023-10-01"),
                end: "2023-12-30",
                value: 100.0,
                unit: "USD",
                accn: "q1",
                filed: "2024-02-01",
                fy: 2024,
                fp: Q1,
            }),
            fact(F {
                concept: REV,
                start: Some("2023-12-31"),
                end: "2024-03-30",
                value: 90.0,
                unit: "USD",
                accn: "q2",
                filed: "2024-05-01",
                fy: 2024,
                fp: Q2,
            }),
            fact(F {
                concept: REV,
                start: Some("2023-10-01"),
                end: "2024-03-30",
                value: 190.0,
                unit: "USD",
                accn: "q2",
                filed: "2024-05-01",
                fy: 2024,
                fp: Q2,
            }),
            fact(F {
                concept: REV,
                start: Some("2024-03-31"),
                end: "2024-06-29",
                value: 80.0,
                unit: "USD",
                accn: "q3",
                filed: "2024-08-01",
                fy: 2024,
                fp: Q3,
            }),
            fact(F {
                concept: REV,
                start: Some("2023-10-01"),
                end: "2024-09-28",
                value: 400.0,
                unit: "USD",
                accn: "k24",
                filed: "2024-11-01",
                fy: 2024,
                fp: FY,
            }),
            // Prior-year comparative in the FY2024 10-K (fy = 2024 belongs to the filing).
            fact(F {
                concept: REV,
                start: Some("2022-09-25"),
                end: "2023-09-30",
                value: 380.0,
                unit: "USD",
                accn: "k24",
                filed: "2024-11-01",
                fy: 2024,
                fp: FY,
            }),
            fact(F {
                concept: "us-gaap:EarningsPerShareDiluted",
                start: Some("2023-10-01"),
                end: "2024-09-28",
                value: 6.08,
                unit: "USD/shares",
                accn: "k24",
                filed: "2024-11-01",
                fy: 2024,
                fp: FY,
            }),
            fact(F {
                concept: "us-gaap:EarningsPerShareDiluted",
                start: Some("2023-10-01"),
                end: "2023-12-30",
                value: 1.5,
                unit: "USD/shares",
                accn: "q1",
                filed: "2024-02-01",
                fy: 2024,
                fp: Q1,
            }),
            fact(F {
                concept: "us-gaap:Assets",
                start: None,
                end: "2024-09-28",
                value: 1000.0,
                unit: "USD",
                accn: "k24",
                filed: "2024-11-01",
                fy: 2024,
                fp: FY,
            }),
            fact(F {
                concept: COVER_SHARES,
                start: None,
                end: "2024-10-18",
                value: 15.0e9,
                unit: "shares",
                accn: "k24",
                filed: "2024-11-01",
                fy: 2024,
                fp: FY,
            }),
        ]
    }

    fn find(periods: &[StatementPeriod], fy: i32, fp: FiscalPeriod) -> &StatementPeriod {
        periods.iter().find(|p| p.fiscal_year == fy && p.fiscal_period == fp).unwrap()
    }

    #[test]
    fn labels_derivations_and_instants() {
        let (periods, skipped) = statements_from_facts(&year_2024());
        assert!(skipped.is_empty(), "{skipped:?}");
        let labels: Vec<String> = periods.iter().map(|p| p.label()).collect();
        assert_eq!(labels, ["FY2023", "Q1 FY2024", "Q2 FY2024", "Q3 FY2024", "Q4 FY2024", "FY2024"]);

        let fy = find(&periods, 2024, FY);
        assert_eq!((fy.start, fy.end), (Some(d("2023-10-01")), d("2024-09-28")));
        assert_eq!(fy.get(LineItem::Revenue), Some(400.0));
        assert_eq!(fy.get(LineItem::TotalAssets), Some(1000.0));
        assert_eq!(fy.get(LineItem::EpsDiluted), Some(6.08));
        let shares = &fy.values[&LineItem::SharesOutstanding];
        assert_eq!(shares.value, 15.0e9);
        assert_eq!(shares.period, Period::Instant { date: d("2024-10-18") });

        // The comparative is labelled by its own end date, not the filing's fy.
        assert_eq!(find(&periods, 2023, FY).get(LineItem::Revenue), Some(380.0));

        let q4 = find(&periods, 2024, Q4);
        assert_eq!((q4.start, q4.end), (Some(d("2024-06-30")), d("2024-09-28")));
        let rev = &q4.values[&LineItem::Revenue];
        assert_eq!(rev.value, 400.0 - 100.0 - 90.0 - 80.0);
        assert_eq!(rev.derived.as_deref(), Some("FY − Q1 − Q2 − Q3"));
        assert_eq!(rev.source.accession.as_deref(), Some("k24"));
        assert_eq!(rev.source.filed, Some(d("2024-11-01")));
        assert_eq!(q4.get(LineItem::EpsDiluted), None, "EPS is never derived");
        assert_eq!(q4.get(LineItem::TotalAssets), Some(1000.0));
        assert_eq!(find(&periods, 2024, Q1).get(LineItem::EpsDiluted), Some(1.5));
        assert_eq!(q4.available_from(), Some(d("2024-11-01")));
    }

    #[test]
    fn derives_q2_q3_from_year_to_date() {
        let cf = "us-gaap:NetCashProvidedByUsedInOperatingActivities";
        let facts = vec![
            fact(F {
                concept: cf,
                start: Some("2023-10-01"),
                end: "2023-12-30",
                value: 10.0,
                unit: "USD",
                accn: "q1",
                filed: "2024-02-01",
                fy: 2024,
                fp: Q1,
            }),
            fact(F {
                concept: cf,
                start: Some("2023-10-01"),
                end: "2024-03-30",
                value: 25.0,
                unit: "USD",
                accn: "q2",
                filed: "2024-05-01",
                fy: 2024,
                fp: Q2,
            }),
            fact(F {
                concept: cf,
                start: Some("2023-10-01"),
                end: "2024-06-29",
                value: 45.0,
                unit: "USD",
                accn: "q3",
                filed: "2024-08-01",
                fy: 2024,
                fp: Q3,
            }),
            fact(F {
                concept: cf,
                start: Some("2023-10-01"),
                end: "2024-09-28",
                value: 70.0,
                unit: "USD",
                accn: "k",
                filed: "2024-11-01",
                fy: 2024,
                fp: FY,
            }),
        ];
        let (periods, skipped) = statements_from_facts(&facts);
        assert!(skipped.is_empty(), "{skipped:?}");
        let v = |fp| find(&periods, 2024, fp).values[&LineItem::OperatingCashFlow].clone();
        assert_eq!(v(Q1).value, 10.0);
        assert_eq!((v(Q2).value, v(Q2).derived.as_deref()), (15.0, Some("H1 − Q1")));
        assert_eq!((v(Q3).value, v(Q3).derived.as_deref()), (20.0, Some("9M − H1")));
        assert_eq!((v(Q4).value, v(Q4).derived.as_deref()), (25.0, Some("FY − Q1 − Q2 − Q3")));
        assert_eq!(v(Q2).period, Period::Duration { start: d("2023-12-31"), end: d("2024-03-30") });
        assert_eq!(v(Q2).source.filed, Some(d("2024-05-01")));
    }

    #[test]
    fn latest_filing_wins_and_same_value_keeps_first_filing() {
        let mut facts = year_2024();
        // Restated in the next 10-K: the later value wins and is sourced to the restating filing.
        facts.push(fact(F {
            concept: REV,
            start: Some("2023-10-01"),
            end: "2024-09-28",
            value: 410.0,
            unit: "USD",
            accn: "k25",
            filed: "2025-11-01",
            fy: 2025,
            fp: FY,
        }));
        // Repeated unchanged: the original filing stays the source.
        facts.push(fact(F {
            concept: REV,
            start: Some("2022-09-25"),
            end: "2023-09-30",
            value: 380.0,
            unit: "USD",
            accn: "k25",
            filed: "2025-11-01",
            fy: 2025,
            fp: FY,
        }));
        let (periods, _) = statements_from_facts(&facts);
        let fy24 = &find(&periods, 2024, FY).values[&LineItem::Revenue];
        assert_eq!(fy24.value, 410.0);
        assert_eq!(fy24.source.accession.as_deref(), Some("k25"));
        assert_eq!(fy24.source.filed, Some(d("2025-11-01")));
        let fy23 = &find(&periods, 2023, FY).values[&LineItem::Revenue];
        assert_eq!(fy23.source.accession.as_deref(), Some("k24"));
        // The derived Q4 uses the restated year and is public from the restatement.
        let q4 = &find(&periods, 2024, Q4).values[&LineItem::Revenue];
        assert_eq!(q4.value, 410.0 - 270.0);
        assert_eq!(q4.source.filed, Some(d("2025-11-01")));
    }

    #[test]
    fn same_day_conflict_and_unit_mismatch_are_skipped() {
        let mut facts = year_2024();
        facts.push(fact(F {
            concept: REV,
            start: Some("2023-10-01"),
            end: "2024-09-28",
            value: 401.0,
            unit: "USD",
            accn: "k24a",
            filed: "2024-11-01",
            fy: 2024,
            fp: FY,
        }));
        facts.push(fact(F {
            concept: "us-gaap:GrossProfit",
            start: Some("2023-10-01"),
            end: "2024-09-28",
            value: 5.0,
            unit: "shares",
            accn: "k24",
            filed: "2024-11-01",
            fy: 2024,
            fp: FY,
        }));
        facts.push(fact(F {
            concept: "us-gaap:CostOfRevenue",
            start: Some("2023-10-01"),
            end: "2024-09-28",
            value: 5.0,
            unit: "EUR",
            accn: "k24",
            filed: "2024-11-01",
            fy: 2024,
            fp: FY,
        }));
        facts.push(fact(F {
            concept: "us-gaap:CostOfRevenue",
            start: Some("2022-09-25"),
            end: "2023-09-30",
            value: 6.0,
            unit: "EUR",
            accn: "k24",
            filed: "2024-11-01",
            fy: 2024,
            fp: FY,
        }));
        facts.push(fact(F {
            concept: "us-gaap:CostOfRevenue",
            start: Some("2023-10-01"),
            end: "2023-12-30",
            value: 1.0,
            unit: "USD",
            accn: "q1",
            filed: "2024-02-01",
            fy: 2024,
            fp: Q1,
        }));
        let (periods, skipped) = statements_from_facts(&facts);
        let fy = find(&periods, 2024, FY);
        assert_eq!(fy.get(LineItem::Revenue), Some(401.0), "later accession wins a same-day tie");
        assert_eq!(fy.get(LineItem::GrossProfit), None);
        assert_eq!(fy.get(LineItem::CostOfRevenue), Some(5.0), "EUR is the item's usual unit");
        assert_eq!(find(&periods, 2024, Q1).get(LineItem::CostOfRevenue), None, "units are not mixed");
        let reasons: Vec<&str> = skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(skipped.len(), 3, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("conflicts with 401")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("does not fit gross_profit")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("differs from the unit EUR")), "{reasons:?}");
    }

    #[test]
    fn single_quarterly_filing_without_annual_figures() {
        // One 10-Q (fy 2025, Q2): quarter, half year and the prior year's comparatives.
        let facts = vec![
            fact(F {
                concept: REV,
                start: Some("2024-12-29"),
                end: "2025-03-29",
                value: 95.0,
                unit: "USD",
                accn: "q",
                filed: "2025-05-02",
                fy: 2025,
                fp: Q2,
            }),
            fact(F {
                concept: REV,
                start: Some("2024-09-29"),
                end: "2025-03-29",
                value: 219.0,
                unit: "USD",
                accn: "q",
                filed: "2025-05-02",
                fy: 2025,
                fp: Q2,
            }),
            fact(F {
                concept: REV,
                start: Some("2023-12-31"),
                end: "2024-03-30",
                value: 90.0,
                unit: "USD",
                accn: "q",
                filed: "2025-05-02",
                fy: 2025,
                fp: Q2,
            }),
        ];
        let (periods, skipped) = statements_from_facts(&facts);
        assert!(skipped.is_empty(), "{skipped:?}");
        let labels: Vec<String> = periods.iter().map(|p| p.label()).collect();
        assert_eq!(labels, ["Q2 FY2024", "Q2 FY2025"]);
        let q2 = find(&periods, 2025, Q2);
        assert_eq!((q2.start, q2.end), (Some(d("2024-12-29")), d("2025-03-29")));
        assert_eq!(q2.get(LineItem::Revenue), Some(95.0));
        assert_eq!(find(&periods, 2024, Q2).get(LineItem::Revenue), Some(90.0));
    }

    #[test]
    fn dimensional_facts_are_ignored() {
        let mut f = fact(F {
            concept: REV,
            start: Some("2023-10-01"),
            end: "2024-09-28",
            value: 1.0,
            unit: "USD",
            accn: "k",
            filed: "2024-11-01",
            fy: 2024,
            fp: FY,
        });
        f.dimensions.insert("srt:ProductOrServiceAxis".into(), "aapl:IPhoneMember".into());
        let (periods, skipped) = statements_from_facts(&[f]);
        assert!(periods.is_empty() && skipped.is_empty());
    }
}

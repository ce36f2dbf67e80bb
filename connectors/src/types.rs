//! The data model shared by every source: prices, facts, statements, filings, text, companies.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An inclusive date range; `None` ends are open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DateRange {
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
}

impl DateRange {
    /// Every date.
    pub const ALL: DateRange = DateRange { from: None, to: None };

    /// Whether `d` lies inside the range.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }
}

/// One daily bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PriceBar {
    /// Trading day.
    pub date: NaiveDate,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close as traded (not adjusted).
    pub close: f64,
    /// Close adjusted for splits and dividends (equal to `close` when the source gives no
    /// adjusted column; see [`PriceSeries::adjustment`]).
    pub adj_close: f64,
    /// Shares (or units) traded; NaN-free, 0 only when the source says 0.
    pub volume: f64,
}

/// A row a source could not use, and why. Sources report these instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkippedRow {
    /// Where: `file:line` or a URL with an index.
    pub location: String,
    /// Why it was skipped.
    pub reason: String,
}

impl SkippedRow {
    /// `N skipped (first: LOCATION: REASON)`, or `None` when nothing was skipped.
    pub fn summary(rows: &[SkippedRow]) -> Option<String> {
        let first = rows.first()?;
        Some(format!("{} skipped (first: {}: {})", rows.len(), first.location, first.reason))
    }
}

/// Daily prices of one ticker, sorted by date, one bar per date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PriceSeries {
    /// Ticker as asked for (upper case).
    pub ticker: String,
    /// Currency when the source states it.
    pub currency: Option<String>,
    /// Bars in ascending date order.
    pub bars: Vec<PriceBar>,
    /// Where the bars came from (file path or source name + URL).
    pub source: String,
    /// How `adj_close` was obtained: `"column"` (the source's adjusted close), `"assumed"`
    /// (no adjusted column: the source's close is already adjusted, or raw — said here).
    pub adjustment: String,
    /// Rows dropped while reading, with reasons.
    pub skipped: Vec<SkippedRow>,
}

/// Company reference data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Company {
    /// Ticker (upper case, exchange suffix kept: `7203.T`).
    pub ticker: String,
    /// SEC Central Index Key.
    pub cik: Option<u64>,
    /// Registered name.
    pub name: Option<String>,
    /// Sector (GICS or SIC description) when known.
    pub sector: Option<String>,
    /// Industry (GICS industry) when known.
    #[serde(default)]
    pub industry: Option<String>,
    /// Exchange when known.
    pub exchange: Option<String>,
}

/// The period a fact is measured over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Period {
    /// A point in time (balance sheet items, shares outstanding).
    Instant {
        /// The date.
        date: NaiveDate,
    },
    /// A span (income and cash-flow items).
    Duration {
        /// First day.
        start: NaiveDate,
        /// Last day.
        end: NaiveDate,
    },
}

impl Period {
    /// The last day of the period.
    pub fn end(&self) -> NaiveDate {
        match *self {
            Period::Instant { date } => date,
            Period::Duration { end, .. } => end,
        }
    }

    /// Days covered by a duration (0 for an instant).
    pub fn days(&self) -> i64 {
        match *self {
            Period::Instant { .. } => 0,
            Period::Duration { start, end } => (end - start).num_days() + 1,
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Instant { date } => write!(f, "{date}"),
            Period::Duration { start, end } => write!(f, "{start}..{end}"),
        }
    }
}

/// Where a number came from, precise enough to cite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceRef {
    /// The document: a file path, a URL, or `companyfacts CIK##########`.
    pub document: String,
    /// The place inside it: an element id / context id for iXBRL, `accn … form … filed …` for
    /// companyfacts, `file:line` for CSV.
    pub location: String,
    /// SEC accession number when known.
    pub accession: Option<String>,
    /// Form type (10-K, 10-Q, 8-K ...).
    pub form: Option<String>,
    /// Date the data became public (filing date). Values are usable as of this date.
    pub filed: Option<NaiveDate>,
    /// Fiscal year focus of the *filing* (dei / companyfacts `fy`), not necessarily the fact's.
    pub fiscal_year: Option<i32>,
    /// Fiscal period focus of the *filing* (dei / companyfacts `fp`).
    pub fiscal_period: Option<FiscalPeriod>,
}

/// One reported number (an XBRL fact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Fact {
    /// Qualified concept name, e.g. `us-gaap:Revenues`, `dei:EntityCommonStockSharesOutstanding`.
    pub concept: String,
    /// The value after scale and sign are applied (e.g. 391035000000 for "391,035" in millions).
    pub value: f64,
    /// Unit: `USD`, `shares`, `USD/shares`, `pure` ...
    pub unit: String,
    /// Reporting period.
    pub period: Period,
    /// Dimensions (axis → member); empty for the consolidated entity.
    pub dimensions: BTreeMap<String, String>,
    /// Precision as reported: `Some(-6)` = millions, `None` = exact (INF).
    pub decimals: Option<i32>,
    /// Where it came from.
    pub source: SourceRef,
}

/// Fiscal period labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FiscalPeriod {
    /// First quarter.
    Q1,
    /// Second quarter.
    Q2,
    /// Third quarter.
    Q3,
    /// Fourth quarter.
    Q4,
    /// Full fiscal year.
    FY,
}

impl FiscalPeriod {
    /// `Q1`..`Q4`, `FY`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FiscalPeriod::Q1 => "Q1",
            FiscalPeriod::Q2 => "Q2",
            FiscalPeriod::Q3 => "Q3",
            FiscalPeriod::Q4 => "Q4",
            FiscalPeriod::FY => "FY",
        }
    }
}

impl std::str::FromStr for FiscalPeriod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "Q1" => Ok(Self::Q1),
            "Q2" => Ok(Self::Q2),
            "Q3" => Ok(Self::Q3),
            "Q4" => Ok(Self::Q4),
            "FY" => Ok(Self::FY),
            other => Err(format!("unknown fiscal period {other:?} (expected Q1, Q2, Q3, Q4 or FY)")),
        }
    }
}

/// A standard statement line item, mapped from XBRL concepts (see [`LineItem::concepts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineItem {
    /// Total revenue.
    Revenue,
    /// Cost of revenue / cost of goods sold.
    CostOfRevenue,
    /// Gross profit.
    GrossProfit,
    /// Operating income (loss).
    OperatingIncome,
    /// Income before income taxes.
    PretaxIncome,
    /// Income tax expense.
    IncomeTax,
    /// Net income attributable to the parent.
    NetIncome,
    /// Interest expense.
    InterestExpense,
    /// Depreciation and amortization (cash-flow statement).
    DepreciationAmortization,
    /// Basic EPS.
    EpsBasic,
    /// Diluted EPS.
    EpsDiluted,
    /// Weighted average basic shares.
    SharesBasic,
    /// Weighted average diluted shares.
    SharesDiluted,
    /// Shares outstanding at a date (cover page or balance sheet).
    SharesOutstanding,
    /// Total assets.
    TotalAssets,
    /// Total current assets.
    CurrentAssets,
    /// Total current liabilities.
    CurrentLiabilities,
    /// Total liabilities.
    TotalLiabilities,
    /// Stockholders' equity attributable to the parent.
    StockholdersEquity,
    /// Cash and cash equivalents.
    Cash,
    /// Long-term debt (non-current).
    LongTermDebt,
    /// Short-term debt and current portion of long-term debt.
    ShortTermDebt,
    /// Net cash from operating activities.
    OperatingCashFlow,
    /// Purchases of property, plant and equipment (a positive number = cash spent).
    CapitalExpenditure,
    /// Dividends paid (a positive number = cash paid).
    DividendsPaid,
    /// Dividends declared per share.
    DividendsPerShare,
}

impl LineItem {
    /// Every line item, in statement order.
    pub const ALL: [LineItem; 26] = [
        LineItem::Revenue,
        LineItem::CostOfRevenue,
        LineItem::GrossProfit,
        LineItem::OperatingIncome,
        LineItem::PretaxIncome,
        LineItem::IncomeTax,
        LineItem::NetIncome,
        LineItem::InterestExpense,
        LineItem::DepreciationAmortization,
        LineItem::EpsBasic,
        LineItem::EpsDiluted,
        LineItem::SharesBasic,
        LineItem::SharesDiluted,
        LineItem::SharesOutstanding,
        LineItem::TotalAssets,
        LineItem::CurrentAssets,
        LineItem::CurrentLiabilities,
        LineItem::TotalLiabilities,
        LineItem::StockholdersEquity,
        LineItem::Cash,
        LineItem::LongTermDebt,
        LineItem::ShortTermDebt,
        LineItem::OperatingCashFlow,
        LineItem::CapitalExpenditure,
        LineItem::DividendsPaid,
        LineItem::DividendsPerShare,
    ];

    /// snake_case name (as serialised).
    pub fn as_str(&self) -> &'static str {
        match self {
            LineItem::Revenue => "revenue",
            LineItem::CostOfRevenue => "cost_of_revenue",
            LineItem::GrossProfit => "gross_profit",
            LineItem::OperatingIncome => "operating_income",
            LineItem::PretaxIncome => "pretax_income",
            LineItem::IncomeTax => "income_tax",
            LineItem::NetIncome => "net_income",
            LineItem::InterestExpense => "interest_expense",
            LineItem::DepreciationAmortization => "depreciation_amortization",
            LineItem::EpsBasic => "eps_basic",
            LineItem::EpsDiluted => "eps_diluted",
            LineItem::SharesBasic => "shares_basic",
            LineItem::SharesDiluted => "shares_diluted",
            LineItem::SharesOutstanding => "shares_outstanding",
            LineItem::TotalAssets => "total_assets",
            LineItem::CurrentAssets => "current_assets",
            LineItem::CurrentLiabilities => "current_liabilities",
            LineItem::TotalLiabilities => "total_liabilities",
            LineItem::StockholdersEquity => "stockholders_equity",
            LineItem::Cash => "cash",
            LineItem::LongTermDebt => "long_term_debt",
            LineItem::ShortTermDebt => "short_term_debt",
            LineItem::OperatingCashFlow => "operating_cash_flow",
            LineItem::CapitalExpenditure => "capital_expenditure",
            LineItem::DividendsPaid => "dividends_paid",
            LineItem::DividendsPerShare => "dividends_per_share",
        }
    }

    /// Whether the item is measured at an instant (balance sheet) rather than over a period.
    pub fn is_instant(&self) -> bool {
        matches!(
            self,
            LineItem::SharesOutstanding
                | LineItem::TotalAssets
                | LineItem::CurrentAssets
                | LineItem::CurrentLiabilities
                | LineItem::TotalLiabilities
                | LineItem::StockholdersEquity
                | LineItem::Cash
                | LineItem::LongTermDebt
                | LineItem::ShortTermDebt
        )
    }

    /// Whether the value is per share or a share count (never derived by subtraction).
    pub fn is_per_share_or_count(&self) -> bool {
        matches!(
            self,
            LineItem::EpsBasic
                | LineItem::EpsDiluted
                | LineItem::SharesBasic
                | LineItem::SharesDiluted
                | LineItem::SharesOutstanding
                | LineItem::DividendsPerShare
        )
    }

    /// XBRL concepts that report this item, most specific first. The first concept with a
    /// value for a period wins.
    pub fn concepts(&self) -> &'static [&'static str] {
        match self {
            LineItem::Revenue => &[
                "us-gaap:Revenues",
                "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
                "us-gaap:RevenueFromContractWithCustomerIncludingAssessedTax",
                "us-gaap:SalesRevenueNet",
                "us-gaap:RevenuesNetOfInterestExpense",
                "us-gaap:SalesRevenueGoodsNet",
            ],
            LineItem::CostOfRevenue => &[
                "us-gaap:CostOfGoodsAndServicesSold",
                "us-gaap:CostOfRevenue",
                "us-gaap:CostOfGoodsSold",
                "us-gaap:CostOfServices",
            ],
            LineItem::GrossProfit => &["us-gaap:GrossProfit"],
            LineItem::OperatingIncome => &["us-gaap:OperatingIncomeLoss"],
            LineItem::PretaxIncome => &[
                "us-gaap:IncomeLossFromContinuingOperationsBeforeIncomeTaxesExtraordinaryItemsNoncontrollingInterest",
                "us-gaap:IncomeLossFromContinuingOperationsBeforeIncomeTaxesMinorityInterestAndIncomeLossFromEquityMethodInvestments",
                "us-gaap:IncomeLossFromContinuingOperationsBeforeIncomeTaxesDomestic",
            ],
            LineItem::IncomeTax => &["us-gaap:IncomeTaxExpenseBenefit"],
            LineItem::NetIncome => &[
                "us-gaap:NetIncomeLoss",
                "us-gaap:NetIncomeLossAvailableToCommonStockholdersBasic",
                "us-gaap:ProfitLoss",
            ],
            LineItem::InterestExpense => &[
                "us-gaap:InterestExpense",
                "us-gaap:InterestExpenseNonoperating",
                "us-gaap:InterestExpenseDebt",
                "us-gaap:InterestAndDebtExpense",
            ],
            LineItem::DepreciationAmortization => &[
                "us-gaap:DepreciationDepletionAndAmortization",
                "us-gaap:DepreciationAndAmortization",
                "us-gaap:DepreciationAmortizationAndAccretionNet",
                "us-gaap:Depreciation",
            ],
            LineItem::EpsBasic => {
                &["us-gaap:EarningsPerShareBasic", "us-gaap:EarningsPerShareBasicAndDiluted"]
            }
            LineItem::EpsDiluted => {
                &["us-gaap:EarningsPerShareDiluted", "us-gaap:EarningsPerShareBasicAndDiluted"]
            }
            LineItem::SharesBasic => &["us-gaap:WeightedAverageNumberOfSharesOutstandingBasic"],
            LineItem::SharesDiluted => &["us-gaap:WeightedAverageNumberOfDilutedSharesOutstanding"],
            LineItem::SharesOutstanding => {
                &["dei:EntityCommonStockSharesOutstanding", "us-gaap:CommonStockSharesOutstanding"]
            }
            LineItem::TotalAssets => &["us-gaap:Assets"],
            LineItem::CurrentAssets => &["us-gaap:AssetsCurrent"],
            LineItem::CurrentLiabilities => &["us-gaap:LiabilitiesCurrent"],
            LineItem::TotalLiabilities => &["us-gaap:Liabilities"],
            LineItem::StockholdersEquity => &[
                "us-gaap:StockholdersEquity",
                "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
            ],
            LineItem::Cash => &[
                "us-gaap:CashAndCashEquivalentsAtCarryingValue",
                "us-gaap:CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents",
                "us-gaap:Cash",
            ],
            LineItem::LongTermDebt => &[
                "us-gaap:LongTermDebtNoncurrent",
                "us-gaap:LongTermDebtAndCapitalLeaseObligations",
                "us-gaap:LongTermDebt",
            ],
            LineItem::ShortTermDebt => &[
                "us-gaap:DebtCurrent",
                "us-gaap:LongTermDebtCurrent",
                "us-gaap:CommercialPaper",
                "us-gaap:ShortTermBorrowings",
            ],
            LineItem::OperatingCashFlow => &[
                "us-gaap:NetCashProvidedByUsedInOperatingActivities",
                "us-gaap:NetCashProvidedByUsedInOperatingActivitiesContinuingOperations",
            ],
            LineItem::CapitalExpenditure => &[
                "us-gaap:PaymentsToAcquirePropertyPlantAndEquipment",
                "us-gaap:PaymentsToAcquireProductiveAssets",
            ],
            LineItem::DividendsPaid => {
                &["us-gaap:PaymentsOfDividends", "us-gaap:PaymentsOfDividendsCommonStock"]
            }
            LineItem::DividendsPerShare => &[
                "us-gaap:CommonStockDividendsPerShareDeclared",
                "us-gaap:CommonStockDividendsPerShareCashPaid",
            ],
        }
    }
}

impl std::str::FromStr for LineItem {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LineItem::ALL
            .iter()
            .copied()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| format!("unknown line item {s:?}"))
    }
}

/// The value of one line item for one fiscal period, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LineValue {
    /// The number (after scale and sign).
    pub value: f64,
    /// Unit (`USD`, `USD/shares`, `shares`).
    pub unit: String,
    /// The concept the value came from (for derived values: the concept of the inputs).
    pub concept: String,
    /// The period of the underlying fact(s).
    pub period: Period,
    /// The document and location (for a derived value: the annual fact's source).
    pub source: SourceRef,
    /// For a derived value, how it was derived, e.g. `FY − Q1 − Q2 − Q3`.
    pub derived: Option<String>,
}

/// Statement line items of one company for one fiscal period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatementPeriod {
    /// Fiscal year label as the company uses it (Apple's year ending 2024-09-28 is 2024).
    pub fiscal_year: i32,
    /// FY or Q1..Q4.
    pub fiscal_period: FiscalPeriod,
    /// First day of the period.
    pub start: Option<NaiveDate>,
    /// Last day of the period (the balance-sheet date).
    pub end: NaiveDate,
    /// The line items found, each with its source.
    pub values: BTreeMap<LineItem, LineValue>,
}

impl StatementPeriod {
    /// `FY2024`, `Q3 2025` style label.
    pub fn label(&self) -> String {
        match self.fiscal_period {
            FiscalPeriod::FY => format!("FY{}", self.fiscal_year),
            q => format!("{} FY{}", q.as_str(), self.fiscal_year),
        }
    }

    /// The value of an item, if present.
    pub fn get(&self, item: LineItem) -> Option<f64> {
        self.values.get(&item).map(|v| v.value)
    }

    /// The earliest date at which every value of this period was public (the latest filing
    /// date among its values); `None` when a value has no known filing date.
    pub fn available_from(&self) -> Option<NaiveDate> {
        let mut latest = None;
        for v in self.values.values() {
            let f = v.source.filed?;
            latest = Some(latest.map_or(f, |l: NaiveDate| l.max(f)));
        }
        latest
    }
}

/// Normalised statements of one company: one entry per fiscal period, sorted by end date
/// then period (quarters before the year that ends on the same day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Statements {
    /// Ticker (upper case) when known.
    pub ticker: Option<String>,
    /// CIK when known.
    pub cik: Option<u64>,
    /// Entity name when known.
    pub entity_name: Option<String>,
    /// Periods, ascending.
    pub periods: Vec<StatementPeriod>,
    /// Facts that could not be used, with reasons (bad units, unparseable dates ...).
    pub skipped: Vec<SkippedRow>,
}

/// One entry of a company's filing index (submissions JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FilingRef {
    /// CIK of the filer.
    pub cik: u64,
    /// Accession number `0000320193-24-000123`.
    pub accession: String,
    /// Form type.
    pub form: String,
    /// Filing date.
    pub filed: NaiveDate,
    /// Period of report, when given.
    pub report_date: Option<NaiveDate>,
    /// Primary document file name.
    pub primary_document: Option<String>,
    /// Whether the filing has inline XBRL.
    pub inline_xbrl: bool,
}

impl FilingRef {
    /// URL of the primary document on EDGAR's archive.
    pub fn url(&self) -> Option<String> {
        let doc = self.primary_document.as_ref()?;
        Some(format!(
            "https://www.sec.gov/Archives/edgar/data/{}/{}/{}",
            self.cik,
            self.accession.replace('-', ""),
            doc
        ))
    }
}

/// How a filing's publication date was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FiledDateSource {
    /// From the company's filing index (submissions JSON).
    Index,
    /// From a date in the file name (EDGAR fixture naming `aapl-10-k-2024-11-01.html`).
    FileName,
    /// Unknown: the statutory deadline after the period end is used as an upper bound
    /// (10-K: 90 days, 10-Q: 45 days), so an as-of filter never sees the data too early.
    Deadline,
}

/// What a filing says about itself (the `dei` cover facts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FilingMeta {
    /// Form (`dei:DocumentType`): 10-K, 10-Q ...
    pub form: String,
    /// Registrant name (`dei:EntityRegistrantName`).
    pub company: Option<String>,
    /// CIK (`dei:EntityCentralIndexKey`).
    pub cik: Option<u64>,
    /// Trading symbol (`dei:TradingSymbol`), upper case.
    pub ticker: Option<String>,
    /// Period end (`dei:DocumentPeriodEndDate`).
    pub period_end: Option<NaiveDate>,
    /// Fiscal year focus (`dei:DocumentFiscalYearFocus`).
    pub fiscal_year: Option<i32>,
    /// Fiscal period focus (`dei:DocumentFiscalPeriodFocus`).
    pub fiscal_period: Option<FiscalPeriod>,
    /// Filing date, when known.
    pub filed: Option<NaiveDate>,
    /// How `filed` was established.
    pub filed_source: Option<FiledDateSource>,
    /// Where the document was read from.
    pub source: String,
}

/// A table kept as a table: rows of cell texts (header rows first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Table {
    /// Rows of cells, empty cells dropped at the row ends.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A pipe table (`| a | b |`), one line per row.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        for (i, row) in self.rows.iter().enumerate() {
            out.push_str("| ");
            out.push_str(&row.join(" | "));
            out.push_str(" |\n");
            if i == 0 {
                out.push('|');
                for _ in row {
                    out.push_str(" --- |");
                }
                out.push('\n');
            }
        }
        out
    }
}

/// A block of a section: running text or a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A paragraph (or heading) of text.
    Paragraph {
        /// The text, whitespace collapsed.
        text: String,
    },
    /// A table.
    Table {
        /// The table.
        table: Table,
    },
}

/// One Item of a 10-K / 10-Q (Item 1A Risk Factors ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Section {
    /// `I` or `II` for 10-Q parts, `None` when the form has no parts that repeat item numbers.
    pub part: Option<String>,
    /// Item number as printed, upper case: `1`, `1A`, `7`, `7A`, `8`.
    pub item: String,
    /// Heading text, e.g. `Risk Factors`.
    pub title: String,
    /// Paragraphs and tables in document order.
    pub blocks: Vec<Block>,
}

impl Section {
    /// The section as plain text, tables as pipe tables.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            match b {
                Block::Paragraph { text } => {
                    out.push_str(text);
                    out.push_str("\n\n");
                }
                Block::Table { table } => {
                    out.push_str(&table.to_markdown());
                    out.push('\n');
                }
            }
        }
        out
    }

    /// `Item 1A` or `Part II Item 1A`.
    pub fn label(&self) -> String {
        match &self.part {
            Some(p) => format!("Part {p} Item {}", self.item),
            None => format!("Item {}", self.item),
        }
    }
}

/// A parsed filing: its cover facts, every numeric fact, and the text split into Items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Filing {
    /// Cover information.
    pub meta: FilingMeta,
    /// Every `ix:nonFraction` fact (deduplicated by concept, context and unit).
    pub facts: Vec<Fact>,
    /// Items in document order.
    pub sections: Vec<Section>,
    /// Facts that could not be read, with reasons.
    pub skipped: Vec<SkippedRow>,
}

impl Filing {
    /// The section of an item (`"1A"`; for 10-Qs `"II-1A"` or `"1A"` = the first match).
    pub fn section(&self, item: &str) -> Option<&Section> {
        let item = item.trim().to_ascii_uppercase();
        let (part, item) = match item.split_once('-') {
            Some((p, i)) => (Some(p.to_string()), i.to_string()),
            None => (None, item),
        };
        self.sections.iter().find(|s| s.item == item && (part.is_none() || s.part == part))
    }
}

/// Kind of a dated text item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    /// A news headline or article.
    News,
    /// An earnings-call transcript.
    Transcript,
    /// A social-media post.
    Tweet,
}

/// A dated piece of text about one or more tickers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TextItem {
    /// Stable id (from the source, or a hash of source + position).
    pub id: String,
    /// Kind.
    pub kind: TextKind,
    /// Date published.
    pub date: NaiveDate,
    /// Tickers it is about (upper case); empty when the source gives none.
    pub tickers: Vec<String>,
    /// Headline or title.
    pub title: Option<String>,
    /// The text.
    pub text: String,
    /// Where it came from (`file:line` or URL).
    pub source: String,
}

//! SEC EDGAR: companyfacts, submissions and company_tickers JSON, inline-XBRL 10-K/10-Q
//! documents, and a live client for data.sec.gov / www.sec.gov.

pub mod companyfacts;
pub mod edgar;
pub mod ixbrl;
pub mod normalize;
pub mod sections;
pub mod submissions;
pub mod tickers;

/// Formats a CIK the way EDGAR file names do: ten digits, zero padded.
pub fn cik10(cik: u64) -> String {
    format!("{cik:010}")
}

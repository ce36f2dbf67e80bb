//! Local files read with polars: CSV, CSV.gz, Parquet, JSON and JSONL (plain or gzipped),
//! located by config (a directory and a column mapping), for any universe a user brings.
//!
//! Every row a source cannot use is reported as a [`crate::SkippedRow`] with its file and line;
//! a missing required column is an error naming the file, the column and the columns found.

pub mod prices;
pub mod table;
pub mod text;

pub use prices::{LocalPrices, PriceColumns};
pub use table::{StringTable, read_table};
pub use text::{LocalText, TextColumns};

use chrono::NaiveDate;

/// Date formats tried in order for every date cell (ISO first).
const DATE_FORMATS: [&str; 5] = ["%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y"];

/// Parses a date cell: an explicit `format` when given, else ISO, `M/D/YYYY`, `YYYY/MM/DD`,
/// `YYYYMMDD`, `DD.MM.YYYY`; a timestamp's date part (`2024-03-08T00:00:00Z`) is accepted.
pub fn parse_date(cell: &str, format: Option<&str>) -> Option<NaiveDate> {
    let s = cell.trim();
    if let Some(f) = format {
        return NaiveDate::parse_from_str(s, f).ok();
    }
    let head = if s.len() > 10 && s.as_bytes().get(10).is_some_and(|b| *b == b'T' || *b == b' ') {
        &s[..10]
    } else {
        s
    };
    DATE_FORMATS.iter().find_map(|f| NaiveDate::parse_from_str(head, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_common_formats() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 8).unwrap();
        for s in
            ["2024-03-08", "3/8/2024", "03/08/2024", "2024/03/08", "20240308", "2024-03-08T00:00:00.000Z"]
        {
            assert_eq!(parse_date(s, None), Some(d), "{s}");
        }
        assert_eq!(parse_date("08-03-2024", Some("%d-%m-%Y")), Some(d));
        assert_eq!(parse_date("yesterday", None), None);
        assert_eq!(parse_date("2024-02-30", None), None);
    }
}

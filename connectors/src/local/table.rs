//! Reads a tabular file (CSV, Parquet, JSON, JSONL; gzipped or not) into string columns with
//! polars, so that each source parses cells itself and reports bad rows precisely.

use std::io::Cursor;
use std::path::Path;

use polars::prelude::*;

use crate::error::{ConnectorError, Result};
use crate::files::read_bytes;

/// A table whose every column is text, plus the file it came from.
#[derive(Debug, Clone)]
pub struct StringTable {
    /// The file.
    pub path: String,
    /// The polars frame (all columns `String`).
    pub frame: DataFrame,
    /// For CSV: the file line of row 0 (2, after the header); `None` for other formats.
    pub first_line: Option<usize>,
}

impl StringTable {
    /// Column names as found.
    pub fn columns(&self) -> Vec<String> {
        self.frame.get_column_names().iter().map(|c| c.to_string()).collect()
    }

    /// Number of rows.
    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// Finds a column: the configured name exactly, else the first alias matching
    /// case-insensitively (ignoring spaces, `_` and `-`).
    pub fn find(&self, configured: Option<&str>, aliases: &[&str]) -> Option<String> {
        let cols = self.columns();
        if let Some(name) = configured {
            return cols.into_iter().find(|c| c == name);
        }
        let norm = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
        aliases.iter().find_map(|a| cols.iter().find(|c| norm(c) == norm(a)).cloned())
    }

    /// A required column, or an error naming the file, the column and the columns present.
    pub fn require(&self, what: &str, configured: Option<&str>, aliases: &[&str]) -> Result<String> {
        self.find(configured, aliases).ok_or_else(|| {
            let wanted = match configured {
                Some(c) => format!("{c:?} (configured)"),
                None => aliases.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" or "),
            };
            ConnectorError::parse(
                &self.path,
                format!("missing {what} column {wanted}; columns found: {}", self.columns().join(", ")),
            )
        })
    }

    /// The cells of a column (None = null).
    pub fn cells(&self, column: &str) -> Result<Vec<Option<String>>> {
        let col = self
            .frame
            .column(column)
            .map_err(|e| ConnectorError::parse(&self.path, format!("column {column:?}: {e}")))?;
        let ca =
            col.str().map_err(|e| ConnectorError::parse(&self.path, format!("column {column:?}: {e}")))?;
        Ok(ca.iter().map(|v| v.map(str::to_owned)).collect())
    }

    /// `file:line` for a row (CSV) or `file row N` (other formats).
    pub fn location(&self, row: usize) -> String {
        match self.first_line {
            Some(first) => format!("{}:{}", self.path, first + row),
            None => format!("{} row {}", self.path, row + 1),
        }
    }
}

/// The formats [`read_table`] understands, from the file name (a trailing `.gz` ignored).
fn format_of(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".csv", ".parquet", ".jsonl", ".ndjson", ".json", ".tsv"]
        .iter()
        .find(|ext| name.ends_with(*ext))
        .copied()
}

/// Whether `path` names a file [`read_table`] can read.
pub fn is_table_file(path: &Path) -> bool {
    format_of(path).is_some()
}

/// Reads CSV / TSV / Parquet / JSON (array of records) / JSONL, plain or gzipped, into text
/// columns. Errors name the file.
pub fn read_table(path: &Path) -> Result<StringTable> {
    let shown = path.display().to_string();
    let fmt = format_of(path).ok_or_else(|| {
        ConnectorError::parse(
            &shown,
            "unknown table format (expected .csv, .tsv, .parquet, .json or .jsonl, optionally .gz)",
        )
    })?;
    let bytes = read_bytes(path)?;
    let bad = |e: PolarsError| ConnectorError::parse(&shown, format!("cannot read {fmt} table: {e}"));
    let (frame, first_line) = match fmt {
        ".csv" | ".tsv" => {
            let sep = if fmt == ".tsv" { b'\t' } else { b',' };
            let df = CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .map_parse_options(|o| o.with_separator(sep))
                .into_reader_with_file_handle(Cursor::new(bytes))
                .finish()
                .map_err(bad)?;
            (df, Some(2))
        }
        ".parquet" => (ParquetReader::new(Cursor::new(bytes)).finish().map_err(bad)?, None),
        ".json" => (
            JsonReader::new(Cursor::new(bytes)).with_json_format(JsonFormat::Json).finish().map_err(bad)?,
            None,
        ),
        _ => (
            JsonReader::new(Cursor::new(bytes))
                .with_json_format(JsonFormat::JsonLines)
                .finish()
                .map_err(bad)?,
            None,
        ),
    };
    let mut cols = Vec::with_capacity(frame.width());
    for c in frame.columns() {
        let cast = c.cast(&DataType::String).map_err(|e| {
            ConnectorError::parse(
                &shown,
                format!("column {:?} ({}) cannot be read as text: {e}", c.name(), c.dtype()),
            )
        })?;
        cols.push(cast);
    }
    let frame = DataFrame::new(frame.height(), cols).map_err(bad)?;
    Ok(StringTable { path: shown, frame, first_line })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_gz_parquet_json_jsonl_all_read_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "Date,Close\n2024-01-02,1.5\n2024-01-03,abc\n").unwrap();
        let t = read_table(&csv).unwrap();
        assert_eq!(t.columns(), ["Date", "Close"]);
        assert_eq!(t.cells("Close").unwrap(), [Some("1.5".into()), Some("abc".into())]);
        assert_eq!(t.location(1), format!("{}:3", csv.display()));
        assert_eq!(t.find(None, &["close"]).as_deref(), Some("Close"));
        let err = t.require("volume", None, &["volume"]).unwrap_err().to_string();
        assert!(err.contains("t.csv") && err.contains("volume") && err.contains("Date, Close"), "{err}");

        let mut df = df!("date" => ["2024-01-02"], "close" => [1.5f64]).unwrap();
        let pq = dir.path().join("t.parquet");
        ParquetWriter::new(std::fs::File::create(&pq).unwrap()).finish(&mut df).unwrap();
        assert_eq!(read_table(&pq).unwrap().cells("close").unwrap(), [Some("1.5".into())]);

        let jl = dir.path().join("t.jsonl");
        std::fs::write(
            &jl,
            "{\"date\":\"2024-01-02\",\"close\":1.5}\n{\"date\":\"2024-01-03\",\"close\":2}\n",
        )
        .unwrap();
        assert_eq!(read_table(&jl).unwrap().height(), 2);
        let js = dir.path().join("t.json");
        std::fs::write(&js, "[{\"date\":\"2024-01-02\",\"close\":1.5}]").unwrap();
        assert_eq!(read_table(&js).unwrap().cells("date").unwrap(), [Some("2024-01-02".into())]);

        let bad = dir.path().join("t.xlsx");
        std::fs::write(&bad, "x").unwrap();
        assert!(read_table(&bad).unwrap_err().to_string().contains("unknown table format"));
    }
}

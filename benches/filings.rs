//! Inline-XBRL filing parsing throughput of `bullpen_connectors::sec::ixbrl::parse_filing`
//! (facts + Items), not a test: no assertions on time. Prints one JSON object like
//! `benches/filings_peer.py`, its edgartools peer; `benches/run_filings.sh` runs both on the
//! same files and prints the ratio.
//!
//! ```text
//! cargo bench --profile dev --bench filings -- [--data DIR] [--passes 3]
//! ```
//!
//! Every `*.html` / `*.html.gz` file of DIR (default `../shared/data/filings/html` relative
//! to the repository root, else `data/filings`) is read and gunzipped into memory first (not
//! timed); then `--passes` passes parse every file in name order on one thread. Reported:
//! filings/s over all passes, facts and sections found per pass, the median and the maximum
//! of the per-file times (over every file × pass), and the files that failed. A file's time
//! covers the parse and rendering every Item as plain text (`Section::text`, tables as pipe
//! tables), which is what the peer's `section.text()` does.
//!
//! Dev profile: the workspace's `[profile.dev.package."*"]` and
//! `[profile.dev.package.bullpen-connectors]` entries compile the parser and every dependency
//! at opt-level 3 without debug assertions; only the bench's own `main` is unoptimised.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bullpen_connectors::sec::ixbrl::parse_filing;

const DEFAULT_DATA: &str = "../shared/data/filings/html";
const FALLBACK_DATA: &str = "data/filings";

struct Args {
    data: PathBuf,
    passes: usize,
}

fn parse_args() -> Result<Args, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = root.join(DEFAULT_DATA);
    let mut args =
        Args { data: if default.is_dir() { default } else { root.join(FALLBACK_DATA) }, passes: 3 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` appends `--bench`; ignore it.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(value),
            "--passes" => args.passes = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.passes == 0 {
        return Err("--passes must be at least 1".into());
    }
    Ok(args)
}

/// The filings of a directory, in name order: (file name, HTML).
fn load(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".html") || name.ends_with(".htm") || name.ends_with(".html.gz")
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no .html / .html.gz filings in {}", dir.display()));
    }
    paths
        .iter()
        .map(|p| {
            let html = bullpen_connectors::files::read_string(p).map_err(|e| e.to_string())?;
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            Ok((name, html))
        })
        .collect()
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn run(args: Args) -> Result<serde_json::Value, String> {
    let filings = load(&args.data)?;
    let bytes: usize = filings.iter().map(|(_, html)| html.len()).sum();

    let mut per_file_ms = Vec::with_capacity(filings.len() * args.passes);
    let (mut facts, mut sections, mut text_bytes) = (0usize, 0usize, 0usize);
    let mut errors: Vec<String> = Vec::new();
    let started = Instant::now();
    for pass in 0..args.passes {
        for (name, html) in &filings {
            let t = Instant::now();
            // The Items as plain text (tables as pipe tables), as the peer renders them.
            let parsed = parse_filing(html, name).map(|filing| {
                let text: usize = filing.sections.iter().map(|s| s.text().len()).sum();
                (filing.facts.len(), filing.sections.len(), text)
            });
            per_file_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            // Counted from the first pass only (every pass finds the same).
            match parsed {
                Ok((f, s, b)) if pass == 0 => {
                    facts += f;
                    sections += s;
                    text_bytes += b;
                }
                Ok(_) => {}
                Err(e) if pass == 0 => errors.push(format!("{name}: {e}")),
                Err(_) => {}
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    per_file_ms.sort_by(f64::total_cmp);
    let parsed = filings.len() * args.passes;
    Ok(serde_json::json!({
        "impl": "bullpen ixbrl (quick-xml)",
        "filings_per_s": round(parsed as f64 / seconds, 2),
        "mb_per_s": round(bytes as f64 * args.passes as f64 / seconds / 1e6, 2),
        "per_file_median_ms": round(median(&per_file_ms), 2),
        "per_file_max_ms": round(per_file_ms.last().copied().unwrap_or(0.0), 2),
        "files": filings.len(),
        "passes": args.passes,
        "seconds": round(seconds, 3),
        "html_mb": round(bytes as f64 / 1e6, 2),
        "facts": facts,
        "sections": sections,
        "section_text_mb": round(text_bytes as f64 / 1e6, 2),
        "errors": errors.len(),
        "error_files": errors,
        "threads": 1,
        "data": args.data.display().to_string(),
    }))
}

fn main() {
    match parse_args().and_then(run) {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("filings bench: {e}");
            std::process::exit(1);
        }
    }
}

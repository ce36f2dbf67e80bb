//! Embedding throughput of Bullpen's candle MiniLM provider (not a test: no assertions on
//! time). Prints one JSON object like `benches/embed_peer.py`, its sentence-transformers
//! peer; `benches/run_embed.sh` runs both on the same data and prints the ratio.
//!
//! ```text
//! cargo bench --bench embed --no-default-features --features candle -- [--data FILE]
//!     [--model DIR] [--n 1000] [--batch-size 64] [--max-length 256]
//! ```
//!
//! Release build (`cargo bench`'s profile); `--no-default-features --features candle` only
//! spares building llama.cpp and the HTTP stack in release, which this bench does not use.
//! Without `--model`, the model comes from the model store in `BULLPEN_HOME` (pulled if
//! missing). Threads: candle's pool honours `RAYON_NUM_THREADS` / `CANDLE_NUM_THREADS`
//! (default: the physical cores); the script sets both to the peer's thread count.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bullpen::llm::Embedder;
use bullpen::llm::candle::CandleEmbedder;
use bullpen::llm::store::ModelStore;

const DEFAULT_DATA: &str = "../shared/data/eval/financial_phrasebank_Sentences_50Agree.txt";
const MODEL: &str = "minilm-l6-v2";

struct Args {
    data: PathBuf,
    model: Option<PathBuf>,
    n: usize,
    batch_size: usize,
    max_length: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DATA),
        model: None,
        n: 1000,
        batch_size: 64,
        max_length: 256,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` appends `--bench`; ignore it.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(value),
            "--model" => args.model = Some(PathBuf::from(value)),
            "--n" => args.n = number(&value)?,
            "--batch-size" => args.batch_size = number(&value)?,
            "--max-length" => args.max_length = number(&value)?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(args)
}

/// The first `n` sentences of a Financial PhraseBank file: `sentence@label` lines, CRLF,
/// UTF-8 with a BOM (a line that is not UTF-8 is read as Latin-1). Same rules as the peer.
fn load_sentences(path: &Path, n: usize) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    let sentences: Vec<String> = bytes
        .split(|&b| b == b'\n')
        .map(|line| match std::str::from_utf8(line) {
            Ok(s) => s.to_string(),
            Err(_) => line.iter().map(|&b| char::from(b)).collect(),
        })
        .map(|line| {
            let line = line.trim_end_matches('\r');
            line.rsplit_once('@').map_or(line, |(s, _label)| s).trim().to_string()
        })
        .filter(|s| !s.is_empty())
        .take(n)
        .collect();
    if sentences.len() < n {
        return Err(format!("{} holds only {} sentences, {n} wanted", path.display(), sentences.len()));
    }
    Ok(sentences)
}

/// Peak resident set size of this process (VmHWM), in MiB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

async fn run(args: Args) -> Result<serde_json::Value, String> {
    let sentences = load_sentences(&args.data, args.n)?;
    let model_dir = match args.model {
        Some(dir) => dir,
        None => {
            let home = bullpen::io::osvariables::bullpen_home();
            ModelStore::new(&home, vec![]).ensure(MODEL).await.map_err(|e| e.to_string())?
        }
    };
    let started = Instant::now();
    let model =
        CandleEmbedder::load_async(model_dir.clone(), MODEL.to_string(), args.batch_size, args.max_length)
            .await
            .map_err(|e| e.to_string())?;
    let load_s = started.elapsed().as_secs_f64();
    // Warm-up (thread pools, allocator), as the peer does.
    model.embed(&sentences[..8]).await.map_err(|e| e.to_string())?;

    let started = Instant::now();
    let out = model.embed(&sentences).await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    if out.vectors.len() != sentences.len() {
        return Err(format!("got {} vectors for {} sentences", out.vectors.len(), sentences.len()));
    }
    Ok(serde_json::json!({
        "impl": "bullpen candle",
        "sentences_per_s": (sentences.len() as f64 / seconds * 10.0).round() / 10.0,
        "peak_rss_mb": peak_rss_mb().map(|m| m.round()),
        "sentences": sentences.len(),
        "tokens": out.prompt_tokens,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "load_s": (load_s * 1000.0).round() / 1000.0,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "threads": model.threads(),
        "model_dir": model_dir.display().to_string(),
    }))
}

fn main() {
    let result = parse_args().and_then(|args| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(run(args))
    });
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("embed bench: {e}");
            std::process::exit(1);
        }
    }
}

#!/usr/bin/env bash
# Report benchmark behind BENCHMARKS.md ("Equity research reports"): 20 tickers of the demo
# universe with the default model (SmolLM2-135M) on this machine, at concurrency 1, 2 and 4:
# total time, and per report the time of data, tables + charts, model calls and rendering,
# read from each run's manifest.json; then the same batch without prose (no model at all).
#
#   benches/run_reports.sh            # env: OUT=/tmp/reports-bench  LEVELS="1 2 4"
#
# Profile: dev (dependencies and Bullpen at opt-level 3, see Cargo.toml). Models come from the
# test BULLPEN_HOME (pulled by scripts/test.sh). Run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
export BULLPEN_HOME=${BULLPEN_HOME:-$target/bullpen-test-home}
OUT=${OUT:-/tmp/reports-bench}
LEVELS=${LEVELS:-"1 2 4"}
# The 20 companies of the demo universe with a 10-K; all filed by the as-of date.
TICKERS=AAPL,ABBV,ADBE,AMZN,BA,CRM,GOOGL,HD,IBM,JNJ,KO,MA,META,NFLX,NKE,PG,UNH,UNP,V,WFC
AS_OF=2025-08-29
# The same feature set as `cargo test --workspace` (so nothing is rebuilt).
cargo build --workspace --tests >&2
bin="$target/debug/bullpen"
rm -rf "$OUT" && mkdir -p "$OUT"
summarise() {
  python3 - "$1" "$2" <<'PY'
import json, statistics, sys
label, path = sys.argv[1], sys.argv[2]
m = json.load(open(path))
done = [r for r in m["reports"] if r["status"] == "done"]
t = lambda k: [r["timings"][k] / 1000 for r in done]
code = [a + b + c for a, b, c in zip(t("data_ms"), t("build_ms"), t("render_ms"))]
mean = lambda xs: statistics.mean(xs) if xs else float("nan")
print(json.dumps({
  "run": label, "reports": len(done), "failed": sum(r["status"] == "failed" for r in m["reports"]),
  "total_s": round(m["seconds"], 1),
  "per_report_s": round(m["seconds"] / max(len(done), 1), 2),
  "data_s": round(mean(t("data_ms")), 3), "tables_charts_s": round(mean(t("build_ms")), 3),
  "render_s": round(mean(t("render_ms")), 3), "code_s": round(mean(code), 3),
  "code_max_s": round(max(code) if code else float("nan"), 3),
  "llm_s": round(mean(t("llm_ms")), 2),
  "numbers_checked": sum(r["checked"] for r in done), "unsupported": sum(r["unsupported"] for r in done),
}))
PY
}
# Warm-up: the model loads and the page cache holds the universe.
"$bin" report --tickers KO --as-of $AS_OF --out "$OUT/warmup" --force >/dev/null 2>&1 || true
for c in $LEVELS; do
  "$bin" report --tickers $TICKERS --as-of $AS_OF --out "$OUT/c$c" --concurrency "$c" --force >/dev/null 2>"$OUT/c$c.log" || true
  summarise "concurrency $c" "$OUT/c$c/manifest.json"
done
"$bin" report --tickers $TICKERS --as-of $AS_OF --out "$OUT/noprose" --concurrency 1 --no-prose --force >/dev/null 2>"$OUT/noprose.log" || true
summarise "no prose, concurrency 1" "$OUT/noprose/manifest.json"

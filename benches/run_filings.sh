#!/usr/bin/env bash
# Inline-XBRL 10-K / 10-Q filings parsed per second: bullpen-connectors'
# `sec::ixbrl::parse_filing` vs edgartools' HTML parser (`edgar.documents.HTMLParser`, what
# `Filing.parse()` runs), on the same gunzipped-in-memory files (default: the 30 filings of
# ../shared/data/filings/html, else data/filings), the same number of passes, one thread
# each. Work per file on both sides: the numeric inline-XBRL facts (contexts and units
# resolved, scale and sign applied, deduplicated), the Items, and every Item as plain text.
# Prints both JSON reports, the ratio of filings/s and whether the 10x target is met.
#
#   benches/run_filings.sh      # env: PASSES=3 DATA=DIR PYTHON=python3
#
# Profile: dev (`cargo bench --profile dev`), not release: the workspace compiles every
# dependency and the bullpen-connectors crate (the parser) at opt-level 3 in dev, without
# debug assertions or overflow checks (see Cargo.toml), so only the bench's own
# loop is unoptimised; a release build would recompile polars for 20+ minutes. Needs
# `python3 -m pip install edgartools` (nothing is fetched: the peer parses local strings).
# Run it on an otherwise idle machine (no compile running).
set -euo pipefail
cd "$(dirname "$0")/.."

PASSES=${PASSES:-3}
if [[ -z "${DATA:-}" ]]; then
    DATA=../shared/data/filings/html
    [[ -d $DATA ]] || DATA=data/filings
fi
PYTHON=${PYTHON:-python3}
CARGO_ARGS=(--profile dev --bench filings)

cargo bench "${CARGO_ARGS[@]}" --no-run >&2
ours=$(cargo bench -q "${CARGO_ARGS[@]}" -- --data "$DATA" --passes "$PASSES")
peer=$("$PYTHON" benches/filings_peer.py --data "$DATA" --passes "$PASSES")

echo "bullpen:    $ours"
echo "edgartools: $peer"
"$PYTHON" - "$ours" "$peer" <<'PY'
import json, sys
ours, peer = (json.loads(a) for a in sys.argv[1:3])
ratio = ours["filings_per_s"] / peer["filings_per_s"]
print(json.dumps({
    "ratio_filings_per_s": round(ratio, 1),
    "ratio_per_file_median": round(peer["per_file_median_ms"] / ours["per_file_median_ms"], 1),
    "target": 10.0,
    "meets_target": ratio >= 10.0,
    "same_numeric_facts": ours["facts"] == peer["facts"],
    "sections": {"bullpen": ours["sections"], "edgartools": peer["sections"]},
    "errors": {"bullpen": ours["errors"], "edgartools": peer["errors"]},
}))
PY

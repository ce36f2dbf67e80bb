#!/usr/bin/env bash
# Bullpen's polars analytics vs pandas doing the same, on the same data, loading not timed:
# - ratios: src/analytics/ratios.rs `period_ratios(...).collect()` over the NYSE fundamentals
#   2012-2016 (1,781 ticker-years, 448 tickers) mapped to the wide statements frame, REPS
#   times; the peer computes the same columns with the same rules in pandas;
# - market: src/analytics/market.rs `price_metrics` + `betas` for 88 stocknet tickers against
#   the S&P 500 as of each of the 48 month ends 2013-09-30 .. 2017-08-31, PASSES times; the
#   peer does the same per date in pandas.
# Prints both JSON reports, the ratios of the rates, whether the 5x target is met, and the
# agreement of the two outputs (every output column, relative tolerance 1e-9).
#
#   benches/run_ratios.sh       # env: THREADS=2 REPS=200 PASSES=3 SCALE=1 PYTHON=python3
#
# SCALE=K stacks K copies of the fundamentals (tickers suffixed) on both sides. THREADS is
# polars' pool (POLARS_MAX_THREADS); pandas runs on one thread.
#
# Profile: dev (`cargo bench --profile dev`), not release (a release build recompiles polars
# for 20+ minutes): in dev, polars and every other dependency are compiled as in release
# (opt-level 3, no debug assertions, no overflow checks; see Cargo.toml); the engine's own
# code only builds query plans. Needs pandas. Run it on an otherwise idle machine (no compile running).
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
REPS=${REPS:-200}
PASSES=${PASSES:-3}
SCALE=${SCALE:-1}
PYTHON=${PYTHON:-python3}
CARGO_ARGS=(--profile dev --bench ratios)
ARGS=(--reps "$REPS" --passes "$PASSES" --scale "$SCALE")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo bench "${CARGO_ARGS[@]}" --no-run >&2
ours=$(POLARS_MAX_THREADS=$THREADS cargo bench -q "${CARGO_ARGS[@]}" -- "${ARGS[@]}" --dump "$out/ours")
peer=$("$PYTHON" benches/ratios_peer.py "${ARGS[@]}" --dump "$out/peer")

echo "polars: $ours"
echo "pandas: $peer"
"$PYTHON" - "$ours" "$peer" "$out" <<'PY'
import json, sys
import numpy as np
import pandas as pd

ours, peer = (json.loads(a) for a in sys.argv[1:3])
out = sys.argv[3]


def agreement(kind, keys):
    """Rows of both outputs matched on keys; every column compared (NaN = NaN; numbers
    within 1e-9 relative, 1e-12 absolute near zero; dates as text)."""
    a, b = pd.read_csv(f"{out}/ours_{kind}.csv"), pd.read_csv(f"{out}/peer_{kind}.csv")
    for df in (a, b):
        for k in keys:
            df[k] = df[k].astype(str).str[:10]
    m = a.merge(b, on=keys, how="outer", suffixes=("_o", "_p"), indicator=True)
    unmatched = int((m["_merge"] != "both").sum())
    mismatches, worst = {}, 0.0
    for c in (c for c in a.columns if c not in keys and c in b.columns):
        x, y = m[f"{c}_o"], m[f"{c}_p"]
        same_null = x.isna() & y.isna()
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            x, y = x.astype(float), y.astype(float)
            d, s = (x - y).abs(), np.maximum(x.abs(), y.abs())
            ok = same_null | (d <= np.maximum(1e-9 * s, 1e-12))
            rel = (d / s.where(s > 0)).max()
            worst = max(worst, float(rel) if rel == rel else 0.0)
        else:
            ok = same_null | (x.astype(str).str[:10] == y.astype(str).str[:10])
        if (~ok).any():
            mismatches[c] = int((~ok).sum())
    return {"rows": len(m), "columns": len(a.columns) - len(keys), "unmatched_rows": unmatched,
            "mismatched_cells": mismatches, "max_rel_diff": worst,
            "agree": unmatched == 0 and not mismatches}


r = ours["ratios"]["collects_per_s"] / peer["ratios"]["collects_per_s"]
m = ours["market"]["as_of_per_s"] / peer["market"]["as_of_per_s"]
print(json.dumps({
    "ratio_ratios_per_s": round(r, 2),
    "ratio_market_per_s": round(m, 2),
    "target": 5.0,
    "meets_target": {"ratios": r >= 5.0, "market": m >= 5.0},
    "agreement": {"ratios": agreement("ratios", ["ticker", "end"]),
                  "market": agreement("market", ["ticker", "as_of"])},
}))
PY

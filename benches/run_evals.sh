#!/usr/bin/env bash
# Evaluation benchmark behind BENCHMARKS.md ("Evaluations"): Financial PhraseBank zero-shot
# with SmolLM2-135M on this machine.
#  1. Throughput on the same N items (a seeded sample, default 400), answer cache off:
#     one request at a time without the prompt cache (each prompt prefilled whole), one at a
#     time with it, and 8 in flight through the batching engine (the profile's 8 slots) with it.
#  2. Scores: the default variants of confs/evals/fpb.toml on a seeded sample of S items
#     (default 1000; the file is sorted by label, so never its first N).
#
#   benches/run_evals.sh            # env: N=400  S=1000  FPB=../shared/data/eval/financial_phrasebank_Sentences_50Agree.txt
#
# Profile: dev (dependencies and Bullpen at opt-level 3, see Cargo.toml). Models come from the
# test BULLPEN_HOME (pulled by scripts/test.sh). Run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
export BULLPEN_HOME=${BULLPEN_HOME:-$target/bullpen-test-home}
N=${N:-400}
S=${S:-1000}
FPB=${FPB:-../shared/data/eval/financial_phrasebank_Sentences_50Agree.txt}
OUT=${OUT:-/tmp/evals-bench}
[ -f "$FPB" ] || { echo "FPB not found at $FPB (set FPB=…)" >&2; exit 1; }
cargo build --workspace --tests >&2
bin="$target/debug/bullpen"
rm -rf "$OUT" && mkdir -p "$OUT"
paths="job.task.dataset.paths=[\"$FPB\"]"
run() { # label concurrency prompt_cache
  local start end
  start=$(date +%s.%N)
  "$bin" eval confs/evals/fpb.toml --variants zero-shot --sample "$N" --no-cache --concurrency "$2" \
    -e "$paths" -e "job.out=\"$OUT/$1\"" -e job.print=false -e "profiles.local.prompt_cache=$3" \
    -e 'logging.level="warn"' 2> "$OUT/$1.log"
  end=$(date +%s.%N)
  python3 -c "import json;s=$end-$start;print(json.dumps({'run':'$1','concurrency':$2,'prompt_cache':'$3','items':$N,'seconds':round(s,1),'items_per_s':round($N/s,2)}))"
}
run one-at-a-time 1 false
run one-at-a-time-prompt-cache 1 true
run batched-8 8 true
# Scores of the default variants (answers cached for reruns).
start=$(date +%s.%N)
"$bin" eval confs/evals/fpb.toml --sample "$S" -e "$paths" -e "job.out=\"$OUT/scores\"" -e 'logging.level="warn"' \
  2> "$OUT/scores.log"
end=$(date +%s.%N)
echo "scores: $(python3 -c "print(round($end-$start))") s"
cat "$OUT"/scores/fpb/*/summary.md

#!/usr/bin/env bash
# Agent benchmark behind BENCHMARKS.md ("Agents"): 20 fixed questions over the demo universe
# (benches/agent_questions.jsonl) through the director with SmolLM2-135M: tool-call validity
# rate, share of answers with zero unsupported numbers, routing accuracy, steps and latency.
#
#   benches/run_agents.sh            # env: OUT=/tmp/agents-bench.json
#
# Profile: dev (dependencies at opt-level 3). Models come from the test BULLPEN_HOME (pulled
# by scripts/test.sh). Run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
export BULLPEN_HOME=${BULLPEN_HOME:-$target/bullpen-test-home}
OUT=${OUT:-/tmp/agents-bench.json}
cargo bench --profile dev --bench agents --no-run >&2
cargo bench --profile dev --bench agents -- --out "$OUT"

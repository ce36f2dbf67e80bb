#!/usr/bin/env bash
# Serving benchmark behind BENCHMARKS.md ("HTTP server"): `bullpen serve` vs the
# llama-cpp-python server (.ci/peer-server.sh), same SmolLM2 GGUF, 2 threads each, 2,048-token
# context; 1, 8 and 32 concurrent sessions sending streamed chat completions back to back for
# SECONDS each (loopback only): requests/s, aggregate tokens/s, TTFT p50/p95, errors.
#
#   benches/run_serve.sh            # env: SECONDS_EACH=60 SESSIONS="1 8 32" MAX_TOKENS=64
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
export BULLPEN_HOME=${BULLPEN_HOME:-$target/bullpen-test-home}
SECONDS_EACH=${SECONDS_EACH:-60}
SESSIONS=${SESSIONS:-"1 8 32"}
MAX_TOKENS=${MAX_TOKENS:-64}
BP_PORT=${BP_PORT:-8090}
PEER_PORT=${PEER_PORT:-8091}

cargo build --bin bullpen >&2
cargo bench --profile dev --bench serve --no-run >&2
load() { cargo bench --profile dev --bench serve -- "$@" 2>/dev/null | tail -1; }
model=$("$target/debug/bullpen" models path smollm2-135m-instruct)

wait_ready() { for _ in $(seq 1 120); do curl -sf "$1" >/dev/null && return 0; sleep 1; done; echo "not ready: $1" >&2; return 1; }

# Bullpen: 8 generation slots (the local profile's), queue of 64, a rate limit above the load
# (the default of 120 requests a minute per key would answer 429 at 32 sessions).
conf=$(mktemp --suffix=.toml)
printf '[job]\nKIND = "ServeJob"\nallow_unauthenticated = true\nrequests_per_minute = 100000\n[logging]\nlevel = "warn"\n' > "$conf"
"$target/debug/bullpen" serve --config "$conf" --addr "127.0.0.1:$BP_PORT" &
bp=$!
trap 'kill $bp 2>/dev/null || true; .ci/peer-server.sh stop "$PEER_PORT" || true' EXIT
wait_ready "http://127.0.0.1:$BP_PORT/readyz"
for n in $SESSIONS; do
  echo "bullpen sessions=$n $(load --url "http://127.0.0.1:$BP_PORT/v1" --model local --sessions "$n" --seconds "$SECONDS_EACH" --max-tokens "$MAX_TOKENS")"
done
kill $bp; wait $bp 2>/dev/null || true

.ci/peer-server.sh start "$model" "$PEER_PORT" >&2
for n in $SESSIONS; do
  echo "peer sessions=$n $(load --url "http://127.0.0.1:$PEER_PORT/v1" --model smollm2-135m-instruct --sessions "$n" --seconds "$SECONDS_EACH" --max-tokens "$MAX_TOKENS")"
done

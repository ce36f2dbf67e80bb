#!/usr/bin/env bash
# The peer: llama-cpp-python's OpenAI-compatible server, used by tests/openai_provider.rs
# (and the benchmarks) as the remote end of Bullpen's OpenAI-compatible provider.
#
#   .ci/peer-server.sh install                  pip install 'llama-cpp-python[server]' (skipped when importable)
#   .ci/peer-server.sh start MODEL.gguf [PORT]   start on 127.0.0.1:PORT (default 8011), wait until it answers
#   .ci/peer-server.sh stop [PORT]               stop it
#   .ci/peer-server.sh status [PORT]             exit 0 when it answers
#
# After `start`, the provider's base URL is http://127.0.0.1:PORT/v1 (export it as
# BULLPEN_PEER_URL for the tests) and the model is served under the name
# `smollm2-135m-instruct` (override with PEER_MODEL_ALIAS).
#
# Environment: PEER_DIR (pid and log files; default ${TMPDIR:-/tmp}/bullpen-peer),
# PEER_THREADS (default 2), PEER_CTX (default 2048), PEER_START_TIMEOUT (seconds, default 120),
# PYTHON (default python3).
#
# Server options and why:
#   --chat_format is left unset, so llama-cpp-python applies the chat template stored in
#     the GGUF (SmolLM2's ChatML template). That template also renders `tool` messages,
#     which the round trip needs; `chatml-function-calling` does not render them.
#   --interrupt_requests False: a new request waits for the running one instead of
#     cancelling it (concurrent tests would otherwise cut each other's streams).
#   --n_ctx 2048 --n_threads 2: the same context and thread count as Bullpen's llama profile.
set -euo pipefail

PYTHON=${PYTHON:-python3}
PEER_DIR=${PEER_DIR:-${TMPDIR:-/tmp}/bullpen-peer}
PEER_THREADS=${PEER_THREADS:-2}
PEER_CTX=${PEER_CTX:-2048}
PEER_START_TIMEOUT=${PEER_START_TIMEOUT:-120}
PEER_MODEL_ALIAS=${PEER_MODEL_ALIAS:-smollm2-135m-instruct}

die() { echo "peer-server: $*" >&2; exit 1; }

importable() {
  "$PYTHON" -c 'import llama_cpp, llama_cpp.server, uvicorn, fastapi, sse_starlette, starlette_context, pydantic_settings' \
    >/dev/null 2>&1
}

answers() { # PORT
  "$PYTHON" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/models", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

cmd_install() {
  if importable; then
    echo "peer-server: llama-cpp-python already installed ($("$PYTHON" -c 'import llama_cpp; print(llama_cpp.__version__)'))"
    return 0
  fi
  command -v cmake >/dev/null || die "cmake is needed to build llama-cpp-python (apt-get install cmake)"
  echo "peer-server: building llama-cpp-python from source (several minutes on 2 cores)"
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    "$PYTHON" -m pip install --no-input --disable-pip-version-check 'llama-cpp-python[server]'
  importable || die "llama-cpp-python installed but its server does not import"
}

cmd_start() { # MODEL [PORT]
  local model=${1:-} port=${2:-8011}
  [[ -n $model ]] || die "usage: $0 start MODEL.gguf [PORT]"
  [[ -f $model ]] || die "model file not found: $model"
  importable || die "llama-cpp-python is not installed; run: $0 install"
  mkdir -p "$PEER_DIR"
  local pidfile="$PEER_DIR/$port.pid" log="$PEER_DIR/$port.log"
  if answers "$port"; then
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "peer-server: already running on port $port (pid $(cat "$pidfile"))"
      return 0
    fi
    die "port $port is taken by another server"
  fi
  nohup "$PYTHON" -m llama_cpp.server \
    --model "$model" --model_alias "$PEER_MODEL_ALIAS" \
    --host 127.0.0.1 --port "$port" \
    --interrupt_requests False \
    --n_ctx "$PEER_CTX" --n_threads "$PEER_THREADS" --n_threads_batch "$PEER_THREADS" \
    >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local pid waited=0
  pid=$(cat "$pidfile")
  until answers "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log" >&2 || true
      rm -f "$pidfile"
      die "the server exited during start-up (log: $log)"
    fi
    if ((waited >= PEER_START_TIMEOUT)); then
      tail -n 30 "$log" >&2 || true
      kill "$pid" 2>/dev/null || true
      rm -f "$pidfile"
      die "no answer on port $port after ${PEER_START_TIMEOUT}s (log: $log)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "peer-server: up on http://127.0.0.1:$port/v1 (pid $pid, model $PEER_MODEL_ALIAS, log $log)"
}

cmd_stop() { # [PORT]
  local port=${1:-8011}
  local pidfile="$PEER_DIR/$port.pid"
  if [[ ! -f $pidfile ]]; then
    echo "peer-server: nothing to stop on port $port"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  echo "peer-server: stopped (port $port)"
}

cmd_status() { # [PORT]
  local port=${1:-8011}
  if answers "$port"; then echo "peer-server: up on port $port"; else echo "peer-server: down on port $port"; return 1; fi
}

case ${1:-} in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) die "usage: $0 install | start MODEL.gguf [PORT] | stop [PORT] | status [PORT]" ;;
esac

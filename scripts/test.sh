#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, pulls the
# default models, starts the llama-cpp-python peer server, runs `cargo test`, stops
# the peer. Real models, no mocks: expect a cold build of 25-30 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

# Models are pulled once into a home kept with the build outputs.
target=${CARGO_TARGET_DIR:-$PWD/target}
export BULLPEN_HOME=${BULLPEN_TEST_HOME:-$target/bullpen-test-home}
PEER_PORT=${PEER_PORT:-8011}

cargo build --all-targets --locked
bullpen() { "$target/debug/bullpen" "$@"; }
bullpen models pull
model=$(bullpen models path smollm2-135m-instruct)

.ci/peer-server.sh start "$model" "$PEER_PORT"
trap '.ci/peer-server.sh stop "$PEER_PORT"' EXIT
export BULLPEN_PEER_URL="http://127.0.0.1:$PEER_PORT/v1"

cargo test --workspace --locked --no-fail-fast

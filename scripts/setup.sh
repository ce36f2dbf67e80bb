#!/usr/bin/env bash
# Installs what building Bullpen needs on a fresh Debian/Ubuntu machine (idempotent):
#   cmake, clang and libclang (llama.cpp and its bindings are built from source).
# With --test, also what the test suite needs: the llama-cpp-python server, the peer of
# the OpenAI-compatible provider tests (built from source: several minutes on 2 cores), and
# Debian's chromium and chromedriver for the web chat page test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || need+=(build-essential)
if [[ ${1:-} == --test ]]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
fi
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: Rust is needed (https://rustup.rs)" >&2; exit 1; }

if [[ ${1:-} == --test ]]; then
  .ci/peer-server.sh install
fi

#!/usr/bin/env bash
# Benchmarks in headless Chromium; JSON on stdout (progress on stderr).
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh --browser >&2
log "building the native CLI for the native Hessian benchmark" >&2
cargo build -p dropout-lab --bin dropout-lab >&2
DROPOUT_LAB_CLI="$CARGO_TARGET_DIR/debug/dropout-lab" node tests/bench.mjs

#!/usr/bin/env bash
# Build the page and the native CLI, then run the node script given (tests/bench.mjs for
# `npm run bench`, scripts/soak.mjs for `npm run soak`) with DROPOUT_LAB_CLI set; its JSON goes
# to stdout, everything else to stderr.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh --browser >&2
log "building the native CLI" >&2
cargo build -p dropout-lab --bin dropout-lab >&2
DROPOUT_LAB_CLI="$CARGO_TARGET_DIR/debug/dropout-lab" node "$@"

#!/usr/bin/env bash
# Build the page and the native CLI, then run the node script given (tests/bench.mjs for
# `npm run bench`, scripts/soak.mjs for `npm run soak`) with DROPOUT_LAB_CLI set; its JSON goes
# to stdout, everything else to stderr.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh --browser >&2
# Release, as README's paper-scale runs use it (the first release build of the dependencies takes
# ~12 minutes on 2 cores; the tests' debug build does not share them).
log "building the native CLI (release)" >&2
cargo build --release -p dropout-lab --bin dropout-lab >&2
DROPOUT_LAB_CLI="$CARGO_TARGET_DIR/release/dropout-lab" node "$@"

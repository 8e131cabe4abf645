#!/usr/bin/env bash
# Benchmarks in headless Chromium; JSON on stdout (progress on stderr).
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh --browser >&2
node tests/bench.mjs

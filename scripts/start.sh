#!/usr/bin/env bash
# Build everything that is missing, then serve the lab on http://127.0.0.1:8080.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh
exec node scripts/serve.mjs

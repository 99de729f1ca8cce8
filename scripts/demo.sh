#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs examples/demo.ts on Node against our
# TypeScript IKC server started in-process (no Perl needed). `--perl` runs the same against the
# bundled Perl IKC peer (real POE + Storable; installs libpoe-perl if missing); `--port N` against
# an IKC server already running. `--trace` runs examples/trace.ts instead: a call's trace through
# node:diagnostics_channel.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --perl "* ]]; then bash scripts/setup.sh; else bash scripts/setup.sh --npm-only; fi
node_modules/.bin/tsc -p tsconfig.json
if [[ " $* " == *" --trace "* ]]; then exec node dist/examples/trace.js; fi
exec node dist/examples/demo.js "$@"

#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs examples/demo.ts on Node against our
# TypeScript IKC server started in-process (no Perl needed). `--perl` runs the same against the
# bundled Perl IKC peer (real POE + Storable; installs libpoe-perl if missing); `--port N` against
# an IKC server already running.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --perl "* ]]; then bash scripts/setup.sh; else bash scripts/setup.sh --npm-only; fi
node_modules/.bin/tsc -p tsconfig.json
exec node dist/examples/demo.js "$@"

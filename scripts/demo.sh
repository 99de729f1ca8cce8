#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts the bundled Perl IKC peer (POE + Storable)
# and runs examples/demo.ts against it on Node. `--port N` talks to an IKC server already running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node_modules/.bin/tsc -p tsconfig.json
exec node dist/examples/demo.js "$@"

#!/usr/bin/env bash
# The demo: installs what is missing, compiles examples/demo.ts, and runs it on Node against our
# TypeScript IKC server started in-process (no Perl needed). `--perl` runs the same against the
# bundled Perl IKC peer (real POE + Storable; installs libpoe-perl if missing); `--port N` against
# an IKC server already running. `--trace` runs examples/trace.ts instead: a call's trace through
# node:diagnostics_channel.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --perl "* ]]; then bash scripts/setup.sh; else bash scripts/setup.sh --npm-only; fi
# Only the example and the modules it imports, emitted without a type check (npm test checks types):
# a few seconds, where the whole repository took 15.
example=examples/demo.ts
if [[ " $* " == *" --trace "* ]]; then example=examples/trace.ts; fi
rm -rf .tmp/demo
node_modules/.bin/tsc "$example" --noCheck --target ES2022 --lib ES2022,DOM --module NodeNext \
  --moduleResolution NodeNext --types node --skipLibCheck --allowImportingTsExtensions \
  --rewriteRelativeImportExtensions --verbatimModuleSyntax --rootDir . --outDir .tmp/demo
if [[ "$example" == examples/trace.ts ]]; then exec node .tmp/demo/examples/trace.js; fi
exec node .tmp/demo/examples/demo.js "$@"

#!/usr/bin/env bash
# Runs the one test suite on Deno, Bun and Node (Node against the tsc build in dist/), then the
# package checks (scripts/check-package.sh: lint, fmt, docs, publish dry run, pack -> install -> use).
# Fails if any runtime fails. Each runtime's own closing lines are printed, then a total, the tests
# per runtime counted alike (from the JUnit report each writes) and why they differ, and last every
# failing test with its runtime in one block (scripts/test-report.mjs).
set -u
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
export NO_COLOR=1
unset FORCE_COLOR
mkdir -p .tmp
status=0
total_pass=0
total_fail=0

bash scripts/setup.sh || { echo "setup failed"; exit 1; }
rm -rf dist
echo "== build: tsc -p tsconfig.json, then scripts/finish-build.mjs"
if ! "$BIN/tsc" -p tsconfig.json || ! node scripts/finish-build.mjs dist; then
  echo "build failed"
  echo "total: 0 passed, 1 failed"
  exit 1
fi

declare -A exits=()
run() { # name, command...
  local name=$1; shift
  echo
  echo "== $name: $*"
  rm -f ".tmp/junit-$name.xml"
  "$@" 2>&1 | tee ".tmp/test-$name.log"
  local rc=${PIPESTATUS[0]}
  local pass fail
  case $name in
    deno|bun|node)
      exits[$name]=$rc
      read -r pass fail < <(node scripts/test-report.mjs .tmp "$name=$rc" | awk -v n="$name" '$1 == "counts" && $2 == n { print $3, $4 }') ;;
    package) pass=$(grep -E '^package: [0-9]+ passed' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+')
          fail=$(grep -E '^package: [0-9]+ passed' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+') ;;
  esac
  pass=${pass:-0}; fail=${fail:-0}
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  echo "$name: $pass passed, $fail failed (exit $rc)"
  total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
  [ "$rc" -eq 0 ] || status=1
}

run deno "$BIN/deno" test --allow-all --no-check=remote --junit-path=.tmp/junit-deno.xml tests/
run bun "$BIN/bun" test --timeout 60000 --reporter=junit --reporter-outfile=.tmp/junit-bun.xml ./tests/
# Two test files at a time (each in its own process): most of Node's time is spent waiting on
# Perl peers, sockets and timers. The cost assertions use this process's CPU time or counts, so a
# neighbour does not change them. (Not for Deno: its --parallel shares one process between files.)
run node node --test --test-concurrency=2 --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination=.tmp/junit-node.xml dist/tests/
# Last: npm pack rebuilds dist/ (prepack) on the way.
run package bash scripts/check-package.sh

echo
echo "total: $total_pass passed, $total_fail failed"
node scripts/test-report.mjs .tmp deno="${exits[deno]:-1}" bun="${exits[bun]:-1}" node="${exits[node]:-1}" | grep -v '^counts '
exit $status

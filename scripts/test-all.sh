#!/usr/bin/env bash
# Runs the one test suite on Deno, Bun and Node (Node against the tsc build in dist/), then the
# package checks (scripts/check-package.sh: lint, fmt, docs, publish dry run, pack -> install -> use).
# Fails if any runtime fails. Each runtime's own closing lines are printed, then a total.
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

run() { # name, command...
  local name=$1; shift
  echo
  echo "== $name: $*"
  "$@" 2>&1 | tee ".tmp/test-$name.log"
  local rc=${PIPESTATUS[0]}
  local pass fail
  case $name in
    # deno counts describe blocks as tests and their cases as steps: count the cases, like the others
    deno) pass=$(grep -Eo '[0-9]+ passed \([0-9]+ steps\)' ".tmp/test-$name.log" | tail -1 | grep -Eo '\([0-9]+' | tr -d '(')
          fail=$(grep -Eo '[0-9]+ failed \([0-9]+ steps\)' ".tmp/test-$name.log" | tail -1 | grep -Eo '\([0-9]+' | tr -d '(')
          [ -n "$pass" ] || pass=$(grep -Eo '[0-9]+ passed' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+')
          [ -n "$fail" ] || fail=$(grep -Eo '[0-9]+ failed' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+') ;;
    bun)  pass=$(grep -E '^ *[0-9]+ pass$' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+')
          fail=$(grep -E '^ *[0-9]+ fail$' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+') ;;
    node) pass=$(grep -E '^# pass [0-9]+' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+')
          fail=$(grep -E '^# fail [0-9]+' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+') ;;
    package) pass=$(grep -E '^package: [0-9]+ passed' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+')
          fail=$(grep -E '^package: [0-9]+ passed' ".tmp/test-$name.log" | tail -1 | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+') ;;
  esac
  pass=${pass:-0}; fail=${fail:-0}
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  echo "$name: $pass passed, $fail failed (exit $rc)"
  total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
  [ "$rc" -eq 0 ] || status=1
}

run deno "$BIN/deno" test --allow-all --no-check=remote tests/
run bun "$BIN/bun" test --timeout 60000 ./tests/
run node node --test --test-reporter=tap dist/tests/
# Last: npm pack rebuilds dist/ (prepack) on the way.
run package bash scripts/check-package.sh

echo
echo "total: $total_pass passed, $total_fail failed"
exit $status

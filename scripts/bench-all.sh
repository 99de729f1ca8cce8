#!/usr/bin/env bash
# Runs the benchmarks (bench/) on Deno, Bun and Node (Node against the tsc build in dist/) and
# prints every table, then a summary against the targets of issue 4.
#
#   bash scripts/bench-all.sh [--quick] [serialization] [frame] [e2e]
#   RUNTIMES="node bun" bash scripts/bench-all.sh frame
#
# --quick (or BENCH_QUICK=1) shortens every budget for a smoke run. BENCH_TIME=<ms> sets the
# tinybench time budget per task. The whole output is also saved to .tmp/bench/last-run.md.
set -u
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
export NO_COLOR=1 FORCE_COLOR=0

sections=()
for a in "$@"; do
  case $a in
    --quick) export BENCH_QUICK=1 ;;
    serialization|frame|e2e) sections+=("$a") ;;
    *) echo "unknown argument: $a (expected --quick, serialization, frame, e2e)" >&2; exit 2 ;;
  esac
done
[ ${#sections[@]} -gt 0 ] || sections=(serialization frame e2e)
runtimes=${RUNTIMES:-deno bun node}

mkdir -p .tmp/bench
rm -f .tmp/bench/*.json
exec > >(tee .tmp/bench/last-run.md) 2>&1

status=0
echo "# Benchmark run"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(free -h 2>/dev/null | awk '/^Mem:/ {print $2}') RAM, $(uname -sr)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "- runtimes: $($BIN/deno --version | head -1), bun $($BIN/bun --version), node $(node --version)"
echo "- perl $(perl -e 'printf "%vd", $^V'), Storable $(perl -MStorable -e 'print $Storable::VERSION')"
echo "- sections: ${sections[*]}; runtimes: $runtimes${BENCH_QUICK:+ (quick mode)}"
echo

if [[ " $runtimes " == *" node "* ]]; then
  echo "(build: tsc -p tsconfig.json)"
  if ! "$BIN/tsc" -p tsconfig.json > .tmp/bench/tsc.log 2>&1; then
    # tsc still emits on type errors; only a missing output is fatal for the Node runs.
    echo "(tsc reported errors, see .tmp/bench/tsc.log; running the emitted JavaScript anyway)"
  fi
  echo
fi

if [[ " ${sections[*]} " == *" serialization "* ]]; then
  # Perl's XS Storable does not depend on the JS runtime: time it once and share the figures.
  if perl bench/storable.pl --time "$([ -n "${BENCH_QUICK:-}" ] && echo 0.2 || echo 0.8)" > .tmp/bench/perl-storable.json; then
    export BENCH_PERL_JSON=.tmp/bench/perl-storable.json
  else
    echo "(Perl XS Storable baseline failed; tables will show n/a)"
  fi
fi

run() { # runtime, section
  local rt=$1 section=$2 rc
  case $rt in
    deno) "$BIN/deno" run -A "bench/$section.ts" ;;
    bun) "$BIN/bun" "bench/$section.ts" ;;
    node) node "dist/bench/$section.js" ;;
  esac
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "(FAILED: $section on $rt, exit $rc)"
    echo
    status=1
  fi
}

for rt in $runtimes; do
  echo "# $rt"
  echo
  for section in "${sections[@]}"; do
    start=$SECONDS
    run "$rt" "$section"
    echo "($section on $rt took $((SECONDS - start)) s)"
    echo
  done
done

echo "# Summary against the targets of issue 4"
echo
if [[ " $runtimes " == *" node "* ]]; then
  node dist/bench/summary.js
else
  "$BIN/deno" run -A bench/summary.ts
fi
echo
echo "(full output saved to .tmp/bench/last-run.md)"
exit $status

#!/usr/bin/env bash
# Runs the benchmarks (bench/) on Deno, Bun and Node (Node against the tsc build in dist/) and
# prints every table, then a summary against the targets of issue 4 (codec, frame reader, client)
# and issue 7 (server).
#
#   bash scripts/bench-all.sh [--quick] [--write] [serialization] [frame] [e2e] [server] [client] [fairness] [trace] [tls]
#   RUNTIMES="node bun" bash scripts/bench-all.sh frame
#
# --quick (or BENCH_QUICK=1) shortens every budget for a smoke run (minutes, not for the record).
# --write records the run in BENCHMARKS.md: everything between its `<!-- bench:begin -->` and
#   `<!-- bench:end -->` markers is replaced by this run (machine, date, summary, tables). Only a
#   full, successful run is written (no --quick, no failed section).
# BENCH_TIME=<ms> sets the tinybench time budget per task; BENCH_CALLS=<n> the calls per e2e or
#   server run; BENCH_INFLIGHT=<W> the calls in flight per connection in the server section.
# server: our IkcServer (bench/server-child.ts, a child process on the runtime under test) beside
#   the Perl peer tests/perl/ikc-server.pl, under 1, 16 and 64 IkcClient connections.
# client: our IkcClient beside Perl's ClientLite against one server. BENCH_GENUINE=<path of a
#   POE-Component-IKC checkout> (any layout scripts/check-genuine.sh takes) makes that the
#   genuine server and ClientLite; without it, the bundled Perl peer and bench/lite-client.pl.
# fairness: a legit client's latency (and our event loop's longest hold) while another client floods
#   frames at the server's default limits, ours beside the genuine IKC::Server (BENCH_GENUINE).
# trace: calls with and without a subscriber on the ikc:request and ikc:state tracing channels
#   (sequential and pipelined, interleaved rounds), and what a request pays while nobody subscribes.
# tls: calls/s, sequential latency and connects of IkcClient against our server over TLS beside
#   plain TCP (issue 20), in interleaved rounds; certificates made by openssl at start.
# The whole output is also saved to .tmp/bench/last-run.md.
set -u
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
export NO_COLOR=1
unset FORCE_COLOR

sections=()
write=
for a in "$@"; do
  case $a in
    --quick) export BENCH_QUICK=1 ;;
    --write) write=1 ;;
    serialization|frame|e2e|server|client|fairness|trace|tls) sections+=("$a") ;;
    *) echo "unknown argument: $a (expected --quick, --write, serialization, frame, e2e, server, client, fairness, trace, tls)" >&2; exit 2 ;;
  esac
done
[ ${#sections[@]} -gt 0 ] || sections=(serialization frame e2e server client fairness trace tls)
runtimes=${RUNTIMES:-deno bun node}
if [ -n "$write" ] && [ -n "${BENCH_QUICK:-}" ]; then
  echo "--write records a full run: drop --quick (and BENCH_QUICK)" >&2
  exit 2
fi

out=.tmp/bench
mkdir -p "$out"
if [ -n "${BENCH_GENUINE:-}" ]; then
  . scripts/genuine-lib.sh
  genuine_tmp=$(mktemp -d "${TMPDIR:-/tmp}/ikc-bench-genuine.XXXXXX")
  trap 'rm -rf "$genuine_tmp"' EXIT
  IKC_GENUINE_LIB=$(genuine_lib "$(cd "$BENCH_GENUINE" && pwd)" "$genuine_tmp" Server.pm) || exit 2
  export IKC_GENUINE_LIB
fi
rm -f "$out"/*.json "$out"/header.md "$out"/details.md "$out"/summary.md
exec > >(tee "$out/last-run.md") 2>&1

status=0
cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')
{
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) CPUs (${cpu_model:-unknown CPU}), $(free -h 2>/dev/null | awk '/^Mem:/ {print $2}') RAM, $(uname -sr)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  echo "- runtimes: deno $($BIN/deno --version | head -1 | cut -d' ' -f2), bun $($BIN/bun --version), node $(node --version | tr -d v)"
  echo "- baselines: msgpackr $(node -p 'require("./node_modules/msgpackr/package.json").version'), perl $(perl -e 'printf "%vd", $^V') with Storable $(perl -MStorable -e 'print $Storable::VERSION') (XS), tinybench $(node -p 'require("./node_modules/tinybench/package.json").version')"
  echo "- command: \`bash scripts/bench-all.sh${BENCH_QUICK:+ --quick} ${sections[*]}\` (runtimes: $runtimes)${BENCH_QUICK:+ — quick mode, short budgets}"
} > "$out/header.md"
echo "# Benchmark run"
echo
cat "$out/header.md"
echo

if [[ " $runtimes " == *" node "* ]]; then
  echo "(build: tsc -p tsconfig.json)"
  if ! "$BIN/tsc" -p tsconfig.json > "$out/tsc.log" 2>&1; then
    # tsc still emits on type errors; only a missing output is fatal for the Node runs.
    echo "(tsc reported errors, see $out/tsc.log; running the emitted JavaScript anyway)"
  fi
  echo
fi

if [[ " ${sections[*]} " == *" serialization "* ]]; then
  # Perl's XS Storable does not depend on the JS runtime: time it once and share the figures.
  if perl bench/storable.pl --time "$([ -n "${BENCH_QUICK:-}" ] && echo 0.2 || echo 0.8)" > "$out/perl-storable.json"; then
    export BENCH_PERL_JSON=$out/perl-storable.json
  else
    echo "(Perl XS Storable baseline failed; tables will show n/a)"
  fi
fi

run() { # runtime, section
  local rt=$1 section=$2 rc
  # The client section measures heap allocation per call: gc() to start clean, and a young
  # generation large enough that no collection runs during the measured calls.
  local v8=()
  [ "$section" = client ] && v8=(--expose-gc --max-semi-space-size=256)
  case $rt in
    deno) "$BIN/deno" run -A ${v8:+--v8-flags=$(IFS=,; echo "${v8[*]}")} "bench/$section.ts" ;;
    bun) "$BIN/bun" "bench/$section.ts" ;;
    node) node "${v8[@]}" "dist/bench/$section.js" ;;
  esac
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "(FAILED: $section on $rt, exit $rc)"
    echo
  fi
  return $rc
}

for rt in $runtimes; do
  {
    echo "## $rt"
    echo
  } | tee -a "$out/details.md"
  for section in "${sections[@]}"; do
    start=$SECONDS
    # Section headings are demoted one level under the runtime heading.
    run "$rt" "$section" 2>&1 | sed -u 's/^#/##/' | tee -a "$out/details.md"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    echo "($section on $rt took $((SECONDS - start)) s)"
    echo
  done
done

echo "# Summary against the targets of issues 4, 7 and 10"
echo
if [[ " $runtimes " == *" node "* ]]; then
  node dist/bench/summary.js
else
  "$BIN/deno" run -A bench/summary.ts
fi | tee "$out/summary.md"
echo

if [ -n "$write" ]; then
  if [ $status -ne 0 ]; then
    echo "(not writing BENCHMARKS.md: a section failed)"
  elif ! grep -q '<!-- bench:begin -->' BENCHMARKS.md || ! grep -q '<!-- bench:end -->' BENCHMARKS.md; then
    echo "(not writing BENCHMARKS.md: markers <!-- bench:begin --> / <!-- bench:end --> not found)"
    status=1
  else
    {
      echo "## Recorded run"
      echo
      cat "$out/header.md"
      echo
      echo "### Targets of issues 4, 7 and 10"
      echo
      cat "$out/summary.md"
      echo
      echo "### Tables"
      echo
      # Runtime headings become level 4, section headings level 5 and so on.
      sed 's/^#/###/' "$out/details.md"
    } > "$out/record.md"
    awk -v rec="$out/record.md" '
      /<!-- bench:begin -->/ { print; while ((getline line < rec) > 0) print line; skip = 1; next }
      /<!-- bench:end -->/ { skip = 0 }
      !skip { print }' BENCHMARKS.md > "$out/BENCHMARKS.md.new" && mv "$out/BENCHMARKS.md.new" BENCHMARKS.md
    # The record is pasted as printed; deno fmt adds the blank lines markdown wants around it.
    "$BIN/deno" fmt BENCHMARKS.md > /dev/null 2>&1 || echo "(deno fmt BENCHMARKS.md failed)"
    echo "(BENCHMARKS.md updated with this run)"
  fi
fi
echo "(full output saved to $out/last-run.md)"
exit $status

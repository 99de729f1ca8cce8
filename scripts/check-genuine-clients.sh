#!/usr/bin/env bash
# Checks OUR server against the GENUINE Perl clients (ClientLite, the full IKC::Client with its
# Responder, and the distribution's test-lite, test-client and test-thunk), on Deno, Bun and Node;
# then the three-kernel setups of check/genuine-kernels.ts (a genuine hub with a genuine worker and
# ours, genuine workers on our server), each checked against the same setup run on genuine kernels.
#
#   scripts/check-genuine-clients.sh <path of a POE-Component-IKC checkout or install> [deno|bun|node]...
#   GENUINE_CHECKS=clients|kernels scripts/check-genuine-clients.sh ...   (one of the two files)
#
# The path is one you provide; nothing is fetched here. Accepted layouts: the CPAN/gitpan
# distribution as unpacked (IKC.pm and IKC/ at the top), a built tree (blib/lib/POE/Component/IKC),
# or any lib folder holding POE/Component/IKC/ClientLite.pm. Needs perl with POE, Data::Dump,
# Devel::Size, JSON::PP and FreezeThaw. Nothing from that checkout enters the project.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
OUT=.tmp/genuine-clients-dist
export NO_COLOR=1
unset FORCE_COLOR

if [ $# -lt 1 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
src=$(cd "$1" && pwd)
shift
runtimes=("$@")
[ ${#runtimes[@]} -gt 0 ] || runtimes=(deno bun node)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ikc-genuine-clients.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. scripts/genuine-lib.sh
lib=$(genuine_lib "$src" "$tmp" ClientLite.pm) || exit 2
export IKC_GENUINE_LIB=$lib
# the distribution's own driver programs sit at its top (absent from a lib-only install)
if [ -f "$src/test-client" ]; then export IKC_GENUINE_DRIVERS=$src; else unset IKC_GENUINE_DRIVERS; fi

echo "== genuine clients: $(perl -I"$lib" -MPOE::Component::IKC::ClientLite -MPOE::Component::IKC::Client -MStorable -e '
  printf "ClientLite %s and Client %s from %s, POE %s, Storable %s, FreezeThaw %s, perl %vd",
    $POE::Component::IKC::ClientLite::VERSION, $POE::Component::IKC::Client::VERSION,
    $INC{q(POE/Component/IKC/Client.pm)}, $POE::VERSION, $Storable::VERSION,
    (eval { require FreezeThaw; $FreezeThaw::VERSION } // q(missing)), $^V' 2>/dev/null)"
echo "== distribution drivers: ${IKC_GENUINE_DRIVERS:-none (test-lite, test-client, test-thunk checks are skipped)}"

# GENUINE_CHECKS=clients or =kernels runs one of the two files
case ${GENUINE_CHECKS:-all} in
  clients) files=(genuine-clients) ;;
  kernels) files=(genuine-kernels) ;;
  *) files=(genuine-clients genuine-kernels) ;;
esac

status=0
for rt in "${runtimes[@]}"; do
  echo
  case $rt in
    deno) echo "== deno $("$BIN/deno" --version | head -1 | cut -d' ' -f2)"
          for f in "${files[@]}"; do "$BIN/deno" test --allow-all "check/$f.ts" || status=1; done ;;
    bun)  echo "== bun $("$BIN/bun" --version)"
          for f in "${files[@]}"; do "$BIN/bun" test --timeout 60000 "./check/$f.ts" || status=1; done ;;
    node) echo "== node $(node --version) (tsc build into $OUT)"
          if "$BIN/tsc" -p tsconfig.json --outDir "$OUT"; then
            for f in "${files[@]}"; do node --test "$OUT/check/$f.js" || status=1; done
          else status=1; fi ;;
    *) echo "unknown runtime $rt" >&2; status=2 ;;
  esac
done
echo
if [ $status -eq 0 ]; then echo "genuine clients check: passed on ${runtimes[*]}"; else echo "genuine clients check: FAILED"; fi
exit $status

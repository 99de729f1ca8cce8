#!/usr/bin/env bash
# Checks the client against the GENUINE POE::Component::IKC::Server, on Deno, Bun and Node.
#
#   scripts/check-genuine.sh <path of a POE-Component-IKC checkout or install> [deno|bun|node]...
#
# The path is one you provide; nothing is fetched here. Accepted layouts: the CPAN/gitpan
# distribution as unpacked (IKC.pm and IKC/ at the top), a built tree (blib/lib/POE/Component/IKC),
# or any lib folder holding POE/Component/IKC/Server.pm. Needs perl with POE, Data::Dump and
# Devel::Size (FreezeThaw too for the FreezeThaw case). Nothing from that checkout enters the project.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
export NO_COLOR=1
unset FORCE_COLOR

if [ $# -lt 1 ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
src=$(cd "$1" && pwd)
shift
runtimes=("$@")
[ ${#runtimes[@]} -gt 0 ] || runtimes=(deno bun node)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ikc-genuine.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. scripts/genuine-lib.sh
lib=$(genuine_lib "$src" "$tmp" Server.pm) || exit 2
export IKC_GENUINE_LIB=$lib

echo "== genuine server: $(perl -I"$lib" -MPOE::Component::IKC::Server -e 'print "POE::Component::IKC::Server $POE::Component::IKC::Server::VERSION from $INC{q(POE/Component/IKC/Server.pm)}, POE $POE::VERSION"')"

status=0
for rt in "${runtimes[@]}"; do
  echo
  case $rt in
    deno) echo "== deno"; "$BIN/deno" test --allow-all check/genuine.ts || status=1 ;;
    bun)  echo "== bun";  "$BIN/bun" test --timeout 60000 ./check/genuine.ts || status=1 ;;
    node) echo "== node (tsc build)"
          "$BIN/tsc" -p tsconfig.json && node --test dist/check/genuine.js || status=1 ;;
    *) echo "unknown runtime $rt" >&2; status=2 ;;
  esac
done
echo
if [ $status -eq 0 ]; then echo "genuine check: passed on ${runtimes[*]}"; else echo "genuine check: FAILED"; fi
exit $status

#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmarks need, and only what is missing:
# the npm devDependencies (Deno, Bun, TypeScript, msgpackr, ...) and, from Debian, POE and
# FreezeThaw for the Perl peers, socat and openssl for the TLS tests. Safe to run again; quiet when nothing is missing.
# `--npm-only` skips the Perl part (the default demo needs no Perl).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/deno ] || [ ! -x node_modules/.bin/bun ] || [ ! -x node_modules/.bin/tsc ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== setup: npm ci"
  npm ci --no-audit --no-fund
fi

[ "${1:-}" = "--npm-only" ] && exit 0
need=()
perl -MStorable -e 1 2>/dev/null || need+=(perl)
perl -MPOE -MPOE::Filter::Reference -MPOE::Filter::Line -e 1 2>/dev/null || need+=(libpoe-perl)
perl -MFreezeThaw -e 1 2>/dev/null || need+=(libfreezethaw-perl)
command -v socat >/dev/null || need+=(socat)     # the TLS terminator of tests/tls-socat.test.ts
command -v openssl >/dev/null || need+=(openssl) # makes the TLS tests' throwaway certificates
if [ ${#need[@]} -gt 0 ]; then
  echo "== setup: apt-get install ${need[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${need[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

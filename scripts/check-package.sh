#!/usr/bin/env bash
# The package as users get it, kept true by the test command:
#   the JSR side (deno lint, fmt --check, doc --lint on every entry point, check --doc,
#   publish --dry-run), the npm side (pack -> install into a scratch project -> import and use
#   from Node and Bun, types checked by TypeScript 5.0 and the current one with skipLibCheck
#   false and no @types/node, a browser bundle's clear error), Deno from source, the versions.
# Each check prints "ok" or "not ok" with its name; the last line counts them.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/node_modules/.bin
export NO_COLOR=1 PATH="$BIN:$PATH"
unset FORCE_COLOR
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
pass=0
fail=0
n=0

check() { # name, command...
  local name=$1
  shift
  n=$((n + 1))
  if "$@" >"$WORK/log" 2>&1; then
    pass=$((pass + 1))
    echo "ok $n - $name"
  else
    fail=$((fail + 1))
    echo "not ok $n - $name"
    grep -v -e '^Warning Failed resolving types' -e '^    at file:' "$WORK/log" | tail -25 | sed 's/^/#   /'
  fi
}

entries=(mod.ts src/core/storable/mod.ts src/server.ts src/client.ts)
sources=(mod.ts $(git ls-files 'src/*.ts' 'src/**/*.ts'))

versions_agree() {
  local npm deno src cli
  npm=$(node -p 'require("./package.json").version')
  deno=$(node -p 'require("./deno.json").version')
  src=$(sed -n 's/^export const VERSION[^"]*"\([^"]*\)".*/\1/p' src/version.ts)
  cli=$(cd "$WORK/project" && ./node_modules/.bin/ikc --version)
  echo "package.json $npm, deno.json $deno, src/version.ts $src, ikc --version: $cli"
  [ "$npm" = "$deno" ] && [ "$npm" = "$src" ] && [ "$cli" = "ikc (poe-ikc) $npm" ]
}

doc_lint() {
  deno doc --lint "${entries[@]}" 2>&1 | tee "$WORK/doclint"
  ! grep -q '^error' "$WORK/doclint"
}

publish_dry_run() {
  deno publish --dry-run --allow-dirty 2>&1 | tee "$WORK/publish"
  grep -q '^Success Dry run complete' "$WORK/publish" || return 1
  # Only the library: no tests, benches, scripts or lockfiles.
  ! grep -E 'file:///.*/(tests|bench|scripts|check|examples)/|package-lock|deno.lock|src/cli(\.ts|/)' "$WORK/publish"
}

pack() {
  rm -rf "$WORK/pack" && mkdir -p "$WORK/pack"
  npm pack --silent --pack-destination "$WORK/pack" >/dev/null || return 1
  TARBALL=$(ls "$WORK"/pack/*.tgz)
  tar tzf "$TARBALL" | sort >"$WORK/files"
  cat "$WORK/files"
  # Nothing but the library build, its types, the CLI and the documents.
  if grep -v -E '^package/(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist/mod\.(js|d\.ts)|dist/src/.*\.(js|d\.ts))$' "$WORK/files"; then
    echo "unexpected files in the tarball (above)"
    return 1
  fi
  for f in dist/mod.js dist/mod.d.ts dist/src/cli.js dist/src/compat.d.ts dist/src/server.js dist/src/client.d.ts \
    dist/src/core/storable/mod.js README.md LICENSE CHANGELOG.md; do
    grep -qx "package/$f" "$WORK/files" || { echo "missing package/$f"; return 1; }
  done
  # Declaration files name .js modules (TypeScript before 5.7 rejects .ts paths in them).
  tar xzf "$TARBALL" -C "$WORK/pack"
  if grep -rlE "from \"\.{1,2}/[^\"]*\.ts\"" "$WORK/pack/package/dist" --include='*.d.ts'; then
    echo "declaration files above import .ts paths"
    return 1
  fi
}

install_scratch() {
  local p=$WORK/project
  rm -rf "$p" && mkdir -p "$p"
  cp scripts/package-check/* "$p/"
  printf '{ "name": "scratch", "private": true, "type": "module" }\n' >"$p/package.json"
  (cd "$p" && npm install --silent --no-audit --no-fund --offline "$TARBALL")
}

run_node() { (cd "$WORK/project" && node consumer.mjs); }
run_bun() { (cd "$WORK/project" && "$BIN/bun" consumer.mjs && "$BIN/bun" consumer.ts); }

# The oldest TypeScript the package supports, kept out of devDependencies (its `tsc` bin would
# shadow the current one in node_modules/.bin).
TS50=$ROOT/.tmp/typescript-5.0
install_ts50() {
  [ -x "$TS50/node_modules/typescript/bin/tsc" ] && return 0
  mkdir -p "$TS50" && npm install --silent --no-audit --no-fund --no-save --prefix "$TS50" typescript@5.0.4
}

typecheck() { # tsc binary
  cat >"$WORK/project/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "lib": ["ES2022"],
    "types": [], "strict": true, "skipLibCheck": false, "noEmit": true
  },
  "files": ["consumer.ts"]
}
JSON
  (cd "$WORK/project" && node "$1" -p . && echo "$(node "$1" --version): no errors")
}

# <dir>/deno.json mapping the JSR name and every subpath deno.json exports to this checkout's
# source, so Deno code that imports the package runs against it as a JSR user's would.
deno_import_map() {
  node -e '
    const [root, out] = process.argv.slice(1);
    const cfg = require(root + "/deno.json");
    const imports = {};
    for (const [sub, file] of Object.entries(cfg.exports)) imports[cfg.name + sub.slice(1)] = root + file.slice(1);
    require("fs").writeFileSync(out + "/deno.json", JSON.stringify({ imports }));
  ' "$ROOT" "$1"
}

deno_source() {
  local d=$WORK/deno
  rm -rf "$d" && mkdir -p "$d"
  sed 's#"poe-ikc\(/[a-z]*\)\{0,1\}"#"@poe-ikc/ikc\1"#' scripts/package-check/consumer.ts >"$d/consumer.ts"
  deno_import_map "$d"
  (cd "$d" && deno run --allow-net --config deno.json consumer.ts)
}

# Every code sample in README.md, as written (see readme-samples.mjs for which runs where).
readme_samples() {
  local p=$WORK/project d=$WORK/deno runner file line failed=0
  mkdir -p "$p/readme" "$d"
  deno_import_map "$d"
  node scripts/package-check/readme-samples.mjs README.md "$p/readme" >"$WORK/samples" || return 1
  cat >"$p/readme/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
    "lib": ["ES2022", "DOM", "ESNext.Disposable"], "types": [], "strict": true, "skipLibCheck": false, "noEmit": true
  },
  "include": ["*.ts"], "exclude": []
}
JSON
  while read -r runner file line; do
    local how=()
    case $runner in
      node) how=(node "$file") ;;
      bun) how=("$BIN/bun" "$file") ;;
      deno) cp "$p/readme/$file" "$d/$file" ;;
      sh) how=(bash "readme/$file") ;; # from the project's folder, as a user would
    esac
    local ok=0
    if [ "$runner" = deno ]; then
      (cd "$d" && timeout 60 deno run --check --allow-net --config deno.json "$file") >"$WORK/sample.log" 2>&1 || ok=1
    elif [ "$runner" = sh ]; then
      (cd "$p" && timeout 60 "${how[@]}") >"$WORK/sample.log" 2>&1 || ok=1
    else
      (cd "$p/readme" && timeout 60 "${how[@]}") >"$WORK/sample.log" 2>&1 || ok=1
    fi
    if [ "$runner" = node ] && [ $ok -eq 0 ]; then
      (cd "$p/readme" && timeout 60 "$BIN/bun" "$file") >>"$WORK/sample.log" 2>&1 || ok=1
    fi
    if [ $ok -eq 0 ]; then
      echo "README.md:$line ($runner) ran"
    else
      echo "README.md:$line ($runner) FAILED:"
      sed 's/^/    /' "$WORK/sample.log" | tail -15
      failed=1
    fi
  done <"$WORK/samples"
  # The TypeScript samples for npm users also type-check, strictly.
  if ls "$p/readme"/*.ts >/dev/null 2>&1; then
    for f in "$p"/readme/*.ts; do grep -q 'from "@poe-ikc/' "$f" && rm "$f"; done
    (cd "$p/readme" && node "$ROOT/node_modules/typescript/bin/tsc" -p .) || failed=1
  fi
  [ -s "$WORK/samples" ] && [ $failed -eq 0 ]
}

browser_bundle() {
  local out
  (cd "$WORK/project" && "$BIN/bun" build browser-entry.mjs --target=browser --outfile bundle.js) || return 1
  out=$(cd "$WORK/project" && node bundle.js) || return 1
  echo "$out"
  [ "$out" = "browser bundle: UnsupportedRuntimeError" ]
}

echo "== package: JSR side"
check "deno lint" deno lint
check "deno fmt --check" deno fmt --check
check "deno doc --lint ${entries[*]}" doc_lint
check "deno check --doc (every JSDoc example)" deno check --doc "${sources[@]}"
check "deno publish --dry-run: the library only" publish_dry_run
echo "== package: npm side"
TARBALL=""
check "npm pack: library build, types, CLI and documents only" pack
if [ -n "$TARBALL" ]; then
  check "install the tarball into a scratch project" install_scratch
  check "Node: import every entry point, client and server, require()" run_node
  check "Bun: the same, and the typed consumer" run_bun
  check "versions agree (package.json, deno.json, src/version.ts, the installed ikc --version)" versions_agree
  check "TypeScript 5.0 from the npm registry (cached in .tmp)" install_ts50
  check "types: TypeScript 5.0, skipLibCheck false, no @types/node" typecheck "$TS50/node_modules/typescript/bin/tsc"
  check "types: TypeScript current, skipLibCheck false, no @types/node" typecheck "$ROOT/node_modules/typescript/bin/tsc"
  check "browser bundle: a typed error, not a crash" browser_bundle
  check "README.md: every code sample runs as written" readme_samples
fi
check "Deno from source: the typed consumer through an import map" deno_source
echo "package: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

// Finishes a tsc build for publishing on npm (run after `tsc -p tsconfig.json`):
// - tsc rewrites `./x.ts` imports to `./x.js` in the JavaScript but keeps `.ts` in the
//   declaration files, which TypeScript before 5.7 (without allowImportingTsExtensions) rejects;
// - the declarations name Symbol.asyncDispose, which a consumer's TypeScript knows only with
//   lib esnext.disposable (5.2+) or @types/node: a small compat file declares it for the rest.
//   So does AbortSignal, which comes with lib.dom or @types/node. These live in the npm build
//   only, because JSR refuses global augmentation in source.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const out = process.argv[2] ?? "dist";
const compat = join(out, "src", "compat.d.ts");

function* declarations(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== join(out, "tests") && p !== join(out, "bench") && p !== join(out, "check")) yield* declarations(p);
    } else if (e.name.endsWith(".d.ts")) yield p;
  }
}

writeFileSync(
  compat,
  `// Declares what the package's types name but TypeScript 5.0/5.1 (or a consumer without
// lib esnext.disposable and @types/node) does not have. Same shapes as TypeScript's own lib.
interface SymbolConstructor {
  readonly asyncDispose: unique symbol;
}
// Only the name and what the package reads; lib.dom and @types/node declare the whole class.
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: any;
}
`,
);

let files = 0;
for (const f of declarations(out)) {
  if (f === compat) continue;
  let s = readFileSync(f, "utf8");
  const before = s;
  s = s.replace(/((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1$2.js$3");
  if (s.includes("Symbol.asyncDispose")) {
    let ref = relative(dirname(f), compat).split("\\").join("/");
    if (!ref.startsWith(".")) ref = "./" + ref;
    s = `/// <reference path="${ref}" />\n` + s;
  }
  if (s !== before) {
    writeFileSync(f, s);
    files++;
  }
}
console.log(`finish-build: ${files} declaration files adjusted in ${out}`);

// Reads the JUnit reports scripts/test-all.sh has each runtime write (.tmp/junit-<runtime>.xml)
// and prints, per runtime, the tests that passed, failed and were skipped, counted the same way
// (leaf tests: Deno's nested steps, Bun's and Node's tests, never a describe block); which tests
// run on one runtime only and why the counts differ; and last, every failing test with its
// runtime in one block. Usage: node scripts/test-report.mjs <dir> <runtime>=<exit code>...
// Prints `counts <runtime> <passed> <failed>` lines first, for test-all.sh; writes the tests of each
// runtime, one a line, to <dir>/tests-<runtime>.txt.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir = ".tmp", ...runs] = process.argv.slice(2);
const exits = new Map(runs.map((r) => r.split("=")).map(([name, code]) => [name, Number(code)]));

const ENTITIES = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };
/** XML text to a string; twice, since Node's reporter escapes names that were escaped already. */
function unescape(s) {
  for (let i = 0; i < 2 && s.includes("&"); i++) {
    s = s.replace(
      /&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-f]+));/gi,
      (_, e, dec, hex) =>
        dec ? String.fromCodePoint(Number(dec)) : hex ? String.fromCodePoint(parseInt(hex, 16)) : ENTITIES[e],
    );
  }
  return s;
}

function attr(attrs, key) {
  const m = new RegExp(`\\b${key}="([^"]*)"`).exec(attrs);
  return m ? unescape(m[1]) : undefined;
}

/** [{ name, status: "pass" | "fail" | "skip" }] of one JUnit file, names joined with " > ". */
function parse(xml) {
  const suites = [];
  const cases = [];
  let current;
  // Attribute values are quoted and may hold a raw ">" (Node writes them so).
  for (const m of xml.matchAll(/<(\/?)(testsuite|testcase|failure|error|skipped)\b((?:[^>"]|"[^"]*")*?)(\/?)>/g)) {
    const [, close, tag, attrs, selfClose] = m;
    if (tag === "testsuite") {
      if (close) suites.pop();
      else if (!selfClose) {
        const name = attr(attrs, "name") ?? "";
        // file-level suites (Bun's carry their path as file=, Deno's are paths) are not describes
        const isFile = name === attr(attrs, "file") || /^(\.\/|ext:)/.test(name);
        suites.push(isFile ? undefined : name);
      }
    } else if (tag === "testcase") {
      if (close) current = undefined;
      else {
        current = { name: [...suites.filter((s) => s !== undefined), attr(attrs, "name")].join(" > "), status: "pass" };
        cases.push(current);
        if (selfClose) current = undefined;
      }
    } else if (current && !close) {
      current.status = tag === "skipped" ? "skip" : "fail";
    }
  }
  // Deno lists a describe block and each of its steps: keep the leaves.
  const names = new Set(cases.map((c) => c.name));
  const parents = new Set();
  for (const n of names) {
    for (let i = n.indexOf(" > "); i >= 0; i = n.indexOf(" > ", i + 3)) parents.add(n.slice(0, i));
  }
  return cases.filter((c) => !parents.has(c.name));
}

const results = new Map();
for (const runtime of exits.keys()) {
  const file = join(dir, `junit-${runtime}.xml`);
  const list = existsSync(file) ? parse(readFileSync(file, "utf8")) : undefined;
  results.set(runtime, list);
  // One line per test, to compare runtimes with diff.
  if (list) writeFileSync(join(dir, `tests-${runtime}.txt`), list.map((c) => `${c.status} ${c.name}\n`).join(""));
}

const count = (list, status) => list.filter((c) => c.status === status).length;
for (const [runtime, list] of results) {
  const fail = list ? count(list, "fail") : 0;
  console.log(`counts ${runtime} ${list ? count(list, "pass") : 0} ${fail || (exits.get(runtime) ? 1 : 0)}`);
}

console.log("\n== tests per runtime (leaf tests, counted alike)");
const present = [...results].filter(([, list]) => list).map((
  [r, list],
) => [r, list.filter((c) => c.status !== "skip")]);
for (const [runtime, list] of results) {
  if (!list) {
    console.log(`${runtime}: no report (exit ${exits.get(runtime)}); see ${join(dir, `test-${runtime}.log`)}`);
    continue;
  }
  console.log(
    `${runtime}: ${count(list, "pass")} passed, ${count(list, "fail")} failed, ${count(list, "skip")} skipped`,
  );
}
if (present.length > 1) {
  const everywhere = present.map(([, l]) => new Set(l.map((c) => c.name))).reduce((a, b) =>
    new Set([...a].filter((n) => b.has(n)))
  );
  const own = present.map(([runtime, list]) => {
    const groups = new Map();
    for (const c of list) {
      if (everywhere.has(c.name)) continue;
      const group = c.name.split(" > ")[0];
      groups.set(group, (groups.get(group) ?? 0) + 1);
    }
    const n = [...groups.values()].reduce((a, b) => a + b, 0);
    return `${runtime} ${n}${n ? ` (${[...groups].map(([g, k]) => `${g}: ${k}`).join("; ")})` : ""}`;
  });
  console.log(
    `Why the counts differ: the same ${everywhere.size} tests run on every runtime; the rest test each ` +
      `runtime's own socket layer (and node:net's where the runtime has it): ${own.join(", ")}.`,
  );
}

const failures = [];
for (const [runtime, list] of results) {
  if (!list) {
    if (exits.get(runtime)) failures.push(`${runtime}: the run ended without a report (exit ${exits.get(runtime)})`);
    continue;
  }
  for (const c of list) if (c.status === "fail") failures.push(`${runtime}: ${c.name}`);
  if (exits.get(runtime) && count(list, "fail") === 0) {
    failures.push(
      `${runtime}: exit ${exits.get(runtime)} with no failed test (see ${join(dir, `test-${runtime}.log`)})`,
    );
  }
}
const pkg = join(dir, "test-package.log");
if (existsSync(pkg)) {
  for (const line of readFileSync(pkg, "utf8").split("\n")) {
    if (/^not ok \d+ - /.test(line)) failures.push(`package: ${line.replace(/^not ok \d+ - /, "")}`);
  }
}
if (failures.length > 0) {
  console.log(`\n== FAILED (${failures.length}); each runtime's log is ${join(dir, "test-<runtime>.log")}`);
  for (const f of failures) console.log(`  ${f}`);
}

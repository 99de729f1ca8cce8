// Writes every code sample of a README into a directory, one file each, and prints one line per
// sample: "<runner> <file> <line>". The runner follows from the block's language and imports:
//   js                       -> node (and bun), against the installed npm package
//   ts importing "poe-ikc"   -> bun, against the installed npm package, and tsc
//   ts importing "@poe-ikc/" -> deno, from source through an import map
//   sh run                   -> bash in the scratch project
// Other blocks (plain sh: installs and the two commands, which CI runs itself) are not samples.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [readme, outDir] = process.argv.slice(2);
const lines = readFileSync(readme, "utf8").split("\n");
let n = 0;
for (let i = 0; i < lines.length; i++) {
  const open = /^```(\S*)(?:\s+(.*))?$/.exec(lines[i]);
  if (!open || open[1] === "") continue;
  const start = i + 1;
  let end = start;
  while (end < lines.length && lines[end] !== "```") end++;
  if (end === lines.length) throw new Error(`${readme}:${i + 1}: unclosed code block`);
  const body = lines.slice(start, end).join("\n") + "\n";
  const [lang, extra] = [open[1], open[2] ?? ""];
  i = end;
  let runner;
  if (lang === "js") runner = "node";
  else if (lang === "ts") runner = /from "@poe-ikc\//.test(body) ? "deno" : "bun";
  else if (lang === "sh" && extra === "run") runner = "sh";
  else continue;
  n++;
  const file = `sample-${n}.${runner === "node" ? "mjs" : runner === "sh" ? "sh" : "ts"}`;
  writeFileSync(join(outDir, file), body);
  console.log(`${runner} ${file} ${start}`);
}

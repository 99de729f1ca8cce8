/**
 * The benchmark payloads of issue 4. bench/storable.pl builds the very same values in Perl
 * (keep the two in step: same names, same formulas, same order of keys).
 *
 * @module
 */

/** One row of the tabular payload, as issue 4 defines it. */
export interface Row {
  id: number;
  name: string;
  score: number;
  tags: string[];
  active: number;
  note: null;
}

/** `{rows: [...], total, title}` with `n` rows of `{id, name, score, tags, active, note}`. */
export function rowsPayload(n: number): { rows: Row[]; total: number; title: string } {
  const rows: Row[] = new Array(n);
  for (let i = 0; i < n; i++) {
    rows[i] = { id: i, name: "user" + i, score: i * 1.5, tags: ["a" + i, "b", "c"], active: i % 2, note: null };
  }
  return { rows, total: n, title: `${n} rows` };
}

// A quarter of the strings carry non-ASCII text (Latin-1 and beyond), so UTF-8 paths are timed too.
const WIDE = "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e";

/**
 * Strings-heavy: 2,000 list entries of 5 to 180 characters (every fourth with non-ASCII text) and
 * a 1,000-key hash of short string values.
 */
export function stringsPayload(): { list: string[]; byKey: Record<string, string> } {
  const list: string[] = new Array(2000);
  for (let i = 0; i < 2000; i++) {
    list[i] = ("word" + i + " ").repeat(1 + (i % 20)) + (i % 4 === 0 ? WIDE : "");
  }
  const byKey: Record<string, string> = {};
  for (let i = 0; i < 1000; i++) byKey["key" + i] = "value " + i;
  return { list, byKey };
}

/** One chain of the nested payload: `{d, a: [d, "x"+d], next: <depth d-1>}`, ending in undef. */
export type Nested = { d: number; a: [number, string]; next: Nested } | null;

function chain(depth: number): Nested {
  let node: Nested = null;
  for (let d = 1; d <= depth; d++) node = { d, a: [d, "x" + d], next: node };
  return node;
}

/** Deeply nested: 20 chains, each 200 hashes deep. */
export function nestedPayload(): Nested[] {
  const out: Nested[] = [];
  for (let i = 0; i < 20; i++) out.push(chain(200));
  return out;
}

/** The payloads in table order, with their names (shared with bench/storable.pl). */
export function allPayloads(): Array<{ name: string; label: string; value: unknown }> {
  return [
    { name: "rows1k", label: "1,000 rows", value: rowsPayload(1000) },
    { name: "rows10k", label: "10,000 rows", value: rowsPayload(10000) },
    { name: "strings", label: "strings-heavy", value: stringsPayload() },
    { name: "nested", label: "nested (20 x depth 200)", value: nestedPayload() },
  ];
}

/**
 * The thaw side's table of every item by tag, in chunks.
 *
 * @module
 */
import type { PerlValue } from "../perl.ts";

const CHUNK_BITS = 13;
/** 8,192 slots: a chunk's backing store (64 KiB) stays a young, regular heap object in V8. */
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

/**
 * Every item thawed so far, by tag, for `SX_OBJECT` back references. Storable tags every item,
 * scalars included, so a frame of 50,000 integers makes a table of 50,000 slots. One array
 * that large outgrows V8's regular objects: each time it doubled it was allocated afresh outside
 * the young generation, which cost a 50,000-integer frame about 3 ms on Node (on this machine's
 * page faults). Chunks of 8,192 slots never grow past their first allocation.
 *
 * @example
 * ```ts
 * import { SeenTable } from "./seen-table.ts";
 * const seen = new SeenTable();
 * seen.push("a");
 * seen.push(null);
 * seen.set(1, "b");
 * console.log(seen.length, seen.get(1)); // 2 "b"
 * ```
 */
export class SeenTable {
  /** Tags 0 to 8,191: a fresh array per image, as a plain table would be (most images stop here). */
  #first: PerlValue[] = [];
  /** The chunks after the first, once an image has that many items. */
  #more: PerlValue[][] | undefined;
  /** Tags handed out: the next item's tag. */
  length = 0;

  /** Appends the next tag's item. */
  push(v: PerlValue): void {
    const n = this.length++;
    if (n < CHUNK) this.#first.push(v);
    else this.#pushMore(v, n);
  }

  /** The item of `tag` (which must be below `length`). */
  get(tag: number): PerlValue {
    return tag < CHUNK ? this.#first[tag] : this.#more![(tag >>> CHUNK_BITS) - 1][tag & MASK];
  }

  /** Replaces the item of `tag` (which must be below `length`). */
  set(tag: number, v: PerlValue): void {
    if (tag < CHUNK) this.#first[tag] = v;
    else this.#more![(tag >>> CHUNK_BITS) - 1][tag & MASK] = v;
  }

  /** Empties the table (nothing thawed stays reachable from it). */
  clear(): void {
    if (this.length === 0) return;
    this.#first = [];
    this.#more = undefined;
    this.length = 0;
  }

  #pushMore(v: PerlValue, n: number): void {
    const more = (this.#more ??= []);
    if ((n & MASK) === 0) more.push([]);
    more[more.length - 1].push(v);
  }
}

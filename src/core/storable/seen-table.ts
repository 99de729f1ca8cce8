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
/** Never written: the first push starts a chunk. */
const EMPTY: PerlValue[] = [];

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
  #chunks: PerlValue[][] = [];
  #last: PerlValue[] = EMPTY;
  /** Tags handed out: the next item's tag. */
  length = 0;

  /** Appends the next tag's item. */
  push(v: PerlValue): void {
    if ((this.length & MASK) === 0) {
      this.#last = [];
      this.#chunks.push(this.#last);
    }
    this.#last.push(v);
    this.length++;
  }

  /** The item of `tag` (which must be below `length`). */
  get(tag: number): PerlValue {
    return this.#chunks[tag >>> CHUNK_BITS][tag & MASK];
  }

  /** Empties the table (nothing thawed stays reachable from it). */
  clear(): void {
    if (this.length === 0) return;
    this.#chunks = [];
    this.#last = EMPTY;
    this.length = 0;
  }

  /** Replaces the item of `tag` (which must be below `length`). */
  set(tag: number, v: PerlValue): void {
    this.#chunks[tag >>> CHUNK_BITS][tag & MASK] = v;
  }
}

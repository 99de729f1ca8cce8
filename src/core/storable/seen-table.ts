/**
 * The thaw side's table of every item by tag, in chunks.
 *
 * @module
 */
import type { PerlValue } from "../perl.ts";

const CHUNK_BITS = 13;
/**
 * Tags per chunk, 8,192: a chunk's backing store (64 KiB) stays a young, regular heap object in V8.
 *
 * @example
 * ```ts
 * import { SEEN_CHUNK } from "./seen-table.ts";
 * console.log(SEEN_CHUNK); // 8192
 * ```
 */
export const SEEN_CHUNK = 1 << CHUNK_BITS;
const MASK = SEEN_CHUNK - 1;

/**
 * Every item thawed so far, by tag, for `SX_OBJECT` back references. Storable tags every item,
 * scalars included, so a frame of 50,000 integers makes a table of 50,000 slots. One array
 * that large outgrows V8's regular objects: each time it doubled it was allocated afresh outside
 * the young generation, which cost a 50,000-integer frame about 3 ms on Node (on this machine's
 * page faults). Chunks of 8,192 slots never grow past their first allocation.
 *
 * The decoder appends on its hot paths with `(t.length < SEEN_CHUNK ? t : seen.next()).push(v)`
 * where `t = seen.tail`: that is V8's own array push, which the optimizer inlines into the
 * decoder's long functions, where a call to a method of ours was not (a small message's thaw
 * took 13% longer through {@link SeenTable.push}).
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
  /** The chunk the next tag goes in: a plain array, full at {@link SEEN_CHUNK} items. */
  tail: PerlValue[] = [];
  /** The tag of `tail[0]`. */
  tailTag = 0;
  /** The full chunks before `tail`, once an image has that many items. */
  #full: PerlValue[][] | undefined;

  /** Tags handed out: the next item's tag. */
  get length(): number {
    return this.tailTag + this.tail.length;
  }

  /** Starts a new chunk (the tail is full) and returns it. */
  next(): PerlValue[] {
    (this.#full ??= []).push(this.tail);
    this.tailTag += SEEN_CHUNK;
    return (this.tail = []);
  }

  /** Appends the next tag's item. */
  push(v: PerlValue): void {
    const t = this.tail;
    (t.length < SEEN_CHUNK ? t : this.next()).push(v);
  }

  /** The item of `tag` (which must be below `length`). */
  get(tag: number): PerlValue {
    const i = tag - this.tailTag;
    return i >= 0 ? this.tail[i] : this.#full![tag >>> CHUNK_BITS][tag & MASK];
  }

  /** Replaces the item of `tag` (which must be below `length`). */
  set(tag: number, v: PerlValue): void {
    const i = tag - this.tailTag;
    if (i >= 0) this.tail[i] = v;
    else this.#full![tag >>> CHUNK_BITS][tag & MASK] = v;
  }

  /** Empties the table (nothing thawed stays reachable from it). */
  clear(): void {
    if (this.tail.length === 0 && this.tailTag === 0) return;
    this.tail = [];
    this.tailTag = 0;
    this.#full = undefined;
  }
}

/**
 * The write side of framing for a connection: frames (`<length> NUL <payload>`) are copied once,
 * as they are queued, into one buffer that is written as a whole; two buffers take turns, one
 * being written while the other fills, and both are reused, so a steady stream of small messages
 * allocates nothing per frame.
 *
 * @module
 */

import { encodeFrameInto, frameSize } from "./frame.ts";

/**
 * Options of a {@link FrameBatch}.
 *
 * @example
 * ```ts
 * import type { FrameBatchOptions } from "./frame-batch.ts";
 * const o: FrameBatchOptions = { initialSize: 4096, keepSize: 16384 };
 * ```
 */
export interface FrameBatchOptions {
  /** Size of a fresh buffer, in bytes (default 4 KiB). */
  initialSize?: number;
  /**
   * A buffer that grew beyond this many bytes (a burst, a large message) is dropped once written
   * instead of kept for reuse, so one large write does not pin its memory (default 16 KiB).
   */
  keepSize?: number;
}

/**
 * Frames waiting to be written, batched into one contiguous range.
 *
 * @example
 * ```ts
 * import { FrameBatch } from "./frame-batch.ts";
 * const batch = new FrameBatch();
 * batch.push(new Uint8Array([5, 11, 3]));
 * batch.push(new Uint8Array([5, 11, 4]));
 * const bytes = batch.take()!; // "3\0" + 3 bytes + "3\0" + 3 bytes
 * console.log(bytes.length); // 10
 * batch.release(true); // written: its buffer may be reused
 * ```
 */
export class FrameBatch {
  readonly #initialSize: number;
  readonly #keepSize: number;
  #fill: Uint8Array | undefined;
  #length = 0;
  #spare: Uint8Array | undefined;
  #taken: Uint8Array | undefined;

  /** Makes an empty batch; buffers are allocated on the first push. */
  constructor(options: FrameBatchOptions = {}) {
    this.#initialSize = options.initialSize ?? 4096;
    this.#keepSize = options.keepSize ?? 16384;
  }

  /** Bytes queued and not yet taken. */
  get size(): number {
    return this.#length;
  }

  /** Queues one frame: its length header and a copy of `payload`. */
  push(payload: Uint8Array): void {
    const need = frameSize(payload.byteLength);
    let buf = this.#fill;
    const at = this.#length;
    if (buf === undefined || at + need > buf.length) buf = this.#grow(at + need);
    this.#length = encodeFrameInto(payload, buf, at);
  }

  /**
   * Hands out everything queued, as one range, and starts filling the other buffer; undefined
   * when nothing is queued. The range stays untouched until {@link FrameBatch.release}.
   */
  take(): Uint8Array | undefined {
    if (this.#length === 0 || this.#fill === undefined) return undefined;
    if (this.#taken !== undefined) throw new Error("FrameBatch.take: the previous range was not released");
    const out = this.#fill.subarray(0, this.#length);
    this.#taken = this.#fill;
    this.#fill = this.#spare;
    this.#spare = undefined;
    this.#length = 0;
    return out;
  }

  /**
   * The range from {@link FrameBatch.take} is done with. `reusable` says whether its buffer may be
   * written again: true once the transport has let go of it (written), false when that is not
   * known (a failed write), and then the buffer is dropped.
   */
  release(reusable: boolean): void {
    const t = this.#taken;
    this.#taken = undefined;
    if (reusable && t !== undefined && t.length <= this.#keepSize && this.#spare === undefined) {
      if (this.#fill === undefined) this.#fill = t;
      else this.#spare = t;
    }
  }

  /**
   * Nothing is being written or queued: keep one buffer at most (an idle connection holds no more
   * than `keepSize` bytes; a second buffer only exists while frames queue behind a write).
   */
  idle(): void {
    if (this.#taken === undefined && this.#length === 0) this.#spare = undefined;
  }

  /** A fill buffer holding at least `min` bytes, with what is queued so far copied in. */
  #grow(min: number): Uint8Array {
    const old = this.#fill;
    const size = old === undefined || this.#length === 0
      ? Math.max(this.#initialSize, min)
      : Math.max(min, old.length * 2);
    const buf = new Uint8Array(size);
    if (old !== undefined && this.#length > 0) buf.set(old.subarray(0, this.#length));
    this.#fill = buf;
    return buf;
  }
}

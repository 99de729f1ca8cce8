/**
 * The receive queue of the event-driven transports (node, Bun, memory).
 *
 * @module
 */
interface Waiter {
  resolve(chunk: Uint8Array | null): void;
  reject(err: unknown): void;
}

/**
 * Blocks an event-driven socket may queue unread before it is paused: the `highWater` of a
 * socket's ChunkQueue is this many times its block size.
 *
 * @example
 * ```ts
 * import { ChunkQueue, HIGH_WATER_BLOCKS } from "./chunk-queue.ts";
 * const q = new ChunkQueue(4096, HIGH_WATER_BLOCKS * 4096, () => {}, () => {});
 * ```
 */
export const HIGH_WATER_BLOCKS = 4;

/**
 * Queue between an event-driven socket (node, Bun) and `Connection.read()`. Chunks arrive with
 * `push`, leave in slices of at most `blockSize` bytes; `pause`/`resume` apply backpressure when
 * more than `highWater` bytes wait. Internal to the transports, exported for them and for tests.
 *
 * @example
 * ```ts
 * import { ChunkQueue } from "./chunk-queue.ts";
 * const q = new ChunkQueue(4, 16, () => {}, () => {});
 * q.push(new Uint8Array([1, 2, 3, 4, 5, 6]));
 * q.end();
 * await q.read(); // [1, 2, 3, 4]
 * await q.read(); // [5, 6]
 * await q.read(); // null
 * ```
 */
export class ChunkQueue {
  readonly #blockSize: number;
  readonly #highWater: number;
  readonly #pause: () => void;
  readonly #resume: () => void;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #paused = false;
  #ended = false;
  #error: unknown = undefined;
  #waiters: Waiter[] = [];

  /**
   * `pause` is called when more than `highWater` bytes are queued, `resume` once at most
   * `blockSize` bytes remain.
   */
  constructor(blockSize: number, highWater: number, pause: () => void, resume: () => void) {
    this.#blockSize = blockSize;
    this.#highWater = highWater;
    this.#pause = pause;
    this.#resume = resume;
  }

  /** Bytes queued and not yet read. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Queues received bytes (ignored after `end`/`fail`). */
  push(chunk: Uint8Array): void {
    if (this.#ended || chunk.byteLength === 0) return;
    // Plain views: node's Buffer has view-returning slice() and breaks deepStrictEqual.
    const data = chunk.constructor === Uint8Array
      ? chunk
      : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#waiters.length > 0 && this.#bytes === 0) {
      const first = this.#take(data);
      this.#waiters.shift()!.resolve(first);
      if (data.byteLength === first.byteLength) return;
      this.#enqueue(data.subarray(first.byteLength));
    } else {
      this.#enqueue(data);
    }
    this.#serve();
    if (!this.#paused && this.#bytes > this.#highWater) {
      this.#paused = true;
      this.#pause();
    }
  }

  /** Marks EOF: queued bytes are still read, then `read()` returns null. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#serve();
  }

  /** Marks a socket error: queued bytes are still read, then `read()` rejects with `err`. */
  fail(err: unknown): void {
    if (this.#ended) return;
    this.#error = err;
    this.end();
  }

  /** Drops queued bytes and fails at once: pending and later reads reject with `err` (a reset). */
  reset(err: unknown): void {
    if (this.#ended) return;
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    this.fail(err);
  }

  /** Drops queued bytes and ends: pending and later reads return null. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#error = undefined;
    this.#ended = true;
    this.#serve();
  }

  /** The next slice of at most `blockSize` bytes, null at the end. */
  read(): Promise<Uint8Array | null> {
    if (this.#bytes > 0 && this.#waiters.length === 0) {
      return Promise.resolve(this.#shift());
    }
    if (this.#ended && this.#bytes === 0) {
      return this.#error !== undefined ? Promise.reject(this.#error) : Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  #enqueue(data: Uint8Array): void {
    this.#chunks.push(data);
    this.#bytes += data.byteLength;
  }

  #take(data: Uint8Array): Uint8Array {
    return data.byteLength > this.#blockSize ? data.subarray(0, this.#blockSize) : data;
  }

  #shift(): Uint8Array {
    const chunk = this.#chunks[this.#head];
    const out = this.#take(chunk);
    if (out.byteLength === chunk.byteLength) {
      this.#chunks[this.#head++] = undefined as unknown as Uint8Array;
      if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#head);
        this.#head = 0;
      }
    } else {
      this.#chunks[this.#head] = chunk.subarray(out.byteLength);
    }
    this.#bytes -= out.byteLength;
    if (this.#paused && this.#bytes <= this.#blockSize) {
      this.#paused = false;
      this.#resume();
    }
    return out;
  }

  #serve(): void {
    while (this.#waiters.length > 0) {
      if (this.#bytes > 0) {
        this.#waiters.shift()!.resolve(this.#shift());
      } else if (this.#ended) {
        const w = this.#waiters.shift()!;
        if (this.#error !== undefined) w.reject(this.#error);
        else w.resolve(null);
      } else {
        return;
      }
    }
  }
}

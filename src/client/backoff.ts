/**
 * How long to wait before the next reconnect attempt.
 *
 * @module
 */

/**
 * Options of {@link Backoff}.
 *
 * @example
 * ```ts
 * import type { BackoffOptions } from "./backoff.ts";
 * const o: BackoffOptions = { firstMs: 100, maxMs: 30_000 };
 * ```
 */
export interface BackoffOptions {
  /** The first wait, before jitter (default 100 ms). */
  firstMs?: number;
  /** The longest wait, before jitter (default 30 s). */
  maxMs?: number;
  /** Random numbers in [0, 1) (default `Math.random`; a test passes its own). */
  random?: () => number;
}

/**
 * Exponential backoff with jitter: each wait doubles up to `maxMs`, then is scaled by a random
 * factor in [0.5, 1.5), so clients dropped together do not all come back at once.
 *
 * @example
 * ```ts
 * import { Backoff } from "./backoff.ts";
 * const b = new Backoff({ random: () => 0.5 });
 * console.log(b.next(), b.next(), b.next()); // 100 200 400
 * b.reset();
 * ```
 */
export class Backoff {
  readonly #firstMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  /** A backoff starting at its first wait. */
  constructor(options: BackoffOptions = {}) {
    this.#firstMs = options.firstMs ?? 100;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#random = options.random ?? Math.random;
  }

  /** Milliseconds to wait before the next attempt. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#firstMs * 2 ** Math.min(this.#attempt++, 30));
    return base * (0.5 + this.#random());
  }

  /** Starts over from the first wait (after a success). */
  reset(): void {
    this.#attempt = 0;
  }
}

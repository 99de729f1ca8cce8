/**
 * Many deadlines under one timer: what every request, post and wait is bounded by.
 *
 * @module
 */
import { now } from "./clock.ts";

/**
 * A registered deadline; `cancel()` is idempotent.
 *
 * @example
 * ```ts
 * import { Deadlines } from "./deadlines.ts";
 * const d = new Deadlines().add(1000, () => console.log("late"));
 * d.cancel();
 * ```
 */
export interface Deadline {
  /** When it expires, on the `performance.now()` clock. */
  readonly at: number;
  /** Stops it from firing. */
  cancel(): void;
}

interface Entry extends Deadline {
  fire: () => void;
  dead: boolean;
}

/** Cancelled entries tolerated in the heap before it may be rebuilt. */
const COMPACT_MIN = 1024;

/**
 * Options of {@link Deadlines}.
 *
 * @example
 * ```ts
 * import type { DeadlinesOptions } from "./deadlines.ts";
 * let open = true;
 * const o: DeadlinesOptions = { hold: () => open };
 * ```
 */
export interface DeadlinesOptions {
  /**
   * While it returns true the timer may stay armed with no deadline live (the owner has something
   * that keeps the process alive anyway, such as an open connection). Default: never.
   */
  hold?: () => boolean;
}

/**
 * Many deadlines, one timer: a min-heap ordered by expiry. The timer is re-armed only when a new
 * deadline is earlier than the one it waits for, so back-to-back requests with the same timeout
 * cost a heap push and no timer call; cancelling is O(1) (the entry is skipped when it surfaces,
 * and the heap is rebuilt from its live entries once the cancelled ones outnumber them, so a
 * steady stream of requests answered in time holds memory for the live ones only). When the last
 * deadline is cancelled the timer stays armed (it finds nothing due and stops), so sequential
 * requests do not set and clear a timer each. That only happens while the owner's
 * `hold` option says something else keeps the process alive anyway (a
 * connection); otherwise, and on {@link Deadlines.release}, the idle timer stops at once, so a
 * timer never keeps a process alive that would have ended without it.
 *
 * @example
 * ```ts
 * import { Deadlines } from "./deadlines.ts";
 * const deadlines = new Deadlines();
 * const d = deadlines.add(50, () => console.log("expired"));
 * // ... the answer came first:
 * d.cancel();
 * ```
 */
export class Deadlines {
  #heap: Entry[] = [];
  #live = 0;
  /** Cancelled entries still in the heap. */
  #dead = 0;
  readonly #hold: () => boolean;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /** `hold`: see {@link DeadlinesOptions.hold}. */
  constructor(options: DeadlinesOptions = {}) {
    this.#hold = options.hold ?? (() => false);
  }

  /** Deadlines registered and neither fired nor cancelled. */
  get size(): number {
    return this.#live;
  }

  /** Calls `fire` once, `ms` milliseconds from now, unless cancelled first. */
  add(ms: number, fire: () => void): Deadline {
    const entry: Entry = {
      at: now() + ms,
      fire,
      dead: false,
      cancel: () => {
        if (entry.dead) return;
        entry.dead = true;
        this.#live--;
        if (this.#live === 0) {
          // Nothing left to wait for: drop the entries; keep the timer only while held.
          if (this.#hold()) {
            this.#heap = [];
            this.#dead = 0;
          } else this.#reset();
        } else if (++this.#dead > COMPACT_MIN && this.#dead > this.#live) this.#compact();
      },
    };
    this.#live++;
    this.#push(entry);
    if (entry.at < this.#timerAt) this.#arm(entry.at);
    return entry;
  }

  /** Entries in memory, live or cancelled and not yet dropped (bounded: see the class comment). */
  get held(): number {
    return this.#heap.length;
  }

  /** True while the timer is set (a deadline is live, or the last one was cancelled before it fired). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Cancels every deadline without firing any, and stops the timer. */
  clear(): void {
    for (const e of this.#heap) e.dead = true;
    this.#live = 0;
    this.#reset();
  }

  /** Stops the timer when no deadline is live (else nothing changes). */
  release(): void {
    if (this.#live === 0) this.#reset();
  }

  /** Rebuilds the heap from its live entries. */
  #compact(): void {
    const live = this.#heap.filter((e) => !e.dead);
    this.#heap = [];
    this.#dead = 0;
    for (const e of live) this.#push(e);
  }

  #reset(): void {
    this.#dead = 0;
    this.#heap = [];
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#sweep, Math.max(1, Math.ceil(at - now())));
  }

  #sweep = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const t = now();
    const due: Entry[] = [];
    while (this.#heap.length > 0) {
      const top = this.#heap[0];
      if (top.dead) {
        this.#pop();
        this.#dead--;
        continue;
      }
      if (top.at > t) break;
      this.#pop();
      top.dead = true;
      this.#live--;
      due.push(top);
    }
    // Fired after the heap is consistent: a callback may add or cancel deadlines.
    for (const e of due) e.fire();
    const next = this.#firstLive();
    if (next !== undefined && this.#timer === undefined) this.#arm(next.at);
    else if (next === undefined && this.#live === 0) this.#reset();
  };

  #firstLive(): Entry | undefined {
    while (this.#heap.length > 0 && this.#heap[0].dead) {
      this.#pop();
      this.#dead--;
    }
    return this.#heap[0];
  }

  #push(e: Entry): void {
    const h = this.#heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].at <= e.at) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r].at < h[l].at ? r : l;
      if (h[c].at >= last.at) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
}

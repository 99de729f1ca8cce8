/**
 * The one settle-once primitive every wait with a time limit is built on: a request waiting for
 * its answer, a post waiting to be written, a wait for a server's message. Whatever comes first
 * (the outcome, the deadline, the caller's abort) settles it; the rest find it settled.
 *
 * @module
 */
import type { Deadline, Deadlines } from "./deadlines.ts";

/**
 * A promise that settles exactly once, bounded by a deadline (on a shared {@link Deadlines}) and
 * an optional AbortSignal. Subclasses say what a timeout and an abort mean.
 *
 * @example
 * ```ts
 * import { TimedPromise } from "./timed-promise.ts";
 * import { Deadlines } from "./deadlines.ts";
 * class Wait extends TimedPromise<string> {
 *   protected timeoutError() { return new Error("too late"); }
 *   protected abortError() { return new Error("aborted"); }
 * }
 * const w = new Wait();
 * w.start(new Deadlines(), 1000);
 * w.resolve("here");
 * console.log(await w.promise); // "here"
 * ```
 */
export abstract class TimedPromise<T> {
  /** Settles once: resolved, timed out, aborted or rejected. */
  readonly promise: Promise<T>;
  /** True once settled; later outcomes are ignored. */
  settled = false;
  #resolve!: (value: T) => void;
  #reject!: (error: Error) => void;
  #deadline: Deadline | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Starts the clock: `ms` from now it rejects with the timeout error; `signal` aborts it. */
  start(deadlines: Deadlines, ms: number, signal?: AbortSignal): void {
    this.#deadline = deadlines.add(ms, () => this.reject(this.timeoutError()));
    if (signal === undefined) return;
    this.#signal = signal;
    const onAbort = this.#onAbort = () => this.reject(this.abortError(signal.reason));
    // Already aborted: rejected a microtask later, so the caller holds the promise first.
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.addEventListener("abort", onAbort, { once: true });
  }

  /** Resolves with `value`, unless already settled. */
  resolve(value: T): void {
    if (this.#finish()) this.#resolve(value);
  }

  /** Rejects with `error`, unless already settled. */
  reject(error: Error): void {
    if (this.#finish()) this.#reject(error);
  }

  /** The error a timeout rejects with. */
  protected abstract timeoutError(): Error;

  /** The error an abort rejects with (`reason` is the signal's). */
  protected abstract abortError(reason: unknown): Error;

  /** Runs once, as it settles (before its promise does): let go of whatever holds it. */
  protected settling(): void {}

  #finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.#deadline?.cancel();
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener("abort", this.#onAbort);
    this.settling();
    return true;
  }
}

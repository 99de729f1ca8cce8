/**
 * The table of requests waiting for an answer: rsvp states, one shared deadline timer, abort.
 * Every request is settled exactly once: answered, or rejected with an error saying why.
 *
 * @module
 */
import { AbortError, TimeoutError } from "../core/errors.ts";
import type { PerlValue } from "../core/perl.ts";
import type { Channel } from "./channel.ts";
import type { Deadline, Deadlines } from "./deadline.ts";

/**
 * What a request is, for its error messages.
 *
 * @example
 * ```ts
 * import type { RequestKind } from "./requests.ts";
 * const k: RequestKind = "call";
 * ```
 */
export type RequestKind = "call" | "postRespond" | "ping" | "subscribe";

/**
 * A request waiting for its answer.
 *
 * @example
 * ```ts
 * import type { PendingRequest } from "./requests.ts";
 * function show(p: PendingRequest) { console.log(p.kind, p.spec, p.key); }
 * ```
 */
export interface PendingRequest {
  readonly kind: RequestKind;
  /** The target as the caller named it, for messages. */
  readonly spec: string;
  /** `session/state` of the rsvp the answer is sent to. */
  readonly key: string;
  /** List context: the answer is an array of every return value. */
  readonly list: boolean;
  /** The channel it was last written to (undefined until then). */
  channel: Channel | undefined;
  settled: boolean;
  resolve(value: PerlValue): void;
  reject(error: Error): void;
}

/**
 * Options of {@link RequestTable.open}.
 *
 * @example
 * ```ts
 * import type { OpenOptions } from "./requests.ts";
 * const o: OpenOptions = { kind: "call", spec: "test/echo", key: "IKCLite/response1", list: false, seconds: 5 };
 * ```
 */
export interface OpenOptions {
  kind: RequestKind;
  spec: string;
  key: string;
  list: boolean;
  /** Seconds to wait for the answer. */
  seconds: number;
  signal?: AbortSignal;
}

interface Entry extends PendingRequest {
  deadline: Deadline | undefined;
  onAbort: (() => void) | undefined;
  signal: AbortSignal | undefined;
}

/**
 * Pending requests by rsvp key. Several requests may share a key (ClientLite's pings all use
 * `IKC/pong`); they are answered in the order they were opened.
 *
 * @example
 * ```ts
 * import { RequestTable } from "./requests.ts";
 * import { Deadlines } from "./deadline.ts";
 * const table = new RequestTable(new Deadlines());
 * const { promise } = table.open({ kind: "call", spec: "s/e", key: "IKCLite/response1", list: false, seconds: 5 });
 * table.take("IKCLite/response1")?.resolve(42);
 * console.log(await promise); // 42
 * ```
 */
export class RequestTable {
  readonly #deadlines: Deadlines;
  #byKey = new Map<string, Entry | Entry[]>();
  #size = 0;

  constructor(deadlines: Deadlines) {
    this.#deadlines = deadlines;
  }

  /** Requests waiting. */
  get size(): number {
    return this.#size;
  }

  /** Opens a request: its promise settles when it is answered, times out, is aborted or failed. */
  open(options: OpenOptions): { entry: PendingRequest; promise: Promise<PerlValue> } {
    let entry!: Entry;
    const promise = new Promise<PerlValue>((resolve, reject) => {
      entry = {
        kind: options.kind,
        spec: options.spec,
        key: options.key,
        list: options.list,
        channel: undefined,
        settled: false,
        deadline: undefined,
        onAbort: undefined,
        signal: options.signal,
        resolve: (v) => {
          if (entry.settled) return;
          this.#remove(entry);
          resolve(v);
        },
        reject: (e) => {
          if (entry.settled) return;
          this.#remove(entry);
          reject(e);
        },
      };
    });
    const list = this.#byKey.get(options.key);
    if (list === undefined) this.#byKey.set(options.key, entry);
    else if (Array.isArray(list)) list.push(entry);
    else this.#byKey.set(options.key, [list, entry]);
    this.#size++;
    const seconds = options.seconds;
    entry.deadline = this.#deadlines.add(seconds * 1000, () => {
      // A request that never left says so, rather than blaming a state that returned undef.
      const silence = entry.channel === undefined
        ? "not sent (still connecting, or waiting for room to write)"
        : options.kind === "call"
        ? "no answer (a Perl state that returns undef, or an empty list in list context, sends none)"
        : "no answer";
      entry.reject(new TimeoutError(`${options.kind} ${options.spec}: ${silence} within ${seconds} s`));
    });
    const signal = options.signal;
    if (signal) {
      const onAbort = () =>
        entry.reject(new AbortError(`${options.kind} ${options.spec}: aborted`, { cause: signal.reason }));
      entry.onAbort = onAbort;
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    return { entry, promise };
  }

  /** The oldest request waiting on `key` (the answer's rsvp), or undefined. It stays open: settle it. */
  take(key: string): PendingRequest | undefined {
    const v = this.#byKey.get(key);
    return Array.isArray(v) ? v[0] : v;
  }

  /** Every request waiting, oldest first. */
  *pending(): IterableIterator<PendingRequest> {
    for (const v of this.#byKey.values()) {
      if (Array.isArray(v)) yield* [...v];
      else yield v;
    }
  }

  /** Rejects every request last written to `channel` (except `keep`) with `error`. */
  failChannel(channel: Channel, error: Error, keep?: PendingRequest): number {
    const failed = [...this.pending()].filter((p) => p.channel === channel && p !== keep);
    for (const p of failed) p.reject(error);
    return failed.length;
  }

  #remove(e: Entry): void {
    e.settled = true;
    e.deadline?.cancel();
    if (e.signal && e.onAbort) e.signal.removeEventListener("abort", e.onAbort);
    const v = this.#byKey.get(e.key);
    if (v === e) {
      this.#byKey.delete(e.key);
    } else if (Array.isArray(v)) {
      const i = v.indexOf(e);
      if (i >= 0) v.splice(i, 1);
      if (v.length === 0) this.#byKey.delete(e.key);
      else if (v.length === 1) this.#byKey.set(e.key, v[0]);
    } else {
      return;
    }
    this.#size--;
  }
}

/**
 * The requests of ours waiting for an answer, by rsvp key.
 *
 * @module
 */
import type { Channel } from "./channel.ts";
import type { OutgoingRequest } from "./outgoing-request.ts";

/**
 * Pending requests by rsvp key. Several may share a key (ClientLite's pings all wait on
 * `IKC/pong`); they are answered in the order they were opened. A request leaves as it settles.
 *
 * @example
 * ```ts
 * import { PendingRequests } from "./pending-requests.ts";
 * const pending = new PendingRequests();
 * console.log(pending.size, pending.oldest("IKCLite/response1")); // 0 undefined
 * ```
 */
export class PendingRequests {
  #byKey = new Map<string, OutgoingRequest | OutgoingRequest[]>();
  #size = 0;

  /** Requests waiting. */
  get size(): number {
    return this.#size;
  }

  /** Adds a request under its key. */
  add(request: OutgoingRequest): void {
    const key = request.key!;
    const v = this.#byKey.get(key);
    if (v === undefined) this.#byKey.set(key, request);
    else if (Array.isArray(v)) v.push(request);
    else this.#byKey.set(key, [v, request]);
    this.#size++;
  }

  /** The oldest request waiting on `key` (an answer's rsvp), or undefined. It stays until it settles. */
  oldest(key: string): OutgoingRequest | undefined {
    const v = this.#byKey.get(key);
    return Array.isArray(v) ? v[0] : v;
  }

  /** Every request waiting, oldest first per key (a copy: settling one while iterating is safe). */
  all(): OutgoingRequest[] {
    const out: OutgoingRequest[] = [];
    for (const v of this.#byKey.values()) {
      if (Array.isArray(v)) out.push(...v);
      else out.push(v);
    }
    return out;
  }

  /** Rejects every request last queued on `channel` with `error`; returns how many. */
  failChannel(channel: Channel, error: Error): number {
    let n = 0;
    for (const r of this.all()) {
      if (r.channel !== channel) continue;
      r.reject(error);
      n++;
    }
    return n;
  }

  /** Takes `request` out (it settled). */
  remove(request: OutgoingRequest): void {
    const key = request.key!;
    const v = this.#byKey.get(key);
    if (v === request) {
      this.#byKey.delete(key);
    } else if (Array.isArray(v)) {
      const i = v.indexOf(request);
      if (i < 0) return;
      v.splice(i, 1);
      if (v.length === 0) this.#byKey.delete(key);
      else if (v.length === 1) this.#byKey.set(key, v[0]);
    } else {
      return;
    }
    this.#size--;
  }
}

/**
 * Where the client's connection stands, as an explicit state machine with guarded transitions
 * (after grpc-js's connectivity state): it dials on demand, shares one dial among the requests
 * that wait for it, and, when asked to keep the connection up, redials with backoff.
 *
 * @module
 */
import { DisconnectedError, IkcError } from "../core/errors.ts";
import type { NegotiationResult } from "../core/negotiation.ts";
import type { Channel } from "../kernel/channel.ts";
import { sleepUnlessAborted } from "../time/sleep-unless-aborted.ts";
import { Backoff } from "./backoff.ts";
import type { ClientStatus } from "./types.ts";

/** Which status may follow which. */
const NEXT: Readonly<Record<ClientStatus, readonly ClientStatus[]>> = {
  idle: ["connecting", "reconnecting", "closed"],
  connecting: ["connected", "idle", "closed"],
  connected: ["idle", "reconnecting", "closed"],
  reconnecting: ["connected", "closed"],
  closed: ["connecting"],
};

/**
 * What a {@link Dialer} is built with.
 *
 * @example
 * ```ts
 * import type { DialerOptions } from "./dialer.ts";
 * type Dial = DialerOptions["dial"];
 * ```
 */
export interface DialerOptions {
  /** Connects, negotiates and attaches a channel; rejects with a ConnectError. */
  dial(): Promise<Channel>;
  /** Asked when the connection drops: redial on our own (with backoff) until `close()`? */
  keepAlive(): boolean;
  /** Takes what a status handler threw. */
  report(error: Error): void;
  /** Told why a redial attempt failed. */
  redialFailed(error: unknown): void;
  /** Waits between redials (default: a fresh {@link Backoff}). */
  backoff?: Backoff;
}

/**
 * The client's connection and its status.
 *
 * @example
 * ```ts
 * import { Dialer } from "./dialer.ts";
 * const d = new Dialer({
 *   dial: () => Promise.reject(new Error("nowhere to dial")),
 *   keepAlive: () => false,
 *   report: (e) => console.error(e.message),
 *   redialFailed: () => {},
 * });
 * console.log(d.status); // "idle"
 * ```
 */
export class Dialer {
  readonly #o: DialerOptions;
  readonly #backoff: Backoff;
  #status: ClientStatus = "idle";
  #channel: Channel | undefined;
  #dialling: Promise<Channel> | undefined;
  #keeper: AbortController | undefined;
  #info: NegotiationResult | undefined;
  readonly #handlers = new Set<(status: ClientStatus) => void>();

  /** A dialer, idle until asked for a channel. */
  constructor(options: DialerOptions) {
    this.#o = options;
    this.#backoff = options.backoff ?? new Backoff();
  }

  /** Where the connection stands. */
  get status(): ClientStatus {
    return this.#status;
  }

  /** Calls `handler` on each status change; returns its remover. */
  onStatus(handler: (status: ClientStatus) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** The open channel, if any. */
  get channel(): Channel | undefined {
    return this.#channel?.alive ? this.#channel : undefined;
  }

  /** What the last negotiation settled (kept after the connection is gone). */
  get info(): NegotiationResult | undefined {
    return this.#info;
  }

  /** The channel when it takes a frame now (open, with room). */
  ready(): Channel | undefined {
    const ch = this.#channel;
    return ch !== undefined && ch.alive && !ch.full ? ch : undefined;
  }

  /** The open channel, dialling first when there is none (one dial, shared). */
  open(): Promise<Channel> {
    if (this.#channel?.alive) return Promise.resolve(this.#channel);
    this.#dialling ??= this.#dial().finally(() => {
      this.#dialling = undefined;
    });
    return this.#dialling;
  }

  /** Drops `channel` at once (a write on it failed); its end comes back through {@link Dialer.lost}. */
  drop(channel: Channel, error: Error): void {
    channel.abort(
      new DisconnectedError(`connection to ${channel.conn.remote} lost: ${error.message}`, { cause: error }),
    );
  }

  /**
   * `channel` ended with `reason`. When it was ours: idle, or reconnecting when the connection is
   * kept up. Unless the client is closing it gracefully, the socket is let go of at once. False
   * when the client closed it.
   */
  lost(channel: Channel, reason: Error): boolean {
    if (this.#status === "closed") return false;
    channel.abort(reason);
    if (this.#channel !== channel) return true;
    this.#channel = undefined;
    if (this.#o.keepAlive()) this.#keepUp();
    else this.#move(["connected"], "idle");
    return true;
  }

  /** Closed by the client: no more redials; the channel closes gracefully within `waitMs`. */
  async close(waitMs: number): Promise<void> {
    this.#keeper?.abort();
    this.#keeper = undefined;
    const ch = this.#channel;
    this.#channel = undefined;
    this.#move(["idle", "connecting", "connected", "reconnecting"], "closed");
    if (ch) await ch.close(new DisconnectedError(`disconnected by the client from ${ch.conn.remote}`), waitMs);
  }

  async #dial(): Promise<Channel> {
    this.#move(["idle", "closed"], "connecting");
    let ch: Channel;
    try {
      ch = await this.#o.dial();
    } catch (e) {
      this.#move(["connecting"], "idle");
      throw e;
    }
    if (this.#status === "closed") {
      // disconnect() came while we dialled: it wins.
      await ch.close(new DisconnectedError("disconnected by the client"), 100);
      throw new DisconnectedError("disconnected by the client while connecting");
    }
    this.#channel = ch;
    this.#info = ch.info;
    this.#backoff.reset();
    this.#move(["connecting", "reconnecting"], "connected");
    return ch;
  }

  /** Redials with backoff until connected or closed. */
  #keepUp(): void {
    if (!this.#move(["connected", "idle"], "reconnecting")) return;
    const keeper = this.#keeper = new AbortController();
    void this.#redial(keeper.signal).finally(() => {
      if (this.#keeper === keeper) this.#keeper = undefined;
    });
  }

  async #redial(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.#status === "reconnecting") {
      await sleepUnlessAborted(this.#backoff.next(), signal);
      if (signal.aborted) return;
      try {
        await this.open();
        return;
      } catch (e) {
        this.#o.redialFailed(e);
      }
    }
  }

  /** Moves to `to` when the status is one of `from` (and the move is allowed); false otherwise. */
  #move(from: readonly ClientStatus[], to: ClientStatus): boolean {
    const now = this.#status;
    if (now === to || !from.includes(now) || !NEXT[now].includes(to)) return false;
    this.#status = to;
    for (const h of [...this.#handlers]) {
      try {
        h(to);
      } catch (e) {
        this.#o.report(
          new IkcError(`status handler threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
        );
      }
    }
    return true;
  }
}

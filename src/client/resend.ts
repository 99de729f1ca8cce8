/**
 * ClientLite's resend: a request whose write failed because the connection broke is sent again,
 * once, on a fresh connection. A layer around the one sender, as grpc-js keeps its retrying call
 * apart from the call.
 *
 * @module
 */
import { DisconnectedError, IkcError } from "../core/errors.ts";
import type { Channel } from "../kernel/channel.ts";
import type { OutgoingRequest } from "../kernel/outgoing-request.ts";
import { type Line, sendWhenReady } from "../kernel/send.ts";
import type { Dialer } from "./dialer.ts";

/**
 * True for errors a broken connection raises (an OS error, a DisconnectedError), false for ours
 * (a codec or protocol error would fail again).
 *
 * @example
 * ```ts
 * import { isConnectionFailure } from "./resend.ts";
 * isConnectionFailure(new Error("EPIPE")); // true
 * ```
 */
export function isConnectionFailure(e: unknown): boolean {
  return e instanceof DisconnectedError ||
    (e instanceof Error && !(e instanceof IkcError) && !(e instanceof TypeError));
}

/**
 * The client's line: its dialler's connection, dialled on demand; a request whose write failed
 * on a broken connection is resent once (when `reconnect` is on and the client is not closed).
 *
 * @example
 * ```ts
 * import { ResendOnce } from "./resend.ts";
 * import type { Dialer } from "./dialer.ts";
 * const lineOf = (dialer: Dialer) => new ResendOnce(dialer, true);
 * ```
 */
export class ResendOnce implements Line {
  readonly #dialer: Dialer;
  readonly #enabled: boolean;

  /** Requests go over `dialer`'s connection; `enabled` false fails them on the first broken write. */
  constructor(dialer: Dialer, enabled: boolean) {
    this.#dialer = dialer;
    this.#enabled = enabled;
  }

  ready(): Channel | undefined {
    return this.#dialer.ready();
  }

  open(): Promise<Channel> {
    return this.#dialer.open();
  }

  failed(request: OutgoingRequest, channel: Channel, error: Error): void {
    if (request.settled) return;
    if (!this.#enabled || request.resent || !isConnectionFailure(error) || this.#dialer.status === "closed") {
      return request.reject(error);
    }
    request.resent = true;
    // Off the broken channel first: the rest of its requests fail with it, this one goes again.
    request.channel = undefined;
    this.#dialer.drop(channel, error);
    void sendWhenReady(request, this);
  }
}

/**
 * The one way a request of ours goes out, whoever makes it (client, server, a running state):
 * queued at once when its line has a channel ready (the synchronous fast path: frozen and
 * framed before `call()` returns), else once the line has one and it has room.
 *
 * @module
 */
import { IkcError } from "../core/errors.ts";
import type { Channel } from "./channel.ts";
import type { OutgoingRequest } from "./outgoing-request.ts";

/**
 * Where requests go: the client's dialled connection (which reconnects and resends once), or
 * one fixed channel (a server's route, the connection a request came on).
 *
 * @example
 * ```ts
 * import type { Line } from "./send.ts";
 * function describe(line: Line) { return line.ready() ? "ready" : "not ready"; }
 * ```
 */
export interface Line {
  /** A channel that takes a frame now (open, with room in its write buffer), or undefined. */
  ready(): Channel | undefined;
  /** A channel, once there is one (dialling first when the line dials). */
  open(): Promise<Channel>;
  /** A write of `request` on `channel` failed with `error`: resend it, or reject it. */
  failed(request: OutgoingRequest, channel: Channel, error: Error): void;
}

/**
 * A line of one channel: no dialling, no resending.
 *
 * @example
 * ```ts
 * import { ChannelLine } from "./send.ts";
 * import type { Channel } from "./channel.ts";
 * const lineOf = (channel: Channel) => new ChannelLine(channel);
 * ```
 */
export class ChannelLine implements Line {
  readonly channel: Channel;

  /** The line of `channel`. */
  constructor(channel: Channel) {
    this.channel = channel;
  }

  ready(): Channel | undefined {
    const ch = this.channel;
    return ch.alive && !ch.full ? ch : undefined;
  }

  open(): Promise<Channel> {
    return Promise.resolve(this.channel);
  }

  failed(request: OutgoingRequest, _channel: Channel, error: Error): void {
    request.reject(error);
  }
}

/**
 * Sends `request` on `line`: synchronously when a channel is ready, otherwise once one is and has
 * room. Never throws; every failure settles the request.
 *
 * @example
 * ```ts
 * import { send, type Line } from "./send.ts";
 * import type { OutgoingRequest } from "./outgoing-request.ts";
 * const go = (request: OutgoingRequest, line: Line) => { send(request, line); return request.promise; };
 * ```
 */
export function send(request: OutgoingRequest, line: Line): void {
  const ch = line.ready();
  if (ch !== undefined) write(request, ch, line);
  else void sendWhenReady(request, line);
}

/**
 * Sends `request` once `line` has a channel with room (a request settled meanwhile is never
 * sent). Resolves when it is queued or settled; never rejects.
 *
 * @example
 * ```ts
 * import { sendWhenReady, type Line } from "./send.ts";
 * import type { OutgoingRequest } from "./outgoing-request.ts";
 * const resend = (request: OutgoingRequest, line: Line) => void sendWhenReady(request, line);
 * ```
 */
export async function sendWhenReady(request: OutgoingRequest, line: Line): Promise<void> {
  try {
    const ch = await line.open();
    // Woken waiters re-check: the first to write may fill the buffer again.
    while (ch.full && ch.alive && !request.settled) await ch.room();
    if (!request.settled) write(request, ch, line);
  } catch (e) {
    request.reject(e instanceof Error ? e : new IkcError(String(e)));
  }
}

function write(request: OutgoingRequest, ch: Channel, line: Line): void {
  try {
    const message = request.message(ch);
    request.channel = ch;
    ch.send(message, (err) => err === undefined ? request.written() : line.failed(request, ch, err));
  } catch (e) {
    // The message could not be built or frozen: no connection's fault, nothing to resend.
    request.reject(e instanceof Error ? e : new IkcError(String(e)));
  }
}

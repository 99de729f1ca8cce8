/**
 * A negotiated connection joins a kernel: wrapped in a {@link Channel}, registered under the
 * remote kernel's names, its frames routed, its end detached. Client and server both come here.
 *
 * @module
 */
import type { Freezer } from "../core/freezer.ts";
import type { NegotiationResult } from "../core/negotiation.ts";
import type { Connection } from "../transport/types.ts";
import { Channel, type ChannelOptions } from "./channel.ts";
import type { Kernel } from "./kernel.ts";

/**
 * What a channel's owner hears of it after the kernel has.
 *
 * @example
 * ```ts
 * import type { ChannelHooks } from "./attach-channel.ts";
 * const hooks: ChannelHooks = { ended: (ch, reason, failed) => console.log(reason.message, failed) };
 * ```
 */
export interface ChannelHooks {
  /** The channel ended (once): the kernel has detached it and failed `failed` requests on it. */
  ended?(channel: Channel, reason: Error, failed: number): void;
  /** More than `maxWriteBuffer` bytes wait for a peer that does not read. */
  overflow?(channel: Channel): void;
}

/**
 * What negotiation produced, for {@link attachChannel}.
 *
 * @example
 * ```ts
 * import type { Negotiated } from "./attach-channel.ts";
 * const n = (conn: Negotiated["conn"]): Negotiated => ({
 *   conn, rest: new Uint8Array(0),
 *   result: { protocol: "IKC0", remoteKernel: "K", remoteAliases: ["K"], freezer: "Storable" },
 * });
 * ```
 */
export interface Negotiated {
  conn: Connection;
  result: NegotiationResult;
  /** Bytes that came with the last negotiation line: the first frames. */
  rest: Uint8Array;
}

/**
 * Wraps a negotiated connection in a channel that `kernel` routes, using the freezer of `freezers`
 * the two ends agreed on. The channel is registered (monitors told) before its first frame is read.
 *
 * @example
 * ```ts
 * import { attachChannel } from "./attach-channel.ts";
 * import { Kernel } from "./kernel.ts";
 * import type { Negotiated } from "./attach-channel.ts";
 * import { storableFreezer } from "@poe-ikc/ikc";
 * const join = (kernel: Kernel, n: Negotiated) =>
 *   attachChannel(kernel, n, [storableFreezer], { maxFrameSize: 1 << 20 }, "server", {});
 * ```
 */
export function attachChannel(
  kernel: Kernel,
  negotiated: Negotiated,
  freezers: readonly Freezer[],
  options: ChannelOptions,
  side: "client" | "server",
  hooks: ChannelHooks,
): Channel {
  const { conn, result, rest } = negotiated;
  const freezer = freezers.find((f) => f.name === result.freezer)!;
  const channel = new Channel(conn, freezer, result, { ...options, observer: kernel.observer }, side);
  kernel.attach(channel);
  channel.start(rest, {
    message: (value, ch) => kernel.receive(value, ch),
    end: (reason, ch) => hooks.ended?.(ch, reason, kernel.detach(ch, reason)),
    overflow: hooks.overflow,
  });
  return channel;
}

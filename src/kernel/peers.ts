/**
 * The remote kernels connected now, by id and alias, and the monitors told when they come and go.
 *
 * @module
 */
import { IkcError } from "../core/errors.ts";
import type { Channel } from "./channel.ts";
import type { MonitorEvent, MonitorHandler, PeerInfo, PeerTls } from "./types.ts";

/**
 * What monitors are told about the kernel at the far end of `channel`.
 *
 * @example
 * ```ts
 * import { peerInfo } from "./peers.ts";
 * import type { Channel } from "./channel.ts";
 * const name = (ch: Channel) => peerInfo(ch).kernel;
 * ```
 */
export function peerInfo(channel: Channel): PeerInfo {
  return {
    kernel: channel.info.remoteKernel,
    aliases: [...channel.info.remoteAliases],
    protocol: channel.info.protocol,
    freezer: channel.info.freezer,
    address: channel.conn.remote,
    ...tlsOf(channel.conn),
  };
}

/** `{ tls }` when the transport tells about the peer's certificate (a TLS connection). */
function tlsOf(conn: object): { tls?: PeerTls } {
  const tls = (conn as { tls?: PeerTls }).tls;
  return tls === undefined ? {} : { tls };
}

/**
 * Channels to remote kernels by name, and monitors.
 *
 * @example
 * ```ts
 * import { Peers } from "./peers.ts";
 * const peers = new Peers((e) => console.error(e.message));
 * const off = peers.monitor("connect", (p) => console.log("up:", p.kernel));
 * off();
 * ```
 */
export class Peers {
  readonly #report: (e: Error) => void;
  readonly #channels = new Set<Channel>();
  readonly #byName = new Map<string, Channel[]>();
  readonly #monitors: Record<MonitorEvent, Set<MonitorHandler>> = { connect: new Set(), disconnect: new Set() };

  /** `report` takes what a monitor threw. */
  constructor(report: (e: Error) => void) {
    this.#report = report;
  }

  /** Registers a negotiated channel under the remote kernel's names and tells the monitors. */
  add(channel: Channel): void {
    this.#channels.add(channel);
    for (const name of names(channel)) {
      const list = this.#byName.get(name);
      if (list) list.push(channel);
      else this.#byName.set(name, [channel]);
    }
    this.#inform("connect", peerInfo(channel));
  }

  /** Unregisters `channel` and tells the monitors why it went; false when it was not registered. */
  remove(channel: Channel, reason: Error): boolean {
    if (!this.#channels.delete(channel)) return false;
    for (const name of names(channel)) {
      const list = this.#byName.get(name);
      if (!list) continue;
      const i = list.indexOf(channel);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#byName.delete(name);
    }
    this.#inform("disconnect", peerInfo(channel), reason);
    return true;
  }

  /** The live channel to the kernel with this id or alias (the first that registered it). */
  channelFor(name: string): Channel | undefined {
    return this.#byName.get(name)?.find((c) => c.alive);
  }

  /** Every live channel. */
  channels(): Channel[] {
    return [...this.#channels].filter((c) => c.alive);
  }

  /** Adds a monitor; returns a function that removes it. */
  monitor(event: MonitorEvent, handler: MonitorHandler): () => void {
    const set = this.#monitors[event];
    if (!set) throw new TypeError(`unknown monitor event ${JSON.stringify(event)} (connect or disconnect)`);
    set.add(handler);
    return () => set.delete(handler);
  }

  #inform(event: MonitorEvent, peer: PeerInfo, reason?: Error): void {
    for (const h of [...this.#monitors[event]]) {
      try {
        h(peer, reason);
      } catch (e) {
        this.#report(
          new IkcError(`${event} monitor threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
        );
      }
    }
  }
}

function names(channel: Channel): Set<string> {
  return new Set([channel.info.remoteKernel, ...channel.info.remoteAliases]);
}

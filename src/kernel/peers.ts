/**
 * The remote kernels connected now, by id and alias, and the monitors told when they come and go.
 *
 * @module
 */
import { IkcError } from "../core/errors.ts";
import type { Channel } from "./channel.ts";
import type { KernelEvent, KernelMonitor, MonitorEvent, MonitorHandler, PeerInfo } from "./types.ts";

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
    ...(channel.conn.tls ? { tls: channel.conn.tls } : {}),
  };
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
  readonly #named = new Map<string, Set<KernelMonitor>>();

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
    const peer = peerInfo(channel);
    this.#inform("connect", peer);
    this.#informNamed("register", peer, channel.info.remoteAddress);
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
    const peer = peerInfo(channel);
    this.#inform("disconnect", peer, reason);
    this.#informNamed("unregister", peer, channel.info.remoteAddress);
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

  /**
   * Monitors the kernel called `name` (an id or alias), or every kernel (`*`), as Perl's
   * `IKC/monitor`; returns a function that removes it. A handler key other than `register` and
   * `unregister` is a TypeError.
   */
  monitorName(name: string, handlers: KernelMonitor): () => void {
    if (typeof name !== "string" || name === "") throw new TypeError("monitor names a kernel (or '*')");
    if (handlers === null || typeof handlers !== "object") {
      throw new TypeError("monitor(name, handlers) takes { register, unregister }");
    }
    for (const [k, v] of Object.entries(handlers)) {
      if (k !== "register" && k !== "unregister") throw new TypeError(`unknown monitor handler ${JSON.stringify(k)}`);
      if (typeof v !== "function") throw new TypeError(`monitor handler ${k} is not a function`);
    }
    let set = this.#named.get(name);
    if (!set) this.#named.set(name, set = new Set());
    set.add(handlers);
    return () => {
      set!.delete(handlers);
      if (set!.size === 0 && this.#named.get(name) === set) this.#named.delete(name);
    };
  }

  #informNamed(what: "register" | "unregister", peer: PeerInfo, address: string | undefined): void {
    if (this.#named.size === 0) return;
    const fire = (name: string, kernel: string, real: boolean) => {
      for (const m of [...this.#named.get(name) ?? []]) {
        this.#safely(what, () => m[what]?.({ name, kernel, real, peer } satisfies KernelEvent));
      }
    };
    // As Perl's Responder: the id, then every other name, the `ip:port` an IKC0 peer announced too.
    const aliases = [...new Set([...peer.aliases, ...(address ? [address] : [])])].filter((a) => a !== peer.kernel);
    fire("*", peer.kernel, true);
    for (const a of aliases) fire("*", a, false);
    fire(peer.kernel, peer.kernel, true);
    for (const a of aliases) fire(a, a, false);
  }

  #safely(event: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#report(
        new IkcError(`${event} monitor threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
      );
    }
  }

  #inform(event: MonitorEvent, peer: PeerInfo, reason?: Error): void {
    for (const h of [...this.#monitors[event]]) this.#safely(event, () => h(peer, reason));
  }
}

/** Every name a channel is reached by: Perl's Responder adds the `ip:port` an IKC0 peer announced. */
function names(channel: Channel): Set<string> {
  const { remoteKernel, remoteAliases, remoteAddress } = channel.info;
  return new Set([remoteKernel, ...remoteAliases, ...(remoteAddress ? [remoteAddress] : [])]);
}

/**
 * A kernel's line to itself: a request naming our own id, name or alias runs our own published
 * state (Perl's LocalKernel). It travels a real channel pair over the in-memory transport, frozen
 * and thawed as on a socket, so routing, answers, refusals and rsvps work as for any peer.
 *
 * @module
 */
import type { Freezer } from "../core/freezer.ts";
import { storableFreezer } from "../core/storable/mod.ts";
import type { PerlValue } from "../core/perl.ts";
import { MemoryConnection } from "../transport/memory.ts";
import { Channel } from "./channel.ts";
import type { OutgoingRequest } from "./outgoing-request.ts";
import type { Line } from "./send.ts";

/**
 * Where a loopback channel's frames go (the kernel's router).
 *
 * @example
 * ```ts
 * import type { LoopbackKernel } from "./loopback.ts";
 * const k: LoopbackKernel = { id: "Hub", names: ["Hub"], receive: () => {}, pending: { failChannel: () => 0 } };
 * ```
 */
export interface LoopbackKernel {
  readonly id: string;
  readonly names: readonly string[];
  receive(value: PerlValue, channel: Channel): void;
  /** Requests of ours on a channel that ended fail. */
  readonly pending: { failChannel(channel: Channel, reason: Error): number };
}

/**
 * The line of requests to ourselves; the pair is made on first use.
 *
 * @example
 * ```ts
 * import { Loopback } from "./loopback.ts";
 * import { Kernel } from "./kernel.ts";
 * const k = new Kernel({ id: "Hub", names: ["Hub"], timeout: 5 });
 * k.states.publish("s", { echo: (p) => p });
 * console.log(await k.request("call", new Loopback(k), "poe://Hub/s/echo", 1, undefined)); // 1
 * ```
 */
export class Loopback implements Line {
  readonly #kernel: LoopbackKernel;
  readonly #freezer: Freezer;
  #out: Channel | undefined;
  #in: Channel | undefined;

  /** The loopback of `kernel`. */
  constructor(kernel: LoopbackKernel, freezer: Freezer = storableFreezer) {
    this.#kernel = kernel;
    this.#freezer = freezer;
  }

  ready(): Channel | undefined {
    const ch = this.#out ?? this.#open();
    return ch.alive && !ch.full ? ch : undefined;
  }

  open(): Promise<Channel> {
    return Promise.resolve(this.#out ?? this.#open());
  }

  failed(request: OutgoingRequest, _channel: Channel, error: Error): void {
    request.reject(error);
  }

  /** Ends both channels (the kernel is closing); a later request opens a new pair. */
  close(): void {
    const ends = [this.#out, this.#in];
    this.#out = this.#in = undefined;
    for (const ch of ends) ch?.conn.destroy?.();
  }

  #open(): Channel {
    const k = this.#kernel;
    const [a, b] = MemoryConnection.pair({ remote: "loopback" }, { remote: "loopback" });
    const info = {
      protocol: "IKC0" as const,
      remoteKernel: k.id,
      remoteAliases: [...k.names],
      freezer: this.#freezer.name,
    };
    const limits = { maxFrameSize: Number.MAX_SAFE_INTEGER };
    const out = new Channel(a, this.#freezer, info, limits, "client");
    const inn = new Channel(b, this.#freezer, info, limits, "server");
    const events = {
      message: (value: PerlValue, ch: Channel) => k.receive(value, ch),
      end: (reason: Error, ch: Channel) => {
        if (this.#out === ch || this.#in === ch) this.close();
        if (ch === out) k.pending.failChannel(ch, reason);
      },
    };
    out.start(new Uint8Array(0), events);
    inn.start(new Uint8Array(0), events);
    this.#out = out;
    this.#in = inn;
    return out;
  }
}

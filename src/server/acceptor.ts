/**
 * The way in: every socket a listener accepts passes admission, waits for a slot when the
 * server is at `concurrency`, negotiates, and joins the kernel as a channel, or is dropped with a
 * report saying why. {@link IkcServer} is the API; this is the door behind it.
 *
 * @module
 */
import { ConnectError, IkcError, LimitError } from "../core/errors.ts";
import { ServerNegotiation } from "../core/server-negotiation.ts";
import { attachChannel, type Negotiated } from "../kernel/attach-channel.ts";
import type { Channel } from "../kernel/channel.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { negotiate } from "../kernel/negotiate.ts";
import { publishDrop } from "../kernel/trace.ts";
import { processId } from "../runtime.ts";
import type { Connection, Listener } from "../transport/types.ts";
import { Admission, type Ticket } from "./admission.ts";
import type { ServerSettings } from "./options.ts";

/**
 * Accepts on any number of listeners for one kernel until {@link Acceptor.close}.
 *
 * @example
 * ```ts
 * import { Acceptor } from "./acceptor.ts";
 * import { Kernel } from "../kernel/kernel.ts";
 * import { resolveServerOptions } from "./options.ts";
 * import { memoryTransport } from "../transport/memory.ts";
 * const transport = memoryTransport();
 * const opts = resolveServerOptions({ transport, name: "Hub" });
 * const acceptor = new Acceptor(new Kernel({ id: "Hub-1", names: ["Hub"], timeout: 30 }), opts);
 * acceptor.serve(await transport.listen({ path: "hub" }));
 * await acceptor.close(new Error("done"));
 * ```
 */
export class Acceptor {
  readonly #kernel: Kernel;
  readonly #opts: ServerSettings;
  readonly #admission: Admission;
  readonly #closing = new AbortController();
  readonly #listeners: Listener[] = [];
  readonly #loops: Promise<void>[] = [];
  /** Sockets accepted and not yet served: waiting for a slot, or negotiating. */
  readonly #unserved = new Set<Connection>();

  /** Lets sockets into `kernel` under the limits of `opts`. */
  constructor(kernel: Kernel, opts: ServerSettings) {
    this.#kernel = kernel;
    this.#opts = opts;
    this.#admission = new Admission(opts);
  }

  /** True once {@link Acceptor.close} has begun: nothing more is let in. */
  get closing(): boolean {
    return this.#closing.signal.aborted;
  }

  /** Accepts on `listener` until closed; {@link Acceptor.close} closes it too. */
  serve(listener: Listener): void {
    this.#listeners.push(listener);
    this.#loops.push(this.#acceptLoop(listener));
  }

  /**
   * Stops letting sockets in: closes the listeners, waits for their accept loops, and drops every
   * socket not yet served. Channels already attached are the kernel's to close.
   */
  async close(reason: Error): Promise<void> {
    this.#closing.abort(reason);
    await Promise.all(this.#listeners.map((l) => l.close()));
    await Promise.all(this.#loops);
    for (const conn of this.#unserved) drop(conn);
  }

  async #acceptLoop(listener: Listener): Promise<void> {
    for (;;) {
      let conn: Connection | null;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (this.closing) return;
        this.#report(new ConnectError(`accept on ${listener.address} failed: ${errText(e)}`, { cause: e }), "accept");
        continue;
      }
      if (conn === null) return;
      if (this.closing) {
        drop(conn);
        continue;
      }
      let ticket: Ticket;
      try {
        ticket = this.#admission.arrive(conn.remote);
      } catch (e) {
        const why = e instanceof LimitError
          ? new LimitError(`refused a connection from ${conn.remote}: ${e.message}`)
          : asError(e);
        this.#report(why, "admission");
        publishDrop(this.#kernel.id, conn.remote, e);
        drop(conn);
        continue;
      }
      void this.#serveOne(conn, ticket, listener);
    }
  }

  /** Waits for a slot, negotiates, then hands the connection to the kernel as a channel. */
  async #serveOne(conn: Connection, ticket: Ticket, listener: Listener): Promise<void> {
    this.#unserved.add(conn);
    let negotiated: Negotiated;
    try {
      await this.#admitted(ticket);
      negotiated = await this.#negotiate(conn, listener);
      if (this.closing) throw this.#closing.signal.reason;
      ticket.served();
    } catch (e) {
      this.#unserved.delete(conn);
      ticket.leave();
      if (!this.closing) {
        this.#report(
          e instanceof LimitError
            ? new LimitError(`dropped client ${conn.remote}: ${e.message}`)
            : new ConnectError(`dropped client ${conn.remote}: ${errText(e)}`, { cause: e }),
        );
        publishDrop(this.#kernel.id, conn.remote, e);
      }
      drop(conn, e);
      return;
    }
    this.#unserved.delete(conn);
    this.#attach(negotiated, ticket);
  }

  /** Resolves once `ticket` may negotiate; rejects when it waited `connectTimeout`, or the server closes. */
  #admitted(ticket: Ticket): Promise<void> {
    const seconds = this.#opts.connectTimeout;
    return new Promise<void>((resolve, reject) => {
      const closing = this.#closing.signal;
      const stop = () => reject(closing.reason);
      const deadline = this.#kernel.deadlines.add(
        seconds * 1000,
        () => reject(new LimitError(`no concurrency slot (${this.#opts.concurrency}) freed within ${seconds} s`)),
      );
      closing.addEventListener("abort", stop, { once: true });
      ticket.admitted.then(() => {
        deadline.cancel();
        closing.removeEventListener("abort", stop);
        resolve();
      });
    });
  }

  /** The server's side of either negotiation, on a socket that arrived on `listener`. */
  async #negotiate(conn: Connection, listener: Listener): Promise<Negotiated> {
    const o = this.#opts;
    const machine = new ServerNegotiation({
      id: this.#kernel.id,
      names: [o.name, ...o.aliases],
      address: announcedAddress(listener),
      freezers: o.freezers.map((f) => f.name),
      pid: processId(),
      ikc0: o.protocol === "IKC0",
    });
    const done = await negotiate(conn, machine, {
      seconds: o.connectTimeout,
      maxLineLength: o.maxLineLength,
      peer: `client ${conn.remote}`,
      signal: this.#closing.signal,
      observer: this.#kernel.observer,
    });
    return { conn, ...done };
  }

  /** A negotiated client joins the kernel, under the connection limits; its end frees its ticket. */
  #attach(negotiated: Negotiated, ticket: Ticket): void {
    const o = this.#opts;
    const limits = {
      maxFrameSize: o.maxFrameSize,
      maxWriteBuffer: o.maxWriteBuffer,
      frameTimeout: o.frameTimeout * 1000,
      deadlines: this.#kernel.deadlines,
    };
    const channel = attachChannel(this.#kernel, negotiated, o.freezers, limits, "server", {
      ended: (c, reason) => {
        ticket.leave();
        this.#gone(c, reason);
      },
      overflow: (c) =>
        c.abort(
          new LimitError(
            `client ${c.remoteKernel} (${c.conn.remote}) reads too slowly: ${c.bufferedBytes} bytes wait for it, more than maxWriteBuffer ${o.maxWriteBuffer}`,
          ),
        ),
    });
    if (!channel.alive) ticket.leave(); // ended before attach returned (its first frames were bad)
  }

  #gone(ch: Channel, reason: Error): void {
    // An ordinary goodbye is only a monitor event; anything else is why we dropped the client.
    if (ch.cleanEnd) {
      void ch.conn.close().catch(() => {});
      return;
    }
    if (this.closing) return; // close() ends the channels itself
    this.#report(
      reason instanceof IkcError && reason.message.startsWith("dropped")
        ? reason
        : new IkcError(`dropped client ${ch.remoteKernel} (${ch.conn.remote}): ${reason.message}`, { cause: reason }),
    );
    // A client that is dropped is gone at once: nothing more is flushed to it.
    drop(ch.conn, reason);
  }

  #report(e: Error, kind?: string): void {
    this.#kernel.reporter.report(e, kind);
  }
}

/**
 * Destroys a connection now (its fd is released; nothing queued is flushed).
 *
 * @example
 * ```ts
 * import { drop } from "./acceptor.ts";
 * import type { Connection } from "../transport/types.ts";
 * const kick = (conn: Connection) => drop(conn, new Error("bad frame"));
 * ```
 */
export function drop(conn: Connection, reason?: unknown): void {
  if (conn.destroy) conn.destroy(reason);
  else void conn.close().catch(() => {});
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new IkcError(String(e));
}

/** How Perl announces a listener: `ip:port`, or `unix:<path with odd characters as _>`. */
function announcedAddress(l: Listener): string | undefined {
  if (l.path !== undefined) return `unix:${l.path.replace(/[^-:.\w]+/g, "_")}`;
  return l.address;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

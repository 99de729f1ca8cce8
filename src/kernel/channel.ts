/**
 * A channel: one negotiated connection to a remote kernel, whichever side dialled. It owns the
 * frame stage of the socket: the read loop (frames → thawed values → the kernel), the write queue
 * (messages → frozen, framed, batched once per flush) and the graceful close.
 *
 * @module
 */
import { DisconnectedError, LimitError } from "../core/errors.ts";
import type { Freezer } from "../core/freezer.ts";
import { FrameReader } from "../core/frame.ts";
import { FrameBatch } from "../core/frame-batch.ts";
import type { NegotiationResult } from "../core/negotiation.ts";
import type { PerlValue } from "../core/perl.ts";
import type { Connection } from "../transport/types.ts";
import { now } from "../time/clock.ts";
import type { Deadline, Deadlines } from "../time/deadlines.ts";
import { within } from "../time/within.ts";
import { nextTurn, parkTurn } from "../time/next-turn.ts";
import type { DebugLog } from "./debug-log.ts";
import type { Observer } from "./observer.ts";
import { KernelCounters } from "./stats.ts";

/**
 * Milliseconds of reading and routing one channel does before it lets the event loop turn. A
 * peer that keeps its socket full is served in slices this long, and a call from anyone else
 * waits about one slice: at 4 ms a legit client's median under a flood was 4.5-5 ms (bench/
 * fairness.ts), at 1 ms 1.5-2.4 ms, with no loss for one connection of 256 calls in flight.
 */
const TURN_MS = 1;

/**
 * Milliseconds of work with data always queued (no read of ours had to wait on the OS) after which
 * the read loop waits for the runtime to poll the OS ({@link parkTurn}: a timer on Deno, where the
 * other sockets are not seen otherwise).
 */
const PARK_MS = 5;
const PARK_ALONE_MS = 50;

/**
 * Reads of any channel in this process being awaited. The runtime is made to poll the OS (a
 * timer on Deno) every PARK_MS only while some are; with none, only every PARK_ALONE_MS, for the
 * timers (deadlines) Deno would otherwise leave waiting too: a lone busy connection (1 x 256 calls
 * in flight) idled a millisecond every PARK_MS, 0.63x its rate in one run.
 */
let readsWaiting = 0;

/**
 * Between two readings of the clock, the frames delivered add up to at most this many bytes (each
 * counted as its length plus FRAME_WEIGHT for routing and answering it): about 0.1-0.3 ms of thawing
 * where every byte is an element, the densest a frame gets.
 */
const CLOCK_BYTES = 4096;
const FRAME_WEIGHT = 256;

/**
 * Options of a {@link Channel}.
 *
 * @example
 * ```ts
 * import type { ChannelOptions } from "./channel.ts";
 * const o: ChannelOptions = { maxFrameSize: 1 << 20, maxWriteBuffer: 8 << 20 };
 * ```
 */
export interface ChannelOptions {
  /** Largest frame accepted from the peer, in bytes. */
  maxFrameSize: number;
  /**
   * Bytes queued for a peer that does not read: beyond it {@link ChannelEvents.overflow} fires and
   * {@link Channel.room} waits (default Infinity).
   */
  maxWriteBuffer?: number;
  /**
   * Milliseconds a frame may take to arrive once its first byte has (default: no limit); a peer
   * that starts a frame and stalls is dropped. Needs `deadlines`.
   */
  frameTimeout?: number;
  /** The timer heap the frame deadline lives in. */
  deadlines?: Deadlines;
  /** The kernel's counters and debug log (bytes, one line per message, drops). */
  observer?: Observer;
}

/**
 * What a channel tells its owner.
 *
 * @example
 * ```ts
 * import type { ChannelEvents } from "./channel.ts";
 * const events: ChannelEvents = { message: (v) => console.log(v), end: (e) => console.log(e.message) };
 * ```
 */
export interface ChannelEvents {
  /** A frame thawed to `value`. */
  message(value: PerlValue, channel: Channel): void;
  /** The channel is gone; `reason` says why (always set). Called once. */
  end(reason: Error, channel: Channel): void;
  /** More than `maxWriteBuffer` bytes wait for a peer that does not read. */
  overflow?(channel: Channel): void;
}

/**
 * One negotiated connection in the frame stage.
 *
 * @example
 * ```ts
 * import { Channel } from "./channel.ts";
 * import { memoryTransport } from "../transport/memory.ts";
 * import { storableFreezer } from "@poe-ikc/ikc";
 * const t = memoryTransport();
 * const l = await t.listen({ port: 1 });
 * const conn = await t.connect({ port: 1 });
 * const info = { protocol: "IKC0" as const, remoteKernel: "K", remoteAliases: ["K"], freezer: "Storable" };
 * const ch = new Channel(conn, storableFreezer, info, { maxFrameSize: 1 << 20 }, "client");
 * ch.start(new Uint8Array(0), { message: (v) => console.log(v), end: () => {} });
 * await ch.close();
 * await l.close();
 * ```
 */
export class Channel {
  /** The byte stream. */
  readonly conn: Connection;
  /** The freezer both sides agreed on. */
  readonly freezer: Freezer;
  /** What negotiation settled: the remote kernel's names, protocol, freezer. */
  readonly info: NegotiationResult;
  /** `client` when we dialled, `server` when we accepted. */
  readonly side: "client" | "server";
  /** False once the channel ended or started closing. */
  alive = true;
  /** Why it ended, once it has. */
  reason: Error | undefined;
  /** True when the peer closed at a frame boundary (an ordinary goodbye, not a failure). */
  cleanEnd = false;
  /** Requests from the peer that our states are running now (the responder's per-peer cap). */
  running = 0;
  readonly #reader: FrameReader;
  readonly #maxWriteBuffer: number;
  readonly #frameTimeout: number;
  readonly #deadlines: Deadlines | undefined;
  #frameDeadline: Deadline | undefined;
  #drained: Array<() => void> = [];
  #events: ChannelEvents | undefined;
  readonly #batch = new FrameBatch();
  #callbacks: Array<((err?: Error) => void) | undefined> = [];
  #inFlight = 0;
  #flushing = false;
  #ended = false;
  #readDone: Promise<void> = Promise.resolve();
  #roomWaiters: Array<() => void> = [];
  readonly #observer: Observer | undefined;
  readonly #counters: KernelCounters;
  readonly #log: DebugLog | undefined;

  constructor(
    conn: Connection,
    freezer: Freezer,
    info: NegotiationResult,
    options: ChannelOptions,
    side: "client" | "server",
  ) {
    this.conn = conn;
    this.freezer = freezer;
    this.info = info;
    this.side = side;
    this.#reader = new FrameReader({ maxFrameSize: options.maxFrameSize });
    this.#maxWriteBuffer = options.maxWriteBuffer ?? Infinity;
    this.#frameTimeout = options.frameTimeout ?? Infinity;
    this.#deadlines = options.deadlines;
    this.#observer = options.observer;
    this.#counters = options.observer?.counters ?? new KernelCounters();
    this.#log = options.observer?.log;
  }

  /** The remote kernel's id (its first announced name). */
  get remoteKernel(): string {
    return this.info.remoteKernel;
  }

  /** Bytes queued or being written and not yet taken by the OS. */
  get bufferedBytes(): number {
    return this.#batch.size + this.#inFlight;
  }

  /** Settles once the read loop has returned (the runtime has let go of the socket). */
  get readDone(): Promise<void> {
    return this.#readDone;
  }

  /** Starts the read loop; `first` holds bytes that arrived with the last negotiation line. */
  start(first: Uint8Array, events: ChannelEvents): void {
    this.#events = events;
    this.#readDone = this.#readLoop(first);
  }

  /**
   * Freezes, frames and queues a message; frames queued while a write is under way go out
   * together. `done` is called once the bytes are handed to the OS, or with the error.
   * Throws (synchronously) when the message cannot be frozen, or is bigger on its own than
   * `maxWriteBuffer` (a LimitError: it could never be queued without dropping the peer).
   */
  send(message: Record<string, PerlValue>, done?: (err?: Error) => void): void {
    const payload = this.freezer.freeze(message);
    if (payload.byteLength > this.#maxWriteBuffer) {
      throw new LimitError(
        `a frame of ${payload.byteLength} bytes for ${this.remoteKernel} is more than maxWriteBuffer ${this.#maxWriteBuffer}`,
      );
    }
    if (this.#log !== undefined) this.#log.message(this.remoteKernel, ">", message, payload.byteLength);
    if (!this.alive) {
      done?.(this.reason ?? new DisconnectedError(`connection to ${this.conn.remote} is closed`));
      return;
    }
    // Copied into the batch now (the one copy per frame): the freezer may reuse its buffer.
    this.#batch.push(payload);
    this.#callbacks.push(done);
    if (!this.#flushing) {
      // Flushed a microtask later, so every answer to the frames of one read (and every call
      // made in one tick) goes out in one write, not the first alone and the rest after it.
      this.#flushing = true;
      queueMicrotask(this.#startFlush);
    }
    if (this.bufferedBytes > this.#maxWriteBuffer) this.#events?.overflow?.(this);
  }

  /** Like {@link Channel.send}, as a promise. */
  write(message: Record<string, PerlValue>): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.send(message, (err) => (err ? reject(err) : resolve()));
      } catch (e) {
        reject(e);
      }
    });
  }

  /** True while more than `maxWriteBuffer` bytes wait to be written. */
  get full(): boolean {
    return this.bufferedBytes > this.#maxWriteBuffer;
  }

  /** Resolves once the write buffer is below `maxWriteBuffer` (at once when it is), or the channel ended. */
  room(): Promise<void> {
    if (!this.full || !this.alive) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  #startFlush = (): void => {
    void this.#flush();
  };

  async #flush(): Promise<void> {
    for (;;) {
      const data = this.#batch.take();
      if (data === undefined) break;
      const callbacks = this.#callbacks;
      this.#callbacks = [];
      this.#inFlight = data.byteLength;
      let err: Error | undefined;
      try {
        await this.conn.write(data);
        this.#counters.bytesOut += data.byteLength;
      } catch (e) {
        err = e instanceof Error ? e : new DisconnectedError(String(e));
      }
      // Written: the transport has let go of the bytes. After a failure that is not certain.
      this.#batch.release(err === undefined);
      this.#inFlight = 0;
      for (const cb of callbacks) {
        if (cb) cb(err);
      }
      if (this.#roomWaiters.length > 0 && (!this.full || err)) { for (const f of this.#roomWaiters.splice(0)) f(); }
    }
    this.#batch.idle();
    this.#flushing = false;
    for (const f of this.#drained.splice(0)) f();
  }

  /** Resolves once nothing queued waits to be handed to the transport. */
  #flushed(): Promise<void> {
    if (!this.#flushing) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  async #readLoop(first: Uint8Array): Promise<void> {
    // Counted in readsWaiting from the call of a read until the loop has its result.
    let reading = false;
    const read = () => {
      readsWaiting++;
      reading = true;
      return this.conn.read();
    };
    const got = () => {
      if (reading) readsWaiting--;
      reading = false;
    };
    try {
      // Milliseconds of work since the loop last turned, and since our next read last had to wait
      // on the OS. Only work counts: time spent waiting for a read is not, or an idle connection
      // would yield on every call.
      let worked = 0;
      let unwaited = 0;
      for (let chunk: Uint8Array | null = first; chunk !== null; chunk = await read()) {
        got();
        let turn = now();
        this.#counters.bytesIn += chunk.byteLength;
        if (!this.alive) continue; // closing: drain until the peer's EOF
        // A read of data already buffered resolves at once, without leaving this task: a peer
        // that keeps its socket full (or one chunk of megabytes) would hold the event loop every
        // client shares. The frames of one read are split only when they alone take more than
        // TURN_MS (split, their answers leave in two writes, not one); between reads, the loop
        // turns once TURN_MS of work has added up, and waits for the runtime to poll the OS once
        // PARK_MS has (see parkTurn).
        const frames = this.#reader.push(chunk);
        for (let i = this.#deliver(frames, 0, turn); i < frames.length; i = this.#deliver(frames, i, turn)) {
          unwaited += now() - turn;
          if (unwaited > (readsWaiting > 0 ? PARK_MS : PARK_ALONE_MS)) {
            await parkTurn();
            unwaited = 0;
          } else {
            await nextTurn();
          }
          worked = 0;
          turn = now();
        }
        if (this.#frameTimeout !== Infinity) this.#watchFrame();
        const spent = now() - turn;
        worked += spent;
        unwaited += spent;
        // A read that waits on the OS lets the loop turn anyway: yielding before it only costs.
        if (this.conn.queuedBytes === 0) {
          worked = 0;
          unwaited = 0;
        } else if (unwaited > (readsWaiting > 0 ? PARK_MS : PARK_ALONE_MS)) {
          await parkTurn();
          worked = 0;
          unwaited = 0;
        } else if (worked > TURN_MS) {
          await nextTurn();
          worked = 0;
        }
      }
      got();
      const partial = this.#reader.buffered > 0;
      if (!partial && this.alive) this.cleanEnd = true;
      this.#end(
        new DisconnectedError(
          partial
            ? `connection to ${this.conn.remote} closed in the middle of a frame (${this.#reader.buffered} bytes of it received)`
            : `connection to ${this.conn.remote} closed by the ${this.side === "client" ? "server" : "client"}`,
        ),
      );
    } catch (e) {
      got();
      // A bad frame (or a failed read): the peer is dropped, and what is queued for it is not sent.
      this.abort(e instanceof Error ? e : new DisconnectedError(String(e)));
    }
  }

  /**
   * Thaws and hands on `frames` from `from`, until done or `TURN_MS` past `turn`; returns where it
   * stopped (`frames.length` when done, and at once once the channel has ended).
   */
  #deliver(frames: Uint8Array[], from: number, turn: number): number {
    let unclocked = 0;
    for (let i = from; i < frames.length; i++) {
      if (!this.alive) return frames.length;
      const frame = frames[i];
      const value = this.freezer.thaw(frame);
      if (this.#log !== undefined) this.#log.message(this.remoteKernel, "<", value, frame.byteLength);
      this.#events!.message(value, this);
      // The clock is read once per CLOCK_BYTES of frames, not per frame: small frames cost little
      // each (a thaw is linear in its bytes), and reading it for every one cost 2% of a busy server.
      unclocked += frame.byteLength + FRAME_WEIGHT;
      if (unclocked >= CLOCK_BYTES && i + 1 < frames.length) {
        if (now() - turn > TURN_MS) return i + 1;
        unclocked = 0;
      }
    }
    return frames.length;
  }

  /** A frame under way must be whole within `frameTimeout` of the read that started it. */
  #watchFrame(): void {
    const partial = this.#reader.buffered > 0;
    if (!partial) {
      this.#frameDeadline?.cancel();
      this.#frameDeadline = undefined;
    } else if (this.#frameDeadline === undefined && this.alive && this.#deadlines) {
      this.#frameDeadline = this.#deadlines.add(this.#frameTimeout, () => {
        this.abort(
          new LimitError(
            `a frame from ${this.remoteKernel} (${this.conn.remote}) did not arrive within frameTimeout ${
              this.#frameTimeout / 1000
            } s (${this.#reader.buffered} bytes of it received)`,
          ),
        );
      });
    }
  }

  /** Ends the channel with `reason` (once): no more reads are delivered and no writes accepted. */
  #end(reason: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.alive = false;
    this.reason ??= reason;
    this.#frameDeadline?.cancel();
    this.#frameDeadline = undefined;
    for (const f of this.#roomWaiters.splice(0)) f();
    this.#events?.end(this.reason, this);
  }

  /** Drops the channel now: ends it with `reason` and closes the socket, unwritten bytes and all. */
  abort(reason: Error): void {
    if (!this.#ended) this.#observer?.dropped(this, reason);
    this.#end(reason);
    if (this.conn.destroy) this.conn.destroy(reason);
    else void this.conn.close().catch(() => {});
  }

  /**
   * Closes gracefully: what is queued goes out, the write side is half-closed, and we wait (up
   * to `waitMs`) for the peer to close its side before closing ours. A genuine IKC kernel
   * unregisters our name only when it sees the close; a reconnect that overtook it would be
   * refused ("Remote kernel 'X' already exists"). A peer that does not read cannot hold this up:
   * past `waitMs` the socket is destroyed.
   */
  async close(reason?: Error, waitMs = 1000): Promise<void> {
    this.#end(reason ?? new DisconnectedError(`connection to ${this.conn.remote} closed`));
    const until = now() + waitMs;
    const left = () => Math.max(0, until - now());
    // Everything queued is handed to the transport before the write side closes behind it.
    await within(this.#flushed(), left());
    if (this.conn.closeWrite) {
      const flushed = await within(this.conn.closeWrite().catch(() => {}), left());
      if (flushed) await within(this.#readDone, left());
    }
    if (!(await within(this.conn.close().catch(() => {}), left()))) this.conn.destroy?.(this.reason);
    await within(this.#readDone, Math.max(left(), 100));
  }
}

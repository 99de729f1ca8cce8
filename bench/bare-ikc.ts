/**
 * A bare IKC0 connection for the benchmarks: the handshake by hand over a `node:net` socket (on
 * every runtime), then one prebuilt request frame written again and again, each answer counted
 * off by its length prefix and never thawed (but the last one of a pipelined run, which is
 * checked). No IKC client machinery at all, so it costs next to nothing per request:
 *
 * - bench/client.ts runs it beside our client as the floor any client on a runtime's sockets
 *   reaches against a given server;
 * - bench/server.ts loads a server with it (many requests in flight on one connection) to
 *   measure what the server can do, where an IkcClient as the load generator runs out of CPU
 *   first.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import process from "node:process";
import { encodeFrame } from "../src/core/frame.ts";
import { requestMessage } from "../src/core/message.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { nfreeze, thaw } from "../src/core/storable/mod.ts";
import { concat, cpuMicros } from "./common.ts";

/** What a pipelined run did. */
export interface PipelinedRun {
  /** Answers received. */
  answers: number;
  /** From the first write to the last answer. */
  secs: number;
  /** Our own CPU time over the run, in microseconds (NaN where the runtime has no counter). */
  cpuUs: number;
}

/**
 * One connection, its call and post frames prebuilt for `event` (`session/state` on the
 * server's kernel) with `params`.
 *
 * @example
 * ```ts
 * import { BareIkc } from "./bare-ikc.ts";
 * const bare = await BareIkc.connect(6030, "test/echo", { n: 1 });
 * console.log(await bare.calls(100)); // seconds for 100 sequential calls
 * bare.stop();
 * ```
 */
export class BareIkc {
  readonly remote: string;
  #socket: Socket;
  #call: Uint8Array;
  #post: Uint8Array;
  #pending: Uint8Array = new Uint8Array(0);
  /** Called with the number of whole answers a chunk completed, and where the last one's payload is in it. */
  #onAnswers: ((n: number, chunk: Uint8Array, lastStart: number, lastEnd: number) => void) | undefined;

  private constructor(socket: Socket, remote: string, event: string, params: PerlValue, name: string) {
    this.#socket = socket;
    this.remote = remote;
    const frame = (v: Record<string, PerlValue>) => encodeFrame(nfreeze(v));
    const from = { kernel: name, session: "IKCLite" };
    this.#call = frame(requestMessage(`poe://${remote}/${event}`, params, from, { ...from, state: "1" }));
    this.#post = frame(requestMessage(`poe://${remote}/${event}`, params, from));
    socket.on("data", (d: Uint8Array) => this.#data(d));
  }

  /** Connects to 127.0.0.1:`port` and negotiates IKC0 with the Storable freezer. */
  static connect(port: number, event: string, params: PerlValue, name = "BenchBare"): Promise<BareIkc> {
    return new Promise((res, rej) => {
      const socket = connect({ port, host: "127.0.0.1", noDelay: true });
      socket.once("error", rej);
      socket.once("connect", () => socket.write(`SETUP KERNEL=${name};FREEZER=Storable;PID=${process.pid}\r\n`));
      let line = "";
      const onLine = (d: Uint8Array) => {
        line += new TextDecoder("latin1").decode(d);
        const i = line.indexOf("\n");
        if (i < 0) return;
        socket.off("data", onLine);
        const m = /^SETUP KERNEL=([^,;]+)/.exec(line);
        if (!m || i + 1 !== line.length) return rej(new Error(`bare client: unexpected setup reply ${line}`));
        res(new BareIkc(socket, m[1], event, params, name));
      };
      socket.on("data", onLine);
    });
  }

  /** Counts the whole frames in what arrived; keeps a partial one for the next chunk. */
  #data(d: Uint8Array): void {
    const b = this.#pending.length ? concat([this.#pending, d]) : d;
    let p = 0;
    let n = 0;
    let lastStart = 0;
    for (;;) {
      const z = b.indexOf(0, p);
      if (z < 0) break;
      let len = 0;
      for (let i = p; i < z; i++) len = len * 10 + b[i] - 48;
      if (b.length < z + 1 + len) break;
      lastStart = z + 1;
      p = z + 1 + len;
      n++;
    }
    this.#pending = p === b.length ? new Uint8Array(0) : b.slice(p);
    if (n > 0) this.#onAnswers?.(n, b, lastStart, p);
  }

  /** `n` calls, each answered before the next is written: seconds taken. */
  async calls(n: number): Promise<number> {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await new Promise<void>((res) => {
        this.#onAnswers = () => res();
        this.#socket.write(this.#call);
      });
    }
    this.#onAnswers = undefined;
    return (performance.now() - t0) / 1000;
  }

  /** Sequential calls for about `ms`: each call's latency in ms, from its write to its answer. */
  async callLatencies(ms: number): Promise<number[]> {
    const out: number[] = [];
    const until = performance.now() + ms;
    while (performance.now() < until) {
      const t0 = performance.now();
      await new Promise<void>((res) => {
        this.#onAnswers = () => res();
        this.#socket.write(this.#call);
      });
      out.push(performance.now() - t0);
    }
    this.#onAnswers = undefined;
    return out;
  }

  /** `n` posts, each awaited until written, then one call (excluded) so the server has taken them all. */
  async posts(n: number): Promise<number> {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await new Promise<void>((res) => this.#socket.write(this.#post, () => res()));
    const secs = (performance.now() - t0) / 1000;
    await this.calls(1);
    return secs;
  }

  /**
   * Keeps `inFlight` calls outstanding (each answer is replaced by a new call at once, the
   * answers of one read by one write) for about `ms`, then lets the last ones come back. The
   * params of the last answer are thawed and handed to `check`, which throws when they are not
   * what the server should have sent.
   */
  pipelined(inFlight: number, ms: number, check: (answer: PerlValue) => void): Promise<PipelinedRun> {
    const one = this.#call;
    const many = new Uint8Array(one.length * inFlight);
    for (let i = 0; i < inFlight; i++) many.set(one, i * one.length);
    return new Promise((res, rej) => {
      const c0 = cpuMicros();
      const t0 = performance.now();
      const until = t0 + ms;
      let sent = inFlight;
      let answers = 0;
      let refill = true;
      this.#onAnswers = (n, chunk, lastStart, lastEnd) => {
        answers += n;
        if (refill && performance.now() >= until) refill = false;
        if (refill) {
          sent += n;
          this.#socket.write(many.subarray(0, n * one.length));
        } else if (answers === sent) {
          const secs = (performance.now() - t0) / 1000;
          const cpuUs = cpuMicros() - c0;
          this.#onAnswers = undefined;
          try {
            check((thaw(chunk.subarray(lastStart, lastEnd)) as { params?: PerlValue }).params ?? null);
          } catch (e) {
            return rej(e);
          }
          res({ answers, secs, cpuUs });
        }
      };
      this.#socket.write(many);
    });
  }

  /**
   * Writes the post frame again and again, each as soon as the socket has taken the last (no
   * answers expected), until the returned function is called. `dropped` turns true if the server
   * closes the connection meanwhile.
   */
  flood(): { stop(): void; readonly dropped: boolean; readonly frames: number } {
    let on = true;
    let dropped = false;
    let frames = 0;
    const pump = () => {
      while (on && !dropped) {
        frames++;
        if (!this.#socket.write(this.#post)) break;
      }
      if (on && !dropped) this.#socket.once("drain", pump);
    };
    this.#socket.once("close", () => (dropped = true));
    pump();
    return {
      stop: () => (on = false),
      get dropped() {
        return dropped;
      },
      get frames() {
        return frames;
      },
    };
  }

  stop(): void {
    this.#socket.destroy();
  }
}

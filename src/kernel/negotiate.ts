/**
 * Drives a negotiation state machine (the client's or the server's) over a connection: sends
 * what it says, feeds it the peer's lines, under one deadline for the whole exchange and a limit
 * on line length, so a peer that trickles bytes or never ends a line costs at most that long.
 *
 * @module
 */
import { ConnectError } from "../core/errors.ts";
import { LineReader } from "../core/frame.ts";
import { latin1Encode } from "../core/text.ts";
import type { NegotiationResult } from "../core/negotiation.ts";
import type { Connection } from "../transport/types.ts";
import { withAbort as abortable } from "../time/with-abort.ts";
import { withTimeout as deadline } from "../time/with-timeout.ts";
import { sleepUnlessAborted } from "../time/sleep-unless-aborted.ts";
import type { Observer } from "./observer.ts";

/**
 * Lines handled in one turn of the event loop. A peer that sends thousands of lines in one
 * packet gets this many handled, then the loop serves everyone else before the next batch.
 *
 * @example
 * ```ts
 * import { LINES_PER_TURN } from "./negotiate.ts";
 * console.log(LINES_PER_TURN); // 32
 * ```
 */
export const LINES_PER_TURN = 32;

/**
 * What {@link negotiate} needs of a state machine: {@link ClientNegotiation} and
 * {@link ServerNegotiation} both fit.
 *
 * @example
 * ```ts
 * import type { NegotiationMachine } from "./negotiate.ts";
 * import { ServerNegotiation } from "../core/server-negotiation.ts";
 * const m: NegotiationMachine = new ServerNegotiation({ id: "h-1", names: ["Hub"], freezers: ["Storable"], pid: 1 });
 * ```
 */
export interface NegotiationMachine {
  start?(): string[];
  receive(line: string): string[];
  readonly done: boolean;
  readonly phase: string;
  readonly failure?: Error | undefined;
  readonly result: NegotiationResult | undefined;
}

/**
 * Options of {@link negotiate}.
 *
 * @example
 * ```ts
 * import type { NegotiateOptions } from "./negotiate.ts";
 * const o: NegotiateOptions = { seconds: 5, maxLineLength: 4096, peer: "server 127.0.0.1:603" };
 * ```
 */
export interface NegotiateOptions {
  /** The whole negotiation must finish within this many seconds. */
  seconds: number;
  /** Longest negotiation line accepted (default 4096 bytes). */
  maxLineLength?: number;
  /** Who we talk to, for error messages ("server 127.0.0.1:603"). */
  peer: string;
  /** Aborts the negotiation (a server closing, say). */
  signal?: AbortSignal;
  /** Counts the bytes and logs the lines (with `debug`). */
  observer?: Observer;
}

/**
 * Runs `machine` to completion over `conn`. Resolves with the result and the bytes that followed
 * the last line (the first frames); rejects with a ConnectError saying which phase failed and why.
 * The connection is left open either way: the caller closes it on failure.
 *
 * @example
 * ```ts
 * import { negotiate } from "./negotiate.ts";
 * import { ClientNegotiation } from "../core/negotiation.ts";
 * import { detectTransport } from "../transport/detect.ts";
 * const conn = await detectTransport().connect({ port: 603 });
 * const m = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC0" });
 * const { result, rest } = await negotiate(conn, m, { seconds: 5, peer: "server localhost:603" });
 * ```
 */
export async function negotiate(
  conn: Connection,
  machine: NegotiationMachine,
  options: NegotiateOptions,
): Promise<{ result: NegotiationResult; rest: Uint8Array }> {
  const { seconds, peer } = options;
  const lines = new LineReader({ maxLineLength: options.maxLineLength });
  const watch = options.observer;
  const send = (ls: string[]) => {
    if (ls.length === 0) return undefined;
    const bytes = latin1Encode(ls.map((l) => `${l}\r\n`).join(""));
    if (watch !== undefined) {
      watch.counters.bytesOut += bytes.byteLength;
      for (const l of ls) watch.log?.negotiation(peer, ">", l);
    }
    return conn.write(bytes);
  };
  const exchange = async () => {
    if (machine.start) await send(machine.start());
    let turn = 0;
    while (!machine.done) {
      if (++turn > LINES_PER_TURN) {
        turn = 0;
        await sleepUnlessAborted(0);
      }
      let line = lines.nextLine();
      while (line === undefined) {
        const chunk = await conn.read();
        if (chunk === null) {
          throw new ConnectError(`negotiation with ${peer} (${machine.phase}): the peer closed the connection`);
        }
        if (watch !== undefined) watch.counters.bytesIn += chunk.byteLength;
        lines.push(chunk);
        line = lines.nextLine();
      }
      watch?.log?.negotiation(peer, "<", line);
      await send(machine.receive(line));
      if (machine.failure) throw machine.failure;
    }
    return { result: machine.result!, rest: lines.takeRest() };
  };
  try {
    // One deadline for the whole exchange, however the peer paces its bytes. When it fires, the
    // read still pending ends when the caller closes the connection.
    return await abortable(
      deadline(
        exchange(),
        seconds * 1000,
        () => new ConnectError(`negotiation with ${peer} (${machine.phase}): not finished within ${seconds} s`),
      ),
      options.signal,
      () => new ConnectError(`negotiation with ${peer} aborted`, { cause: options.signal?.reason }),
    );
  } catch (e) {
    if (e instanceof ConnectError) throw e;
    const text = e instanceof Error ? e.message : String(e);
    throw new ConnectError(`negotiation with ${peer} failed: ${text}`, { cause: e });
  }
}

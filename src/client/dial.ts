/**
 * One dial: connect (within `connectTimeout`), negotiate, and attach the channel to the kernel.
 *
 * @module
 */
import { ConnectError, UnsupportedRuntimeError } from "../core/errors.ts";
import { ClientNegotiation } from "../core/negotiation.ts";
import { attachChannel, type ChannelHooks } from "../kernel/attach-channel.ts";
import type { Channel } from "../kernel/channel.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { negotiate } from "../kernel/negotiate.ts";
import { timeoutSignal } from "../time/timeout-signal.ts";
import type { Connection } from "../transport/types.ts";
import { processId } from "../runtime.ts";
import type { ClientSettings } from "./options.ts";

/**
 * Where the settings point: the socket path, or `host:port`.
 *
 * @example
 * ```ts
 * import { whereTo } from "./dial.ts";
 * import type { ClientSettings } from "./options.ts";
 * const label = (s: ClientSettings) => `server ${whereTo(s)}`;
 * ```
 */
export function whereTo(s: ClientSettings): string {
  return s.path ?? `${s.host}:${s.port}`;
}

/**
 * Dials the server `s` names, announcing our kernel `id` first (then our name and aliases), and attaches the negotiated channel to `kernel`. Rejects with a
 * ConnectError whose `code` says what failed (`ETIMEDOUT`, `ENEGOTIATION`, or the OS's, such as
 * `ECONNREFUSED`).
 *
 * @example
 * ```ts
 * import { dialChannel } from "./dial.ts";
 * import { resolveClientOptions } from "./options.ts";
 * import { Kernel } from "../kernel/kernel.ts";
 * const s = resolveClientOptions({ port: 6030 });
 * const kernel = new Kernel({ id: s.name, names: [s.name], timeout: s.timeout });
 * const ch = await dialChannel(s, "C-1", kernel, {});
 * ```
 */
export async function dialChannel(
  s: ClientSettings,
  id: string,
  kernel: Kernel,
  hooks: ChannelHooks,
): Promise<Channel> {
  const seconds = s.connectTimeout;
  const where = whereTo(s);
  const signal = timeoutSignal(seconds * 1000);
  let conn: Connection;
  try {
    conn = await s.transport.connect({
      host: s.host,
      port: s.port,
      path: s.path,
      blockSize: s.blockSize,
      tls: s.tls,
      signal,
    });
  } catch (e) {
    if (signal.aborted) {
      throw new ConnectError(`connect to ${where}: no connection within ${seconds} s`, { cause: e, code: "ETIMEDOUT" });
    }
    if (e instanceof ConnectError || e instanceof UnsupportedRuntimeError) throw e;
    throw new ConnectError(`connect to ${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    const machine = new ClientNegotiation({
      name: id,
      aliases: [s.name, ...s.aliases],
      freezers: s.freezers.map((f) => f.name),
      pid: processId(),
      protocol: s.protocol,
    });
    const done = await negotiate(conn, machine, {
      seconds,
      maxLineLength: s.maxLineLength,
      peer: where,
      observer: kernel.observer,
    });
    const limits = { maxFrameSize: s.maxFrameSize, maxWriteBuffer: s.maxWriteBuffer };
    return attachChannel(kernel, { conn, ...done }, s.freezers, limits, "client", hooks);
  } catch (e) {
    await conn.close().catch(() => {});
    const err = e instanceof ConnectError ? e : new ConnectError(
      `negotiation with ${where} failed: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
    err.code ??= "ENEGOTIATION";
    throw err;
  }
}

/**
 * Where a server's own request goes: our loopback when the target names our id, name or alias
 * (Perl's LocalKernel), else the connection of the kernel it names, or the only client.
 *
 * @module
 */
import { RoutingError } from "../core/errors.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { ChannelLine, type Line } from "../kernel/send.ts";
import type { Target } from "../kernel/types.ts";

/**
 * The line a server's request to `target` goes on; throws a RoutingError when no connected kernel
 * has that name (or the target names none and several are connected).
 *
 * @example
 * ```ts
 * import { serverLine } from "./route.ts";
 * import { Kernel } from "../kernel/kernel.ts";
 * const k = new Kernel({ id: "Hub-1", names: ["Hub"], timeout: 5 });
 * serverLine(k, "poe://Hub/calc/add"); // our loopback
 * ```
 */
export function serverLine(kernel: Kernel, target: Target): Line {
  if (kernel.isLocal(target)) return kernel.loopback;
  const wanted = kernel.targets.kernelOf(target);
  const ch = wanted === undefined ? undefined : kernel.peers.channelFor(wanted);
  if (ch) return new ChannelLine(ch);
  const named = typeof target === "string" ? /^poe:\/\/([^/]+)\//.exec(target)?.[1] : target.kernel;
  if (named !== undefined) throw new RoutingError(`no connected kernel named ${JSON.stringify(named)}`);
  const all = kernel.peers.channels();
  if (all.length === 1) return new ChannelLine(all[0]);
  throw new RoutingError(
    `${
      JSON.stringify(typeof target === "string" ? target : `${target.session}/${target.state}`)
    } names no kernel, and ${all.length} are connected: use poe://<kernel>/session/state`,
  );
}

/**
 * IKC (POE::Component::IKC) for Deno, Bun and Node: talk to Perl POE kernels from TypeScript.
 *
 * - {@link IkcClient}: the client (a port of Perl's ClientLite, async, many requests in flight).
 * - {@link IkcServer}: an IKC server, so Perl kernels can call TypeScript.
 * - {@link thaw} / {@link nfreeze}: the Storable codec on its own.
 *
 * @example
 * ```ts
 * import { IkcClient, IkcServer } from "@poe-ikc/ikc";
 * const server = await IkcServer.listen({ port: 0 });
 * server.publish("calc", { add: (params) => (params as number[]).reduce((a, b) => a + b, 0) });
 * const ikc = await IkcClient.connect({ port: server.port });
 * console.log(await ikc.call("calc/add", [1, 2, 3])); // 6
 * await ikc.disconnect();
 * await server.close();
 * ```
 *
 * @module
 */
export * from "./src/core/perl.ts";
export * from "./src/core/errors.ts";
export type { Freezer } from "./src/core/freezer.ts";
export type { DecodeLimits, DeprecatedLimitNames } from "./src/core/limits.ts";
export {
  createStorableFreezer,
  type FreezeOptions,
  nfreeze,
  StorableDecoder,
  StorableEncoder,
  storableFreezer,
  thaw,
  type ThawOptions,
} from "./src/core/storable/mod.ts";
export {
  createFreezeThawFreezer,
  type FreezeThawDecodeOptions,
  type FreezeThawEncodeOptions,
  freezeThawFreeze,
  freezeThawFreezer,
  freezeThawThaw,
} from "./src/core/freezethaw.ts";
export {
  createDumperFreezer,
  type DumperDecodeOptions,
  type DumperEncodeOptions,
  dumperFreeze,
  dumperFreezer,
  dumperThaw,
} from "./src/core/dumper.ts";
export * from "./src/client.ts";
export * from "./src/server.ts";
export type {
  CommonOptions,
  KernelEvent,
  KernelMonitor,
  MonitorEvent,
  MonitorHandler,
  PeerInfo,
  Sender,
  SendOptions,
  StateContext,
  StateHandler,
  Target,
} from "./src/kernel/types.ts";
export type { ErrorHandler } from "./src/kernel/report.ts";
export type { ConnectionEvent, DropEvent, RequestTraceContext, StateTraceContext } from "./src/kernel/trace.ts";
export type { Address } from "./src/core/message.ts";
export type {
  Connection,
  ConnectOptions,
  ConnectTlsOptions,
  Listener,
  ListenOptions,
  ListenTlsOptions,
  TlsPeer,
  Transport,
} from "./src/transport/types.ts";
export type { TransportName } from "./src/transport/detect.ts";

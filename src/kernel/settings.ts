/**
 * What client and server options share: the defaults both use, the keys both take, and their
 * resolution and checks. Each end adds its own in `client/options.ts` and `server/options.ts`.
 *
 * @module
 */
import type { Freezer } from "../core/freezer.ts";
import { resolveFreezers } from "../core/freezers.ts";
import type { DecodeLimits } from "../core/limits.ts";
import { isValidKernelName } from "../core/negotiation.ts";
import { detectTransport, transportFor } from "../transport/detect.ts";
import type { Transport } from "../transport/types.ts";
import { DEFAULT_BLOCK_SIZE } from "../transport/check-options.ts";
import { processId } from "../runtime.ts";
import { checkKnownKeys, checkSeconds } from "./checks.ts";
import type { CommonOptions } from "./types.ts";
import type { Authorize } from "./authorize.ts";
import type { DebugOption } from "./debug-log.ts";
import type { KernelOptions } from "./kernel.ts";

/** IKC's customary port. */
export const DEFAULT_PORT = 603;
/** Seconds a request of ours waits for its answer. */
export const DEFAULT_TIMEOUT = 30;
/** Largest frame accepted, in bytes. */
export const DEFAULT_MAX_FRAME_SIZE: number = 64 * 1024 * 1024;
/** Longest negotiation line accepted, in bytes. */
export const DEFAULT_MAX_LINE_LENGTH = 4096;
/** Bytes queued for a peer that does not read. */
export const DEFAULT_MAX_WRITE_BUFFER: number = 16 * 1024 * 1024;
/** Requests of one peer our states may run at once. */
export const DEFAULT_MAX_IN_FLIGHT = 1000;

/** The keys of {@link CommonOptions}. */
const COMMON_KEYS: readonly string[] = [
  "host",
  "port",
  "path",
  "name",
  "aliases",
  "timeout",
  "connectTimeout",
  "serializer",
  "blockSize",
  "protocol",
  "transport",
  "maxFrameSize",
  "maxLineLength",
  "maxWriteBuffer",
  "maxInFlight",
  "authorize",
  "debug",
];

/**
 * {@link CommonOptions} resolved: every default filled in, every value checked.
 *
 * @example
 * ```ts
 * import type { CommonSettings } from "./settings.ts";
 * const where = (s: CommonSettings) => s.path ?? `${s.host}:${s.port}`;
 * ```
 */
export interface CommonSettings {
  host: string;
  port: number;
  path: string | undefined;
  name: string;
  aliases: string[];
  timeout: number;
  connectTimeout: number;
  freezers: Freezer[];
  blockSize: number;
  protocol: "IKC0" | "IKC";
  transport: Transport;
  maxFrameSize: number;
  maxLineLength: number;
  maxWriteBuffer: number;
  maxInFlight: number;
  authorize: Authorize | undefined;
  debug: DebugOption | undefined;
}

/**
 * What differs between the ends' defaults.
 *
 * @example
 * ```ts
 * import type { EndDefaults } from "./settings.ts";
 * const d: EndDefaults = { what: "server", host: "127.0.0.1", namePrefix: "Server", connectTimeout: 10, serializer: ["Storable"], keys: ["maxClients"] };
 * ```
 */
export interface EndDefaults {
  /** `client` or `server`, for the unknown-key TypeError. */
  what: string;
  host: string;
  /** The default name is this and the process id. */
  namePrefix: string;
  /** Default `connectTimeout` (undefined: the `timeout`). */
  connectTimeout: number | undefined;
  serializer: string | readonly string[];
  /** Limits the built-in freezers decode under (default: each codec's own). */
  decodeLimits?: DecodeLimits;
  /** Default `maxFrameSize` (default {@link DEFAULT_MAX_FRAME_SIZE}). */
  maxFrameSize?: number;
  /** The keys only this end takes. */
  keys: readonly string[];
}

/**
 * Resolves the options both ends share (after checking that every key of `options` is one of
 * them or of `d.keys`); throws a TypeError naming what is wrong.
 *
 * @example
 * ```ts
 * import { resolveCommon } from "./settings.ts";
 * const s = resolveCommon({ port: 0 }, { what: "server", host: "127.0.0.1", namePrefix: "Server", connectTimeout: 10, serializer: "Storable", keys: [] });
 * console.log(s.maxLineLength); // 4096
 * ```
 */
export function resolveCommon(options: CommonOptions, d: EndDefaults): CommonSettings {
  checkKnownKeys(options, new Set([...COMMON_KEYS, ...d.keys]), d.what);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  const s: CommonSettings = {
    host: options.host ?? d.host,
    port: options.port ?? DEFAULT_PORT,
    path: options.path,
    name: options.name ?? `${d.namePrefix}${processId()}`,
    aliases: options.aliases ?? [],
    timeout,
    connectTimeout: options.connectTimeout ?? d.connectTimeout ?? timeout,
    freezers: [],
    blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
    protocol: options.protocol ?? "IKC0",
    transport: undefined as unknown as Transport,
    maxFrameSize: options.maxFrameSize ?? d.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    maxLineLength: options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH,
    maxWriteBuffer: options.maxWriteBuffer ?? DEFAULT_MAX_WRITE_BUFFER,
    maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    authorize: options.authorize,
    debug: options.debug,
  };
  if (s.authorize !== undefined && typeof s.authorize !== "function") {
    throw new TypeError("authorize must be a function");
  }
  if (s.debug !== undefined && typeof s.debug !== "boolean" && typeof s.debug !== "function") {
    throw new TypeError("debug must be a boolean or a function");
  }
  checkSeconds(s.timeout);
  checkSeconds(s.connectTimeout, "connectTimeout");
  atLeastOne(s, ["blockSize", "maxFrameSize", "maxLineLength", "maxWriteBuffer", "maxInFlight"]);
  if (s.protocol !== "IKC0" && s.protocol !== "IKC") {
    throw new TypeError(`protocol must be IKC0 or IKC, not ${s.protocol}`);
  }
  for (const n of [s.name, ...s.aliases]) {
    if (!isValidKernelName(n)) {
      throw new TypeError(`kernel name ${JSON.stringify(n)} may only hold letters, digits, '_', '-' and '.'`);
    }
  }
  s.freezers = resolveFreezers(options.serializer ?? d.serializer, d.decodeLimits);
  const t = options.transport;
  s.transport = t === undefined ? detectTransport() : typeof t === "string" ? transportFor(t) : t;
  return s;
}

/**
 * Throws a TypeError unless each of `keys` of `s` is a number of at least 1.
 *
 * @example
 * ```ts
 * import { atLeastOne } from "./settings.ts";
 * atLeastOne({ maxClients: 10 }, ["maxClients"]);
 * ```
 */
export function atLeastOne<T extends object>(s: T, keys: ReadonlyArray<keyof T & string>): void {
  for (const k of keys) {
    if (!((s[k] as unknown as number) >= 1)) throw new TypeError(`${k} must be at least 1`);
  }
}

/**
 * The kernel options either end takes from its settings as they are; each adds its own hooks.
 *
 * @example
 * ```ts
 * import { kernelOptions, resolveCommon } from "./settings.ts";
 * import { Kernel } from "./kernel.ts";
 * const s = resolveCommon({ name: "Hub" }, { what: "server", host: "127.0.0.1", namePrefix: "Server", connectTimeout: 10, serializer: "Storable", keys: [] });
 * const kernel = new Kernel({ ...kernelOptions(s, "Hub-1"), holdTimer: () => false });
 * ```
 */
export function kernelOptions(
  s: CommonSettings,
  id: string,
): Pick<KernelOptions, "id" | "names" | "timeout" | "maxInFlight" | "authorize" | "debug"> {
  return {
    id,
    names: [s.name, ...s.aliases],
    timeout: s.timeout,
    maxInFlight: s.maxInFlight,
    authorize: s.authorize,
    debug: s.debug,
  };
}

/**
 * The server's options, resolved in one place: defaults, checks, and the TypeError for a key
 * that is not an option.
 *
 * @module
 */
import { checkKnownKeys, checkSeconds } from "../kernel/checks.ts";
import { atLeastOne, type CommonSettings, resolveCommon } from "../kernel/settings.ts";
import type { CommonOptions } from "../kernel/types.ts";
import type { ListenTlsOptions } from "../transport/types.ts";
import { type DecodeLimits, resolveLimits, SERVER_DECODE_LIMITS } from "../core/limits.ts";

export { SERVER_DECODE_LIMITS } from "../core/limits.ts";

/**
 * Options of {@link IkcServer.listen}: {@link CommonOptions} and the server's own. Times are in seconds.
 *
 * @example
 * ```ts
 * import type { IkcServerOptions } from "@poe-ikc/ikc";
 * const o: IkcServerOptions = { port: 0, name: "Hub", aliases: ["hub"], maxClients: 100 };
 * ```
 */
export interface IkcServerOptions extends CommonOptions {
  /**
   * Clients served at once, negotiation done (default 1000); a socket that arrives beyond it is
   * closed at once, with a report. Sockets still negotiating do not count.
   */
  maxClients?: number;
  /**
   * Clients negotiating or served at once, as Perl's IKC::Server has it (default: no limit but
   * `maxClients`). Further sockets wait, unread, for a slot (at most `connectTimeout`, then they
   * are dropped) rather than being refused: Perl's ClientLite dies when refused.
   */
  concurrency?: number;
  /**
   * Sockets waiting for a `concurrency` slot or negotiating at once (default 128); more are
   * closed at once, with a report. Each has `connectTimeout` to negotiate.
   */
  maxNegotiating?: number;
  /**
   * Sockets one remote address may hold at once, waiting, negotiating or served (default 64);
   * more are closed at once, with a report. Unix-socket clients have no address and no such cap.
   */
  maxClientsPerAddress?: number;
  /** Seconds a frame may take to arrive once its first byte has (default 30); a client that stalls mid-frame is dropped. */
  frameTimeout?: number;
  /**
   * What one frame from a client may cost to decode, for the freezers named by string (default
   * {@link SERVER_DECODE_LIMITS}: 50,000 values in at most 2 MiB, so that no frame holds the
   * event loop every client shares for long). `maxFrameSize` defaults to its `maxInputSize`.
   * Raise them where every peer is trusted: `{ maxElements: 1_000_000, maxInputSize: 64 << 20 }`.
   */
  decodeLimits?: DecodeLimits;
  /**
   * Speak TLS: PEM `cert` and `key`; with `requestCert`, a client needs a certificate signed by
   * `ca` (unless `rejectUnauthorized: false`, which admits it and says so in `peer.tls`). A plain
   * or refused client is dropped and reported; the others are served. Never falls back to plain text.
   */
  tls?: ListenTlsOptions;
  /** Seconds {@link IkcServer.close} lets calls in flight finish (default 5). */
  closeTimeout?: number;
}

const DECODE_LIMIT_KEYS: ReadonlySet<string> = new Set(Object.keys(SERVER_DECODE_LIMITS));

/** Address a server binds by default (this host only). */
export const DEFAULT_SERVER_HOST = "127.0.0.1";
/** Seconds a client has to negotiate. */
export const DEFAULT_SERVER_CONNECT_TIMEOUT = 10;
/** Clients served at once. */
export const DEFAULT_MAX_CLIENTS = 1000;
/** Sockets waiting or negotiating at once. */
export const DEFAULT_MAX_NEGOTIATING = 128;
/** Sockets one address may hold. */
export const DEFAULT_MAX_CLIENTS_PER_ADDRESS = 64;
/** Seconds a frame may take once started. */
export const DEFAULT_FRAME_TIMEOUT = 30;
/** Seconds close() lets calls in flight finish. */
export const DEFAULT_CLOSE_TIMEOUT = 5;
/** Freezers a server accepts, preferred first. */
export const DEFAULT_SERVER_FREEZERS: readonly string[] = ["Storable", "FreezeThaw", "POE::Component::IKC::Freezer"];

/**
 * Server options with every default filled in and checked.
 *
 * @example
 * ```ts
 * import { resolveServerOptions } from "./options.ts";
 * console.log(resolveServerOptions({ port: 0 }).maxClients); // 1000
 * ```
 */
export interface ServerSettings extends CommonSettings {
  maxClients: number;
  concurrency: number;
  maxNegotiating: number;
  maxClientsPerAddress: number;
  frameTimeout: number;
  closeTimeout: number;
  tls: ListenTlsOptions | undefined;
}

/**
 * Resolves and checks server options; throws a TypeError naming what is wrong.
 *
 * @example
 * ```ts
 * import { resolveServerOptions } from "./options.ts";
 * const s = resolveServerOptions({ port: 0, name: "Hub" });
 * console.log(s.name, s.timeout); // Hub 30
 * ```
 */
export function resolveServerOptions(options: IkcServerOptions): ServerSettings {
  checkKnownKeys(options.decodeLimits, DECODE_LIMIT_KEYS, "decodeLimits");
  const decodeLimits = resolveLimits({ ...SERVER_DECODE_LIMITS, ...options.decodeLimits });
  const s: ServerSettings = {
    ...resolveCommon(options, {
      what: "server",
      host: DEFAULT_SERVER_HOST,
      namePrefix: "Server",
      connectTimeout: DEFAULT_SERVER_CONNECT_TIMEOUT,
      serializer: DEFAULT_SERVER_FREEZERS,
      keys: [
        "maxClients",
        "concurrency",
        "maxNegotiating",
        "maxClientsPerAddress",
        "frameTimeout",
        "decodeLimits",
        "tls",
        "closeTimeout",
      ],
      decodeLimits,
      maxFrameSize: decodeLimits.maxInputSize === Infinity ? undefined : decodeLimits.maxInputSize,
    }),
    maxClients: options.maxClients ?? DEFAULT_MAX_CLIENTS,
    concurrency: options.concurrency ?? Infinity,
    maxNegotiating: options.maxNegotiating ?? DEFAULT_MAX_NEGOTIATING,
    maxClientsPerAddress: options.maxClientsPerAddress ?? DEFAULT_MAX_CLIENTS_PER_ADDRESS,
    frameTimeout: options.frameTimeout ?? DEFAULT_FRAME_TIMEOUT,
    closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    tls: options.tls,
  };
  checkSeconds(s.closeTimeout, "closeTimeout");
  checkSeconds(s.frameTimeout, "frameTimeout");
  atLeastOne(s, ["maxClients", "concurrency", "maxNegotiating", "maxClientsPerAddress"]);
  return s;
}

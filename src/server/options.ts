/**
 * The server's options, resolved in one place: defaults, checks, and the TypeError for a key
 * that is not an option.
 *
 * @module
 */
import type { Freezer } from "../core/freezer.ts";
import { resolveFreezers } from "../core/freezers.ts";
import { checkKnownKeys, checkSeconds } from "../kernel/checks.ts";
import {
  checkKernelNames,
  checkProtocol,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_MAX_WRITE_BUFFER,
  DEFAULT_PORT,
  DEFAULT_TIMEOUT,
  resolveTransport,
} from "../kernel/settings.ts";
import type { Transport } from "../transport/types.ts";
import { processId } from "../runtime.ts";

/**
 * Options of {@link IkcServer.listen}. Times are in seconds.
 *
 * @example
 * ```ts
 * import type { IkcServerOptions } from "@poe-ikc/ikc";
 * const o: IkcServerOptions = { port: 0, name: "Hub", aliases: ["hub"], maxClients: 100 };
 * ```
 */
export interface IkcServerOptions {
  /** Address to bind (default `127.0.0.1`; `0.0.0.0` for every interface). Ignored when `path` is set. */
  host?: string;
  /** TCP port (default 603); 0 picks a free one, then `server.port` says which. */
  port?: number;
  /** Unix-domain socket path; when set, used instead of host/port. */
  path?: string;
  /** Our kernel name (default `Server<pid>`). */
  name?: string;
  /** Further names for our kernel. */
  aliases?: string[];
  /**
   * The freezers accepted, preferred first: package names or Freezer objects (default all three:
   * `Storable`, `FreezeThaw`, `POE::Component::IKC::Freezer`).
   */
  serializer?: string | Freezer | ReadonlyArray<string | Freezer>;
  /** `IKC0` (default: answers both IKC0 and classic IKC) or `IKC` (answers `SETUP` with `NOT`, as a Perl server spawned with protocol IKC). */
  protocol?: "IKC0" | "IKC";
  /** Default answer timeout for {@link IkcServer.call} (default 30). */
  timeout?: number;
  /** Seconds a client has to finish negotiating before it is dropped (default 10). */
  connectTimeout?: number;
  /** Largest frame accepted from a client, in bytes (default 64 MiB); a bigger one drops the client. */
  maxFrameSize?: number;
  /** Longest negotiation line accepted, in bytes (default 4096). */
  maxLineLength?: number;
  /** Bytes queued for one client that does not read before it is dropped (default 16 MiB). */
  maxWriteBuffer?: number;
  /** Clients connected at once (default 1000); more are closed at once, with a report. */
  maxClients?: number;
  /** Largest read from a socket, in bytes (default 65535). */
  blockSize?: number;
  /** Seconds {@link IkcServer.close} lets calls in flight finish (default 5). */
  closeTimeout?: number;
  /** Transport to use: a Transport object or a runtime name (default: detected). */
  transport?: Transport | "deno" | "bun" | "node";
}

/** Address a server binds by default (this host only). */
export const DEFAULT_SERVER_HOST = "127.0.0.1";
/** Seconds a client has to negotiate. */
export const DEFAULT_SERVER_CONNECT_TIMEOUT = 10;
/** Clients connected at once. */
export const DEFAULT_MAX_CLIENTS = 1000;
/** Seconds close() lets calls in flight finish. */
export const DEFAULT_CLOSE_TIMEOUT = 5;
/** Freezers a server accepts, preferred first. */
export const DEFAULT_SERVER_FREEZERS: readonly string[] = ["Storable", "FreezeThaw", "POE::Component::IKC::Freezer"];

const SERVER_KEYS: ReadonlySet<string> = new Set([
  "host",
  "port",
  "path",
  "name",
  "aliases",
  "serializer",
  "protocol",
  "timeout",
  "connectTimeout",
  "maxFrameSize",
  "maxLineLength",
  "maxWriteBuffer",
  "maxClients",
  "blockSize",
  "closeTimeout",
  "transport",
]);

/**
 * Server options with every default filled in and checked.
 *
 * @example
 * ```ts
 * import { resolveServerOptions } from "./options.ts";
 * console.log(resolveServerOptions({ port: 0 }).maxClients); // 1000
 * ```
 */
export interface ServerSettings {
  host: string;
  port: number;
  path: string | undefined;
  name: string;
  aliases: string[];
  freezers: Freezer[];
  protocol: "IKC0" | "IKC";
  timeout: number;
  connectTimeout: number;
  maxFrameSize: number;
  maxLineLength: number;
  maxWriteBuffer: number;
  maxClients: number;
  blockSize: number | undefined;
  closeTimeout: number;
  transport: Transport;
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
  checkKnownKeys(options, SERVER_KEYS, "server");
  const s: ServerSettings = {
    host: options.host ?? DEFAULT_SERVER_HOST,
    port: options.port ?? DEFAULT_PORT,
    path: options.path,
    name: options.name ?? `Server${processId()}`,
    aliases: options.aliases ?? [],
    freezers: [],
    protocol: options.protocol ?? "IKC0",
    timeout: options.timeout ?? DEFAULT_TIMEOUT,
    connectTimeout: options.connectTimeout ?? DEFAULT_SERVER_CONNECT_TIMEOUT,
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    maxLineLength: options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH,
    maxWriteBuffer: options.maxWriteBuffer ?? DEFAULT_MAX_WRITE_BUFFER,
    maxClients: options.maxClients ?? DEFAULT_MAX_CLIENTS,
    blockSize: options.blockSize,
    closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    transport: undefined as unknown as Transport,
  };
  checkKernelNames([s.name, ...s.aliases]);
  checkProtocol(s.protocol);
  checkSeconds(s.timeout);
  checkSeconds(s.connectTimeout, "connectTimeout");
  checkSeconds(s.closeTimeout, "closeTimeout");
  for (const k of ["maxFrameSize", "maxLineLength", "maxWriteBuffer", "maxClients"] as const) {
    if (!(s[k] >= 1)) throw new TypeError(`${k} must be at least 1`);
  }
  s.freezers = resolveFreezers(options.serializer ?? DEFAULT_SERVER_FREEZERS);
  s.transport = resolveTransport(options.transport);
  return s;
}

/**
 * The client's options, resolved in one place: the defaults (as `DEFAULT_*` constants the code
 * uses), the checks, and the TypeError for a key that is not an option.
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
import { DEFAULT_BLOCK_SIZE } from "../transport/types.ts";
import { processId } from "../runtime.ts";
import type { IkcClientOptions } from "./types.ts";

/** Host a client dials by default. */
export const DEFAULT_CLIENT_HOST = "localhost";
/** Freezer a client offers by default. */
export const DEFAULT_CLIENT_FREEZER = "Storable";
/** Messages kept for states nobody listens to yet. */
export const DEFAULT_INBOX_LIMIT = 1000;
/** Longest a graceful disconnect waits for the server, in seconds (less when `connectTimeout` is). */
export const DISCONNECT_WAIT = 1;

const CLIENT_KEYS: ReadonlySet<string> = new Set([
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
  "reconnect",
  "keepAlive",
  "inboxLimit",
]);

/**
 * Client options with every default filled in and checked.
 *
 * @example
 * ```ts
 * import type { ClientSettings } from "./options.ts";
 * const where = (s: ClientSettings) => s.path ?? `${s.host}:${s.port}`;
 * ```
 */
export interface ClientSettings {
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
  reconnect: boolean;
  /** Undefined: keep the connection up once something is published. */
  keepAlive: boolean | undefined;
  inboxLimit: number;
}

/**
 * Resolves and checks client options; throws a TypeError naming what is wrong.
 *
 * @example
 * ```ts
 * import { resolveClientOptions } from "./options.ts";
 * console.log(resolveClientOptions({ port: 6030 }).timeout); // 30
 * ```
 */
export function resolveClientOptions(options: IkcClientOptions): ClientSettings {
  checkKnownKeys(options, CLIENT_KEYS, "client");
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  const s: ClientSettings = {
    host: options.host ?? DEFAULT_CLIENT_HOST,
    port: options.port ?? DEFAULT_PORT,
    path: options.path,
    name: options.name ?? `Client${processId()}`,
    aliases: options.aliases ?? [],
    timeout,
    connectTimeout: options.connectTimeout ?? timeout,
    freezers: [],
    blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
    protocol: options.protocol ?? "IKC0",
    transport: undefined as unknown as Transport,
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    maxLineLength: options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH,
    maxWriteBuffer: options.maxWriteBuffer ?? DEFAULT_MAX_WRITE_BUFFER,
    reconnect: options.reconnect ?? true,
    keepAlive: options.keepAlive,
    inboxLimit: options.inboxLimit ?? DEFAULT_INBOX_LIMIT,
  };
  checkSeconds(s.timeout);
  checkSeconds(s.connectTimeout, "connectTimeout");
  if (!(s.blockSize >= 1)) throw new TypeError("blockSize must be at least 1");
  if (!(s.maxWriteBuffer >= 1)) throw new TypeError("maxWriteBuffer must be at least 1");
  checkProtocol(s.protocol);
  checkKernelNames([s.name, ...s.aliases]);
  s.freezers = resolveFreezers(options.serializer ?? DEFAULT_CLIENT_FREEZER);
  s.transport = resolveTransport(options.transport);
  return s;
}

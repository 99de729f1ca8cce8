/**
 * The client's options, resolved in one place: the defaults (as `DEFAULT_*` constants the code
 * uses), the checks, and the TypeError for a key that is not an option.
 *
 * @module
 */
import type { ConnectTlsOptions } from "../transport/types.ts";
import { type CommonSettings, resolveCommon } from "../kernel/settings.ts";
import type { IkcClientOptions } from "./types.ts";

/** Host a client dials by default. */
export const DEFAULT_CLIENT_HOST = "localhost";
/** Freezer a client offers by default. */
export const DEFAULT_CLIENT_FREEZER = "Storable";
/** Messages kept for states nobody listens to yet. */
export const DEFAULT_INBOX_LIMIT = 1000;
/** Longest a graceful disconnect waits for the server, in seconds (less when `connectTimeout` is). */
export const DISCONNECT_WAIT = 1;

/**
 * Client options with every default filled in and checked.
 *
 * @example
 * ```ts
 * import type { ClientSettings } from "./options.ts";
 * const where = (s: ClientSettings) => s.path ?? `${s.host}:${s.port}`;
 * ```
 */
export interface ClientSettings extends CommonSettings {
  reconnect: boolean;
  /** Undefined: keep the connection up once something is published. */
  keepAlive: boolean | undefined;
  inboxLimit: number;
  tls: true | ConnectTlsOptions | undefined;
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
  return {
    ...resolveCommon(options, {
      what: "client",
      host: DEFAULT_CLIENT_HOST,
      namePrefix: "Client",
      connectTimeout: undefined,
      serializer: DEFAULT_CLIENT_FREEZER,
      keys: ["reconnect", "keepAlive", "inboxLimit", "tls"],
    }),
    reconnect: options.reconnect ?? true,
    keepAlive: options.keepAlive,
    inboxLimit: options.inboxLimit ?? DEFAULT_INBOX_LIMIT,
    tls: options.tls,
  };
}

/**
 * The server's options, resolved in one place: defaults, checks, and the TypeError for a key
 * that is not an option.
 *
 * @module
 */
import { checkSeconds } from "../kernel/checks.ts";
import { atLeastOne, type CommonSettings, resolveCommon } from "../kernel/settings.ts";
import type { CommonOptions } from "../kernel/types.ts";

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
  /** Clients connected at once (default 1000); more are closed at once, with a report. */
  maxClients?: number;
  /** Seconds {@link IkcServer.close} lets calls in flight finish (default 5). */
  closeTimeout?: number;
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
  closeTimeout: number;
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
  const s: ServerSettings = {
    ...resolveCommon(options, {
      what: "server",
      host: DEFAULT_SERVER_HOST,
      namePrefix: "Server",
      connectTimeout: DEFAULT_SERVER_CONNECT_TIMEOUT,
      serializer: DEFAULT_SERVER_FREEZERS,
      keys: ["maxClients", "closeTimeout"],
    }),
    maxClients: options.maxClients ?? DEFAULT_MAX_CLIENTS,
    closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
  };
  checkSeconds(s.closeTimeout, "closeTimeout");
  atLeastOne(s, ["maxClients"]);
  return s;
}

/**
 * Checks of the options a transport's `connect` and `listen` take, and their defaults.
 *
 * @module
 */
import { ConnectError } from "../core/errors.ts";
import type { ConnectOptions, ListenOptions } from "./types.ts";

/**
 * Default {@link Transport.connect} `blockSize`: the most bytes one `read()` returns.
 *
 * @example
 * ```ts
 * import { DEFAULT_BLOCK_SIZE } from "./check-options.ts";
 * import { nodeTransport } from "./node.ts";
 * const conn = await nodeTransport.connect({ port: 603, blockSize: 4 * DEFAULT_BLOCK_SIZE });
 * ```
 */
export const DEFAULT_BLOCK_SIZE: number = 65535;

/**
 * The address of a connection, as used in messages: the Unix path, else `host:port`.
 *
 * @example
 * ```ts
 * import { describeRemote } from "./check-options.ts";
 * describeRemote({ port: 603 }); // "localhost:603"
 * ```
 */
export function describeRemote(options: ConnectOptions): string {
  return options.path !== undefined ? options.path : `${options.host ?? "localhost"}:${options.port}`;
}

/**
 * Checks connect options before a transport uses them; returns the remote description and block size.
 * Throws ConnectError when neither a port nor a path is given, or the block size is not a positive integer.
 *
 * @example
 * ```ts
 * import { checkConnectOptions } from "./check-options.ts";
 * checkConnectOptions({ host: "::1", port: 603 }); // { remote: "::1:603", blockSize: 65535 }
 * ```
 */
export function checkConnectOptions(
  options: ConnectOptions & { blockSize?: number },
): { remote: string; blockSize: number } {
  const remote = describeRemote(options);
  if (options.path === undefined) {
    const port = options.port;
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConnectError(`connect to ${remote}: a port (1-65535) or a unix socket path is required`);
    }
  }
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new ConnectError(`connect to ${remote}: blockSize must be a positive integer, got ${blockSize}`);
  }
  return { remote, blockSize };
}

/**
 * Checks listen options before a transport uses them and fills in the defaults. `address` names
 * the requested address (port 0 included) for error messages.
 * Throws ConnectError when the port is not 0-65535 or the block size is not a positive integer.
 *
 * @example
 * ```ts
 * import { checkListenOptions } from "./check-options.ts";
 * checkListenOptions({ port: 0 });
 * // { address: "127.0.0.1:0", host: "127.0.0.1", port: 0, path: undefined, blockSize: 65535 }
 * ```
 */
export function checkListenOptions(options: ListenOptions): {
  address: string;
  host: string;
  port: number;
  path: string | undefined;
  blockSize: number;
} {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  const path = options.path;
  const address = path ?? `${host}:${port}`;
  if (path === undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConnectError(`listen on ${address}: the port must be 0-65535 (0 picks a free one)`);
  }
  if (path === "") throw new ConnectError("listen: the unix socket path is empty");
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new ConnectError(`listen on ${address}: blockSize must be a positive integer, got ${blockSize}`);
  }
  return { address, host, port, path, blockSize };
}

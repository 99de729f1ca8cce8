/**
 * The errors a transport reports, each naming the address and, where the OS gave one, its code.
 *
 * @module
 */
import { ConnectError, DisconnectedError } from "../core/errors.ts";

/**
 * The error `write()` rejects with on a closed connection.
 *
 * @example
 * ```ts
 * import { closedError } from "./errors.ts";
 * const err = closedError("127.0.0.1:603"); // DisconnectedError
 * ```
 */
export function closedError(remote: string, cause?: unknown): DisconnectedError {
  return new DisconnectedError(`connection to ${remote} is closed`, cause === undefined ? undefined : { cause });
}

/** OS error code of a failed socket call (`ECONNREFUSED`...), looking inside AggregateError too. */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[] } | undefined;
  if (e && typeof e.code === "string") return e.code;
  if (e && Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
  return undefined;
}

/** `CODE (message)` of a failed socket call. */
function why(err: unknown): string {
  const code = errorCode(err) ?? (err instanceof Error && err.name !== "Error" ? err.name : "error");
  return `${code} (${err instanceof Error ? err.message : String(err)})`;
}

/**
 * The error a transport rejects `connect()` with when the OS refuses: names the address and code.
 *
 * @example
 * ```ts
 * import { connectFailed } from "./errors.ts";
 * const err = connectFailed("127.0.0.1:1", Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
 * err.message; // "connect to 127.0.0.1:1 failed: ECONNREFUSED (refused)"
 * ```
 */
export function connectFailed(remote: string, err: unknown): ConnectError {
  return new ConnectError(`connect to ${remote} failed: ${why(err)}`, { cause: err });
}

/**
 * The error a transport rejects `connect()` with when its AbortSignal fires; `cause` is the signal's reason.
 *
 * @example
 * ```ts
 * import { connectAborted } from "./errors.ts";
 * const ac = new AbortController();
 * ac.abort();
 * connectAborted("localhost:603", ac.signal).message; // "connect to localhost:603 aborted"
 * ```
 */
export function connectAborted(remote: string, signal: AbortSignal): ConnectError {
  return new ConnectError(`connect to ${remote} aborted`, { cause: signal.reason });
}

/**
 * The error a transport rejects `connect()` with when the TLS handshake fails: the server's
 * certificate does not verify (unknown CA, wrong name), or the other end does not speak TLS.
 *
 * @example
 * ```ts
 * import { tlsFailed } from "./errors.ts";
 * const err = tlsFailed("localhost:603", Object.assign(new Error("bad name"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }));
 * err.message; // "TLS handshake with localhost:603 failed: ERR_TLS_CERT_ALTNAME_INVALID (bad name)"
 * ```
 */
export function tlsFailed(remote: string, err: unknown): ConnectError {
  return new ConnectError(`TLS handshake with ${remote} failed: ${why(err)}`, { cause: err });
}

/**
 * The error a transport rejects `listen()` with when the OS refuses to bind (`EADDRINUSE`,
 * `EACCES`...), or `accept()` with when accepting fails: names the address and the code.
 *
 * @example
 * ```ts
 * import { listenFailed } from "./errors.ts";
 * const err = listenFailed("127.0.0.1:603", Object.assign(new Error("in use"), { code: "EADDRINUSE" }));
 * err.message; // "listen on 127.0.0.1:603 failed: EADDRINUSE (in use)"
 * ```
 */
export function listenFailed(address: string, err: unknown): ConnectError {
  return new ConnectError(`listen on ${address} failed: ${why(err)}`, { cause: err });
}

/**
 * The error reads reject with after a socket error (a reset, a broken pipe, a failed TLS alert):
 * names the address and the OS or TLS code.
 *
 * @example
 * ```ts
 * import { socketFailed } from "./errors.ts";
 * const err = socketFailed("127.0.0.1:603", Object.assign(new Error("reset"), { code: "ECONNRESET" }));
 * err.message; // "connection to 127.0.0.1:603 failed: ECONNRESET"
 * ```
 */
export function socketFailed(remote: string, err: unknown): DisconnectedError {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  const code = errorCode(err) ?? (typeof e?.message === "string" && e.message !== "" ? e.message : String(e?.name));
  return new DisconnectedError(`connection to ${remote} failed: ${code}`, { cause: err });
}

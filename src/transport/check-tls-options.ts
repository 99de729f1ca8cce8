/**
 * Checks of the `tls` options of `connect` and `listen`.
 *
 * @module
 */
import type { ConnectTlsOptions, ListenTlsOptions } from "./types.ts";

const CONNECT_KEYS = new Set(["ca", "cert", "key", "serverName", "rejectUnauthorized"]);
const LISTEN_KEYS = new Set(["ca", "cert", "key", "requestCert", "rejectUnauthorized", "handshakeTimeout"]);

/** Default {@link ListenTlsOptions.handshakeTimeout}, in milliseconds. */
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * The client's `tls` option checked and filled in (`true` becomes `{}`), or undefined without TLS.
 * Throws TypeError on an unknown key or a value of the wrong type, naming it.
 *
 * @example
 * ```ts
 * import { checkConnectTls } from "./check-tls-options.ts";
 * checkConnectTls(true); // { rejectUnauthorized: true }
 * checkConnectTls(undefined); // undefined
 * ```
 */
export function checkConnectTls(
  tls: unknown,
): (ConnectTlsOptions & { ca?: string[]; rejectUnauthorized: boolean }) | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return { rejectUnauthorized: true };
  const o = plainObject(tls, "connect: tls must be true or an object");
  checkKeys(o, CONNECT_KEYS, "connect");
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new TypeError("connect: tls.cert and tls.key go together");
  }
  return {
    ca: pemList(o.ca, "connect: tls.ca"),
    cert: optionalString(o.cert, "connect: tls.cert"),
    key: optionalString(o.key, "connect: tls.key"),
    serverName: optionalString(o.serverName, "connect: tls.serverName"),
    rejectUnauthorized: optionalBoolean(o.rejectUnauthorized, "connect: tls.rejectUnauthorized") ?? true,
  };
}

/**
 * The listener's `tls` option checked and filled in, or undefined without TLS. Throws TypeError on
 * an unknown key, a missing `cert` or `key`, or a value of the wrong type, naming it.
 *
 * @example
 * ```ts
 * import { checkListenTls } from "./check-tls-options.ts";
 * const pem = "-----BEGIN CERTIFICATE-----\n...";
 * checkListenTls({ cert: pem, key: "-----BEGIN PRIVATE KEY-----\n..." }).requestCert; // false
 * ```
 */
export function checkListenTls(
  tls: unknown,
): ListenTlsOptions & { ca?: string[]; requestCert: boolean; rejectUnauthorized: boolean; handshakeTimeout: number } {
  const o = plainObject(tls, "listen: tls must be an object with cert and key");
  checkKeys(o, LISTEN_KEYS, "listen");
  const cert = optionalString(o.cert, "listen: tls.cert");
  const key = optionalString(o.key, "listen: tls.key");
  if (cert === undefined || key === undefined) throw new TypeError("listen: tls needs cert and key (PEM strings)");
  const handshakeTimeout = o.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (typeof handshakeTimeout !== "number" || !Number.isInteger(handshakeTimeout) || handshakeTimeout < 1) {
    throw new TypeError(
      `listen: tls.handshakeTimeout must be a positive integer (ms), got ${String(handshakeTimeout)}`,
    );
  }
  return {
    cert,
    key,
    ca: pemList(o.ca, "listen: tls.ca"),
    requestCert: optionalBoolean(o.requestCert, "listen: tls.requestCert") ?? false,
    rejectUnauthorized: optionalBoolean(o.rejectUnauthorized, "listen: tls.rejectUnauthorized") ?? true,
    handshakeTimeout,
  };
}

function plainObject(value: unknown, message: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TypeError(message);
  return value as Record<string, unknown>;
}

function checkKeys(o: Record<string, unknown>, known: Set<string>, where: string): void {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) {
      throw new TypeError(`${where}: unknown tls option ${JSON.stringify(k)} (known: ${[...known].join(", ")})`);
    }
  }
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw new TypeError(`${name} must be a boolean`);
  return value;
}

function pemList(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new TypeError(`${name} must not be empty`);
  return list.map((v, i) => optionalString(v, `${name}[${i}]`) as string);
}

/**
 * What a `node:tls` socket tells of its peer, as a {@link TlsPeer}.
 *
 * @module
 */
import type { TlsPeer } from "./types.ts";

/** The longest subject text kept: a certificate is peer data. */
const MAX_SUBJECT = 256;

/** The part of a `node:tls` TLSSocket read here. */
interface TlsSocketLike {
  readonly authorized?: boolean;
  readonly authorizationError?: unknown;
  // The detailed flag keeps node:tls's overloads assignable under every runtime's typings.
  getPeerCertificate?(detailed?: boolean): { subject?: unknown } | null | undefined;
  getProtocol?(): string | null;
}

/**
 * The peer of a `node:tls` socket whose handshake is done: whether its certificate verified, why
 * not, its subject (as `CN=name, O=org`, control characters escaped, at most 256 characters) and
 * the protocol version.
 *
 * @example
 * ```ts
 * import tls from "node:tls";
 * import { tlsPeerOf } from "./tls-peer.ts";
 * const socket = tls.connect({ host: "example.org", port: 443 }, () => console.log(tlsPeerOf(socket)));
 * ```
 */
export function tlsPeerOf(socket: TlsSocketLike): TlsPeer {
  let subject: string | undefined;
  // A peer that showed no certificate has none verified, whatever the socket's flag says (Deno's
  // node:tls server, not asking for one, reports such a client as authorized).
  let showedNone = false;
  try {
    const cert = socket.getPeerCertificate?.();
    showedNone = socket.getPeerCertificate !== undefined && (cert == null || Object.keys(cert).length === 0);
    subject = describeSubject(cert?.subject);
  } catch {
    // no certificate, or a runtime that cannot tell
  }
  const error = socket.authorizationError;
  return {
    authorized: socket.authorized === true && !showedNone,
    ...(error !== undefined && error !== null ? { authorizationError: bounded(String(error)) } : {}),
    ...(subject !== undefined ? { subject } : {}),
    ...(typeof socket.getProtocol?.() === "string" ? { protocol: bounded(socket.getProtocol!()!) } : {}),
  };
}

function describeSubject(subject: unknown): string | undefined {
  if (subject === undefined || subject === null || typeof subject !== "object") return undefined;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(subject as Record<string, unknown>)) {
    for (const value of Array.isArray(v) ? v : [v]) parts.push(`${k}=${String(value)}`);
  }
  return parts.length > 0 ? bounded(parts.join(", ")) : undefined;
}

/** Control characters escaped as `\xNN`, cut at MAX_SUBJECT characters. */
function bounded(text: string): string {
  const cut = text.length > MAX_SUBJECT ? text.slice(0, MAX_SUBJECT) : text;
  // deno-lint-ignore no-control-regex
  const escaped = cut.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped.length > MAX_SUBJECT ? `${escaped.slice(0, MAX_SUBJECT)}...` : escaped;
}

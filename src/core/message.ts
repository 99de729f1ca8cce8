/**
 * IKC messages: the hash every frame thaws to, read into a checked shape ({@link parseMessage})
 * and built for the wire ({@link requestMessage}, {@link responseMessage}, {@link remoteErrorMessage}).
 * Pure: no I/O.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import type { PerlValue } from "./perl.ts";
import { describeValue } from "./describe-value.ts";
import { scalarText, type Specifier, toSpecifier } from "./specifier.ts";
import { escapeText } from "./text.ts";

export { describeValue };

/**
 * A state on some kernel, in the hash form IKC puts in `from` and `rsvp`.
 *
 * @example
 * ```ts
 * import type { Address } from "@poe-ikc/ikc";
 * const rsvp: Address = { kernel: "Client1", session: "IKCLite", state: "response1" };
 * ```
 */
export interface Address {
  /** The kernel's name or alias; absent means the kernel at the other end. */
  kernel?: string;
  /** The session's alias on that kernel. */
  session: string;
  /** The state (event) to run; absent where only a session is named. */
  state?: string;
}

/**
 * A message as received, checked: where it goes, what it carries, who wants the answer.
 *
 * @example
 * ```ts
 * import { parseMessage } from "./message.ts";
 * const m = parseMessage({ event: "poe://K/test/echo", params: 1 });
 * if (!(m instanceof Error)) console.log(m.target.session, m.params);
 * ```
 */
export interface Message {
  /** The destination; `kernel` is absent when the event named none. */
  target: Specifier;
  /** The payload (ARG0, or for `IKC:proxy` the `[state, [args]]` pair). */
  params: PerlValue;
  /** The sender, when it said. */
  from: Address | undefined;
  /** Where the answer goes; present only when one is wanted. */
  rsvp: Address | undefined;
  /** True when the caller asked for list context. */
  wantarray: boolean;
  /** True on error messages (`is_error`); an error is never answered with an error. */
  isError: boolean;
  /** The whole hash as received. */
  raw: Record<string, PerlValue>;
}

/**
 * Reads a thawed frame as a message. Returns a ProtocolError (not thrown: a bad message from a
 * peer is reported, it does not unwind the read loop) when it is not a hash with a valid event.
 *
 * @example
 * ```ts
 * import { parseMessage } from "./message.ts";
 * const bad = parseMessage([1, 2]);
 * console.log(bad instanceof Error); // true
 * ```
 */
export function parseMessage(value: PerlValue): Message | ProtocolError {
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    return new ProtocolError(`peer sent a message that is not a hash: ${describeValue(value)}`);
  }
  const raw = value as Record<string, PerlValue>;
  const target = toSpecifier(raw.event);
  if (!target) return new ProtocolError(`peer sent a message without a valid event: ${describeValue(raw.event)}`);
  return {
    target,
    params: raw.params ?? null,
    from: toAddress(raw.from),
    rsvp: toAddress(raw.rsvp),
    wantarray: isPerlTrue(raw.wantarray),
    isError: isPerlTrue(raw.is_error),
    raw,
  };
}

/** An `{kernel, session[, state]}` hash, or undefined when the value is not one. */
function toAddress(v: PerlValue): Address | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) return undefined;
  const h = v as Record<string, PerlValue>;
  const session = scalarText(h.session);
  if (session === undefined) return undefined;
  const out: Address = { session };
  const kernel = scalarText(h.kernel);
  if (kernel !== undefined && kernel !== "") out.kernel = kernel;
  const state = scalarText(h.state);
  if (state !== undefined && state !== "") out.state = state;
  return out;
}

/**
 * Perl's truth: undef, `""`, `0` and `"0"` are false.
 *
 * @example
 * ```ts
 * import { isPerlTrue } from "./message.ts";
 * isPerlTrue("0"); // false
 * isPerlTrue(1); // true
 * ```
 */
export function isPerlTrue(v: PerlValue): boolean {
  return v !== null && v !== undefined && v !== "" && v !== 0 && v !== "0" && v !== false;
}

/**
 * The hash form of an address, as it goes on the wire (absent parts left out).
 *
 * @example
 * ```ts
 * import { addressHash } from "./message.ts";
 * addressHash({ kernel: "K", session: "IKC", state: "pong" }); // { kernel: "K", session: "IKC", state: "pong" }
 * ```
 */
export function addressHash(a: Address): Record<string, PerlValue> {
  const h: Record<string, PerlValue> = {};
  if (a.kernel !== undefined) h.kernel = a.kernel;
  h.session = a.session;
  if (a.state !== undefined) h.state = a.state;
  return h;
}

/**
 * `poe://kernel/session/state` for an address (the form remote_error texts use), each part
 * escaped and bounded by {@link escapeText}: a peer's name must not forge a line of a log.
 *
 * @example
 * ```ts
 * import { addressName } from "./message.ts";
 * addressName({ kernel: "C", session: "IKCLite" }); // "poe://C/IKCLite"
 * ```
 */
export function addressName(a: Address): string {
  const head = a.kernel !== undefined ? `poe://${escapeText(a.kernel)}/` : "poe:/";
  return `${head}${escapeText(a.session)}${a.state !== undefined ? `/${escapeText(a.state)}` : ""}`;
}

/**
 * A request: a post (no `rsvp`) or a call (with one).
 *
 * @example
 * ```ts
 * import { requestMessage } from "./message.ts";
 * requestMessage("poe://K/test/echo", "hi", { kernel: "C", session: "IKCLite" },
 *   { kernel: "C", session: "IKCLite", state: "response1" }, false);
 * ```
 */
export function requestMessage(
  event: string | Address,
  params: PerlValue,
  from: Address | undefined,
  rsvp?: Address,
  wantarray?: boolean,
): Record<string, PerlValue> {
  const m: Record<string, PerlValue> = {
    event: typeof event === "string" ? event : addressHash(event),
    params: params === undefined ? null : params,
  };
  if (from) m.from = addressHash(from);
  if (rsvp) {
    m.rsvp = addressHash(rsvp);
    m.wantarray = wantarray ? 1 : 0;
  }
  return m;
}

/**
 * The answer to a request, sent to its rsvp: pass the rsvp hash exactly as received (a Perl rsvp
 * may carry `args`, which its state gets back as a further argument), or `addressHash(rsvp)`.
 *
 * @example
 * ```ts
 * import { responseMessage } from "./message.ts";
 * responseMessage({ kernel: "C", session: "IKCLite", state: "response1" }, 42);
 * ```
 */
export function responseMessage(
  rsvp: Record<string, PerlValue>,
  params: PerlValue,
  from?: Address,
): Record<string, PerlValue> {
  const m: Record<string, PerlValue> = { event: rsvp, params: params === undefined ? null : params };
  if (from) m.from = addressHash(from);
  return m;
}

/**
 * A remote_error as the Perl Responder sends it: `params => [text, kernel, phase]`, `is_error => 1`,
 * to the sender's `IKC/remote_error`. We append the request's rsvp as a fourth element when it had
 * one, so the far side can tell which of several calls to one state failed (Perl peers ignore it).
 *
 * @example
 * ```ts
 * import { remoteErrorMessage } from "./message.ts";
 * remoteErrorMessage("C", "Session 'x' is not available for remote kernels.  Request poe://S/x/y", "S", "check");
 * ```
 */
export function remoteErrorMessage(
  toKernel: string | undefined,
  text: string,
  kernel: string | undefined,
  phase: string,
  rsvp?: Address,
): Record<string, PerlValue> {
  const to: Address = { session: "IKC", state: "remote_error" };
  if (toKernel !== undefined) to.kernel = toKernel;
  const params: PerlValue[] = [text, kernel ?? null, phase];
  if (rsvp) params.push(addressHash(rsvp));
  return { event: addressHash(to), params, is_error: 1 };
}

/**
 * The specifier of a message target, as remote_error texts name it (escaped, as {@link addressName}).
 *
 * @example
 * ```ts
 * import { targetName } from "./message.ts";
 * targetName({ kernel: "K", session: "s", state: "e" }); // "poe://K/s/e"
 * ```
 */
export function targetName(t: Specifier): string {
  return addressName(t);
}

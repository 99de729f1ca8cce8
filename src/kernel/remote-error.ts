/**
 * A peer's remote_error, read: the error class and the request its text names.
 *
 * @module
 */
import { RemoteError } from "../core/errors.ts";
import { describeValue } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import { escapeText, utf8DecodeLax } from "../core/text.ts";

/**
 * A remote_error's params (`[text, kernel, phase, ...]`, or a bare text) as a RemoteError.
 *
 * @example
 * ```ts
 * import { remoteErrorFrom } from "./remote-error.ts";
 * remoteErrorFrom(["Session 'x' is not available", "Hub", "check"]).remoteKernel; // "Hub"
 * ```
 */
export function remoteErrorFrom(params: PerlValue): RemoteError {
  if (Array.isArray(params)) {
    const [msg, kernel, phase] = params;
    return new RemoteError(
      textOf(msg),
      kernel == null ? undefined : textOf(kernel),
      phase == null ? undefined : textOf(phase),
    );
  }
  return new RemoteError(textOf(params));
}

/**
 * The specifier the text of a remote_error's params names (see {@link requestNamed}), read from
 * the whole text as received: the error's own message is cut short, and the name comes last.
 *
 * @example
 * ```ts
 * import { requestNamedIn } from "./remote-error.ts";
 * requestNamedIn(["Session 'x' is not available.  Request poe://Hub/x/y sent by ...", "Hub"]); // "poe://Hub/x/y"
 * ```
 */
export function requestNamedIn(params: PerlValue): string | undefined {
  const msg = Array.isArray(params) ? params[0] : params;
  if (typeof msg === "string") return requestNamed(msg);
  if (msg instanceof Uint8Array) return requestNamed(utf8DecodeLax(msg));
  return undefined;
}

/**
 * The specifier a Perl remote_error text names after "Request", found without backtracking.
 *
 * @example
 * ```ts
 * import { requestNamed } from "./remote-error.ts";
 * requestNamed("Session 'x' is not available.  Request poe://Hub/x/y sent by ..."); // "poe://Hub/x/y"
 * ```
 */
export function requestNamed(text: string): string | undefined {
  const at = text.lastIndexOf("Request ");
  if (at < 0) return undefined;
  let i = at + 8;
  while (i < text.length && text.charCodeAt(i) <= 32) i++;
  let j = i;
  while (j < text.length && text.charCodeAt(j) > 32) j++;
  return j > i ? text.slice(i, j) : undefined;
}

/**
 * Characters of a peer's remote_error text kept: enough for Perl's whole sentence, with the
 * `Request poe://...` it ends with that matches the error to its request.
 */
const REMOTE_TEXT_MAX = 2000;

/** A peer's text, bounded and escaped before any handler or log sees it. */
function textOf(v: PerlValue): string {
  if (typeof v === "string") return escapeText(v, REMOTE_TEXT_MAX);
  if (v instanceof Uint8Array) return escapeText(utf8DecodeLax(v), REMOTE_TEXT_MAX);
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return describeValue(v);
  return String(v);
}

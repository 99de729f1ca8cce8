/**
 * Error classes. Every failure the library reports is an {@link IkcError}, so one
 * `instanceof` check catches them all; subclasses say which layer failed.
 *
 * @module
 */

/**
 * Base class of every error this library throws or rejects with.
 *
 * @example
 * ```ts
 * import { IkcError } from "@poe-ikc/ikc";
 * try { throw new IkcError("x"); } catch (e) { console.log(e instanceof IkcError); }
 * ```
 */
export class IkcError extends Error {
  /** An error with `message`; `options.cause` keeps what led to it. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** `message` with the byte offset a decoder stopped at, when there is one. */
function atByte(message: string, offset: number): string {
  return offset >= 0 ? `${message} (at byte ${offset})` : message;
}

/**
 * Bytes that cannot be decoded (or a value that cannot be encoded) by a freezer.
 * `offset` is the byte position in the input where decoding failed (-1 when encoding).
 *
 * @example
 * ```ts
 * import { CodecError } from "@poe-ikc/ikc";
 * const e = new CodecError("truncated input", 12);
 * console.log(e.offset); // 12
 * ```
 */
export class CodecError extends IkcError {
  /** Byte offset in the input where decoding failed, or -1 when not tied to one. */
  readonly offset: number;
  /** A codec error; `offset` is added to the message when it is known. */
  constructor(message: string, offset = -1, options?: { cause?: unknown }) {
    super(atByte(message, offset), options);
    this.offset = offset;
  }
}

/**
 * A configured limit was exceeded: a decoder's (depth, value count, string length, input size),
 * frame size, write buffer, frame deadline, or a server's admission limits (`maxClients`...).
 * Not a {@link CodecError}: the bytes may be well formed, they only cost more than allowed.
 * `offset` is the byte position where a decoder stopped (-1 when not tied to one).
 *
 * @example
 * ```ts
 * import { CodecError, LimitError } from "@poe-ikc/ikc";
 * const e = new LimitError("depth 513 exceeds maxDepth 512", 40);
 * console.log(e.offset, e instanceof CodecError); // 40 false
 * ```
 */
export class LimitError extends IkcError {
  /** Byte offset in the input where a decoder stopped, or -1 when not tied to one. */
  readonly offset: number;
  /** A limit error; `offset` is added to the message when it is known. */
  constructor(message: string, offset = -1, options?: { cause?: unknown }) {
    super(atByte(message, offset), options);
    this.offset = offset;
  }
}

/**
 * The peer broke the IKC protocol: bad negotiation line, bad frame header, unexpected message.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@poe-ikc/ikc";
 * throw new ProtocolError("expected 'UP', got 'NOT'");
 * ```
 */
export class ProtocolError extends IkcError {}

/**
 * Connecting or negotiating failed (refused, unreachable, timed out, rejected freezer). `code`
 * says which, when known: the OS's (`ECONNREFUSED`, `ENOENT`, ...; taken from `cause.code`),
 * `ETIMEDOUT` when the connect took longer than `connectTimeout`, `ENEGOTIATION` when the
 * server answered but negotiation failed.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@poe-ikc/ikc";
 * const e = new ConnectError("connect to localhost:603 refused", { code: "ECONNREFUSED" });
 * console.log(e.code); // "ECONNREFUSED"
 * ```
 */
export class ConnectError extends IkcError {
  /** What failed, as a short code (see the class comment); undefined when unknown. */
  code: string | undefined;
  /** A connect error; `code` defaults to the `cause`'s `code`, when it has a string one. */
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    const fromCause = (options?.cause as { code?: unknown } | null | undefined)?.code;
    this.code = options?.code ?? (typeof fromCause === "string" ? fromCause : undefined);
  }
}

/**
 * An operation did not finish within its timeout.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@poe-ikc/ikc";
 * throw new TimeoutError("call poe://K/s/e: no answer within 30 s");
 * ```
 */
export class TimeoutError extends IkcError {}

/**
 * The connection closed, or was closed, while the operation was pending.
 *
 * @example
 * ```ts
 * import { DisconnectedError } from "@poe-ikc/ikc";
 * throw new DisconnectedError("connection closed with 3 calls pending");
 * ```
 */
export class DisconnectedError extends IkcError {}

/**
 * The operation was cancelled through an AbortSignal.
 *
 * @example
 * ```ts
 * import { AbortError } from "@poe-ikc/ikc";
 * throw new AbortError("call aborted");
 * ```
 */
export class AbortError extends IkcError {}

/**
 * The remote kernel reported an error for a request (IKC `remote_error`), e.g. an unknown session.
 *
 * @example
 * ```ts
 * import { RemoteError } from "@poe-ikc/ikc";
 * const e = new RemoteError("Session 'nope' is not available", "RefServer", "deliver");
 * console.log(e.remoteKernel);
 * ```
 */
export class RemoteError extends IkcError {
  /** The text the remote kernel sent. */
  readonly remoteMessage: string;
  /** The remote kernel's name, when known. */
  readonly remoteKernel: string | undefined;
  /** The step that failed on the remote (Perl says `deliver` for a request it could not route), when known. */
  readonly phase: string | undefined;
  /** An error the remote kernel reported. */
  constructor(remoteMessage: string, remoteKernel?: string, phase?: string) {
    super(`remote error${remoteKernel ? ` from ${remoteKernel}` : ""}: ${remoteMessage}`);
    this.remoteMessage = remoteMessage;
    this.remoteKernel = remoteKernel;
    this.phase = phase;
  }
}

/**
 * A remote kernel refused a subscription (`IKC/do_you_have`): it has not published that session
 * (or state). `remoteMessage` holds its answer, e.g. `Refused subscription poe://Hub/nope`.
 *
 * @example
 * ```ts
 * import { SubscriptionError } from "@poe-ikc/ikc";
 * const e = new SubscriptionError("Refused subscription poe://Hub/nope");
 * console.log(e.remoteMessage);
 * ```
 */
export class SubscriptionError extends IkcError {
  /** The text the remote kernel sent. */
  readonly remoteMessage: string;
  /** A subscription the remote kernel refused, with its reason. */
  constructor(remoteMessage: string) {
    super(`subscription refused: ${remoteMessage}`);
    this.remoteMessage = remoteMessage;
  }
}

/**
 * A message names a kernel we have no connection to (or none, where one is needed).
 *
 * @example
 * ```ts
 * import { RoutingError } from "@poe-ikc/ikc";
 * throw new RoutingError("no connected kernel named 'Worker7'");
 * ```
 */
export class RoutingError extends IkcError {}

/**
 * The runtime has no sockets for IKC: no Deno, no Bun and no usable `node:net`, as in a browser
 * bundle, where a bundler stubs `node:net` out. IKC runs over raw TCP or Unix sockets, which a
 * browser cannot open.
 *
 * @example
 * ```ts
 * import { UnsupportedRuntimeError } from "@poe-ikc/ikc";
 * const e = new UnsupportedRuntimeError("no node:net here");
 * console.log(e instanceof UnsupportedRuntimeError); // true
 * ```
 */
export class UnsupportedRuntimeError extends IkcError {}

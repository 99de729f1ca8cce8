/**
 * Where each message read from a channel goes: to the request of ours it answers, to IKC's own
 * states, to a published state (through the responder), to the owner's unsolicited hook, or back
 * to its sender as a remote_error.
 *
 * @module
 */
import { ProtocolError } from "../core/errors.ts";
import { type Message, parseMessage } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import { parseSpecifier, type Specifier, toSpecifier } from "../core/specifier.ts";
import type { Channel } from "./channel.ts";
import type { PendingRequests } from "./pending-requests.ts";
import { remoteErrorFrom, requestNamedIn } from "./remote-error.ts";
import type { Responder } from "./responder.ts";
import { rsvpKey, type Rsvps } from "./rsvp.ts";
import type { StateRegistry } from "./state-registry.ts";

/**
 * What the router routes to.
 *
 * @example
 * ```ts
 * import type { RouterParts } from "./router.ts";
 * type Hook = RouterParts["unsolicited"];
 * ```
 */
export interface RouterParts {
  pending: PendingRequests;
  rsvps: Rsvps;
  states: StateRegistry;
  /** Runs and refuses requests to states (the responder, behind the authorizer when there is one). */
  responder: Pick<Responder, "run" | "refuse">;
  report: (e: Error, kind?: string) => void;
  /**
   * Messages to states we did not publish and do not wait on: return true when taken (the
   * client's mailbox); otherwise the sender gets a remote_error.
   */
  unsolicited?: (message: Message, channel: Channel) => boolean;
  /** A frame that is not an IKC message (default: reported; a server drops the client instead). */
  malformed?: (error: ProtocolError, channel: Channel) => void;
}

/**
 * Routes inbound messages. Never throws: problems are reported or answered.
 *
 * @example
 * ```ts
 * import { Router } from "./router.ts";
 * import type { Channel } from "./channel.ts";
 * const deliver = (router: Router, value: unknown, ch: Channel) => router.receive(value as never, ch);
 * ```
 */
export class Router {
  readonly #p: RouterParts;

  /** A router over `parts`. */
  constructor(parts: RouterParts) {
    this.#p = parts;
  }

  /** Routes one thawed frame read from `channel`. */
  receive(value: PerlValue, channel: Channel): void {
    const p = this.#p;
    const m = parseMessage(value);
    if (m instanceof Error) {
      if (p.malformed) p.malformed(m, channel);
      else p.report(m, "bad-message");
      return;
    }
    const { session, state } = m.target;
    if (session === "IKC" && state === "remote_error") return this.#remoteError(m, channel);
    // Only with requests of ours waiting can this be an answer (a busy server often has none).
    const pending = p.pending.size > 0 ? p.pending.oldest(rsvpKey(session, state)) : undefined;
    if (pending) {
      // Only the kernel a request went to answers it: rsvp states are sequential, so any other
      // peer could guess one and settle (or fail) a request of ours it was never sent.
      if (pending.channel === channel) return pending.answer(m);
      p.report(
        new ProtocolError(
          `dropped an answer to ${session}/${state} from ${channel.remoteKernel}: that request went to another connection`,
        ),
        "forged-answer",
      );
      return;
    }
    const stale = p.rsvps.staleness(session, state);
    if (stale) {
      p.report(
        new ProtocolError(
          stale === "late"
            ? `dropped an answer to ${session}/${state} from ${channel.remoteKernel}: its request had already settled (timed out or aborted)`
            : `dropped a stray answer to ${session}/${state} from ${channel.remoteKernel}: no request of ours used that rsvp`,
        ),
        stale === "late" ? "late-answer" : "stray-answer",
      );
      return;
    }
    // A proxied request names its real state inside: Perl's Responder rewrites it before checking
    // and wording a refusal, so the error names that state, never IKC:proxy.
    const [real, args] = state === "IKC:proxy" ? unproxy(m) : [m, undefined];
    const table = p.states.session(session);
    if (table?.has(real.target.state)) return p.responder.run(real, channel, args);
    if (p.unsolicited?.(real, channel)) return;
    p.responder.refuse(
      real,
      channel,
      table
        ? `Session '${session}' has not published state '${real.target.state}'`
        : `Session '${session}' is not available for remote kernels`,
      "check",
    );
  }

  /** A remote_error settles a request sent on the same connection, never one to another kernel. */
  #remoteError(m: Message, channel: Channel): void {
    const p = this.#p;
    const err = remoteErrorFrom(m.params);
    // Ours carry the request's rsvp; Perl's only name the request: "... Request poe://K/s/e sent by ...".
    const rsvp = Array.isArray(m.params) ? toSpecifier(m.params[3]) : undefined;
    if (rsvp) {
      const r = p.pending.oldest(rsvpKey(rsvp.session, rsvp.state));
      if (r && r.channel === channel) return r.reject(err);
    }
    const named = requestNamedIn(m.params);
    const target = named === undefined ? undefined : toSpecifier(named);
    if (target) {
      for (const r of p.pending.all()) {
        if (r.channel !== channel) continue;
        const s = r.kind === "ping" ? { session: "IKC", state: "ping" } : specOf(r.label);
        if (s && s.session === target.session && s.state === target.state) return r.reject(err);
      }
    }
    p.report(err, "remote-error");
  }
}

/** A proxied request (`[state, [ARG0, ARG1, ...]]`) as the request of its real state, and its args. */
function unproxy(m: Message): [Message, PerlValue[]] {
  const p = m.params;
  const state = Array.isArray(p) && typeof p[0] === "string" ? p[0] : "";
  const args = Array.isArray(p) && Array.isArray(p[1]) ? [...p[1]] : [];
  // params become the args too: the inbox hands them over as one array, as a plain reply would.
  return [{ ...m, target: { ...m.target, state }, params: args }, args];
}

function specOf(label: string): Specifier | undefined {
  try {
    return parseSpecifier(label);
  } catch {
    return undefined;
  }
}

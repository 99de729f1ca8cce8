/**
 * Targets as the caller names them (`poe://K/s/e`, `s/e`, an address hash), turned into the
 * event a message carries on a given channel. Parsed once per distinct string.
 *
 * @module
 */
import { type Address, addressHash, addressName, describeValue } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import { parseSpecifier, qualifySpecifier, type Specifier } from "../core/specifier.ts";
import type { Channel } from "./channel.ts";
import type { Target } from "./types.ts";

/** Distinct target strings whose parse is kept. */
const SPEC_CACHE_SIZE = 1024;

/**
 * How a target is named in error messages.
 *
 * @example
 * ```ts
 * import { targetLabel } from "./targets.ts";
 * targetLabel({ kernel: "Hub", session: "calc", state: "add" }); // "poe://Hub/calc/add"
 * ```
 */
export function targetLabel(target: Target): string {
  return typeof target === "string" ? target : addressName(target as Address);
}

/**
 * Parses and formats targets, with a bounded cache: a program sends to a handful of targets, over
 * and over, and each request would otherwise parse its target up to three times.
 *
 * @example
 * ```ts
 * import { Targets } from "./targets.ts";
 * const t = new Targets();
 * console.log(t.spec("poe://Hub/calc/add").session); // "calc"
 * ```
 */
export class Targets {
  #specs = new Map<string, Specifier>();
  #events = new Map<string, { kernel: string; event: string }>();

  /** `target` parsed; throws a ProtocolError when malformed. */
  spec(target: string): Specifier {
    let s = this.#specs.get(target);
    if (s === undefined) {
      s = parseSpecifier(target);
      if (this.#specs.size >= SPEC_CACHE_SIZE) {
        this.#specs.clear();
        this.#events.clear();
      }
      this.#specs.set(target, s);
    }
    return s;
  }

  /** Throws (a ProtocolError or TypeError) when `target` is malformed. */
  check(target: Target): void {
    if (typeof target === "string") this.spec(target);
    else checkAddress(target);
  }

  /** The kernel a target names, if it names one. */
  kernelOf(target: Target): string | undefined {
    return typeof target === "string" ? this.spec(target).kernel : target.kernel;
  }

  /** The event for `target` as sent on `channel`: a bare `session/state` goes to that channel's kernel. */
  eventFor(target: Target, channel: Channel): string | Record<string, PerlValue> {
    if (typeof target === "string") {
      const s = this.spec(target);
      if (s.kernel !== undefined && target.startsWith("poe:")) return target;
      // Formatted once per target and remote kernel (the last one seen).
      const cached = this.#events.get(target);
      if (cached !== undefined && cached.kernel === channel.remoteKernel) return cached.event;
      const event = qualifySpecifier(target, channel.remoteKernel, s);
      this.#events.set(target, { kernel: channel.remoteKernel, event });
      return event;
    }
    checkAddress(target);
    return addressHash({ kernel: target.kernel ?? channel.remoteKernel, session: target.session, state: target.state });
  }
}

function checkAddress(target: Exclude<Target, string>): void {
  if (
    target === null || typeof target !== "object" || typeof target.session !== "string" ||
    typeof target.state !== "string"
  ) {
    throw new TypeError(`a target is a specifier string or {kernel, session, state}, not ${describeValue(target)}`);
  }
}

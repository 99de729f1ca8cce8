/**
 * The freezers this library speaks, by the Perl package name negotiation uses.
 *
 * @module
 */
import type { Freezer } from "./freezer.ts";
import type { DecodeLimits } from "./limits.ts";
import { createStorableFreezer, storableFreezer } from "./storable/mod.ts";
import { createFreezeThawFreezer, freezeThawFreezer } from "./freezethaw.ts";
import { createDumperFreezer, dumperFreezer } from "./dumper.ts";

/**
 * Built-in freezers: `Storable` (default), `FreezeThaw`, `POE::Component::IKC::Freezer`.
 *
 * @example
 * ```ts
 * import { builtinFreezers } from "./freezers.ts";
 * console.log(Object.keys(builtinFreezers));
 * ```
 */
export const builtinFreezers: Readonly<Record<string, Freezer>> = Object.freeze({
  Storable: storableFreezer,
  FreezeThaw: freezeThawFreezer,
  "POE::Component::IKC::Freezer": dumperFreezer,
});

/**
 * The built-in freezers decoding under `limits` instead of the codecs' defaults.
 *
 * @example
 * ```ts
 * import { limitedFreezers } from "./freezers.ts";
 * import { SERVER_DECODE_LIMITS } from "./limits.ts";
 * const strict = limitedFreezers(SERVER_DECODE_LIMITS);
 * ```
 */
export function limitedFreezers(limits: DecodeLimits): Readonly<Record<string, Freezer>> {
  return Object.freeze({
    Storable: createStorableFreezer({ ...limits }),
    FreezeThaw: createFreezeThawFreezer({ ...limits }),
    "POE::Component::IKC::Freezer": createDumperFreezer({ ...limits }),
  });
}

/**
 * Resolves freezer names (or objects) to Freezer objects; throws a TypeError for unknown names.
 * With `limits`, a built-in freezer named by a string decodes under them (a server passes
 * `SERVER_DECODE_LIMITS` from limits.ts); a Freezer object is used as it is.
 *
 * @example
 * ```ts
 * import { resolveFreezers } from "./freezers.ts";
 * import { SERVER_DECODE_LIMITS } from "./limits.ts";
 * const [storable] = resolveFreezers("Storable");
 * const [bounded] = resolveFreezers("Storable", SERVER_DECODE_LIMITS);
 * ```
 */
export function resolveFreezers(
  spec: string | Freezer | ReadonlyArray<string | Freezer>,
  limits?: DecodeLimits,
): Freezer[] {
  const known = limits ? limitedFreezers(limits) : builtinFreezers;
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0) throw new TypeError("at least one freezer is needed");
  return list.map((f: string | Freezer) => {
    if (typeof f !== "string") return f;
    const found = Object.hasOwn(known, f) ? known[f] : undefined;
    if (!found) {
      throw new TypeError(`unknown freezer ${JSON.stringify(f)}; known: ${Object.keys(builtinFreezers).join(", ")}`);
    }
    return found;
  });
}

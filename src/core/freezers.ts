/**
 * The freezers this library speaks, by the Perl package name negotiation uses.
 *
 * @module
 */
import type { Freezer } from "./freezer.ts";
import { storableFreezer } from "./storable/mod.ts";
import { freezeThawFreezer } from "./freezethaw.ts";
import { dumperFreezer } from "./dumper.ts";

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
 * Resolves freezer names (or objects) to Freezer objects; throws a TypeError for unknown names.
 *
 * @example
 * ```ts
 * import { resolveFreezers } from "./freezers.ts";
 * const [storable] = resolveFreezers("Storable");
 * ```
 */
export function resolveFreezers(spec: string | Freezer | ReadonlyArray<string | Freezer>): Freezer[] {
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0) throw new TypeError("at least one freezer is needed");
  return list.map((f: string | Freezer) => {
    if (typeof f !== "string") return f;
    const found = Object.hasOwn(builtinFreezers, f) ? builtinFreezers[f] : undefined;
    if (!found) {
      throw new TypeError(`unknown freezer ${JSON.stringify(f)}; known: ${Object.keys(builtinFreezers).join(", ")}`);
    }
    return found;
  });
}

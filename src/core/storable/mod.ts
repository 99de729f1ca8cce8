/**
 * The Storable codec: Perl's `Storable::nfreeze` / `thaw` format, the default IKC freezer.
 *
 * @example
 * ```ts
 * import { nfreeze, thaw } from "@poe-ikc/ikc";
 * const bytes = nfreeze({ hello: ["world", 42] });
 * console.log(thaw(bytes)); // { hello: ["world", 42] }
 * ```
 *
 * @module
 */
import type { Freezer } from "../freezer.ts";
import { type FreezeOptions, nfreeze, StorableEncoder } from "./freeze.ts";
import { StorableDecoder, thaw, type ThawOptions } from "./thaw.ts";

export { StorableDecoder, thaw, type ThawOptions } from "./thaw.ts";
export { type FreezeOptions, nfreeze, StorableEncoder } from "./freeze.ts";

/**
 * The `Storable` freezer with default options: `nfreeze` to send, `thaw` to receive.
 *
 * @example
 * ```ts
 * import { storableFreezer } from "@poe-ikc/ikc";
 * const frame = storableFreezer.freeze({ event: "poe://K/s/e", params: 1 });
 * console.log(storableFreezer.name, storableFreezer.thaw(frame));
 * ```
 */
export const storableFreezer: Freezer = {
  name: "Storable",
  freeze: (value) => nfreeze(value),
  thaw: (bytes) => thaw(bytes),
};

/**
 * A `Storable` freezer with custom thaw and freeze options.
 *
 * @example
 * ```ts
 * import { createStorableFreezer } from "@poe-ikc/ikc";
 * const f = createStorableFreezer({ numericStrings: "number", maxDepth: 64 }, { canonical: true });
 * console.log(f.thaw(f.freeze({ n: 2.5 }))); // { n: 2.5 }
 * ```
 */
export function createStorableFreezer(thawOptions?: ThawOptions, freezeOptions?: FreezeOptions): Freezer {
  const dec = new StorableDecoder(thawOptions);
  const enc = new StorableEncoder(freezeOptions);
  return {
    name: "Storable",
    freeze: (value) => enc.encode(value),
    thaw: (bytes) => dec.decode(bytes),
  };
}

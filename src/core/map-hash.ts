/**
 * A JS `Map` sent as a Perl hash: the key rule every encoder applies, and for the text codecs
 * (FreezeThaw, Data::Dumper), which write hashes from plain objects, the Map as such an object.
 * Storable writes Maps directly and uses only the key rule.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import { PERL_CLASS, type PerlValue } from "./perl.ts";

/**
 * A Map key as the Perl hash key it becomes: strings as they are, numbers and bigints as their
 * decimal text; anything else is a CodecError (Perl hash keys are text). `who` prefixes the message.
 *
 * @example
 * ```ts
 * import { hashKeyOf } from "./map-hash.ts";
 * hashKeyOf(7); // "7"
 * ```
 */
export function hashKeyOf(k: unknown, who?: string): string {
  if (typeof k === "string") return k;
  if (typeof k === "number" || typeof k === "bigint") return String(k);
  throw new CodecError(
    `${who ? `${who}: ` : ""}cannot freeze a Map with a ${
      k === null ? "null" : typeof k
    } key: Perl hash keys are strings`,
  );
}

/**
 * Converts Maps to hashes for one encode, the same Map always to the same hash, so that a Map
 * met twice (shared, or in a cycle) is written as one hash referenced twice, as Perl would.
 *
 * @example
 * ```ts
 * import { MapHashes } from "./map-hash.ts";
 * const hashes = new MapHashes("FreezeThaw");
 * const m = new Map([["a", 1]]);
 * console.log(hashes.of(m) === hashes.of(m)); // true
 * ```
 */
export class MapHashes {
  readonly #who: string;
  readonly #made = new Map<Map<unknown, unknown>, Record<string, PerlValue>>();

  /** `who` names the codec in error messages. */
  constructor(who: string) {
    this.#who = who;
  }

  /**
   * The hash standing for `m`: a prototype-free object (so a `__proto__` key is a key), blessed
   * into the Map's class when it has one. Keys must be strings or numbers, as Perl's are text.
   */
  of(m: Map<unknown, unknown>): Record<string, PerlValue> {
    let h = this.#made.get(m);
    if (h !== undefined) return h;
    h = Object.create(null) as Record<string, PerlValue>;
    for (const [k, v] of m) h[hashKeyOf(k, this.#who)] = v as PerlValue;
    const cls = (m as { [PERL_CLASS]?: unknown })[PERL_CLASS];
    if (cls !== undefined) {
      Object.defineProperty(h, PERL_CLASS, { value: cls, enumerable: true, writable: true, configurable: true });
    }
    this.#made.set(m, h);
    return h;
  }
}

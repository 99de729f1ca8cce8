/**
 * Building and classifying the JS forms of Perl values, as the text codecs need it: keys that
 * cannot reach a prototype, fast blessing, and which values stand for Perl references.
 *
 * @module
 */
import { PERL_CLASS, PerlRef, PerlRegexp, PerlVString, StorableHook } from "../perl.ts";
import type { PerlValue } from "../perl.ts";

/**
 * Sets `obj[key]` as an own property even for `__proto__` (a peer's key never reaches a prototype).
 *
 * @example
 * ```ts
 * import { setKey } from "./perl-values.ts";
 * const h = {};
 * setKey(h, "__proto__", 1);
 * Object.keys(h); // ["__proto__"]
 * ```
 */
export function setKey(obj: Record<string, PerlValue>, key: string, value: PerlValue): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * Blesses a value a decoder just made. Plain assignment makes the same own data property as
 * perl.ts's bless() (the key is a symbol, nothing on a prototype intercepts it) and is several
 * times faster: images can hold millions.
 *
 * @example
 * ```ts
 * import { blessInto } from "./perl-values.ts";
 * import { blessedClass } from "../perl.ts";
 * const o = {};
 * blessInto(o, "My::Class");
 * blessedClass(o); // "My::Class"
 * ```
 */
export function blessInto(v: object, cls: string): void {
  (v as { [PERL_CLASS]?: string })[PERL_CLASS] = cls;
}

/**
 * Whether `v` stands for a Perl reference (an array, hash, ref or regexp), the kinds that can be
 * blessed and shared.
 *
 * @example
 * ```ts
 * import { isRefValue } from "./perl-values.ts";
 * isRefValue([1]); // true
 * isRefValue(new Uint8Array(1)); // false: a byte string is a scalar
 * ```
 */
export function isRefValue(v: unknown): v is PerlValue[] | PerlRef | PerlRegexp | Record<string, PerlValue> {
  return v !== null && typeof v === "object" && !(v instanceof Uint8Array) && !(v instanceof PerlVString) &&
    !(v instanceof StorableHook);
}

/**
 * Whether `v` is a hash (a reference that is no array, ref or regexp).
 *
 * @example
 * ```ts
 * import { isPlainHash } from "./perl-values.ts";
 * isPlainHash({ a: 1 }); // true
 * isPlainHash([]); // false
 * ```
 */
export function isPlainHash(v: PerlValue): v is Record<string, PerlValue> {
  return isRefValue(v) && !Array.isArray(v) && !(v instanceof PerlRef) && !(v instanceof PerlRegexp);
}

/**
 * Whether an object is a plain `{}` (or null-prototype) object, the only kind an encoder writes
 * as a hash.
 *
 * @example
 * ```ts
 * import { isPlainObject } from "./perl-values.ts";
 * isPlainObject({}); // true
 * isPlainObject(new Date()); // false
 * ```
 */
export function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

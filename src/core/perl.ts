/**
 * The Perl value model: how Perl data is represented in JavaScript.
 *
 * | Perl                          | JavaScript                                      |
 * | ----------------------------- | ----------------------------------------------- |
 * | undef                         | `null` (`undefined` is also sent as undef)      |
 * | string (UTF-8 flag on)        | `string`                                        |
 * | string (UTF-8 flag off)       | `string` when ASCII, else `Uint8Array` (option) |
 * | integer                       | `number`, or `bigint` beyond 2^53               |
 * | hashref / arrayref            | plain object / array                            |
 * | ref to scalar, ref to ref     | {@link PerlRef}                                 |
 * | blessed ref                   | the value, tagged with {@link PERL_CLASS}       |
 *
 * @module
 */

/**
 * Symbol under which a blessed value keeps its Perl class name.
 *
 * @example
 * ```ts
 * import { bless, PERL_CLASS } from "@poe-ikc/ikc";
 * const user = bless({ name: "ann" }, "My::User");
 * console.log(user[PERL_CLASS]); // "My::User"
 * ```
 */
export const PERL_CLASS: unique symbol = Symbol.for("poe-ikc.perl.class") as never;

/**
 * A Perl value as seen from JavaScript (see the module table).
 *
 * @example
 * ```ts
 * import { PerlRef, type PerlValue } from "@poe-ikc/ikc";
 * const v: PerlValue = { name: "ann", tags: ["a", "b"], avatar: new Uint8Array([137, 80]), ref: new PerlRef(1) };
 * ```
 */
export type PerlValue =
  | null
  | undefined
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | PerlValue[]
  | { [key: string]: PerlValue }
  | PerlRef
  | PerlRegexp
  | PerlVString
  | StorableHook;

/**
 * What may be sent: any {@link PerlValue}, and also what TypeScript cannot see as one: an object
 * typed by an ordinary `interface` (interfaces have no index signature), a `Map` (sent as a hash;
 * keys must be strings or numbers), readonly arrays. Only the shape is loose: the freezer checks
 * every value as it writes it and throws a {@link CodecError} for what Perl cannot hold (a
 * function, a symbol, a class instance other than the Perl value classes).
 *
 * @example
 * ```ts
 * import type { PerlInput } from "@poe-ikc/ikc";
 * interface Job { id: number; name: string; tags: string[] }
 * const job: Job = { id: 7, name: "resize", tags: ["img"] };
 * const params: PerlInput = [job, new Map([["priority", 2]])];
 * ```
 */
export type PerlInput = PerlValue | readonly PerlInput[] | ReadonlyMap<string | number | bigint, PerlInput> | object;

/**
 * A reference to a scalar (`\"text"`, `\42`) or to another reference (`\\%h`).
 * Hash and array refs need no wrapper: a JS object or array already stands for one.
 *
 * @example
 * ```ts
 * import { PerlRef } from "@poe-ikc/ikc";
 * const r = new PerlRef("text"); // Perl: \"text"
 * console.log(r.value);
 * ```
 */
export class PerlRef {
  /** The referenced value. */
  value: PerlValue;
  /** Whether the reference was weak in Perl (informational; weak refs thaw as strong in Perl too if re-sent). */
  weak: boolean;
  /** Wraps `value` as a reference; `weak` as Perl's weaken() left it. */
  constructor(value: PerlValue, weak = false) {
    this.value = value;
    this.weak = weak;
  }
}

/**
 * A Perl regular expression (`qr/.../flags`), kept as its source so it round-trips.
 *
 * @example
 * ```ts
 * import { PerlRegexp } from "@poe-ikc/ikc";
 * const re = new PerlRegexp("^a+b", "i");
 * ```
 */
export class PerlRegexp {
  /** The pattern's source text. */
  pattern: string;
  /** Its modifiers, such as `i`, `m`, `s`, `x`. */
  flags: string;
  /** A regexp with `pattern` and `flags`. */
  constructor(pattern: string, flags = "") {
    this.pattern = pattern;
    this.flags = flags;
  }
}

/**
 * A Perl v-string (`v1.2.3`): the literal as written plus the scalar's string value.
 *
 * @example
 * ```ts
 * import { PerlVString } from "@poe-ikc/ikc";
 * const v = new PerlVString("v1.2.3", "\x01\x02\x03");
 * ```
 */
export class PerlVString {
  /** The literal v-string text, such as `v1.2.3`. */
  vstring: string;
  /** The value the v-string stands for (its string form). */
  value: PerlValue;
  /** A v-string: its literal text and the value it stands for. */
  constructor(vstring: string, value: PerlValue) {
    this.vstring = vstring;
    this.value = value;
  }
}

/**
 * An object Perl froze through its class's `STORABLE_freeze` hook. JavaScript cannot run
 * the class's `STORABLE_thaw`, so the hook's output is kept as is and frozen back unchanged.
 *
 * @example
 * ```ts
 * import { StorableHook } from "@poe-ikc/ikc";
 * const h = new StorableHook("My::Conn", "hash", new TextEncoder().encode("serial"), []);
 * ```
 */
export class StorableHook {
  /** Perl class whose hook produced this. */
  className: string;
  /** Kind of the blessed referent in Perl. */
  kind: "scalar" | "array" | "hash";
  /** The serialized string `STORABLE_freeze` returned. */
  frozen: Uint8Array;
  /** The extra references `STORABLE_freeze` returned. */
  refs: PerlValue[];
  /** What a Storable hook left: the class, the referent's kind, the frozen string and its extra refs. */
  constructor(className: string, kind: "scalar" | "array" | "hash", frozen: Uint8Array, refs: PerlValue[]) {
    this.className = className;
    this.kind = kind;
    this.frozen = frozen;
    this.refs = refs;
  }
}

/**
 * Marks `value` (an object, array or {@link PerlRef}) as blessed into `className`, like Perl's `bless`.
 *
 * @example
 * ```ts
 * import { bless, blessedClass } from "@poe-ikc/ikc";
 * const obj = bless({ id: 1 }, "My::Thing");
 * console.log(blessedClass(obj)); // "My::Thing"
 * ```
 */
export function bless<T extends object>(value: T, className: string): T & { [PERL_CLASS]: string } {
  if (typeof className !== "string" || className === "") {
    throw new TypeError("bless: class name must be a non-empty string");
  }
  Object.defineProperty(value, PERL_CLASS, {
    value: className,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return value as T & { [PERL_CLASS]: string };
}

/**
 * The Perl class `value` is blessed into, or `undefined`.
 *
 * @example
 * ```ts
 * import { bless, blessedClass } from "@poe-ikc/ikc";
 * console.log(blessedClass(bless([], "List"))); // "List"
 * console.log(blessedClass({})); // undefined
 * ```
 */
export function blessedClass(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const c = (value as { [PERL_CLASS]?: unknown })[PERL_CLASS];
  return typeof c === "string" ? c : undefined;
}

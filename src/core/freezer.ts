/**
 * The serializer interface IKC calls a "freezer", named by its Perl package.
 *
 * @module
 */
import type { PerlInput, PerlValue } from "./perl.ts";

/**
 * A serializer for IKC frames. `name` is the Perl package the peer knows it by.
 *
 * @example
 * ```ts
 * import type { Freezer } from "@poe-ikc/ikc";
 * const json: Freezer = {
 *   name: "JSON",
 *   freeze: (v) => new TextEncoder().encode(JSON.stringify(v)),
 *   thaw: (b) => JSON.parse(new TextDecoder().decode(b)),
 * };
 * ```
 */
export interface Freezer {
  /** Perl package name announced during negotiation, e.g. `Storable`. */
  readonly name: string;
  /** Serializes one message (a hash, as an object). */
  freeze(value: PerlInput): Uint8Array;
  /** Deserializes one frame's payload. Throws a CodecError on bad input. */
  thaw(bytes: Uint8Array): PerlValue;
}

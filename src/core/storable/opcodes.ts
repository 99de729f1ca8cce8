/**
 * Storable binary format constants, as defined by Perl's `dist/Storable/Storable.xs`.
 *
 * An image is a header followed by one item. Network order (`nfreeze`) starts with
 * `0x05` (major 2 << 1 | 1) and the minor version; native order (`freeze`) starts with
 * `0x04`, the minor, then the byte-order string and C type sizes.
 *
 * Every item the reader creates gets the next "tag" number (its position in the
 * "seen" table); `SX_OBJECT <tag>` refers back to it. Bless markers, v-string prefixes
 * and back references take no tag.
 *
 * @module
 */

/** Back reference to an already seen item: `SX_OBJECT <I32 tag, network order>`. */
export const SX_OBJECT = 0;
/** String without UTF-8 flag, 4-byte length. */
export const SX_LSCALAR = 1;
/** Array: 4-byte length, then the items. */
export const SX_ARRAY = 2;
/** Hash: 4-byte count, then (value, 4-byte key length, key bytes) pairs. */
export const SX_HASH = 3;
/** Reference to the item that follows. */
export const SX_REF = 4;
/** A fresh undef scalar. */
export const SX_UNDEF = 5;
/** Native IV (8 bytes on 64-bit Perls), native byte order. */
export const SX_INTEGER = 6;
/** Native NV (double), native byte order. */
export const SX_DOUBLE = 7;
/** Small integer: one byte, value + 128. */
export const SX_BYTE = 8;
/** 32-bit signed integer, network order. */
export const SX_NETINT = 9;
/** String without UTF-8 flag, 1-byte length. */
export const SX_SCALAR = 10;
/** Tied array (the tying object follows). */
export const SX_TIED_ARRAY = 11;
/** Tied hash (the tying object follows). */
export const SX_TIED_HASH = 12;
/** Tied scalar (the tying object follows). */
export const SX_TIED_SCALAR = 13;
/** Perl's immortal `PL_sv_undef`; inside arrays: a nonexistent element. */
export const SX_SV_UNDEF = 14;
/** Perl's immortal `PL_sv_yes` (read-only when thawed by Storable 3.26). */
export const SX_SV_YES = 15;
/** Perl's immortal `PL_sv_no` (read-only when thawed by Storable 3.26). */
export const SX_SV_NO = 16;
/** Bless the next item: class length (1 byte, or 0x80 + 4-byte length) and name. */
export const SX_BLESS = 17;
/** Bless the next item into an already seen class: index (1 byte, or 0x80 + 4 bytes). */
export const SX_IX_BLESS = 18;
/** Object serialized by its class's `STORABLE_freeze` hook. */
export const SX_HOOK = 19;
/** Reference to a blessed object whose class has overloading. */
export const SX_OVERLOAD = 20;
/** Reference to an element of a tied hash. */
export const SX_TIED_KEY = 21;
/** Reference to an element of a tied array. */
export const SX_TIED_IDX = 22;
/** UTF-8 string, 1-byte length. */
export const SX_UTF8STR = 23;
/** UTF-8 string, 4-byte length. */
export const SX_LUTF8STR = 24;
/** Hash with flags: hash flags byte, 4-byte count, then (value, key flags, key length, key). */
export const SX_FLAG_HASH = 25;
/** Code reference as Perl source (`$Storable::Deparse`). */
export const SX_CODE = 26;
/** Weak reference to the item that follows. */
export const SX_WEAKREF = 27;
/** Weak reference to an overloaded object. */
export const SX_WEAKOVERLOAD = 28;
/** V-string magic (1-byte length), followed by the scalar it decorates. */
export const SX_VSTRING = 29;
/** V-string magic (4-byte length), followed by the scalar it decorates. */
export const SX_LVSTRING = 30;
/** An array element that is `PL_sv_undef` itself (Perl >= 5.19). */
export const SX_SVUNDEF_ELEM = 31;
/** Regular expression: flags byte, pattern length (1 or 4 bytes), pattern, flags length, flags. */
export const SX_REGEXP = 32;
/** Large object (> 2 GiB): the real opcode and a 64-bit length follow. */
export const SX_LOBJECT = 33;
/** Boolean true (Storable 3.32+, Perl 5.36+ stable booleans). */
export const SX_BOOLEAN_TRUE = 34;
/** Boolean false (Storable 3.32+). */
export const SX_BOOLEAN_FALSE = 35;
/** First invalid opcode. */
export const SX_LAST = 36;

/** Binary format major version. */
export const STORABLE_BIN_MAJOR = 2;
/** Minor version Perl 5.36's Storable 3.26 writes (and the highest it reads). */
export const STORABLE_BIN_WRITE_MINOR = 11;

/** Longest string stored with a 1-byte length. */
export const LG_SCALAR = 255;
/** Longest class name stored with a 1-byte length in SX_BLESS. */
export const LG_BLESS = 127;

// SX_HOOK flags.
/** Mask of the object type in SX_HOOK flags. */
export const SHF_TYPE_MASK = 0x03;
/** Class name length (or index) is a 4-byte integer. */
export const SHF_LARGE_CLASSLEN = 0x04;
/** Frozen string length is a 4-byte integer. */
export const SHF_LARGE_STRLEN = 0x08;
/** Sub-object list length is a 4-byte integer. */
export const SHF_LARGE_LISTLEN = 0x10;
/** Class given by index instead of name. */
export const SHF_IDX_CLASSNAME = 0x20;
/** Sub-objects follow before the next flags byte. */
export const SHF_NEED_RECURSE = 0x40;
/** A list of sub-object tags follows the frozen string. */
export const SHF_HAS_LIST = 0x80;

/** SX_HOOK object type: scalar. */
export const SHT_SCALAR = 0;
/** SX_HOOK object type: array. */
export const SHT_ARRAY = 1;
/** SX_HOOK object type: hash. */
export const SHT_HASH = 2;
/** SX_HOOK object type: an extra byte follows (tied object). */
export const SHT_EXTRA = 3;

// SX_FLAG_HASH flags.
/** Hash flag: restricted (locked) hash. */
export const SHV_RESTRICTED = 0x01;
/** Key flag: key bytes are UTF-8. */
export const SHV_K_UTF8 = 0x01;
/** Key flag: key was UTF-8 but downgraded to Latin-1 bytes. */
export const SHV_K_WASUTF8 = 0x02;
/** Key flag: value is read-only (restricted hash). */
export const SHV_K_LOCKED = 0x04;
/** Key flag: key is a full serialized scalar. */
export const SHV_K_ISSV = 0x08;
/** Key flag: placeholder (allowed but absent key of a restricted hash). */
export const SHV_K_PLACEHOLDER = 0x10;

/** SX_REGEXP flag: pattern length is a 4-byte integer. */
export const SHR_U32_RE_LEN = 0x01;

/**
 * Opcode names, indexed by opcode, for error messages.
 *
 * @example
 * ```ts
 * import { OPCODE_NAMES, SX_HOOK } from "./opcodes.ts";
 * console.log(OPCODE_NAMES[SX_HOOK]); // "SX_HOOK"
 * ```
 */
export const OPCODE_NAMES: readonly string[] = [
  "SX_OBJECT",
  "SX_LSCALAR",
  "SX_ARRAY",
  "SX_HASH",
  "SX_REF",
  "SX_UNDEF",
  "SX_INTEGER",
  "SX_DOUBLE",
  "SX_BYTE",
  "SX_NETINT",
  "SX_SCALAR",
  "SX_TIED_ARRAY",
  "SX_TIED_HASH",
  "SX_TIED_SCALAR",
  "SX_SV_UNDEF",
  "SX_SV_YES",
  "SX_SV_NO",
  "SX_BLESS",
  "SX_IX_BLESS",
  "SX_HOOK",
  "SX_OVERLOAD",
  "SX_TIED_KEY",
  "SX_TIED_IDX",
  "SX_UTF8STR",
  "SX_LUTF8STR",
  "SX_FLAG_HASH",
  "SX_CODE",
  "SX_WEAKREF",
  "SX_WEAKOVERLOAD",
  "SX_VSTRING",
  "SX_LVSTRING",
  "SX_SVUNDEF_ELEM",
  "SX_REGEXP",
  "SX_LOBJECT",
  "SX_BOOLEAN_TRUE",
  "SX_BOOLEAN_FALSE",
];

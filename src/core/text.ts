/**
 * Bytes and text, one home: Latin-1 and UTF-8 each way, and the escaping of peer-supplied text.
 * Each concept lives in its own file under `text/`; this module gathers them.
 *
 * @module
 */
export { HAS_NATIVE_LATIN1, isLatin1String, latin1Decode, latin1Encode } from "./text/latin1.ts";
export { isAsciiString, isUtf8, utf8DecodeLax, utf8DecodeStrict } from "./text/utf8.ts";
export { ESCAPE_MAX_LENGTH, escapeText } from "./text/escape.ts";

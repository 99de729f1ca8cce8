// What hostile bytes may give besides a value: a typed decode failure, never a crash.
import { CodecError, LimitError } from "../../src/core/errors.ts";

/** A typed decode failure: bytes that do not decode (CodecError) or cost more than a limit allows (LimitError). */
export type DecodeError = CodecError | LimitError;

/** True for a {@link DecodeError}; a TypeError, RangeError or plain Error is a crash, not one. */
export function isDecodeError(e: unknown): e is DecodeError {
  return e instanceof CodecError || e instanceof LimitError;
}

/** Runs `fn`; a decode error is an acceptable end for hostile input, anything else is rethrown. */
export function onlyDecodeErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!isDecodeError(e)) throw e;
  }
}

/**
 * The growable output buffer both text encoders (FreezeThaw, Data::Dumper) write into.
 *
 * @module
 */

/**
 * A byte buffer that doubles as it fills.
 *
 * @example
 * ```ts
 * import { ByteWriter } from "./byte-writer.ts";
 * const w = new ByteWriter();
 * w.ascii("FrT;");
 * w.byte(0x5f);
 * w.result(); // the bytes of "FrT;_"
 * ```
 */
export class ByteWriter {
  buf: Uint8Array = new Uint8Array(256);
  len = 0;

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Text that is ASCII by construction. */
  ascii(s: string): void {
    this.reserve(s.length);
    const buf = this.buf;
    let len = this.len;
    for (let i = 0; i < s.length; i++) buf[len++] = s.charCodeAt(i);
    this.len = len;
  }

  /** One byte. */
  byte(c: number): void {
    this.reserve(1);
    this.buf[this.len++] = c;
  }

  /** Bytes as they are. */
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A copy of what was written. */
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

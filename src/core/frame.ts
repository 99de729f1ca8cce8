/**
 * Wire framing of IKC: the text lines of the negotiation stage ({@link LineReader}) and the
 * `<ascii decimal length>\0<payload>` frames that follow it ({@link FrameReader},
 * {@link encodeFrame}), as POE::Filter::Line and POE::Filter::Reference speak them.
 *
 * Pure: no I/O. Readers take chunks in whatever sizes the socket delivers them.
 *
 * @module
 */
import { LimitError, ProtocolError } from "./errors.ts";
import { latin1Decode } from "./text.ts";

const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Body pieces up to this many bytes are copied byte by byte instead of through `subarray` + `set`. */
const SMALL_COPY = 16;

/**
 * First buffer for a frame split across chunks, when the frame is larger: the buffer then doubles
 * as bytes arrive, up to the frame's length, so announcing 64 MiB reserves nothing until it is sent.
 */
const FIRST_BODY_BUFFER = 64 * 1024;

/** Longest decimal length header accepted; 20 digits hold any 64-bit length (leading zeros included). */
const MAX_HEADER_DIGITS = 20;

/**
 * Default {@link FrameReaderOptions.maxFrameSize}: 64 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_FRAME_SIZE, FrameReader } from "./frame.ts";
 * const reader = new FrameReader({ maxFrameSize: 4 * DEFAULT_MAX_FRAME_SIZE });
 * ```
 */
export const DEFAULT_MAX_FRAME_SIZE: number = 64 * 1024 * 1024;

/**
 * Default {@link LineReaderOptions.maxLineLength}: 4096 bytes.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_LINE_LENGTH, LineReader } from "./frame.ts";
 * const lines = new LineReader({ maxLineLength: 2 * DEFAULT_MAX_LINE_LENGTH });
 * ```
 */
export const DEFAULT_MAX_LINE_LENGTH: number = 4096;

// Buffer subclasses (node's Buffer) have surprising slice/subarray semantics and fail
// deepStrictEqual against Uint8Array; hand out plain Uint8Array views only.
function plain(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function copyOf(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.byteLength);
  out.set(src);
  return out;
}

function describeByte(b: number): string {
  const hex = `0x${b.toString(16).padStart(2, "0")}`;
  return b >= 0x20 && b < 0x7f ? `${hex} '${String.fromCharCode(b)}'` : hex;
}

/**
 * Options of {@link FrameReader}.
 *
 * @example
 * ```ts
 * import { FrameReader, type FrameReaderOptions } from "./frame.ts";
 * const opts: FrameReaderOptions = { maxFrameSize: 1 << 20, copy: true };
 * const reader = new FrameReader(opts);
 * ```
 */
export interface FrameReaderOptions {
  /** Largest payload accepted, in bytes (default 64 MiB). A bigger declared length throws a LimitError. */
  maxFrameSize?: number;
  /**
   * Return frames that lie wholly inside one pushed chunk as copies instead of views into that
   * chunk (default false). Set it when the caller reuses its chunk buffers.
   */
  copy?: boolean;
}

// Reader states (plain numbers: no enums, so the file stays erasable TypeScript).
const HEADER = 0;
const BODY = 1;

/**
 * Splits a byte stream into POE::Filter::Reference frames: `<length in ASCII decimal>\0<length bytes>`.
 *
 * Chunks may split or merge frames in any way. Each input byte is looked at once:
 * - a frame lying wholly inside one chunk is returned as a zero-copy `subarray` view of that chunk
 *   (so it shares the chunk's memory: if you overwrite or reuse chunk buffers, consume the frame
 *   before the next `push`, or pass `{ copy: true }`);
 * - a frame split across chunks is assembled into one buffer that grows as its bytes arrive
 *   (64 KiB or twice what came with the header, then doubling, capped at the declared length), so
 *   memory follows the bytes received, not the length announced;
 * - a partial header is kept as a running number, never as buffered bytes.
 *
 * A bad header throws a {@link ProtocolError}; a declared length above `maxFrameSize` throws a
 * {@link LimitError} as soon as the digits exceed it, before any body byte is buffered. After
 * either the reader is poisoned: every later `push` throws the same error until `reset()`.
 * Leading zeros in the length are accepted (Perl's `/^(\d+)\0/` does). One CR or LF as the very
 * first byte of the stream is skipped: it is the second half of the negotiation's last line end
 * (LF CR or CR LF) arriving in the packet after the first half.
 *
 * @example
 * ```ts
 * import { FrameReader, encodeFrame } from "./frame.ts";
 * const reader = new FrameReader({ maxFrameSize: 1 << 20 });
 * const wire = encodeFrame(new Uint8Array([5, 11, 1]));
 * reader.push(wire.subarray(0, 2));            // [] (header incomplete)
 * const frames = reader.push(wire.subarray(2)); // [Uint8Array [5, 11, 1]]
 * ```
 */
export class FrameReader {
  readonly #maxFrameSize: number;
  readonly #copy: boolean;
  #state: typeof HEADER | typeof BODY = HEADER;
  #digits = 0;
  #length = 0;
  #body: Uint8Array | undefined;
  #bodyPos = 0;
  #offset = 0; // stream offset of the next byte to be pushed
  #headerOffset = 0; // stream offset where the current header began
  #error: Error | undefined;

  /** Creates a reader; throws RangeError when `maxFrameSize` is not a non-negative safe integer. */
  constructor(options: FrameReaderOptions = {}) {
    const max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`maxFrameSize must be a non-negative safe integer, got ${max}`);
    }
    this.#maxFrameSize = max;
    this.#copy = options.copy ?? false;
  }

  /** Bytes of the incomplete frame consumed so far: header digits (and its NUL) plus body bytes assembled. */
  get buffered(): number {
    return this.#state === BODY ? this.#digits + 1 + this.#bodyPos : this.#digits;
  }

  /**
   * Bytes of buffer held for the incomplete frame: a small multiple of what has arrived of it
   * (at most four times, or 64 KiB), never its announced length up front.
   */
  get reserved(): number {
    return this.#body?.length ?? 0;
  }

  /** Total bytes pushed since construction or the last `reset()`. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Feeds one chunk; returns the payloads of all frames completed by it, in order (often none).
   * Throws ProtocolError / LimitError on bad input, and again on every later call; frames that
   * completed earlier in the failing chunk are not returned (the stream is unusable anyway).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#error) throw this.#error;
    const out: Uint8Array[] = [];
    const data = plain(chunk);
    const end = data.byteLength;
    const base = this.#offset;
    let i = 0;
    try {
      while (i < end) {
        if (this.#state === BODY) {
          let body = this.#body!;
          const n = Math.min(this.#length - this.#bodyPos, end - i);
          const at = this.#bodyPos;
          if (at + n > body.length) body = this.#grow(at + n);
          if (n <= SMALL_COPY) {
            // A subarray view costs more than copying a few bytes one by one (tiny socket reads).
            for (let k = 0; k < n; k++) body[at + k] = data[i + k];
          } else {
            body.set(data.subarray(i, i + n), at);
          }
          this.#bodyPos = at + n;
          i += n;
          if (this.#bodyPos === this.#length) {
            out.push(body);
            this.#startHeader(base + i);
          }
          continue;
        }
        // Header: digits then NUL.
        const b = data[i];
        if (b >= DIGIT_0 && b <= DIGIT_9) {
          if (++this.#digits > MAX_HEADER_DIGITS) {
            throw new ProtocolError(
              `bad frame header at stream offset ${this.#headerOffset}: more than ${MAX_HEADER_DIGITS} digits without NUL`,
            );
          }
          this.#length = this.#length * 10 + (b - DIGIT_0);
          if (this.#length > this.#maxFrameSize) {
            throw new LimitError(
              `frame length exceeds maxFrameSize ${this.#maxFrameSize} (header so far: ${this.#length})`,
              this.#headerOffset,
            );
          }
          i++;
          continue;
        }
        if (b !== NUL) {
          if ((b === CR || b === LF) && base + i === 0) {
            i++;
            continue;
          }
          throw new ProtocolError(
            `bad frame header at stream offset ${base + i}: byte ${describeByte(b)} where a digit or NUL was expected`,
          );
        }
        if (this.#digits === 0) {
          throw new ProtocolError(`bad frame header at stream offset ${base + i}: empty length before NUL`);
        }
        i++;
        const len = this.#length;
        if (end - i >= len) {
          const view = data.subarray(i, i + len);
          out.push(this.#copy ? copyOf(view) : view);
          i += len;
          this.#startHeader(base + i);
        } else {
          const body = new Uint8Array(Math.min(len, Math.max(FIRST_BODY_BUFFER, 2 * (end - i))));
          body.set(data.subarray(i, end));
          this.#bodyPos = end - i;
          this.#body = body;
          this.#state = BODY;
          i = end;
        }
      }
    } catch (e) {
      this.#error = e as Error;
      this.#offset = base + i;
      throw e;
    }
    this.#offset = base + end;
    return out;
  }

  /** Forgets any partial frame and a stored error; the reader starts afresh at stream offset 0. */
  reset(): void {
    this.#startHeader(0);
    this.#offset = 0;
    this.#error = undefined;
  }

  /** The body buffer grown (doubling, up to the frame's length) to hold `need` bytes. */
  #grow(need: number): Uint8Array {
    let size = this.#body!.length * 2;
    while (size < need) size *= 2;
    // Straight to the full length once doubling again would pass it: every copy is then of at
    // most half the frame, and the copies add up to less than the frame.
    if (size * 2 > this.#length) size = this.#length;
    const grown = new Uint8Array(size);
    grown.set(this.#body!.subarray(0, this.#bodyPos));
    this.#body = grown;
    return grown;
  }

  #startHeader(at: number): void {
    this.#state = HEADER;
    this.#digits = 0;
    this.#length = 0;
    this.#body = undefined;
    this.#bodyPos = 0;
    this.#headerOffset = at;
  }
}

/**
 * Bytes one frame of a `payloadLength`-byte payload takes on the wire (header, NUL, payload).
 *
 * @example
 * ```ts
 * import { frameSize } from "./frame.ts";
 * frameSize(3); // 5: "3", NUL and 3 bytes
 * frameSize(1000); // 1005
 * ```
 */
export function frameSize(payloadLength: number): number {
  let digits = 1;
  for (let v = payloadLength; v >= 10; v = Math.floor(v / 10)) digits++;
  return digits + 1 + payloadLength;
}

/**
 * Writes one frame (`<payload length in ASCII decimal>\0<payload>`) into `out` at `at`, which
 * must have {@link frameSize} bytes of room; returns where the frame ends. The one framing
 * writer: {@link encodeFrame} and the connection's write batch both use it.
 *
 * @example
 * ```ts
 * import { encodeFrameInto, frameSize } from "./frame.ts";
 * const payload = new Uint8Array([7, 8]);
 * const out = new Uint8Array(1 + frameSize(2));
 * encodeFrameInto(payload, out, 1); // 5; out is [0, 0x32, 0, 7, 8]
 * ```
 */
export function encodeFrameInto(payload: Uint8Array, out: Uint8Array, at: number): number {
  const n = payload.byteLength;
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let i = digits - 1, v = n; i >= 0; i--, v = Math.floor(v / 10)) out[at + i] = DIGIT_0 + (v % 10);
  at += digits;
  out[at++] = NUL;
  out.set(payload, at);
  return at + n;
}

/**
 * Frames one payload for the wire: `<payload length in ASCII decimal>\0<payload>`, in a single
 * allocation (one write, no header/payload pair to juggle).
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./frame.ts";
 * encodeFrame(new Uint8Array([0x05, 0x0b, 0x03])); // Uint8Array [0x33, 0x00, 0x05, 0x0b, 0x03] ("3\0...")
 * ```
 */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameSize(payload.byteLength));
  encodeFrameInto(payload, out, 0);
  return out;
}

/**
 * Options of {@link LineReader}.
 *
 * @example
 * ```ts
 * import { LineReader, type LineReaderOptions } from "./frame.ts";
 * const opts: LineReaderOptions = { maxLineLength: 1024 };
 * const lines = new LineReader(opts);
 * ```
 */
export interface LineReaderOptions {
  /** Longest line accepted, without its line end (default 4096); longer throws a ProtocolError. */
  maxLineLength?: number;
}

/**
 * Splits the negotiation stage into text lines the way Perl's POE::Filter::Line reads them: a line
 * ends with CR, LF, CR LF or LF CR (`/\x0D\x0A?|\x0A\x0D?/`). Lines are decoded as Latin-1.
 *
 * A line end that is the last byte received is taken at once (a peer ending lines with CR or LF
 * alone must not stall), and the other byte of a CR LF or LF CR arriving right after it in the next
 * packet is dropped as its second half, so a split line end never yields a spurious empty line.
 * When that second half comes only after the last line, {@link FrameReader} skips it.
 *
 * After negotiation, {@link LineReader.takeRest} hands over the bytes that followed the last line
 * (the first frame can arrive in the same packet as `UP`).
 *
 * @example
 * ```ts
 * import { LineReader } from "./frame.ts";
 * const lines = new LineReader();
 * lines.push(new TextEncoder().encode("IAM Server\r\nDONE\r"));
 * lines.nextLine(); // "IAM Server"
 * lines.nextLine(); // "DONE" (an LF may follow in the next packet: it will be dropped)
 * lines.push(new TextEncoder().encode("\n3\0abc"));
 * lines.takeRest(); // bytes of "3\0abc"
 * ```
 */
export class LineReader {
  readonly #maxLineLength: number;
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #scan = 0; // where the search for a line end resumes
  #skip = -1; // second byte of a two-byte line end that may arrive in the next chunk
  #error: Error | undefined;

  /** Creates an empty reader. */
  constructor(options: LineReaderOptions = {}) {
    this.#maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  }

  /** Bytes received and not yet returned as a line. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Appends received bytes. Nothing is parsed until {@link LineReader.nextLine} is called. */
  push(chunk: Uint8Array): void {
    if (this.#error) throw this.#error;
    const n = chunk.byteLength;
    if (n === 0) return;
    if (this.#end + n > this.#buf.byteLength) {
      const live = this.#end - this.#start;
      const need = live + n;
      if (need <= this.#buf.byteLength && this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(need, this.#buf.byteLength * 2, 256));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      }
      this.#scan -= this.#start;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += n;
  }

  /**
   * Returns the next complete line without its line end, or undefined when none is complete yet.
   * Throws a ProtocolError (and keeps throwing) when a line exceeds `maxLineLength`.
   */
  nextLine(): string | undefined {
    if (this.#error) throw this.#error;
    const buf = this.#buf;
    this.#dropSkip();
    const start = this.#start;
    const end = this.#end;
    for (let i = Math.max(this.#scan, start); i < end; i++) {
      const b = buf[i];
      if (b !== LF && b !== CR) continue;
      if (i - start > this.#maxLineLength) return this.#tooLong();
      const other = b === CR ? LF : CR;
      let next = i + 1;
      if (next === end) this.#skip = other; // its second half may come in the next chunk
      else if (buf[next] === other) next++;
      const line = latin1Decode(buf, start, i);
      this.#start = next;
      this.#scan = next;
      return line;
    }
    this.#scan = end;
    if (end - start > this.#maxLineLength) return this.#tooLong();
    return undefined;
  }

  /**
   * Removes and returns every byte after the last line returned (a held partial line included):
   * the start of the frame stage. The result does not share memory with later pushes.
   */
  takeRest(): Uint8Array {
    if (this.#error) throw this.#error;
    this.#dropSkip();
    const rest = this.#buf.subarray(this.#start, this.#end);
    this.#buf = new Uint8Array(0);
    this.#start = this.#end = this.#scan = 0;
    return rest;
  }

  #dropSkip(): void {
    if (this.#skip >= 0 && this.#start < this.#end) {
      if (this.#buf[this.#start] === this.#skip) {
        this.#start++;
        if (this.#scan < this.#start) this.#scan = this.#start;
      }
      this.#skip = -1;
    }
  }

  #tooLong(): never {
    this.#error = new ProtocolError(`negotiation line longer than ${this.#maxLineLength} bytes`);
    throw this.#error;
  }
}

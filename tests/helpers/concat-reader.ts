// The reader an earlier design would have been: every chunk appended to the pending bytes by
// copying them all, so cost grows with the square of the input. The frame tests use it to prove
// their copy meter can fail; the frame benchmark times it beside FrameReader for contrast.

/** Appends each chunk by copying the whole pending buffer (quadratic on purpose). */
export class ConcatReader {
  #pending = new Uint8Array(0);
  /** Appends `chunk`; returns the pending length. */
  push(chunk: Uint8Array): number {
    const next = new Uint8Array(this.#pending.length + chunk.length);
    next.set(this.#pending);
    next.set(chunk, this.#pending.length);
    this.#pending = next;
    return next.length;
  }
}

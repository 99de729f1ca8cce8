// A raw IKC client on this runtime's transport, for tests that play a misbehaving client: it
// negotiates IKC0 with Storable by hand and then speaks frames (or anything else) as told.
import assert from "node:assert/strict";
import { type Connection, nfreeze, type PerlValue, thaw } from "../../mod.ts";
import { detectTransport } from "../../src/transport/detect.ts";
import { encodeFrame, FrameReader } from "../../src/core/frame.ts";

export type Msg = Record<string, PerlValue>;

const ascii = (s: string) => new TextEncoder().encode(s);

/** Reads from a raw connection until a whole line arrived; returns it without its line end. */
export async function readLine(conn: Connection): Promise<string> {
  let text = "";
  for (;;) {
    const chunk = await conn.read();
    if (chunk === null) throw new Error(`EOF before a line (got ${JSON.stringify(text)})`);
    for (const b of chunk) text += String.fromCharCode(b);
    const i = text.search(/\r?\n/);
    if (i >= 0) return text.slice(0, i);
  }
}

/** A connection that has negotiated IKC0 with Storable as kernel `name`. */
export class RawClient {
  readonly conn: Connection;
  readonly name: string;
  /** The server's kernel id, from its SETUP reply. */
  readonly server: string;
  #reader = new FrameReader({ maxFrameSize: 1 << 30 });
  #frames: Msg[] = [];

  private constructor(conn: Connection, name: string, server: string) {
    this.conn = conn;
    this.name = name;
    this.server = server;
  }

  static async connect(port: number, name: string): Promise<RawClient> {
    const conn = await detectTransport().connect({ host: "127.0.0.1", port });
    await conn.write(ascii(`SETUP KERNEL=${name};FREEZER=Storable;PID=1\r\n`));
    const reply = await readLine(conn);
    const m = /^SETUP KERNEL=([^,;]+).*;FREEZER=Storable;PID=\d+$/.exec(reply);
    assert.ok(m, `negotiation reply: ${reply}`);
    return new RawClient(conn, name, m[1]);
  }

  /** Writes one message as a frame. */
  send(message: Msg): Promise<void> {
    return this.conn.write(encodeFrame(nfreeze(message)));
  }

  /** A call to `session/state` on the server, answered to our `IKCLite/<rsvp>`. */
  call(target: string, params: PerlValue, rsvp: string): Promise<void> {
    return this.send({
      event: `poe://${this.server}/${target}`,
      params,
      from: { kernel: this.name, session: "IKCLite" },
      rsvp: { kernel: this.name, session: "IKCLite", state: rsvp },
      wantarray: 0,
    });
  }

  /** The next message from the server; null at EOF (or a reset). */
  async next(): Promise<Msg | null> {
    while (this.#frames.length === 0) {
      const chunk = await this.conn.read().catch(() => null);
      if (chunk === null) return null;
      for (const f of this.#reader.push(chunk)) this.#frames.push(thaw(f) as Msg);
    }
    return this.#frames.shift()!;
  }

  /** Reads until the server ends the connection; resolves with the bytes read meanwhile. */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const chunk = await this.conn.read().catch(() => null);
      if (chunk === null) return n;
      n += chunk.byteLength;
    }
  }

  close(): Promise<void> {
    return this.conn.close().catch(() => {});
  }
}

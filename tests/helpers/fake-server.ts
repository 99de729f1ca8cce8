// A fake IKC server on the raw transport layer, for tests that need a server that misbehaves.
// It speaks the wire by hand (negotiation lines, then `<len>\0<Storable>` frames) so a test can
// break it in any way: each accepted connection is handed to the server's current `behave`.
import { type Connection, type Listener, nfreeze, type PerlValue, thaw } from "../../mod.ts";
import { detectTransport } from "../../src/transport/detect.ts";
import { encodeFrame, FrameReader } from "../../src/core/frame.ts";

/** The kernel id the fake server announces (a bare `session/state` is sent to it). */
export const FAKE_KERNEL = "Fake-1";

export type Msg = Record<string, PerlValue>;

const latin1 = (s: string) => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
};

/** One accepted connection, read by hand. */
export class Peer {
  readonly conn: Connection;
  readonly server: FakeServer;
  /** Bytes read from the socket, total. */
  bytesRead = 0;
  /** Frames read (after negotiation). */
  framesRead = 0;
  /** The client's kernel name, once its SETUP line arrived. */
  clientName = "";
  #pending: Uint8Array = new Uint8Array(0);
  #reader = new FrameReader({ maxFrameSize: 1 << 30 });
  #frames: Uint8Array[] = [];
  #eof = false;

  constructor(conn: Connection, server: FakeServer) {
    this.conn = conn;
    this.server = server;
  }

  /** The next chunk from the socket (null at EOF or on a reset). */
  async read(): Promise<Uint8Array | null> {
    if (this.#eof) return null;
    let chunk: Uint8Array | null;
    try {
      chunk = await this.conn.read();
    } catch {
      chunk = null;
    }
    if (chunk === null) {
      this.#eof = true;
      return null;
    }
    this.bytesRead += chunk.byteLength;
    return chunk;
  }

  /** One negotiation line, without its line end (null at EOF). */
  async readLine(): Promise<string | null> {
    for (;;) {
      const p = this.#pending;
      for (let i = 0; i < p.length; i++) {
        if (p[i] === 0x0a) {
          let end = i;
          if (end > 0 && p[end - 1] === 0x0d) end--;
          const line = String.fromCharCode(...p.subarray(0, end));
          this.#pending = p.slice(i + 1);
          return line;
        }
      }
      const chunk = await this.read();
      if (chunk === null) return null;
      const joined = new Uint8Array(p.length + chunk.length);
      joined.set(p);
      joined.set(chunk, p.length);
      this.#pending = joined;
    }
  }

  /** Reads the client's SETUP line (null at EOF). */
  async readSetup(): Promise<string | null> {
    const line = await this.readLine();
    if (line === null) return null;
    if (!line.startsWith("SETUP ")) throw new Error(`fake server: expected SETUP, got ${JSON.stringify(line)}`);
    this.clientName = /KERNEL=([^,;]+)/.exec(line)?.[1] ?? "";
    return line;
  }

  /** The fake server's answer to a SETUP line. */
  setupReply(): string {
    return `SETUP KERNEL=${FAKE_KERNEL},Fake,127.0.0.1:${this.server.port};FREEZER=Storable;PID=1\r\n`;
  }

  /** Negotiates IKC0 properly; false when the client went away first. */
  async negotiate(): Promise<boolean> {
    if ((await this.readSetup()) === null) return false;
    await this.raw(latin1(this.setupReply()));
    return true;
  }

  /** The next message the client sent (null at EOF). */
  async next(): Promise<Msg | null> {
    for (;;) {
      if (this.#frames.length > 0) {
        this.framesRead++;
        return thaw(this.#frames.shift()!) as Msg;
      }
      if (this.#pending.length > 0) {
        const p = this.#pending;
        this.#pending = new Uint8Array(0);
        this.#frames.push(...this.#reader.push(p));
        continue;
      }
      const chunk = await this.read();
      if (chunk === null) return null;
      this.#frames.push(...this.#reader.push(chunk));
    }
  }

  /** Sends a message as one frame. */
  send(message: Msg): Promise<void> {
    return this.raw(encodeFrame(nfreeze(message)));
  }

  /** Sends raw bytes (rejections swallowed: the client may be gone). */
  async raw(bytes: Uint8Array | string): Promise<void> {
    try {
      await this.conn.write(typeof bytes === "string" ? latin1(bytes) : bytes);
    } catch {
      // the client went away
    }
  }

  /** Reads (and drops) until the client closes. */
  async drain(): Promise<void> {
    while ((await this.read()) !== null) { /* drop */ }
  }

  /** Closes the socket (with unread bytes in the kernel's buffer the OS resets the connection). */
  close(): Promise<void> {
    return this.conn.close().catch(() => {});
  }

  /**
   * Closes with whatever the client sent still unread, then goes on reading what the transport
   * still hands over while it shuts down (node's and Bun's transports drain the socket on close;
   * Deno's closes at once, so the OS resets the connection). `each` sees every message that
   * reached this process that way: it arrived, even though the server threw it away.
   */
  async closeAndCount(each: (m: Msg) => void): Promise<void> {
    const closing = this.close();
    try {
      for (let m; (m = await this.next()) !== null;) each(m);
    } catch {
      // a torn last frame: not arrived
    }
    await closing;
  }

  /** Answers a message as a well-behaved server would. */
  async answer(m: Msg): Promise<void> {
    const event = typeof m.event === "string" ? m.event : "";
    const state = event.slice(event.lastIndexOf("/") + 1);
    const session = event.split("/").slice(-2, -1)[0];
    this.server.received.push(m);
    if (m.rsvp && typeof m.rsvp === "object") {
      const answer = session === "IKC" && state === "ping" ? "PONG" : m.params;
      await this.send({ event: m.rsvp, params: answer ?? null });
    } else if (state === "respond" && Array.isArray(m.params)) {
      await this.send({ event: m.params[1], params: m.params[0] });
    }
  }
}

/** What a fake server does with one accepted connection. */
export type Behaviour = (peer: Peer) => Promise<void>;

/** Negotiates, then answers every request (echo; `IKC/ping` answers PONG) until the client closes. */
export const good: Behaviour = async (peer) => {
  if (!(await peer.negotiate())) return;
  for (let m; (m = await peer.next()) !== null;) await peer.answer(m);
};

/** A listener whose connections get the current `behave`; switch it to change behaviour. */
export class FakeServer {
  readonly listener: Listener;
  readonly port: number;
  behave: Behaviour;
  readonly peers: Peer[] = [];
  /** Every message answered by `answer()`, in order. */
  readonly received: Msg[] = [];
  /** Exceptions thrown by behaviours (a test bug, not the client's). */
  readonly failures: unknown[] = [];
  #tasks: Promise<void>[] = [];

  private constructor(listener: Listener, behave: Behaviour) {
    this.listener = listener;
    this.port = listener.port!;
    this.behave = behave;
  }

  static async start(behave: Behaviour, port = 0): Promise<FakeServer> {
    const listener = await detectTransport().listen({ host: "127.0.0.1", port });
    const s = new FakeServer(listener, behave);
    void s.#loop();
    return s;
  }

  /** The latest connection. */
  get last(): Peer | undefined {
    return this.peers[this.peers.length - 1];
  }

  async #loop(): Promise<void> {
    for (;;) {
      const conn = await this.listener.accept().catch(() => null);
      if (conn === null) return;
      const peer = new Peer(conn, this);
      this.peers.push(peer);
      const behave = this.behave;
      this.#tasks.push(
        behave(peer).catch((e) => void this.failures.push(e)).finally(() => peer.close()),
      );
    }
  }

  async close(): Promise<void> {
    await this.listener.close();
    await Promise.all(this.peers.map((p) => p.close()));
  }
}

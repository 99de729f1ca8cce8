// Shared by the genuine checks (check/genuine-clients.ts, check/genuine-kernels.ts): the genuine
// lib from IKC_GENUINE_LIB, the wire as recorded (our transport's connections, or a TCP tap between
// two Perl kernels), frames parsed and thawed for messages, and Perl driver processes speaking JSON
// lines. Not a test file: importing it registers no test.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import type { Connection, Listener, Transport } from "../mod.ts";
import { builtinFreezers } from "../src/core/freezers.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { concat } from "../tests/helpers/bytes.ts";

// deno-lint-ignore no-explicit-any
export type J = any;

export const lib = process.env.IKC_GENUINE_LIB ?? "";
export const FREEZERS = ["Storable", "FreezeThaw", "POE::Component::IKC::Freezer"] as const;
export type FreezerName = (typeof FREEZERS)[number];
export function requireLib(): string {
  if (
    !lib || !existsSync(join(lib, "POE/Component/IKC/ClientLite.pm")) ||
    !existsSync(join(lib, "POE/Component/IKC/Client.pm"))
  ) {
    throw new Error(
      `IKC_GENUINE_LIB must name a folder holding POE/Component/IKC/ClientLite.pm and Client.pm (got ${
        JSON.stringify(lib)
      }); ` +
        "run scripts/check-genuine-clients.sh <path of a POE-Component-IKC checkout>",
    );
  }
  return lib;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(
  what: string,
  cond: () => boolean,
  ms = 5000,
  detail: () => string = () => "",
): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 20) await sleep(20);
  assert.ok(cond(), `timed out waiting for ${what}${detail() ? `\n${detail()}` : ""}`);
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "ikc-gc-"));
}

/** JSON for messages: bigints as text, bytes as a note. */
export function show(v: unknown): string {
  try {
    return JSON.stringify(
      v,
      (_k, x) => typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? `<${x.length} bytes>` : x,
    ) ?? String(v);
  } catch {
    return String(v);
  }
}

/** FreezeThaw text has no number type: what went through it as a number comes back a string. */
export function textNumbers(v: J): J {
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return v.map(textNumbers);
  if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, textNumbers(x)]));
  }
  return v;
}

/** Byte strings (Uint8Array) as the Latin-1 text they hold. */
export function latin1Text(v: J): J {
  if (v instanceof Uint8Array) return String.fromCharCode(...v);
  if (Array.isArray(v)) return v.map(latin1Text);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, latin1Text(x)]));
  }
  return v;
}

// ------------------------------------------------------------------ the wire, recorded

export interface Wire {
  remote: string;
  /** What the client sent us. */
  up: Uint8Array[];
  /** What we sent the client. */
  down: Uint8Array[];
  /** Both directions in the order they happened. */
  log: Array<{ dir: "C" | "S"; bytes: Uint8Array }>;
  bytes: number;
}

export const RECORD_LIMIT = 1 << 20;

/** The runtime's transport, with every accepted connection recorded (the first MiB each way). */
export function recordingTransport(): { transport: Transport; wires: Wire[] } {
  const inner = detectTransport();
  const wires: Wire[] = [];
  const transport: Transport = {
    name: `recording ${inner.name}`,
    // connections we open: what we write goes up (client to server)
    connect: async (options) => recorded(await inner.connect(options), wires, "down"),
    async listen(options) {
      const l = await inner.listen(options);
      const listener: Listener = {
        get address() {
          return l.address;
        },
        get port() {
          return l.port;
        },
        get path() {
          return l.path;
        },
        close: () => l.close(),
        async accept() {
          const c = await l.accept();
          return c === null ? null : recorded(c, wires, "up");
        },
      };
      return listener;
    },
  };
  return { transport, wires };
}

/** A connection whose bytes are kept in a new Wire: what it reads goes to `reads` (up or down). */
function recorded(c: Connection, wires: Wire[], reads: "up" | "down"): Connection {
  const w: Wire = { remote: c.remote, up: [], down: [], log: [], bytes: 0 };
  wires.push(w);
  const writes = reads === "up" ? "down" : "up";
  return {
    get remote() {
      return c.remote;
    },
    get closed() {
      return c.closed;
    },
    async read() {
      const b = await c.read();
      if (b) keep(w, reads, b);
      return b;
    },
    async write(data: Uint8Array) {
      keep(w, writes, data);
      return await c.write(data);
    },
    close: () => c.close(),
    closeWrite: c.closeWrite ? () => c.closeWrite!() : undefined,
  };
}

/** Keeps a copy of `b` on one side of the wire (up: client to server, logged C; down: S). */
function keep(w: Wire, dir: "up" | "down", b: Uint8Array): void {
  if (w.bytes >= RECORD_LIMIT) return;
  const copy = b.slice();
  w[dir].push(copy);
  w.log.push({ dir: dir === "up" ? "C" : "S", bytes: copy });
  w.bytes += b.length;
}

/**
 * A TCP tap between two kernels that are not ours (a genuine worker and a genuine hub): listens
 * on a free local port, forwards each connection to `target`, and records both directions.
 */
export class TcpTap {
  readonly wires: Wire[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async open(target: number): Promise<TcpTap> {
    const server = createServer();
    const tap = new TcpTap(server);
    server.on("connection", (down: Socket) => tap.#pipe(down, target));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return tap;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The recorded connection whose negotiation announced `kernel` (first SETUP/IAM name), else undefined. */
  wireOf(kernel: string): Wire | undefined {
    return this.wires.find((w) => {
      const up = parseStream(w.up).lines;
      return up.some((l) => l.startsWith(`SETUP KERNEL=`) && l.split(/[=;,]/).includes(kernel)) ||
        up.some((l) => l === `IAM ${kernel}`);
    });
  }

  #pipe(client: Socket, target: number): void {
    const w: Wire = { remote: `${client.remoteAddress}:${client.remotePort}`, up: [], down: [], log: [], bytes: 0 };
    this.wires.push(w);
    const server = connect(target, "127.0.0.1");
    for (const s of [client, server]) {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
      s.on("error", () => {});
    }
    client.on("data", (b: Uint8Array) => {
      keep(w, "up", b);
      server.write(b);
    });
    server.on("data", (b: Uint8Array) => {
      keep(w, "down", b);
      client.write(b);
    });
    client.on("end", () => server.end());
    server.on("end", () => client.end());
    client.on("close", () => server.destroy());
    server.on("close", () => client.destroy());
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Every message thawed from one direction of a wire (up: client to server). */
export function messages(w: Wire | undefined, dir: "up" | "down"): J[] {
  return w ? parseStream(w[dir]).frames.map(thawFrame) : [];
}

/** One direction of a connection: the negotiation lines, then the frames (`<len>\0<bytes>`). */
export function parseStream(chunks: Uint8Array[]): { lines: string[]; frames: Uint8Array[] } {
  const b = concat(chunks);
  const lines: string[] = [];
  const frames: Uint8Array[] = [];
  let i = 0;
  while (i < b.length) {
    let j = i;
    while (j < b.length && b[j] >= 0x30 && b[j] <= 0x39) j++;
    if (j > i && j < b.length && b[j] === 0) {
      const len = Number(new TextDecoder().decode(b.subarray(i, j)));
      if (j + 1 + len > b.length) break; // cut off by the record limit
      frames.push(b.subarray(j + 1, j + 1 + len));
      i = j + 1 + len;
      continue;
    }
    let k = i;
    while (k < b.length && b[k] !== 0x0a) k++;
    let s = "";
    for (let x = i; x < k; x++) s += String.fromCharCode(b[x]);
    lines.push(s.replace(/\r$/, ""));
    i = k + 1;
  }
  return { lines, frames };
}

/** Which freezer wrote a frame, from its first bytes. */
export function frameFormat(f: Uint8Array): FreezerName | "unknown" {
  if (f[0] === 0x05 || f[0] === 0x04) return "Storable";
  const head = String.fromCharCode(...f.subarray(0, 40));
  if (head.startsWith("FrT;")) return "FreezeThaw";
  if (head.startsWith("$POE::Component::IKC::Freezer::VAR1")) return "POE::Component::IKC::Freezer";
  return "unknown";
}

export function thawFrame(f: Uint8Array): J {
  const fmt = frameFormat(f);
  if (fmt === "unknown") return { undecodable: String.fromCharCode(...f.subarray(0, 60)) };
  try {
    return builtinFreezers[fmt].thaw(f);
  } catch (e) {
    return { undecodable: `${fmt}: ${e instanceof Error ? e.message : e}` };
  }
}

/** A connection as text: C:/S: negotiation lines, then each message thawed. */
export function wireText(w: Wire | undefined, maxFrames = 12): string {
  if (!w) return "(no connection recorded)";
  const up = parseStream(w.up);
  const down = parseStream(w.down);
  const out = [`connection from ${w.remote}`];
  // the negotiation lines in the order they went, each direction up to its first frame
  const text: Record<string, string> = { C: "", S: "" };
  const framed: Record<string, boolean> = { C: false, S: false };
  for (const { dir, bytes } of w.log) {
    if (framed[dir]) continue;
    for (const x of bytes) text[dir] += String.fromCharCode(x);
    let i;
    while (!framed[dir] && (i = text[dir].indexOf("\n")) >= 0) {
      if (/^\d+\0/.test(text[dir])) break;
      out.push(`  ${dir}: ${text[dir].slice(0, i).replace(/\r$/, "")}`);
      text[dir] = text[dir].slice(i + 1);
    }
    if (/^\d+\0/.test(text[dir])) framed[dir] = true;
  }
  for (const f of up.frames.slice(0, maxFrames)) out.push(`  C frame (${frameFormat(f)}): ${show(thawFrame(f))}`);
  for (const f of down.frames.slice(0, maxFrames)) out.push(`  S frame (${frameFormat(f)}): ${show(thawFrame(f))}`);
  return out.join("\n");
}

// ------------------------------------------------------------------ Perl processes

export const running = new Set<PerlProc>();

export class PerlProc {
  readonly proc: ChildProcess;
  readonly lines: J[] = [];
  #out = "";
  #err = "";
  #exit: { code: number | null; signal: string | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  constructor(readonly label: string, file: string, args: string[], env: Record<string, string> = {}) {
    this.proc = spawn("perl", [`-I${requireLib()}`, file, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    running.add(this);
    const dec = new TextDecoder();
    this.proc.stdout!.on("data", (d: Uint8Array) => {
      this.#out += dec.decode(d, { stream: true });
      let i;
      while ((i = this.#out.indexOf("\n")) >= 0) {
        const l = this.#out.slice(0, i);
        this.#out = this.#out.slice(i + 1);
        let v: J;
        try {
          v = JSON.parse(l);
        } catch {
          v = { text: l };
        }
        this.lines.push(v);
      }
    });
    const edec = new TextDecoder();
    this.proc.stderr!.on("data", (d: Uint8Array) => {
      this.#err += edec.decode(d, { stream: true });
    });
    this.proc.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.#exit = { code, signal };
        running.delete(this);
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  stderr(): string {
    return this.#err;
  }

  get exit(): { code: number | null; signal: string | null } | undefined {
    return this.#exit;
  }

  send(obj: J): void {
    this.proc.stdin!.write(`${JSON.stringify(obj)}\n`);
  }

  /** The first line (from index `from`) matching `pred`; waits up to `ms`. Not consumed. */
  async until(what: string, pred: (l: J) => boolean, ms = 10000, from = 0): Promise<J> {
    const find = () => this.lines.slice(from).find(pred);
    for (let t = 0; t < ms && find() === undefined && this.#exit === undefined; t += 10) await sleep(10);
    const found = find();
    if (found !== undefined) return found;
    throw new Error(
      `${this.label}: ${
        this.#exit ? `exited (${show(this.#exit)})` : `no line within ${ms} ms`
      } waiting for ${what}\n` +
        `stdout:\n${this.lines.map(show).join("\n")}\nstderr:\n${this.#err}`,
    );
  }

  /** Every line matching `pred`. */
  all(pred: (l: J) => boolean): J[] {
    return this.lines.filter(pred);
  }

  async waitExit(ms: number): Promise<{ code: number | null; signal: string | null }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      this.exited,
      new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), ms))),
    ]);
    clearTimeout(timer);
    if (r === undefined) {
      throw new Error(
        `${this.label} did not exit within ${ms} ms\nstdout:\n${
          this.lines.map(show).join("\n")
        }\nstderr:\n${this.#err}`,
      );
    }
    return r;
  }

  /** Ends stdin, then SIGTERM, then SIGKILL: this process only. */
  async stop(): Promise<void> {
    if (this.#exit) return;
    try {
      this.proc.stdin!.end();
    } catch { /* closed */ }
    for (const [sig, ms] of [[undefined, 3000], ["SIGTERM", 2000], ["SIGKILL", 2000]] as const) {
      if (sig) this.proc.kill(sig);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, ms)))]);
      clearTimeout(timer);
      if (this.#exit) return;
    }
  }
}

/** A Perl program that takes JSON commands by id and answers each on a line with that id. */
export class CommandProc extends PerlProc {
  #id = 0;
  async cmd(c: J, ms = 15000): Promise<J> {
    const id = ++this.#id;
    this.send({ id, ...c });
    return await this.until(`the answer to ${show(c)}`, (l) => l.id === id, ms);
  }
  event(what: string, pred: (l: J) => boolean, ms = 10000): Promise<J> {
    return this.until(what, (l) => l.event !== undefined && pred(l), ms);
  }
  events(pred: (l: J) => boolean): J[] {
    return this.all((l) => l.event !== undefined && pred(l));
  }
}

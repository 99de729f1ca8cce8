/**
 * The server side of IKC negotiation as a pure state machine, the mirror of
 * {@link ClientNegotiation}: feed it the client's lines, send the lines it returns.
 * It answers IKC0 (`SETUP` → `SETUP`) and classic IKC (`HELLO`/`IAM`/`DONE`/`FREEZER`/`WORLD`),
 * and `NOT` to what it cannot do, after which the client may start over on the same socket.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import type { NegotiationResult } from "./negotiation.ts";
import { escapeText } from "./text.ts";

/**
 * Default {@link ServerNegotiationOptions.maxNames}: names (kernel id, name, aliases, socket
 * name) a client may announce. A full Perl IKC::Client announces three or four.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_NAMES } from "./server-negotiation.ts";
 * console.log(DEFAULT_MAX_NAMES); // 32
 * ```
 */
export const DEFAULT_MAX_NAMES = 32;

/**
 * Default {@link ServerNegotiationOptions.maxNameLength}: characters in one announced name (a
 * Unix socket name such as `unix:/run/app/ikc.sock:1234-5` fits many times over).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_NAME_LENGTH } from "./server-negotiation.ts";
 * console.log(DEFAULT_MAX_NAME_LENGTH); // 256
 * ```
 */
export const DEFAULT_MAX_NAME_LENGTH = 256;

const NAME_RE = /^[-:.\w]+$/;

/**
 * What the server announces and accepts.
 *
 * @example
 * ```ts
 * import type { ServerNegotiationOptions } from "./server-negotiation.ts";
 * const o: ServerNegotiationOptions = { id: "ts-1f-1", names: ["Hub"], freezers: ["Storable"], pid: 1 };
 * ```
 */
export interface ServerNegotiationOptions {
  /** Our kernel id: the first name we announce. */
  id: string;
  /** Our kernel name and aliases, announced after the id. */
  names: string[];
  /** Our address as IKC announces it (`ip:port`, or `unix:<path>`), announced last. */
  address?: string;
  /** Freezer packages we accept, preferred first. */
  freezers: string[];
  /** Our process id (IKC0). */
  pid: number;
  /** Whether IKC0 is answered (default true); when false a `SETUP` gets `NOT`, as a Perl server spawned with protocol IKC does. */
  ikc0?: boolean;
  /**
   * Lines answered `NOT` before we give up (default 8; Perl answers them `NOT` forever). Every
   * line we cannot use counts: nonsense, `HELLO IKC<n>`, a SETUP we refuse, an unknown freezer.
   */
  maxBadLines?: number;
  /** Names a client may announce, in IAM lines or a SETUP's KERNEL list (default 32). */
  maxNames?: number;
  /** Characters in one announced name (default 256). */
  maxNameLength?: number;
}

type Phase = "start" | "iam" | "client-names" | "freezer" | "done" | "failed";

/**
 * Server negotiation state machine. Pure: no I/O, no timers.
 *
 * @example
 * ```ts
 * import { ServerNegotiation } from "./server-negotiation.ts";
 * const n = new ServerNegotiation({ id: "ts-1-1", names: ["Hub"], freezers: ["Storable"], pid: 9 });
 * n.receive("SETUP KERNEL=Client1;FREEZER=Storable;PID=7"); // ["SETUP KERNEL=ts-1-1,Hub;FREEZER=Storable;PID=9"]
 * console.log(n.done, n.result?.remoteKernel); // true "Client1"
 * ```
 */
export class ServerNegotiation {
  #opts: ServerNegotiationOptions;
  #phase: Phase = "start";
  #announce: string[] = [];
  #remote: string[] = [];
  #freezer: string | undefined;
  #bad = 0;
  #lines = 0;
  readonly #maxLines: number;
  readonly #maxNames: number;
  readonly #maxNameLength: number;
  #result: NegotiationResult | undefined;

  constructor(options: ServerNegotiationOptions) {
    if (options.freezers.length === 0) throw new TypeError("negotiation needs at least one freezer");
    this.#opts = options;
    this.#maxNames = options.maxNames ?? DEFAULT_MAX_NAMES;
    this.#maxNameLength = options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
    // Every line a well-behaved client can send, with room for the bad ones: no line goes
    // uncounted (an accepted FREEZER repeated forever included).
    this.#maxLines = 8 + options.names.length + this.#maxNames + 2 * options.freezers.length +
      (options.maxBadLines ?? 8);
  }

  /** Current phase, for error and timeout messages. */
  get phase(): string {
    return this.#phase;
  }

  /** True once both sides switched to frames. */
  get done(): boolean {
    return this.#phase === "done";
  }

  /** The negotiated parameters, once done; `remoteKernel` is the client's first name. */
  get result(): NegotiationResult | undefined {
    return this.#result;
  }

  /** Feeds one line from the client (without its line end); returns the lines to answer with. */
  receive(line: string): string[] {
    const l = line.trim();
    if (++this.#lines > this.#maxLines && this.#phase !== "done" && this.#phase !== "failed") {
      return this.#fail(`negotiation (${this.#phase}): more than ${this.#maxLines} lines`);
    }
    switch (this.#phase) {
      case "start":
        if (/^HELLO IKC\d$/.test(l)) return this.#nonsense(l, "HELLO or SETUP", true);
        if (l === "HELLO") {
          this.#announce = [...this.#opts.names];
          if (this.#opts.address) this.#announce.push(this.#opts.address);
          this.#phase = "iam";
          return [`IAM ${this.#opts.id}`];
        }
        if (l.startsWith("SETUP")) return this.#setup(l);
        return this.#nonsense(l, "HELLO or SETUP");
      case "iam":
        if (l !== "OK") return this.#nonsense(l, "OK");
        if (this.#announce.length > 0) return [`IAM ${this.#announce.shift()}`];
        this.#phase = "client-names";
        return ["DONE"];
      case "client-names": {
        if (l === "DONE") {
          if (this.#remote.length === 0) return this.#fail("client said DONE before naming its kernel with IAM");
          this.#phase = "freezer";
          return [];
        }
        const m = /^IAM\s+(\S+)$/.exec(l);
        if (!m || !NAME_RE.test(m[1]!)) return this.#nonsense(l, "IAM <kernel> or DONE");
        this.#checkNames(this.#remote.length + 1, m[1]!);
        this.#remote.push(m[1]!);
        return ["OK"];
      }
      case "freezer": {
        const m = /^FREEZER\s+(\S+)$/.exec(l);
        if (m) {
          if (this.#opts.freezers.includes(m[1]!)) {
            this.#freezer = m[1];
            return ["OK"];
          }
          return this.#nonsense(l, "a FREEZER we speak", true);
        }
        if (l === "WORLD") {
          // A client that never named a freezer gets POE::Filter::Reference's default, Storable.
          const freezer = this.#freezer ?? (this.#opts.freezers.includes("Storable") ? "Storable" : undefined);
          if (!freezer) return this.#fail("client agreed on no freezer before WORLD");
          this.#finish("IKC", freezer, undefined);
          return ["UP"];
        }
        return this.#nonsense(l, "FREEZER <package> or WORLD");
      }
      default:
        throw new ProtocolError(`unexpected line "${escapeText(l, 80)}" in negotiation phase ${this.#phase}`);
    }
  }

  // Every way a SETUP can be refused counts as a bad line: a client may fall back to HELLO once,
  // not send refused SETUPs forever.
  #setup(line: string): string[] {
    if (this.#opts.ikc0 === false) return this.#nonsense(line, "HELLO", true);
    const m = /^SETUP\s+(.*)$/.exec(line);
    if (!m) return this.#nonsense(line, "SETUP KERNEL=...;FREEZER=...", true);
    let kernels: string[] = [];
    let offered: string[] = [];
    let pid: number | undefined;
    for (const part of m[1].split(";")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const key = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? "" : part.slice(eq + 1);
      if (key === "KERNEL") kernels = value.split(",").filter((n) => n !== "");
      else if (key === "FREEZER") offered = value.split(",").filter((n) => n !== "");
      else if (key === "PID" && /^\d+$/.test(value)) pid = Number(value);
      else return this.#nonsense(line, "a SETUP with known parts", true); // an unknown part makes it bad, as in Perl
    }
    // A full IKC::Client announces its socket name too (`127.0.0.1:4711`, `unix:<path>:<pid>-<fd>`),
    // so names take ':' here, as in the classic IAM phase.
    if (kernels.length === 0 || !kernels.every((k) => NAME_RE.test(k))) {
      return this.#nonsense(line, "a SETUP naming its kernel", true);
    }
    for (let i = 0; i < kernels.length; i++) this.#checkNames(i + 1, kernels[i]!);
    // Our preference order decides among what the client offered.
    const freezer = this.#opts.freezers.find((f) => offered.includes(f));
    if (!freezer) return this.#nonsense(line, "a SETUP offering a freezer we speak", true);
    this.#remote = kernels;
    this.#finish("IKC0", freezer, pid);
    const names = [this.#opts.id, ...this.#opts.names];
    if (this.#opts.address) names.push(this.#opts.address);
    return [`SETUP KERNEL=${names.join(",")};FREEZER=${freezer};PID=${this.#opts.pid}`];
  }

  #finish(protocol: "IKC0" | "IKC", freezer: string, pid: number | undefined): void {
    this.#phase = "done";
    this.#result = {
      protocol,
      remoteKernel: this.#remote[0],
      remoteAliases: [...this.#remote],
      freezer,
      remotePid: pid,
    };
  }

  // Perl prods a confused peer with NOT and waits; we do the same a few times, then give up.
  // `refused` lines (understood, but not what we accept) are always answered NOT.
  #nonsense(line: string, wanted: string, refused = false): string[] {
    if (++this.#bad > (this.#opts.maxBadLines ?? 8)) {
      return this.#fail(`negotiation (${this.#phase}): expected ${wanted}, got "${escapeText(line, 80)}"`);
    }
    return line === "NOT" && !refused ? [] : ["NOT"];
  }

  /** The `count`th announced name, checked against maxNames and maxNameLength. */
  #checkNames(count: number, name: string): void {
    if (count > this.#maxNames) this.#fail(`client announced more than maxNames ${this.#maxNames} names`);
    if (name.length > this.#maxNameLength) {
      this.#fail(
        `client announced a name of ${name.length} characters, more than maxNameLength ${this.#maxNameLength}`,
      );
    }
  }

  #fail(message: string): never {
    this.#phase = "failed";
    throw new ProtocolError(message);
  }
}

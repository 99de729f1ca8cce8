/**
 * The client side of IKC negotiation as a pure state machine: feed it the server's lines,
 * send the lines it returns. IKC0 (one `SETUP` round trip) is tried first; a `NOT` answer
 * falls back to classic IKC (`HELLO`/`IAM`/`DONE`/`FREEZER`/`WORLD`) on the same socket.
 *
 * @module
 */
import { ConnectError, ProtocolError } from "./errors.ts";
import { escapeText } from "./text.ts";

/**
 * What the client announces.
 *
 * @example
 * ```ts
 * import type { NegotiationOptions } from "./negotiation.ts";
 * const o: NegotiationOptions = { name: "Client1", freezers: ["Storable"], pid: 1, protocol: "IKC0" };
 * ```
 */
export interface NegotiationOptions {
  /** Our kernel name. */
  name: string;
  /** Further names for our kernel. */
  aliases?: string[];
  /** Freezer packages we can speak, preferred first. */
  freezers: string[];
  /** Process id announced in IKC0 (informational). */
  pid: number;
  /** Start with IKC0 (falls back to IKC on `NOT`) or go straight to classic IKC. */
  protocol: "IKC0" | "IKC";
}

/**
 * What negotiation settled on.
 *
 * @example
 * ```ts
 * import type { NegotiationResult } from "./negotiation.ts";
 * function show(r: NegotiationResult) { console.log(r.remoteKernel, r.freezer); }
 * ```
 */
export interface NegotiationResult {
  /** Protocol actually used (IKC when IKC0 fell back). */
  protocol: "IKC0" | "IKC";
  /** The remote kernel's id: the first name it announced. */
  remoteKernel: string;
  /** Every name the remote kernel announced, id first. */
  remoteAliases: string[];
  /** The freezer package both sides use for frames. */
  freezer: string;
  /** Remote process id (IKC0 only). */
  remotePid?: number;
  /** `ip:port` the remote kernel announced for itself (IKC0 only). */
  remoteAddress?: string;
}

type Phase = "idle" | "setup" | "hello" | "iam-ok" | "freezer" | "world" | "done" | "failed";

const SETUP_KEYS = new Set(["KERNEL", "FREEZER", "PID"]);
// Genuine IKC servers only accept these in kernel names (a ":" makes their specifier parser die).
const NAME_RE = /^[-.\w]+$/;

/**
 * Whether `name` can be a kernel name: letters, digits, `_`, `-` and `.` only.
 *
 * @example
 * ```ts
 * import { isValidKernelName } from "./negotiation.ts";
 * isValidKernelName("Client42"); // true
 * isValidKernelName("My::App"); // false
 * ```
 */
export function isValidKernelName(name: string): boolean {
  return NAME_RE.test(name);
}

/**
 * Client negotiation state machine. Pure: no I/O, no timers.
 *
 * @example
 * ```ts
 * import { ClientNegotiation } from "./negotiation.ts";
 * const n = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 7, protocol: "IKC0" });
 * n.start(); // ["SETUP KERNEL=C;FREEZER=Storable;PID=7"]
 * n.receive("SETUP KERNEL=h-1,Srv,127.0.0.1:603;FREEZER=Storable;PID=9"); // []
 * console.log(n.done, n.result?.remoteKernel); // true "h-1"
 * ```
 */
export class ClientNegotiation {
  #opts: NegotiationOptions;
  #phase: Phase = "idle";
  #failure: Error | undefined;
  #names: string[];
  #nameIndex = 0;
  #freezerIndex = 0;
  #remote: string[] = [];
  #result: NegotiationResult | undefined;

  constructor(options: NegotiationOptions) {
    if (options.freezers.length === 0) throw new TypeError("negotiation needs at least one freezer");
    this.#opts = options;
    this.#names = [options.name, ...(options.aliases ?? [])];
    for (const n of this.#names) {
      if (!NAME_RE.test(n)) {
        throw new TypeError(`kernel name ${JSON.stringify(n)} may only hold letters, digits, '_', '-' and '.'`);
      }
    }
  }

  /** Current phase, for error and timeout messages. */
  get phase(): string {
    return this.#phase;
  }

  /** True once both sides switched to frames. */
  get done(): boolean {
    return this.#phase === "done";
  }

  /**
   * Set when the last {@link ClientNegotiation.receive} ended negotiation in failure after producing
   * lines that must still be sent (a bad server SETUP is answered `NOT`, as Perl's client does).
   */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** The negotiated parameters, once done. */
  get result(): NegotiationResult | undefined {
    return this.#result;
  }

  /** Lines to send first. */
  start(): string[] {
    if (this.#phase !== "idle") throw new ProtocolError("negotiation already started");
    if (this.#opts.protocol === "IKC0") {
      this.#phase = "setup";
      const o = this.#opts;
      return [`SETUP KERNEL=${this.#names.join(",")};FREEZER=${o.freezers.join(",")};PID=${o.pid}`];
    }
    this.#phase = "hello";
    return ["HELLO"];
  }

  /** Feeds one line from the server (without its line end); returns the lines to answer with. */
  receive(line: string): string[] {
    try {
      return this.#receive(line.trim());
    } catch (e) {
      this.#phase = "failed";
      throw e;
    }
  }

  #receive(line: string): string[] {
    switch (this.#phase) {
      case "setup":
        if (line === "NOT") {
          this.#phase = "hello";
          return ["HELLO"];
        }
        return this.#setupReply(line);
      case "hello": {
        if (line === "DONE") {
          if (this.#remote.length === 0) throw new ProtocolError("server said DONE before naming its kernel with IAM");
          this.#phase = "iam-ok";
          this.#nameIndex = 0;
          return [`IAM ${this.#names[0]}`];
        }
        const m = /^IAM\s+(\S+)$/.exec(line);
        if (!m) throw this.#unexpected(line, "IAM <kernel> or DONE");
        this.#remote.push(m[1]);
        return ["OK"];
      }
      case "iam-ok":
        if (line !== "OK") throw this.#unexpected(line, "OK");
        this.#nameIndex++;
        if (this.#nameIndex < this.#names.length) return [`IAM ${this.#names[this.#nameIndex]}`];
        this.#phase = "freezer";
        return ["DONE", `FREEZER ${this.#opts.freezers[0]}`];
      case "freezer":
        if (line === "OK") {
          this.#phase = "world";
          return ["WORLD"];
        }
        if (line === "NOT") {
          this.#freezerIndex++;
          if (this.#freezerIndex < this.#opts.freezers.length) {
            return [`FREEZER ${this.#opts.freezers[this.#freezerIndex]}`];
          }
          throw new ConnectError(`server refused every freezer offered (${this.#opts.freezers.join(", ")})`);
        }
        throw this.#unexpected(line, "OK or NOT");
      case "world":
        if (line !== "UP") throw this.#unexpected(line, "UP");
        this.#phase = "done";
        this.#result = {
          protocol: "IKC",
          remoteKernel: this.#remote[0],
          remoteAliases: [...this.#remote],
          freezer: this.#opts.freezers[this.#freezerIndex],
        };
        return [];
      default:
        throw new ProtocolError(`unexpected line "${escapeText(line, 80)}" in negotiation phase ${this.#phase}`);
    }
  }

  #setupReply(line: string): string[] {
    const m = /^SETUP\s+(.*)$/.exec(line);
    if (!m) throw this.#unexpected(line, "SETUP ... or NOT");
    const fields = new Map<string, string>();
    for (const part of m[1].split(";")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const key = eq < 0 ? part : part.slice(0, eq);
      if (eq < 0 || !SETUP_KEYS.has(key)) {
        this.#phase = "failed";
        this.#failure = new ProtocolError(
          `server SETUP has unknown part "${escapeText(part, 80)}": "${escapeText(line, 80)}"`,
        );
        return ["NOT"];
      }
      fields.set(key, part.slice(eq + 1));
    }
    const kernel = fields.get("KERNEL");
    const freezer = fields.get("FREEZER");
    if (!kernel) throw new ProtocolError(`server SETUP names no KERNEL: "${escapeText(line, 80)}"`);
    if (!freezer) throw new ProtocolError(`server SETUP names no FREEZER: "${escapeText(line, 80)}"`);
    if (!this.#opts.freezers.includes(freezer)) {
      throw new ConnectError(
        `server chose freezer ${freezer}, which was not offered (${this.#opts.freezers.join(", ")})`,
      );
    }
    const names = kernel.split(",").filter((n) => n !== "");
    // The last KERNEL entry is the server's ip:port, not a name.
    let address: string | undefined;
    if (names.length > 1 && /^[^,]*:\d+$/.test(names[names.length - 1]) && /[.:]/.test(names[names.length - 1])) {
      address = names.pop();
    }
    const pid = fields.has("PID") ? Number(fields.get("PID")) : undefined;
    this.#phase = "done";
    this.#result = {
      protocol: "IKC0",
      remoteKernel: names[0],
      remoteAliases: names,
      freezer,
      remotePid: pid !== undefined && Number.isFinite(pid) ? pid : undefined,
      remoteAddress: address,
    };
    return [];
  }

  #unexpected(line: string, wanted: string): ProtocolError {
    return new ProtocolError(`negotiation (${this.#phase}): expected ${wanted}, got "${escapeText(line, 80)}"`);
  }
}

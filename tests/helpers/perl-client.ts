// Drives the Perl IKC client test peer (tests/perl/ikc-client.pl): spawns it against a server,
// sends it JSON steps one a line on stdin and awaits its one JSON answer line per step. Every wait
// has a deadline, so a hang fails the test instead of stalling it; stop() always ends the process.
// Uses only node: modules so the same file runs under Deno, Bun and Node (compiled).
import { type ChildProcess, spawn } from "node:child_process";
import { repoPath } from "./perl.ts";

/** What the client printed once negotiation finished. */
export interface Negotiated {
  protocol: "IKC0" | "IKC";
  freezer: string;
  remote: string[];
}

export interface PerlClientOptions {
  /** TCP port of the server (give this or `path`). */
  port?: number;
  host?: string;
  /** Unix socket path of the server. */
  path?: string;
  protocol?: "IKC0" | "IKC";
  freezer?: string;
  name: string;
  aliases?: string[];
  /** The client's --timeout (negotiation phases and default step timeout), seconds. */
  timeout?: number;
  /** Milliseconds to wait for the negotiation line (default 15000). */
  startMs?: number;
  verbose?: boolean;
}

/** A step's answer: one JSON object. */
// deno-lint-ignore no-explicit-any
export type StepAnswer = Record<string, any>;

export interface PerlClient {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly negotiated: Negotiated;
  /** Sends a step and resolves with its answer line; rejects after `ms` (default 15000). */
  step(step: Record<string, unknown>, ms?: number): Promise<StepAnswer>;
  /** Sends a step without waiting; `answer()` collects its line later, in order. */
  send(step: Record<string, unknown>): void;
  /** The next answer line not yet collected (in the order steps were sent). */
  answer(ms?: number): Promise<StepAnswer>;
  /** True once the process exited. */
  readonly exited: boolean;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  readonly exit: Promise<number | string | null>;
  stderr(): string;
  /** Closes stdin, waits up to `ms` for a clean exit, then SIGKILLs. Idempotent. */
  stop(ms?: number): Promise<void>;
}

/** Every client still running, so a test file's `after` can make sure none outlives it. */
const running = new Set<PerlClient>();

/** Stops every Perl client this module started and that still runs. */
export async function stopAllPerlClients(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop(500)));
}

/**
 * Spawns ikc-client.pl and resolves once it printed its `{"negotiated":...}` line; rejects (with
 * the process killed) on `{"error":...}`, an early exit, or no line within `startMs`.
 */
export function startPerlClient(opts: PerlClientOptions): Promise<PerlClient> {
  const args: string[] = [];
  if (opts.path !== undefined) args.push("--unix", opts.path);
  else args.push("--host", opts.host ?? "127.0.0.1", "--port", String(opts.port));
  args.push("--protocol", opts.protocol ?? "IKC0", "--freezer", opts.freezer ?? "Storable", "--name", opts.name);
  for (const a of opts.aliases ?? []) args.push("--alias", a);
  args.push("--timeout", String(opts.timeout ?? 5));
  if (opts.verbose ?? process.env.IKC_CLIENT_VERBOSE === "1") args.push("--verbose");
  const proc = spawn("perl", [repoPath("tests/perl/ikc-client.pl"), ...args], { stdio: ["pipe", "pipe", "pipe"] });

  let err = "";
  let buffered = "";
  const lines: string[] = [];
  const waiters: Array<(line: string | null) => void> = [];
  let ended = false;
  const decoder = new TextDecoder();
  const deliver = (line: string | null) => {
    const w = waiters.shift();
    if (w) w(line);
    else if (line !== null) lines.push(line);
  };
  proc.stdout!.on("data", (d: Uint8Array) => {
    buffered += decoder.decode(d, { stream: true });
    let i: number;
    while ((i = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (line.trim() !== "") deliver(line);
    }
  });
  proc.stderr!.on("data", (d: Uint8Array) => {
    err += new TextDecoder().decode(d);
  });
  // stdin may break when the process dies first: that shows as a failed step, not a crash.
  proc.stdin!.on("error", () => {});

  let exitCode: number | string | null | undefined;
  const exit = new Promise<number | string | null>((resolve) => {
    proc.on("exit", (code, signal) => {
      exitCode = code ?? signal;
      resolve(exitCode);
    });
    proc.on("error", (e) => {
      err += `spawn failed: ${e.message}\n`;
      exitCode = -1;
      resolve(-1);
    });
  });
  void exit.then(() => {
    // the last lines may come after the exit event: let stdout drain first
    setTimeout(() => {
      ended = true;
      for (const w of waiters.splice(0)) w(null);
    }, 50);
  });

  const describe = () => `${opts.name} (${opts.protocol ?? "IKC0"}, ${opts.freezer ?? "Storable"})`;
  const nextLine = (ms: number, what: string): Promise<StepAnswer> => {
    const raw = lines.shift();
    const parse = (line: string): StepAnswer => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`ikc-client ${describe()} printed a line that is not JSON for ${what}: ${line}`);
      }
    };
    if (raw !== undefined) return Promise.resolve(parse(raw));
    if (ended) {
      return Promise.reject(
        new Error(`ikc-client ${describe()} is gone (exit ${exitCode}) before answering ${what}; stderr: ${err}`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter = (line: string | null) => {
        clearTimeout(timer);
        if (line === null) {
          reject(new Error(`ikc-client ${describe()} exited (${exitCode}) before answering ${what}; stderr: ${err}`));
        } else {
          try {
            resolve(parse(line));
          } catch (e) {
            reject(e);
          }
        }
      };
      const timer = setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        // the step order is lost now: nothing later can be trusted, so end the client
        void client.stop(0);
        reject(new Error(`ikc-client ${describe()} gave no answer to ${what} within ${ms} ms; stderr: ${err}`));
      }, ms);
      waiters.push(waiter);
    });
  };

  let stopping: Promise<void> | undefined;
  const client: PerlClient = {
    name: opts.name,
    proc,
    negotiated: undefined as unknown as Negotiated,
    get exited() {
      return exitCode !== undefined;
    },
    exit,
    stderr: () => err,
    send(step) {
      if (exitCode !== undefined || !proc.stdin!.writable) return;
      proc.stdin!.write(JSON.stringify(step) + "\n");
    },
    answer(ms = 15000) {
      return nextLine(ms, "a step");
    },
    step(step, ms = 15000) {
      const p = nextLine(ms, JSON.stringify(step));
      client.send(step);
      return p;
    },
    stop(ms = 3000) {
      stopping ??= (async () => {
        if (exitCode === undefined) {
          try {
            proc.stdin!.end();
          } catch {
            // already closed
          }
          let timer: ReturnType<typeof setTimeout> | undefined;
          const killed = new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              if (exitCode === undefined) proc.kill("SIGKILL");
              resolve();
            }, ms);
          });
          await Promise.race([exit, killed]);
          clearTimeout(timer);
          await exit;
        }
        proc.stdout!.destroy();
        proc.stderr!.destroy();
        proc.stdin!.destroy();
        running.delete(client);
      })();
      return stopping;
    },
  };
  running.add(client);

  return nextLine(opts.startMs ?? 15000, "negotiation").then(
    async (first) => {
      if (!first.negotiated) {
        await client.stop(0);
        throw new Error(`ikc-client ${describe()} did not negotiate: ${JSON.stringify(first)}; stderr: ${err}`);
      }
      (client as { negotiated: Negotiated }).negotiated = first.negotiated;
      return client;
    },
    async (e) => {
      await client.stop(0);
      throw e;
    },
  );
}

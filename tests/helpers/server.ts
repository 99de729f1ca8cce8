// Starts the Perl IKC test peer (tests/perl/ikc-server.pl) and waits for its READY line.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IkcClient, type IkcClientOptions } from "../../mod.ts";
import { spawnPerl } from "./perl.ts";

export interface PerlServer {
  port: number;
  /** The server's process id, when its READY line names it. */
  pid?: number;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  path?: string;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** A fresh unix socket path in a private temp folder. */
export function tempSocketPath(): string {
  return join(mkdtempSync(join(tmpdir(), "ikc-")), "ikc.sock");
}

/**
 * Spawns the Perl test server with the given arguments (default: ephemeral TCP port).
 * `perlFlags` go to perl itself (e.g. `-I<lib>` for the genuine server in check/).
 */
export function startPerlServer(
  args: string[] = [],
  file = "tests/perl/ikc-server.pl",
  perlFlags: string[] = [],
): Promise<PerlServer> {
  const useUnix = args.includes("--unix");
  const fullArgs = useUnix || args.includes("--port") ? args : ["--port", "0", ...args];
  const proc = spawnPerl(file, fullArgs, perlFlags);
  let err = "";
  proc.stderr!.on("data", (d: Uint8Array) => {
    err += new TextDecoder().decode(d);
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let settled = false;
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`test server did not start: ${err}`));
    }, 20000);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`test server exited (${code}) before READY: ${err}`));
    });
    proc.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      if (settled) return;
      const m = /READY (?:port=(\d+)|unix=(\S+))(?: pid=(\d+))?/.exec(out);
      if (!m || !out.slice(m.index).includes("\n")) return;
      clearTimeout(timer);
      settled = true;
      proc.removeAllListeners("exit");
      const server: PerlServer = {
        port: m[1] ? Number(m[1]) : 0,
        path: m[2],
        pid: m[3] ? Number(m[3]) : undefined,
        stdout: () => out,
        proc,
        stderr: () => err,
        stop: () =>
          new Promise<void>((res) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return res();
            const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
            proc.once("exit", () => {
              clearTimeout(t);
              res();
            });
            proc.kill("SIGTERM");
          }),
      };
      resolve(server);
    });
  });
}

/** Runs `fn` with a server from `start` (default: the Perl test peer with `args`), stopped afterwards. */
export async function withServer(
  args: string[],
  fn: (s: PerlServer) => Promise<void>,
  start: (args: string[]) => Promise<PerlServer> = startPerlServer,
): Promise<void> {
  const server = await start(args);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** Runs `fn` with a client connected to `server` (TCP on 127.0.0.1 unless `opts.path`), disconnected afterwards. */
export async function withClient(
  server: PerlServer,
  opts: IkcClientOptions,
  fn: (c: IkcClient) => Promise<void>,
): Promise<void> {
  const c = await IkcClient.connect({ port: server.port, host: "127.0.0.1", timeout: 5, ...opts });
  try {
    await fn(c);
  } finally {
    await c.disconnect();
  }
}

/**
 * The server processes the benchmarks measure, each a child of the bench process so that on a
 * 2-core machine the server and the load generator each have a core: ours (bench/server-child.ts
 * on the runtime under test; Node runs its tsc build), the genuine POE::Component::IKC::Server
 * (check/genuine-server.pl with the lib folder bench-all.sh finds from BENCH_GENUINE), and the
 * bundled Perl peer (tests/perl/ikc-server.pl). Also CPU-time readers from /proc.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startPerlServer } from "../tests/helpers/server.ts";
import { env, runtime } from "./common.ts";

/** The servers of the IkcClient-loaded rows; the saturated run adds the genuine one. */
export type Side = "ours" | "perl";
/** Every server a bench may run. */
export type AnySide = Side | "genuine";

/** A server running as a child process. */
export interface ServerProc<S extends AnySide = Side> {
  side: S;
  label: string;
  port: number;
  pid: number;
  stderr(): string;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  stop(): Promise<void>;
}

/** CPU time (user + system, every thread) of another process in microseconds, from /proc; NaN elsewhere. */
export function procCpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; clock ticks (100 Hz).
    return (Number(f[11]) + Number(f[12])) * 1e4;
  } catch {
    return NaN;
  }
}

/** CPU time every process of the machine spent (user, nice, system, irq, softirq, steal), in microseconds, from /proc/stat. */
export function machineCpuMicros(): number {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 1e4;
  } catch {
    return NaN;
  }
}

export function stopChild(proc: ChildProcess): Promise<void> {
  return new Promise<void>((res) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return res();
    const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
    proc.once("exit", () => {
      clearTimeout(t);
      res();
    });
    proc.kill("SIGTERM");
  });
}

/**
 * Our server: bench/server-child.ts on this very runtime, in a child process (`childPath`: another
 * checkout's, for bench/baseline.ts).
 */
export function startOurs(extraEnv: Record<string, string> = {}, childPath?: string): Promise<ServerProc> {
  const here = fileURLToPath(import.meta.url);
  const child = childPath ?? join(dirname(here), `server-child${extname(here)}`);
  const flags = (env("BENCH_SERVER_FLAGS") ?? "").split(/\s+/).filter(Boolean);
  const args = runtime === "deno" ? ["run", "-A", ...flags, child] : [...flags, child];
  const proc = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...extraEnv },
  });
  let out = "";
  let err = "";
  proc.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`our server did not start: ${err}`));
    }, 30000);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`our server exited (${code}) before READY: ${err}`));
    });
    proc.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const m = /READY port=(\d+) pid=(\d+)\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.removeAllListeners("exit");
      resolve({
        side: "ours",
        label: `ours (IkcServer on ${runtime})`,
        port: Number(m[1]),
        pid: Number(m[2]),
        stderr: () => err,
        stdout: () => out,
        stop: () => stopChild(proc),
      });
    });
  });
}

/** The genuine POE::Component::IKC::Server with check/genuine-server.pl's `test` session. */
export async function startGenuine(lib: string): Promise<ServerProc<"genuine">> {
  const s = await startPerlServer(["--port", "0"], "check/genuine-server.pl", ["-I", lib]);
  return {
    side: "genuine",
    // Read when printed: the version line follows READY, and may not have arrived yet.
    get label() {
      return `the genuine POE::Component::IKC::Server ${/GENUINE (\S+)/.exec(s.stdout())?.[1] ?? "?"}`;
    },
    port: s.port,
    pid: s.proc.pid!,
    stderr: s.stderr,
    stdout: s.stdout,
    stop: s.stop,
  };
}

/** The bundled Perl peer. */
export async function startPerl(): Promise<ServerProc> {
  const s = await startPerlServer();
  return {
    side: "perl",
    label: "Perl (tests/perl/ikc-server.pl)",
    port: s.port,
    pid: s.proc.pid!,
    stderr: s.stderr,
    stdout: s.stdout,
    stop: s.stop,
  };
}

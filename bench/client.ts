/**
 * Client benchmark: our IkcClient beside Perl's ClientLite, against the same server process in one
 * run. With IKC_GENUINE_LIB=<the lib folder of a POE-Component-IKC checkout> (what
 * scripts/bench-all.sh sets from BENCH_GENUINE=<checkout>, as check-genuine.sh does) both clients
 * talk to the GENUINE POE::Component::IKC::Server and Perl's side is the genuine ClientLite;
 * without, the server is the bundled Perl peer (tests/perl/ikc-server.pl)
 * and Perl's side is a blocking client on POE::Filter::Reference (bench/lite-client.pl), and the
 * tables say so.
 *
 * Measured, in interleaved rounds (Perl, ours, ours, Perl, ...; the order flips every round):
 * - sequential `call("test/echo", rowsPayload(1))`, each awaited before the next: time per call;
 * - `post` of the same payload, each awaited (ours resolves once written, ClientLite's returns
 *   once written): posts per second.
 * A third client in the same rounds, a bare `node:net` socket (on every runtime) that writes one
 * prebuilt frame and waits for the answer's bytes, with no IKC machinery at all, is the floor that
 * any client on this runtime's sockets can reach against this server.
 * The headline is the median over rounds of the per-round ratio. Beside it: our client's CPU time
 * per call, and on Node and Deno its heap allocation per call (young generation sized so that no
 * collection runs during the measured calls: heap used after less before, over the calls).
 *
 *   BENCH_GENUINE=<checkout> bash scripts/bench-all.sh client
 *   IKC_GENUINE_LIB=<lib folder> node dist/bench/client.js | deno run -A bench/client.ts | bun bench/client.ts
 *
 * @module
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { IkcClient } from "../src/client.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { type PerlServer, startPerlServer } from "../tests/helpers/server.ts";
import { BareIkc } from "./bare-ikc.ts";
import { rowsPayload } from "./payloads.ts";
import {
  cpuMicros,
  env,
  fmtInt,
  fmtRatio,
  fmtTime,
  mdTable,
  median,
  quick,
  record,
  repoRoot,
  runtimeLabel,
} from "./common.ts";

const CALLS = Number(env("BENCH_CALLS") ?? (quick ? 300 : 2000));
const POSTS = CALLS * 5;
const ROUNDS = Number(env("BENCH_ROUNDS") ?? (quick ? 3 : 7));
const payload = rowsPayload(1) as unknown as PerlValue;

/** bench/lite-client.pl as a child: one command a line, one answer a line. */
class PerlClient {
  readonly what: string;
  #proc: ReturnType<typeof spawn>;
  #lines: string[] = [];
  #wait: ((line: string) => void) | undefined;
  #err = "";

  private constructor(proc: ReturnType<typeof spawn>, what: string) {
    this.#proc = proc;
    this.what = what;
  }

  static start(port: number, lib: string | undefined): Promise<PerlClient> {
    const args = [...(lib ? ["-I", lib] : []), join(repoRoot, "bench", "lite-client.pl"), "--port", String(port)];
    if (lib) args.push("--genuine");
    const proc = spawn("perl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let buf = "";
    let client: PerlClient | undefined;
    let err = "";
    proc.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
    return new Promise((res, rej) => {
      proc.on("exit", (code) => rej(new Error(`bench/lite-client.pl exited (${code}): ${err}`)));
      proc.stdout!.on("data", (d: Uint8Array) => {
        buf += new TextDecoder().decode(d);
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!client) {
            if (!line.startsWith("READY ")) return rej(new Error(`lite-client: ${line} ${err}`));
            client = new PerlClient(proc, line.slice(6));
            res(client);
          } else if (client.#wait) {
            const w = client.#wait;
            client.#wait = undefined;
            w(line);
          } else client.#lines.push(line);
        }
      });
    });
  }

  /** Runs `cmd n` and resolves with the seconds it reported. */
  run(cmd: "calls" | "posts", n: number): Promise<number> {
    return new Promise((res, rej) => {
      const done = (line: string) => {
        const [c, count, secs] = line.split(" ");
        if (c !== cmd || Number(count) !== n) rej(new Error(`lite-client said ${line} ${this.#err}`));
        else res(Number(secs));
      };
      const queued = this.#lines.shift();
      if (queued !== undefined) done(queued);
      else this.#wait = done;
      this.#proc.stdin!.write(`${cmd} ${n}\n`);
    });
  }

  stop(): void {
    this.#proc.removeAllListeners("exit");
    this.#proc.stdin!.end("quit\n");
  }
}

async function ourCalls(c: IkcClient, n: number): Promise<{ secs: number; cpuUs: number }> {
  const c0 = cpuMicros();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await c.call("test/echo", payload);
  return { secs: (performance.now() - t0) / 1000, cpuUs: cpuMicros() - c0 };
}

async function ourPosts(c: IkcClient, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await c.post("test/echo", payload);
  const secs = (performance.now() - t0) / 1000;
  await c.call("test/echo", payload); // the server has taken them all (excluded, as on Perl's side)
  return secs;
}

/** Heap bytes allocated per sequential call, where the runtime lets us see it without a GC in between. */
async function allocationPerCall(c: IkcClient, n: number): Promise<number> {
  const g = globalThis as { gc?: () => void };
  if (typeof g.gc !== "function") return NaN;
  g.gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) await c.call("test/echo", payload);
  const after = process.memoryUsage().heapUsed;
  return after > before ? (after - before) / n : NaN; // a collection ran meanwhile: no figure
}

const lib = env("IKC_GENUINE_LIB") || undefined;
let server: PerlServer | undefined;
let perl: PerlClient | undefined;
let ours: IkcClient | undefined;
let bare: BareIkc | undefined;
try {
  server = lib
    ? await startPerlServer(["--port", "0"], "check/genuine-server.pl", ["-I", lib])
    : await startPerlServer();
  const serverWhat = lib
    ? `the genuine POE::Component::IKC::Server (${/GENUINE (\S+)/.exec(server.stdout())?.[1] ?? "?"})`
    : "the bundled Perl peer tests/perl/ikc-server.pl (genuine IKC absent: set BENCH_GENUINE for bench-all.sh)";
  perl = await PerlClient.start(server.port, lib);
  ours = await IkcClient.connect({ port: server.port, name: "BenchOurs", host: "127.0.0.1" });
  bare = await BareIkc.connect(server.port, "test/echo", payload);
  // Warm-up: both clients, and our JIT.
  await perl.run("calls", Math.min(500, CALLS));
  await ourCalls(ours, Math.max(500, CALLS));
  await perl.run("posts", Math.min(1000, POSTS));
  await ourPosts(ours, Math.max(1000, POSTS));
  await bare.calls(Math.max(500, CALLS));
  await bare.posts(Math.max(1000, POSTS));

  const callRatios: number[] = [];
  const postRatios: number[] = [];
  const ourCallUs: number[] = [];
  const perlCallUs: number[] = [];
  const ourPostRate: number[] = [];
  const perlPostRate: number[] = [];
  const ourCpu: number[] = [];
  const bareCallRatios: number[] = [];
  const barePostRatios: number[] = [];
  const bareCallUs: number[] = [];
  const barePostRate: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const bc = await bare.calls(CALLS);
    bareCallUs.push((bc / CALLS) * 1e6);
    let p: number, o: { secs: number; cpuUs: number };
    if (r % 2 === 0) {
      p = await perl.run("calls", CALLS);
      o = await ourCalls(ours, CALLS);
    } else {
      o = await ourCalls(ours, CALLS);
      p = await perl.run("calls", CALLS);
    }
    perlCallUs.push((p / CALLS) * 1e6);
    ourCallUs.push((o.secs / CALLS) * 1e6);
    ourCpu.push(o.cpuUs / CALLS);
    callRatios.push(o.secs / p);
    bareCallRatios.push(bc / p);
    const bp = await bare.posts(POSTS);
    barePostRate.push(POSTS / bp);
    let pp: number, op: number;
    if (r % 2 === 0) {
      pp = await perl.run("posts", POSTS);
      op = await ourPosts(ours, POSTS);
    } else {
      op = await ourPosts(ours, POSTS);
      pp = await perl.run("posts", POSTS);
    }
    perlPostRate.push(POSTS / pp);
    ourPostRate.push(POSTS / op);
    postRatios.push(pp / op);
    barePostRatios.push(pp / bp);
  }
  const alloc = await allocationPerCall(ours, Math.min(CALLS, 2000));

  const callRatio = median(callRatios);
  const postRatio = median(postRatios);
  console.log(`## Client: ours vs Perl's ClientLite — ${runtimeLabel()}\n`);
  console.log(
    `Server: ${serverWhat}. Perl's client: ${perl.what}. Ours: IkcClient (Storable, IKC0). ` +
      `${ROUNDS} interleaved rounds of ${fmtInt(CALLS)} sequential calls and ${fmtInt(POSTS)} awaited posts each, ` +
      `of \`test/echo\` with \`rowsPayload(1)\`, after a warm-up. The floor rows, measured in the same rounds, are ` +
      "a bare `node:net` socket writing one prebuilt frame per request and counting the answer's bytes " +
      "(no IKC client at all): what any client on this runtime's sockets can reach against this server.\n",
  );
  console.log(mdTable(
    ["measure", "ours", "Perl", "ours/Perl (median of rounds)", "range", "target"],
    [
      [
        "sequential call, time per call",
        fmtTime(median(ourCallUs) / 1000),
        fmtTime(median(perlCallUs) / 1000),
        fmtRatio(callRatio),
        `${fmtRatio(Math.min(...callRatios))} – ${fmtRatio(Math.max(...callRatios))}`,
        `≤ 0.90x: ${callRatio <= 0.9 ? "met" : "missed"}`,
      ],
      [
        "awaited post, posts/s (ratio: ours/Perl rate)",
        fmtInt(median(ourPostRate)),
        fmtInt(median(perlPostRate)),
        fmtRatio(postRatio),
        `${fmtRatio(Math.min(...postRatios))} – ${fmtRatio(Math.max(...postRatios))}`,
        `≥ 1.50x: ${postRatio >= 1.5 ? "met" : "missed"}`,
      ],
      [
        "floor: bare socket, prebuilt frame, sequential call",
        fmtTime(median(bareCallUs) / 1000),
        fmtTime(median(perlCallUs) / 1000),
        fmtRatio(median(bareCallRatios)),
        `${fmtRatio(Math.min(...bareCallRatios))} – ${fmtRatio(Math.max(...bareCallRatios))}`,
        "",
      ],
      [
        "floor: bare socket, prebuilt frame, awaited post",
        fmtInt(median(barePostRate)),
        fmtInt(median(perlPostRate)),
        fmtRatio(median(barePostRatios)),
        `${fmtRatio(Math.min(...barePostRatios))} – ${fmtRatio(Math.max(...barePostRatios))}`,
        "",
      ],
    ],
  ));
  console.log(
    `\nOur client's CPU per sequential call: ${fmtTime(median(ourCpu) / 1000)}; heap allocated per call: ` +
      `${
        Number.isFinite(alloc)
          ? `${fmtInt(alloc)} bytes`
          : "n/a (needs --expose-gc and a young generation large enough, see bench-all.sh)"
      }.`,
  );
  record("client", {
    genuine: lib !== undefined,
    server: serverWhat,
    perlClient: perl.what,
    callRatio,
    postRatio,
    ourCallUs: median(ourCallUs),
    perlCallUs: median(perlCallUs),
    ourPostsPerSec: median(ourPostRate),
    perlPostsPerSec: median(perlPostRate),
    ourCpuUsPerCall: median(ourCpu),
    bareCallRatio: median(bareCallRatios),
    barePostRatio: median(barePostRatios),
    allocBytesPerCall: alloc,
  });
} finally {
  perl?.stop();
  bare?.stop();
  await ours?.disconnect().catch(() => {});
  await server?.stop();
}

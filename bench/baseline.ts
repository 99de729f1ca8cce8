/**
 * This checkout against another revision of it, side by side on one machine in one run: the
 * figures issue 16 names (sequential call, pipelined calls, the server at 1 x 256 in flight), each
 * as the median ratio of interleaved rounds (the order flips every round).
 *
 * - server: each revision's bench/server-child under the bare load generator (bench/bare-ikc.ts),
 *   one connection keeping 256 `test/echo` calls in flight: calls/s.
 * - client: each revision's IkcClient against one server (this checkout's): sequential calls
 *   (time per call) and 256 calls in flight (calls/s).
 *
 * BENCH_BASE=<a checkout of the other revision, built with `npm run build` for Node>:
 *
 *   git worktree add /tmp/base <rev> && (cd /tmp/base && npm ci && npm run build)
 *   BENCH_BASE=/tmp/base node_modules/.bin/deno run -A bench/baseline.ts
 *   BENCH_BASE=/tmp/base node_modules/.bin/bun bench/baseline.ts
 *   BENCH_BASE=/tmp/base node dist/bench/baseline.js
 *
 * @module
 */
import { join } from "node:path";
import type { PerlValue } from "../src/core/perl.ts";
import { IkcClient } from "../src/client.ts";
import { BareIkc } from "./bare-ikc.ts";
import { rowsPayload } from "./payloads.ts";
import { env, fmtInt, fmtRatio, fmtTime, mdTable, median, quick, runtime, runtimeLabel } from "./common.ts";
import { type ServerProc, startOurs } from "./servers.ts";

const base = env("BENCH_BASE");
const ROUNDS = Number(env("BENCH_ROUNDS") ?? (quick ? 3 : 9));
const MS = Number(env("BENCH_BASE_MS") ?? (quick ? 300 : 1000));
const payload = rowsPayload(1) as unknown as PerlValue;

/** What both revisions' clients offer that this bench uses. */
interface AnyClient {
  call(spec: string, params?: unknown): Promise<unknown>;
  disconnect(): Promise<void>;
}
type ClientClass = new (o: Record<string, unknown>) => AnyClient;

/** Per round, new's figure over base's: below 1 new takes less time, above 1 it does more per second. */
interface Compared {
  what: string;
  unit: "time" | "rate";
  news: number[];
  bases: number[];
}

async function rounds(
  what: string,
  unit: Compared["unit"],
  run: (side: "new" | "base") => Promise<number>,
): Promise<Compared> {
  await run("new");
  await run("base"); // warm-up
  const c: Compared = { what, unit, news: [], bases: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of r % 2 === 0 ? ["new", "base"] as const : ["base", "new"] as const) {
      (side === "new" ? c.news : c.bases).push(await run(side));
    }
  }
  return c;
}

async function sequential(client: AnyClient): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < MS) {
    await client.call("test/echo", payload);
    n++;
  }
  return (performance.now() - t0) / n;
}

async function pipelined(client: AnyClient): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (performance.now() - t0 < MS) {
      await client.call("test/echo", payload);
      n++;
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  if (!base) {
    console.log("BENCH_BASE is not set: nothing to compare against (see bench/baseline.ts).");
    return;
  }
  console.log(`## This checkout against ${base} — ${runtimeLabel()}\n`);
  const built = runtime === "node";
  const baseChild = join(base, built ? "dist/bench/server-child.js" : "bench/server-child.ts");
  const baseMod = join(base, built ? "dist/mod.js" : "mod.ts");
  const BaseClient = (await import(baseMod) as { IkcClient: ClientClass }).IkcClient;
  const servers: Record<"new" | "base", ServerProc> = {
    new: await startOurs(),
    base: await startOurs({}, baseChild),
  };
  const results: Compared[] = [];
  try {
    const bare = {
      new: await BareIkc.connect(servers.new.port, "test/echo", payload, "BaseBenchNew"),
      base: await BareIkc.connect(servers.base.port, "test/echo", payload, "BaseBenchBase"),
    };
    const check = (v: PerlValue) => {
      if (JSON.stringify(v) !== JSON.stringify(payload)) throw new Error(`a wrong echo: ${JSON.stringify(v)}`);
    };
    results.push(
      await rounds("server, 1 connection x 256 in flight (bare load generator), calls/s", "rate", async (side) => {
        const r = await bare[side].pipelined(256, MS, check);
        return r.answers / r.secs;
      }),
    );
    for (const b of Object.values(bare)) b.stop();
    const opts = { port: servers.new.port, timeout: 30, name: "BaseBench" };
    const clients: Record<"new" | "base", AnyClient> = {
      new: new IkcClient(opts) as unknown as AnyClient,
      base: new BaseClient(opts),
    };
    results.push(await rounds("client, sequential call, time per call", "time", (side) => sequential(clients[side])));
    results.push(await rounds("client, 256 calls in flight, calls/s", "rate", (side) => pipelined(clients[side])));
    for (const c of Object.values(clients)) await c.disconnect();
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
  const rows = results.map((c) => {
    const ratios = c.news.map((x, i) => x / c.bases[i]);
    const fmt = (x: number) => c.unit === "time" ? fmtTime(x) : `${fmtInt(x)}/s`;
    const loss = c.unit === "time" ? median(ratios) > 1 : median(ratios) < 1;
    return [
      c.what,
      fmt(median(c.news)),
      fmt(median(c.bases)),
      fmtRatio(median(ratios)),
      `${fmtRatio(Math.min(...ratios))} – ${fmtRatio(Math.max(...ratios))}`,
      loss ? "base ahead" : "new ahead or even",
    ];
  });
  console.log(mdTable(["figure", "this checkout", "base", "new / base (median)", "range", ""], rows));
  console.log(
    `\n${ROUNDS} interleaved rounds of ${MS} ms per figure after a warm-up; the order flips every round. ` +
      "For a time, below 1.00x this checkout is faster; for a rate, above 1.00x.",
  );
}

await main();

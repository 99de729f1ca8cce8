/**
 * Our IKC server as a child process of bench/server.ts: `IkcServer.listen({port: 0})` with the
 * demo kernel (`test/echo` and the other states of tests/perl/ikc-server.pl), what `ikc serve`
 * runs (over TLS with BENCH_TLS_DIR). Prints `READY port=<n> pid=<pid>` once it listens; on SIGTERM or SIGINT it closes the
 * server and exits 0 (so `node --cpu-prof` gets to write its profile).
 *
 *   node_modules/.bin/deno run -A bench/server-child.ts | node_modules/.bin/bun bench/server-child.ts
 *   node dist/bench/server-child.js
 *   node --cpu-prof --cpu-prof-dir=.tmp/prof dist/bench/server-child.js   (then drive load at it)
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { IkcServer } from "../src/server.ts";
import { demoStates } from "../src/demo-kernel.ts";

// BENCH_TLS_DIR=<folder with server.pem and server-key.pem> (bench/tls.ts): the same server over TLS.
const tlsDir = process.env.BENCH_TLS_DIR;
const tls = tlsDir
  ? {
    cert: readFileSync(join(tlsDir, "server.pem"), "utf8"),
    key: readFileSync(join(tlsDir, "server-key.pem"), "utf8"),
  }
  : undefined;
const server = await IkcServer.listen({ port: 0, name: "BenchServer", maxClients: 10000, tls });
server.publish("test", demoStates());
let errors = 0;
server.on("error", (e) => {
  // Reported once per kind: a benchmark should show none, and must not drown in them.
  if (errors++ < 5) console.error(`server-child: ${e.message}`);
});
console.log(`READY port=${server.port} pid=${process.pid}`);

if (process.env.BENCH_LOOP_STALL === "1") {
  const every = 5;
  let last = performance.now();
  let worst = 0;
  let since = last;
  setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - every);
    last = now;
    if (now - since >= 250) {
      console.log(`STALL max=${worst.toFixed(1)}`);
      worst = 0;
      since = now;
    }
  }, every);
}

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close({ timeout: 1 }).finally(() => process.exit(errors > 0 ? 3 : 0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

/**
 * The demo: starts our TypeScript IKC server in-process with the demo kernel (the `test` session
 * of the bundled Perl peer) and walks through what the client does against it, then what the
 * two kernels do for each other (the server calling the client's published state, a
 * subscription, monitors). No Perl needed. Runs on Deno, Bun and Node:
 *
 * ```sh
 * node dist/examples/demo.js          # after `npm run build`
 * deno run -A examples/demo.ts
 * bun examples/demo.ts
 * ```
 *
 * Options: `--perl` runs the same against the Perl IKC peer in `tests/perl/ikc-server.pl` (real
 * Perl, POE and Storable); `--port N` against an IKC server that already runs.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { IkcClient, IkcServer, RemoteError, TimeoutError } from "../mod.ts";
import { demoStates } from "../src/demo-kernel.ts";

function findPeer(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, "tests", "perl", "ikc-server.pl");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error("tests/perl/ikc-server.pl not found: run the demo from a checkout of the repository");
}

/** Starts the Perl peer on an ephemeral port; resolves once it prints READY. */
function startPeer(): Promise<{ port: number; proc: ChildProcess }> {
  const proc = spawn("perl", [findPeer(), "--port", "0", "--name", "DemoServer"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    proc.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
    proc.on("error", reject);
    proc.on("exit", (code) => reject(new Error(`the Perl peer exited (${code}): ${err.trim()}`)));
    proc.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const m = /READY port=(\d+)/.exec(out);
      if (m) {
        proc.removeAllListeners("exit");
        resolve({ port: Number(m[1]), proc });
      }
    });
  });
}

async function demo(port: number, say: (line: string) => void, server?: IkcServer): Promise<void> {
  const show = (label: string, v: unknown) =>
    say(`${label.padEnd(34)} ${JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))}`);

  const ikc = await IkcClient.connect({ port, name: "DemoClient", timeout: 5 });
  say(
    `connected to ${ikc.remoteKernel} (aliases ${
      ikc.remoteAliases.join(", ")
    }) over ${ikc.protocol}, freezer ${ikc.freezer}`,
  );
  try {
    show("ping", await ikc.ping());
    show("call test/add [1,2,3]", await ikc.call("test/add", [1, 2, 3]));
    show("call test/echo (nested, Unicode)", await ikc.call("test/echo", { list: [1, "two", null], text: "héllo ☺" }));
    show("echo 2n**64n (Perl answers a string)", await ikc.call("test/echo", 2n ** 64n));
    show("call test/echo_list, list context", await ikc.call("test/echo_list", ["a", "b", "c"], { context: "list" }));
    show("call test/echo_list, scalar context", await ikc.call("test/echo_list", ["a", "b", "c"]));

    // Many calls in flight on one connection, answered out of order.
    const delays = [60, 10, 40, 0, 20];
    const answers = await Promise.all(
      delays.map((ms, i) => ikc.call("test/delay", [ms, `answer ${i} after ${ms} ms`])),
    );
    show("5 calls in flight (test/delay)", answers);

    show("postRespond test/respond", await ikc.postRespond("test/respond", [5, "responded later"]));

    await ikc.call("test/reset");
    await ikc.post("test/record", "posted");
    show("post test/record, then test/seen", await ikc.call("test/seen"));

    // Messages the server sends on its own go to handlers.
    const ticks: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      ikc.onMessage("tick", (params) => {
        ticks.push(params);
        if (ticks.length === 3) resolve();
      });
    });
    await ikc.call("test/push", { state: "tick", count: 3, value: "tick", after: 1 });
    await done;
    show("3 server-initiated messages", ticks);

    try {
      await ikc.call("nope/nothing");
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      show("call nope/nothing -> RemoteError", e.message);
    }
    try {
      await ikc.call("test/undef", null, { timeout: 0.3 });
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      show("call test/undef -> TimeoutError", e.message);
    }
    show("last error (Perl's $ikc->error)", ikc.error);

    if (server) {
      // Both ends are kernels: the client publishes a state, the server calls it back.
      ikc.publish("worker", { square: (n) => Number(n) ** 2 });
      show("server calls the client's worker/square 12", await server.call(`poe://${ikc.name}/worker/square`, 12));
      const calc = await ikc.subscribe(`poe://${server.name}/test`);
      show(`subscribed to ${calc.session} on ${calc.kernel}: add [4,5]`, await calc.call("add", [4, 5]));
      show("the server's view of its clients", server.clients.map((c) => `${c.kernel} via ${c.protocol}/${c.freezer}`));
    }
  } finally {
    await ikc.disconnect();
  }
  say("disconnected");
}

const args = process.argv.slice(2);
const portArg = args.indexOf("--port");
let peer: ChildProcess | undefined;
let server: IkcServer | undefined;
let code = 0;
try {
  let port: number;
  if (portArg >= 0) {
    port = Number(args[portArg + 1]);
  } else if (args.includes("--perl")) {
    const started = await startPeer();
    peer = started.proc;
    port = started.port;
    console.log(`started the Perl IKC peer (POE + Storable) on 127.0.0.1:${port}`);
  } else {
    server = await IkcServer.listen({ port: 0, name: "DemoServer", aliases: ["demo"] });
    server.publish("test", demoStates());
    server.on("connect", (p) => console.log(`  [server] ${p.kernel} connected (${p.protocol}, ${p.freezer})`));
    server.on("disconnect", (p) => console.log(`  [server] ${p.kernel} disconnected`));
    server.on("error", () => {}); // the demo provokes errors on purpose; the client shows them
    port = server.port!;
    console.log(`started the TypeScript IKC server ${server.name} (kernel ${server.id}) on ${server.address}`);
  }
  await demo(port, (line) => console.log(line), server);
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`);
  code = 1;
} finally {
  peer?.kill("SIGTERM");
  await server?.close({ timeout: 1 });
}
process.exit(code);

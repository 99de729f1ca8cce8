// The server's way in alone (src/server/acceptor.ts): a kernel, an Acceptor and a memory
// transport, no IkcServer façade. Raw sockets that misbehave are dropped with a report and
// destroyed; sockets waiting for a slot are let go at close; a negotiated client becomes one of
// the kernel's channels, and its end frees its place.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IkcClient, LimitError } from "../mod.ts";
import { Kernel } from "../src/kernel/kernel.ts";
import { Acceptor } from "../src/server/acceptor.ts";
import { type IkcServerOptions, resolveServerOptions } from "../src/server/options.ts";
import { memoryTransport } from "../src/transport/memory.ts";
import type { Connection } from "../src/transport/types.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Resolves true once the peer's end of `conn` is gone (read gives null or fails). */
async function ended(conn: Connection): Promise<boolean> {
  try {
    while ((await conn.read()) !== null) { /* whatever the server wrote */ }
  } catch {
    // a destroyed pair may fail the read
  }
  return true;
}

async function setUp(options: Omit<IkcServerOptions, "transport"> = {}) {
  const transport = memoryTransport();
  const opts = resolveServerOptions({ transport, name: "Door", connectTimeout: 5, ...options });
  const kernel = new Kernel({ id: "Door-1", names: ["Door"], timeout: 5 });
  const reports: Error[] = [];
  kernel.reporter.add((e) => reports.push(e));
  const acceptor = new Acceptor(kernel, opts);
  const listener = await transport.listen({ host: "127.0.0.1", port: 0 });
  acceptor.serve(listener);
  const raw = () => transport.connect({ host: "127.0.0.1", port: listener.port! });
  const client = (name: string) =>
    new IkcClient({ transport, host: "127.0.0.1", port: listener.port!, name, timeout: 2, connectTimeout: 2 });
  return { kernel, acceptor, reports, raw, client };
}

describe("Acceptor", () => {
  test("a socket that breaks negotiation is dropped with a report and destroyed", async () => {
    const { acceptor, reports, raw } = await setUp({ maxLineLength: 100 });
    const conn = await raw();
    await conn.write(new TextEncoder().encode("x".repeat(500))); // a line past maxLineLength
    assert.equal(await ended(conn), true);
    await until("the drop report", () => reports.length > 0);
    assert.match(reports[0].message, /^dropped client memory:1: /);
    await acceptor.close(new Error("test over"));
  });

  test("maxClientsPerAddress: the socket past it is refused at once, with a LimitError naming the limit", async () => {
    const { acceptor, reports, raw } = await setUp({ maxClientsPerAddress: 1 });
    const first = await raw(); // silent: it holds its address's one place while negotiating
    const second = await raw();
    assert.equal(await ended(second), true);
    await until("the refusal report", () => reports.length > 0);
    assert.ok(reports[0] instanceof LimitError, reports[0].constructor.name);
    assert.match(reports[0].message, /^refused a connection from memory:2: maxClientsPerAddress \(1\) reached/);
    await acceptor.close(new Error("test over"));
    assert.equal(await ended(first), true);
  });

  test("close() lets go of the sockets negotiating and those waiting for a slot, without reporting them", async () => {
    const { acceptor, reports, raw } = await setUp({ concurrency: 1 });
    const negotiating = await raw();
    const waiting = await Promise.all([raw(), raw()]);
    await sleep(20); // all three accepted: one negotiating, two waiting unread
    const started = performance.now();
    await acceptor.close(new Error("test over"));
    assert.ok(performance.now() - started < 2000, "close does not wait for connectTimeout");
    for (const conn of [negotiating, ...waiting]) assert.equal(await ended(conn), true);
    assert.equal(acceptor.closing, true);
    assert.deepEqual(reports.map((e) => e.message), []);
  });

  test("a negotiated client becomes a channel of the kernel; its end frees its place under maxClients", async () => {
    const { kernel, acceptor, reports, client } = await setUp({ maxClients: 1 });
    kernel.states.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
    const one = client("One");
    assert.equal(await one.call("calc/add", [1, 2]), 3);
    assert.equal(kernel.peers.channels().length, 1);
    assert.equal(kernel.peers.channels()[0].info.remoteAliases.includes("One"), true);
    await one.disconnect();
    await until("the channel's end", () => kernel.peers.channels().length === 0);
    const two = client("Two");
    assert.equal(await two.call("calc/add", [2, 3]), 5, "the freed place takes the next client");
    await two.disconnect();
    await acceptor.close(new Error("test over"));
    assert.deepEqual(reports.map((e) => e.message), []);
  });
});

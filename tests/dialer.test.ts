// The client's dialer alone (a dial function we control), its backoff, and its status seen
// through a real IkcClient and IkcServer over the in-memory transport.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ClientStatus, ConnectError, IkcClient, IkcServer } from "../mod.ts";
import { memoryTransport } from "../src/transport/memory.ts";
import { Backoff } from "../src/client/backoff.ts";
import { Dialer } from "../src/client/dialer.ts";
import type { Channel } from "../src/kernel/channel.ts";

/** A stand-in for a channel: the dialer only reads `alive`, `full`, `info`, and calls abort/close. */
function fakeChannel(): Channel & { aborted: Error | undefined } {
  const ch = {
    alive: true,
    full: false,
    aborted: undefined as Error | undefined,
    info: { protocol: "IKC0", remoteKernel: "Hub", remoteAliases: ["Hub"], freezer: "Storable" },
    conn: { remote: "memory" },
    abort(reason: Error) {
      ch.alive = false;
      ch.aborted = reason;
    },
    close() {
      ch.alive = false;
      return Promise.resolve();
    },
  };
  return ch as unknown as Channel & { aborted: Error | undefined };
}

function dialer(dial: () => Promise<Channel>, keepAlive = false) {
  const statuses: ClientStatus[] = [];
  const errors: unknown[] = [];
  const d = new Dialer({
    dial,
    keepAlive: () => keepAlive,
    report: (e) => errors.push(e),
    redialFailed: (e) => errors.push(e),
    backoff: new Backoff({ firstMs: 1, maxMs: 5, random: () => 0 }),
  });
  d.onStatus((s) => statuses.push(s));
  return { d, statuses, errors };
}

describe("Dialer", () => {
  test("one dial is shared by every request waiting for it", async () => {
    let dials = 0;
    const ch = fakeChannel();
    const { d, statuses } = dialer(async () => {
      dials++;
      await Promise.resolve();
      return ch;
    });
    const [a, b, c] = await Promise.all([d.open(), d.open(), d.open()]);
    assert.equal(dials, 1);
    assert.ok(a === ch && b === ch && c === ch);
    assert.deepEqual(statuses, ["connecting", "connected"]);
    assert.equal(d.ready(), ch);
  });

  test("a failed dial goes back to idle; lost without keepAlive is idle; lost with it redials", async () => {
    let fail = true;
    const { d, statuses, errors } = dialer(() =>
      fail ? Promise.reject(new Error("refused")) : Promise.resolve(fakeChannel())
    );
    await assert.rejects(d.open(), /refused/);
    assert.equal(d.status, "idle");
    fail = false;
    const ch = await d.open();
    assert.equal(d.lost(ch, new Error("gone")), true);
    assert.equal(d.status, "idle");
    assert.equal(d.channel, undefined);
    assert.deepEqual(statuses, ["connecting", "idle", "connecting", "connected", "idle"]);
    assert.equal(errors.length, 0);

    const kept = dialer(() => Promise.resolve(fakeChannel()), true);
    const first = await kept.d.open();
    kept.d.lost(first, new Error("gone"));
    assert.equal(kept.d.status, "reconnecting");
    const status = (): ClientStatus => kept.d.status;
    for (let i = 0; i < 100 && status() !== "connected"; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(status(), "connected");
    assert.notEqual(kept.d.channel, first);
    assert.deepEqual(kept.statuses, ["connecting", "connected", "reconnecting", "connected"]);
    await kept.d.close(10);
  });

  test("a channel the client closed is not its loss; a close while dialling wins", async () => {
    let release!: (ch: Channel) => void;
    const { d, statuses } = dialer(() => new Promise<Channel>((r) => (release = r)));
    const opening = d.open();
    await Promise.resolve();
    const closing = d.close(10);
    const late = fakeChannel();
    release(late);
    await closing;
    await assert.rejects(opening, /disconnected by the client while connecting/);
    assert.equal(late.alive, false, "the channel that came too late is closed");
    assert.equal(d.status, "closed");
    assert.equal(d.lost(late, new Error("x")), false);
    assert.deepEqual(statuses, ["connecting", "closed"]);
  });
});

describe("Backoff", () => {
  test("doubles from the first wait up to the cap, jittered by [0.5, 1.5), and resets", () => {
    const mid = new Backoff({ firstMs: 100, maxMs: 1000, random: () => 0.5 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => mid.next()), [100, 200, 400, 800, 1000, 1000]);
    mid.reset();
    assert.equal(mid.next(), 100);
    const low = new Backoff({ firstMs: 100, random: () => 0 });
    assert.equal(low.next(), 50);
    const high = new Backoff({ firstMs: 100, random: () => 0.999 });
    assert.ok(high.next() < 150);
  });
});

describe("client status over a real connection", () => {
  test("disconnect(), a call that reconnects, then the server drops us: status follows connected", async () => {
    const transport = memoryTransport();
    const server = await IkcServer.listen({ port: 0, name: "Hub", transport });
    server.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
    server.onError(() => {});
    const client = await IkcClient.connect({ port: server.port, name: "Cli", transport, timeout: 2 });
    client.onError(() => {});
    const statuses: ClientStatus[] = [];
    client.onStatus((s) => statuses.push(s));
    await client.disconnect();
    assert.equal(client.status, "closed");
    assert.equal(await client.call("calc/add", [1, 2]), 3, "a call after disconnect() connects again");
    assert.equal(client.status, "connected");
    assert.equal(client.connected, true);
    const dropped = new Promise<void>((r) => client.monitor("disconnect", () => r()));
    await server.close({ timeout: 1 });
    await dropped;
    assert.equal(client.connected, false);
    assert.equal(client.status, "idle", "not 'connected' once the connection is gone");
    assert.deepEqual(statuses, ["closed", "connecting", "connected", "idle"]);
    await client.disconnect();
  });

  test("ConnectError carries a code: ECONNREFUSED from the transport, ENEGOTIATION for a refused or silent negotiation", async () => {
    const transport = memoryTransport();
    const refused = new IkcClient({ port: 1, transport });
    await assert.rejects(refused.open(), (e: unknown) => e instanceof ConnectError && e.code === "ECONNREFUSED");
    const server = await IkcServer.listen({ port: 0, transport, serializer: "FreezeThaw" });
    server.onError(() => {});
    const wrongFreezer = new IkcClient({ port: server.port, transport, serializer: "Storable" });
    await assert.rejects(wrongFreezer.open(), (e: unknown) => e instanceof ConnectError && e.code === "ENEGOTIATION");
    await server.close();
    // A listener that never negotiates: negotiation runs out of time.
    const silent = await transport.listen({ port: 0 });
    const slow = new IkcClient({ port: silent.port, transport, connectTimeout: 0.2 });
    await assert.rejects(
      slow.open(),
      (e: unknown) => e instanceof ConnectError && e.code === "ENEGOTIATION" && /within 0.2 s/.test(e.message),
    );
    await silent.close();
  });
});

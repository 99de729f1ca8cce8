// The server against clients that misbehave on purpose (issue 17): each case is a real socket
// peer on this runtime's transport doing what a hostile or broken client would, and checks the
// server answers it with a typed error or a bounded cost, while well-behaved clients are served.
// Costs are asserted by counting (sockets, clients, answers, reports), never by the clock, but
// for deadlines the server itself enforces, which are checked with wide margins.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IkcClient, IkcServer, type IkcServerOptions, LimitError, RemoteError } from "../mod.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { type Msg, RawClient } from "./helpers/raw-client.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 8000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A server with a `test` session, its reports collected; closed after `body` whatever happens. */
async function withServer(
  options: IkcServerOptions,
  body: (server: IkcServer, errors: Error[]) => Promise<void>,
  states: Record<string, (p: unknown) => unknown> = {},
): Promise<void> {
  const server = await IkcServer.listen({ port: 0, name: "Hub", connectTimeout: 5, ...options });
  const errors: Error[] = [];
  server.on("error", (e) => errors.push(e));
  server.publish("test", { echo: (p) => p, big: (n) => "x".repeat(n as number), ...states });
  try {
    await body(server, errors);
  } finally {
    await server.close({ timeout: 1 });
  }
}

function client(server: IkcServer, name: string, extra: Record<string, unknown> = {}): Promise<IkcClient> {
  return IkcClient.connect({ host: "127.0.0.1", port: server.port, name, timeout: 10, connectTimeout: 10, ...extra });
}

/** The error `p` rejects with; fails when it resolves. */
async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    const v = await p;
    assert.fail(`resolved with ${JSON.stringify(v)} instead of rejecting`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return e as Error;
  }
}

describe("IkcServer against hostile clients", () => {
  test("an answer settles only a request sent on the connection it arrives on: forged answers and remote_errors from another client are refused", async () => {
    await withServer({}, async (server, errors) => {
      const w3 = await RawClient.connect(server.port!, "W3");
      const w2 = await RawClient.connect(server.port!, "W2");
      await until("both registered", () => server.clients.length === 2);
      const call = server.call("poe://W3/work/slow", "question");
      const request = await w3.next();
      assert.ok(request, "W3 got the server's request");
      const rsvp = request.rsvp as Msg;
      assert.equal(typeof rsvp?.state, "string");
      // W2 answers in W3's place, then fails it in W3's place, both naming the request exactly.
      await w2.send({ event: rsvp, params: "FORGED by W2" });
      await w2.send({
        event: { kernel: server.id, session: "IKC", state: "remote_error" },
        params: [`forged.  Request poe://W3/work/slow sent by poe://${server.id}/IKC`, "W3", "check", rsvp],
        is_error: 1,
      });
      await until("the forged frames reported", () => errors.length >= 2);
      await sleep(50);
      // The request is still open: only W3 settles it.
      await w3.send({ event: rsvp, params: "the real answer" });
      assert.equal(await call, "the real answer");
      assert.ok(server.clients.some((c) => c.kernel === "W2"), "W2 is still served (a stray answer is not fatal)");
      await w2.close();
      await w3.close();
    });
  });

  test("a state whose thenable's then() throws is a failed state: a remote_error, and close() does not wait for it", async () => {
    await withServer({ closeTimeout: 30 }, async (server) => {
      const c = await client(server, "Thenable");
      const e = await errorOf(c.call("test/bad"));
      assert.ok(e instanceof RemoteError, `${e.constructor.name}: ${e.message}`);
      assert.match(e.message, /then exploded/);
      assert.equal(await c.call("test/echo", "after"), "after");
      await c.disconnect();
      // Nothing is in flight: close() must not sit out its 30 s closeTimeout.
      const t0 = performance.now();
      await server.close();
      assert.ok(performance.now() - t0 < 15_000, `close took ${performance.now() - t0} ms`);
    }, {
      bad: () => ({
        then() {
          throw new Error("then exploded");
        },
      }),
    });
  });

  test("an answer larger than maxWriteBuffer goes back to its caller as a remote_error; the client stays", async () => {
    await withServer({ maxWriteBuffer: 1 << 20 }, async (server) => {
      const c = await client(server, "Reader");
      const e = await errorOf(c.call("test/big", 3_000_000));
      assert.ok(e instanceof RemoteError, `${e.constructor.name}: ${e.message}`);
      assert.match(e.message, /maxWriteBuffer/);
      assert.equal((await c.call<string>("test/big", 1000)).length, 1000);
      assert.ok(server.clients.some((p) => p.aliases.includes("Reader")));
      await c.disconnect();
    });
  });

  test("maxInFlight: requests beyond the per-client cap are refused with a remote_error; the rest are answered", async () => {
    const parked: Array<() => void> = [];
    await withServer({ maxInFlight: 10 }, async (server) => {
      const c = await client(server, "Greedy");
      const calls = Array.from({ length: 15 }, (_, i) => c.call("test/park", i).then((v) => v, (e: Error) => e));
      await until("ten parked", () => parked.length === 10);
      await sleep(100);
      assert.equal(parked.length, 10, "no more than maxInFlight states run for one client");
      for (const f of parked.splice(0)) f();
      const results = await Promise.all(calls);
      const refused = results.filter((r) => r instanceof RemoteError);
      assert.equal(refused.length, 5, results.map(String).join("\n"));
      assert.match((refused[0] as Error).message, /maxInFlight|in flight/);
      // The counts are balanced: the client may again have ten running.
      const again = Array.from({ length: 10 }, (_, i) => c.call("test/park", i));
      await until("ten parked again", () => parked.length === 10);
      for (const f of parked.splice(0)) f();
      await Promise.all(again);
      await c.disconnect();
    }, { park: (p) => new Promise((r) => parked.push(() => r(p))) });
  });

  test("concurrency: clients beyond it wait to be served rather than being refused", async () => {
    await withServer({ concurrency: 2 }, async (server) => {
      const a = await client(server, "A");
      const b = await client(server, "B");
      let cReady = false;
      const cp = client(server, "C").then((c) => {
        cReady = true;
        return c;
      });
      await sleep(300);
      assert.equal(cReady, false, "a third client was served beyond concurrency 2");
      assert.equal(server.clients.length, 2);
      await a.disconnect();
      const c = await cp;
      assert.equal(await c.call("test/echo", "served"), "served");
      await b.disconnect();
      await c.disconnect();
    });
  });

  test("sockets still negotiating have their own cap and do not take the clients' slots", async () => {
    await withServer({ maxClients: 2, maxNegotiating: 6, connectTimeout: 30 }, async (server, errors) => {
      const t = detectTransport();
      const silent = [];
      for (let i = 0; i < 10; i++) silent.push(await t.connect({ host: "127.0.0.1", port: server.port! }));
      // At most 6 wait in negotiation; the rest were closed at once, with a report.
      const open: typeof silent = [];
      await Promise.all(silent.map(async (s) => {
        const r = await Promise.race([s.read().catch(() => null), sleep(3000).then(() => "open" as const)]);
        if (r === "open") open.push(s);
      }));
      assert.equal(open.length, 6, "sockets beyond maxNegotiating are closed at once");
      assert.ok(errors.some((e) => /maxNegotiating/.test(e.message)));
      // Two of them go: two negotiation slots free up, and maxClients was never touched by any.
      for (const s of open.splice(0, 2)) await s.close();
      await sleep(100);
      const a = await client(server, "A");
      const b = await client(server, "B");
      assert.equal(await a.call("test/echo", 1), 1);
      assert.equal(await b.call("test/echo", 2), 2);
      await a.disconnect();
      await b.disconnect();
      for (const s of silent) await s.close().catch(() => {});
    });
  });

  test("maxClientsPerAddress: one address cannot hold more than its share", async () => {
    await withServer({ maxClientsPerAddress: 2 }, async (server, errors) => {
      const a = await client(server, "A");
      const b = await client(server, "B");
      const e = await errorOf(client(server, "C", { connectTimeout: 5 }));
      assert.equal(e.name, "ConnectError");
      assert.ok(errors.some((x) => /maxClientsPerAddress/.test(x.message)));
      await a.disconnect();
      await until("A gone", () => server.clients.length === 1);
      const c = await client(server, "C");
      assert.equal(await c.call("test/echo", "in"), "in");
      await b.disconnect();
      await c.disconnect();
    });
  });

  test("frameTimeout: a frame that starts and never ends drops its client", async () => {
    await withServer({ frameTimeout: 1 }, async (server, errors) => {
      const slow = await RawClient.connect(server.port!, "Slowloris");
      await slow.conn.write(new TextEncoder().encode("1000\0only a few bytes"));
      const t0 = performance.now();
      await slow.drain(); // the server ends the connection
      assert.ok(performance.now() - t0 < 20_000);
      await until("the report", () => errors.some((e) => /frameTimeout|frame/.test(e.message)));
      assert.ok(!server.clients.some((c) => c.kernel === "Slowloris"));
      await slow.close();
    });
  });

  test("clients[i].close(reason) drops one client; the others stay", async () => {
    await withServer({}, async (server) => {
      const keep = await client(server, "Keep");
      const drop = await client(server, "Drop", { reconnect: false });
      const gone = new Promise<Error | undefined>((r) => drop.monitor("disconnect", (_p, why) => r(why)));
      const peer = server.clients.find((c) => c.kernel === drop.id);
      assert.ok(peer);
      await peer.close("an operator said so");
      await gone;
      assert.equal(drop.connected, false);
      assert.deepEqual(server.clients.map((c) => c.kernel), [keep.id]);
      assert.equal(await keep.call("test/echo", "still"), "still");
      await keep.disconnect();
      await drop.disconnect();
    });
  });

  test("a dropped client that never reads is gone at once: no flush to it, its socket ends, maxClients counts only what is open", async () => {
    const MB = 1 << 20;
    await withServer({ maxClients: 2, maxWriteBuffer: 64 * MB }, async (server) => {
      const dropped: RawClient[] = [];
      for (let i = 0; i < 3; i++) {
        const bad = await RawClient.connect(server.port!, `Deaf${i}`);
        // 48 MB of answers pile up unread (more than any loopback buffers hold), then a corrupt
        // frame gets it dropped.
        for (let k = 0; k < 48; k++) await bad.call("test/big", MB, `r${k}`);
        await bad.conn.write(new TextEncoder().encode("3\0\x05\x0b\x01"));
        dropped.push(bad);
        await until(`Deaf${i} dropped`, () => !server.clients.some((c) => c.kernel === `Deaf${i}`), 20_000);
      }
      // Each sees its connection end after what the OS had already taken: the server neither
      // waited for it to read the rest nor kept its socket.
      for (const d of dropped) {
        const n = await d.drain();
        assert.ok(n < 24 * MB, `read ${n} bytes after the drop: the queued answers were flushed`);
        await d.close();
      }
      const a = await client(server, "Fine1");
      const b = await client(server, "Fine2");
      assert.equal(await a.call("test/echo", "in"), "in");
      assert.equal(await b.call("test/echo", "in"), "in");
      await a.disconnect();
      await b.disconnect();
    });
  });

  test("an unknown option is a TypeError naming it", async () => {
    await assert.rejects(
      IkcServer.listen({ port: 0, tlz: { cert: "" } } as unknown as IkcServerOptions),
      (e: Error) => e instanceof TypeError && /tlz/.test(e.message),
    );
    assert.throws(
      () => new IkcClient({ port: 1, reconect: false } as unknown as ConstructorParameters<typeof IkcClient>[0]),
      (e: Error) => e instanceof TypeError && /reconect/.test(e.message),
    );
  });
});

describe("IkcServer fairness", () => {
  test("a client flooding frames at the default limits does not keep another client waiting until it is done", async () => {
    let floods = 0;
    const FRAMES = 40;
    await withServer({}, async (server) => {
      const flooder = await RawClient.connect(server.port!, "Flooder");
      const legit = await client(server, "Legit");
      // The costliest frame the defaults let through (a hash of 24,900 keys, 10-16 ms to decode):
      // when the last one has been written, the frames still in the socket buffers cost the
      // server far more than the legit call's round trip, even on a fast machine.
      const hash: Record<string, number> = {};
      for (let i = 0; i < 24_900; i++) hash[`key${i}`] = i & 63;
      const frames = [];
      for (let i = 0; i < FRAMES; i++) {
        frames.push(flooder.send({ event: `poe://${flooder.server}/test/flood`, params: hash }));
      }
      await Promise.all(frames);
      const seen = await legit.call<number>("test/probe");
      assert.ok(seen < FRAMES, `the legit call ran only after all ${FRAMES} flood frames`);
      await until("the flood worked off", () => floods === FRAMES, 60_000);
      await legit.disconnect();
      await flooder.close();
    }, { flood: () => void floods++, probe: () => floods });
  });
});

describe("IkcServer decode limits", () => {
  test("by default a frame of more than 50,000 values drops its client with a LimitError report; decodeLimits raises it", async () => {
    const many = Array.from({ length: 60_000 }, (_, i) => i & 63);
    await withServer({}, async (server, errors) => {
      const bad = await RawClient.connect(server.port!, "Many");
      await bad.call("test/echo", many, "r1");
      assert.equal(await bad.next(), null, "the server ended the connection instead of answering");
      await until(
        "the report",
        () =>
          errors.some((e) =>
            (e.cause ?? e) instanceof LimitError && /dropped client Many.*maxElements/.test(e.message)
          ),
      );
      await bad.close();
    });
    await withServer({ decodeLimits: { maxElements: 100_000 } }, async (server) => {
      const ok = await RawClient.connect(server.port!, "Many");
      await ok.call("test/echo", many, "r1");
      const answer = await ok.next();
      assert.equal((answer?.params as number[]).length, 60_000);
      await ok.close();
    });
  });

  test("a bad or unknown decode limit is a TypeError", async () => {
    await assert.rejects(
      IkcServer.listen({ port: 0, decodeLimits: { maxElements: -1 } }),
      (e: Error) => e instanceof TypeError && /maxElements/.test(e.message),
    );
    await assert.rejects(
      IkcServer.listen({ port: 0, decodeLimits: { maxElemnts: 5 } as never }),
      (e: Error) => e instanceof TypeError && /maxElemnts/.test(e.message),
    );
  });
});

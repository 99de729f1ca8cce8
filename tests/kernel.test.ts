// The kernel both ends share, over the in-memory transport: no sockets, no Perl. Client and
// server are the real IkcClient and IkcServer; only the byte stream is in-process.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DisconnectedError,
  IkcClient,
  type IkcClientOptions,
  IkcServer,
  type IkcServerOptions,
  RemoteError,
  RoutingError,
  type StateContext,
  SubscriptionError,
  TimeoutError,
} from "../mod.ts";
import { memoryTransport } from "../src/transport/memory.ts";
import { Deadlines } from "../src/time/deadlines.ts";
import { Reporter } from "../src/kernel/report.ts";

type Transport = ReturnType<typeof memoryTransport>;

async function pair(
  serverOpts: IkcServerOptions = {},
  clientOpts: IkcClientOptions = {},
  transport: Transport = memoryTransport(),
): Promise<{ server: IkcServer; client: IkcClient; errors: Error[]; done: () => Promise<void> }> {
  const server = await IkcServer.listen({ port: 0, name: "Hub", aliases: ["hub"], transport, ...serverOpts });
  const errors: Error[] = [];
  server.on("error", (e) => errors.push(e));
  const client = await IkcClient.connect({ port: server.port, name: "Cli", timeout: 2, transport, ...clientOpts });
  client.onError(() => {});
  return {
    server,
    client,
    errors,
    done: async () => {
      await client.disconnect();
      await server.close({ timeout: 1 });
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kernel over the memory transport", () => {
  test("negotiation: the server announces its id, name and aliases; the client sees them", async () => {
    const { server, client, done } = await pair();
    try {
      assert.equal(client.protocol, "IKC0");
      assert.equal(client.freezer, "Storable");
      assert.equal(client.remoteKernel, server.id);
      assert.ok(client.remoteAliases.includes("Hub") && client.remoteAliases.includes("hub"));
      // The client announces its unique id first, its name after it (as Perl's IKC::Client).
      assert.deepEqual(server.clients.map((c) => c.kernel), [client.id]);
      assert.deepEqual(server.clients[0].aliases, [client.id, "Cli"]);
      assert.match(client.id, /^Cli-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      assert.equal(await client.ping(), true);
    } finally {
      await done();
    }
  });

  test("the Responder's rules: scalar, list, undefined, null, thrown, unknown", async () => {
    const { server, client, errors, done } = await pair();
    server.publish("t", {
      echo: (p) => p,
      list: () => ["a", "b"],
      one: () => 7,
      empty: () => [],
      nothing: () => undefined,
      nul: () => null,
      boom: () => {
        throw new Error("kaboom");
      },
      reject: async () => {
        await sleep(1);
        throw new TypeError("async kaboom");
      },
    });
    try {
      assert.deepEqual(await client.call("t/echo", { a: [1, "x"] }), { a: [1, "x"] });
      assert.deepEqual(await client.call("t/list", null, { context: "list" }), ["a", "b"]);
      assert.deepEqual(await client.call("t/one", null, { context: "list" }), [7]);
      assert.deepEqual(await client.call("t/empty", null, { context: "list" }), []);
      assert.deepEqual(await client.call("t/list"), ["a", "b"]); // scalar context: the array itself
      assert.equal(await client.call("t/nul"), null);
      await assert.rejects(client.call("t/nothing", null, { timeout: 0.2 }), TimeoutError);
      await assert.rejects(client.call("t/boom"), (e: unknown) => {
        assert.ok(e instanceof RemoteError);
        assert.match(
          e.remoteMessage,
          /^State 't\/boom' failed: kaboom\. {2}Request poe:\/\/[^ ]+\/t\/boom sent by poe:\/\/Cli-[-0-9a-f]+\/IKCLite$/,
        );
        assert.equal(e.phase, "invocation");
        return true;
      });
      await assert.rejects(client.call("t/reject"), /async kaboom/);
      await assert.rejects(
        client.call("nope/x"),
        (e: unknown) =>
          e instanceof RemoteError &&
          /^Session 'nope' is not available for remote kernels\. {2}Request poe:\/\/.+\/nope\/x sent by poe:\/\/Cli-[-0-9a-f]+\/IKCLite$/
            .test(e.remoteMessage),
      );
      await assert.rejects(
        client.call("t/zzz"),
        (e: unknown) => e instanceof RemoteError && /^Session 't' has not published state 'zzz'/.test(e.remoteMessage),
      );
      assert.equal(await client.call("t/echo", "still serving"), "still serving");
      assert.ok(errors.some((e) => /kaboom/.test(e.message)), "the server reports a state that threw");
    } finally {
      await done();
    }
  });

  test("concurrent calls to one state: each error reaches its own call through the rsvp", async () => {
    const { server, client, done } = await pair();
    server.publish("t", {
      maybe: async (p) => {
        await sleep((p as number) % 3);
        if ((p as number) % 2) throw new Error(`odd ${p}`);
        return p;
      },
    });
    try {
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => client.call("t/maybe", i)));
      results.forEach((r, i) => {
        if (i % 2) {
          assert.ok(r.status === "rejected" && new RegExp(`odd ${i}\\.`).test(String(r.reason.message)), `call ${i}`);
        } else assert.ok(r.status === "fulfilled" && r.value === i, `call ${i}`);
      });
    } finally {
      await done();
    }
  });

  test("state context: from, context, args, IKC:proxy and ?arg", async () => {
    const { server, client, done } = await pair();
    const seen: Array<Pick<StateContext, "from" | "context" | "args" | "kernel" | "wantsAnswer" | "state">> = [];
    server.publish("t", {
      look: (_p, ctx) => {
        seen.push({
          from: ctx.from,
          context: ctx.context,
          args: ctx.args,
          kernel: ctx.kernel,
          wantsAnswer: ctx.wantsAnswer,
          state: ctx.state,
        });
        return ctx.args.length;
      },
    });
    try {
      assert.equal(await client.call("t/look", "a"), 1);
      assert.deepEqual(await client.call("t/look", "a", { context: "list" }), [1]);
      assert.equal(await client.call("t/look?extra", "a"), 2);
      // A proxied request carries [state, [ARG0, ARG1, ...]].
      assert.equal(await client.call("t/IKC:proxy", ["look", ["x", "y", "z"]]), 3);
      await client.post("t/look", "posted");
      await client.ping();
      assert.deepEqual(seen[0], {
        from: { kernel: client.id, session: "IKCLite" },
        context: "scalar",
        args: ["a"],
        kernel: client.id,
        wantsAnswer: true,
        state: "look",
      });
      assert.equal(seen[1].context, "list");
      assert.deepEqual(seen[2].args, ["a", "extra"]);
      assert.deepEqual(seen[3].args, ["x", "y", "z"]);
      assert.equal(seen[3].state, "look");
      assert.equal(seen[4].wantsAnswer, false);
    } finally {
      await done();
    }
  });

  test("post_respond: the state answers later by posting to the rsvp", async () => {
    const { server, client, done } = await pair();
    server.publish("jobs", {
      run: (p, ctx) => {
        const [job, rsvp] = p as [{ n: number }, { kernel: string; session: string; state: string }];
        setTimeout(() => void ctx.post(rsvp, { done: job.n * 2 }), 5);
        return undefined;
      },
    });
    try {
      assert.deepEqual(await client.postRespond("jobs/run", { n: 21 }), { done: 42 });
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => client.postRespond("jobs/run", { n: i })));
      assert.deepEqual(many, Array.from({ length: 20 }, (_, i) => ({ done: i * 2 })));
    } finally {
      await done();
    }
  });

  test("both ends are kernels: the server calls states the client published, from its own API and from a state", async () => {
    const { server, client, done } = await pair();
    client.publish("work", {
      square: (n) => (n as number) ** 2,
      fail: () => {
        throw new Error("no");
      },
    });
    server.publish("calc", { viaClient: (p, ctx) => ctx.call<number>("work/square", p) });
    try {
      assert.equal(await server.call("poe://Cli/work/square", 12), 144);
      assert.equal(await server.call({ kernel: "Cli", session: "work", state: "square" }, 3), 9);
      assert.equal(await server.call("work/square", 4), 16, "a target without a kernel goes to the only client");
      assert.equal(await client.call("calc/viaClient", 5), 25);
      await assert.rejects(server.call("poe://Cli/work/fail", 1), RemoteError);
      await assert.rejects(
        server.call("poe://Cli/nothing/here", 1),
        (e: unknown) => e instanceof RemoteError && /Session 'nothing' is not available/.test(e.remoteMessage),
      );
      await assert.rejects(server.post("poe://Nobody/work/square", 1), RoutingError);
      const got: unknown[] = [];
      client.onMessage("note", (p) => got.push(p));
      await server.post("poe://Cli/IKCLite/note", "hello");
      for (let i = 0; i < 50 && got.length === 0; i++) await sleep(5);
      assert.deepEqual(got, ["hello"]);
    } finally {
      await done();
    }
  });

  test("subscribe: a handle for a published session, a SubscriptionError for anything else", async () => {
    const { server, client, done } = await pair();
    server.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
    try {
      const calc = await client.subscribe("poe://Hub/calc");
      assert.equal(calc.session, "calc");
      assert.equal(await calc.call("add", [1, 2, 3]), 6);
      await calc.post("add", [1]);
      const bare = await client.subscribe("calc");
      assert.equal(await bare.call("add", [4]), 4);
      await assert.rejects(
        client.subscribe("poe://Hub/nothing"),
        (e: unknown) => e instanceof SubscriptionError && e.remoteMessage === "Refused subscription poe://Hub/nothing",
      );
      await assert.rejects(client.subscribe("poe://Hub/IKC"), SubscriptionError);
    } finally {
      await done();
    }
  });

  test("publish, retract, published", async () => {
    const { server, client, done } = await pair();
    server.publish("s", { a: () => 1, b: () => 2 });
    try {
      assert.deepEqual(server.published().s, ["a", "b"]);
      assert.ok(server.published().IKC.includes("ping"));
      assert.equal(server.retract("s", ["a"]), true);
      await assert.rejects(client.call("s/a"), /has not published state 'a'/);
      assert.equal(await client.call("s/b"), 2);
      assert.equal(server.retract("s"), true);
      assert.equal(server.retract("s"), false);
      await assert.rejects(client.call("s/b"), /Session 's' is not available/);
      assert.throws(() => server.publish("IKC", { x: () => 1 }), TypeError);
      assert.throws(() => server.publish("a/b", { x: () => 1 }), TypeError);
    } finally {
      await done();
    }
  });

  test("monitors see connect and disconnect with the remote kernel's names, on both ends", async () => {
    const transport = memoryTransport();
    const server = await IkcServer.listen({ port: 0, name: "Hub", transport });
    const events: string[] = [];
    server.on("connect", (p) => events.push(`server+ ${p.aliases.join(",")}`));
    server.on("disconnect", (p, why) => events.push(`server- ${p.kernel} ${why instanceof DisconnectedError}`));
    const client = new IkcClient({ port: server.port, name: "Mon", aliases: ["mon2"], transport });
    client.monitor("connect", (p) => events.push(`client+ ${p.kernel === server.id}`));
    client.monitor("disconnect", (p) => events.push(`client- ${p.kernel === server.id}`));
    await client.open();
    await client.disconnect();
    for (let i = 0; i < 50 && events.length < 4; i++) await sleep(5);
    await server.close();
    assert.deepEqual(events.sort(), [
      "client+ true",
      "client- true",
      `server+ ${client.id},Mon,mon2`,
      `server- ${client.id} true`,
    ]);
  });

  test("classic IKC and every freezer; the server's preference decides among offers", async () => {
    for (const serializer of ["Storable", "FreezeThaw", "POE::Component::IKC::Freezer"]) {
      for (const protocol of ["IKC0", "IKC"] as const) {
        const { server, client, done } = await pair({}, { serializer, protocol });
        server.publish("t", { echo: (p) => p });
        try {
          assert.equal(client.protocol, protocol);
          assert.equal(client.freezer, serializer);
          assert.deepEqual(await client.call("t/echo", ["x", { y: "z" }]), ["x", { y: "z" }]);
          assert.equal(await client.ping(), true);
        } finally {
          await done();
        }
      }
    }
    const { client, done } = await pair({ serializer: ["FreezeThaw", "Storable"] }, {
      serializer: ["Storable", "FreezeThaw"],
    });
    try {
      assert.equal(client.freezer, "FreezeThaw");
    } finally {
      await done();
    }
    const classicOnly = await pair({ protocol: "IKC" });
    try {
      assert.equal(classicOnly.client.protocol, "IKC", "SETUP answered NOT, the client fell back");
    } finally {
      await classicOnly.done();
    }
  });

  test("a late answer is dropped and reported, never parked in the inbox", async () => {
    const { server, client, done } = await pair({}, { inboxLimit: 5 });
    server.publish("t", { slow: async (p) => (await sleep(100), p) });
    const errors: Error[] = [];
    client.onError((e) => errors.push(e));
    try {
      await Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.call("t/slow", i, { timeout: 0.02 })));
      await sleep(250);
      assert.ok(errors.length >= 1 && errors.length <= 2, `${errors.length} reports for 20 late answers`);
      assert.match(errors[0].message, /already settled/);
      await assert.rejects(client.responded(`response1`, { timeout: 0.05 }), TimeoutError, "nothing was parked");
    } finally {
      await done();
    }
  });

  test("close() lets calls in flight finish, then closes; new connections are refused", async () => {
    const transport = memoryTransport();
    const { server, client, done } = await pair({}, {}, transport);
    server.publish("t", { slow: async (p) => (await sleep(150), p) });
    const inflight = client.call("t/slow", "finished");
    await sleep(20);
    const closing = server.close({ timeout: 2 });
    assert.equal(await inflight, "finished");
    await closing;
    await assert.rejects(IkcClient.connect({ port: server.port, transport, timeout: 1 }));
    await done();
  });

  test("a server that goes away: the client's pending calls reject, a publishing client reconnects by itself", async () => {
    const transport = memoryTransport();
    let server = await IkcServer.listen({ port: 0, name: "Hub", transport });
    const port = server.port!;
    server.publish("t", { hang: () => new Promise(() => {}) });
    const client = await IkcClient.connect({ port, name: "Keeper", transport, timeout: 5 });
    client.onError(() => {});
    client.publish("work", { id: (p) => p });
    const statuses: string[] = [];
    client.onStatus((s) => statuses.push(s));
    const pending = assert.rejects(client.call("t/hang", 1), DisconnectedError);
    await sleep(10);
    await server.close({ timeout: 0.05 });
    await pending;
    server = await IkcServer.listen({ port, name: "Hub", transport });
    for (let i = 0; i < 200 && !client.connected; i++) await sleep(10);
    assert.equal(client.connected, true, "reconnected without being asked");
    assert.equal(await server.call("poe://Keeper/work/id", "back"), "back");
    assert.deepEqual(statuses.slice(0, 2), ["reconnecting", "connected"]);
    await client.disconnect();
    assert.equal(client.status, "closed");
    await server.close();
  });

  test("many clients at once, each answered on its own connection", async () => {
    const transport = memoryTransport();
    const server = await IkcServer.listen({ port: 0, transport });
    server.publish("t", { who: (_p, ctx) => ctx.kernelAliases[1] });
    const clients = await Promise.all(
      Array.from({ length: 20 }, (_, i) => IkcClient.connect({ port: server.port, name: `C${i}`, transport })),
    );
    const answers = await Promise.all(clients.flatMap((c) => Array.from({ length: 10 }, () => c.call("t/who"))));
    answers.forEach((a, i) => assert.equal(a, `C${Math.floor(i / 10)}`));
    await Promise.all(clients.map((c) => c.disconnect()));
    await server.close();
  });

  test("a bare session/state goes to each request's own kernel, one target string for many (the parse cache)", async () => {
    const transport = memoryTransport();
    const server = await IkcServer.listen({ port: 0, transport });
    // The same target string, sent back over whichever connection the request came in on.
    server.on("error", () => {}); // the refusals below are reported there too
    server.publish("hub", { ask: (_p, ctx) => ctx.call("w/id") });
    const clients = await Promise.all(
      ["A", "B", "C"].map((name) => IkcClient.connect({ port: server.port, name, transport })),
    );
    for (const c of clients) c.publish("w", { id: () => c.name });
    for (let round = 0; round < 3; round++) {
      for (const c of clients) assert.equal(await c.call("hub/ask"), c.name, `round ${round}`);
    }
    // Far more distinct targets than the cache keeps: each still parsed and routed right.
    const many = await Promise.all(
      Array.from({ length: 1500 }, (_, i) => clients[0].call(`hub/nope${i}`).catch((e: unknown) => e)),
    );
    many.forEach((e, i) => assert.ok(e instanceof RemoteError && e.remoteMessage.includes(`'nope${i}'`)));
    await assert.rejects(clients[0].call("not a spec"), /not an IKC specifier/);
    // Received events: a repeated one with an ?arg keeps its arg every time, and long ones route
    // as right as short ones.
    server.publish("hub", { arg: (_p, ctx) => ctx.args[1] ?? null });
    for (let i = 0; i < 3; i++) assert.equal(await clients[1].call("hub/arg?t1"), "t1");
    assert.equal(await clients[1].call(`hub/arg?${"t".repeat(300)}`), "t".repeat(300));
    assert.equal(await clients[1].call(`hub/arg?${"t".repeat(300)}`), "t".repeat(300));
    const long = await clients[1].call(`hub/${"n".repeat(300)}`).catch((e: unknown) => e);
    assert.ok(long instanceof RemoteError && long.remoteMessage.includes(`'${"n".repeat(300)}'`));
    await Promise.all(clients.map((c) => c.disconnect()));
    await server.close();
  });

  test("maxClients: one too many is closed and reported", async () => {
    const transport = memoryTransport();
    const server = await IkcServer.listen({ port: 0, transport, maxClients: 1 });
    const errors: Error[] = [];
    server.on("error", (e) => errors.push(e));
    const a = await IkcClient.connect({ port: server.port, transport, name: "A" });
    await assert.rejects(IkcClient.connect({ port: server.port, transport, name: "B", timeout: 1 }));
    assert.match(errors.map((e) => e.message).join("\n"), /maxClients \(1\)/);
    assert.equal(await a.ping(), true);
    await a.disconnect();
    await server.close();
  });
});

describe("deadlines and reports", () => {
  test("Deadlines fire in order, cancelled ones never", async () => {
    const d = new Deadlines();
    const fired: number[] = [];
    d.add(30, () => fired.push(30));
    const c = d.add(10, () => fired.push(10));
    d.add(20, () => fired.push(20));
    d.add(5, () => fired.push(5));
    c.cancel();
    assert.equal(d.size, 3);
    await sleep(60);
    assert.deepEqual(fired, [5, 20, 30]);
    assert.equal(d.size, 0);
  });

  test("Deadlines: a stream of requests answered in time holds memory for the live ones only", () => {
    const d = new Deadlines();
    const first = d.add(60_000, () => assert.fail("the first fired"));
    // Always one more request outstanding, 100,000 answered in time: the cancelled entries are
    // compacted away instead of waiting a minute to surface.
    let prev = d.add(60_000, () => assert.fail("fired"));
    let most = 0;
    for (let i = 0; i < 100_000; i++) {
      const next = d.add(60_000, () => assert.fail("fired"));
      prev.cancel();
      prev = next;
      most = Math.max(most, d.held);
    }
    assert.equal(d.size, 2);
    assert.ok(most <= 2100, `at most ~2 x 1,024 entries held, saw ${most}`);
    first.cancel();
    prev.cancel();
    assert.equal(d.held, 0, "nothing live: nothing held");
    d.release();
    assert.equal(d.armed, false);
  });

  test("Deadlines: the timer outlives the last cancel only while held, until release()", async () => {
    const free = new Deadlines();
    free.add(10_000, () => assert.fail("fired")).cancel();
    assert.equal(free.armed, false, "not held (the default): an idle timer stops at once");
    let held = true;
    const d = new Deadlines({ hold: () => held });
    const fired: string[] = [];
    d.add(20, () => fired.push("a")).cancel();
    assert.equal(d.armed, true, "kept armed: back-to-back requests do not set a timer each");
    const b = d.add(30, () => fired.push("b"));
    await sleep(50);
    assert.deepEqual(fired, ["b"]);
    void b;
    assert.equal(d.armed, false, "stops once nothing is live");
    d.add(10_000, () => fired.push("c")).cancel();
    assert.equal(d.armed, true);
    d.release();
    assert.equal(d.armed, false, "release() stops an idle timer at once");
    const live = d.add(10_000, () => fired.push("d"));
    d.release();
    assert.equal(d.armed, true, "release() leaves a live deadline alone");
    live.cancel();
    d.release();
    held = false;
    d.add(10_000, () => fired.push("e")).cancel();
    assert.equal(d.armed, false, "no longer held: stops at once");
    assert.deepEqual(fired, ["b"]);
  });

  test("Reporter folds a flood into one report and one summary", async () => {
    const r = new Reporter("t", { windowMs: 30 });
    const got: string[] = [];
    r.add((e) => got.push(e.message));
    for (let i = 0; i < 100_000; i++) r.report(new Error(`stray ${i}`), "stray");
    r.report(new Error("other"));
    await sleep(60);
    assert.deepEqual(got, ["stray 0", "other", "99999 more like this in the last burst; the last: stray 99999"]);
  });
});

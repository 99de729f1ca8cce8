// Issue 20 beyond the wire: the authorize hook (calls, posts, subscriptions; sync, async, throwing;
// a real Perl client refused), tracing through node:diagnostics_channel (events in order with
// their context, nothing published while nobody listens), stats() counted exactly, and the debug
// log (bounded, escaped, one line per message).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import dc from "node:diagnostics_channel";
import process from "node:process";
import {
  type AuthorizeRequest,
  IkcClient,
  type IkcClientOptions,
  IkcServer,
  type IkcServerOptions,
  RemoteError,
  SubscriptionError,
} from "../mod.ts";
import { perlMissing } from "./helpers/perl.ts";
import { startPerlClient, stopAllPerlClients } from "./helpers/perl-client.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { DEBUG_LINE_MAX } from "../src/kernel/debug-log.ts";

const perlSkip = perlMissing("POE", "POE::Filter::Reference");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A server publishing `calc` (add, fail, record) with `options`; `ran` lists the states run. */
async function hub(options: IkcServerOptions = {}) {
  const ran: string[] = [];
  const errors: Error[] = [];
  const server = await IkcServer.listen({ port: 0, name: "Hub", ...options });
  server.on("error", (e) => errors.push(e));
  server.publish("calc", {
    add: (p) => (ran.push("add"), (p as number[]).reduce((a, b) => a + b, 0)),
    fail: () => {
      ran.push("fail");
      throw new Error("boom");
    },
    record: (p) => void ran.push(`record:${p}`),
    slow: (p) => void ran.push(`slow:${p}`),
    fast: (p) => void ran.push(`fast:${p}`),
  });
  return { server, ran, errors };
}

function client(server: IkcServer, options: IkcClientOptions = {}): IkcClient {
  const c = new IkcClient({ port: server.port, timeout: 5, ...options });
  c.onError(() => {});
  return c;
}

/** A kernel's name from its id (`Name-<time>-<pid>-<counter>`, as client and server ids are). */
const nameOf = (id: unknown) => String(id).replace(/-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/, "");

after(() => stopAllPerlClients());

describe("authorize", () => {
  const onlyGood = (r: AuthorizeRequest) => nameOf(r.peer.kernel) === "Good";

  test("refuses a call with a remote_error naming the request; the state never runs", async () => {
    const asked: AuthorizeRequest[] = [];
    const { server, ran, errors } = await hub({ authorize: (r) => (asked.push(r), onlyGood(r)) });
    const bad = client(server, { name: "Bad" });
    const good = client(server, { name: "Good" });
    try {
      const err = await bad.call("calc/add", [1, 2]).then(() => assert.fail("answered"), (e) => e);
      assert.ok(err instanceof RemoteError);
      assert.match(
        err.message,
        /Not authorized: kernel 'Bad[^']*' may not call calc\/add\. {2}Request poe:\/\/Hub[^/]*\/calc\/add sent by poe:\/\/Bad[^/]*\/IKCLite/,
      );
      assert.equal(await good.call("calc/add", [1, 2]), 3);
      assert.deepEqual(ran, ["add"]);
      assert.deepEqual(asked.map((r) => [r.kind, r.session, r.state, nameOf(r.peer.kernel)]), [
        ["call", "calc", "add", "Bad"],
        ["call", "calc", "add", "Good"],
      ]);
      assert.ok(errors.some((e) => /Not authorized/.test(e.message)), "the refusal is reported");
      assert.equal(server.stats().states.refused, 1);
    } finally {
      await bad.disconnect();
      await good.disconnect();
      await server.close();
    }
  });

  test("refuses a post (a remote_error goes back to the sender) and an unpublished state alike", async () => {
    const { server, ran, errors } = await hub({ authorize: onlyGood });
    const bad = client(server, { name: "Bad" });
    const heard: Error[] = [];
    bad.onError((e) => heard.push(e));
    try {
      await bad.post("calc/record", "x");
      // Unpublished: an unauthorized peer hears the same refusal, so nothing published is revealed.
      const err = await bad.call("nope/nothing", 1).then(() => assert.fail("answered"), (e) => e);
      assert.match(err.remoteMessage, /^Not authorized: kernel 'Bad[^']*' may not call nope\/nothing\./);
      await until("the post's remote_error", () => heard.length > 0);
      assert.match(heard[0].message, /Not authorized: kernel 'Bad[^']*' may not post calc\/record\./);
      assert.deepEqual(ran, []);
      assert.equal(errors.filter((e) => /Not authorized/.test(e.message)).length >= 1, true);
    } finally {
      await bad.disconnect();
      await server.close();
    }
  });

  test("asks about do_you_have by the session asked for, and answers the same for one that does not exist", async () => {
    const asked: AuthorizeRequest[] = [];
    const { server } = await hub({ authorize: (r) => (asked.push(r), r.session === "open") });
    server.publish("open", { hi: () => "hi" });
    const c = client(server, { name: "Sub" });
    try {
      const s = await c.subscribe("open");
      assert.equal(await s.call("hi"), "hi");
      const real = await c.subscribe("calc").then(() => assert.fail("subscribed"), (e) => e);
      const none = await c.subscribe("ghost").then(() => assert.fail("subscribed"), (e) => e);
      assert.match(real.remoteMessage, /^Not authorized: kernel 'Sub[^']*' may not subscribe calc\./);
      assert.match(none.remoteMessage, /^Not authorized: kernel 'Sub[^']*' may not subscribe ghost\./);
      assert.ok(real instanceof SubscriptionError && none instanceof SubscriptionError);
      assert.deepEqual(asked.filter((r) => r.kind === "subscribe").map((r) => r.session), ["open", "calc", "ghost"]);
      assert.equal(await c.ping(), true, "IKC/ping stays open");
      assert.ok(!asked.some((r) => r.state === "ping"));
    } finally {
      await c.disconnect();
      await server.close();
    }
  });

  test("an authorized IKC:proxy request reaches its state with its own args", async () => {
    const asked: AuthorizeRequest[] = [];
    const { server } = await hub({ authorize: (r) => (asked.push(r), true) });
    const seen: unknown[][] = [];
    server.publish("proxy", { look: (_p, ctx) => (seen.push([...ctx.args]), ctx.args.length) });
    const c = client(server, { name: "Proxied" });
    try {
      // [state, [ARG0, ARG1, ...]]: the state gets ARG0 = "x", as without an authorizer.
      assert.equal(await c.call("proxy/IKC:proxy", ["look", ["x", "y", "z"]]), 3);
      assert.deepEqual(seen, [["x", "y", "z"]]);
      assert.equal(asked.at(-1)!.state, "look");
    } finally {
      await c.disconnect();
      await server.close();
    }
  });

  test("an async answer keeps the order of one peer's requests", async () => {
    const { server, ran } = await hub({
      authorize: (r) => r.state === "slow" ? sleep(80).then(() => true) : true,
    });
    const c = client(server, { name: "Order" });
    try {
      await c.open();
      const posts = [c.post("calc/slow", 1), c.post("calc/fast", 2), c.post("calc/slow", 3), c.post("calc/fast", 4)];
      await Promise.all(posts);
      assert.equal(await c.call("calc/add", [1]), 1);
      assert.deepEqual(ran, ["slow:1", "fast:2", "slow:3", "fast:4", "add"]);
    } finally {
      await c.disconnect();
      await server.close();
    }
  });

  test("a throwing or rejecting authorize refuses, and is reported", async () => {
    let n = 0;
    const { server, ran, errors } = await hub({
      authorize: () => {
        if (++n === 1) throw new Error("rules unreadable");
        return Promise.reject(new Error("rules gone"));
      },
    });
    const c = client(server, { name: "Any" });
    try {
      for (let i = 0; i < 2; i++) {
        const err = await c.call("calc/add", [1]).then(() => assert.fail("answered"), (e) => e);
        assert.match(err.remoteMessage, /^Not authorized: kernel 'Any[^']*' may not call calc\/add\./);
        assert.doesNotMatch(err.message, /rules/, "the peer is not told the local error");
      }
      assert.deepEqual(ran, []);
    } finally {
      await c.disconnect();
      await server.close();
    }
    // The second of a burst is folded into the summary that close() flushes.
    assert.ok(errors.some((e) => /authorize failed .*rules unreadable/.test(e.message)));
    assert.ok(errors.some((e) => /authorize failed .*rules gone/.test(e.message)));
  });

  test("an answer that never comes refuses within timeout; the peer's queue is bounded by maxInFlight", async () => {
    const { server, ran, errors } = await hub({ timeout: 0.3, maxInFlight: 2, authorize: () => new Promise(() => {}) });
    const c = client(server, { name: "Waiter" });
    try {
      await c.open();
      const calls = [1, 2, 3, 4].map((i) => c.call("calc/add", [i]).then(() => "answered", (e) => e.remoteMessage));
      const outcomes = await Promise.all(calls);
      // The first waits for its answer, two wait behind it, the fourth is refused at once.
      assert.match(outcomes[3], /has 2 requests waiting for authorization, the most maxInFlight allows/);
      for (const o of outcomes.slice(0, 3)) {
        assert.match(o, /^Not authorized: kernel 'Waiter[^']*' may not call calc\/add\./);
      }
      assert.deepEqual(ran, []);
    } finally {
      await c.disconnect();
      await server.close();
    }
    assert.ok(errors.some((e) => /authorize did not answer within 0.3 s/.test(e.message)));
  });

  test("a client's authorize guards the states it publishes", async () => {
    const server = await IkcServer.listen({ port: 0, name: "Hub" });
    server.on("error", () => {});
    const ran: string[] = [];
    const worker = client(server, { name: "Worker", authorize: (r) => r.state !== "secret" });
    worker.publish("w", { open: () => (ran.push("open"), 1), secret: () => (ran.push("secret"), 2) });
    try {
      await worker.open();
      await until("the worker", () => server.clients.length === 1);
      assert.equal(await server.call("poe://Worker/w/open"), 1);
      await assert.rejects(
        server.call("poe://Worker/w/secret"),
        /Not authorized: kernel 'Hub[^']*' may not call w\/secret/,
      );
      assert.deepEqual(ran, ["open"]);
    } finally {
      await worker.disconnect();
      await server.close();
    }
  });

  test("a real Perl client is refused, for calls and posts", { skip: perlSkip }, async () => {
    const { server, ran } = await hub({ authorize: (r) => r.peer.kernel !== "PerlBad" || r.state === "add" });
    const perl = await startPerlClient({ port: server.port, name: "PerlBad" });
    try {
      const refused = await perl.step({ op: "call", spec: "calc/fail", params: 1 });
      assert.match(
        String(refused.remote_error),
        /^Not authorized: kernel 'PerlBad' may not call calc\/fail\. {2}Request poe:\/\/Hub[^/]*\/calc\/fail sent by poe:\/\/PerlBad\/IKCLite$/,
      );
      assert.deepEqual(await perl.step({ op: "post", spec: "calc/record", params: "p" }), { posted: 1 });
      const posted = await perl.step({ op: "wait", state: "remote_error", session: "IKC", timeout: 5 });
      assert.match(
        String(posted.message?.params?.[0]),
        /^Not authorized: kernel 'PerlBad' may not post calc\/record\. {2}Request poe:\/\/Hub[^/]*\/calc\/record sent by poe:\/\/PerlBad\/IKCLite$/,
        JSON.stringify(posted),
      );
      assert.deepEqual(await perl.step({ op: "call", spec: "calc/add", params: [2, 3] }), { result: 5 });
      assert.deepEqual(ran, ["add"]);
    } finally {
      await perl.stop();
      await server.close();
    }
  });

  test("a bad authorize option is a TypeError", async () => {
    await assert.rejects(IkcServer.listen({ port: 0, authorize: 1 as never }), TypeError);
    assert.throws(() => new IkcClient({ debug: "yes" as never }), TypeError);
  });
});

/** Collects every event of the tracing channel `name` and the plain channels, until `off()`. */
function collect(names: string[]) {
  const events: Array<[string, Record<string, unknown>]> = [];
  const offs: Array<() => void> = [];
  for (const name of names) {
    if (name.startsWith("ikc:") && !["ikc:connect", "ikc:disconnect", "ikc:drop"].includes(name)) {
      const handlers: Record<string, (m: unknown) => void> = {};
      for (const ev of ["start", "end", "asyncStart", "asyncEnd", "error"]) {
        handlers[ev] = (m) => events.push([`${name}:${ev}`, { ...(m as Record<string, unknown>) }]);
      }
      const tc = dc.tracingChannel(name);
      tc.subscribe(handlers as never);
      offs.push(() => tc.unsubscribe(handlers as never));
    } else {
      const h = (m: unknown) => events.push([name, m as Record<string, unknown>]);
      dc.subscribe(name, h);
      offs.push(() => dc.unsubscribe(name, h));
    }
  }
  return { events, off: () => offs.forEach((f) => f()) };
}

describe("tracing", () => {
  test("a call is traced on both ends, in order, with its context", async () => {
    const { server } = await hub();
    const c = client(server, { name: "Tracer" });
    await c.open();
    const t = collect(["ikc:request", "ikc:state"]);
    try {
      assert.equal(await c.call("calc/add", [1, 2]), 3);
      await assert.rejects(c.call("calc/fail", 0), RemoteError);
    } finally {
      t.off();
      await c.disconnect();
      await server.close();
    }
    const ok = t.events.slice(0, 6);
    assert.deepEqual(ok.map(([n]) => n), [
      "ikc:request:start",
      "ikc:request:end",
      "ikc:state:start",
      "ikc:state:end",
      "ikc:state:asyncStart",
      "ikc:state:asyncEnd",
    ]);
    const req = ok[0][1];
    assert.deepEqual([req.kind, req.target, nameOf(req.kernel), req.remoteKernel], [
      "call",
      "calc/add",
      "Tracer",
      server.id,
    ]);
    const st = ok[2][1];
    assert.deepEqual([st.kind, st.session, st.state, st.kernel, nameOf(st.peer)], [
      "call",
      "calc",
      "add",
      server.id,
      "Tracer",
    ]);
    assert.equal(ok[4][1].result, 3);
    const rest = t.events.slice(6);
    const names = rest.map(([n]) => n);
    assert.deepEqual(names.slice(0, 2), ["ikc:request:asyncStart", "ikc:request:asyncEnd"]);
    assert.equal(rest[0][1].result, 3);
    // The failing call: the state throws synchronously (error, end), the request fails with a RemoteError.
    assert.deepEqual(names.slice(2), [
      "ikc:request:start",
      "ikc:request:end",
      "ikc:state:start",
      "ikc:state:error",
      "ikc:state:end",
      "ikc:request:error",
      "ikc:request:asyncStart",
      "ikc:request:asyncEnd",
    ]);
    assert.ok(rest.find(([n]) => n === "ikc:request:error")![1].error instanceof RemoteError);
  });

  test("a request that fails before it is written ends its synchronous part first", async () => {
    const { server } = await hub();
    const c = client(server, { name: "Early" });
    await c.open();
    const t = collect(["ikc:request"]);
    try {
      await assert.rejects(c.call("calc/add", [Symbol("unfreezable")] as never));
    } finally {
      t.off();
      await c.disconnect();
      await server.close();
    }
    assert.deepEqual(t.events.map(([n]) => n), [
      "ikc:request:start",
      "ikc:request:end",
      "ikc:request:error",
      "ikc:request:asyncStart",
      "ikc:request:asyncEnd",
    ]);
  });

  test("connect, disconnect and drop are published", async () => {
    const { server } = await hub({ maxFrameSize: 64 });
    const t = collect(["ikc:connect", "ikc:disconnect", "ikc:drop"]);
    const c = client(server, { name: "Comer" });
    try {
      await c.open();
      await until("the server's connect", () => t.events.filter(([n]) => n === "ikc:connect").length === 2);
      await c.call("calc/add", new Array(100).fill(1)).catch(() => {}); // a frame over maxFrameSize: dropped
      await until("the drop", () => t.events.some(([n]) => n === "ikc:drop"));
      await until("both disconnects", () => t.events.filter(([n]) => n === "ikc:disconnect").length === 2);
    } finally {
      t.off();
      await c.disconnect();
      await server.close();
    }
    const connects = t.events.filter(([n]) => n === "ikc:connect").map(([, m]) => m);
    assert.deepEqual(connects.map((m) => nameOf(m.kernel)).sort(), ["Comer", nameOf(server.id)].sort());
    const drop = t.events.find(([n]) => n === "ikc:drop")![1];
    assert.equal(drop.kernel, server.id);
    assert.equal(nameOf(drop.peer), "Comer");
    assert.match((drop.reason as Error).message, /frame/);
  });

  test("nothing is published, nor any context built, while nobody listens", async () => {
    const { server } = await hub();
    const c = client(server, { name: "Quiet" });
    const names = ["start", "end", "asyncStart", "asyncEnd", "error"].flatMap((e) => [
      `tracing:ikc:request:${e}`,
      `tracing:ikc:state:${e}`,
    ]);
    let published = 0;
    const restore: Array<() => void> = [];
    for (const n of names) {
      const ch = dc.channel(n) as unknown as { publish(m: unknown): void };
      const orig = ch.publish;
      ch.publish = function (m: unknown) {
        published++;
        return orig.call(this, m);
      };
      restore.push(() => delete (ch as { publish?: unknown }).publish);
    }
    try {
      for (let i = 0; i < 20; i++) await c.call("calc/add", [i]);
      await c.post("calc/record", 1);
      assert.equal(published, 0);
      // The spy sees publishing once something listens: the assertion above can fail.
      const t = collect(["ikc:request"]);
      await c.call("calc/add", [1]);
      t.off();
      assert.equal(published, 4);
    } finally {
      restore.forEach((f) => f());
      await c.disconnect();
      await server.close();
    }
  });
});

describe("stats", () => {
  test("counts requests, states, bytes and connections exactly", async () => {
    const { server } = await hub();
    const c = client(server, { name: "Counter" });
    try {
      assert.equal(await c.call("calc/add", [1, 2]), 3);
      assert.equal(await c.call("calc/add", [3]), 3);
      await c.post("calc/record", "r");
      await assert.rejects(c.call("calc/fail", 0), RemoteError);
      await assert.rejects(c.call("calc/absent", 0), RemoteError);
      assert.equal(await c.ping(), true);
      await c.disconnect();
      await c.call("calc/add", [5]); // connects again
      await c.disconnect();
      await until("the server to see both go", () => server.stats().clients.now === 0);
      const cs = c.stats();
      const ss = server.stats();
      assert.deepEqual(cs.requests, { sent: 7, answered: 5, failed: 2 });
      assert.deepEqual(ss.states, { run: 6, failed: 1, refused: 1 }); // add, add, record, fail, ping, add
      assert.deepEqual(cs.states, { run: 0, failed: 0, refused: 0 });
      assert.equal(cs.reconnects, 1);
      assert.deepEqual(cs.connections, { now: 0, total: 2 });
      assert.deepEqual(ss.clients, { now: 0, total: 2 });
      assert.ok(cs.bytes.out > 0 && cs.bytes.in > 0);
      // Every byte one end wrote, the other read: negotiation and frames alike.
      assert.equal(ss.bytes.in, cs.bytes.out);
      assert.equal(ss.bytes.out, cs.bytes.in);
    } finally {
      await c.disconnect();
      await server.close();
    }
  });
});

describe("debug", () => {
  test("one bounded, escaped line per negotiation line and per message", async () => {
    const lines: string[] = [];
    const { server } = await hub({ debug: (l) => lines.push(l) });
    const raw = await RawClient.connect(server.port!, "Raw");
    try {
      await raw.send({
        event: `poe://${raw.server}/calc/add\n[ikc Hub] forged line`,
        params: ["x\ny".repeat(100_000)],
        from: { kernel: "Raw\r\n[ikc Hub] forged", session: "IKCLite" },
        rsvp: { kernel: "Raw", session: "IKCLite", state: "r1" },
      });
      const answer = await raw.next();
      assert.ok(answer, "an answer (a remote_error)");
    } finally {
      await raw.close();
      await server.close();
    }
    const received = lines.filter((l) => / < /.test(l));
    assert.ok(received.some((l) => /< SETUP KERNEL=Raw;FREEZER=Storable/.test(l)), lines.join("\n"));
    const msg = received.find((l) => /bytes: /.test(l));
    assert.ok(msg, lines.join("\n"));
    assert.match(msg, /calc\/add\\n\[ikc Hub\] forged line/);
    assert.ok(lines.some((l) => / > \d+ bytes: /.test(l)), "the answer sent is logged");
    for (const l of lines) {
      assert.ok(!/[\r\n]/.test(l), `one line: ${JSON.stringify(l)}`);
      assert.ok(l.length <= DEBUG_LINE_MAX + 3, `bounded: ${l.length}`);
    }
  });

  test("IKC_DEBUG=1 logs to stderr", async () => {
    const before = process.env.IKC_DEBUG;
    const orig = console.error;
    const seen: string[] = [];
    process.env.IKC_DEBUG = "1";
    console.error = (...a: unknown[]) => void seen.push(a.join(" "));
    try {
      const { server } = await hub({ debug: false });
      const c = new IkcClient({ port: server.port, name: "EnvDebug", timeout: 5 });
      try {
        assert.equal(await c.call("calc/add", [1]), 1);
      } finally {
        await c.disconnect();
        await server.close();
      }
    } finally {
      console.error = orig;
      if (before === undefined) delete process.env.IKC_DEBUG;
      else process.env.IKC_DEBUG = before;
    }
    assert.ok(seen.some((l) => l.startsWith("[ikc EnvDebug-") && / > SETUP KERNEL=EnvDebug/.test(l)), seen.join("\n"));
    assert.ok(!seen.some((l) => l.startsWith("[ikc Hub")), "debug: false wins over IKC_DEBUG");
  });
});

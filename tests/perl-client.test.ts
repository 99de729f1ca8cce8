// Real Perl IKC clients (tests/perl/ikc-client.pl, on POE's own wheels and filters, with
// Storable, FreezeThaw and POE::Component::IKC::Freezer) against our TypeScript server, over
// IKC0 and classic IKC, TCP and a Unix socket: negotiation, calls in both contexts, posts,
// post_respond, ping, remote errors in the Perl Responder's words, states that throw, the server
// calling and posting into the Perl client, states calling back into it mid-request, monitors,
// and several clients at once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IkcServer, type PeerInfo, type PerlValue, RemoteError, type StateContext, TimeoutError } from "../mod.ts";
import { perlMissing } from "./helpers/perl.ts";
import { type PerlClient, type PerlClientOptions, startPerlClient, stopAllPerlClients } from "./helpers/perl-client.ts";

const skip = perlMissing("POE", "POE::Filter::Reference");
const ftSkip = skip || perlMissing("POE", "POE::Filter::Reference", "FreezeThaw");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const FREEZERS = [
  { freezer: "Storable", tag: "st" },
  { freezer: "FreezeThaw", tag: "ft" },
  { freezer: "POE::Component::IKC::Freezer", tag: "dd" },
] as const;
const PROTOCOLS = ["IKC0", "IKC"] as const;

interface Seen {
  state: string;
  params: PerlValue;
  ctx: StateContext;
}

/**
 * A server with the states every test block uses; `seen` records each request a state ran for,
 * `posted` what `t/record` was given.
 */
async function hub(extra: { path?: string } = {}) {
  const seen: Seen[] = [];
  const posted: Seen[] = [];
  const errors: Error[] = [];
  const connects: PeerInfo[] = [];
  const disconnects: Array<{ peer: PeerInfo; reason?: Error }> = [];
  const server = await IkcServer.listen(
    extra.path !== undefined
      ? { path: extra.path, name: "TsHub", aliases: ["hub", "hub2"] }
      : { port: 0, name: "TsHub", aliases: ["hub", "hub2"] },
  );
  server.on("error", (e) => errors.push(e));
  server.on("connect", (p) => connects.push(p));
  server.on("disconnect", (peer, reason) => disconnects.push({ peer, reason }));
  const rec = (state: string, params: PerlValue, ctx: StateContext) => seen.push({ state, params, ctx });
  server.publish("t", {
    echo: (p, ctx) => (rec("echo", p, ctx), p),
    add: (p, ctx) => (rec("add", p, ctx), (p as PerlValue[]).reduce((a: number, b) => a + Number(b), 0)),
    context: (p, ctx) => (rec("context", p, ctx), ctx.context),
    nul: (p, ctx) => (rec("nul", p, ctx), null),
    nothing: (p, ctx) => void rec("nothing", p, ctx),
    record: (p, ctx) => void posted.push({ state: "record", params: p, ctx }),
    whoami: (p, ctx) => (rec("whoami", p, ctx), ctx.kernel),
    slow: async (p, ctx) => {
      rec("slow", p, ctx);
      await sleep(500);
      return p;
    },
    later: (p, ctx) => {
      rec("later", p, ctx);
      const [n, rsvp] = p as [PerlValue, { kernel: string; session: string; state: string }];
      // answers after returning, as a Perl state posting to the rsvp later does
      setTimeout(() => void ctx.post(rsvp, { doubled: Number(n) * 2 }).catch((e) => errors.push(e)), 100);
      return undefined;
    },
    boom: (p, ctx) => {
      rec("boom", p, ctx);
      throw new Error(`kaboom ${String(p)}`);
    },
    asyncboom: async (p, ctx) => {
      rec("asyncboom", p, ctx);
      await sleep(10);
      throw new Error("async kaboom");
    },
    roundtrip: async (p, ctx) => {
      rec("roundtrip", p, ctx);
      const echo = await ctx.call("perlside/echo", p);
      const sum = await ctx.call("perlside/add", [1, 2, 3, 4]);
      const list = await ctx.call("perlside/context", null, { context: "list" });
      return { echo, sum, list };
    },
    nested: async (p, ctx) => {
      rec("nested", p, ctx);
      return await ctx.call("perlside/nope", p, { timeout: 5 });
    },
    tryback: async (p, ctx) => {
      rec("tryback", p, ctx);
      try {
        await ctx.call("perlside/nope", p, { timeout: 5 });
        return "no error";
      } catch (e) {
        return e instanceof RemoteError ? `RemoteError: ${e.remoteMessage}` : `other: ${String(e)}`;
      }
    },
  });
  return { server, seen, posted, errors, connects, disconnects };
}

for (const protocol of PROTOCOLS) {
  for (const { freezer, tag } of FREEZERS) {
    const ft = freezer === "FreezeThaw";
    /** A number as it arrives through this freezer: FreezeThaw has no number type. */
    const num = (n: number): number | string => (ft ? String(n) : n);
    const name = `pl_${protocol}_${tag}`;

    describe(
      `Perl client (${protocol}, ${freezer}) against the TypeScript server`,
      { skip: ft ? ftSkip : skip },
      () => {
        let h: Awaited<ReturnType<typeof hub>>;
        let c: PerlClient;
        const last = (state: string) => h.seen.filter((s) => s.state === state).at(-1);

        before(async () => {
          h = await hub();
          c = await startPerlClient({
            port: h.server.port,
            protocol,
            freezer,
            name,
            aliases: [`${name}_a`],
            timeout: 5,
          });
        });
        after(async () => {
          await c?.stop();
          await h?.server.close({ timeout: 1 });
        });

        test("negotiates: protocol, freezer, the server's id, name and aliases; connect monitor and clients", async () => {
          assert.equal(c.negotiated.protocol, protocol);
          assert.equal(c.negotiated.freezer, freezer);
          assert.equal(c.negotiated.remote[0], h.server.id);
          for (const n of [h.server.id, "TsHub", "hub", "hub2"]) {
            assert.ok(c.negotiated.remote.includes(n), `remote names ${c.negotiated.remote} lack ${n}`);
          }
          await until("the connect monitor", () => h.connects.length > 0);
          assert.equal(h.connects.length, 1);
          const peer = h.connects[0];
          assert.equal(peer.kernel, name);
          assert.deepEqual([...peer.aliases].sort(), [name, `${name}_a`].sort());
          assert.equal(peer.protocol, protocol);
          assert.equal(peer.freezer, freezer);
          const clients = h.server.clients;
          assert.equal(clients.length, 1);
          assert.equal(clients[0].kernel, name);
          assert.equal(clients[0].protocol, protocol);
          assert.equal(clients[0].freezer, freezer);
        });

        test("call in scalar context: the state's result; what the state received", async () => {
          const sent = [1, 2.5, "two", [3], { k: "v", n: 7 }, null, "é", "€"];
          const r = await c.step({ op: "call", spec: "t/echo", params: sent });
          // Storable (network order) and Data::Dumper send 2.5 as the string '2.5'; FreezeThaw every number
          const received = [
            num(1),
            "2.5",
            "two",
            [num(3)],
            { k: "v", n: num(7) },
            null,
            ft ? new Uint8Array([0xe9]) : "é",
            "€",
          ];
          const got = last("echo")!;
          assert.deepEqual(got.params, received);
          assert.equal(got.ctx.context, "scalar");
          assert.equal(got.ctx.kernel, name);
          assert.equal(got.ctx.wantsAnswer, true);
          assert.deepEqual(got.ctx.from, { kernel: name, session: "IKCLite" });
          const rsvpState = got.ctx.rsvp?.state ?? "";
          assert.deepEqual(got.ctx.rsvp, { kernel: name, session: "IKCLite", state: rsvpState });
          assert.match(rsvpState, /^response\d+$/);
          assert.deepEqual(r, { result: [num(1), "2.5", "two", [num(3)], { k: "v", n: num(7) }, null, "é", "€"] });

          assert.deepEqual(await c.step({ op: "call", spec: "t/add", params: [1, 2, 3] }), { result: num(6) });
          assert.deepEqual(last("add")!.params, [num(1), num(2), num(3)]);
          assert.deepEqual(await c.step({ op: "call", spec: "t/context" }), { result: "scalar" });
          // a JS null is answered, as undef
          assert.deepEqual(await c.step({ op: "call", spec: "t/nul", timeout: 3 }), { result: null });
          // by an alias of the server and by its id
          assert.deepEqual(await c.step({ op: "call", spec: "poe://hub/t/whoami" }), { result: name });
          assert.deepEqual(await c.step({ op: "call", spec: `poe://${h.server.id}/t/echo`, params: "x" }), {
            result: "x",
          });
          // a hashref event
          assert.deepEqual(
            await c.step({ op: "call", spec: { kernel: "TsHub", session: "t", state: "echo" }, params: "hash" }),
            { result: "hash" },
          );
        });

        test("call in list context: an array is the list, anything else a one-element list", async () => {
          assert.deepEqual(await c.step({ op: "call", spec: "t/echo", params: [1, "b", [2]], context: "list" }), {
            result: [num(1), "b", [num(2)]],
          });
          assert.equal(last("echo")!.ctx.context, "list");
          assert.deepEqual(await c.step({ op: "call", spec: "t/add", params: [4, 5], context: "list" }), {
            result: [num(9)],
          });
          assert.deepEqual(await c.step({ op: "call", spec: "t/echo", params: "one", context: "list" }), {
            result: ["one"],
          });
          assert.deepEqual(await c.step({ op: "call", spec: "t/context", context: "list" }), { result: ["list"] });
          assert.deepEqual(await c.step({ op: "call", spec: "t/nul", context: "list" }), { result: [null] });
        });

        test("a state returning undefined sends no answer: the call times out (scalar and list)", async () => {
          const before = h.seen.filter((s) => s.state === "nothing").length;
          for (const context of ["scalar", "list"]) {
            const t0 = Date.now();
            assert.deepEqual(
              await c.step({ op: "call", spec: "t/nothing", params: context, context, timeout: 0.3 }, 5000),
              { timeout: 1 },
            );
            assert.ok(Date.now() - t0 < 3000, `the 0.3 s step took ${Date.now() - t0} ms`);
          }
          // the state did run, twice
          assert.equal(h.seen.filter((s) => s.state === "nothing").length, before + 2);
          assert.deepEqual(h.seen.filter((s) => s.state === "nothing").slice(-2).map((s) => s.params), [
            "scalar",
            "list",
          ]);
          // and nothing late turns up: the next call gets its own answer
          assert.deepEqual(await c.step({ op: "call", spec: "t/echo", params: "after" }), { result: "after" });
        });

        test("post: the state sees it, with no rsvp", async () => {
          const n = h.posted.length;
          assert.deepEqual(await c.step({ op: "post", spec: "t/record", params: { n: 1, tag: "first" } }), {
            posted: 1,
          });
          assert.deepEqual(await c.step({ op: "post", spec: "poe://hub2/t/record", params: [2, "second"] }), {
            posted: 1,
          });
          await until("both posts", () => h.posted.length >= n + 2);
          const [a, b] = h.posted.slice(n);
          assert.deepEqual(a.params, { n: num(1), tag: "first" });
          assert.deepEqual(b.params, [num(2), "second"]);
          assert.equal(a.ctx.wantsAnswer, false);
          assert.equal(a.ctx.rsvp, undefined);
          assert.deepEqual(a.ctx.from, { kernel: name, session: "IKCLite" });
          assert.equal(a.ctx.kernel, name);
          // a post that cannot be delivered, or whose state throws, still gets a remote_error (as
          // Perl's Responder sends one, rsvp or not); the client keeps it for a wait
          const id = h.server.id;
          assert.deepEqual(await c.step({ op: "post", spec: "t/missing", params: "p" }), { posted: 1 });
          const w1 = await c.step({ op: "wait", session: "IKC", state: "remote_error", timeout: 3 });
          assert.deepEqual(w1.message?.event, { kernel: name, session: "IKC", state: "remote_error" });
          assert.deepEqual(w1.message?.params, [
            `Session 't' has not published state 'missing'.  Request poe://${id}/t/missing sent by poe://${name}/IKCLite`,
            id,
            "check",
          ]);
          assert.deepEqual(await c.step({ op: "post", spec: "t/boom", params: "posted" }), { posted: 1 });
          const w2 = await c.step({ op: "wait", session: "IKC", state: "remote_error", timeout: 3 });
          assert.deepEqual(w2.message?.params, [
            `State 't/boom' failed: kaboom posted.  Request poe://${id}/t/boom sent by poe://${name}/IKCLite`,
            id,
            "invocation",
          ]);
          assert.deepEqual(await c.step({ op: "call", spec: "t/echo", params: "still fine" }), {
            result: "still fine",
          });
        });

        test("post_respond: the state answers later by posting to the rsvp in its params", async () => {
          const r = await c.step({ op: "post_respond", spec: "t/later", params: 21, timeout: 5 });
          assert.deepEqual(r, { result: { doubled: num(42) } });
          const got = last("later")!;
          const [n, rsvp] = got.params as [PerlValue, PerlValue];
          assert.equal(n, num(21));
          assert.deepEqual(rsvp, { kernel: name, session: "IKCLite", state: (rsvp as { state: string }).state });
          assert.match((rsvp as { state: string }).state, /^response\d+$/);
          assert.equal(got.ctx.wantsAnswer, false);
        });

        test("ping is answered PONG", async () => {
          assert.deepEqual(await c.step({ op: "ping", timeout: 3 }), { result: "PONG" });
        });

        test("remote_error for an unknown session and an unpublished state, in the Perl Responder's words", async () => {
          const id = h.server.id;
          assert.deepEqual(await c.step({ op: "call", spec: "nope/x", params: 1 }), {
            remote_error:
              `Session 'nope' is not available for remote kernels.  Request poe://${id}/nope/x sent by poe://${name}/IKCLite`,
          });
          assert.deepEqual(await c.step({ op: "call", spec: "t/missing", params: 1, context: "list" }), {
            remote_error:
              `Session 't' has not published state 'missing'.  Request poe://${id}/t/missing sent by poe://${name}/IKCLite`,
          });
          assert.deepEqual(await c.step({ op: "post_respond", spec: "t/missing2", params: 1 }), {
            remote_error:
              `Session 't' has not published state 'missing2'.  Request poe://${id}/t/missing2 sent by poe://${name}/IKCLite`,
          });
          // the server goes on
          assert.deepEqual(await c.step({ op: "ping" }), { result: "PONG" });
        });

        test("a state that throws: remote_error with its message, and the server answers the next call", async () => {
          const id = h.server.id;
          // refusals of one kind within a second are folded into one report: start a fresh burst
          await sleep(1100);
          const errs = h.errors.length;
          assert.deepEqual(await c.step({ op: "call", spec: "t/boom", params: 7 }), {
            remote_error: `State 't/boom' failed: kaboom 7.  Request poe://${id}/t/boom sent by poe://${name}/IKCLite`,
          });
          assert.deepEqual(await c.step({ op: "call", spec: "t/add", params: [1, 1] }), { result: num(2) });
          assert.deepEqual(await c.step({ op: "call", spec: "t/asyncboom", context: "list" }), {
            remote_error:
              `State 't/asyncboom' failed: async kaboom.  Request poe://${id}/t/asyncboom sent by poe://${name}/IKCLite`,
          });
          assert.deepEqual(await c.step({ op: "call", spec: "t/echo", params: "alive" }), { result: "alive" });
          // the server tells its own error handlers too, the first of a burst at once
          assert.ok(
            h.errors.slice(errs).some((e) =>
              e instanceof RemoteError && e.message.includes("State 't/boom' failed: kaboom 7")
            ),
            h.errors.map((e) => e.message).join("\n"),
          );
          assert.equal(h.server.clients.length, 1);
        });

        test("the server calls and posts into the Perl client's published states", async () => {
          const target = (s: string) => `poe://${name}/perlside/${s}`;
          // publish perlside and answer requests: the step ends after 4 requests
          c.send({ op: "serve", publish: { perlside: ["echo", "add", "context"] }, seconds: 10, count: 4 });
          // until the serve step ran, perlside is not published and the probe is refused
          let probe: PerlValue | undefined;
          const t0 = Date.now();
          for (;;) {
            try {
              probe = await h.server.call(target("echo"), "probe", { timeout: 3 });
              break;
            } catch (e) {
              assert.ok(e instanceof RemoteError, String(e));
              assert.equal(
                e.remoteMessage,
                `Session 'perlside' is not available for remote kernels.  Request poe://${name}/perlside/echo sent by poe://${h.server.id}/IKC`,
              );
              if (Date.now() - t0 > 5000) throw e;
              await sleep(20);
            }
          }
          assert.equal(probe, "probe");
          assert.equal(await h.server.call(target("add"), [1, 2, 3]), num(6));
          assert.deepEqual(
            await h.server.call(`poe://${name}_a/perlside/echo`, ["via", "alias"], { context: "list" }),
            [["via", "alias"]],
          );
          await h.server.post(target("echo"), "posted");
          // the post was the fourth request: the serve step ends with it
          assert.deepEqual(await c.answer(8000), { served: 4 });
          // a post to a state it has not published: refused, and the client keeps what it got
          await h.server.post(target("nope"), { posted: [1, "x"] });
          const w = await c.step({ op: "wait", session: "perlside", state: "nope", timeout: 3 });
          assert.deepEqual(w, {
            message: {
              event: `poe://${name}/perlside/nope`,
              params: { posted: [num(1), "x"] },
              from: { kernel: h.server.id, session: "IKC" },
            },
          });
          // still published after the step: answered between steps too
          assert.deepEqual(await h.server.call(target("context"), null, { context: "list" }), ["list"]);
          assert.equal(await h.server.call(target("context")), "scalar");
          // an unpublished state of a published session, in the words of the Perl client
          await assert.rejects(h.server.call(target("nope"), 1, { timeout: 3 }), (e: unknown) => {
            assert.ok(e instanceof RemoteError);
            assert.equal(
              e.remoteMessage,
              `Session 'perlside' has not published state 'nope'.  Request poe://${name}/perlside/nope sent by poe://${h.server.id}/IKC`,
            );
            return true;
          });
        });

        test("a state calls back into the Perl client during a request (ctx.call) while the client's call waits", async () => {
          // perlside is published (by the previous test's serve step; again here so this test stands alone)
          assert.deepEqual(
            await c.step({ op: "serve", publish: { perlside: ["echo", "add", "context"] }, seconds: 0.01 }),
            { served: 0 },
          );
          const r = await c.step(
            { op: "call", spec: "t/roundtrip", params: { hello: "perl", n: 5 }, timeout: 8 },
            12000,
          );
          const n5 = num(5);
          assert.deepEqual(r, { result: { echo: { hello: "perl", n: ft ? "5" : 5 }, sum: num(10), list: ["list"] } });
          assert.deepEqual(last("roundtrip")!.params, { hello: "perl", n: n5 });
          // in list context too, and a refused callback reaches the state as a RemoteError
          const r2 = await c.step({ op: "call", spec: "t/tryback", params: 1, context: "list", timeout: 8 }, 12000);
          assert.deepEqual(r2, {
            result: [
              `RemoteError: Session 'perlside' has not published state 'nope'.  Request poe://${name}/perlside/nope sent by poe://${h.server.id}/t/IKC:proxy`,
            ],
          });
          // uncaught, the refused callback fails the state: the error names both requests, ours last
          const r3 = await c.step({ op: "call", spec: "t/nested", params: 2, timeout: 8 }, 12000);
          const text = String(r3.remote_error);
          assert.ok(text.startsWith("State 't/nested' failed: "), text);
          assert.ok(
            text.includes(
              `Session 'perlside' has not published state 'nope'.  Request poe://${name}/perlside/nope sent by poe://${h.server.id}/t/IKC:proxy`,
            ),
            text,
          );
          assert.ok(text.endsWith(`.  Request poe://${h.server.id}/t/nested sent by poe://${name}/IKCLite`), text);
          assert.deepEqual(await c.step({ op: "call", spec: "t/echo", params: "next" }), { result: "next" });
        });

        test("quit: the disconnect monitor fires with the client's name; clients is empty", async () => {
          assert.deepEqual(await c.step({ op: "quit" }), { quit: 1 });
          await until("the disconnect monitor", () => h.disconnects.length > 0);
          assert.equal(h.disconnects.length, 1);
          assert.equal(h.disconnects[0].peer.kernel, name);
          assert.equal(h.disconnects[0].peer.protocol, protocol);
          await until("clients to empty", () => h.server.clients.length === 0);
          assert.equal(await c.exit, 0);
          await assert.rejects(h.server.call(`poe://${name}/perlside/echo`, 1, { timeout: 1 }), /no connected kernel/);
        });
      },
    );
  }
}

describe("several Perl clients at once", { skip: ftSkip }, () => {
  let h: Awaited<ReturnType<typeof hub>>;
  const clients: PerlClient[] = [];
  const specs: PerlClientOptions[] = [
    { name: "multi_a", protocol: "IKC0", freezer: "Storable", aliases: ["ma"] },
    { name: "multi_b", protocol: "IKC", freezer: "FreezeThaw", aliases: ["mb"] },
    { name: "multi_c", protocol: "IKC0", freezer: "POE::Component::IKC::Freezer", aliases: ["mc"] },
    { name: "multi_d", protocol: "IKC", freezer: "Storable", aliases: ["md"] },
  ];

  before(async () => {
    h = await hub();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await h?.server.close({ timeout: 1 });
  });

  test("connect together, run concurrent calls, are told apart, and leave one by one", async () => {
    clients.push(...await Promise.all(specs.map((s) => startPerlClient({ ...s, port: h.server.port, timeout: 5 }))));
    await until("four connect monitors", () => h.connects.length === 4);
    assert.deepEqual(h.connects.map((p) => p.kernel).sort(), specs.map((s) => s.name).sort());
    assert.deepEqual(h.server.clients.map((p) => p.kernel).sort(), specs.map((s) => s.name).sort());
    for (const c of clients) assert.equal(c.negotiated.remote[0], h.server.id);

    // each asks who it is, at the same time; the slow states (500 ms each) overlap
    const t0 = Date.now();
    const answers = await Promise.all(clients.map(async (c) => [
      await c.step({ op: "call", spec: "t/slow", params: c.name }),
      await c.step({ op: "call", spec: "t/whoami" }),
    ]));
    const elapsed = Date.now() - t0;
    assert.deepEqual(answers, clients.map((c) => [{ result: c.name }, { result: c.name }]));
    // one after the other they would take 2 s at least
    assert.ok(elapsed < 4 * 500 - 200, `the four 500 ms calls took ${elapsed} ms: not concurrent`);

    // the server reaches each by name and by alias
    await Promise.all(
      clients.map((c) => c.step({ op: "serve", publish: { perlside: ["echo", "add", "context"] }, seconds: 0.01 })),
    );
    for (const [i, c] of clients.entries()) {
      assert.equal(await h.server.call(`poe://${c.name}/perlside/echo`, c.name), c.name);
      assert.equal(
        await h.server.call(`poe://${specs[i].aliases![0]}/perlside/echo`, `alias of ${c.name}`),
        `alias of ${c.name}`,
      );
    }
    // a target without a kernel is ambiguous with four clients
    await assert.rejects(h.server.call("perlside/echo", 1), /names no kernel, and 4 are connected/);

    // a state calling back goes to the client that asked
    const rts = await Promise.all(
      clients.map((c) => c.step({ op: "call", spec: "t/roundtrip", params: c.name, timeout: 8 }, 12000)),
    );
    for (const [i, c] of clients.entries()) {
      const ft = specs[i].freezer === "FreezeThaw";
      assert.deepEqual(rts[i], { result: { echo: c.name, sum: ft ? "10" : 10, list: ["list"] } });
    }

    // they leave one at a time
    for (const [i, c] of clients.entries()) {
      assert.deepEqual(await c.step({ op: "quit" }), { quit: 1 });
      await until(`${c.name}'s disconnect`, () => h.disconnects.length === i + 1);
      assert.equal(h.disconnects[i].peer.kernel, c.name);
      await until(`${c.name} gone from clients`, () => h.server.clients.length === clients.length - i - 1);
      assert.ok(!h.server.clients.some((p) => p.kernel === c.name));
    }
  });
});

describe("a remote_error from one Perl client", { skip }, () => {
  let h: Awaited<ReturnType<typeof hub>>;
  const clients: PerlClient[] = [];
  before(async () => {
    h = await hub();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await h?.server.close({ timeout: 1 });
  });

  test("settles only the request sent to that client, not one to another client for the same state", async () => {
    const [a, b] = await Promise.all([
      startPerlClient({ port: h.server.port, name: "cross_a", timeout: 5 }),
      startPerlClient({ port: h.server.port, name: "cross_b", timeout: 5 }),
    ]);
    clients.push(a, b);
    // cross_a answers perlside/undef with nothing; cross_b has not published that state
    assert.deepEqual(await a.step({ op: "serve", publish: { perlside: ["echo", "undef"] }, seconds: 0.01 }), {
      served: 0,
    });
    assert.deepEqual(await b.step({ op: "serve", publish: { perlside: ["echo"] }, seconds: 0.01 }), { served: 0 });
    const t0 = Date.now();
    const toA = h.server.call("poe://cross_a/perlside/undef", 1, { timeout: 2 }).then(
      (v) => ({ value: v, ms: Date.now() - t0 }),
      (e: Error) => ({ error: e, ms: Date.now() - t0 }),
    );
    // make sure cross_a has the request before cross_b refuses its own
    assert.equal(await h.server.call("poe://cross_a/perlside/echo", "sync"), "sync");
    const toB = h.server.call("poe://cross_b/perlside/undef", 1, { timeout: 2 }).then(
      (v) => ({ value: v, ms: Date.now() - t0 }),
      (e: Error) => ({ error: e, ms: Date.now() - t0 }),
    );
    const [ra, rb] = await Promise.all([toA, toB]);
    const show = (r: { error?: Error; value?: PerlValue; ms: number }) =>
      `${r.error ? `${r.error.constructor.name}: ${r.error.message}` : JSON.stringify(r.value)} after ${r.ms} ms`;
    const both = `cross_a's call: ${show(ra)}; cross_b's call: ${show(rb)}`;
    // cross_b's refusal is the answer to the request sent to cross_b...
    assert.ok("error" in rb && rb.error instanceof RemoteError, both);
    assert.equal(
      (rb.error as RemoteError).remoteMessage,
      `Session 'perlside' has not published state 'undef'.  Request poe://cross_b/perlside/undef sent by poe://${h.server.id}/IKC`,
    );
    assert.ok(rb.ms < 1500, both);
    // ...while the one sent to cross_a, which never answers, times out
    assert.ok("error" in ra && ra.error instanceof TimeoutError, both);
  });
});

describe("a Perl client over a Unix socket", { skip }, () => {
  let h: Awaited<ReturnType<typeof hub>>;
  let dir: string;
  const started: PerlClient[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ikc-pc-"));
    h = await hub({ path: join(dir, "hub.sock") });
  });
  after(async () => {
    await Promise.all(started.map((c) => c.stop()));
    await h?.server.close({ timeout: 1 });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const protocol of PROTOCOLS) {
    test(`negotiates ${protocol}, calls, posts, pings, is called back, quits`, async () => {
      assert.equal(h.server.path, join(dir, "hub.sock"));
      assert.equal(h.server.port, undefined);
      const name = `unix_${protocol}`;
      const c = await startPerlClient({ path: h.server.path!, protocol, name, timeout: 5 });
      started.push(c);
      assert.equal(c.negotiated.protocol, protocol);
      assert.equal(c.negotiated.remote[0], h.server.id);
      assert.ok(c.negotiated.remote.includes("TsHub") && c.negotiated.remote.includes("hub"));
      await until("the connect monitor", () => h.connects.some((p) => p.kernel === name));
      assert.deepEqual(await c.step({ op: "call", spec: "t/add", params: [2, 3], context: "list" }), { result: [5] });
      assert.deepEqual(await c.step({ op: "ping" }), { result: "PONG" });
      const n = h.posted.length;
      assert.deepEqual(await c.step({ op: "post", spec: "t/record", params: "over unix" }), { posted: 1 });
      await until("the post", () => h.posted.length > n);
      assert.equal(h.posted[n].params, "over unix");
      assert.deepEqual(await c.step({ op: "call", spec: "t/missing" }), {
        remote_error:
          `Session 't' has not published state 'missing'.  Request poe://${h.server.id}/t/missing sent by poe://${name}/IKCLite`,
      });
      assert.deepEqual(
        await c.step({ op: "serve", publish: { perlside: ["echo", "add", "context"] }, seconds: 0.01 }),
        { served: 0 },
      );
      assert.equal(await h.server.call(`poe://${name}/perlside/add`, [1, 2, 3]), 6);
      assert.deepEqual(await c.step({ op: "call", spec: "t/roundtrip", params: "u", timeout: 8 }, 12000), {
        result: { echo: "u", sum: 10, list: ["list"] },
      });
      assert.deepEqual(await c.step({ op: "quit" }), { quit: 1 });
      await until("the disconnect monitor", () => h.disconnects.some((d) => d.peer.kernel === name));
      await until("clients to empty", () => h.server.clients.length === 0);
    });
  }
});

// Whatever failed above, no Perl process outlives this file.
after(async () => {
  await stopAllPerlClients();
});

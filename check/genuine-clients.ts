// OUR IkcServer against the GENUINE Perl clients: POE::Component::IKC::ClientLite and the full
// POE::Component::IKC::Client (with its Responder), plus the distribution's own test-lite,
// test-client and test-thunk programs. The other direction of check/genuine.ts.
//
// Not part of the test suite: the genuine code is not packaged anywhere CI installs from, so
// this runs only through scripts/check-genuine-clients.sh <checkout>, which sets
// IKC_GENUINE_LIB to a folder holding POE/Component/IKC/ClientLite.pm (and
// IKC_GENUINE_DRIVERS to the folder holding test-client, when the checkout has one). Without
// the lib every check here FAILS (never skips); without the drivers (a lib-only install) only the
// test-lite/test-client/test-thunk checks are reported as skipped.
//
//   deno test --allow-all check/genuine-clients.ts
//   bun test --timeout 60000 ./check/genuine-clients.ts
//   node --test .tmp/genuine-clients-dist/check/genuine-clients.js   (after tsc --outDir .tmp/genuine-clients-dist)
//
// Our server runs in this process; the Perl drivers check/genuine-lite.pl and
// check/genuine-ikc-client.pl (ours) run the genuine modules and print what they got as JSON
// lines. Every connection our server accepts is recorded byte for byte, so a failing check can
// say what went over the wire.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  IkcServer,
  type IkcServerOptions,
  type PeerInfo,
  RemoteError,
  type StateContext,
  type StateHandler,
  TimeoutError,
} from "../mod.ts";
import { repoPath } from "../tests/helpers/perl.ts";
import {
  CommandProc,
  frameFormat,
  FREEZERS,
  type J,
  latin1Text,
  parseStream,
  PerlProc,
  recordingTransport,
  requireLib,
  running,
  show,
  sleep,
  tempDir,
  textNumbers,
  thawFrame,
  waitFor,
  type Wire,
  wireText,
} from "./wire.ts";

const drivers = process.env.IKC_GENUINE_DRIVERS ?? "";
const LITE = repoPath("check/genuine-lite.pl");
const FULL = repoPath("check/genuine-ikc-client.pl");

// ------------------------------------------------------------------ our server

interface Seen {
  state: string;
  params: J;
  args: J[];
  from: J;
  rsvp: J;
  kernel: string;
  context: string;
  wantsAnswer: boolean;
}

interface Ours {
  server: IkcServer;
  wires: Wire[];
  seen: Seen[];
  connects: PeerInfo[];
  disconnects: Array<{ peer: PeerInfo; reason?: Error }>;
  errors: Error[];
  /** The states called `state`, in order. */
  calls(state: string): Seen[];
  /** Every recorded connection, as text. */
  wire(): string;
}

/** The `test` session every check publishes: what ClientLite, IKC::Client and the distribution's drivers expect. */
function testStates(o: () => Ours): Record<string, StateHandler> {
  const sum = (p: J) => (Array.isArray(p) ? p : []).reduce((a: number, b: J) => a + Number(b), 0);
  const backTo = (ctx: StateContext) => {
    // answer the sender the way a Perl state posting to $_[SENDER] does: through its `from`
    const f = ctx.from;
    assert.ok(f && f.kernel && f.state === "IKC:proxy", `no proxy from to answer: ${show(f)}`);
    return { kernel: f.kernel, session: f.session, state: "IKC:proxy" };
  };
  const states: Record<string, StateHandler> = {
    echo: (p) => p,
    add: (p) => sum(p),
    context: (_p, ctx) => ctx.context,
    list: (p) => p,
    undef: () => undefined,
    throws: () => {
      throw new Error("test/throws was called");
    },
    delayed: async (p) => {
      const [ms, v] = p as [number, J];
      await sleep(Number(ms));
      return v;
    },
    // post_respond: ARG0 is [params, rsvp]; params is [delay ms, value]
    respond: (p, ctx) => {
      const [args, rsvp] = p as [J, J];
      const [ms, v] = Array.isArray(args) ? args : [0, args];
      setTimeout(() => void ctx.post(rsvp, v).catch(() => {}), Number(ms));
      return undefined;
    },
    record: () => o().calls("record").length,
    recorded: () => o().calls("record").map((s) => s.params),
    whoami: (_p, ctx) => ({
      from: ctx.from ?? null,
      rsvp: ctx.rsvp ?? null,
      kernel: ctx.kernel,
      kernelAliases: [...ctx.kernelAliases],
      context: ctx.context,
      wantsAnswer: ctx.wantsAnswer ? 1 : 0,
      args: [...ctx.args],
    }),
    // from inside a state: back into the Perl kernel that asked
    ask_perl: async (p, ctx) => ({ via: "ctx.call", got: await ctx.call("perlside/echo", p) }),
    tell_perl: async (p, ctx) => {
      await ctx.post("perlside/note", p);
      return "told";
    },
    proxy_reply: async (p, ctx) => {
      await ctx.post(backTo(ctx), ["note", [p, "second"]]);
      return "proxied";
    },
    bounce: async (p, ctx) => ({ got: await ctx.call("perlside/reply_sender", ["pong_back", p, "x"]) }),
    pong_back: () => undefined,
    // test-lite (t/20_clientlite.t's server)
    fetchQ: () => 6 + 1,
    add_1: (p, ctx) => {
      const [n, rsvp] = p as [J, J];
      setTimeout(() => void ctx.post(rsvp, Number(n) + 1).catch(() => {}), 0);
      return undefined;
    },
    here: () => undefined,
    // test-client (t/10_server_client.t's server)
    posted: () => undefined,
    called: () => 1,
    method: (_p, ctx) => {
      const f = ctx.from!;
      void ctx.post(`poe://${f.kernel}/${f.session}/YOW`).catch(() => {});
      return undefined;
    },
    done: () => undefined,
    // test-thunk (t/32_thunk.t's server): answers go back through the thunk's `from`
    post1: (p, ctx) => void ctx.post(backTo(ctx), ["resp1", [p]]).catch(() => {}),
    post2: (p, ctx) => void ctx.post(backTo(ctx), ["resp2", Array.isArray(p) ? p : [p]]).catch(() => {}),
    post3: (p, ctx) => void ctx.post(backTo(ctx), ["resp3", [p]]).catch(() => {}),
  };
  const wrapped: Record<string, StateHandler> = {};
  for (const [name, h] of Object.entries(states)) {
    wrapped[name] = (p, ctx) => {
      o().seen.push({
        state: name,
        params: p,
        args: [...ctx.args],
        from: ctx.from,
        rsvp: ctx.rsvp,
        kernel: ctx.kernel,
        context: ctx.context,
        wantsAnswer: ctx.wantsAnswer,
      });
      return h(p, ctx);
    };
  }
  return wrapped;
}

async function ourServer(options: IkcServerOptions = {}): Promise<Ours> {
  const rec = recordingTransport();
  const server = await IkcServer.listen({
    port: 0,
    name: "Hub",
    aliases: ["HubAlias"],
    timeout: 10,
    closeTimeout: 1,
    ...options,
    transport: rec.transport,
  });
  const o: Ours = {
    server,
    wires: rec.wires,
    seen: [],
    connects: [],
    disconnects: [],
    errors: [],
    calls: (state) => o.seen.filter((s) => s.state === state),
    wire: () => rec.wires.map((w) => wireText(w)).join("\n"),
  };
  server.on("connect", (p) => o.connects.push(p));
  server.on("disconnect", (peer, reason) => o.disconnects.push({ peer, reason }));
  server.on("error", (e) => o.errors.push(e));
  server.publish("test", testStates(() => o));
  return o;
}

// ------------------------------------------------------------------ Perl processes

/** check/genuine-lite.pl: one ClientLite, one step at a time. */
class Lite extends PerlProc {
  #next = 1;
  static async start(label: string, args: string[]): Promise<{ lite: Lite; hello: J }> {
    const lite = new Lite(label, LITE, args);
    const hello = await lite.until("the connect line", (l) => "connected" in l, 30000);
    return { lite, hello };
  }
  async step(s: J): Promise<J> {
    this.send(s);
    const wait = ((s.timeout ?? 10) + 15) * 1000;
    const i = this.#next;
    const r = await this.until(`the answer to ${show(s)}`, (l) => "op" in l, wait, i);
    this.#next = this.lines.indexOf(r) + 1;
    return r;
  }
}

/** check/genuine-ikc-client.pl: a full POE kernel with IKC::Client, commands by id. */
class Full extends CommandProc {}

after(async () => {
  await Promise.all([...running].map((p) => p.stop()));
});

test("IKC_GENUINE_LIB names the genuine POE::Component::IKC", () => {
  requireLib();
});

// ================================================================== 1. ClientLite

let liteSeq = 0;

for (const protocol of ["IKC0", "IKC"] as const) {
  for (const freezer of FREEZERS) {
    describe(`genuine ClientLite (create_ikc_client, protocol ${protocol}, serialiser ${freezer}) against our server`, () => {
      const name = `Lite${process.pid}x${++liteSeq}`;
      const norm = (v: J) => (freezer === "FreezeThaw" ? textNumbers(v) : v);
      let o: Ours;
      let lite: Lite;
      let hello: J;
      let port: number;
      before(async () => {
        o = await ourServer();
        port = o.server.port!;
        ({ lite, hello } = await Lite.start(name, [
          "--port",
          String(port),
          "--name",
          name,
          "--protocol",
          protocol,
          "--serialiser",
          freezer,
          "--timeout",
          "10",
        ]));
        const w = o.wires[0];
        console.log(
          `[lite ${protocol} ${freezer}] ${wireText(w, 0).split("\n").join(`\n[lite ${protocol} ${freezer}] `)}`,
        );
      });
      after(async () => {
        await lite?.stop();
        await o?.server.close();
      });

      test("connects: negotiation both sides see, freezer on the wire", async () => {
        assert.equal(hello.connected, 1, show(hello));
        assert.equal(hello.name, name);
        assert.ok(
          hello.warnings.some((w: string) => /create_ikc_client is deprecated/.test(w)),
          "create_ikc_client carps",
        );
        const id = o.server.id;
        const addr = `127.0.0.1:${port}`;
        assert.deepEqual(hello.aliases, [addr, "Hub", id, "HubAlias"].sort());
        // ClientLite presets its remote name to ip:port; only IKC0 replaces it with our id (the
        // classic exchange keeps the first one it had), and only the classic exchange sets the ping target.
        assert.equal(hello.remote_name, protocol === "IKC0" ? id : addr);
        assert.equal(hello.ping, protocol === "IKC0" ? null : `poe://${id}/IKC/ping`);
        await waitFor("our connect monitor", () => o.connects.length === 1);
        assert.deepEqual(
          { ...o.connects[0], address: undefined },
          { kernel: name, aliases: [name], protocol, freezer, address: undefined },
        );
        assert.deepEqual(o.server.clients.map((c) => c.kernel), [name]);
        const up = parseStream(o.wires[0].up);
        const down = parseStream(o.wires[0].down);
        if (protocol === "IKC0") {
          assert.deepEqual(up.lines, [`SETUP KERNEL=${name};FREEZER=${freezer};PID=${lite.pid}`]);
          assert.deepEqual(down.lines, [
            `SETUP KERNEL=${id},Hub,HubAlias,${addr};FREEZER=${freezer};PID=${process.pid}`,
          ]);
        } else {
          assert.deepEqual(up.lines, [
            "HELLO",
            "OK",
            "OK",
            "OK",
            "OK",
            `IAM ${name}`,
            "DONE",
            `FREEZER ${freezer}`,
            "WORLD",
          ]);
          assert.deepEqual(down.lines, [
            `IAM ${id}`,
            "IAM Hub",
            "IAM HubAlias",
            `IAM ${addr}`,
            "DONE",
            "OK",
            "OK",
            "UP",
          ]);
        }
        // a first frame each way, to see what each freezer writes
        const r = await lite.step({ op: "call", spec: "test/echo", params: "first" });
        assert.equal(r.result, "first");
        const upF = parseStream(o.wires[0].up).frames;
        const downF = parseStream(o.wires[0].down).frames;
        assert.equal(
          frameFormat(upF[0]),
          freezer,
          `ClientLite's first frame: ${show(String.fromCharCode(...upF[0].subarray(0, 40)))}`,
        );
        assert.equal(
          frameFormat(downF[0]),
          freezer,
          `our first frame: ${show(String.fromCharCode(...downF[0].subarray(0, 40)))}`,
        );
        if (freezer === "Storable") assert.equal(upF[0][0], 0x05, "ClientLite uses nfreeze (network order)");
        assert.deepEqual(thawFrame(upF[0]), {
          event: `poe://${hello.remote_name}/test/echo`,
          params: "first",
          from: { kernel: name, session: "IKCLite" },
          rsvp: { kernel: name, session: "IKCLite", state: "response0" },
          wantarray: "",
        });
        assert.deepEqual(
          norm(thawFrame(downF[0])),
          norm({
            event: { kernel: name, session: "IKCLite", state: "response0" },
            params: "first",
            from: { kernel: o.server.id, session: "test", state: "IKC:proxy" },
          }),
        );
      });

      test("name and error", async () => {
        assert.equal((await lite.step({ op: "name" })).result, name);
        const r = await lite.step({ op: "error" });
        assert.equal(r.result, null);
        assert.equal(r.global_error, null);
      });

      test("call in scalar context: values both ways", async () => {
        // ClientLite cannot send wide characters with FreezeThaw ("Wide character in syswrite"): Latin-1 only there
        const text = freezer === "FreezeThaw" ? "é and more" : "é☺ and more";
        const v = { s: text, list: [1, "two", null], nested: { deep: { k: "v" } }, empty: {}, n: -42 };
        const r = await lite.step({ op: "call", spec: "test/echo", params: v });
        assert.equal(r.error, null, show(r));
        assert.deepEqual(r.result, norm(v));
        // FreezeThaw text says nothing of encodings: our thaw gives a string holding bytes >= 0x80 as a Uint8Array
        const received = freezer === "FreezeThaw"
          ? latin1Text(o.calls("echo").at(-1)!.params)
          : o.calls("echo").at(-1)!.params;
        assert.deepEqual(norm(received), norm(v), "what our state received");
        assert.equal(String((await lite.step({ op: "call", spec: "test/add", params: [1, 2, 3] })).result), "6");
        assert.equal((await lite.step({ op: "call", spec: "test/context", params: null })).result, "scalar");
        assert.deepEqual(
          (await lite.step({ op: "call", spec: "test/list", params: [1, "two", 3] })).result,
          norm([1, "two", 3]),
          "an arrayref in scalar context",
        );
        // other specifier forms: poe:/ (no kernel), and our name, alias and id
        for (
          const spec of [
            "poe:/test/add",
            "poe://Hub/test/add",
            "poe://HubAlias/test/add",
            `poe://${o.server.id}/test/add`,
          ]
        ) {
          const x = await lite.step({ op: "call", spec, params: [2, 3] });
          assert.equal(String(x.result), "5", `${spec}: ${show(x)}`);
        }
      });

      test("call in list context (ClientLite sends wantarray => 1)", async () => {
        assert.deepEqual(
          (await lite.step({ op: "call", spec: "test/context", params: null, context: "list" })).result,
          ["list"],
        );
        assert.deepEqual(
          (await lite.step({ op: "call", spec: "test/list", params: [1, "two", 3], context: "list" })).result,
          norm([1, "two", 3]),
        );
        const who = await lite.step({ op: "call", spec: "test/whoami", params: null, context: "list" });
        assert.equal(who.result.length, 1);
        assert.equal(who.result[0].context, "list");
        const sent = parseStream(o.wires.at(-1)!.up).frames.map(thawFrame).filter((m) =>
          m.event?.endsWith?.("/test/whoami")
        );
        assert.equal(String(sent.at(-1).wantarray), "1");
      });

      test("what our states are told: from, rsvp, kernel, context", async () => {
        const r = await lite.step({ op: "call", spec: "test/whoami", params: "x" });
        const w = r.result;
        assert.deepEqual(w.from, { kernel: name, session: "IKCLite" });
        assert.equal(w.rsvp.kernel, name);
        assert.equal(w.rsvp.session, "IKCLite");
        assert.match(w.rsvp.state, /^response\d+$/);
        assert.equal(w.kernel, name);
        assert.deepEqual(w.kernelAliases, [name]);
        assert.equal(w.context, "scalar");
        assert.equal(String(w.wantsAnswer), "1");
        assert.deepEqual(w.args, ["x"]);
      });

      test("a state answering later (async) is waited for", async () => {
        const r = await lite.step({ op: "call", spec: "test/delayed", params: [300, "late"] });
        assert.equal(r.result, "late");
        assert.ok(r.elapsed >= 0.25, `elapsed ${r.elapsed}`);
      });

      test("post: delivered, no answer, from as ClientLite sets it", async () => {
        const before = o.calls("record").length;
        assert.equal((await lite.step({ op: "post", spec: "test/record", params: { a: 1 } })).result, 1);
        assert.equal((await lite.step({ op: "post", spec: "test/record", params: "two" })).result, 1);
        const seen = await lite.step({ op: "call", spec: "test/recorded", params: null });
        assert.deepEqual(seen.result.slice(before), norm([{ a: 1 }, "two"]));
        const recs = o.calls("record").slice(before);
        assert.equal(recs.length, 2);
        for (const s of recs) {
          assert.deepEqual(s.from, { kernel: name, session: "IKCLite" });
          assert.equal(s.rsvp, undefined);
          assert.equal(s.wantsAnswer, false);
        }
      });

      test("post_respond: our state answers later through the rsvp in ARG0", async () => {
        const r = await lite.step({ op: "post_respond", spec: "test/respond", params: [100, { v: "later" }] });
        assert.deepEqual(r.result, { v: "later" });
        const s = o.calls("respond").at(-1)!;
        assert.deepEqual(norm(s.params[0]), norm([100, { v: "later" }]));
        assert.equal(s.params[1].kernel, name);
        assert.equal(s.params[1].session, "IKCLite");
        assert.match(s.params[1].state, /^response\d+$/);
        assert.equal(s.rsvp, undefined, "no rsvp: the answer is a post");
      });

      test("responded: a post from our server to IKCLite/<state>", async () => {
        await o.server.post(`poe://${name}/IKCLite/pushed`, "v1");
        const r = await lite.step({ op: "responded", state: "pushed" });
        assert.equal(r.result, "v1");
        await o.server.post(`poe://${name}/IKCLite/pushed`, ["a", "b"]);
        assert.deepEqual((await lite.step({ op: "responded", state: "pushed", context: "list" })).result, ["a", "b"]);
        await o.server.post({ kernel: name, session: "IKCLite", state: "pushed" }, "v2");
        assert.equal((await lite.step({ op: "responded", state: "pushed" })).result, "v2", "an rsvp-style hash event");
        // A message for another IKCLite state is skipped with a warning, but ClientLite's _response
        // never resets its frame length ($need) after a frame, so whatever follows in the same wait
        // is lost: a ClientLite limitation, the same against the genuine server.
        await o.server.post(`poe://${name}/IKCLite/other`, "ignored");
        await o.server.post(`poe://${name}/IKCLite/pushed`, "v3");
        const x = await lite.step({ op: "responded", state: "pushed", timeout: 2 });
        assert.ok(
          x.warnings.some((w: string) =>
            w.includes(`poe://${name}/IKCLite/other received, expecting poe://${name}/IKCLite/pushed`)
          ),
          show(x),
        );
        assert.equal(x.result, null, show(x));
        assert.notEqual(x.error, null);
        // start afresh for the next checks
        assert.equal((await lite.step({ op: "connect" })).result, 1);
      });

      test("non-ASCII text and bytes from our server", async () => {
        await o.server.post(`poe://${name}/IKCLite/text`, { s: "é☺", l: "é", b: new Uint8Array([0xe9, 0xff]) });
        const r = await lite.step({ op: "responded", state: "text" });
        // FreezeThaw has no UTF-8 flag: we send a JS string as its UTF-8 octets (src/core/freezethaw.ts
        // documents it), so Perl gets a byte string holding UTF-8; Storable and the Dumper carry characters.
        const utf8 = (t: string) => String.fromCharCode(...new TextEncoder().encode(t));
        assert.deepEqual(
          r.result,
          freezer === "FreezeThaw"
            ? { s: utf8("é☺"), l: utf8("é"), b: "\u00e9\u00ff" }
            : { s: "é☺", l: "é", b: "\u00e9\u00ff" },
        );
      });

      test(`ping: ${protocol === "IKC" ? "PONG" : "fails, as ClientLite's ping target is set only by classic IKC"}`, async () => {
        const connects = o.connects.length;
        const r = await lite.step({ op: "ping" });
        if (protocol === "IKC") {
          assert.equal(r.result, 1, show(r));
          assert.equal(r.connected, 1);
          const ping = parseStream(o.wires.at(-1)!.up).frames.map(thawFrame).find((m) => m.params === "PING");
          assert.deepEqual(ping, {
            event: `poe://${o.server.id}/IKC/ping`,
            params: "PING",
            rsvp: { kernel: name, session: "IKC", state: "pong" },
          });
        } else {
          assert.equal(r.result, null);
          assert.match(r.error, /^Bad message/);
          assert.equal(r.connected, 0, "ping marks the connection down");
          // so the next call connects again
          assert.equal(String((await lite.step({ op: "call", spec: "test/add", params: [1, 1] })).result), "2");
          await waitFor("the reconnect", () => o.connects.length === connects + 1);
        }
      });

      test("a state returning undef: no answer, ClientLite times out, then reconnects", async () => {
        const connects = o.connects.length;
        const wire = o.wires.at(-1)!;
        const r = await lite.step({ op: "call", spec: "test/undef", params: 1, timeout: 1 });
        assert.equal(r.result, null);
        assert.match(r.error, new RegExp(`^Timed out waiting for response poe://${name}/IKCLite/response\\d+`));
        assert.ok(r.elapsed >= 1, `elapsed ${r.elapsed}`);
        assert.equal(r.connected, 0);
        assert.equal(o.calls("undef").length, 1, "our state ran");
        const rsvp = o.calls("undef")[0].rsvp;
        assert.ok(
          !parseStream(wire.down).frames.map(thawFrame).some((m) => m.event?.state === rsvp.state),
          "nothing went back to that rsvp",
        );
        assert.equal(String((await lite.step({ op: "call", spec: "test/add", params: [2, 2] })).result), "4");
        await waitFor(
          "the reconnect and the old connection's end",
          () => o.connects.length === connects + 1 && o.disconnects.length >= connects,
        );
        assert.equal(o.server.clients.length, 1);
      });

      test("a state that throws: remote_error on the wire, ClientLite reports ARRAY(0x...)", async () => {
        const errors = o.errors.length;
        const r = await lite.step({ op: "call", spec: "test/throws", params: 1 });
        assert.equal(r.result, null);
        assert.match(r.error, /^ARRAY\(0x[0-9a-f]+\)\n$/);
        const m = parseStream(o.wires.at(-1)!.down).frames.map(thawFrame).find((x) => x.is_error);
        assert.ok(m, "a remote_error frame");
        assert.deepEqual(m.event, { kernel: name, session: "IKC", state: "remote_error" });
        assert.equal(String(m.is_error), "1");
        assert.match(
          m.params[0],
          new RegExp(
            `^State 'test/throws' failed: test/throws was called\\.  Request poe://\\S+/test/throws sent by poe://${name}/IKCLite$`,
          ),
        );
        assert.ok(o.errors.length > errors, "reported on our side");
        assert.equal(r.connected, 1);
        assert.equal((await lite.step({ op: "call", spec: "test/echo", params: "still fine" })).result, "still fine");
      });

      test("unknown session, unpublished state: remote_error in the genuine server's words", async () => {
        const r = await lite.step({ op: "call", spec: "nope/x", params: 1 });
        assert.match(r.error, /^ARRAY\(0x[0-9a-f]+\)\n$/);
        const r2 = await lite.step({ op: "call", spec: "test/nostate", params: 1 });
        assert.match(r2.error, /^ARRAY\(0x[0-9a-f]+\)\n$/);
        const texts = parseStream(o.wires.at(-1)!.down).frames.map(thawFrame).filter((x) => x.is_error).map((x) =>
          x.params[0]
        );
        const remote = hello.remote_name;
        assert.ok(
          texts.includes(
            `Session 'nope' is not available for remote kernels.  Request poe://${remote}/nope/x sent by poe://${name}/IKCLite`,
          ),
          show(texts),
        );
        assert.ok(
          texts.includes(
            `Session 'test' has not published state 'nostate'.  Request poe://${remote}/test/nostate sent by poe://${name}/IKCLite`,
          ),
          show(texts),
        );
      });

      test("disconnect: our server sees it go; ClientLite itself cannot post afterwards", async () => {
        const gone = o.disconnects.length;
        assert.equal((await lite.step({ op: "disconnect" })).result, 1);
        await waitFor("our disconnect monitor", () => o.disconnects.length === gone + 1);
        assert.equal(o.disconnects.at(-1)!.peer.kernel, name);
        assert.equal(o.server.clients.length, 0);
        const r = await lite.step({ op: "post", spec: "test/record", params: 1 });
        assert.equal(r.result, null);
        assert.equal(r.error, "Attempting to post test/record to unknown kernel");
      });
    });
  }
}

describe("genuine ClientLite: other settings", () => {
  test("->spawn (not create_ikc_client), default serialiser", async () => {
    const o = await ourServer();
    const { lite, hello } = await Lite.start("spawn", [
      "--port",
      String(o.server.port),
      "--name",
      "LiteSpawn",
      "--spawn",
    ]);
    try {
      assert.equal(hello.connected, 1, show(hello));
      assert.deepEqual(hello.warnings, []);
      assert.equal(hello.serialiser, "Storable");
      assert.equal((await lite.step({ op: "call", spec: "test/echo", params: "spawned" })).result, "spawned");
    } finally {
      await lite.stop();
      await o.server.close();
    }
  });

  test("IKC0 against our server spawned with protocol IKC: NOT, then classic on the same socket", async () => {
    const o = await ourServer({ protocol: "IKC" });
    const { lite, hello } = await Lite.start("fallback", ["--port", String(o.server.port), "--name", "LiteFallback"]);
    try {
      assert.equal(hello.connected, 1, show(hello));
      assert.equal(o.wires.length, 1, "one connection");
      const up = parseStream(o.wires[0].up).lines;
      const down = parseStream(o.wires[0].down).lines;
      assert.match(up[0], /^SETUP KERNEL=LiteFallback;FREEZER=Storable;PID=\d+$/);
      assert.equal(up[1], "HELLO");
      assert.equal(down[0], "NOT");
      assert.equal(hello.ping, `poe://${o.server.id}/IKC/ping`);
      assert.equal((await lite.step({ op: "ping" })).result, 1);
      assert.equal(o.connects[0].protocol, "IKC");
    } finally {
      await lite.stop();
      await o.server.close();
    }
  });

  test("a serialiser our server does not take: refused in both protocols, ClientLite says so", async () => {
    const o = await ourServer({ serializer: ["Storable"] });
    const { lite, hello } = await Lite.start("refused", [
      "--port",
      String(o.server.port),
      "--name",
      "LiteRefused",
      "--serialiser",
      "FreezeThaw",
    ]);
    try {
      assert.equal(hello.connected, 0);
      assert.match(hello.error, /refused FreezeThaw/);
      const up = parseStream(o.wires[0].up).lines;
      const down = parseStream(o.wires[0].down).lines;
      assert.match(up[0], /^SETUP KERNEL=LiteRefused;FREEZER=FreezeThaw;/);
      assert.equal(down[0], "NOT");
      assert.ok(up.includes("FREEZER FreezeThaw"));
      assert.equal(down.at(-1), "NOT");
      assert.equal(o.connects.length, 0);
    } finally {
      await lite.stop();
      await o.server.close();
    }
  });

  test("the socket closed under it: ClientLite reconnects (test-lite's autoreconnect) over classic IKC", async () => {
    const o = await ourServer();
    const { lite } = await Lite.start("recon", ["--port", String(o.server.port), "--name", "LiteRecon"]);
    try {
      assert.equal(String((await lite.step({ op: "call", spec: "test/add", params: [1] })).result), "1");
      await lite.step({ op: "close_socket" });
      await lite.step({ op: "set", protocol: "IKC" });
      assert.equal((await lite.step({ op: "post", spec: "test/record", params: "after reconnect" })).result, 1);
      await waitFor("the post", () => o.calls("record").length === 1);
      assert.deepEqual(o.connects.map((c) => [c.kernel, c.protocol]), [["LiteRecon", "IKC0"], ["LiteRecon", "IKC"]]);
    } finally {
      await lite.stop();
      await o.server.close();
    }
  });
});

// ================================================================== 2. the full IKC::Client

let fullSeq = 0;

for (const transport of ["tcp", "unix"] as const) {
  for (const protocol of ["IKC0", "IKC"] as const) {
    for (const serializer of ["Storable", "POE::Component::IKC::Freezer"] as const) {
      const tag = `${transport}-${protocol}-${serializer === "Storable" ? "Storable" : "Dumper"}`;
      describe(`genuine IKC::Client (${transport}, protocol ${protocol}, serializers [${serializer}]) against our server`, () => {
        const perlName = `Perl${++fullSeq}x${process.pid}`;
        const perlAlias = `PerlAlias${fullSeq}`;
        // the first half closes our server first (Perl sees unregister), the other half shuts Perl down first
        const serverLeavesFirst = serializer === "Storable";
        let o: Ours;
        let perl: Full;
        let ready: J;
        let peer: PeerInfo;
        before(async () => {
          const path = transport === "unix" ? join(tempDir(), "ikc.sock") : undefined;
          o = await ourServer(path ? { path } : {});
          const where = path ? ["--unix", path] : ["--port", String(o.server.port)];
          perl = new Full(tag, FULL, [
            ...where,
            "--name",
            perlName,
            "--alias",
            perlAlias,
            "--protocol",
            protocol,
            "--serializer",
            serializer,
          ], { IKC_PROTOCOL: "1" });
          ready = await perl.event("ready", (l) => l.event === "ready", 30000);
          await waitFor(
            "our connect monitor",
            () => o.connects.length === 1,
            15000,
            () => `${o.wire()}\n${perl.stderr()}`,
          );
          peer = o.connects[0];
          await perl.event(
            "Perl's register monitor for our id",
            (l) => l.what === "register" && l.rid === o.server.id,
            10000,
          );
          console.log(`[full ${tag}] ${wireText(o.wires[0], 0).split("\n").join(`\n[full ${tag}] `)}`);
        });
        after(async () => {
          await perl?.stop();
          await o?.server.close();
        });

        test("registered on both sides: our connect monitor sees its names, its IKC/monitor sees ours", async () => {
          assert.equal(peer.kernel, ready.kernel, "the remote kernel id is its POE kernel id");
          assert.ok(peer.aliases.includes(perlName) && peer.aliases.includes(perlAlias), show(peer));
          if (transport === "tcp") assert.ok(peer.aliases.some((a) => /^127\.0\.0\.1:\d+$/.test(a)), show(peer));
          else assert.ok(peer.aliases.some((a) => new RegExp(`^unix:\\S+:${ready.pid}-\\d+$`).test(a)), show(peer));
          assert.equal(peer.freezer, serializer);
          assert.deepEqual(o.server.clients.map((c) => c.kernel), [ready.kernel]);
          for (const n of [o.server.id, "Hub", "HubAlias"]) {
            await perl.event(`the register monitor for ${n}`, (l) => l.what === "register" && l.rid === n, 5000);
          }
          const regs = perl.events((l) => l.what === "register");
          assert.equal(regs.find((r) => r.rid === o.server.id).real, 1, "our id is the real name");
          assert.equal(regs.find((r) => r.rid === "Hub").real, 0);
        });

        if (protocol === "IKC0") {
          test("IKC0 is negotiated, as with the genuine server (no fallback to classic IKC)", () => {
            const up = parseStream(o.wires[0].up).lines;
            const down = parseStream(o.wires[0].down).lines;
            assert.match(
              up[0],
              new RegExp(
                `^SETUP KERNEL=${ready.kernel},${perlName},${perlAlias},\\S+;FREEZER=${serializer};PID=${ready.pid}$`,
              ),
            );
            assert.equal(
              peer.protocol,
              "IKC0",
              `the genuine IKC::Client offered IKC0 and we answered ${
                JSON.stringify(down[0])
              }; it fell back to classic IKC:\n${wireText(o.wires[0], 0)}`,
            );
            assert.match(down[0], /^SETUP KERNEL=/);
          });
        } else {
          test("classic IKC negotiated", () => {
            assert.equal(peer.protocol, "IKC");
            const up = parseStream(o.wires[0].up).lines;
            assert.equal(up[0], "HELLO");
            assert.ok(up.includes(`FREEZER ${serializer}`) && up.includes("WORLD"), show(up));
          });
        }

        test("subscribe to our published session (IKC/do_you_have), and a refused one", async () => {
          const r = await perl.cmd({ op: "subscribe", spec: "poe://Hub/test" });
          assert.deepEqual(r.subscribed, ["poe://Hub/test"], show(r));
          await perl.event("the subscribe monitor", (l) => l.what === "subscribe" && l.rid === o.server.id);
          const ask = parseStream(o.wires[0].up).frames.map(thawFrame).find((m) => m.event?.state === "do_you_have");
          assert.ok(ask, "a do_you_have request");
          assert.equal(ask.params[0].session, "test");
          const answer = parseStream(o.wires[0].down).frames.map(thawFrame).find((m) =>
            m.event?.state === ask.rsvp.state
          );
          assert.ok(answer, "our answer to it");
          assert.equal(answer.params[1], o.server.id, show(answer));
          assert.equal(answer.params[0].kernel, "Hub", show(answer));
          assert.equal(answer.params[0].session, "test", show(answer));
          const refused = await perl.cmd({ op: "subscribe", spec: "poe://Hub/nosuch" });
          assert.deepEqual(refused.subscribed, []);
          const err = await perl.event(
            "the refusal on its error monitor",
            (l) => l.what === "error" && /Refused subscription/.test(show(l.extra)),
          );
          assert.match(err.extra[1], /^Refused subscription poe:\/\/Hub\/nosuch$/);
        });

        test("post through the proxy session: IKC:proxy with every argument", async () => {
          const n = o.calls("record").length;
          const r = await perl.cmd({ op: "proxy_post", to: "poe://Hub/test", state: "record", args: ["via proxy", 2] });
          assert.equal(r.posted, 1, show(r));
          await waitFor("the proxied post", () => o.calls("record").length === n + 1);
          const s = o.calls("record").at(-1)!;
          assert.equal(s.params, "via proxy");
          assert.deepEqual(s.args, ["via proxy", 2]);
          assert.deepEqual(s.from, { kernel: ready.kernel, session: "perlside", state: "IKC:proxy" });
          const m = parseStream(o.wires[0].up).frames.map(thawFrame).find((x) => x.event?.state === "IKC:proxy");
          assert.deepEqual(m.params, ["record", ["via proxy", 2]]);
        });

        test("IKC/post to poe://<our name, alias, id>/test/record", async () => {
          const n = o.calls("record").length;
          for (const k of ["Hub", "HubAlias", o.server.id]) {
            const r = await perl.cmd({ op: "post", spec: `poe://${k}/test/record`, params: { to: k } });
            assert.equal(r.sent, 1, `${k}: ${show(r)}`);
          }
          await waitFor("3 posts", () => o.calls("record").length === n + 3);
          assert.deepEqual(o.calls("record").slice(n).map((s) => s.params), [{ to: "Hub" }, { to: "HubAlias" }, {
            to: o.server.id,
          }]);
          for (const s of o.calls("record").slice(n)) {
            assert.deepEqual(s.from, { kernel: ready.kernel, session: "perlside", state: "IKC:proxy" });
            assert.equal(s.wantsAnswer, false);
          }
        });

        test("IKC/post to poe://*/test/record (every kernel) and with a ?arg suffix (an extra ARG)", async () => {
          const n = o.calls("record").length;
          // `*` is every channel the Responder knows, its own local kernel included: 2
          assert.equal((await perl.cmd({ op: "post", spec: "poe://*/test/record", params: "to all" })).sent, 2);
          assert.equal(
            (await perl.cmd({ op: "post", spec: "poe://Hub/test/record?extra", params: "with arg" })).sent,
            1,
          );
          await waitFor(
            "2 posts",
            () => o.calls("record").length === n + 2,
            5000,
            () => `${o.wire()}\n${show(o.errors.map((e) => e.message))}`,
          );
          const [all, arg] = o.calls("record").slice(n);
          assert.equal(all.params, "to all");
          assert.deepEqual(arg.args, ["with arg", "extra"]);
        });

        test("IKC/call: answers reach its rsvp state", async () => {
          const v = { s: "é☺", list: [1, "two", null], nested: { k: "v" } };
          assert.deepEqual((await perl.cmd({ op: "call", spec: "poe://Hub/test/echo", params: v })).answer, [v]);
          assert.deepEqual(
            (await perl.cmd({ op: "call", spec: "poe://HubAlias/test/add", params: [1, 2, 3] })).answer,
            [6],
          );
          const who = (await perl.cmd({ op: "call", spec: "poe://Hub/test/whoami", params: null })).answer[0];
          assert.deepEqual(who.from, { kernel: ready.kernel, session: "perlside", state: "IKC:proxy" });
          // IKC/call's rsvp `poe:answerN`: session = the caller's session id, kernel = its name
          assert.equal(who.rsvp.kernel, perlName);
          assert.match(String(who.rsvp.session), /^\d+$/);
          assert.match(who.rsvp.state, /^answer\d+$/);
          assert.equal(who.context, "scalar");
          assert.equal(who.kernel, ready.kernel);
          assert.deepEqual(
            (await perl.cmd({ op: "call", spec: "poe://Hub/test/delayed", params: [200, "late"] })).answer,
            ["late"],
          );
        });

        test("IKC/call with an rsvp carrying a ?arg suffix: the answer keeps it (the genuine server answers [value, arg])", async () => {
          const r = await perl.cmd({ op: "call", spec: "poe://Hub/test/echo", params: "x", rsvp_args: "tag", wait: 2 });
          const sent = parseStream(o.wires[0].up).frames.map(thawFrame).filter((m) => m.rsvp?.args === "tag").at(-1);
          const back = sent &&
            parseStream(o.wires[0].down).frames.map(thawFrame).filter((m) => m.event?.state === sent.rsvp.state).at(-1);
          assert.deepEqual(
            r.answer,
            ["x", "tag"],
            `the genuine Client sent rsvp ${show(sent?.rsvp)}; we answered ${show(back)}; its answer state got ${
              show(r)
            }`,
          );
        });

        test("IKC/call to a state returning undef: no answer", async () => {
          const r = await perl.cmd({ op: "call", spec: "poe://Hub/test/undef", params: 1, wait: 1 });
          assert.equal(r.no_answer, 1, show(r));
        });

        test("errors reach its IKC/monitor error state with our text", async () => {
          const r = await perl.cmd({ op: "call", spec: "poe://Hub/test/throws", params: 1, wait: 1 });
          assert.equal(r.no_answer, 1);
          const e = await perl.event(
            "the remote error",
            (l) => l.what === "error" && /test\/throws was called/.test(show(l.extra)),
          );
          assert.equal(e.extra[0], "remote-invocation");
          assert.match(
            e.extra[1],
            new RegExp(
              `^State 'test/throws' failed: test/throws was called\\.  Request poe://Hub/test/throws sent by poe://${ready.kernel}/perlside/IKC:proxy$`,
            ),
          );
          await perl.cmd({ op: "call", spec: "poe://Hub/nope/x", params: 1, wait: 1 });
          const e2 = await perl.event("the remote error", (l) => l.what === "error" && /'nope'/.test(show(l.extra)));
          assert.equal(e2.extra[0], "remote-check");
          assert.equal(
            e2.extra[1],
            `Session 'nope' is not available for remote kernels.  Request poe://Hub/nope/x sent by poe://${ready.kernel}/perlside/IKC:proxy`,
          );
        });

        test("our server calls and posts into its published session", async () => {
          const v = { a: [1, 2], s: "é☺" };
          assert.deepEqual(await o.server.call(`poe://${perlName}/perlside/echo`, v), v);
          assert.equal(await o.server.call(`poe://${perlAlias}/perlside/add`, [1, 2, 3]), 6);
          assert.equal(await o.server.call(`poe://${ready.kernel}/perlside/context`, null), "scalar");
          assert.deepEqual(await o.server.call(`poe://${perlName}/perlside/context`, null, { context: "list" }), [
            "list",
          ]);
          const who = await o.server.call<J>(`poe://${perlName}/perlside/whoami`, null);
          assert.deepEqual(who.from, { kernel: o.server.id, session: "IKC" }, "the thunk's from: our request's from");
          await o.server.post(`poe://${perlName}/perlside/note`, "hello");
          const note = await perl.event("the note", (l) => l.state === "note" && l.args[0] === "hello");
          assert.deepEqual(note.from, { kernel: o.server.id, session: "IKC" });
          await assert.rejects(o.server.call(`poe://${perlName}/perlside/undef`, 1, { timeout: 1 }), TimeoutError);
          await assert.rejects(o.server.call(`poe://${perlName}/perlside/secret`, 1, { timeout: 5 }), (e: unknown) => {
            assert.ok(e instanceof RemoteError, String(e));
            assert.equal(
              e.remoteMessage,
              `Session 'perlside' has not published state 'secret'.  Request poe://${perlName}/perlside/secret sent by poe://${o.server.id}/IKC`,
            );
            return true;
          });
          await assert.rejects(
            o.server.call(`poe://${perlName}/nosuch/x`, 1, { timeout: 5 }),
            (e: unknown) =>
              e instanceof RemoteError && /^Session 'nosuch' is not available for remote kernels/.test(e.remoteMessage),
          );
          // a Perl state that posts on to us: from its published session, so with a from
          const n = o.calls("record").length;
          assert.equal(
            await o.server.call(`poe://${perlName}/perlside/relay`, ["poe://Hub/test/record", "relayed"]),
            1,
          );
          await waitFor("the relayed post", () => o.calls("record").length === n + 1);
          assert.equal(o.calls("record").at(-1)!.params, "relayed");
          assert.deepEqual(o.calls("record").at(-1)!.from, {
            kernel: ready.kernel,
            session: "perlside",
            state: "IKC:proxy",
          });
        });

        test("from inside our states: ctx.call, ctx.post, an IKC:proxy reply, and its thunk answering back", async () => {
          const a = await perl.cmd({ op: "call", spec: "poe://Hub/test/ask_perl", params: "deep" });
          assert.deepEqual(a.answer, [{ via: "ctx.call", got: "deep" }], show(a));
          const echo = perl.events((l) => l.state === "echo" && l.args[0] === "deep")[0];
          assert.deepEqual(echo.from, { kernel: o.server.id, session: "test", state: "IKC:proxy" });
          assert.deepEqual(
            (await perl.cmd({ op: "call", spec: "poe://Hub/test/tell_perl", params: "told you" })).answer,
            ["told"],
          );
          await perl.event("the note from ctx.post", (l) => l.state === "note" && l.args[0] === "told you");
          assert.deepEqual((await perl.cmd({ op: "call", spec: "poe://Hub/test/proxy_reply", params: "p" })).answer, [
            "proxied",
          ]);
          const pr = await perl.event("the IKC:proxy reply", (l) => l.state === "note" && l.args[0] === "p");
          assert.deepEqual(pr.args, ["p", "second"], "several arguments through IKC:proxy");
          const b = await perl.cmd({ op: "call", spec: "poe://Hub/test/bounce", params: "ball" });
          assert.deepEqual(b.answer, [{ got: "replied" }], show(b));
          await waitFor(
            "the thunk's answer to our from",
            () => o.calls("pong_back").length === 1,
            5000,
            () => o.wire(),
          );
          assert.deepEqual(o.calls("pong_back")[0].args, ["ball", "x"]);
          assert.equal(o.calls("pong_back")[0].kernel, ready.kernel);
        });

        test("unsubscribe: its monitor sees it", async () => {
          await perl.cmd({ op: "unsubscribe", spec: "poe://Hub/test" });
          await perl.event("the unsubscribe monitor", (l) => l.what === "unsubscribe" && l.rid === o.server.id);
        });

        if (serverLeavesFirst) {
          test("our server closes: its IKC/monitor sees unregister for our id and names", async () => {
            await o.server.close();
            await perl.event("unregister", (l) => l.what === "unregister" && l.rid === o.server.id, 10000);
            const rids = perl.events((l) => l.what === "unregister").map((l) => l.rid);
            for (const n of ["Hub", "HubAlias"]) assert.ok(rids.includes(n), show(rids));
            await waitFor("our disconnect monitor", () => o.disconnects.length === 1);
          });
        } else {
          test("it shuts down (IKC/shutdown): our disconnect monitor sees it go", async () => {
            await perl.cmd({ op: "shutdown" });
            await waitFor("our disconnect monitor", () => o.disconnects.length === 1, 10000);
            assert.equal(o.disconnects[0].peer.kernel, ready.kernel);
            assert.equal(o.server.clients.length, 0);
            assert.equal(
              o.errors.filter((e) => /dropped/.test(e.message)).length,
              0,
              show(o.errors.map((e) => e.message)),
            );
          });
        }
      });
    }
  }
}

// ================================================================== 3. the distribution's own drivers

function driver(file: string): string {
  if (!drivers || !existsSync(join(drivers, file))) {
    throw new Error(
      `IKC_GENUINE_DRIVERS must name the checkout folder holding ${file} (got ${JSON.stringify(drivers)})`,
    );
  }
  return join(drivers, file);
}
const driversSkip = drivers && existsSync(join(drivers, "test-client"))
  ? ""
  : "the checkout has no test-client/test-lite/test-thunk (a lib-only layout)";
/** A test of the distribution's drivers: reported as skipped (not failed) when the checkout has none. */
const dtest = (name: string, fn: () => Promise<void>) =>
  driversSkip
    ? test(`${name} (skipped: ${driversSkip})`, () => console.log(`skipped: ${driversSkip}`))
    : test(name, fn);

describe("the distribution's test-lite against our server (t/20_clientlite.t's server: Inet, alias Ikc)", () => {
  for (const norecon of [false, true]) {
    dtest(
      norecon
        ? "test-lite <port> LiteClient 1 (no reconnect)"
        : "test-lite <port> (close, then reconnect over classic IKC)",
      async () => {
        const o = await ourServer({ name: "Inet", aliases: ["Ikc"] });
        const p = new PerlProc("test-lite", driver("test-lite"), [
          String(o.server.port),
          ...(norecon ? ["LiteClient", "1"] : []),
        ]);
        try {
          const exit = await p.waitExit(30000);
          assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${p.stderr()}\n${o.wire()}`);
          assert.equal(o.calls("fetchQ").length, 1);
          const add = o.calls("add_1");
          assert.equal(add.length, 1);
          assert.equal(add[0].params[0], 7);
          assert.deepEqual({ ...add[0].params[1], state: undefined }, {
            kernel: "LiteClient",
            session: "IKCLite",
            state: undefined,
          });
          await waitFor("test/here", () => o.calls("here").length === 1);
          assert.equal(o.calls("here")[0].params, 8);
          await waitFor("every disconnect", () => o.disconnects.length === o.connects.length);
          assert.deepEqual(
            o.connects.map((c) => [c.kernel, c.protocol]),
            norecon ? [["LiteClient", "IKC0"]] : [["LiteClient", "IKC0"], ["LiteClient", "IKC"]],
          );
        } finally {
          await p.stop();
          await o.server.close();
        }
      },
    );
  }
});

describe("the distribution's test-client against our server (t/10_server_client.t's servers: Inet+Ikc on TCP, Unix on a socket)", () => {
  for (const type of ["inet", "inet0", "ikc", "ikc0", "unix", "unix0"]) {
    dtest(`test-client ${type}`, async () => {
      const dir = tempDir();
      const unix = type.startsWith("unix");
      const o = await ourServer(
        unix ? { path: join(dir, "IKC-test.pl"), name: "Unix", aliases: [] } : { name: "Inet", aliases: ["Ikc"] },
      );
      const p = new PerlProc(`test-client ${type}`, driver("test-client"), [type, String(o.server.port ?? 0)], {
        TMPDIR: dir,
        IKC_PROTOCOL: "1",
      });
      const name = type.charAt(0).toUpperCase() + type.slice(1);
      try {
        const exit = await p.waitExit(30000);
        assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${p.stderr()}\n${o.wire()}`);
        assert.deepEqual(o.calls("posted").map((s) => s.params), [["posted", name]]);
        assert.deepEqual(o.calls("called").map((s) => s.params), ["called"]);
        assert.deepEqual(o.calls("method").map((s) => s.params), [{ type: "method" }]);
        assert.equal(o.calls("done").length, 1);
        assert.equal(o.connects.length, 1);
        assert.ok(o.connects[0].aliases.includes(`${name}Client`), show(o.connects[0]));
        await waitFor("the disconnect", () => o.disconnects.length === 1);
        console.log(
          `[test-client ${type}] negotiated ${o.connects[0].protocol} ${o.connects[0].freezer}; ${
            p.stderr().trim().split("\n").join(" | ")
          }`,
        );
        assert.doesNotMatch(p.stderr(), /error|died|Can't/i);
      } finally {
        await p.stop();
        await o.server.close();
      }
    });
  }
});

describe("the distribution's test-thunk against our server (t/32_thunk.t's server: answers through the thunk)", () => {
  dtest("test-thunk thunk <port>: resp1 (one arg), resp2 (two args), resp3 (an empty arrayref)", async () => {
    const o = await ourServer({ name: "Inet", aliases: ["Ikc"] });
    const p = new PerlProc("test-thunk", driver("test-thunk"), ["thunk", String(o.server.port)]);
    try {
      await waitFor("test/done", () => o.calls("done").length === 1, 20000, () => `${p.stderr()}\n${o.wire()}`);
      assert.deepEqual(o.calls("post1").map((s) => s.params), ["I am"]);
      assert.deepEqual(o.calls("post2").map((s) => s.params), [["IRON", "MAN"]]);
      assert.deepEqual(o.calls("post3").map((s) => s.params), [[]]);
      assert.deepEqual(o.calls("post1")[0].from, {
        kernel: o.connects[0].kernel,
        session: "Client",
        state: "IKC:proxy",
      });
      // t/32_thunk.t's server shuts IKC down after done; closing ours ends the client the same way
      await o.server.close();
      const exit = await p.waitExit(15000);
      assert.deepEqual(exit, { code: 0, signal: null }, p.stderr());
      assert.doesNotMatch(p.stderr(), /resp\d got|died/);
    } finally {
      await p.stop();
      await o.server.close();
    }
  });
});

// Three-kernel setups against the GENUINE POE::Component::IKC (issue 18): a genuine hub
// (Responder + IKC::Server) with a genuine IKC::Client worker and OUR worker (an IkcClient that
// publishes states), and genuine IKC::Client workers on OUR server; each under IKC0 and classic
// IKC with Storable, FreezeThaw and POE::Component::IKC::Freezer. Every behaviour is first shown
// on genuine kernels alone ("reference" tests); the check for ours then expects exactly that.
//
// The API issue 18 added, used below (reached through loose casts where a check was written
// before it existed):
//   - `{ from: "<session>" }` in the options of IkcClient/IkcServer `post` and `call`;
//   - `ctx.sender.post(state, ...args)` in a published state (Perl's `$kernel->post($_[SENDER], ...)`);
//   - `monitor(kernelName | "*", { register, unregister })` on IkcClient and IkcServer, each
//     handler given `{ name, kernel, real, peer }` (Perl's ARG0, ARG1, ARG2);
//   - `server.addListener({ port } | { path })`: one kernel, one set of published sessions;
//   - `client.id`: the unique kernel id our client announces first (its name follows as an alias).
//
// Run through scripts/check-genuine-clients.sh <checkout> (sets IKC_GENUINE_LIB); alone:
//   deno test --allow-all check/genuine-kernels.ts
//   bun test --timeout 60000 ./check/genuine-kernels.ts
//   node --test .tmp/genuine-clients-dist/check/genuine-kernels.js
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { IkcClient, IkcServer, type PerlInput, RemoteError, type StateContext, type StateHandler } from "../mod.ts";
import { repoPath } from "../tests/helpers/perl.ts";
import {
  CommandProc,
  type FreezerName,
  FREEZERS,
  type J,
  messages,
  parseStream,
  recordingTransport,
  running,
  show,
  sleep,
  TcpTap,
  tempDir,
  textNumbers,
  waitFor,
  type Wire,
  wireText,
} from "./wire.ts";

const KERNEL = repoPath("check/genuine-kernel.pl");
const PROTOCOLS = ["IKC0", "IKC"] as const;
type Protocol = (typeof PROTOCOLS)[number];

/** check/genuine-kernel.pl: one genuine POE kernel, commands by id, events as JSON lines. */
class Perl extends CommandProc {
  ready: J;
  static async start(label: string, args: string[]): Promise<Perl> {
    const p = new Perl(label, KERNEL, args, { IKC_PROTOCOL: "1" });
    p.ready = await p.until("the ready line", (l) => l.event === "ready", 30000);
    return p;
  }
  get id(): string {
    return this.ready.kernel;
  }
  /** The monitor lines of one kind (`register`...), tagged `tag` (`all` is the '*' monitor). */
  monitors(what: string, tag = "all"): J[] {
    return this.events((l) => l.event === "monitor" && l.what === what && l.tag === tag);
  }
  async quit(): Promise<void> {
    this.send({ op: "quit" });
    await this.waitExit(15000).catch(() => this.stop());
  }
}

function hubArgs(name = "Hub", listen: string[] = ["--listen", "0"]): string[] {
  return ["--name", name, "--alias", `${name}Alias`, "--session", "hubsess", ...listen];
}

function workerArgs(name: string, port: number, protocol: Protocol, freezer: FreezerName, alias = true): string[] {
  return [
    "--name",
    name,
    ...(alias ? ["--alias", `${name}Alias`] : []),
    "--connect",
    String(port),
    "--protocol",
    protocol,
    "--serializer",
    freezer,
  ];
}

/** The names a connection's client announced, first (its kernel id) first: SETUP KERNEL=... or IAM lines. */
function announced(w: Wire | undefined): string[] {
  if (!w) return [];
  const lines = parseStream(w.up).lines;
  const setup = lines.find((l) => l.startsWith("SETUP KERNEL="));
  if (setup) return setup.slice("SETUP KERNEL=".length).split(";")[0].split(",");
  return lines.filter((l) => l.startsWith("IAM ")).map((l) => l.slice(4));
}

/** FreezeThaw text has no numbers: compare what went through it as text. */
const normFor = (freezer: FreezerName) => (v: J) => freezer === "FreezeThaw" ? textNumbers(v) : v;

/** Refusal texts in the Perl Responder's words. */
const notPublished = (session: string, state: string, req: string, from: string) =>
  `Session '${session}' has not published state '${state}'.  Request ${req} sent by ${from}`;
const notAvailable = (session: string, req: string, from: string) =>
  `Session '${session}' is not available for remote kernels.  Request ${req} sent by ${from}`;

/** A remote_error frame as genuine IKC sends it: to the requester's IKC/remote_error, [text, kernel, phase]. */
function remoteErrorFrame(to: string, text: string, kernel: string): J {
  return { event: { kernel: to, session: "IKC", state: "remote_error" }, params: [text, kernel, "check"], is_error: 1 };
}

/** The frame among `frames` whose params[0] is `text`, with params cut to [text, kernel, phase] (ours may add the rsvp). */
function errorFrame(frames: J[], text: string): J {
  const f = frames.find((m) => m?.is_error !== undefined && Array.isArray(m.params) && m.params[0] === text);
  return f && { ...f, params: f.params.slice(0, 3) };
}

/** Waits (up to 3 s) for the remote_error frame saying expected's text on one side of a wire, then compares it. */
async function expectErrorFrame(
  w: () => Wire | undefined,
  dir: "up" | "down",
  expected: J,
  norm: (v: J) => J,
): Promise<void> {
  const text = expected.params[0];
  for (let t = 0; t < 3000 && !errorFrame(messages(w(), dir), text); t += 20) await sleep(20);
  const frames = messages(w(), dir);
  const got = errorFrame(frames, text);
  const errors = frames.filter((m) => m?.is_error !== undefined).map((m) => m.params?.[0]);
  assert.ok(
    got,
    `no remote_error frame saying ${show(text)}; remote_errors sent: ${show(errors)}\n${wireText(w(), 40)}`,
  );
  assert.deepEqual(norm(got), norm(expected));
}

// ------------------------------------------------------------------ our kernels' published states

interface Seen {
  state: string;
  args: J[];
  from: J;
  kernel: string;
}

/** What issue 18 proposes in a state's context: a handle on the sender (Perl's $_[SENDER]). */
function senderOf(ctx: StateContext): { post(state: string, ...args: PerlInput[]): Promise<void> } {
  const s = (ctx as J).sender;
  if (!s || typeof s.post !== "function") {
    throw new TypeError("ctx.sender.post(state, ...args) is missing (issue 18: reply to $_[SENDER])");
  }
  return s;
}

/** The session Perl's check/genuine-kernel.pl publishes, in TypeScript: echo note pair_back reply_sender whoami. */
function kernelStates(seen: Seen[]): Record<string, StateHandler> {
  const states: Record<string, StateHandler> = {
    echo: (p) => p,
    note: () => "noted",
    pair_back: () => undefined,
    whoami: (_p, ctx) => ({ from: ctx.from ?? null, kernel: ctx.kernel }),
    reply_sender: async (_p, ctx) => {
      const [state, ...args] = ctx.args[0] as J[];
      await senderOf(ctx).post(state, ...args);
      return "replied";
    },
  };
  const wrapped: Record<string, StateHandler> = {};
  for (const [name, h] of Object.entries(states)) {
    wrapped[name] = (p, ctx) => {
      seen.push({ state: name, args: [...ctx.args], from: ctx.from, kernel: ctx.kernel });
      return h(p, ctx);
    };
  }
  return wrapped;
}

/** Request options with issue 18's `from` (the sending session); typed loosely so this compiles before it exists. */
const fromSession = (session: string): J => ({ from: session });

/** Issue 18's monitor by kernel name; fails with the reason while it does not exist. */
function monitorByName(target: IkcClient | IkcServer, name: string, log: J[]): void {
  const m = (target as J).monitor;
  if (typeof m !== "function" || (target instanceof IkcServer && m.length < 2)) {
    throw new TypeError(`${target.constructor.name}.monitor(name, { register, unregister }) is missing (issue 18)`);
  }
  const h = (what: string) => (e: J) => log.push({ what, name: e?.name, kernel: e?.kernel, real: e?.real ? 1 : 0 });
  try {
    m.call(target, name, { register: h("register"), unregister: h("unregister") });
  } catch (e) {
    throw new TypeError(
      `${target.constructor.name}.monitor(name, { register, unregister }) is missing (issue 18): ${e}`,
    );
  }
}

/** What a genuine monitor line says, in the shape our monitor log keeps. */
const perlMonitor = (l: J) => ({ what: l.what, name: l.name, kernel: l.rid, real: l.real });

after(async () => {
  await Promise.all([...running].map((p) => p.stop()));
});

// ================================================================== 1. genuine hub + genuine worker + our worker

for (const protocol of PROTOCOLS) {
  for (const freezer of FREEZERS) {
    describe(`genuine hub + genuine worker + our worker (${protocol}, ${freezer})`, () => {
      const norm = normFor(freezer);
      let hub: Perl;
      let tap: TcpTap;
      let gw: Perl;
      let tw: IkcClient;
      const seen: Seen[] = [];
      const twMonitor: J[] = [];
      let twMonitorError = "";
      /** Our worker's kernel id: the first name it announced. */
      let twId: string;
      const gwWire = () => tap.wireOf("Gw");
      const twWire = () => tap.wireOf(twId ?? "Tw");
      const wires = () => tap.wires.map((w) => wireText(w, 40)).join("\n");

      before(async () => {
        hub = await Perl.start("hub", hubArgs());
        await hub.cmd({ op: "monitor", name: "Gw", tag: "Gw" });
        await hub.cmd({ op: "monitor", name: "Tw", tag: "Tw" });
        tap = await TcpTap.open(hub.ready.ports[0]);
        gw = await Perl.start("Gw", workerArgs("Gw", tap.port, protocol, freezer));
        await hub.event("the register of Gw", (l) => l.what === "register" && l.rid === "Gw" && l.tag === "all");
        tw = new IkcClient({
          port: tap.port,
          host: "127.0.0.1",
          name: "Tw",
          aliases: ["TwAlias"],
          protocol,
          serializer: freezer,
          timeout: 10,
        });
        tw.publish("ts", kernelStates(seen));
        try {
          monitorByName(tw, "Hub", twMonitor);
          monitorByName(tw, "*", twMonitor);
        } catch (e) {
          twMonitorError = String(e);
        }
        await tw.open();
        await hub.event("the register of Tw", (l) => l.what === "register" && l.rid === "Tw" && l.tag === "all");
        twId = announced(tap.wires.at(-1))[0];
      });
      after(async () => {
        await tw?.disconnect().catch(() => {});
        await gw?.stop();
        await hub?.stop();
        await tap?.close();
      });

      // ---- (a) posts to unpublished states / unknown sessions

      test("reference: the genuine worker answers a post to an unpublished state or unknown session with a remote_error", async () => {
        await hub.cmd({ op: "post", spec: "poe://Gw/perlside/nope", params: "x" });
        await hub.cmd({ op: "post", spec: "poe://Gw/nosuch/tick", params: "x" });
        const from = `poe://${hub.id}/hubsess/IKC:proxy`;
        const texts = [
          notPublished("perlside", "nope", "poe://Gw/perlside/nope", from),
          notAvailable("nosuch", "poe://Gw/nosuch/tick", from),
        ];
        for (const t of texts) {
          await hub.event(`the hub's error monitor: ${t}`, (l) => l.what === "error" && l.extra[1] === t);
          assert.deepEqual(hub.events((l) => l.what === "error" && l.extra[1] === t && l.tag === "Gw")[0].extra, [
            "remote-check",
            t,
          ]);
          await expectErrorFrame(() => gwWire(), "up", remoteErrorFrame(hub.id, t, "Gw"), norm);
        }
      });

      test("our worker answers a post to an unpublished state or unknown session with the same remote_error (issue 18 item 1)", async () => {
        await hub.cmd({ op: "post", spec: "poe://Tw/ts/nope", params: "x" });
        await hub.cmd({ op: "post", spec: "poe://Tw/nosuch/tick", params: "x" });
        const from = `poe://${hub.id}/hubsess/IKC:proxy`;
        const texts = [
          notPublished("ts", "nope", "poe://Tw/ts/nope", from),
          notAvailable("nosuch", "poe://Tw/nosuch/tick", from),
        ];
        for (const t of texts) {
          await expectErrorFrame(() => twWire(), "up", remoteErrorFrame(hub.id, t, "Tw"), norm);
          await hub.event(`the hub's error monitor: ${t}`, (l) => l.what === "error" && l.extra[1] === t, 3000);
        }
      });

      test("reference: the genuine hub answers the genuine worker's post to an unpublished state or unknown session with a remote_error", async () => {
        await gw.cmd({ op: "post", spec: "poe://Hub/hubsess/nope", params: "x" });
        await gw.cmd({ op: "post", spec: "poe://Hub/nosuch/tick", params: "x" });
        const from = `poe://${gw.id}/perlside/IKC:proxy`;
        for (
          const t of [
            notPublished("hubsess", "nope", "poe://Hub/hubsess/nope", from),
            notAvailable("nosuch", "poe://Hub/nosuch/tick", from),
          ]
        ) {
          await gw.event(`its error monitor: ${t}`, (l) => l.what === "error" && l.extra[1] === t);
          await expectErrorFrame(() => gwWire(), "down", remoteErrorFrame(gw.id, t, "Hub"), norm);
        }
      });

      test("a post to nosuch/tock never reaches responded('tock'); a post to IKCLite/tock does", async () => {
        await hub.cmd({ op: "post", spec: "poe://Tw/nosuch/tock", params: "wrong" });
        await hub.cmd({ op: "post", spec: "poe://Tw/IKCLite/tock", params: "right" });
        assert.equal(await tw.responded("tock", { timeout: 5 }), "right");
      });

      test("reference and ours: a call to an unpublished state gets a remote_error and no answer", async () => {
        for (const [k, s] of [["Gw", "perlside"], ["Tw", "ts"]]) {
          const r = await hub.cmd({ op: "call", spec: `poe://${k}/${s}/nope_call`, params: "x", wait: 1 });
          assert.equal(r.no_answer, 1, show(r));
          const t = notPublished(s, "nope_call", `poe://${k}/${s}/nope_call`, `poe://${hub.id}/hubsess/IKC:proxy`);
          const w = k === "Gw" ? gwWire() : twWire();
          await expectErrorFrame(() => w, "up", remoteErrorFrame(hub.id, t, k), norm);
        }
      });

      // ---- (b) proxied requests name the real state

      test("reference: a proxied request (subscribe + post to the proxy) to an unpublished state: the error names the state, not IKC:proxy", async () => {
        assert.deepEqual((await hub.cmd({ op: "subscribe", spec: "poe://Gw/perlside" })).subscribed, [
          "poe://Gw/perlside",
        ]);
        await hub.cmd({ op: "proxy_post", to: "poe://Gw/perlside", state: "nope_proxy", args: [1, 2] });
        const t = notPublished(
          "perlside",
          "nope_proxy",
          "poe://Gw/perlside/nope_proxy",
          `poe://${hub.id}/hubsess/IKC:proxy`,
        );
        await hub.event("the hub's error monitor", (l) => l.what === "error" && l.extra[1] === t);
        await expectErrorFrame(() => gwWire(), "up", remoteErrorFrame(hub.id, t, "Gw"), norm);
        const sent = messages(gwWire(), "down").find((m) =>
          m.event?.state === "IKC:proxy" && m.params?.[0] === "nope_proxy"
        );
        assert.deepEqual(norm(sent?.event), { kernel: "Gw", session: "perlside", state: "IKC:proxy" });
        assert.deepEqual(norm(sent?.params), norm(["nope_proxy", [1, 2]]));
      });

      test("our worker: a proxied request to an unpublished state is refused naming the state (issue 18 item 2)", async () => {
        const sub = await hub.cmd({ op: "subscribe", spec: "poe://Tw/ts" });
        assert.deepEqual(sub.subscribed, ["poe://Tw/ts"], show(sub));
        await hub.cmd({ op: "proxy_post", to: "poe://Tw/ts", state: "nope_proxy", args: [1, 2] });
        const t = notPublished("ts", "nope_proxy", "poe://Tw/ts/nope_proxy", `poe://${hub.id}/hubsess/IKC:proxy`);
        await expectErrorFrame(() => twWire(), "up", remoteErrorFrame(hub.id, t, "Tw"), norm);
      });

      // ---- (d) replies to $_[SENDER]

      test("reference: the hub's state replies to $_[SENDER] of the genuine worker's request: IKC:proxy [state, [args]] to its from", async () => {
        await gw.cmd({ op: "post", spec: "poe://Hub/hubsess/reply_sender", params: ["pair_back", "c", "d"] });
        const got = await gw.event("perlside/pair_back", (l) => l.state === "pair_back" && l.args[0] === "c");
        assert.deepEqual(got.args, ["c", "d"]);
        const back = messages(gwWire(), "down").find((m) =>
          m.event?.state === "IKC:proxy" && m.params?.[0] === "pair_back"
        );
        assert.deepEqual(
          norm(back),
          norm({
            event: { kernel: gw.id, session: "perlside", state: "IKC:proxy" },
            params: ["pair_back", ["c", "d"]],
            from: { kernel: hub.id, session: "hubsess", state: "IKC:proxy" },
          }),
        );
      });

      test("our worker's post and call with { from: 'ts' }: the hub's reply to $_[SENDER] reaches ts/pair_back with its args", async () => {
        const n = seen.length;
        await tw.post("poe://Hub/hubsess/reply_sender", ["pair_back", "tw1", "tw2"], fromSession("ts"));
        const sent = await hub.event(
          "hubsess/reply_sender",
          (l) => l.state === "reply_sender" && l.args[0][1] === "tw1",
        );
        assert.deepEqual(sent.from, { kernel: twId, session: "ts", state: "IKC:proxy" }, "the from our post carried");
        await waitFor("ts/pair_back", () => seen.slice(n).some((s) => s.state === "pair_back"), 3000, () => wires());
        assert.deepEqual(seen.slice(n).find((s) => s.state === "pair_back")!.args, ["tw1", "tw2"]);
        const m = seen.length;
        assert.equal(
          await tw.call("poe://Hub/hubsess/reply_sender", ["pair_back", "tw3"], fromSession("ts")),
          "replied",
        );
        await waitFor("ts/pair_back after a call", () => seen.slice(m).some((s) => s.state === "pair_back"), 3000);
        assert.deepEqual(seen.slice(m).find((s) => s.state === "pair_back")!.args, ["tw3"]);
      });

      test("our worker's post without from: the reply to $_[SENDER] reaches responded('pair_inbox') as one arrayref (ClientLite's IKCLite)", async () => {
        await tw.post("poe://Hub/hubsess/reply_sender", ["pair_inbox", "e", "f"]);
        assert.deepEqual(await tw.responded("pair_inbox", { timeout: 5 }), ["e", "f"]);
      });

      test("reference: the genuine worker's state replies to $_[SENDER] with a state and several args", async () => {
        await hub.cmd({ op: "post", spec: "poe://Gw/perlside/reply_sender", params: ["pair_back", "a", "b"] });
        const got = await hub.event("hubsess/pair_back", (l) => l.state === "pair_back" && l.from?.kernel === gw.id);
        assert.deepEqual(got.args, ["a", "b"]);
        assert.deepEqual(got.from, { kernel: gw.id, session: "perlside", state: "IKC:proxy" });
      });

      test("our worker's state replies with ctx.sender.post('pair_back', 'a', 'b'): the hub's session gets both args", async () => {
        await hub.cmd({ op: "post", spec: "poe://Tw/ts/reply_sender", params: ["pair_back", "a", "b"] });
        const got = await hub.event(
          "hubsess/pair_back from our worker",
          (l) => l.state === "pair_back" && l.from?.kernel === twId,
          5000,
        ).catch((e) => {
          throw new Error(`${e.message.split("\n")[0]}\n${wireText(twWire(), 40)}`);
        });
        assert.deepEqual(got.args, ["a", "b"]);
        assert.deepEqual(got.from, { kernel: twId, session: "ts", state: "IKC:proxy" });
        const up = messages(twWire(), "up").find((m) =>
          m.event?.state === "IKC:proxy" && m.params?.[0] === "pair_back"
        );
        assert.deepEqual(norm(up?.event), { kernel: hub.id, session: "hubsess", state: "IKC:proxy" });
      });

      // ---- (c) ids and names

      test("reference: the genuine worker announces its POE kernel id first, then its names; hub monitors see the name as an alias", () => {
        const names = announced(gwWire());
        assert.equal(names[0], gw.id);
        assert.match(gw.id, /^[^-]+-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
        assert.ok(names.includes("Gw") && names.includes("GwAlias"), show(names));
        assert.deepEqual(hub.monitors("register", "Gw").map(perlMonitor), [
          { what: "register", name: "Gw", kernel: "Gw", real: 0 },
        ]);
        assert.equal(hub.monitors("register").find((l) => l.rid === gw.id)?.real, 1);
      });

      test("our worker announces a unique kernel id first, its name and aliases after (issue 18 item 3)", () => {
        const names = announced(twWire());
        assert.ok(names.includes("Tw") && names.includes("TwAlias"), show(names));
        assert.notEqual(names[0], "Tw", `our worker announced its name as its kernel id: ${show(names)}`);
        if ((tw as J).id !== undefined) assert.equal((tw as J).id, names[0], "client.id is the id it announced");
        assert.deepEqual(hub.monitors("register", "Tw").map(perlMonitor), [
          { what: "register", name: "Tw", kernel: "Tw", real: 0 },
        ]);
        assert.equal(hub.monitors("register").find((l) => l.rid === names[0])?.real, 1);
      });

      // ---- (e) calling oneself by name

      test("reference: the hub calls and posts to itself by name, alias and id (LocalKernel)", async () => {
        for (const k of ["Hub", "HubAlias", hub.id]) {
          const r = await hub.cmd({ op: "call", spec: `poe://${k}/hubsess/echo`, params: `me ${k}`, wait: 5 });
          assert.deepEqual(r.answer, [`me ${k}`], `${k}: ${show(r)}`);
        }
        const e = hub.events((l) => l.state === "echo" && l.args[0] === "me Hub")[0];
        assert.deepEqual(e.from, { kernel: hub.id, session: "hubsess", state: "IKC:proxy" });
      });

      test("our worker calls itself by name, alias and id: its own published state runs (issue 18 item 5)", async () => {
        for (const k of ["Tw", "TwAlias", twId]) {
          assert.equal(await tw.call(`poe://${k}/ts/echo`, `me ${k}`, { timeout: 5 }), `me ${k}`, k);
        }
      });

      // ---- (f) monitors by name

      test("our worker's monitors by name: 'Hub' once (real 0), '*' for the hub's id (real 1) and each name it announced", async () => {
        assert.equal(twMonitorError, "");
        const hubNames = hubAnnounced(twWire());
        await waitFor("our register monitors", () => twMonitor.length >= 2);
        assert.deepEqual(twMonitor.filter((e) => e.name === "Hub"), [
          { what: "register", name: "Hub", kernel: "Hub", real: 0 },
        ]);
        const all = twMonitor.filter((e) => e.name === "*" && e.what === "register");
        assert.deepEqual(all[0], { what: "register", name: "*", kernel: hub.id, real: 1 });
        for (const n of hubNames.slice(1)) {
          assert.ok(all.some((e) => e.kernel === n && e.real === 0), `${n}: ${show(all)}`);
        }
        // the genuine worker's '*' monitor, for comparison: the same id first, the same names after
        const perl = gw.monitors("register").filter((l) => l.name === "*").map(perlMonitor);
        assert.deepEqual(perl[0], { what: "register", name: "*", kernel: hub.id, real: 1 });
      });
    });
  }
}

/** The names a connection's server announced (SETUP reply or IAM lines), its id first. */
function hubAnnounced(w: Wire | undefined): string[] {
  if (!w) return [];
  const lines = parseStream(w.down).lines;
  const setup = lines.find((l) => l.startsWith("SETUP KERNEL="));
  if (setup) return setup.slice("SETUP KERNEL=".length).split(";")[0].split(",");
  return lines.filter((l) => l.startsWith("IAM ")).map((l) => l.slice(4));
}

// ================================================================== 2. two workers of one name on a genuine hub

for (const protocol of PROTOCOLS) {
  for (const freezer of FREEZERS) {
    describe(`two workers of one name on a genuine hub (${protocol}, ${freezer})`, () => {
      test("reference: two genuine workers named Twin: both registered, the first stays up when the second leaves", async () => {
        const hub = await Perl.start("hub", hubArgs());
        const tap = await TcpTap.open(hub.ready.ports[0]);
        const port = tap.port;
        await hub.cmd({ op: "monitor", name: "Twin", tag: "Twin" });
        try {
          const t1 = await Perl.start("Twin1", workerArgs("Twin", port, protocol, freezer, false));
          await hub.event("Twin1", (l) => l.what === "register" && l.rid === t1.id);
          const t2 = await Perl.start("Twin2", workerArgs("Twin", port, protocol, freezer, false));
          await hub.event("Twin2", (l) => l.what === "register" && l.rid === t2.id);
          assert.notEqual(t1.id, t2.id);
          await hub.cmd({ op: "post", spec: "poe://Twin/perlside/note", params: "to Twin" });
          await t1.event("the note at the first", (l) => l.state === "note" && l.args[0] === "to Twin");
          await t2.quit();
          await hub.event("Twin2 gone", (l) => l.what === "unregister" && l.rid === t2.id);
          await sleep(500);
          assert.equal(hub.events((l) => l.what === "unregister" && l.rid === t1.id).length, 0);
          assert.equal(t1.exit, undefined);
          assert.equal(t1.events((l) => l.what === "unregister").length, 0, "the first kept its connection");
          const r = await hub.cmd({ op: "call", spec: `poe://${t1.id}/perlside/echo`, params: "still there", wait: 5 });
          assert.deepEqual(r.answer, ["still there"]);
          // a monitor on the name: told of each register, and of the second leaving
          assert.deepEqual(hub.monitors("register", "Twin").map(perlMonitor), [
            { what: "register", name: "Twin", kernel: "Twin", real: 0 },
            { what: "register", name: "Twin", kernel: "Twin", real: 0 },
          ]);
          assert.deepEqual(hub.monitors("unregister", "Twin").map(perlMonitor), [
            { what: "unregister", name: "Twin", kernel: "Twin", real: 0 },
          ]);
          await t1.stop();
        } finally {
          await hub.stop();
          await tap.close();
        }
      });

      test("two of our workers named Twin: both registered under distinct ids, the first stays up when the second leaves (issue 18 item 3)", async () => {
        const hub = await Perl.start("hub", hubArgs());
        const tap = await TcpTap.open(hub.ready.ports[0]);
        const mk = () =>
          new IkcClient({
            port: tap.port,
            host: "127.0.0.1",
            name: "Twin",
            protocol,
            serializer: freezer,
            timeout: 5,
            keepAlive: false,
          });
        const t1 = mk();
        const t2 = mk();
        const seen1: Seen[] = [];
        t1.publish("ts", kernelStates(seen1));
        t2.publish("ts", kernelStates([]));
        try {
          await t1.open();
          await hub.event("Twin1", (l) => l.what === "register" && l.rid === "Twin");
          const id1 = announced(tap.wires[0])[0];
          await t2.open();
          const reals = () => hub.monitors("register").filter((l) => l.real === 1);
          for (let t = 0; t < 3000 && reals().length < 2; t += 20) await sleep(20);
          const id2 = announced(tap.wires[1])[0];
          assert.notEqual(id1, id2, `both announced ${id1} first`);
          assert.deepEqual(
            reals().map((l) => l.rid),
            [id1, id2],
            `the hub registered: ${show(hub.events((l) => l.event === "warn"))}`,
          );
          await hub.cmd({ op: "post", spec: "poe://Twin/ts/note", params: "to Twin" });
          await waitFor("the note at the first", () => seen1.some((s) => s.state === "note"));
          await t2.disconnect();
          await hub.event("Twin2 gone", (l) => l.what === "unregister" && l.rid === id2);
          await sleep(500);
          assert.equal(t1.connected, true, "the first worker's connection was closed when the second left");
          const r = await hub.cmd({ op: "call", spec: `poe://${id1}/ts/echo`, params: "still there", wait: 5 });
          assert.deepEqual(r.answer, ["still there"]);
        } finally {
          await t1.disconnect().catch(() => {});
          await t2.disconnect().catch(() => {});
          await hub.stop();
          await tap.close();
        }
      });
    });
  }
}

// ================================================================== 3. genuine IKC::Client workers on our server

interface OurHub {
  server: IkcServer;
  wires: Wire[];
  seen: Seen[];
  errors: Error[];
  monitor: J[];
  monitorError: string;
  wire(): string;
}

async function ourHub(extra: J = {}, monitor = false): Promise<OurHub> {
  const rec = recordingTransport();
  const server = await IkcServer.listen({
    port: 0,
    name: "Hub",
    aliases: ["HubAlias"],
    timeout: 10,
    closeTimeout: 1,
    transport: rec.transport,
    ...extra,
  });
  const o: OurHub = {
    server,
    wires: rec.wires,
    seen: [],
    errors: [],
    monitor: [],
    monitorError: "",
    wire: () => rec.wires.map((w) => wireText(w, 40)).join("\n"),
  };
  server.on("error", (e) => o.errors.push(e));
  server.publish("hubsess", kernelStates(o.seen));
  if (monitor) {
    try {
      monitorByName(server, "Gw", o.monitor);
      monitorByName(server, "*", o.monitor);
    } catch (e) {
      o.monitorError = String(e);
    }
  }
  return o;
}

for (const protocol of PROTOCOLS) {
  for (const freezer of FREEZERS) {
    describe(`genuine IKC::Client workers on our server (${protocol}, ${freezer})`, () => {
      const norm = normFor(freezer);
      let o: OurHub;
      let gw: Perl;
      const gwWire = () => o.wires[0];
      const from = () => `poe://${gw.id}/perlside/IKC:proxy`;

      before(async () => {
        o = await ourHub({}, true);
        gw = await Perl.start("Gw", workerArgs("Gw", o.server.port!, protocol, freezer));
        await gw.event("the register of our server", (l) => l.what === "register" && l.rid === o.server.id, 15000);
      });
      after(async () => {
        await gw?.stop();
        await o?.server.close();
      });

      test("the genuine worker posts to our unpublished state and unknown session: remote_error as the genuine hub sends it", async () => {
        await gw.cmd({ op: "post", spec: "poe://Hub/hubsess/nope", params: "x" });
        await gw.cmd({ op: "post", spec: "poe://Hub/nosuch/tick", params: "x" });
        for (
          const t of [
            notPublished("hubsess", "nope", "poe://Hub/hubsess/nope", from()),
            notAvailable("nosuch", "poe://Hub/nosuch/tick", from()),
          ]
        ) {
          await gw.event(`its error monitor: ${t}`, (l) => l.what === "error" && l.extra[1] === t);
          await expectErrorFrame(() => gwWire(), "down", remoteErrorFrame(gw.id, t, "Hub"), norm);
        }
      });

      test("a proxied request (subscribe + proxy post) to our unpublished state: the error names the state (issue 18 item 2)", async () => {
        const sub = await gw.cmd({ op: "subscribe", spec: "poe://Hub/hubsess" });
        assert.deepEqual(sub.subscribed, ["poe://Hub/hubsess"], show(sub));
        await gw.cmd({ op: "proxy_post", to: "poe://Hub/hubsess", state: "nope_proxy", args: [1, 2] });
        const t = notPublished("hubsess", "nope_proxy", "poe://Hub/hubsess/nope_proxy", from());
        await expectErrorFrame(() => gwWire(), "down", remoteErrorFrame(gw.id, t, "Hub"), norm);
      });

      test("our server posts to the genuine worker's unpublished state: its remote_error reaches our error handler", async () => {
        const n = o.errors.length;
        await o.server.post("poe://Gw/perlside/nope", "x");
        await waitFor("the remote_error", () => o.errors.length > n, 5000, () => o.wire());
        const e = o.errors.slice(n).find((x) => x instanceof RemoteError) as RemoteError;
        assert.equal(
          e?.remoteMessage,
          notPublished("perlside", "nope", "poe://Gw/perlside/nope", `poe://${o.server.id}/IKC`),
        );
      });

      test("our server's post and call with { from: 'hubsess' }: the worker's reply to $_[SENDER] reaches hubsess/pair_back (issue 18 item 4)", async () => {
        const n = o.seen.length;
        await (o.server as J).post("poe://Gw/perlside/reply_sender", ["pair_back", "a", "b"], fromSession("hubsess"));
        const got = await gw.event("reply_sender", (l) => l.state === "reply_sender" && l.args[0][1] === "a");
        assert.deepEqual(got.from, { kernel: o.server.id, session: "hubsess", state: "IKC:proxy" }, "our from");
        await waitFor(
          "hubsess/pair_back",
          () => o.seen.slice(n).some((s) => s.state === "pair_back"),
          3000,
          () => `${show(o.errors.slice(-3).map((e) => e.message))}\n${o.wire()}`,
        );
        assert.deepEqual(o.seen.slice(n).find((s) => s.state === "pair_back")!.args, ["a", "b"]);
        const back = messages(gwWire(), "up").find((m) =>
          m.event?.state === "IKC:proxy" && m.params?.[0] === "pair_back"
        );
        assert.deepEqual(norm(back?.event), { kernel: o.server.id, session: "hubsess", state: "IKC:proxy" });
        const m = o.seen.length;
        const r = await o.server.call(
          "poe://Gw/perlside/reply_sender",
          ["pair_back", "c", "d"],
          fromSession("hubsess"),
        );
        assert.equal(r, "replied");
        await waitFor(
          "hubsess/pair_back after a call",
          () => o.seen.slice(m).some((s) => s.state === "pair_back"),
          3000,
        );
      });

      test("our state replies with ctx.sender.post('pair_back', 'a', 'b') to the genuine worker's request", async () => {
        await gw.cmd({ op: "post", spec: "poe://Hub/hubsess/reply_sender", params: ["pair_back", "s1", "s2"] });
        const got = await gw.event("perlside/pair_back", (l) => l.state === "pair_back" && l.args[0] === "s1", 5000)
          .catch((e) => {
            throw new Error(
              `${e.message.split("\n")[0]}; our errors: ${show(o.errors.slice(-2).map((x) => x.message))}`,
            );
          });
        assert.deepEqual(got.args, ["s1", "s2"]);
        assert.deepEqual(got.from, { kernel: o.server.id, session: "hubsess", state: "IKC:proxy" });
      });

      test("our monitors by name: 'Gw' once (real 0), '*' for its id (real 1) and each name it announced", () => {
        assert.equal(o.monitorError, "");
        assert.deepEqual(o.monitor.filter((e) => e.name === "Gw"), [
          { what: "register", name: "Gw", kernel: "Gw", real: 0 },
        ]);
        const all = o.monitor.filter((e) => e.name === "*" && e.what === "register");
        assert.deepEqual(all[0], { what: "register", name: "*", kernel: gw.id, real: 1 });
        for (const n of ["Gw", "GwAlias"]) assert.ok(all.some((e) => e.kernel === n && e.real === 0), show(all));
      });

      test("two genuine workers named Twin on our server: both registered, the first stays up when the second leaves", async () => {
        const o = await ourHub();
        try {
          const t1 = await Perl.start("Twin1", workerArgs("Twin", o.server.port!, protocol, freezer, false));
          await t1.event("Twin1 registered us", (l) => l.what === "register" && l.rid === o.server.id);
          const t2 = await Perl.start("Twin2", workerArgs("Twin", o.server.port!, protocol, freezer, false));
          await t2.event("Twin2 registered us", (l) => l.what === "register" && l.rid === o.server.id);
          await waitFor("both clients", () => o.server.clients.length === 2);
          assert.deepEqual(o.server.clients.map((c) => c.kernel).sort(), [t1.id, t2.id].sort());
          await o.server.post("poe://Twin/perlside/note", "to Twin");
          await t1.event("the note at the first", (l) => l.state === "note" && l.args[0] === "to Twin");
          await t2.quit();
          await waitFor("one client", () => o.server.clients.length === 1);
          await sleep(300);
          assert.equal(t1.events((l) => l.what === "unregister").length, 0, "the first kept its connection");
          assert.equal(await o.server.call(`poe://${t1.id}/perlside/echo`, "still there"), "still there");
          await t1.stop();
        } finally {
          await o.server.close();
        }
      });

      test("the worker leaves: our monitors see unregister for 'Gw' and '*' (its id first)", async () => {
        assert.equal(o.monitorError, "");
        await gw.quit();
        await waitFor("unregister", () => o.monitor.some((e) => e.what === "unregister" && e.name === "Gw"), 5000);
        assert.deepEqual(o.monitor.filter((e) => e.name === "Gw").map((e) => e.what), ["register", "unregister"]);
        const all = o.monitor.filter((e) => e.name === "*" && e.what === "unregister");
        assert.deepEqual(all[0], { what: "unregister", name: "*", kernel: gw.id, real: 1 });
      });
    });
  }

  describe(`our server with genuine workers: calling itself, several listeners (${protocol})`, () => {
    test("our server calls and posts to itself by name, alias and id; an unpublished state is refused (issue 18 item 5)", async () => {
      const o = await ourHub();
      try {
        for (const k of ["Hub", "HubAlias", o.server.id]) {
          assert.equal(await o.server.call(`poe://${k}/hubsess/echo`, `me ${k}`, { timeout: 5 }), `me ${k}`, k);
        }
        await o.server.post("poe://Hub/hubsess/note", "to me");
        await waitFor("the local post", () => o.seen.some((s) => s.state === "note" && s.args[0] === "to me"));
        // Genuine never answers a kernel's call to its own unpublished state (only its monitors
        // see local-check/remote-check, facts (e)). Ours rejects with a RemoteError in the same
        // words instead: a promise that never settles (or settles only by timeout) is worse for a
        // TypeScript caller, and the words are genuine's refusal.
        await assert.rejects(o.server.call("poe://Hub/hubsess/nope", 1, { timeout: 5 }), (e: unknown) => {
          assert.ok(e instanceof RemoteError, String(e));
          assert.match(
            e.remoteMessage,
            /^Session 'hubsess' has not published state 'nope'\. {2}Request poe:\/\/Hub\/hubsess\/nope/,
          );
          return true;
        });
      } finally {
        await o.server.close();
      }
    });

    test("reference: one genuine Responder behind a TCP and a Unix listener: one kernel id, one set of sessions", async () => {
      const path = join(tempDir(), "hub.sock");
      const hub = await Perl.start("hub", hubArgs("Hub", ["--listen", "0", "--listen-unix", path]));
      try {
        const a = await Perl.start("A", workerArgs("A", hub.ready.ports[0], protocol, "Storable"));
        const b = await Perl.start("B", ["--name", "B", "--connect-unix", path, "--protocol", protocol]);
        for (const w of [a, b]) {
          const reg = await w.event("the hub's id", (l) => l.what === "register" && l.real === 1);
          assert.equal(reg.rid, hub.id);
          const r = await w.cmd({ op: "call", spec: "poe://Hub/hubsess/whoami", params: null });
          assert.equal(r.answer[0].kernel, hub.id);
        }
        await a.stop();
        await b.stop();
      } finally {
        await hub.stop();
      }
    });

    test("our server behind a TCP and a Unix listener (server.addListener): one kernel id, one set of sessions", async () => {
      const o = await ourHub();
      const path = join(tempDir(), "hub.sock");
      try {
        const add = (o.server as J).addListener;
        if (typeof add !== "function") throw new TypeError("server.addListener({ path }) is missing (issue 18)");
        await add.call(o.server, { path });
        const a = await Perl.start("A", workerArgs("A", o.server.port!, protocol, "Storable"));
        const b = await Perl.start("B", ["--name", "B", "--connect-unix", path, "--protocol", protocol]);
        for (const w of [a, b]) {
          const reg = await w.event("our id", (l) => l.what === "register" && l.real === 1);
          assert.equal(reg.rid, o.server.id);
          await w.cmd({ op: "call", spec: "poe://Hub/hubsess/note", params: w.label });
        }
        assert.deepEqual(o.seen.filter((s) => s.state === "note").map((s) => s.args[0]), ["A", "B"]);
        assert.equal(o.server.clients.length, 2);
        await a.stop();
        await b.stop();
      } finally {
        await o.server.close();
      }
    });
  });
}

// One request of ours alone: its key, its message, its deadline and abort, the table it waits
// in, and the one sender, with no connection (a stand-in channel records what is queued). Then
// the options every public entry point checks, over the in-memory transport.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AbortError, IkcClient, IkcServer, type StateContext, TimeoutError } from "../mod.ts";
import { memoryTransport } from "../src/transport/memory.ts";
import { OutgoingRequest, type RequestInit } from "../src/kernel/outgoing-request.ts";
import { PendingRequests } from "../src/kernel/pending-requests.ts";
import { Rsvps } from "../src/kernel/rsvp.ts";
import { ChannelLine, send } from "../src/kernel/send.ts";
import { Targets } from "../src/kernel/targets.ts";
import { Deadlines } from "../src/time/deadlines.ts";
import type { Channel } from "../src/kernel/channel.ts";
import type { PerlValue } from "../src/core/perl.ts";

interface Queued {
  message: Record<string, PerlValue>;
  done?: (err?: Error) => void;
}

function recorder(): Channel & { queued: Queued[] } {
  const ch = {
    alive: true,
    full: false,
    remoteKernel: "Hub",
    queued: [] as Queued[],
    send(message: Record<string, PerlValue>, done?: (err?: Error) => void) {
      ch.queued.push({ message, done });
    },
  };
  return ch as unknown as Channel & { queued: Queued[] };
}

const from = { kernel: "Cli", session: "IKCLite" };

function open(
  init: Partial<RequestInit> & { kind: RequestInit["kind"] },
  pending: PendingRequests,
  deadlines = new Deadlines(),
) {
  const rsvps = new Rsvps("Cli");
  const rsvp = init.kind === "post" ? undefined : init.kind === "ping" ? rsvps.ping() : rsvps.next();
  return new OutgoingRequest(
    { target: "calc/add", params: [1, 2], from, rsvp, seconds: 5, ...init },
    new Targets(),
    deadlines,
    pending,
  );
}

describe("OutgoingRequest and PendingRequests", () => {
  test("a call waits under its rsvp key, is sent synchronously on a ready channel, and settles once", async () => {
    const pending = new PendingRequests();
    const r = open({ kind: "call", list: true }, pending);
    assert.equal(r.key, "IKCLite/response1");
    assert.equal(pending.size, 1);
    const ch = recorder();
    send(r, new ChannelLine(ch));
    assert.equal(ch.queued.length, 1, "queued before send() returned");
    assert.equal(r.channel, ch);
    const m = ch.queued[0].message;
    assert.equal(m.event, "poe://Hub/calc/add");
    assert.deepEqual(m.rsvp, { kernel: "Cli", session: "IKCLite", state: "response1" });
    assert.equal(m.wantarray, 1);
    ch.queued[0].done!();
    assert.equal(r.settled, false, "written is not answered");
    pending.oldest("IKCLite/response1")!.resolve(3);
    r.reject(new Error("too late"));
    assert.equal(await r.promise, 3);
    assert.equal(pending.size, 0);
  });

  test("a post has no rsvp and settles once written; a failed write rejects on a channel line", async () => {
    const pending = new PendingRequests();
    const post = open({ kind: "post" }, pending);
    assert.equal(post.key, undefined);
    assert.equal(pending.size, 0);
    const ch = recorder();
    send(post, new ChannelLine(ch));
    assert.equal(ch.queued[0].message.rsvp, undefined);
    ch.queued[0].done!();
    assert.equal(await post.promise, undefined);
    const lost = open({ kind: "call" }, pending);
    send(lost, new ChannelLine(ch));
    ch.queued[1].done!(new Error("EPIPE"));
    await assert.rejects(lost.promise, /EPIPE/);
    assert.equal(pending.size, 0);
  });

  test("pings share IKC/pong and are answered in order; failChannel fails only that channel's", async () => {
    const pending = new PendingRequests();
    const a = open({ kind: "ping", target: "IKC/ping" }, pending);
    const b = open({ kind: "ping", target: "IKC/ping" }, pending);
    assert.equal(a.key, "IKC/pong");
    assert.equal(pending.oldest("IKC/pong"), a);
    a.resolve("PONG");
    assert.equal(pending.oldest("IKC/pong"), b);
    const one = recorder();
    const other = recorder();
    b.channel = one;
    const c = open({ kind: "call" }, pending);
    c.channel = other;
    assert.equal(pending.failChannel(one, new Error("gone")), 1);
    await assert.rejects(b.promise, /gone/);
    assert.equal(c.settled, false);
    c.resolve(null);
    assert.equal(await a.promise, "PONG");
  });

  test("timeouts say why: not sent, no answer (a state may return undef), not written", async () => {
    const pending = new PendingRequests();
    const deadlines = new Deadlines();
    const unsent = open({ kind: "call", seconds: 0.02 }, pending, deadlines);
    const unanswered = open({ kind: "call", seconds: 0.02 }, pending, deadlines);
    unanswered.channel = recorder();
    const unwritten = open({ kind: "post", seconds: 0.02 }, pending, deadlines);
    await assert.rejects(unsent.promise, (e: unknown) => e instanceof TimeoutError && /not sent/.test(e.message));
    await assert.rejects(
      unanswered.promise,
      (e: unknown) =>
        e instanceof TimeoutError &&
        /no answer within 0.02 s: the state may be slow, or \(in Perl\) returned undef \/ an empty list, which sends none/
          .test(e.message),
    );
    await assert.rejects(unwritten.promise, (e: unknown) => e instanceof TimeoutError && /not written/.test(e.message));
    assert.equal(pending.size, 0);
    assert.equal(deadlines.size, 0);
  });

  test("an abort rejects with AbortError carrying the reason, and leaves nothing behind", async () => {
    const pending = new PendingRequests();
    const deadlines = new Deadlines();
    const ac = new AbortController();
    const r = open({ kind: "call", signal: ac.signal }, pending, deadlines);
    ac.abort("stop");
    await assert.rejects(r.promise, (e: unknown) => e instanceof AbortError && (e as Error).cause === "stop");
    assert.equal(pending.size, 0);
    assert.equal(deadlines.size, 0);
  });
});

describe("options: an unknown key is a TypeError naming it", () => {
  test("client, server and per-request options", async () => {
    const transport = memoryTransport();
    assert.throws(
      () => new IkcClient({ port: 1, transport, timeOut: 3 } as never),
      (e: unknown) => e instanceof TypeError && /"timeOut"/.test(e.message),
    );
    await assert.rejects(
      IkcServer.listen({ port: 0, transport, maxClient: 3 } as never),
      (e: unknown) => e instanceof TypeError && /"maxClient"/.test(e.message),
    );
    const server = await IkcServer.listen({ port: 0, name: "Hub", transport });
    server.onError(() => {});
    const seen: unknown[] = [];
    server.publish("calc", {
      add: (p) => (p as number[]).reduce((a, b) => a + b, 0),
      back: async (_p, ctx: StateContext) => {
        await ctx.call("IKCLite/nothing", 1, { timout: 1 } as never).catch((e) => seen.push(e));
        return 1;
      },
    });
    const client = await IkcClient.connect({ port: server.port, transport, timeout: 2 });
    client.onError(() => {});
    const bad = (e: unknown, key: string) => e instanceof TypeError && e.message.includes(JSON.stringify(key));
    await assert.rejects(client.call("calc/add", [1], { contxt: "list" } as never), (e) => bad(e, "contxt"));
    await assert.rejects(client.post("calc/add", [1], { context: "list" } as never), (e) => bad(e, "context"));
    await assert.rejects(client.ping({ singal: null } as never), (e) => bad(e, "singal"));
    await assert.rejects(client.responded("x", { time: 1 } as never), (e) => bad(e, "time"));
    await assert.rejects(server.call("calc/add", 1, { tmeout: 1 } as never), (e) => bad(e, "tmeout"));
    assert.match(String(client.error), /"time"|"tmeout"|"singal"/);
    assert.equal(await client.call("calc/back", 0), 1);
    assert.ok(bad(seen[0], "timout"), "ctx.call checks its options too");
    assert.equal(await client.call("calc/add", [1, 2], { timeout: 1, context: "scalar" }), 3);
    await client.disconnect();
    await server.close();
  });
});

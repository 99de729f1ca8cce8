// StateRun alone: the context a state gets, replies made on demand over the request's own
// channel, and a run that ends once whatever the state does (returns, throws, a thenable that
// calls back twice or throws).
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Message, parseMessage } from "../src/core/message.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { RoutingError } from "../src/core/errors.ts";
import type { Channel } from "../src/kernel/channel.ts";
import { type RunOwner, StateRun } from "../src/kernel/state-run.ts";
import type { StateContext, StateHandler, Target } from "../src/kernel/types.ts";

/** A channel as far as a run sees it: the remote kernel's names. */
const channel = { remoteKernel: "Peer-1", info: { remoteAliases: ["Peer-1", "Peer"] } } as unknown as Channel;

function message(fields: Record<string, PerlValue>): Message {
  const m = parseMessage({ event: "poe://Hub/calc/add", params: [1, 2], ...fields });
  if (m instanceof Error) throw m;
  return m;
}

/** An owner that records how runs end and what replies were sent. */
function owner() {
  const ends: Array<["answer" | "fail", unknown]> = [];
  const sent: Array<{ how: string; channel: Channel; target: Target; params: PerlValue; from: unknown }> = [];
  const o: RunOwner = {
    kernel: "Hub",
    replies: {
      post: (
        ch,
        target,
        params,
        from,
      ) => (sent.push({ how: "post", channel: ch, target, params, from }), Promise.resolve()),
      call: <T>(ch: Channel, target: Target, params: PerlValue, _o: unknown, from: unknown) => (
        sent.push({ how: "call", channel: ch, target, params, from }), Promise.resolve("called" as T)
      ),
    },
    answer: (_m, _c, r) => void ends.push(["answer", r]),
    fail: (_m, _c, e) => void ends.push(["fail", e]),
  };
  return { o, ends, sent };
}

function start(handler: StateHandler, m: Message, o: RunOwner): void {
  StateRun.start(handler, m, channel, [m.params], o, undefined);
}

test("the context tells the request: peer, state, args, context, rsvp", () => {
  const { o } = owner();
  let ctx: StateContext | undefined;
  const m = message({
    from: { kernel: "Peer-1", session: "IKCLite" },
    rsvp: { kernel: "Peer-1", session: "IKCLite", state: "response7" },
    wantarray: 1,
  });
  start((_p, c) => void (ctx = c), m, o);
  assert.ok(ctx);
  assert.equal(ctx.kernel, "Peer-1");
  assert.deepEqual(ctx.kernelAliases, ["Peer-1", "Peer"]);
  assert.equal(ctx.session, "calc");
  assert.equal(ctx.state, "add");
  assert.deepEqual(ctx.args, [[1, 2]]);
  assert.equal(ctx.context, "list");
  assert.equal(ctx.wantsAnswer, true);
  assert.deepEqual(ctx.rsvp, { kernel: "Peer-1", session: "IKCLite", state: "response7" });
  assert.deepEqual(ctx.from, { kernel: "Peer-1", session: "IKCLite" });
});

test("replies go over the request's channel from our session, and survive being taken apart", async () => {
  const { o, sent } = owner();
  const m = message({ from: { kernel: "Peer-1", session: "worker", state: "job" } });
  let done: Promise<unknown> | undefined;
  start(
    (_p, ctx) => {
      const { post, call, sender } = ctx;
      done = Promise.all([post("log/line", "x"), call("log/count"), sender.post("pair_back", "a", "b")]);
      return undefined;
    },
    m,
    o,
  );
  assert.deepEqual(await done, [undefined, "called", undefined]);
  const self = { kernel: "Hub", session: "calc", state: "IKC:proxy" };
  assert.deepEqual(sent.map((s) => [s.how, s.target, s.params, s.from, s.channel === channel]), [
    ["post", "log/line", "x", self, true],
    ["call", "log/count", null, self, true],
    // A sender with a state gets an IKC:proxy request, as Perl's thunk sends it.
    ["post", { kernel: "Peer-1", session: "worker", state: "IKC:proxy" }, ["pair_back", ["a", "b"]], self, true],
  ]);
});

test("a reply to a sender that named none is a RoutingError", async () => {
  const { o, sent } = owner();
  let reply: Promise<void> | undefined;
  start((_p, ctx) => void (reply = ctx.sender.post("pair_back")), message({}), o);
  await assert.rejects(reply!, RoutingError);
  assert.equal(sent.length, 0);
});

test("a run ends once: a value, a throw, a thenable that calls back twice or throws", async () => {
  const { o, ends } = owner();
  start(() => 3, message({}), o);
  start(
    () => {
      throw new Error("boom");
    },
    message({}),
    o,
  );
  start(
    () => ({
      then(ok: (v: unknown) => void, bad: (e: unknown) => void) {
        ok("first");
        ok("second");
        bad(new Error("late"));
      },
    }),
    message({}),
    o,
  );
  start(
    () => ({
      then() {
        throw new Error("bad thenable");
      },
    }),
    message({}),
    o,
  );
  start(() => Promise.reject(new Error("rejected")), message({}), o);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(ends.map(([how, v]) => [how, v instanceof Error ? v.message : v]), [
    ["answer", 3],
    ["fail", "boom"],
    ["answer", "first"],
    ["fail", "bad thenable"],
    ["fail", "rejected"],
  ]);
});

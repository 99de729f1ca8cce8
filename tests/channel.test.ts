// A channel alone, over an in-memory connection pair: frames both ways, the write batch, room
// when the peer does not read, the end (once, with its reason), and the kernel's parts around
// it (router, responder, pending requests) with no client or server façade.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DisconnectedError, LimitError, RemoteError, storableFreezer } from "../mod.ts";
import { MemoryConnection } from "../src/transport/memory.ts";
import { Channel } from "../src/kernel/channel.ts";
import { Kernel } from "../src/kernel/kernel.ts";
import { attachChannel } from "../src/kernel/attach-channel.ts";
import { ChannelLine } from "../src/kernel/send.ts";
import { encodeFrame } from "../src/core/frame.ts";
import type { PerlValue } from "../src/core/perl.ts";

const info = (remote: string) => ({
  protocol: "IKC0" as const,
  remoteKernel: remote,
  remoteAliases: [remote],
  freezer: "Storable",
});

function channels(maxWriteBuffer = Infinity) {
  const [a, b] = MemoryConnection.pair({ remote: "B" }, { remote: "A" });
  const chA = new Channel(a, storableFreezer, info("B"), { maxFrameSize: 1 << 20, maxWriteBuffer }, "client");
  const chB = new Channel(b, storableFreezer, info("A"), { maxFrameSize: 1 << 20 }, "server");
  return { a, b, chA, chB };
}

describe("Channel", () => {
  test("messages sent in one tick go out in one write and arrive in order", async () => {
    const { a, chA, chB } = channels();
    const got: PerlValue[] = [];
    const ends: Error[] = [];
    chB.start(new Uint8Array(0), { message: (v) => got.push(v), end: (e) => ends.push(e) });
    chA.start(new Uint8Array(0), { message: () => {}, end: () => {} });
    let writes = 0;
    const write = a.write.bind(a);
    a.write = (data: Uint8Array) => {
      writes++;
      return write(data);
    };
    const done: Array<Error | undefined> = [];
    for (let i = 0; i < 10; i++) chA.send({ n: i }, (err) => done.push(err));
    assert.equal(writes, 0, "queued, not yet written");
    await chA.write({ n: 10 });
    assert.equal(writes, 1, "eleven frames, one write");
    assert.deepEqual(done, new Array(10).fill(undefined));
    while (got.length < 11) await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(got.map((v) => (v as { n: number }).n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await chA.close(undefined, 200);
    while (ends.length === 0) await new Promise((r) => setTimeout(r, 1));
    assert.equal(chB.cleanEnd, true);
    assert.ok(ends[0] instanceof DisconnectedError);
  });

  test("frames that are all buffered do not hold the event loop: the read loop lets it turn between slices", async () => {
    // The memory pair moves bytes without the event loop, so nothing but the read loop's own
    // yielding lets a timer run before the last frame is delivered.
    const { a, chB } = channels();
    const FRAMES = 40;
    const ints = Array.from({ length: 49_000 }, (_, i) => i & 63); // about a millisecond each to thaw
    const writes = [];
    for (let i = 0; i < FRAMES; i++) writes.push(a.write(encodeFrame(storableFreezer.freeze(ints))));
    let delivered = 0;
    let atFirstTurn = -1;
    const timer = setTimeout(() => (atFirstTurn = delivered), 0);
    chB.start(new Uint8Array(0), { message: () => void delivered++, end: () => {} });
    while (delivered < FRAMES) await new Promise((r) => setTimeout(r, 1));
    clearTimeout(timer);
    await Promise.all(writes);
    assert.ok(atFirstTurn >= 0 && atFirstTurn < FRAMES, `the first timer ran after ${atFirstTurn} of ${FRAMES} frames`);
    chB.abort(new DisconnectedError("done"));
  });

  test("a peer that does not read: full past maxWriteBuffer, room() waits, abort ends once and frees the waiters", async () => {
    const { a, chA } = channels(1000);
    // The socket takes nothing more: every write waits until the connection is destroyed.
    let failWrite: ((e: unknown) => void) | undefined;
    a.write = () => new Promise<void>((_, reject) => (failWrite = reject));
    const destroy = a.destroy.bind(a);
    a.destroy = (e?: unknown) => {
      failWrite?.(e);
      destroy(e);
    };
    const ends: Error[] = [];
    chA.start(new Uint8Array(0), { message: () => {}, end: (e) => ends.push(e) });
    const failures: Error[] = [];
    for (let i = 0; i < 5; i++) chA.send({ big: "x".repeat(400) }, (err) => err && failures.push(err));
    assert.equal(chA.full, true, "queued past maxWriteBuffer");
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(chA.full, true, "still: the write is under way and the peer takes nothing");
    assert.ok(chA.bufferedBytes > 1000);
    let roomy = false;
    const room = chA.room().then(() => (roomy = true));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(roomy, false, "no room while nobody reads");
    const why = new DisconnectedError("dropped: does not read");
    chA.abort(why);
    chA.abort(new Error("again"));
    await room;
    assert.equal(roomy, true);
    assert.equal(chA.alive, false);
    assert.equal(ends.length, 1, "ended once");
    assert.equal(ends[0], why);
    assert.equal(chA.reason, why);
    const late: Array<Error | undefined> = [];
    chA.send({ n: 1 }, (err) => late.push(err));
    assert.equal(late[0], why, "a send on an ended channel fails with its reason");
    assert.ok(failures.length >= 1, "the write that waited failed with the socket");
  });
});

describe("Channel limits", () => {
  test("one frame bigger than maxWriteBuffer is never queued: send throws a LimitError, the channel lives on", () => {
    const { chA } = channels(1000);
    chA.start(new Uint8Array(0), { message: () => {}, end: () => {} });
    assert.throws(
      () => chA.send({ big: "x".repeat(4000) }),
      (e: Error) => e instanceof LimitError && /maxWriteBuffer 1000/.test(e.message),
    );
    assert.equal(chA.bufferedBytes, 0);
    assert.equal(chA.alive, true);
    chA.abort(new DisconnectedError("done"));
  });
});

describe("Kernel parts over a channel pair (no façade)", () => {
  test("a call is routed to the responder, answered to its rsvp, and a remote_error rejects its own request", async () => {
    const [a, b] = MemoryConnection.pair({ remote: "B" }, { remote: "A" });
    const client = new Kernel({ id: "A", names: ["A"], timeout: 2 });
    const server = new Kernel({ id: "B", names: ["B"], timeout: 2 });
    server.states.publish("calc", { add: (p) => (p as number[]).reduce((x, y) => x + y, 0) });
    const reported: Error[] = [];
    server.reporter.add((e) => reported.push(e));
    client.reporter.add((e) => reported.push(e));
    const ended: Array<[Error, number]> = [];
    const limits = { maxFrameSize: 1 << 20 };
    const chA = attachChannel(
      client,
      { conn: a, result: info("B"), rest: new Uint8Array(0) },
      [storableFreezer],
      limits,
      "client",
      {
        ended: (_c, reason, failed) => ended.push([reason, failed]),
      },
    );
    attachChannel(
      server,
      { conn: b, result: info("A"), rest: new Uint8Array(0) },
      [storableFreezer],
      limits,
      "server",
      {},
    );
    assert.equal(server.peers.channelFor("A")?.remoteKernel, "A");
    const line = new ChannelLine(chA);
    assert.equal(await client.request("call", line, "calc/add", [1, 2, 3], undefined), 6);
    assert.deepEqual(await client.request("call", line, "calc/add", [1, 2], { context: "list" }), [3]);
    await assert.rejects(
      client.request("call", line, "calc/nope", 1, undefined),
      (e: unknown) => e instanceof RemoteError && /has not published state 'nope'/.test(e.remoteMessage),
    );
    assert.equal(reported.length, 1, "the server reports what it refused");
    assert.equal(await client.request("ping", line, "IKC/ping", "PING", undefined), "PONG");
    assert.equal(client.pending.size, 0);
    assert.equal(server.responder.busy, 0);
    // A request waiting when the channel goes fails with the reason; the owner hears how many.
    const waiting = client.request("call", line, "calc/add", [1], { timeout: 5 });
    chA.abort(new DisconnectedError("cut"));
    await assert.rejects(waiting, /cut/);
    assert.equal(ended.length, 1);
    assert.equal(ended[0][1], 1);
    assert.equal(client.peers.channels().length, 0);
    client.reporter.flush();
    server.reporter.flush();
  });
});

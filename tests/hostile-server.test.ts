// The client against a fake IKC *server* that misbehaves (issue 9, "tests to keep it out"):
// written on the raw transport layer (tests/helpers/fake-server.ts), so it runs unchanged under
// deno test, bun test and node --test. Each case checks that every pending request settles with
// the right error class, that nothing rejects unhandled, and that the next call works once a
// good peer is back.
import process from "node:process";
import { after, describe, test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import {
  AbortError,
  CodecError,
  ConnectError,
  DisconnectedError,
  IkcClient,
  type IkcClientOptions,
  LimitError,
  nfreeze,
  type PerlValue,
  ProtocolError,
  RemoteError,
  TimeoutError,
  type Transport,
} from "../mod.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { encodeFrame } from "../src/core/frame.ts";
import { FAKE_KERNEL, FakeServer, good, type Msg, type Peer } from "./helpers/fake-server.ts";

// ------------------------------------------------------------------ file-wide checks

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
process.on("unhandledRejection", onUnhandled);

// HOSTILE_ONLY=<words> runs only the cases whose name holds them (for working on one case).
const only = process.env.HOSTILE_ONLY;
const test = (name: string, fn: () => Promise<void>) =>
  only && !name.includes(only) && !name.startsWith("no unhandled")
    ? nodeTest(name, { skip: true }, () => {})
    : nodeTest(name, fn);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();
const CLIENT = "Victim";

/** Options for a client of the fake server `s`. */
function opts(s: FakeServer, extra: IkcClientOptions = {}): IkcClientOptions {
  return { host: "127.0.0.1", port: s.port, name: CLIENT, timeout: 5, connectTimeout: 2, ...extra };
}

type ErrorClass = new (...args: never[]) => Error;

/** `p`, marked as handled: a test that fails early must not leave it to reject unhandled. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** The error `p` rejects with; fails when it resolves. */
async function errorOf(p: Promise<unknown>, what = "the request"): Promise<Error> {
  try {
    const v = await p;
    assert.fail(`${what} resolved (with ${JSON.stringify(v)}) instead of rejecting`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(e instanceof Error, `${what} rejected with a non-Error: ${String(e)}`);
    return e;
  }
}

/** Asserts `p` rejects with an instance of `cls` (its message matching `message`, when given). */
async function rejectsWith(p: Promise<unknown>, cls: ErrorClass, what: string, message?: RegExp): Promise<Error> {
  const e = await errorOf(p, what);
  assert.ok(e instanceof cls, `${what}: expected ${cls.name}, got ${e.constructor.name}: ${e.message}`);
  if (message) assert.match(e.message, message, `${what}: message`);
  return e;
}

/** What `p` settles to, or undefined when it has not within `ms` (the timer is cleared either way). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = now();
  while (!cond()) {
    if (now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A reference timer of `ms`, started with the operation a deadline check measures: how late it
 * fires (the result) is how late timers run on this machine at that moment, which a deadline
 * check allows for on top of its own margin. A busy machine delays both alike.
 */
function referenceTimer(ms: number): Promise<number> {
  const t0 = now();
  return new Promise<number>((r) => setTimeout(() => r(Math.max(0, now() - t0 - ms)), ms));
}

/**
 * Watches the event loop with a 1 ms timer. `cpu` is the most CPU time this process spent
 * between two runs of the timer: how long the loop was kept from turning by work. Elapsed time
 * between runs (`wall`) also counts time spent waiting for a core on a busy machine, so the
 * assertions use `cpu`; `wall` is for the log.
 */
function loopMonitor(): { stop(): { cpu: number; wall: number } } {
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let last = now();
  let lastCpu = cpuNow();
  let wall = 0;
  let cpu = 0;
  const sample = () => {
    const n = now();
    const c = cpuNow();
    wall = Math.max(wall, n - last);
    cpu = Math.max(cpu, c - lastCpu);
    last = n;
    lastCpu = c;
  };
  const t = setInterval(sample, 1);
  return {
    stop() {
      clearInterval(t);
      sample();
      return { cpu, wall };
    },
  };
}

/**
 * The most bytes a client may take from one connection without letting the event loop turn:
 * Node's libuv reads up to 32 times 64 KiB from a readable socket before it runs timers again.
 */
const MAX_BYTES_PER_TURN = 2 << 20;

/**
 * This runtime's transport, with every byte its connections hand to the client counted: `most`
 * is the largest number of bytes the client was given between two runs of a 1 ms timer, that is
 * the most work it did without letting the event loop turn. Counted, so a busy machine cannot
 * change it.
 */
function countingTransport(): { transport: Transport; total(): number; watch(): { stop(): number } } {
  const t = detectTransport();
  let sinceTick = 0;
  let total = 0;
  const transport: Transport = {
    name: t.name,
    listen: (o) => t.listen(o),
    async connect(o) {
      const conn = await t.connect(o);
      const read = conn.read.bind(conn);
      conn.read = async () => {
        const chunk = await read();
        if (chunk) {
          sinceTick += chunk.byteLength;
          total += chunk.byteLength;
        }
        return chunk;
      };
      return conn;
    },
  };
  return {
    transport,
    total: () => total,
    watch() {
      let most = 0;
      sinceTick = 0;
      const tick = () => {
        most = Math.max(most, sinceTick);
        sinceTick = 0;
      };
      const timer = setInterval(tick, 1);
      return {
        stop() {
          clearInterval(timer);
          tick();
          return most;
        },
      };
    },
  };
}

/** The next call works (the fake server has been switched to good behaviour). */
async function worksAgain(c: IkcClient, what: string): Promise<void> {
  const token = `again-${what}`;
  assert.equal(
    await c.call("test/echo", token, { timeout: 5 }),
    token,
    `${what}: the next call after a good peer is back`,
  );
  assert.equal(await c.ping({ timeout: 5 }), true, `${what}: ping after a good peer is back`);
}

/** A frame of a message from the fake server to one of the client's states. */
function toClient(state: string, params: PerlValue, session = "IKCLite"): Msg {
  return { event: { kernel: CLIENT, session, state }, params };
}

/** Runs `body` with a fresh fake server and client; closes both whatever happens. */
async function withServer(
  behave: (peer: Peer) => Promise<void>,
  options: IkcClientOptions,
  body: (s: FakeServer, c: IkcClient, errors: Error[]) => Promise<void>,
): Promise<void> {
  const s = await FakeServer.start(behave);
  const c = new IkcClient(opts(s, options));
  const errors: Error[] = [];
  c.onError((e) => errors.push(e));
  let failed = true;
  try {
    await body(s, c, errors);
    assert.deepEqual(s.failures, [], "the fake server's own code failed");
    failed = false;
  } finally {
    // disconnect() must settle even when the peer misbehaves; a hang is a failure of its own.
    const t0 = now();
    const closed = await within(c.disconnect().then(() => true, () => true), 5000);
    await s.close();
    if (!closed && !failed) assert.fail(`disconnect() did not settle within ${(now() - t0).toFixed(0)} ms`);
  }
}

/** Negotiates, waits for the first request and hands it to `then`; afterwards waits for the client to go. */
function onFirstRequest(then: (peer: Peer, m: Msg) => Promise<void>): (peer: Peer) => Promise<void> {
  return async (peer) => {
    if (!(await peer.negotiate())) return;
    const m = await peer.next();
    if (m === null) return;
    await then(peer, m);
  };
}

describe("IkcClient against a hostile fake server", () => {
  after(() => {
    process.off("unhandledRejection", onUnhandled);
  });

  // ---------------------------------------------------------------- broken frames

  test("close in the middle of a frame: DisconnectedError, then the next call works", async () => {
    await withServer(
      onFirstRequest(async (peer, m) => {
        const frame = encodeFrame(nfreeze({ event: m.rsvp!, params: "x".repeat(1000) }));
        await peer.raw(frame.subarray(0, 600));
        await sleep(20);
        await peer.close();
      }),
      {},
      async (s, c) => {
        await c.open();
        const pending = handled(c.call("test/echo", "hello"));
        const other = handled(c.postRespond("test/respond", "later"));
        await rejectsWith(pending, DisconnectedError, "call on a connection closed mid-frame", /middle of a frame/);
        await rejectsWith(other, DisconnectedError, "postRespond on a connection closed mid-frame");
        assert.equal(c.pendingCount, 0);
        s.behave = good;
        await worksAgain(c, "close mid-frame");
      },
    );
  });

  test("garbage frame headers: ProtocolError for every request pending", async () => {
    for (const garbage of ["12x\0abcdefghijkl", "-5\0abcde", "HELLO WORLD\r\n", "\x05\x0b\x03\x00"]) {
      await withServer(
        onFirstRequest(async (peer) => {
          await peer.raw(garbage);
          await peer.drain(); // the client must be the one to give up
        }),
        { maxFrameSize: 2 ** 40 },
        async (s, c, errors) => {
          await c.open();
          const t0 = now();
          const a = handled(c.call("test/echo", 1));
          const b = handled(c.ping());
          await rejectsWith(a, ProtocolError, `call, header ${JSON.stringify(garbage)}`, /frame header/);
          await rejectsWith(b, ProtocolError, `ping, header ${JSON.stringify(garbage)}`);
          assert.ok(now() - t0 < 2000, "failed at once, not by a timeout");
          assert.equal(c.pendingCount, 0);
          assert.equal(c.connected, false, "the connection is dropped");
          assert.ok(errors.every((e) => e instanceof Error));
          s.behave = good;
          await worksAgain(c, "garbage header");
        },
      );
    }
  });

  test("a huge declared length: LimitError at once, no waiting for (or allocating) the body", async () => {
    for (const header of ["99999999999999999\0", `${(1 << 20) + 1}\0`, "18446744073709551616\0"]) {
      await withServer(
        onFirstRequest(async (peer) => {
          await peer.raw(header + "\x05\x0b");
          await peer.drain();
        }),
        { maxFrameSize: 1 << 20 },
        async (s, c) => {
          await c.open();
          const t0 = now();
          const heap = process.memoryUsage().heapUsed;
          const a = handled(c.call("test/echo", 1));
          await rejectsWith(a, LimitError, `call, header ${JSON.stringify(header)}`, /maxFrameSize/);
          assert.ok(now() - t0 < 2000, "failed on the header, not by a timeout");
          assert.ok(process.memoryUsage().heapUsed - heap < 32 << 20, "allocated for the declared length");
          s.behave = good;
          await worksAgain(c, "huge length");
        },
      );
    }
  });

  test("garbage frame body: CodecError for the pending request, the next call works", async () => {
    await withServer(
      onFirstRequest(async (peer) => {
        await peer.raw(encodeFrame(new Uint8Array([0x05, 0x0b, 0xff, 0xfe, 0xfd, 0x11, 0x00, 0x42])));
        await peer.drain();
      }),
      {},
      async (s, c) => {
        await c.open();
        const a = handled(c.call("test/echo", 1));
        const b = handled(c.call("test/echo", 2));
        await rejectsWith(a, CodecError, "call answered with an unthawable frame");
        await rejectsWith(b, CodecError, "second call on that connection");
        s.behave = good;
        await worksAgain(c, "garbage body");
      },
    );
  });

  test("a well-formed frame that is no IKC message is reported, and the connection lives on", async () => {
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        for (let m; (m = await peer.next()) !== null;) {
          if (m.params === "bad") await peer.send([1, 2, 3] as unknown as Msg);
          else await peer.answer(m);
        }
      },
      {},
      async (_s, c, errors) => {
        await c.open();
        await rejectsWith(
          c.call("test/echo", "bad", { timeout: 0.3 }),
          TimeoutError,
          "call answered with an array frame",
          /no answer/,
        );
        await until(
          "the bad message report",
          () => errors.some((e) => e instanceof ProtocolError && /not a hash/.test(e.message)),
        );
        await worksAgain(c, "non-message frame");
      },
    );
  });

  test("a ping answered with a 2 MB string or a shared-reference DAG: a short, escaped ProtocolError", async () => {
    // [x, x] nested 22 deep: four million paths through 23 arrays (what made issue 17's 2.6 s stall).
    let dag: PerlValue = "leaf";
    for (let i = 0; i < 22; i++) dag = [dag, dag];
    const answers: PerlValue[] = [`line one\n[ikc] forged line${"x".repeat(2_000_000)}`, dag];
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        for (let m; (m = await peer.next()) !== null;) {
          const event = String(m.event);
          if (event.endsWith("/IKC/ping")) await peer.send({ event: m.rsvp!, params: answers.shift() ?? "PONG" });
          else await peer.answer(m);
        }
      },
      {},
      async (_s, c) => {
        await c.open();
        for (const what of ["a 2 MB string with a newline", "a shared-reference DAG"]) {
          const started = now();
          const e = await rejectsWith(
            c.ping(),
            ProtocolError,
            `ping answered with ${what}`,
            /^ping answered .* instead of PONG$/,
          );
          assert.ok(e.message.length < 300, `${what}: the error text is bounded (${e.message.length} characters)`);
          assert.ok(!/[\n\r]/.test(e.message), `${what}: control characters are escaped`);
          assert.ok(now() - started < 5_000, `${what}: answered in ${(now() - started).toFixed(0)} ms`);
        }
        assert.equal(await c.ping(), true);
      },
    );
  });

  // ---------------------------------------------------------------- negotiation

  test("silent negotiation: ConnectError within connectTimeout; a call made meanwhile says it was not sent", async () => {
    await withServer(
      async (peer) => {
        await peer.readSetup();
        await peer.drain(); // says nothing
      },
      { connectTimeout: 0.6 },
      async (s, c) => {
        const t0 = now();
        const late = referenceTimer(600);
        const early = handled(c.call("test/echo", "before connect", { timeout: 5 }));
        const short = handled(c.call("test/echo", "short", { timeout: 0.2 }));
        const opened = handled(c.open());
        const e = await rejectsWith(
          opened,
          ConnectError,
          "open() against a silent server",
          /not finished within 0.6 s/,
        );
        const took = now() - t0;
        const slack = await late;
        assert.ok(
          took >= 500 && took < 1500 + slack,
          `open() failed after ${took.toFixed(0)} ms; connectTimeout is 600 ms (timers ran ${
            slack.toFixed(0)
          } ms late)`,
        );
        assert.doesNotMatch(e.message, /undef/);
        const ce = await rejectsWith(early, ConnectError, "call made before the connect completed", /negotiation/);
        assert.doesNotMatch(ce.message, /undef/, "a call that never left must not blame an undef-returning state");
        const te = await rejectsWith(short, TimeoutError, "short call made before the connect completed", /not sent/);
        assert.doesNotMatch(te.message, /undef/);
        assert.equal(c.pendingCount, 0);
        s.behave = good;
        await worksAgain(c, "silent negotiation");
      },
    );
  });

  test("trickling negotiation (1 byte / 50 ms, and endless lines): one deadline, ConnectError within connectTimeout", async () => {
    const trickle = (bytes: string, forever: boolean) => async (peer: Peer) => {
      if ((await peer.readSetup()) === null) return;
      const closed = peer.conn.closed.then(() => true);
      for (let i = 0; forever || i < bytes.length; i++) {
        await peer.raw(bytes[i % bytes.length]);
        if (await within(closed, 50)) return;
      }
      await peer.drain();
    };
    const cases: Array<[string, (peer: Peer) => Promise<void>, number]> = [
      [
        "a valid SETUP line, one byte per 50 ms",
        trickle(`SETUP KERNEL=${FAKE_KERNEL},Fake,127.0.0.1:1;FREEZER=Storable;PID=1\r\n`, false),
        0.8,
      ],
      ["an endless line, one byte per 50 ms", trickle("x", true), 0.8],
    ];
    for (const [what, behave, seconds] of cases) {
      await withServer(behave, { connectTimeout: seconds }, async (s, c) => {
        const t0 = now();
        const late = referenceTimer(seconds * 1000);
        const early = handled(c.call("test/echo", "queued", { timeout: 10 }));
        const e = await rejectsWith(c.open(), ConnectError, `open(), ${what}`, /not finished within/);
        const took = now() - t0;
        const slack = await late;
        assert.ok(
          took >= seconds * 1000 - 100 && took < seconds * 1000 + 700 + slack,
          `${what}: failed after ${took.toFixed(0)} ms, connectTimeout ${seconds} s (timers ran ${
            slack.toFixed(0)
          } ms late)`,
        );
        assert.doesNotMatch(e.message, /undef/);
        const ce = await rejectsWith(
          early,
          ConnectError,
          `call made before the connect completed, ${what}`,
          /negotiation/,
        );
        assert.doesNotMatch(ce.message, /undef/);
        s.behave = good;
        await worksAgain(c, what);
      });
    }
    // An endless line sent fast: the line limit ends it long before the deadline.
    await withServer(
      async (peer) => {
        if ((await peer.readSetup()) === null) return;
        const chunk = "y".repeat(16384);
        let gone = false;
        void peer.conn.closed.then(() => (gone = true));
        for (let i = 0; i < 64 && !gone; i++) await peer.raw(chunk);
        await peer.drain();
      },
      { connectTimeout: 5, maxLineLength: 4096 },
      async (s, c) => {
        const t0 = now();
        const early = handled(c.call("test/echo", "queued"));
        await rejectsWith(c.open(), ConnectError, "open(), an endless line sent fast", /line|4096/);
        assert.ok(
          now() - t0 < 2000,
          `an over-long line ended the negotiation after ${(now() - t0).toFixed(0)} ms, not at the deadline`,
        );
        await rejectsWith(early, ConnectError, "call made before the connect completed, endless line");
        s.behave = good;
        await worksAgain(c, "endless fast line");
      },
    );
  });

  test("reset on accept: ConnectError for open() and for a call, then the next call works", async () => {
    const variants: Array<[string, (peer: Peer) => Promise<void>]> = [
      ["closed at once", (peer) => peer.close()],
      ["closed with the SETUP line unread (RST)", async (peer) => {
        await sleep(50);
        await peer.close();
      }],
    ];
    for (const [what, behave] of variants) {
      await withServer(behave, { connectTimeout: 2 }, async (s, c) => {
        await rejectsWith(c.open(), ConnectError, `open(), ${what}`);
        await rejectsWith(c.call("test/echo", 1), ConnectError, `call, ${what}`);
        await rejectsWith(c.post("test/echo", 1), ConnectError, `post, ${what}`);
        assert.equal(c.pendingCount, 0);
        s.behave = good;
        await worksAgain(c, what);
      });
    }
  });

  // ---------------------------------------------------------------- answers nobody asked for

  test("stray answers (to rsvps never used) are dropped and reported, not parked in the inbox", async () => {
    const strays: Array<[string, Msg]> = [
      ["response999999", toClient("response999999", "stray-hash-rsvp")],
      ["response424242", { event: `poe://${CLIENT}/IKCLite/response424242`, params: "stray-string-event" }],
      ["pong", toClient("pong", "PONG", "IKC")], // no ping was ever sent
    ];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        const first = await peer.next(); // a call is pending while the strays arrive
        for (const [, m] of strays) await peer.send(m);
        await released;
        for (let i = 0; i < 3; i++) await peer.send(toClient("tick", i)); // fills inboxLimit exactly
        await peer.answer(first!);
        for (let m; (m = await peer.next()) !== null;) await peer.answer(m);
      },
      { inboxLimit: 3 },
      async (_s, c, errors) => {
        const problems: string[] = [];
        await c.open();
        const pending = handled(c.call("test/echo", "mine"));
        await sleep(300);
        if (errors.length === 0) problems.push("the stray answers were not reported to onError");
        // responded() for the first stray's state must not hand it out; the others stay unasked,
        // so the ticks that follow show whether they took inbox slots.
        const [state] = strays[0];
        const got = await c.responded(state, { timeout: 0.15 }).then((v) => v, (e) => e as Error);
        if (!(got instanceof TimeoutError)) {
          problems.push(
            `responded(${JSON.stringify(state)}) returned ${
              got instanceof Error ? `${got.constructor.name}: ${got.message}` : JSON.stringify(got)
            } (a stray parked in the inbox)`,
          );
        }
        release();
        assert.equal(await pending, "mine", "the pending call got its own answer, not a stray");
        const full = errors.filter((e) => /inbox full/.test(e.message));
        if (full.length > 0) problems.push(`the strays took inbox slots: ${full[0].message}`);
        const ticks: PerlValue[] = [];
        for (let i = 0; i < 3; i++) {
          ticks.push(
            await c.responded("tick", { timeout: 0.5 }).then((v) => v, (e) => `${(e as Error).constructor.name}`),
          );
        }
        if (JSON.stringify(ticks) !== "[0,1,2]") {
          problems.push(`the inbox (limit 3) gave the three ticks sent after the strays as ${JSON.stringify(ticks)}`);
        }
        await worksAgain(c, "stray answers");
        assert.deepEqual(problems, []);
      },
    );
  });

  test("late answers (after a timeout or an abort) are dropped and reported, not parked in the inbox", async () => {
    const rsvps: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        const held: Msg[] = [];
        for (let i = 0; i < 3; i++) {
          const m = (await peer.next())!;
          rsvps.push((m.rsvp as Msg).state as string);
          held.push(m);
        }
        await released;
        for (const m of held) await peer.answer(m); // all late
        await sleep(100);
        for (let i = 0; i < 2; i++) await peer.send(toClient("tick", i));
        for (let m; (m = await peer.next()) !== null;) await peer.answer(m);
      },
      { inboxLimit: 2 },
      async (_s, c, errors) => {
        await c.open();
        const ac = new AbortController();
        const a = handled(c.call("test/echo", "late-1", { timeout: 0.3 }));
        const b = handled(c.call("test/echo", "late-2", { timeout: 0.3 }));
        const d = handled(c.call("test/echo", "late-3", { timeout: 5, signal: ac.signal }));
        setTimeout(() => ac.abort(new Error("user gave up")), 100);
        await rejectsWith(a, TimeoutError, "call answered late", /no answer/);
        await rejectsWith(b, TimeoutError, "second call answered late", /no answer/);
        await rejectsWith(d, AbortError, "aborted call answered late");
        assert.equal(c.pendingCount, 0);
        await until("the fake server to hold three requests", () => rsvps.length === 3);
        release();
        await until(
          "the late answers to be reported",
          () => errors.some((e) => /dropped an answer|already settled|late/i.test(e.message)),
        );
        for (const state of rsvps) {
          await rejectsWith(
            c.responded(state, { timeout: 0.15 }),
            TimeoutError,
            `responded(${state}) for a late answer`,
          );
        }
        for (let i = 0; i < 2; i++) {
          assert.equal(await c.responded("tick", { timeout: 2 }), i, "inbox slots stayed free");
        }
        assert.ok(!errors.some((e) => /inbox full/.test(e.message)), "late answers took inbox slots");
        await worksAgain(c, "late answers");
      },
    );
  });

  test("odd remote_error shapes reach the right request or onError, without blocking the event loop", async () => {
    const big = "E".repeat(100_000);
    const remoteErr = (params: PerlValue): Msg => ({
      event: { kernel: CLIENT, session: "IKC", state: "remote_error" },
      params,
      is_error: 1,
    });
    const named = (state: string) =>
      `Session 'test' has not published state '${state}'.  Request poe://${FAKE_KERNEL}/test/${state} sent by poe://${CLIENT}/IKCLite`;
    // state → what the fake server answers it with, and where the error must go.
    const shapes: Record<string, { params: (m: Msg) => PerlValue; to: "request" | "onError" }> = {
      string: { params: () => named("string"), to: "request" },
      hash: { params: () => ({ message: "a hash instead of an array", kernel: FAKE_KERNEL }), to: "onError" },
      empty: { params: () => [], to: "onError" },
      big: { params: () => `${big}  ${named("big")}`, to: "request" },
      bigplain: { params: () => [big, FAKE_KERNEL, "check"], to: "onError" },
      bigrequest: { params: () => `Request ${"x".repeat(100_000)}`, to: "onError" },
      manyrequests: { params: () => [`${"Request ".repeat(12_500)}`, FAKE_KERNEL], to: "onError" },
      rsvp: { params: (m) => ["no such thing (matched by its rsvp)", FAKE_KERNEL, "check", m.rsvp!], to: "request" },
      undef: { params: () => null, to: "onError" },
    };
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        for (let m; (m = await peer.next()) !== null;) {
          const event = String(m.event);
          const state = event.slice(event.lastIndexOf("/") + 1);
          const shape = shapes[state];
          if (shape) await peer.send(remoteErr(shape.params(m)));
          else await peer.answer(m);
        }
      },
      {},
      async (_s, c, errors) => {
        await c.open();
        const loop = loopMonitor();
        const calls = Object.entries(shapes).map(([state, shape]) =>
          [state, shape.to, errorOf(c.call(`test/${state}`, state, { timeout: 1 }), `call test/${state}`)] as const
        );
        for (const [state, to, p] of calls) {
          const e = await p;
          if (to === "request") {
            assert.ok(
              e instanceof RemoteError,
              `test/${state}: expected RemoteError, got ${e.constructor.name}: ${e.message}`,
            );
            if (state === "big") {
              // Matched to its request by the name at the end of the whole text, and then shown
              // bounded: the 100 KB a peer sent is not carried into error messages and logs.
              assert.ok(e.remoteMessage.length < 2100, `the text is bounded (${e.remoteMessage.length})`);
              assert.match(e.remoteMessage, /\(\d{6} chars\)$/);
            }
          } else {
            assert.ok(
              e instanceof TimeoutError,
              `test/${state}: expected TimeoutError (its error goes to onError), got ${e.constructor.name}: ${e.message}`,
            );
          }
        }
        const blocked = loop.stop();
        assert.ok(
          blocked.cpu < 100,
          `the event loop was kept from turning by ${blocked.cpu.toFixed(1)} ms of CPU (${
            blocked.wall.toFixed(0)
          } ms elapsed)`,
        );
        const reported = errors.filter((e) => e instanceof RemoteError);
        // The unmatched ones arrive as one report plus a summary with a count (bounded reports).
        const expectOnError = Object.values(shapes).filter((x) => x.to === "onError").length;
        await c.disconnect(); // flushes pending summaries
        const all = errors.filter((e) => e instanceof RemoteError || /more like this/.test(e.message));
        const counted = all.reduce((n, e) => n + (Number(/^(\d+) more like this/.exec(e.message)?.[1]) || 1), 0);
        assert.ok(reported.length >= 1, "remote errors that match no request reached onError");
        assert.equal(
          counted,
          expectOnError,
          `every unmatched remote_error was reported (${all.map((e) => e.message.slice(0, 80)).join(" | ")})`,
        );
        await worksAgain(c, "odd remote_error");
      },
    );
  });

  // ---------------------------------------------------------------- floods and stalls

  test("a flood of 200,000 unsolicited messages with inboxLimit 100: bounded reports, bounded inbox, responsive", async () => {
    const N = 200_000;
    let sentAll!: () => void;
    const allSent = new Promise<void>((r) => (sentAll = r));
    // Made beforehand: freezing 200,000 messages in the fake server would block the shared event
    // loop and be blamed on the client.
    const flood: Uint8Array[] = [];
    const per = 2000;
    for (let i = 0; i < N; i += per) {
      const frames: Uint8Array[] = [];
      let size = 0;
      for (let k = i; k < i + per; k++) {
        const f = encodeFrame(nfreeze(toClient("flood", k)));
        frames.push(f);
        size += f.byteLength;
      }
      const chunk = new Uint8Array(size);
      let at = 0;
      for (const f of frames) {
        chunk.set(f, at);
        at += f.byteLength;
      }
      flood.push(chunk);
    }
    const floodBytes = flood.reduce((n, c) => n + c.byteLength, 0);
    const counted = countingTransport();
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        const answering = (async () => {
          for (let m; (m = await peer.next()) !== null;) await peer.answer(m);
        })();
        for (const chunk of flood) await peer.raw(chunk);
        await peer.send(toClient("end", N)); // read after every message of the flood
        sentAll();
        await answering;
      },
      { inboxLimit: 100, transport: counted.transport },
      async (_s, c, errors) => {
        await c.open();
        const floodRead = new Promise<void>((resolve) => c.on("end", () => resolve()));
        const floodStart = now();
        const loop = loopMonitor();
        const perTurn = counted.watch();
        // Calls made during the flood are answered during the flood.
        const latencies: number[] = [];
        const answeredAt: number[] = [];
        const probing = (async () => {
          let done = false;
          void allSent.then(() => (done = true));
          while (!done) {
            const t0 = now();
            assert.equal(await c.call("test/echo", "alive", { timeout: 30 }), "alive");
            latencies.push(now() - t0);
            answeredAt.push(counted.total());
            await sleep(50);
          }
        })();
        await allSent;
        await probing;
        await floodRead;
        const blocked = loop.stop();
        const most = perTurn.stop();
        // Drain the inbox: it holds at most inboxLimit messages, the newest ones.
        const kept: PerlValue[] = [];
        for (;;) {
          try {
            kept.push(await c.responded("flood", { timeout: 0.1 }));
          } catch (e) {
            assert.ok(e instanceof TimeoutError, `draining the inbox: ${String(e)}`);
            break;
          }
        }
        await worksAgain(c, "flood");
        await c.disconnect(); // flushes the last summary
        // Repeats are coalesced per 1 s window: one report at once and one summary per window. A
        // slow machine stretches the flood over more windows, so the bound counts them.
        const windows = Math.ceil((now() - floodStart) / 1000) + 1;
        const inboxReports = errors.filter((e) => /inbox full/.test(e.message));
        const dropped = inboxReports.reduce(
          (n, e) => n + (Number(/^(\d+) more like this/.exec(e.message)?.[1]) || 1),
          0,
        );
        const summary = inboxReports.filter((e) => /^\d+ more like this/.test(e.message));
        console.log(
          `flood: ${errors.length} onError calls (${summary.length} summaries), kept ${kept.length}, ` +
            `${latencies.length} probe calls, slowest ${Math.max(...latencies).toFixed(0)} ms, loop blocked at most ${
              blocked.cpu.toFixed(0)
            } ms of CPU (${
              blocked.wall.toFixed(0)
            } ms elapsed), at most ${most} bytes read in one turn of the loop, first answer after ${
              answeredAt[0]
            } of ${floodBytes} bytes`,
        );
        assert.equal(kept.length, 100, "the inbox keeps exactly inboxLimit messages");
        assert.deepEqual(kept, Array.from({ length: 100 }, (_, i) => N - 100 + i), "it keeps the newest");
        assert.ok(
          errors.length >= 2 && errors.length <= 2 * windows,
          `onError was called ${errors.length} times for the flood, over ${windows} windows of 1 s`,
        );
        assert.ok(summary.length >= 1, "a summary with a count");
        assert.equal(dropped, N - 100, "the reports account for every dropped message");
        // Answered during the flood, not behind it: counted in bytes of the flood read by then.
        assert.ok(
          answeredAt.length >= 1 && answeredAt[0] < floodBytes,
          `the first call made during the flood was answered after ${answeredAt[0]} of its ${floodBytes} bytes`,
        );
        // The flood is about 19 MB: a client that reads it in bounded slices lets the loop turn
        // between them (timers run, other connections are served). Counted in bytes, so a busy
        // machine cannot change it (CPU time and elapsed time are in the log line above).
        assert.ok(
          most <= MAX_BYTES_PER_TURN,
          `the client read ${most} of the flood's ${floodBytes} bytes without letting the event loop turn`,
        );
      },
    );
  });

  test("a server that stops reading: 50 MiB of posts with maxWriteBuffer 1 MiB and timeout 1 s reject with TimeoutError, memory stays bounded", async () => {
    let reset!: () => void;
    const resetNow = new Promise<void>((r) => (reset = r));
    const SIZE = 64 * 1024;
    const COUNT = 800; // 50 MiB
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        await resetNow; // reads nothing more; then drops the connection with the data unread
      },
      { maxWriteBuffer: 1 << 20 },
      async (s, c) => {
        const problems: string[] = [];
        try {
          await c.open();
          const pad = new Uint8Array(SIZE).fill(0x61); // shared by all posts: only the client's own copies count
          gc();
          const base = mem();
          let peak = base;
          const sampler = setInterval(() => {
            const m = mem();
            peak = { rss: Math.max(peak.rss, m.rss), heap: Math.max(peak.heap, m.heap) };
          }, 5);
          const t0 = now();
          const late = referenceTimer(1000);
          const posts = Array.from({ length: COUNT }, (_, i) => c.post("test/sink", { id: i, pad }, { timeout: 1 }));
          const results = await within(Promise.allSettled(posts), 5000);
          const took = now() - t0;
          await sleep(200);
          const stalledPeak = peak;
          if (results === undefined) {
            problems.push(`posts still pending ${took.toFixed(0)} ms after a 1 s timeout`);
          } else {
            const ok = results.filter((r) => r.status === "fulfilled").length;
            const bad = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) =>
              r.reason as Error
            );
            console.log(`stalled server: ${ok} posts written, ${bad.length} rejected in ${took.toFixed(0)} ms`);
            const slack = await late;
            if (took > 3000 + slack) {
              problems.push(
                `the posts settled only after ${took.toFixed(0)} ms (timers ran ${slack.toFixed(0)} ms late)`,
              );
            }
            if (bad.length === 0) problems.push("no post to a server that does not read timed out");
            const wrong = bad.filter((e) => !(e instanceof TimeoutError));
            if (wrong.length > 0) {
              problems.push(`${wrong.length} posts rejected with ${wrong[0].constructor.name}: ${wrong[0].message}`);
            }
          }
          // What the kernel's socket buffers take (a few MiB on loopback) resolves; the rest must
          // not be frozen and queued in the client. A bounded client holds its 1 MiB write buffer
          // plus one batch in flight, with a copy each (the frozen frames and the joined write):
          // about 3 MiB, since all posts share one `pad`. Everything already written (the few MiB
          // the OS took, each MiB frozen once and joined once) is garbage not yet collected, and
          // counts until the GC runs: up to ~20 MiB of V8 heap+external seen on node. The bounds,
          // 24 MiB of rss and 32 MiB of heap+external (which counts ArrayBuffers on node and Deno;
          // Bun's does not, so there only rss counts), stay well below the 50-100 MiB a client
          // that freezes every post it is handed grows by.
          const growth = (p: { rss: number; heap: number }) => ({
            rss: (p.rss - base.rss) / 2 ** 20,
            heap: (p.heap - base.heap) / 2 ** 20,
          });
          const g1 = growth(stalledPeak);
          // Then the server resets and a good one takes the reconnect: posts that already timed out
          // must not come back to life (and be frozen all at once) on the new connection.
          s.behave = good;
          reset();
          await worksAgain(c, "stalled server");
          await sleep(500);
          clearInterval(sampler);
          const g2 = growth(peak);
          const zombies = s.received.filter((m) => String(m.event).endsWith("/test/sink")).length;
          console.log(
            `stalled server: peak growth while stalled rss ${g1.rss.toFixed(1)} MiB, heap+external ${
              g1.heap.toFixed(1)
            } MiB; ` +
              `through the reset rss ${g2.rss.toFixed(1)} MiB, heap+external ${g2.heap.toFixed(1)} MiB; ` +
              `${zombies} posts that had timed out were sent after the reconnect`,
          );
          const v8 = (globalThis as { Bun?: unknown }).Bun === undefined;
          if (g1.rss >= 24) {
            problems.push(`rss grew by ${g1.rss.toFixed(1)} MiB while posting 50 MiB to a stalled server`);
          }
          if (v8 && g1.heap >= 32) {
            problems.push(`heap+external grew by ${g1.heap.toFixed(1)} MiB while posting 50 MiB to a stalled server`);
          }
          if (g2.rss >= 24) problems.push(`rss grew by ${g2.rss.toFixed(1)} MiB through the reset and reconnect`);
          if (zombies > 0) {
            problems.push(`${zombies} posts that had rejected with TimeoutError were sent after the reconnect`);
          }
        } finally {
          reset();
        }
        assert.deepEqual(problems, []);
      },
    );
  });

  test("disconnect() while the server is not reading settles, and pending posts reject", async () => {
    let reset!: () => void;
    const resetNow = new Promise<void>((r) => (reset = r));
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        await resetNow;
      },
      { maxWriteBuffer: 1 << 20, connectTimeout: 1 },
      async (s, c) => {
        try {
          await c.open();
          const pad = new Uint8Array(64 * 1024);
          const posts = Array.from(
            { length: 256 },
            (_, i) =>
              c.post("test/sink", { id: i, pad }, { timeout: 30 }).then((): "ok" | Error => "ok", (e) => e as Error),
          );
          const call = c.call("test/echo", "stuck", { timeout: 30 }).then((v) => v, (e) => e as Error);
          await sleep(300);
          const t0 = now();
          const late = referenceTimer(1000);
          const closed = await within(c.disconnect().then(() => true), 10_000);
          const took = now() - t0;
          const slack = await late;
          assert.ok(closed, `disconnect() had not settled after ${took.toFixed(0)} ms with writes stuck`);
          assert.ok(
            took < 2500 + slack,
            `disconnect() took ${took.toFixed(0)} ms (it waits at most min(1, connectTimeout) s for the peer; ` +
              `timers ran ${slack.toFixed(0)} ms late)`,
          );
          const r = await within(Promise.all(posts), 2000);
          assert.ok(r !== undefined, "posts still pending after disconnect()");
          for (const o of r!) {
            if (o instanceof Error) {
              assert.ok(o instanceof DisconnectedError, `a post rejected with ${o.constructor.name}: ${o.message}`);
            }
          }
          const e = await call;
          assert.ok(e instanceof DisconnectedError, `the call: ${e instanceof Error ? e.constructor.name : e}`);
          s.behave = good;
        } finally {
          reset();
        }
        await worksAgain(c, "disconnect while stalled");
      },
    );
  });

  test("a reset with writes queued: no post resolves without having arrived, the next call works", async () => {
    const SIZE = 64 * 1024;
    const COUNT = 400; // 25 MiB: far more than the OS buffers and the client's write buffer together
    // The stalled peer reads nothing after negotiating: its receive buffer then keeps its initial
    // size (Linux grows it only while the owner reads), so what the OS can hold is predictable.
    const READ_FIRST = 0;
    const arrived = new Map<number, number>(); // post id → times the fake server read it
    const count = (m: Msg) => {
      const id = (m.params as Msg | null)?.id;
      if (typeof id === "number") arrived.set(id, (arrived.get(id) ?? 0) + 1);
    };
    let reset!: () => void;
    const resetNow = new Promise<void>((r) => (reset = r));
    const counting = async (peer: Peer) => {
      if (!(await peer.negotiate())) return;
      for (let m; (m = await peer.next()) !== null;) {
        count(m);
        await peer.answer(m);
      }
    };
    await withServer(
      async (peer) => {
        if (!(await peer.negotiate())) return;
        for (let i = 0; i < READ_FIRST; i++) {
          const m = await peer.next();
          if (m === null) return;
          count(m);
        }
        await resetNow; // stops reading; then closes with the rest unread
        await peer.closeAndCount(count);
      },
      { maxWriteBuffer: 1 << 20 },
      async (s, c) => {
        await c.open();
        const pad = new Uint8Array(SIZE).fill(0x62);
        const outcome: Array<"ok" | Error | undefined> = new Array(COUNT);
        const posts = Array.from(
          { length: COUNT },
          (_, i) =>
            c.post("test/sink", { id: i, pad }, { timeout: 10 }).then(
              () => void (outcome[i] = "ok"),
              (e) => void (outcome[i] = e),
            ),
        );
        const pending = handled(c.call("test/echo", "queued behind the posts", { timeout: 10 }));
        const pendingResult = pending.then((v) => v, (e) => e as Error);
        try {
          await until("the fake server to negotiate", () => c.connected && (s.peers[0]?.framesRead ?? 0) >= READ_FIRST);
          await sleep(300);
          s.behave = counting; // the reconnect finds a good server
        } finally {
          reset();
        }
        await Promise.all(posts);
        const callResult = await pendingResult;
        await sleep(200);
        const resolved = outcome.filter((o) => o === "ok").length;
        const rejected = outcome.filter((o): o is Error => o instanceof Error);
        const falsely = outcome.map((o, i) => (o === "ok" && !arrived.has(i) ? i : -1)).filter((i) => i >= 0);
        const twice = [...arrived].filter(([, n]) => n > 2).map(([id]) => id);
        console.log(
          `reset with writes queued: ${resolved} resolved, ${rejected.length} rejected ` +
            `(${[...new Set(rejected.map((e) => e.constructor.name))].join(", ")}), ${arrived.size} arrived, ` +
            `${falsely.length} resolved without arriving (ids ${falsely.slice(0, 10).join(",")}${
              falsely.length > 10 ? ",..." : ""
            }); ` +
            `the queued call: ${
              callResult instanceof Error ? callResult.constructor.name : JSON.stringify(callResult)
            }`,
        );
        for (const e of rejected) {
          assert.ok(
            e instanceof DisconnectedError || e instanceof ConnectError,
            `a post rejected with ${e.constructor.name}: ${e.message}`,
          );
        }
        assert.ok(
          callResult === "queued behind the posts" || callResult instanceof DisconnectedError,
          `the call queued behind the posts: ${
            callResult instanceof Error ? `${callResult.constructor.name}: ${callResult.message}` : callResult
          }`,
        );
        assert.deepEqual(twice, [], "a post was sent more than twice (resent more than once)");
        // A post resolves once the OS took its bytes (its documented contract): what the OS held
        // for the stalled peer when it reset is lost without the client knowing. So "resolved but
        // never arrived" may only be that: one run of posts in stream order, no more than the OS
        // takes for a stalled peer. A post still in the client's own queue must not resolve
        // unless it was resent and arrived.
        if (falsely.length > 0) {
          assert.deepEqual(
            falsely,
            Array.from({ length: falsely.length }, (_, k) => falsely[0] + k),
            "the lost posts are one run in stream order",
          );
        }
        const lostBytes = falsely.length * (SIZE + 64);
        // What a reset may lose is what the OS had taken: the writer's send buffer (probed with
        // the client's own write pattern: the channel joins what is queued into one write of up
        // to maxWriteBuffer) and what sat unread in the reader's receive buffer, which the probe
        // cannot see and loopback autotuning sizes differently run to run (seen on Bun: 8 MiB
        // lost, run after run, while the probe saw 3-7 MiB): 8 MiB of slack. This bound is an
        // estimate of the OS's buffering; the strict check that no write resolves once the socket
        // is gone is the transport test's ("a peer reset with many 64 KiB writes queued"), and
        // the lost posts being one run in stream order is asserted above.
        const bound = (await acceptedByStalledPeer(READ_FIRST * SIZE, 1 << 20)) + (8 << 20);
        console.log(
          `reset with writes queued: the OS takes ${
            (bound / 2 ** 20 - 8).toFixed(1)
          } MiB for a peer that stopped reading`,
        );
        assert.ok(
          lostBytes <= bound,
          `${falsely.length} posts (${
            (lostBytes / 2 ** 20).toFixed(1)
          } MiB) resolved but never arrived; the OS takes at most ${
            (bound / 2 ** 20).toFixed(1)
          } MiB for a stalled peer`,
        );
        await worksAgain(c, "reset with writes queued");
      },
    );
  });

  test("requests go out in the order they were made (posts are not overtaken by calls)", async () => {
    await withServer(good, {}, async (s, c) => {
      await c.open();
      const sent = [
        c.post("test/order", 1),
        c.call("test/order", 2),
        c.post("test/order", 3),
        c.postRespond("test/respond", 4),
        c.call("test/order", 5),
      ];
      await Promise.all(sent);
      const seen = s.received.map((m) => (Array.isArray(m.params) ? m.params[0] : m.params));
      assert.deepEqual(seen, [1, 2, 3, 4, 5], "the order the fake server read them in");
      await worksAgain(c, "order");
    });
  });

  test("no unhandled rejection during the file", async () => {
    await sleep(100);
    assert.deepEqual(
      unhandled.map((r) => (r instanceof Error ? `${r.constructor.name}: ${r.message}` : String(r))),
      [],
    );
  });
});

/**
 * How many bytes the OS (and this runtime's transport) accept for a peer that read `readFirst`
 * bytes and then stopped: measured on a fresh pair of sockets, by writing 64 KiB at a time until
 * a write has not completed for 300 ms. That is what a reset can silently discard after the
 * writes reported success.
 */
async function acceptedByStalledPeer(readFirst: number, blockSize = 64 * 1024): Promise<number> {
  const t = detectTransport();
  const l = await t.listen({ host: "127.0.0.1", port: 0 });
  const writer = await t.connect({ host: "127.0.0.1", port: l.port! });
  const reader = (await l.accept())!;
  const block = new Uint8Array(blockSize);
  let accepted = 0;
  const feed = (async () => {
    for (let i = 0; i < (128 << 20) / blockSize; i++) {
      await writer.write(block);
      accepted += block.byteLength;
    }
  })().catch(() => {});
  let read = 0;
  while (read < readFirst) {
    const chunk = await reader.read();
    if (chunk === null) break;
    read += chunk.byteLength;
  }
  let last = -1;
  while (accepted !== last) {
    last = accepted;
    await sleep(300);
  }
  await reader.close();
  await writer.close();
  await l.close();
  await feed;
  return last - read;
}

function mem(): { rss: number; heap: number } {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + (m.external ?? 0) };
}

function gc(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

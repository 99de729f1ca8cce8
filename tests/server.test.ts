// The TypeScript server over real sockets (TCP and Unix) on this runtime's transport, with
// TypeScript clients, and with fake misbehaving clients that must be dropped without harming
// the well-behaved ones.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Connection, IkcClient, IkcServer, nfreeze, thaw } from "../mod.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { encodeFrame, FrameReader } from "../src/core/frame.ts";
import { tempSocketPath } from "./helpers/server.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ascii = (s: string) => new TextEncoder().encode(s);

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Reads from a raw connection until a whole line arrived; returns it without its line end. */
async function readLine(conn: Connection): Promise<string> {
  let text = "";
  for (;;) {
    const chunk = await conn.read();
    if (chunk === null) throw new Error(`EOF before a line (got ${JSON.stringify(text)})`);
    text += String.fromCharCode(...chunk);
    const i = text.search(/\r?\n/);
    if (i >= 0) return text.slice(0, i);
  }
}

/** A raw connection that has negotiated IKC0 with Storable: the caller speaks frames from here on. */
async function rawClient(port: number, name: string): Promise<Connection> {
  const conn = await detectTransport().connect({ host: "127.0.0.1", port });
  await conn.write(ascii(`SETUP KERNEL=${name};FREEZER=Storable;PID=1\r\n`));
  const reply = await readLine(conn);
  assert.match(reply, /^SETUP KERNEL=.*;FREEZER=Storable;PID=\d+$/);
  return conn;
}

describe("TypeScript server over TCP, TypeScript clients", () => {
  let server: IkcServer;
  const errors: Error[] = [];
  const recorded: unknown[] = [];
  before(async () => {
    server = await IkcServer.listen({
      port: 0,
      name: "TsHub",
      aliases: ["hub"],
      connectTimeout: 1,
      maxFrameSize: 1 << 20,
      maxWriteBuffer: 1 << 20,
    });
    server.on("error", (e) => errors.push(e));
    server.publish("test", {
      echo: (p) => p,
      add: (p) => (p as number[]).reduce((a, b) => a + b, 0),
      record: (p) => void recorded.push(p),
      big: (n) => "x".repeat(n as number),
      throws: () => {
        throw new Error("this state always throws");
      },
    });
  });
  after(async () => {
    await server?.close({ timeout: 1 });
  });

  test("listens on the port it picked and answers IKC0 and classic IKC", async () => {
    assert.ok(server.port! > 0);
    for (const protocol of ["IKC0", "IKC"] as const) {
      const c = await IkcClient.connect({ host: "127.0.0.1", port: server.port, protocol, timeout: 3 });
      try {
        assert.equal(c.protocol, protocol);
        assert.equal(c.remoteKernel, server.id);
        assert.ok(c.remoteAliases.includes("TsHub") && c.remoteAliases.includes("hub"));
        assert.equal(await c.ping(), true);
        assert.equal(await c.call("test/add", [1, 2, 3]), 6);
        assert.deepEqual(await c.call("test/echo", ["a", "b"], { context: "list" }), ["a", "b"]);
        await c.post("test/record", protocol);
        await c.ping();
        assert.ok(recorded.includes(protocol));
      } finally {
        await c.disconnect();
      }
    }
  });

  test("a state that throws answers with a remote_error and the server keeps serving", async () => {
    const c = await IkcClient.connect({ host: "127.0.0.1", port: server.port, timeout: 3 });
    try {
      await assert.rejects(c.call("test/throws"), /this state always throws/);
      assert.equal(await c.call("test/echo", "after"), "after");
    } finally {
      await c.disconnect();
    }
  });

  test("1,000 calls in flight from 4 clients, each answered", async () => {
    const clients = await Promise.all(
      [0, 1, 2, 3].map((i) => IkcClient.connect({ host: "127.0.0.1", port: server.port, name: `Many${i}` })),
    );
    try {
      const answers = await Promise.all(
        clients.flatMap((c, ci) => Array.from({ length: 250 }, (_, i) => c.call("test/echo", `${ci}:${i}`))),
      );
      answers.forEach((a, k) => assert.equal(a, `${Math.floor(k / 250)}:${k % 250}`));
    } finally {
      await Promise.all(clients.map((c) => c.disconnect()));
    }
  });

  // Each case: what the bad client does, and what the report must say. A good client works
  // throughout, and its call made while the bad one misbehaves is answered.
  const misbehaving: Array<[string, RegExp, (port: number) => Promise<Connection>]> = [
    ["garbage instead of negotiation", /negotiation|expected/i, async (port) => {
      const conn = await detectTransport().connect({ host: "127.0.0.1", port });
      await conn.write(ascii("GET / HTTP/1.1\r\n".repeat(20)));
      return conn;
    }],
    [
      "a negotiation that never ends (silence)",
      /not finished within 1 s/,
      (port) => detectTransport().connect({ host: "127.0.0.1", port }),
    ],
    ["an endless negotiation line, trickled", /longer than 4096|not finished within/, async (port) => {
      const conn = await detectTransport().connect({ host: "127.0.0.1", port });
      void (async () => {
        for (let i = 0; i < 100; i++) {
          try {
            await conn.write(ascii("S".repeat(100)));
          } catch {
            return;
          }
          await sleep(5);
        }
      })();
      return conn;
    }],
    ["an oversized frame", /exceeds maxFrameSize|LimitError|larger than/i, async (port) => {
      const conn = await rawClient(port, "Big");
      await conn.write(ascii("2000000000\0xxxx"));
      return conn;
    }],
    ["a garbage frame header", /frame|header|digit/i, async (port) => {
      const conn = await rawClient(port, "Hdr");
      await conn.write(ascii("12abc\0zzzzzzzzzzzz"));
      return conn;
    }],
    ["a garbage frame body", /Storable|opcode|corrupt|magic|unknown/i, async (port) => {
      const conn = await rawClient(port, "Body");
      const junk = new Uint8Array([5, 11, 0xfe, 0xed, 0xfa, 0xce, 0xfe, 0xed]);
      await conn.write(encodeFrame(junk));
      return conn;
    }],
    ["a frame that is not a hash", /not a hash/, async (port) => {
      const conn = await rawClient(port, "Arr");
      await conn.write(encodeFrame(nfreeze([1, 2, 3])));
      return conn;
    }],
    ["vanishing in the middle of a frame", /middle of a frame/, async (port) => {
      const conn = await rawClient(port, "Gone");
      await conn.write(ascii("100\0only ten b"));
      await sleep(20);
      await conn.close();
      return conn;
    }],
    ["a reader too slow for what it is sent", /reads too slowly/, async (port) => {
      const conn = await rawClient(port, "Slow");
      // 200 calls for 100 KB each, never reading the answers: 20 MB for a 1 MiB write buffer,
      // more than the loopback's socket buffers take on its behalf (several MB).
      for (let i = 0; i < 200; i++) {
        await conn.write(encodeFrame(nfreeze({
          event: "poe://TsHub/test/big",
          params: 100_000,
          from: { kernel: "Slow", session: "IKCLite" },
          rsvp: { kernel: "Slow", session: "IKCLite", state: `response${i}` },
          wantarray: 0,
        })));
      }
      return conn;
    }],
  ];
  for (const [what, reason, misbehave] of misbehaving) {
    test(`a client sending ${what} is dropped with a reason; the others are served`, async () => {
      const good = await IkcClient.connect({ host: "127.0.0.1", port: server.port, name: "Good", timeout: 5 });
      const before = errors.length;
      try {
        const bad = await misbehave(server.port!);
        const answered = good.call("test/echo", what);
        await until(`the report about ${what}`, () => errors.slice(before).some((e) => reason.test(e.message)), 8000);
        assert.equal(await answered, what);
        assert.equal(await good.call("test/add", [2, 3]), 5);
        // The bad connection was closed by the server: reads end.
        const t0 = Date.now();
        while ((await bad.read().catch(() => null)) !== null) {
          if (Date.now() - t0 > 5000) throw new Error("the server did not close the bad connection");
        }
        await bad.close();
      } finally {
        await good.disconnect();
      }
      assert.ok(server.clients.every((c) => c.kernel !== "Big" && c.kernel !== "Slow"));
    });
  }

  test("a stray answer and an odd remote_error from a client are reported, not fatal", async () => {
    const conn = await rawClient(server.port!, "Odd");
    const before = errors.length;
    try {
      await conn.write(
        encodeFrame(nfreeze({ event: { kernel: server.id, session: "IKCLite", state: "response999999" }, params: 1 })),
      );
      await conn.write(
        encodeFrame(nfreeze({ event: { session: "IKC", state: "remote_error" }, params: { weird: [1] }, is_error: 1 })),
      );
      await conn.write(encodeFrame(nfreeze({
        event: "poe://TsHub/test/echo",
        params: "still here",
        rsvp: { kernel: "Odd", session: "IKCLite", state: "r1" },
        wantarray: 0,
      })));
      // Frames back: only the answer to r1 (the stray answer is dropped and reported; the odd
      // remote_error is never answered with an error).
      const reader = new FrameReader();
      let answer: Record<string, unknown> | undefined;
      const seen: unknown[] = [];
      while (!answer) {
        const chunk = await conn.read();
        assert.ok(chunk, "the server kept the connection");
        for (const f of reader.push(chunk)) {
          const m = thaw(f) as Record<string, unknown>;
          seen.push(m.event);
          if ((m.event as Record<string, unknown>)?.state === "r1") answer = m;
        }
      }
      assert.equal(answer.params, "still here");
      assert.equal(seen.length, 1, JSON.stringify(seen));
      await until("reports", () => errors.length >= before + 2);
      assert.match(errors.slice(before).map((e) => e.message).join("\n"), /stray answer to IKCLite\/response999999/);
    } finally {
      await conn.close();
    }
  });
});

describe("TypeScript server on a Unix socket", () => {
  test("serves over the socket file and removes it on close", async () => {
    const path = tempSocketPath();
    const server = await IkcServer.listen({ path, name: "UnixHub" });
    server.publish("test", { echo: (p) => p });
    assert.equal(server.path, path);
    const c = await IkcClient.connect({ path, timeout: 3 });
    try {
      assert.ok(c.remoteAliases.some((a) => a.startsWith("unix:")), `announced ${c.remoteAliases}`);
      assert.equal(await c.call("test/echo", "over unix"), "over unix");
    } finally {
      await c.disconnect();
      await server.close();
    }
    const { existsSync } = await import("node:fs");
    assert.equal(existsSync(path), false);
  });

  test("a port in use is a ConnectError", async () => {
    const a = await IkcServer.listen({ port: 0 });
    try {
      await assert.rejects(IkcServer.listen({ port: a.port }), /EADDRINUSE|in use/);
    } finally {
      await a.close();
    }
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { existsSync, lstatSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectError, DisconnectedError } from "../src/core/errors.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { MemoryConnection, memoryTransport } from "../src/transport/memory.ts";
import { nodeTransport } from "../src/transport/node.ts";
import type { Connection, Listener, Transport } from "../src/transport/types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >>> 8) + seed) & 0xff;
  return out;
}

/** Reads until `n` bytes arrived (or EOF); checks every chunk against blockSize. */
async function readBytes(conn: Connection, n: number, blockSize = 65535): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const chunk = await conn.read();
    if (chunk === null) break;
    assert.ok(chunk.byteLength > 0 && chunk.byteLength <= blockSize, `chunk of ${chunk.byteLength} bytes`);
    out.set(chunk, got);
    got += chunk.byteLength;
  }
  assert.equal(got, n, "bytes received");
  return out;
}

/** Everything up to EOF, as text. */
async function readAll(conn: Connection): Promise<string> {
  let text = "";
  for (let b = await conn.read(); b !== null; b = await conn.read()) text += dec(b);
  return text;
}

/** Echoes until EOF, then closes. */
async function echo(conn: Connection): Promise<void> {
  try {
    for (let c = await conn.read(); c !== null; c = await conn.read()) await conn.write(c);
  } finally {
    await conn.close();
  }
}

/** A fresh folder for Unix sockets, removed by the returned function. */
function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "ikc-listen-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `fn` with a listener that is closed afterwards whatever happens. */
async function withListener(
  transport: Transport,
  options: Parameters<Transport["listen"]>[0],
  fn: (l: Listener) => Promise<void>,
): Promise<void> {
  const listener = await transport.listen(options);
  try {
    await fn(listener);
  } finally {
    await listener.close();
  }
}

interface Case {
  label: string;
  transport: Transport;
  /** Real sockets: Unix socket files exist, and a raw node:net peer can be used. */
  real: boolean;
}

const detected = detectTransport();
const cases: Case[] = [{ label: `${detected.name} (native)`, transport: detected, real: true }];
if (detected.name !== "node") cases.push({ label: "node (node:net compat)", transport: nodeTransport, real: true });
cases.push({ label: "memory", transport: memoryTransport(), real: false });

for (const { label, transport, real } of cases) {
  describe(`${label} transport listen`, () => {
    test("TCP on port 0: connect, echo both ways; accepted connections outlive the listener", async () => {
      const listener = await transport.listen({ port: 0 });
      let client: Connection | undefined;
      let server: Connection | null = null;
      try {
        assert.ok(listener.port !== undefined && listener.port > 0, `bound port ${listener.port}`);
        assert.equal(listener.address, `127.0.0.1:${listener.port}`);
        assert.equal(listener.path, undefined);
        client = await transport.connect({ host: "127.0.0.1", port: listener.port });
        server = await listener.accept();
        assert.ok(server !== null);
        assert.equal(typeof server.remote, "string");
        assert.ok(server.remote.length > 0);
        await client.write(enc("ping"));
        assert.equal(dec(await readBytes(server, 4)), "ping");
        await server.write(enc("pong!"));
        assert.equal(dec(await readBytes(client, 5)), "pong!");
        await listener.close();
        await listener.close(); // idempotent
        assert.equal(await listener.accept(), null);
        await client.write(enc("still here"));
        assert.equal(dec(await readBytes(server, 10)), "still here");
        await server.write(enc("so am I"));
        assert.equal(dec(await readBytes(client, 7)), "so am I");
        await client.close();
        assert.equal(await server.read(), null);
        await server.close();
        await Promise.all([client.closed, server.closed]);
      } finally {
        await client?.close();
        await server?.close();
        await listener.close();
      }
    });

    if (real) {
      test("Unix socket: listen, connect, echo; the socket file is removed on close", async () => {
        const tmp = tempDir();
        try {
          const path = join(tmp.dir, "ikc.sock");
          const listener = await transport.listen({ path });
          let client: Connection | undefined;
          let server: Connection | null = null;
          try {
            assert.equal(listener.path, path);
            assert.equal(listener.address, path);
            assert.equal(listener.port, undefined);
            assert.ok(lstatSync(path).isSocket(), "socket file exists while listening");
            client = await transport.connect({ path });
            server = await listener.accept();
            assert.ok(server !== null);
            const echoing = echo(server);
            const data = pattern(100000, 4);
            const [, back] = await Promise.all([client.write(data), readBytes(client, data.byteLength)]);
            assert.deepEqual(back, data);
            await listener.close();
            assert.equal(existsSync(path), false, "socket file removed");
            await assert.rejects(transport.connect({ path }), ConnectError);
            // the accepted connection outlives the listener
            await client.write(enc("after"));
            assert.equal(dec(await readBytes(client, 5)), "after");
            await client.close();
            await echoing;
            await server.closed;
          } finally {
            await client?.close();
            await server?.close();
            await listener.close();
          }
        } finally {
          tmp.remove();
        }
      });

      test("Unix socket: a stale socket file is replaced, any other file is not", async () => {
        const tmp = tempDir();
        try {
          const path = join(tmp.dir, "ikc.sock");
          // A stale socket: bound elsewhere, renamed into place, its listener gone.
          const other = join(tmp.dir, "other.sock");
          const old = net.createServer();
          await new Promise<void>((r) => old.listen(other, () => r()));
          renameSync(other, path);
          await new Promise<void>((r) => old.close(() => r()));
          assert.ok(lstatSync(path).isSocket(), "stale socket file in place");
          await assert.rejects(transport.connect({ path }), ConnectError); // nobody listens there
          await withListener(transport, { path }, async (listener) => {
            const client = await transport.connect({ path });
            const server = (await listener.accept())!;
            await client.write(enc("fresh"));
            assert.equal(dec(await readBytes(server, 5)), "fresh");
            await client.close();
            assert.equal(await server.read(), null);
            await server.close();
          });
          assert.equal(existsSync(path), false);

          const plain = join(tmp.dir, "plain");
          writeFileSync(plain, "not a socket");
          await assert.rejects(
            transport.listen({ path: plain }),
            (e: unknown) => e instanceof ConnectError && e.message.includes(plain) && e.message.includes("EADDRINUSE"),
          );
          assert.equal(existsSync(plain), true, "a regular file is left alone");
        } finally {
          tmp.remove();
        }
      });
    } else {
      test("Unix path: listen, connect, echo; the path is free again after close", async () => {
        const path = "/nonexistent/ikc-memory.sock";
        await withListener(transport, { path }, async (listener) => {
          assert.equal(listener.path, path);
          assert.equal(listener.port, undefined);
          assert.equal(listener.address, path);
          await assert.rejects(
            transport.listen({ path }),
            (e: unknown) => e instanceof ConnectError && /EADDRINUSE/.test(e.message),
          );
          const client = await transport.connect({ path });
          assert.equal(client.remote, path);
          const server = (await listener.accept())!;
          assert.equal(server.remote, path);
          const echoing = echo(server);
          const [, back] = await Promise.all([client.write(enc("unix")), readBytes(client, 4)]);
          assert.equal(dec(back), "unix");
          await client.close();
          await echoing;
        });
        await assert.rejects(
          transport.connect({ path }),
          (e: unknown) => e instanceof ConnectError && e.message.includes(path) && /ENOENT/.test(e.message),
        );
        const again = await transport.listen({ path });
        await again.close();
      });
    }

    test("20 concurrent clients", async () => {
      await withListener(transport, { port: 0 }, async (listener) => {
        const n = 20;
        const serving = (async () => {
          const echoes: Promise<void>[] = [];
          for (let i = 0; i < n; i++) {
            const conn = await listener.accept();
            assert.ok(conn !== null);
            echoes.push(echo(conn));
          }
          await Promise.all(echoes);
        })();
        const clients = Array.from({ length: n }, async (_, i) => {
          const conn = await transport.connect({ host: "127.0.0.1", port: listener.port! });
          try {
            const msg = pattern(5000 + i * 100, i);
            const [, back] = await Promise.all([conn.write(msg), readBytes(conn, msg.byteLength)]);
            assert.deepEqual(back, msg, `client ${i}`);
          } finally {
            await conn.close();
          }
        });
        await Promise.all([...clients, serving]);
      });
    });

    test("bytes sent right after connect are kept while accept() is late", async () => {
      await withListener(transport, { port: 0, blockSize: 4096 }, async (listener) => {
        const client = await transport.connect({ host: "127.0.0.1", port: listener.port! });
        try {
          const data = pattern(200000, 9);
          await client.write(data);
          await client.closeWrite!();
          await sleep(200);
          const server = (await listener.accept())!;
          assert.deepEqual(await readBytes(server, data.byteLength, 4096), data);
          assert.equal(await server.read(), null);
          await server.close();
          assert.equal(await client.read(), null);
          await client.closed;
        } finally {
          await client.close();
        }
      });
    });

    test("accept() returns null after close(); queued connections are closed; the port is freed", async () => {
      const listener = await transport.listen({ port: 0 });
      const port = listener.port!;
      let client: Connection | undefined;
      try {
        const pending = listener.accept();
        client = await transport.connect({ host: "127.0.0.1", port });
        assert.ok((await pending) !== null);
        const queued = await transport.connect({ host: "127.0.0.1", port });
        await sleep(50); // let the runtime accept it into the queue
        await listener.close();
        assert.equal(await listener.accept(), null);
        assert.equal(await listener.accept(), null);
        // the queued one sees the end of the connection: EOF, or a reset where the kernel held it
        const end = await queued.read().catch((e: unknown) => {
          assert.ok(e instanceof DisconnectedError, String(e));
          return null;
        });
        assert.equal(end, null);
        await queued.close();
        await queued.closed;
        await assert.rejects(
          transport.connect({ host: "127.0.0.1", port }),
          (e: unknown) => e instanceof ConnectError && e.message.includes("ECONNREFUSED"),
        );
        const waiting = await transport.listen({ port: 0 });
        const stopped = waiting.accept();
        await waiting.close();
        assert.equal(await stopped, null, "a pending accept() ends with null");
      } finally {
        await client?.close();
        await listener.close();
      }
    });

    test("listening on a port in use rejects with ConnectError naming the address", async () => {
      await withListener(transport, { host: "127.0.0.1", port: 0 }, async (listener) => {
        await assert.rejects(
          transport.listen({ host: "127.0.0.1", port: listener.port! }),
          (e: unknown) =>
            e instanceof ConnectError && e.message.includes(`127.0.0.1:${listener.port}`) &&
            e.message.includes("EADDRINUSE"),
        );
      });
      await assert.rejects(transport.listen({ port: 70000 }), ConnectError);
      await assert.rejects(transport.listen({ port: 0, blockSize: 0 }), ConnectError);
    });

    test("closeWrite on the accepted side: the peer reads EOF, then still writes back", async () => {
      await withListener(transport, { port: 0 }, async (listener) => {
        if (real) {
          // A raw node:net peer that keeps writing after our FIN (allowHalfOpen).
          const peer = net.connect({ host: "127.0.0.1", port: listener.port!, allowHalfOpen: true });
          peer.on("error", () => {});
          try {
            const got: string[] = [];
            const peerEnded = new Promise<void>((resolve) => {
              peer.on("data", (d: Uint8Array) => got.push(dec(d)));
              peer.on("end", () => resolve());
            });
            const server = (await listener.accept())!;
            await server.write(enc("bye"));
            await server.closeWrite!();
            await assert.rejects(server.write(enc("x")), DisconnectedError);
            await peerEnded;
            assert.equal(got.join(""), "bye");
            peer.end("reply after your FIN");
            assert.equal(await readAll(server), "reply after your FIN");
            await server.closed;
          } finally {
            peer.destroy();
          }
        } else {
          const client = await transport.connect({ port: listener.port! });
          const server = (await listener.accept())!;
          await server.write(enc("bye"));
          await server.closeWrite!();
          await assert.rejects(server.write(enc("x")), DisconnectedError);
          assert.equal(await readAll(client), "bye");
          await client.write(enc("reply after your FIN"));
          await client.closeWrite!();
          assert.equal(await readAll(server), "reply after your FIN");
          await Promise.all([client.closed, server.closed]);
        }
      });
    });

    test("1 MiB each way arrives intact in chunks of at most blockSize", async () => {
      await withListener(transport, { port: 0, blockSize: 1000 }, async (listener) => {
        const client = await transport.connect({ host: "127.0.0.1", port: listener.port!, blockSize: 4096 });
        const server = (await listener.accept())!;
        try {
          const up = pattern(1024 * 1024, 1);
          const down = pattern(1024 * 1024, 2);
          const [, , gotUp, gotDown] = await Promise.all([
            client.write(up),
            server.write(down),
            readBytes(server, up.byteLength, 1000),
            readBytes(client, down.byteLength, 4096),
          ]);
          assert.deepEqual(gotUp, up);
          assert.deepEqual(gotDown, down);
        } finally {
          await client.close();
          await server.close();
        }
      });
    });

    test("a peer reset with many 64 KiB writes queued: every write rejects or was really written", async () => {
      // The reader drains a little once (so node batches the queued writes into one in-flight
      // writev), then stops; once the writes stall, it resets. Nothing may resolve after that.
      let drainSome: () => Promise<void>;
      let reset: () => void;
      let close: () => Promise<void>;
      let client: Connection;
      if (real) {
        const sockets: net.Socket[] = [];
        const server = net.createServer((s) => {
          s.on("error", () => {});
          s.pause();
          sockets.push(s);
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const port = (server.address() as net.AddressInfo).port;
        client = await transport.connect({ host: "127.0.0.1", port });
        while (sockets.length === 0) await sleep(5);
        drainSome = async () => {
          sockets[0].resume();
          await sleep(20);
          sockets[0].pause();
        };
        reset = () => sockets[0].resetAndDestroy();
        close = () => new Promise<void>((r) => server.close(() => r()));
      } else {
        const listener = await transport.listen({ port: 0 });
        client = await transport.connect({ port: listener.port! });
        const server = (await listener.accept()) as MemoryConnection;
        drainSome = async () => {
          for (let i = 0; i < 8; i++) await server.read();
        };
        reset = () => server.destroy(new Error("reset"));
        close = () => listener.close();
      }
      try {
        const chunk = new Uint8Array(64 * 1024);
        let resolved = 0;
        let rejected = 0;
        let resolvedAfterReset = 0;
        let isReset = false;
        let lastProgress = Date.now();
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 400; i++) {
          writes.push(
            client.write(chunk).then(
              () => {
                resolved++;
                lastProgress = Date.now();
                if (isReset) resolvedAfterReset++;
              },
              (e: unknown) => {
                assert.ok(e instanceof DisconnectedError, `rejected with ${e}`);
                rejected++;
              },
            ),
          );
        }
        await sleep(100);
        await drainSome();
        while (Date.now() - lastProgress < 300) await sleep(50);
        assert.ok(resolved < 400, `writes stalled (${resolved} resolved)`);
        const before = resolved;
        reset();
        isReset = true;
        await Promise.all(writes);
        assert.equal(resolvedAfterReset, 0, `${resolvedAfterReset} writes resolved after the reset`);
        assert.equal(resolved, before);
        assert.equal(resolved + rejected, 400);
        await client.closed;
        await assert.rejects(client.write(chunk), DisconnectedError);
      } finally {
        await client.close();
        await close();
      }
    });
  });
}

describe("memory transport", () => {
  test("registries are private to each transport", async () => {
    const a = memoryTransport();
    const b = memoryTransport();
    await withListener(a, { port: 0 }, async (listener) => {
      await assert.rejects(
        b.connect({ port: listener.port! }),
        (e: unknown) => e instanceof ConnectError && e.message.includes("ECONNREFUSED"),
      );
      const other = await b.listen({ port: listener.port! }); // free in b
      const second = await a.listen({ port: 0 });
      assert.notEqual(second.port, listener.port);
      await Promise.all([other.close(), second.close()]);
    });
  });

  test("writes are copied and delivered asynchronously", async () => {
    const [a, b] = MemoryConnection.pair({ remote: "b" }, { remote: "a", blockSize: 3 });
    assert.equal(a.remote, "b");
    let read: Uint8Array | null | undefined;
    void b.read().then((c) => (read = c));
    const buf = Uint8Array.of(1, 2, 3, 4, 5);
    const written = a.write(buf);
    buf.fill(9); // the writer reuses its buffer at once
    assert.equal(read, undefined, "not delivered synchronously");
    await written;
    await Promise.resolve();
    assert.deepEqual(read, Uint8Array.of(1, 2, 3));
    assert.deepEqual(await b.read(), Uint8Array.of(4, 5));
    await a.close();
    assert.equal(await b.read(), null);
    await b.closed;
    await assert.rejects(a.write(Uint8Array.of(1)), DisconnectedError);
    await assert.rejects(b.write(Uint8Array.of(1)), DisconnectedError);
    assert.equal(await a.read(), null);
  });

  test("close flushes pending writes first; a local close ends pending reads with null", async () => {
    const [a, b] = MemoryConnection.pair({}, {}, { window: 10 });
    const writes = [a.write(pattern(20)), a.write(pattern(20, 1)), a.write(pattern(5, 2))];
    const pendingRead = a.read();
    const closing = a.close();
    assert.equal(await pendingRead, null);
    await Promise.all(writes);
    await closing;
    const got = await readBytes(b, 45);
    assert.deepEqual(got.subarray(20, 40), pattern(20, 1));
    assert.equal(await b.read(), null);
  });

  test("the window applies backpressure: writes wait until the reader reads", async () => {
    const [a, b] = MemoryConnection.pair({}, { blockSize: 10 }, { window: 100 });
    let done = 0;
    const writes = Array.from({ length: 5 }, () => a.write(pattern(60)).then(() => done++));
    await sleep(10);
    assert.equal(done, 2, "two writes fill the window; the rest wait");
    const all = readBytes(b, 300, 10);
    await Promise.all(writes);
    assert.equal((await all).byteLength, 300);
    await a.close();
    await b.close();
  });

  test("destroy() rejects the peer's pending and next reads and its writes", async () => {
    const [a, b] = MemoryConnection.pair();
    const pending = b.read();
    await b.write(enc("queued, never read"));
    a.destroy(new Error("cable cut"));
    await assert.rejects(pending, (e: unknown) => e instanceof DisconnectedError && /ECONNRESET/.test(e.message));
    await assert.rejects(b.read(), DisconnectedError);
    await assert.rejects(b.write(enc("x")), DisconnectedError);
    await Promise.all([a.closed, b.closed]);
    assert.equal(await a.read(), null);
    await b.close();
  });

  test("connect honours an aborted signal", async () => {
    const t = memoryTransport();
    await withListener(t, { port: 0 }, async (listener) => {
      const ac = new AbortController();
      ac.abort(new Error("stop"));
      await assert.rejects(
        t.connect({ port: listener.port!, signal: ac.signal }),
        (e: unknown) => e instanceof ConnectError && /aborted/.test(e.message),
      );
      const during = new AbortController();
      const attempt = t.connect({ port: listener.port!, signal: during.signal });
      during.abort();
      await assert.rejects(attempt, ConnectError);
    });
  });
});

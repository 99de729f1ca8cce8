import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { Buffer } from "node:buffer";
import { ConnectError, DisconnectedError } from "../src/core/errors.ts";
import { detectTransport, transportFor } from "../src/transport/detect.ts";
import { nodeTransport } from "../src/transport/node.ts";
import { ChunkQueue } from "../src/transport/chunk-queue.ts";
import type { Connection, Transport } from "../src/transport/types.ts";
import { spawn } from "node:child_process";
import { perlMissing } from "./helpers/perl.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >>> 8) + seed) & 0xff;
  return out;
}

interface TestServer {
  port: number;
  path?: string;
  /** Sockets accepted so far. */
  sockets: net.Socket[];
  close(): Promise<void>;
}

/** A node:net server on 127.0.0.1 (or a Unix socket) running `onConnection` for each client. */
async function startServer(onConnection: (s: net.Socket) => void, unix = false): Promise<TestServer> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
    onConnection(s);
  });
  let path: string | undefined;
  if (unix) {
    path = join(tmpdir(), `ikc-transport-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
    await new Promise<void>((r) => server.listen(path, () => r()));
  } else {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  }
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : 0,
    path,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          if (path) rmSync(path, { force: true });
          resolve();
        });
      }),
  };
}

const echo = (s: net.Socket) => s.pipe(s);

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

/**
 * A TCP port whose accept queue is full (a Perl listener with backlog 1 that never accepts, plus
 * filler connections), so a further connect hangs in SYN_SENT until aborted.
 */
async function hangingPort(): Promise<{ port: number; close(): void }> {
  const child = spawn("perl", [
    "-MIO::Socket::INET",
    "-e",
    '$|=1; my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die $!; print $s->sockport, "\\n"; sleep 60',
  ], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (c: Uint8Array) => {
      text += new TextDecoder().decode(c);
      if (text.includes("\n")) resolve(Number(text.trim()));
    });
    child.on("error", reject);
  });
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ host: "127.0.0.1", port });
    s.on("error", () => {});
    fillers.push(s);
  }
  await sleep(100);
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill();
    },
  };
}

/** A port nothing listens on: bound by us, then released. */
async function freePort(): Promise<number> {
  const s = await startServer(() => {});
  await s.close();
  return s.port;
}

const detected = detectTransport();
const transports: Transport[] = [detected];
if (detected.name !== "node") transports.push(nodeTransport);

test("detectTransport picks the running runtime", () => {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  assert.equal(detected.name, g.Deno ? "deno" : g.Bun ? "bun" : "node");
  for (const name of ["deno", "bun", "node"] as const) assert.equal(transportFor(name).name, name);
});

test("ChunkQueue splits blocks, queues without readers, ends and fails", async () => {
  let paused = 0;
  let resumed = 0;
  const q = new ChunkQueue(4, 8, () => paused++, () => resumed++);
  const early = q.read();
  q.push(Uint8Array.of(1, 2, 3, 4, 5, 6));
  assert.deepEqual(await early, Uint8Array.of(1, 2, 3, 4));
  q.push(Uint8Array.of(7, 8, 9));
  q.push(Uint8Array.of(10, 11, 12, 13, 14));
  assert.equal(paused, 1); // 2 + 3 + 5 bytes > 8
  assert.deepEqual(await q.read(), Uint8Array.of(5, 6));
  assert.deepEqual(await q.read(), Uint8Array.of(7, 8, 9));
  assert.equal(resumed, 0); // 5 bytes still queued
  assert.deepEqual(await q.read(), Uint8Array.of(10, 11, 12, 13));
  assert.equal(resumed, 1); // 1 byte left: at most one block
  q.fail(new DisconnectedError("reset"));
  assert.deepEqual(await q.read(), Uint8Array.of(14));
  await assert.rejects(q.read(), DisconnectedError);
});

for (const transport of transports) {
  describe(`${transport.name} transport`, () => {
    test("echo over TCP", async () => {
      const server = await startServer(echo);
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port });
        assert.equal(conn.remote, `127.0.0.1:${server.port}`);
        await conn.write(new TextEncoder().encode("hello"));
        await conn.write(new TextEncoder().encode(" world"));
        assert.equal(new TextDecoder().decode(await readBytes(conn, 11)), "hello world");
        await conn.close();
        await conn.closed;
      } finally {
        await server.close();
      }
    });

    test("echo over a Unix socket", async () => {
      const server = await startServer(echo, true);
      try {
        const conn = await transport.connect({ path: server.path! });
        assert.equal(conn.remote, server.path);
        const data = pattern(200000, 3);
        const [, back] = await Promise.all([conn.write(data), readBytes(conn, data.byteLength)]);
        assert.deepEqual(back, data);
        await conn.close();
      } finally {
        await server.close();
      }
    });

    test("queuedBytes tells whether the next read waits on the OS", async () => {
      const server = await startServer((s) => s.write(pattern(10)));
      try {
        // Reads of at most 4 bytes: the first leaves 6 of the 10 behind, the third takes the last.
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port, blockSize: 4 });
        assert.equal((await conn.read())!.byteLength, 4);
        assert.ok(conn.queuedBytes! > 0, `more to read after the first block, queuedBytes ${conn.queuedBytes}`);
        let got = 4;
        while (got < 10) got += (await conn.read())!.byteLength;
        assert.equal(got, 10);
        assert.equal(conn.queuedBytes, 0);
        await conn.close();
      } finally {
        await server.close();
      }
    });

    test("reads never exceed blockSize; EOF gives null", async () => {
      const data = pattern(100000, 1);
      const server = await startServer((s) => s.end(data));
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port, blockSize: 1000 });
        assert.deepEqual(await readBytes(conn, data.byteLength, 1000), data);
        assert.equal(await conn.read(), null);
        assert.equal(await conn.read(), null);
        await conn.closed;
      } finally {
        await server.close();
      }
    });

    test("data arriving while nobody reads is kept (and backpressure lets it all through)", async () => {
      const data = pattern(3 * 1024 * 1024, 2);
      const server = await startServer((s) => {
        s.write(data.subarray(0, 10));
        setTimeout(() => s.end(data.subarray(10)), 20);
      });
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port, blockSize: 4096 });
        await sleep(200);
        assert.deepEqual(await readBytes(conn, data.byteLength, 4096), data);
        assert.equal(await conn.read(), null);
      } finally {
        await server.close();
      }
    });

    test("8 MiB write arrives intact", async () => {
      const data = pattern(8 * 1024 * 1024, 5);
      let received = 0;
      const chunks: Uint8Array[] = [];
      let done!: () => void;
      const all = new Promise<void>((r) => (done = r));
      const server = await startServer((s) => {
        s.on("data", (c: Uint8Array) => {
          chunks.push(c);
          received += c.byteLength;
          if (received >= data.byteLength) done();
        });
      });
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port });
        await conn.write(data);
        await conn.write(Uint8Array.of(1, 2, 3));
        await all;
        const got = Buffer.concat(chunks);
        assert.equal(got.byteLength, data.byteLength + 3);
        assert.ok(Buffer.from(data.buffer).equals(got.subarray(0, data.byteLength)), "8 MiB intact");
        assert.deepEqual([...got.subarray(data.byteLength)], [1, 2, 3]);
        await conn.close();
      } finally {
        await server.close();
      }
    });

    test("8 MiB echoed back intact", async () => {
      const server = await startServer(echo);
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port });
        const data = pattern(8 * 1024 * 1024, 6);
        const [, back] = await Promise.all([conn.write(data), readBytes(conn, data.byteLength)]);
        assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(data), "8 MiB echoed");
        await conn.close();
      } finally {
        await server.close();
      }
    });

    test("refused connection is a ConnectError naming the address and code", async () => {
      const port = await freePort();
      await assert.rejects(
        transport.connect({ host: "127.0.0.1", port }),
        (e: unknown) =>
          e instanceof ConnectError && e.message.includes(`127.0.0.1:${port}`) && e.message.includes("ECONNREFUSED"),
      );
      const path = join(tmpdir(), `ikc-missing-${process.pid}.sock`);
      await assert.rejects(
        transport.connect({ path }),
        (e: unknown) => e instanceof ConnectError && e.message.includes(path) && e.message.includes("ENOENT"),
      );
      await assert.rejects(transport.connect({ host: "127.0.0.1" }), ConnectError);
    });

    test("write after close is a DisconnectedError; close is idempotent", async () => {
      const server = await startServer(echo);
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port });
        await conn.close();
        await conn.close();
        await conn.closed;
        await assert.rejects(conn.write(Uint8Array.of(1)), DisconnectedError);
        assert.equal(await conn.read(), null);
      } finally {
        await server.close();
      }
    });

    test("the peer closing makes closed resolve and writes fail", async () => {
      const server = await startServer((s) => s.end());
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port });
        assert.equal(await conn.read(), null);
        await conn.closed;
        await assert.rejects(conn.write(Uint8Array.of(1)), DisconnectedError);
      } finally {
        await server.close();
      }
    });

    test("closeWrite sends FIN, and reading goes on until the peer closes", async () => {
      const net2 = net.createServer({ allowHalfOpen: true }, (s) => {
        let got = "";
        s.on("data", (d: Uint8Array) => (got += Buffer.from(d).toString()));
        s.on("end", () => setTimeout(() => s.end(`bye after ${got}`), 50));
      });
      await new Promise<void>((r) => net2.listen(0, "127.0.0.1", () => r()));
      try {
        const port = (net2.address() as net.AddressInfo).port;
        const conn = await transport.connect({ host: "127.0.0.1", port });
        void conn.write(new TextEncoder().encode("hi"));
        await conn.closeWrite!();
        await assert.rejects(conn.write(Uint8Array.of(1)), DisconnectedError);
        let text = "";
        for (let b = await conn.read(); b !== null; b = await conn.read()) text += new TextDecoder().decode(b);
        assert.equal(text, "bye after hi");
        await conn.closed;
      } finally {
        await new Promise<void>((r) => net2.close(() => r()));
      }
    });

    test("a pending read returns null when the connection is closed locally", async () => {
      const server = await startServer(() => {});
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port });
        const pending = conn.read();
        await sleep(20);
        await conn.close();
        assert.equal(await pending, null);
      } finally {
        await server.close();
      }
    });

    test("abort: an aborted signal, and one aborted during the attempt", async () => {
      const server = await startServer(echo);
      try {
        const pre = new AbortController();
        pre.abort(new Error("stop"));
        await assert.rejects(
          transport.connect({ host: "127.0.0.1", port: server.port, signal: pre.signal }),
          (e: unknown) =>
            e instanceof ConnectError && /aborted/.test(e.message) && (e.cause as Error).message === "stop",
        );
        const ac = new AbortController();
        const attempt = transport.connect({ host: "127.0.0.1", port: server.port, signal: ac.signal });
        ac.abort();
        await assert.rejects(attempt, (e: unknown) => e instanceof ConnectError && /aborted/.test(e.message));
        // a signal aborted after connecting does not touch the connection
        const late = new AbortController();
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port, signal: late.signal });
        late.abort();
        await conn.write(Uint8Array.of(42));
        assert.deepEqual(await readBytes(conn, 1), Uint8Array.of(42));
        await conn.close();
      } finally {
        await server.close();
      }
    });

    test("abort while the connect hangs", { skip: perlMissing() }, async () => {
      const hang = await hangingPort();
      try {
        const ac = new AbortController();
        const started = Date.now();
        const attempt = transport.connect({ host: "127.0.0.1", port: hang.port, signal: ac.signal });
        setTimeout(() => ac.abort(), 100);
        await assert.rejects(attempt, (e: unknown) => e instanceof ConnectError && /aborted/.test(e.message));
        assert.ok(Date.now() - started < 3000, "aborted promptly");
      } finally {
        hang.close();
      }
    });

    test("a peer reset rejects read with DisconnectedError", async () => {
      const server = await startServer((s) => {
        s.on("data", () => s.resetAndDestroy());
      });
      try {
        const conn = await transport.connect({ host: "127.0.0.1", port: server.port });
        await conn.write(Uint8Array.of(1));
        await assert.rejects(conn.read(), DisconnectedError);
        await conn.closed;
        await assert.rejects(conn.write(Uint8Array.of(1)), DisconnectedError);
      } finally {
        await server.close();
      }
    });
  });
}

// Closing a connection: a dropped peer is released at once (destroy), and a graceful close
// (closeWrite / close) loses nothing a writer handed over before the FIN (issue 17, items 3 and 5).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { readdirSync, readlinkSync } from "node:fs";
import { DisconnectedError } from "../src/core/errors.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { memoryTransport } from "../src/transport/memory.ts";
import { nodeTransport } from "../src/transport/node.ts";
import type { Connection, Transport } from "../src/transport/types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sockets this process holds open, by inode, read from /proc/self/fd. */
function openSockets(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("socket:")) out.add(target);
    } catch {
      // closed while we looked
    }
  }
  return out;
}

/** Polls `cond` every 10 ms for up to `ms`; true once it held. */
async function eventually(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (cond()) return true;
  return cond();
}

/** A node:net server whose sockets never read (paused at once), or read everything (`sink`). */
async function peerServer(mode: "stall" | "sink"): Promise<{
  port: number;
  sockets: net.Socket[];
  received: () => number;
  ended: Promise<void>;
  close(): Promise<void>;
}> {
  const sockets: net.Socket[] = [];
  let received = 0;
  let ended!: () => void;
  const endedP = new Promise<void>((r) => (ended = r));
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on("error", () => {});
    if (mode === "stall") s.pause();
    else {
      s.on("data", (d: Uint8Array) => (received += d.byteLength));
      s.on("end", () => {
        ended();
        s.end();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    received: () => received,
    ended: endedP,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Queues `count` writes of `size` bytes without waiting; counts how they settle. */
function writeMany(conn: Connection, count: number, size: number) {
  const state = { resolved: 0, rejected: 0, all: Promise.resolve() as Promise<unknown> };
  const chunk = new Uint8Array(size).fill(7);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    writes.push(conn.write(chunk).then(() => void state.resolved++, () => void state.rejected++));
  }
  state.all = Promise.all(writes);
  return state;
}

const detected = detectTransport();
const real: Transport[] = [detected];
if (detected.name !== "node") real.push(nodeTransport);

for (const transport of real) {
  describe(`${transport.name} transport: destroy`, () => {
    for (const side of ["accepted", "connecting"] as const) {
      test(`${side} side: destroy releases the fd at once, 8 MiB queued to a peer that never reads`, async () => {
        let before: Set<string>;
        let conn: Connection;
        let cleanup: () => Promise<void>;
        if (side === "connecting") {
          const peer = await peerServer("stall");
          before = openSockets(); // the peer's listening socket included
          conn = await transport.connect({ host: "127.0.0.1", port: peer.port });
          cleanup = peer.close;
        } else {
          const listener = await transport.listen({ port: 0 });
          before = openSockets();
          const client = net.connect({ host: "127.0.0.1", port: listener.port! });
          client.on("error", () => {});
          client.pause(); // never reads
          conn = (await listener.accept())!;
          await listener.close();
          cleanup = () => Promise.resolve(void client.destroy());
        }
        try {
          const ours = () => [...openSockets()].filter((s) => !before.has(s));
          assert.ok(await eventually(() => ours().length === 2, 2000), `our socket and the peer's: ${ours().length}`);
          const writes = writeMany(conn, 8, 1024 * 1024);
          // The kernel's buffers take a few MiB at most: the rest stays queued in the transport.
          let settled = -1;
          while (settled !== writes.resolved) {
            settled = writes.resolved;
            await sleep(100);
          }
          assert.ok(writes.resolved < 8, `writes stalled (${writes.resolved} of 8 taken)`);
          conn.destroy!(new Error("dropped"));
          assert.ok(await eventually(() => ours().length === 1, 2000), "our fd released, the peer's still open");
          await writes.all;
          assert.equal(writes.resolved + writes.rejected, 8, "every write settled");
          assert.ok(writes.rejected > 0, "the queued writes were refused, not sent");
          await conn.closed;
          await assert.rejects(conn.write(Uint8Array.of(1)), DisconnectedError);
          assert.equal(await conn.read(), null);
          conn.destroy!(); // idempotent
        } finally {
          conn.destroy!();
          await cleanup();
        }
      });
    }
  });
}

const all: Transport[] = [...real, memoryTransport()];
for (const transport of all) {
  describe(`${transport.name} transport: graceful close loses nothing`, () => {
    /** A connected pair: ours (from `transport`) and a peer that counts what it receives. */
    async function pair(): Promise<
      { conn: Connection; received: () => number; ended: Promise<void>; close(): Promise<void> }
    > {
      if (transport.name !== "memory") {
        const peer = await peerServer("sink");
        return { conn: await transport.connect({ host: "127.0.0.1", port: peer.port }), ...peer };
      }
      const listener = await transport.listen({ port: 0 });
      const conn = await transport.connect({ port: listener.port! });
      const other = (await listener.accept())!;
      let received = 0;
      const ended = (async () => {
        for (let c = await other.read(); c !== null; c = await other.read()) received += c.byteLength;
      })();
      return {
        conn,
        received: () => received,
        ended,
        close: async () => {
          await other.close();
          await listener.close();
        },
      };
    }

    for (const how of ["closeWrite", "close"] as const) {
      test(`2,000 writes then ${how}() at once: the peer receives every byte`, async () => {
        const p = await pair();
        try {
          const writes = writeMany(p.conn, 2000, 4096);
          await (how === "closeWrite" ? p.conn.closeWrite!() : p.conn.close());
          await writes.all;
          assert.equal(writes.rejected, 0, "no write refused");
          await p.ended;
          assert.equal(p.received(), 2000 * 4096);
        } finally {
          await p.conn.close();
          await p.close();
        }
      });

      test(`${how}() while a flush loop writes each batch when the last is out: nothing refused`, async () => {
        // The channel's flush loop: the next batch is handed over when the previous write resolves.
        // A close asked for in between must let the loop finish, not refuse its next batch.
        const p = await pair();
        try {
          const batch = new Uint8Array(64 * 1024).fill(1);
          let refused = 0;
          let written = 0;
          const loop = (async () => {
            for (let i = 0; i < 64; i++) {
              try {
                await p.conn.write(batch);
                written++;
              } catch {
                refused++;
              }
            }
          })();
          while (written < 2) await sleep(1);
          const closing = how === "closeWrite" ? p.conn.closeWrite!() : p.conn.close();
          await loop;
          await closing;
          assert.equal(refused, 0, `${refused} batches refused after ${how}()`);
          await p.ended;
          assert.equal(p.received(), 64 * batch.byteLength);
          await assert.rejects(p.conn.write(batch), DisconnectedError, "writes refused once the FIN is out");
        } finally {
          await p.conn.close();
          await p.close();
        }
      });
    }
  });
}

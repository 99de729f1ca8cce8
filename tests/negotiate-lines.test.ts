// Negotiation lines as a peer may really send them (issue 17, items 8 and 13): a burst of lines
// in one packet is handled a bounded batch per turn of the event loop, and a line ending LF CR
// split across two packets is one line end, over a real socket, with the CR never read as frame
// data.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IkcServer, nfreeze, thaw } from "../mod.ts";
import { encodeFrame, FrameReader, LineReader } from "../src/core/frame.ts";
import type { NegotiationResult } from "../src/core/negotiation.ts";
import { LINES_PER_TURN, negotiate, type NegotiationMachine } from "../src/kernel/negotiate.ts";
import { detectTransport } from "../src/transport/detect.ts";
import type { Connection } from "../src/transport/types.ts";
import { perlMissing, runPerl } from "./helpers/perl.ts";

const enc = new TextEncoder();

/** A machine that takes `total` lines and is then done. */
class Counting implements NegotiationMachine {
  seen = 0;
  constructor(readonly total: number) {}
  receive(): string[] {
    this.seen++;
    return [];
  }
  get done(): boolean {
    return this.seen >= this.total;
  }
  readonly phase = "counting";
  get result(): NegotiationResult {
    return { protocol: "IKC0", remoteKernel: "x", remoteAliases: ["x"], freezer: "Storable", remotePid: undefined };
  }
}

/** A connection whose peer sent `chunks` (all already in the socket buffer). */
function preloaded(chunks: Uint8Array[]): Connection {
  return {
    remote: "test",
    write: () => Promise.resolve(),
    read: () => Promise.resolve(chunks.shift() ?? null),
    close: () => Promise.resolve(),
    closed: new Promise(() => {}),
  };
}

describe("negotiate: a burst of lines yields to the event loop", () => {
  test("20,000 lines in one packet: a timer set before the burst runs after at most LINES_PER_TURN lines", async () => {
    const machine = new Counting(20_000);
    const conn = preloaded([enc.encode("HELLO IKC1\r\n".repeat(20_000))]);
    let seenWhenTimerRan = -1;
    setTimeout(() => seenWhenTimerRan = machine.seen, 0);
    await negotiate(conn, machine, { seconds: 30, peer: "burst" });
    assert.equal(machine.seen, 20_000);
    assert.ok(
      seenWhenTimerRan >= 0 && seenWhenTimerRan <= LINES_PER_TURN + 1,
      `timer ran after ${seenWhenTimerRan} lines`,
    );
  });

  test("many small packets already queued are batched the same way", async () => {
    const machine = new Counting(2_000);
    const conn = preloaded(Array.from({ length: 2_000 }, () => enc.encode("OK\n")));
    let seenWhenTimerRan = -1;
    setTimeout(() => seenWhenTimerRan = machine.seen, 0);
    await negotiate(conn, machine, { seconds: 30, peer: "packets" });
    assert.ok(
      seenWhenTimerRan >= 0 && seenWhenTimerRan <= LINES_PER_TURN + 1,
      `timer ran after ${seenWhenTimerRan} lines`,
    );
  });
});

describe("a line end split across packets (LF, then CR in the next packet)", () => {
  test("the CR after the last line is not frame data (line and frame readers alone)", () => {
    const lines = new LineReader();
    lines.push(enc.encode("SETUP KERNEL=c;FREEZER=Storable;PID=1\n"));
    assert.equal(lines.nextLine(), "SETUP KERNEL=c;FREEZER=Storable;PID=1");
    const frames = new FrameReader();
    frames.push(lines.takeRest());
    const payload = nfreeze({ a: 1 } as never);
    assert.deepEqual(frames.push(Uint8Array.of(0x0d, ...encodeFrame(payload))), [payload]);
    // Only as the stream's first byte: a CR between frames is still a bad header.
    assert.throws(() => frames.push(Uint8Array.of(0x0d)));
  });

  test("a real socket peer: SETUP ending LF, then CR + a call in a second packet, gets its answer", async () => {
    const server = await IkcServer.listen({ port: 0, name: "SplitHub", connectTimeout: 5 });
    server.publish("t", { echo: (p) => p });
    const errors: Error[] = [];
    server.on("error", (e) => errors.push(e));
    const conn = await detectTransport().connect({ host: "127.0.0.1", port: server.port! });
    try {
      await conn.write(enc.encode("SETUP KERNEL=Split;FREEZER=Storable;PID=7\n"));
      const lines = new LineReader();
      let reply: string | undefined;
      while (reply === undefined) {
        const chunk = await conn.read();
        assert.ok(chunk, "server closed during negotiation");
        lines.push(chunk);
        reply = lines.nextLine();
      }
      assert.match(reply, /^SETUP KERNEL=.*SplitHub/);
      // The reply is in: the LF went alone. Now the CR, in its own packet, then a call.
      await conn.write(Uint8Array.of(0x0d));
      await new Promise((r) => setTimeout(r, 20));
      const call = nfreeze({
        event: "poe://SplitHub/t/echo",
        params: "through",
        from: { kernel: "Split", session: "IKCLite" },
        rsvp: { kernel: "Split", session: "IKCLite", state: "response1" },
        wantarray: 0,
      } as never);
      await conn.write(encodeFrame(call));
      const frames = new FrameReader();
      let got: Uint8Array[] = frames.push(lines.takeRest());
      while (got.length === 0) {
        const chunk = await conn.read();
        assert.ok(chunk, `server closed the connection: ${errors.map((e) => e.message).join("; ")}`);
        got = frames.push(chunk);
      }
      const answer = thaw(got[0]!) as Record<string, unknown>;
      assert.equal(answer.params, "through");
      assert.deepEqual(errors, []);
    } finally {
      await conn.close().catch(() => {});
      await server.close({ timeout: 1 });
    }
  });

  test("Perl's POE::Filter::Line reads LF CR as one line end, as we do", { skip: perlMissing("POE") }, () => {
    const text = "HELLO\n\rIAM Split\n\rDONE\r\n";
    const perl = new TextDecoder().decode(runPerl(
      `
      use POE::Filter::Line;
      my $f = POE::Filter::Line->new();
      local $/; my $in = <STDIN>;
      print join("|", @{ $f->get([$in]) });
    `,
      text,
    ));
    const ours = new LineReader();
    ours.push(enc.encode(text));
    const got: string[] = [];
    for (let l; (l = ours.nextLine()) !== undefined;) got.push(l);
    assert.equal(got.join("|"), perl);
    assert.equal(perl, "HELLO|IAM Split|DONE");
  });
});

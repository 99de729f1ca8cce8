// The client's mailbox alone (src/client/mailbox.ts): what the server posts on its own to our
// IKCLite session, kept or handed to a waiter or handler, with no connection at all.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AbortError, TimeoutError } from "../mod.ts";
import { Mailbox } from "../src/client/mailbox.ts";
import type { IkcMessage } from "../src/client/types.ts";
import { Deadlines } from "../src/time/deadlines.ts";

const msg = (state: string, params: unknown): IkcMessage =>
  ({ state, session: "IKCLite", params, raw: {} }) as IkcMessage;

function box(limit = 10) {
  const reports: Error[] = [];
  const deadlines = new Deadlines();
  return { mailbox: new Mailbox(limit, 5, deadlines, (e) => reports.push(e)), reports, deadlines };
}

describe("Mailbox", () => {
  test("a message that arrives while next() is connecting is the one it returns", async () => {
    const { mailbox, deadlines } = box();
    let connected!: () => void;
    const waiting = mailbox.next("tick", { timeout: 1 }, () => new Promise<void>((r) => (connected = r)));
    await Promise.resolve();
    mailbox.deliver(msg("tick", 7)); // nobody waits yet: kept
    connected();
    assert.equal((await waiting).params, 7);
    assert.equal(mailbox.size, 0);
    deadlines.clear();
  });

  test("kept messages come first, oldest first, without connecting; the rest wait for the next", async () => {
    const { mailbox, deadlines } = box();
    mailbox.deliver(msg("tick", 1));
    mailbox.deliver(msg("tick", 2));
    let connects = 0;
    const connect = () => {
      connects++;
      return Promise.resolve();
    };
    assert.equal((await mailbox.next("tick", {}, connect)).params, 1);
    assert.equal((await mailbox.next("tick", {}, connect)).params, 2);
    assert.equal(connects, 0);
    const third = mailbox.next("tick", {}, connect);
    await new Promise((r) => setTimeout(r, 1));
    mailbox.deliver(msg("tick", 3));
    assert.equal((await third).params, 3);
    assert.equal(connects, 1);
    deadlines.clear();
  });

  test("a bad option is a TypeError before connecting; the wait ends by timeout or abort with typed errors", async () => {
    const { mailbox, deadlines } = box();
    let connects = 0;
    const connect = () => {
      connects++;
      return Promise.resolve();
    };
    await assert.rejects(mailbox.next("tick", { timeout: -1 }, connect), TypeError);
    await assert.rejects(mailbox.next("tick", { tiemout: 1 } as never, connect), /unknown responded option "tiemout"/);
    assert.equal(connects, 0);
    await assert.rejects(mailbox.next("tick", { timeout: 0.02 }, connect), TimeoutError);
    const ac = new AbortController();
    const aborted = mailbox.next("tick", { signal: ac.signal }, connect);
    setTimeout(() => ac.abort(), 5);
    await assert.rejects(aborted, AbortError);
    mailbox.deliver(msg("tick", "late")); // no waiter left: kept, not lost
    assert.equal(mailbox.size, 1);
    deadlines.clear();
  });

  test("past its limit the mailbox drops what nobody takes and reports it", () => {
    const { mailbox, reports } = box(2);
    for (let i = 0; i < 5; i++) mailbox.deliver(msg("tick", i));
    assert.equal(mailbox.size, 2);
    assert.ok(reports.length > 0, "the drops are reported");
  });
});

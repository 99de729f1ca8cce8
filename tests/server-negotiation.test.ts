// The server side of both negotiations as a pure state machine, and the client's machine
// talking to it line by line (no sockets).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "../mod.ts";
import { ClientNegotiation } from "../src/core/negotiation.ts";
import { ServerNegotiation } from "../src/core/server-negotiation.ts";

const server = (o: Partial<ConstructorParameters<typeof ServerNegotiation>[0]> = {}) =>
  new ServerNegotiation({
    id: "Hub-1-1",
    names: ["Hub", "hub"],
    address: "127.0.0.1:603",
    freezers: ["Storable", "FreezeThaw"],
    pid: 42,
    ...o,
  });

/** Runs a client machine against a server machine until both are done (or one fails). */
function converse(c: ClientNegotiation, s: ServerNegotiation): string[] {
  const wire: string[] = [];
  let toServer = c.start();
  for (let turn = 0; turn < 50 && !(c.done && s.done); turn++) {
    const toClient: string[] = [];
    for (const l of toServer) {
      wire.push(`C: ${l}`);
      toClient.push(...s.receive(l));
    }
    toServer = [];
    for (const l of toClient) {
      wire.push(`S: ${l}`);
      toServer.push(...c.receive(l));
    }
    if (toServer.length === 0 && toClient.length === 0) break;
  }
  return wire;
}

describe("server negotiation", () => {
  test("IKC0: SETUP answered with id, names, address, the chosen freezer and our pid", () => {
    const s = server();
    assert.deepEqual(s.receive("SETUP KERNEL=Cli,alias2;FREEZER=FreezeThaw,Storable;PID=7"), [
      "SETUP KERNEL=Hub-1-1,Hub,hub,127.0.0.1:603;FREEZER=Storable;PID=42",
    ]);
    assert.equal(s.done, true);
    assert.deepEqual(s.result, {
      protocol: "IKC0",
      remoteKernel: "Cli",
      remoteAliases: ["Cli", "alias2"],
      freezer: "Storable",
      remotePid: 7,
    });
  });

  test("IKC0: NOT for an unknown part, no freezer we take, a bad name, or IKC0 turned off; then classic works", () => {
    for (
      const line of [
        "SETUP KERNEL=C;FREEZER=Storable;COLOUR=red",
        "SETUP KERNEL=C;FREEZER=JSON",
        "SETUP KERNEL=a/b;FREEZER=Storable",
        "SETUP FREEZER=Storable",
      ]
    ) {
      const s = server();
      assert.deepEqual(s.receive(line), ["NOT"], line);
      assert.equal(s.done, false);
      assert.deepEqual(s.receive("HELLO"), ["IAM Hub-1-1"]);
    }
    assert.deepEqual(server({ ikc0: false }).receive("SETUP KERNEL=C;FREEZER=Storable;PID=1"), ["NOT"]);
    assert.deepEqual(server().receive("HELLO IKC1"), ["NOT"]);
  });

  test("IKC0: a full IKC::Client's names include its socket name", () => {
    const s = server();
    assert.deepEqual(s.receive("SETUP KERNEL=vm-1-00000001,Perl1,127.0.0.1:47626;FREEZER=Storable;PID=9"), [
      "SETUP KERNEL=Hub-1-1,Hub,hub,127.0.0.1:603;FREEZER=Storable;PID=42",
    ]);
    assert.deepEqual(s.result?.remoteAliases, ["vm-1-00000001", "Perl1", "127.0.0.1:47626"]);
  });

  test("classic IKC line by line", () => {
    const s = server();
    assert.deepEqual(s.receive("HELLO"), ["IAM Hub-1-1"]);
    assert.deepEqual(s.receive("OK"), ["IAM Hub"]);
    assert.deepEqual(s.receive("OK"), ["IAM hub"]);
    assert.deepEqual(s.receive("OK"), ["IAM 127.0.0.1:603"]);
    assert.deepEqual(s.receive("OK"), ["DONE"]);
    assert.deepEqual(s.receive("IAM Cli"), ["OK"]);
    assert.deepEqual(s.receive("IAM Cli2"), ["OK"]);
    assert.deepEqual(s.receive("DONE"), []);
    assert.deepEqual(s.receive("FREEZER JSON"), ["NOT"]);
    assert.deepEqual(s.receive("FREEZER FreezeThaw"), ["OK"]);
    assert.deepEqual(s.receive("WORLD"), ["UP"]);
    assert.deepEqual(s.result, {
      protocol: "IKC",
      remoteKernel: "Cli",
      remoteAliases: ["Cli", "Cli2"],
      freezer: "FreezeThaw",
      remotePid: undefined,
    });
  });

  test("nonsense is answered NOT a few times, then negotiation fails", () => {
    const s = server({ maxBadLines: 3 });
    for (let i = 0; i < 3; i++) assert.deepEqual(s.receive("GET / HTTP/1.1"), ["NOT"]);
    assert.throws(() => s.receive("GET / HTTP/1.1"), ProtocolError);
  });

  test("our client machine and our server machine agree, both protocols, with fallback", () => {
    for (const protocol of ["IKC0", "IKC"] as const) {
      const c = new ClientNegotiation({ name: "Cli", aliases: ["c2"], freezers: ["FreezeThaw"], pid: 5, protocol });
      const s = server();
      converse(c, s);
      assert.equal(c.done && s.done, true, protocol);
      assert.equal(c.result!.protocol, protocol);
      assert.equal(c.result!.remoteKernel, "Hub-1-1");
      assert.equal(c.result!.freezer, "FreezeThaw");
      assert.deepEqual(s.result!.remoteAliases, ["Cli", "c2"]);
    }
    const c = new ClientNegotiation({ name: "Cli", freezers: ["Storable"], pid: 5, protocol: "IKC0" });
    const s = server({ ikc0: false });
    const wire = converse(c, s);
    assert.equal(c.result!.protocol, "IKC", wire.join("\n"));
    assert.ok(c.result!.remoteAliases.includes("Hub"));
  });
});

describe("server negotiation: what a hostile client can make it do (issue 17, item 8)", () => {
  /** Feeds lines until the machine throws; returns how many it took and the error. */
  const feedUntilFailure = (s: ServerNegotiation, lines: Iterable<string>) => {
    let taken = 0;
    for (const l of lines) {
      try {
        s.receive(l);
      } catch (e) {
        return { taken, error: e };
      }
      taken++;
    }
    return { taken, error: undefined };
  };
  function* repeat(line: string, n: number) {
    for (let i = 0; i < n; i++) yield line;
  }
  const toNames = (s: ServerNegotiation) => {
    s.receive("HELLO");
    for (let i = 0; i < 4; i++) s.receive("OK"); // our three names and address, then DONE
  };

  test("20,000 IAM names: refused after maxNames, none registered beyond it", () => {
    const s = server();
    toNames(s);
    function* names() {
      for (let i = 0; i < 20_000; i++) yield `IAM client${i}`;
    }
    const { taken, error } = feedUntilFailure(s, names());
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match((error as Error).message, /maxNames 32/);
    assert.equal(taken, 32);
    assert.equal(s.result, undefined);
    assert.equal(s.phase, "failed");
  });

  test("maxNames and maxNameLength are options; a long name is refused", () => {
    const s = server({ maxNames: 2 });
    toNames(s);
    assert.throws(() => ["IAM a", "IAM b", "IAM c"].forEach((l) => s.receive(l)), /maxNames 2/);
    const t = server({ maxNameLength: 10 });
    toNames(t);
    assert.throws(() => t.receive(`IAM ${"x".repeat(11)}`), /maxNameLength 10/);
    const u = server();
    assert.throws(() => u.receive(`SETUP KERNEL=${"k".repeat(300)};FREEZER=Storable;PID=1`), /maxNameLength 256/);
    const names = Array.from({ length: 40 }, (_, i) => `n${i}`).join(",");
    assert.throws(() => server().receive(`SETUP KERNEL=${names};FREEZER=Storable;PID=1`), /maxNames 32/);
  });

  const badLines: Array<[string, string]> = [
    ["HELLO IKC1", "HELLO IKC<n>"],
    ["SETUP", "a SETUP without parts"],
    ["SETUP KERNEL=a;COLOR=blue", "a SETUP with an unknown part"],
    ["SETUP KERNEL=;FREEZER=Storable", "a SETUP naming no kernel"],
    ["SETUP KERNEL=a;FREEZER=Nope", "a SETUP offering no freezer we speak"],
  ];
  for (const [line, what] of badLines) {
    test(`every bad line counts: ${what}, repeated, ends the negotiation`, () => {
      const s = server();
      const { taken, error } = feedUntilFailure(s, repeat(line, 10_000));
      assert.ok(error instanceof ProtocolError, `${what}: ${String(error)}`);
      assert.equal(taken, 8, what); // maxBadLines answered NOT, the 9th fails
    });
  }

  test("SETUP refused with ikc0: false counts, and a client may still fall back to HELLO", () => {
    const s = server({ ikc0: false });
    assert.deepEqual(s.receive("SETUP KERNEL=c;FREEZER=Storable;PID=1"), ["NOT"]);
    assert.deepEqual(s.receive("HELLO"), ["IAM Hub-1-1"]);
    const t = server({ ikc0: false });
    assert.ok(feedUntilFailure(t, repeat("SETUP KERNEL=c;FREEZER=Storable;PID=1", 100)).error instanceof ProtocolError);
  });

  test("an accepted line repeated forever (FREEZER Storable) still ends: no line goes uncounted", () => {
    const s = server();
    toNames(s);
    s.receive("IAM c");
    s.receive("DONE");
    const { taken, error } = feedUntilFailure(s, repeat("FREEZER Storable", 100_000));
    assert.ok(error instanceof ProtocolError, String(error));
    assert.ok(taken < 100, `${taken} lines taken`);
  });

  test("the failure text escapes what the client sent", () => {
    const s = server({ maxBadLines: 0 });
    assert.throws(
      () => s.receive("Eve\u0000\u001b[31m"),
      (e: unknown) =>
        e instanceof ProtocolError && !e.message.includes("\u0000") && !e.message.includes("\u001b") &&
        /\\x00\\x1b/.test(e.message),
    );
  });
});

// The pure negotiation state machine and specifier parsing, line by line.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConnectError, ProtocolError } from "../mod.ts";
import { ClientNegotiation } from "../src/core/negotiation.ts";
import { formatSpecifier, parseSpecifier, qualifySpecifier, toSpecifier } from "../src/core/specifier.ts";

describe("IKC0 negotiation", () => {
  test("one round trip; the id is the first KERNEL entry and ip:port is kept apart", () => {
    const n = new ClientNegotiation({
      name: "Probe",
      aliases: ["P2"],
      freezers: ["Storable"],
      pid: 42,
      protocol: "IKC0",
    });
    assert.deepEqual(n.start(), ["SETUP KERNEL=Probe,P2;FREEZER=Storable;PID=42"]);
    assert.deepEqual(n.receive("SETUP KERNEL=vm-1-2,RefServer,Ref,127.0.0.1:34147;FREEZER=Storable;PID=3412"), []);
    assert.equal(n.done, true);
    assert.deepEqual(n.result, {
      protocol: "IKC0",
      remoteKernel: "vm-1-2",
      remoteAliases: ["vm-1-2", "RefServer", "Ref"],
      freezer: "Storable",
      remotePid: 3412,
      remoteAddress: "127.0.0.1:34147",
    });
  });

  test("NOT falls back to classic IKC on the same socket", () => {
    const n = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC0" });
    n.start();
    assert.deepEqual(n.receive("NOT"), ["HELLO"]);
    assert.deepEqual(n.receive("IAM id-1"), ["OK"]);
    assert.deepEqual(n.receive("IAM 127.0.0.1:603"), ["OK"]);
    assert.deepEqual(n.receive("IAM Srv"), ["OK"]);
    assert.deepEqual(n.receive("DONE"), ["IAM C"]);
    assert.deepEqual(n.receive("OK"), ["DONE", "FREEZER Storable"]);
    assert.deepEqual(n.receive("OK"), ["WORLD"]);
    assert.deepEqual(n.receive("UP"), []);
    assert.equal(n.result?.protocol, "IKC");
    assert.equal(n.result?.remoteKernel, "id-1");
    assert.deepEqual(n.result?.remoteAliases, ["id-1", "127.0.0.1:603", "Srv"]);
  });

  test("a SETUP with an unknown part is answered NOT and fails", () => {
    const n = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC0" });
    n.start();
    assert.deepEqual(n.receive("SETUP KERNEL=a;FREEZER=Storable;COLOR=red"), ["NOT"]);
    assert.ok(n.failure instanceof ProtocolError);
    assert.match(n.failure!.message, /COLOR=red/);
  });

  test("a freezer we did not offer is refused", () => {
    const n = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC0" });
    n.start();
    assert.throws(() => n.receive("SETUP KERNEL=a;FREEZER=FreezeThaw;PID=1"), ConnectError);
  });

  test("garbage is a ProtocolError naming the phase", () => {
    const n = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC0" });
    n.start();
    assert.throws(
      () => n.receive("\u0001\u0002garbage"),
      (e: unknown) => e instanceof ProtocolError && /setup/.test((e as Error).message),
    );
  });
});

describe("classic IKC negotiation", () => {
  test("aliases are announced one IAM at a time; refused freezers try the next", () => {
    const n = new ClientNegotiation({
      name: "C",
      aliases: ["D"],
      freezers: ["Storable", "FreezeThaw"],
      pid: 1,
      protocol: "IKC",
    });
    assert.deepEqual(n.start(), ["HELLO"]);
    assert.deepEqual(n.receive("IAM k"), ["OK"]);
    assert.deepEqual(n.receive("DONE"), ["IAM C"]);
    assert.deepEqual(n.receive("OK"), ["IAM D"]);
    assert.deepEqual(n.receive("OK"), ["DONE", "FREEZER Storable"]);
    assert.deepEqual(n.receive("NOT"), ["FREEZER FreezeThaw"]);
    assert.deepEqual(n.receive("OK"), ["WORLD"]);
    n.receive("UP");
    assert.equal(n.result?.freezer, "FreezeThaw");
  });

  test("every freezer refused is a ConnectError", () => {
    const n = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC" });
    n.start();
    n.receive("IAM k");
    n.receive("DONE");
    n.receive("OK");
    assert.throws(() => n.receive("NOT"), ConnectError);
  });

  test("DONE before any IAM is a ProtocolError", () => {
    const n = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC" });
    n.start();
    assert.throws(() => n.receive("DONE"), ProtocolError);
  });

  test("kernel names with ':' are refused up front (they crash Perl servers)", () => {
    assert.throws(
      () => new ClientNegotiation({ name: "My::App", freezers: ["Storable"], pid: 1, protocol: "IKC" }),
      TypeError,
    );
  });
});

describe("specifiers", () => {
  test("all forms parse", () => {
    assert.deepEqual(parseSpecifier("poe://K/s/e"), { kernel: "K", session: "s", state: "e" });
    assert.deepEqual(parseSpecifier("poe:/s/e"), { session: "s", state: "e" });
    assert.deepEqual(parseSpecifier("s/e?x=1"), { session: "s", state: "e", args: "x=1" });
    assert.deepEqual(toSpecifier({ kernel: "K", session: "s", state: "e" }), { kernel: "K", session: "s", state: "e" });
    assert.equal(toSpecifier(42), undefined);
    assert.equal(toSpecifier({ session: "s" }), undefined);
    assert.throws(() => parseSpecifier("nostate"), ProtocolError);
    assert.throws(() => parseSpecifier("s/"), ProtocolError);
  });

  test("qualification of specifiers that name no kernel", () => {
    assert.equal(qualifySpecifier("test/echo", "R"), "poe://R/test/echo");
    assert.equal(qualifySpecifier("poe:/test/echo", "R"), "poe://R/test/echo");
    assert.equal(qualifySpecifier("poe://K/test/echo?a", "R"), "poe://K/test/echo?a");
    assert.equal(qualifySpecifier("test/echo?a", "R", parseSpecifier("test/echo?a")), "poe://R/test/echo?a");
    assert.equal(formatSpecifier({ session: "s", state: "e", args: "a" }), "poe:/s/e?a");
  });
});

describe("client negotiation: the server's lines in error texts are escaped and bounded", () => {
  test("a SETUP reply holding control characters and 4 KB of text", () => {
    const c = new ClientNegotiation({ name: "C", freezers: ["Storable"], pid: 1, protocol: "IKC0" });
    c.start();
    const hostile = `SETUP KERNEL=S;FREEZER=Storable;EVIL=\u001b[2J\n[ikc C] ${"x".repeat(4000)}`;
    let message = "";
    try {
      c.receive(hostile);
      c.receive(hostile);
    } catch (e) {
      message = (e as Error).message;
    }
    const failure = message || c.failure?.message || "";
    assert.ok(failure.length > 0, "the bad SETUP was accepted");
    assert.ok(!failure.includes("\u001b") && !failure.includes("\n"), failure);
    assert.ok(failure.length < 400, `${failure.length} characters`);
  });
});

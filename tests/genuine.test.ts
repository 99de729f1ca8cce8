// The client against the GENUINE POE::Component::IKC::Server. That server is not packaged anywhere
// CI can install from, so these run only where IKC_GENUINE_SERVER names a script that starts one
// (prints "READY port=N"), publishing a `test` session with echo, echo_list, add, undef, context,
// respond, delay, record, seen, clear, push and bytes states. Skipped, with that reason, elsewhere.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { IkcClient, RemoteError, TimeoutError } from "../mod.ts";
import { type PerlServer, startPerlServer, tempSocketPath } from "./helpers/server.ts";

const script = process.env.IKC_GENUINE_SERVER;
const skip = script ? false : "set IKC_GENUINE_SERVER to a script that starts POE::Component::IKC::Server";
let seq = 0;
// The genuine server mixes up clients that share a kernel name: give each its own.
const uniqueName = () => `TsGenuine${process.pid}x${++seq}`;

for (const protocol of ["IKC0", "IKC"] as const) {
  describe(`genuine POE::Component::IKC::Server (${protocol})`, { skip }, () => {
    let server: PerlServer;
    let c: IkcClient;
    before(async () => {
      server = await startPerlServer(["--port", "0", "--protocol", protocol], script!);
      c = await IkcClient.connect({ host: "127.0.0.1", port: server.port, name: uniqueName(), timeout: 5 });
    });
    after(async () => {
      await c?.disconnect();
      await server?.stop();
    });

    test("negotiates and pings", async () => {
      assert.equal(c.protocol, protocol);
      assert.ok(c.remoteAliases.includes("RefServer"));
      assert.equal(await c.ping(), true);
    });

    test("call in scalar and list context", async () => {
      const v = { s: "é☺", n: [1, -2, 300000], nested: { deep: [null, "x"] } };
      assert.deepEqual(await c.call("test/echo", v), v);
      assert.equal(await c.call("test/add", [1, 2, 3]), 6);
      assert.equal(await c.call("test/context", null), "scalar");
      assert.deepEqual(await c.call("test/context", null, { context: "list" }), ["list"]);
      assert.deepEqual(await c.call("test/echo_list", [1, "two"], { context: "list" }), [1, "two"]);
    });

    test("undef means no answer", async () => {
      await assert.rejects(c.call("test/undef", 1, { timeout: 0.3 }), TimeoutError);
    });

    test("post is delivered", async () => {
      await c.call("test/clear", null);
      await c.post("test/record", { a: 1 });
      assert.deepEqual(await c.call("test/seen", null), [{ a: 1 }]);
    });

    test("postRespond, many in flight, answered out of order", async () => {
      assert.deepEqual(await c.postRespond("test/respond", { x: 1 }), { x: 1 });
      const reqs = [];
      for (let i = 0; i < 100; i++) reqs.push(c.postRespond("test/delay", [(i * 37) % 100, `v${i}`]));
      const got = await Promise.all(reqs);
      for (let i = 0; i < 100; i++) assert.equal(got[i], `v${i}`);
    });

    test("remote_error reaches the call that caused it", async () => {
      await assert.rejects(c.call("nope/x", 1), (e: unknown) =>
        e instanceof RemoteError && /Session 'nope' is not available/.test(e.remoteMessage));
      await assert.rejects(c.call("test/nostate", 1), (e: unknown) =>
        e instanceof RemoteError && /has not published state 'nostate'/.test(e.remoteMessage));
    });

    test("server-initiated posts reach handlers", async () => {
      const got: unknown[] = [];
      const off = c.on("pushed", (p) => got.push(p));
      assert.equal(await c.call("test/push", { state: "pushed", count: 2, value: "v" }), 2);
      for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      off();
      assert.deepEqual(got, [["v", 0], ["v", 1]]);
    });

    test("bytes versus text", async () => {
      const bytes = await c.call("test/bytes", [256, 0]);
      assert.ok(bytes instanceof Uint8Array && bytes.length === 256 && bytes[255] === 255);
      const text = await c.call("test/bytes", [256, 1]);
      assert.equal(typeof text, "string");
      assert.equal((text as string).charCodeAt(255), 255);
    });

    test("disconnect then reconnect", async () => {
      await c.disconnect();
      assert.equal(await c.call("test/add", [2, 2]), 4);
    });
  });
}

describe("genuine server over a unix socket, several freezers offered", { skip }, () => {
  test("unix socket; the server picks the first freezer it can load", async () => {
    const path = tempSocketPath();
    const server = await startPerlServer(["--unix", path], script!);
    try {
      const c = await IkcClient.connect({ path, name: uniqueName(), serializer: ["FreezeThaw", "Storable"], timeout: 5 });
      assert.equal(c.freezer, "FreezeThaw");
      assert.equal(await c.ping(), true);
      assert.equal(await c.call("test/echo", "over unix"), "over unix");
      await c.disconnect();
    } finally {
      await server.stop();
    }
  });
});

// The client against the GENUINE POE::Component::IKC::Server, every ClientLite feature.
//
// Not part of the test suite: the genuine server is not packaged anywhere CI installs from, so
// this runs only through scripts/check-genuine.sh <checkout>, which sets IKC_GENUINE_LIB to a
// folder holding POE/Component/IKC/Server.pm. Without it every check here FAILS (never skips).
//
//   deno test --allow-all check/genuine.ts
//   bun test --timeout 60000 ./check/genuine.ts
//   node --test dist/check/genuine.js          (after tsc -p tsconfig.json)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  ConnectError,
  DisconnectedError,
  type Freezer,
  IkcClient,
  RemoteError,
  storableFreezer,
  TimeoutError,
  type Transport,
} from "../mod.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { processId } from "../src/runtime.ts";
import { type PerlServer, startPerlServer, tempSocketPath, withClient, withServer } from "../tests/helpers/server.ts";

const lib = process.env.IKC_GENUINE_LIB ?? "";
const SERVER = "check/genuine-server.pl";

function requireLib(): string {
  if (!lib || !existsSync(join(lib, "POE/Component/IKC/Server.pm"))) {
    throw new Error(
      `IKC_GENUINE_LIB must name a folder holding POE/Component/IKC/Server.pm (got ${JSON.stringify(lib)}); ` +
        "run scripts/check-genuine.sh <path of a POE-Component-IKC checkout>",
    );
  }
  return lib;
}

function genuine(args: string[]): Promise<PerlServer> {
  return startPerlServer(args, SERVER, [`-I${requireLib()}`]);
}

let seq = 0;
// The genuine Responder routes replies by kernel name through one table: give each client its own.
const uniqueName = () => `TsGenuine${process.pid}x${++seq}`;

/** Wraps the runtime's transport and keeps the negotiation lines each side sent. */
function recording(): { transport: Transport; lines: string[] } {
  const inner = detectTransport();
  const lines: string[] = [];
  const text = (b: Uint8Array) => {
    let s = "";
    for (let i = 0; i < b.length && i < 4096; i++) s += String.fromCharCode(b[i]);
    return s;
  };
  const log = (who: string, b: Uint8Array) => {
    if (lines.length > 64) return;
    for (const l of text(b).split(/\r\n|\n/)) {
      if (l !== "" && /^[\x20-\x7e]+$/.test(l)) lines.push(`${who}: ${l}`);
    }
  };
  const transport: Transport = {
    name: `recording ${inner.name}`,
    listen: (options) => inner.listen(options),
    async connect(options) {
      const c = await inner.connect(options);
      let negotiating = true;
      return {
        get remote() {
          return c.remote;
        },
        get closed() {
          return c.closed;
        },
        async write(data) {
          if (negotiating) {
            log("C", data);
            // the first binary frame ends the text stage
            if (data.length > 0 && data.includes(0)) negotiating = false;
          }
          return await c.write(data);
        },
        async read() {
          const b = await c.read();
          if (b && negotiating) {
            log("S", b);
            if (/^(S: UP|S: SETUP )/.test(lines[lines.length - 1] ?? "")) negotiating = false;
          }
          return b;
        },
        close: () => c.close(),
        closeWrite: c.closeWrite ? () => c.closeWrite!() : undefined,
      };
    },
  };
  return { transport, lines };
}

async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 20) await new Promise((r) => setTimeout(r, 20));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test("IKC_GENUINE_LIB names the genuine POE::Component::IKC", () => {
  requireLib();
});

for (const serverProtocol of ["IKC0", "IKC"] as const) {
  describe(`genuine POE::Component::IKC::Server spawned with protocol ${serverProtocol}`, () => {
    let server: PerlServer;
    let c: IkcClient;
    const rec = recording();
    before(async () => {
      server = await genuine(["--protocol", serverProtocol]);
      c = await IkcClient.connect({
        host: "127.0.0.1",
        port: server.port,
        name: uniqueName(),
        timeout: 10,
        transport: rec.transport,
      });
      console.log(`[genuine ${serverProtocol}] ${server.stdout().trim().split("\n").pop()}`);
      for (const l of rec.lines) console.log(`[genuine ${serverProtocol}]   ${l}`);
    });
    after(async () => {
      await c?.disconnect();
      await server?.stop();
    });

    test("negotiation", () => {
      assert.equal(c.freezer, "Storable");
      if (serverProtocol === "IKC0") {
        // one round trip: SETUP out, SETUP back with id, name, aliases and ip:port
        assert.equal(c.protocol, "IKC0");
        // our unique kernel id first, then our name (as Perl's IKC::Client: id, then names)
        assert.equal(rec.lines[0], `C: SETUP KERNEL=${c.id},${c.name};FREEZER=Storable;PID=${processId()}`);
        assert.match(c.id, /^TsGenuine\w+-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
        assert.match(
          rec.lines[1],
          new RegExp(
            `^S: SETUP KERNEL=[-\\w]+,RefServer,Ref,127\\.0\\.0\\.1:${server.port};FREEZER=Storable;PID=${server.pid}$`,
          ),
        );
        assert.deepEqual(c.remoteAliases, [c.remoteKernel, "RefServer", "Ref"]);
      } else {
        // refused with NOT, then classic IKC on the same socket (not a second connection)
        assert.equal(c.protocol, "IKC");
        assert.deepEqual(rec.lines.slice(0, 3).map((l) => l.replace(/=.*$/, "")), [
          "C: SETUP KERNEL",
          "S: NOT",
          "C: HELLO",
        ]);
        assert.ok(rec.lines.includes("S: DONE"));
        assert.ok(rec.lines.includes("C: WORLD") && rec.lines.includes("S: UP"));
        const iam = rec.lines.filter((l) => l.startsWith("C: IAM "));
        assert.deepEqual(iam, [`C: IAM ${c.id}`, `C: IAM ${c.name}`]);
        assert.ok(c.remoteAliases.includes("RefServer") && c.remoteAliases.includes("Ref"));
        assert.equal(c.remoteAliases[0], c.remoteKernel);
      }
      assert.match(c.remoteKernel!, /-[0-9a-f]+$/);
      assert.equal(c.connected, true);
    });

    test("ping", async () => {
      assert.equal(await c.ping(), true);
    });

    test("call in scalar and list context", async () => {
      const v = { s: "é☺", n: [1, -2, 300000], nested: { deep: [null, "x"] }, empty: {} };
      assert.deepEqual(await c.call("test/echo", v), v);
      assert.equal(await c.call("test/add", [1, 2, 3]), 6);
      assert.equal(await c.call("test/context", null), "scalar");
      assert.deepEqual(await c.call("test/context", null, { context: "list" }), ["list"]);
      assert.deepEqual(await c.call("test/echo_list", [1, "two", 3], { context: "list" }), [1, "two", 3]);
      assert.equal(await c.call("test/echo_list", [1, "two", 3]), 3);
    });

    test("specifier forms: bare, poe:/, poe://<name>, poe://<id>", async () => {
      assert.equal(await c.call("poe:/test/add", [1, 1]), 2);
      assert.equal(await c.call("poe://RefServer/test/add", [2, 2]), 4);
      assert.equal(await c.call("poe://Ref/test/add", [2, 3]), 5);
      assert.equal(await c.call(`poe://${c.remoteKernel}/test/add`, [3, 3]), 6);
    });

    test("a state returning undef (or an empty list) sends nothing: timeout that says so", async () => {
      await assert.rejects(
        c.call("test/undef", 1, { timeout: 0.5 }),
        (e: unknown) => e instanceof TimeoutError && /undef/.test(e.message),
      );
      await assert.rejects(c.call("test/empty_list", 1, { context: "list", timeout: 0.5 }), TimeoutError);
      assert.equal(c.pendingCount, 0);
      assert.equal(await c.call("test/add", [1]), 1, "the connection is still fine");
    });

    test("post is delivered (the server saw it)", async () => {
      await c.call("test/clear", null);
      await c.post("test/record", { a: 1 });
      await c.post("test/record", "two");
      assert.deepEqual(await c.call("test/seen", null), [{ a: 1 }, "two"]);
    });

    test("postRespond: the answer comes back through the rsvp", async () => {
      assert.deepEqual(await c.postRespond("test/respond", { x: 1 }), { x: 1 });
    });

    test("200 postRespond in flight, answered out of order", async () => {
      const n = 200;
      const reqs = [];
      for (let i = 0; i < n; i++) reqs.push(c.postRespond("test/respond", [(i * 37) % 150, `v${i}`], { timeout: 20 }));
      const got = await Promise.all(reqs);
      for (let i = 0; i < n; i++) assert.equal(got[i], `v${i}`);
    });

    test("1,000 concurrent calls, each matched to its answer", async () => {
      const n = 1000;
      const calls = [];
      for (let i = 0; i < n; i++) calls.push(c.call("test/echo", `v${i}`, { timeout: 30 }));
      const got = await Promise.all(calls);
      for (let i = 0; i < n; i++) assert.equal(got[i], `v${i}`);
      assert.equal(c.pendingCount, 0);
    });

    test("remote_error arrives as a RemoteError with the server's own message", async () => {
      await assert.rejects(c.call("nope/x", 1), (e: unknown) => {
        assert.ok(e instanceof RemoteError, String(e));
        assert.match(
          e.remoteMessage,
          /^Session 'nope' is not available for remote kernels\. {2}Request poe:\/\/\S+\/nope\/x sent by poe:\/\/TsGenuine\w+-[-0-9a-f]+\/IKCLite$/,
        );
        return true;
      });
      await assert.rejects(
        c.call("test/nostate", 1),
        (e: unknown) =>
          e instanceof RemoteError && /^Session 'test' has not published state 'nostate'/.test(e.remoteMessage),
      );
      assert.match(c.error ?? "", /nostate/);
      const errors: Error[] = [];
      const off = c.onError((e) => errors.push(e));
      try {
        await c.post("ghost/state", 1);
        await waitFor("the remote_error for a post", () => errors.length > 0);
        assert.ok(errors[0] instanceof RemoteError && /'ghost'/.test(errors[0].message));
      } finally {
        off();
      }
    });

    test("server-initiated posts reach handlers; responded() picks up the rest", async () => {
      const got: unknown[] = [];
      const off = c.on("pushed", (p) => got.push(p));
      try {
        assert.equal(await c.call("test/push", { state: "pushed", count: 3, value: "v" }), 3);
        await waitFor("3 pushed messages", () => got.length >= 3);
        assert.deepEqual(got, [["v", 0], ["v", 1], ["v", 2]]);
      } finally {
        off();
      }
      const next = c.responded("later", { timeout: 5 });
      await c.post("test/push", { state: "later", count: 2, value: 9 });
      assert.deepEqual(await next, [9, 0]);
      assert.deepEqual(await c.responded("later", { timeout: 5 }), [9, 1]);
    });

    test("bytes and text strings", async () => {
      const bytes = await c.call("test/bytes", [256, 0]);
      assert.ok(bytes instanceof Uint8Array && bytes.length === 256 && bytes[255] === 255);
      const text = await c.call("test/bytes", [256, 1]);
      assert.equal(typeof text, "string");
      assert.equal((text as string).charCodeAt(255), 255);
    });

    test("disconnect, then the next call reconnects", async () => {
      await c.disconnect();
      assert.equal(c.connected, false);
      assert.equal(await c.call("test/add", [2, 2]), 4);
      assert.equal(c.protocol, serverProtocol);
      // The Responder keeps our name for the old connection until it sees that one close: a
      // reconnect overtaking the close would lose its answers ("Remote kernel '...' already exists").
      for (let i = 0; i < 10; i++) {
        await c.post("test/record", i);
        await c.disconnect();
        assert.equal(await c.call("test/add", [i, 1]), i + 1);
      }
      assert.doesNotMatch(server.stderr(), /already exists/);
    });
  });
}

describe("genuine server: other ClientLite settings", () => {
  test("classic IKC asked for by the client, against an IKC0 server", async () => {
    await withServer([], (server) =>
      withClient(server, { name: uniqueName(), protocol: "IKC" }, async (c) => {
        assert.equal(c.protocol, "IKC");
        assert.equal(await c.call("test/echo", "classic"), "classic");
      }), genuine);
  });

  test("unix socket, both protocols", async () => {
    for (const protocol of ["IKC0", "IKC"] as const) {
      const path = tempSocketPath();
      await withServer(
        ["--unix", path, "--protocol", protocol],
        (server) =>
          withClient(server, { path, name: uniqueName() }, async (c) => {
            assert.equal(c.protocol, protocol);
            assert.equal(await c.ping(), true);
            assert.equal(await c.call("test/echo", "over unix"), "over unix");
            assert.equal(await c.postRespond("test/respond", "pr"), "pr");
          }),
        genuine,
      );
    }
  });

  for (const protocol of ["IKC0", "IKC"] as const) {
    test(`freezers offered (${protocol}): the server takes the first it can load`, async () => {
      const cases: Array<[Array<string | Freezer>, string]> = [
        [["FreezeThaw", "Storable"], "FreezeThaw"],
        [["POE::Component::IKC::Freezer"], "POE::Component::IKC::Freezer"],
        [[{ ...storableFreezer, name: "No::Such::Freezer" }, "Storable"], "Storable"],
      ];
      await withServer([], async (server) => {
        for (const [offer, chosen] of cases) {
          await withClient(server, { name: uniqueName(), serializer: offer, protocol }, async (c) => {
            assert.equal(c.freezer, chosen);
            assert.equal(c.protocol, protocol);
            const v = { a: [1, "b", null], s: "é☺", nested: { k: "v" } };
            // FreezeThaw text has no number type: Perl's 1 comes back as the string "1".
            const back = chosen === "FreezeThaw" ? { ...v, a: ["1", "b", null] } : v;
            assert.deepEqual(await c.call("test/echo", v), back);
            assert.equal(await c.ping(), true);
            assert.equal(await c.postRespond("test/respond", "x"), "x");
          });
        }
      }, genuine);
    });
  }

  test("a freezer the server cannot load is refused: ConnectError after falling back", async () => {
    await withServer([], async (server) => {
      const rec = recording();
      await assert.rejects(
        IkcClient.connect({
          host: "127.0.0.1",
          port: server.port,
          name: uniqueName(),
          serializer: { ...storableFreezer, name: "No::Such::Freezer" },
          timeout: 5,
          transport: rec.transport,
        }),
        (e: unknown) => e instanceof ConnectError && /refused every freezer/.test(e.message),
      );
      assert.ok(
        rec.lines.includes("S: NOT") && rec.lines.includes("C: FREEZER No::Such::Freezer"),
        rec.lines.join("\n"),
      );
    }, genuine);
  });

  test("server restarted: pending calls rejected, the next call reconnects", async () => {
    let server = await genuine([]);
    const port = server.port;
    const c = await IkcClient.connect({ host: "127.0.0.1", port, name: uniqueName(), timeout: 5 });
    try {
      assert.equal(await c.call("test/add", [1, 1]), 2);
      const firstKernel = c.remoteKernel;
      const pending = c.postRespond("test/respond", [5000, "never"]);
      const rejected = assert.rejects(pending, DisconnectedError);
      await new Promise((r) => setTimeout(r, 50));
      await server.stop();
      await rejected;
      server = await genuine(["--port", String(port)]);
      assert.equal(await c.call("test/add", [2, 2]), 4);
      assert.equal(c.connected, true);
      assert.notEqual(c.remoteKernel, firstKernel, "a new server process has a new kernel id");
    } finally {
      await c.disconnect();
      await server.stop();
    }
  });

  test("two clients at once, each gets its own answers", async () => {
    await withServer(
      [],
      (server) =>
        withClient(
          server,
          { name: uniqueName(), timeout: 10 },
          (a) =>
            withClient(server, { name: uniqueName(), timeout: 10 }, async (b) => {
              const pa = [], pb = [];
              for (let i = 0; i < 200; i++) {
                pa.push(a.call("test/echo", `a${i}`));
                pb.push(b.call("test/echo", `b${i}`));
              }
              const [ra, rb] = await Promise.all([Promise.all(pa), Promise.all(pb)]);
              for (let i = 0; i < 200; i++) {
                assert.equal(ra[i], `a${i}`);
                assert.equal(rb[i], `b${i}`);
              }
            }),
        ),
      genuine,
    );
  });
});

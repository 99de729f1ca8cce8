// The `ikc` command-line tool, the same lines against the Perl test peer and against `ikc serve`
// (our server with the demo kernel, run as its own process on this runtime).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { main, toJsonable } from "../src/cli.ts";
import { bless, PerlRef } from "../mod.ts";
import { perlMissing } from "./helpers/perl.ts";
import { type PerlServer, startPerlServer } from "./helpers/server.ts";

const skip = perlMissing("POE", "POE::Filter::Reference");

/** Runs `ikc serve --port 0` as a child process of this runtime; resolves once it listens. */
function startIkcServe(): Promise<{ port: number; stop(): Promise<void>; out(): string }> {
  const ts = import.meta.url.endsWith(".ts");
  const cli = fileURLToPath(new URL(ts ? "../src/cli.ts" : "../src/cli.js", import.meta.url));
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const args = g.Deno !== undefined ? ["run", "-A", "--no-check", cli] : [cli];
  const proc = spawn(process.execPath, [...args, "serve", "--port", "0", "--name", "CliServer"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let started = false;
  proc.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  // One exit listener for the whole life of the child: Bun stops calling "exit" listeners added
  // after removeAllListeners("exit").
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`ikc serve did not start: ${out} ${err}`));
    }, 20000);
    void exited.then((code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`ikc serve exited (${code}): ${err}`));
    });
    proc.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const m = /listening on [^:\s]+:(\d+)/.exec(out);
      if (!m || started) return;
      started = true;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        out: () => out,
        stop: async () => {
          const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
          proc.kill("SIGTERM");
          await exited;
          clearTimeout(t);
        },
      });
    });
  });
}

describe("a client process ends when it is done", () => {
  /** Runs tests/fixtures/call-then-exit on this runtime; resolves with its exit code, output and time. */
  async function runFixture(args: string[]): Promise<{ code: number | null; out: string; secs: number }> {
    const ts = import.meta.url.endsWith(".ts");
    const script = fileURLToPath(new URL(`./fixtures/call-then-exit.${ts ? "ts" : "js"}`, import.meta.url));
    const g = globalThis as { Deno?: unknown };
    const pre = g.Deno !== undefined ? ["run", "-A", "--no-check", script] : [script];
    const t0 = performance.now();
    const proc = spawn(process.execPath, [...pre, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
    const code = await new Promise<number | null>((res) => {
      const t = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      proc.once("exit", (c) => {
        clearTimeout(t);
        res(c);
      });
    });
    return { code, out, secs: (performance.now() - t0) / 1000 };
  }

  test("after calls with a 60 s timeout and disconnect(), nothing keeps it alive", { timeout: 40_000 }, async () => {
    const server = await startIkcServe();
    try {
      const r = await runFixture([String(server.port)]);
      assert.equal(r.code, 0);
      assert.match(r.out, /done/);
      assert.ok(r.secs < 15, `the process took ${r.secs.toFixed(1)} s to end`);
    } finally {
      await server.stop();
    }
  });

  test("after a call that could not connect (60 s timeout), nothing keeps it alive", { timeout: 40_000 }, async () => {
    const free = createServer();
    await new Promise<void>((res) => free.listen(0, "127.0.0.1", () => res()));
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((res) => free.close(() => res()));
    const r = await runFixture(["--refused", String(port)]);
    assert.equal(r.code, 0);
    assert.match(r.out, /refused/);
    assert.ok(r.secs < 15, `the process took ${r.secs.toFixed(1)} s to end`);
  });
});

async function run(args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await main(args, (line) => out.push(line));
  return { code, out };
}

const servers: Array<[string, { skip: string | false }, () => Promise<{ port: number; stop(): Promise<void> }>]> = [
  ["the Perl test peer", { skip }, () => startPerlServer(["--name", "CliServer"]) as Promise<PerlServer>],
  ["ikc serve", { skip: false }, startIkcServe],
];

for (const [label, opts, start] of servers) {
  describe(`ikc command line against ${label}`, opts, () => {
    let server: { port: number; stop(): Promise<void> };
    let common: string[];
    before(async () => {
      server = await start();
      common = ["--host", "127.0.0.1", "--port", String(server.port), "--timeout", "5", "--name", "CliTest"];
    });
    after(async () => {
      await server?.stop();
    });

    test("ping prints PONG and the negotiated protocol", async () => {
      const { code, out } = await run(["ping", ...common]);
      assert.equal(code, 0);
      assert.match(out.join("\n"), /^PONG from \S+ \(IKC0, Storable\)$/);
    });

    test("call prints the answer as JSON; --list calls in list context", async () => {
      let r = await run(["call", "test/add", "[1,2,39]", ...common]);
      assert.equal(r.code, 0);
      assert.equal(JSON.parse(r.out.join("\n")), 42);
      r = await run(["call", "test/echo_list", '["a","b"]', "--list", ...common]);
      assert.deepEqual(JSON.parse(r.out.join("\n")), ["a", "b"]);
      r = await run(["call", "test/echo_list", '["a","b"]', ...common]);
      assert.deepEqual(JSON.parse(r.out.join("\n")), "b");
    });

    test("post is seen by the server; post-respond prints the later answer", async () => {
      assert.equal((await run(["call", "test/reset", ...common])).code, 0);
      assert.equal((await run(["post", "test/record", '"from the cli"', ...common])).code, 0);
      const seen = await run(["call", "test/seen", ...common]);
      assert.deepEqual(JSON.parse(seen.out.join("\n")), ["from the cli"]);
      const r = await run(["post-respond", "test/respond", '[5, "later"]', ...common]);
      assert.equal(r.code, 0);
      assert.equal(JSON.parse(r.out.join("\n")), "later");
    });

    test("a remote error and a timeout exit 1", async () => {
      assert.equal((await run(["call", "nope/nothing", ...common])).code, 1);
      const r = await run(["call", "test/undef", ...common.slice(0, -4), "--timeout", "0.3"]);
      assert.equal(r.code, 1);
    });

    test("usage errors exit 2; --help exits 0", async () => {
      assert.equal((await run(["call", ...common])).code, 2);
      assert.equal((await run(["frobnicate", ...common])).code, 2);
      assert.equal((await run(["call", "test/echo", "{not json", ...common])).code, 2);
      const help = await run(["--help"]);
      assert.equal(help.code, 0);
      assert.match(help.out.join("\n"), /usage: ikc/);
    });

    test("an unreachable server exits 1", async () => {
      const r = await run(["ping", "--host", "127.0.0.1", "--port", "1", "--timeout", "2"]);
      assert.equal(r.code, 1);
    });
  });
}

describe("toJsonable", () => {
  test("turns Perl values JSON cannot hold into tagged objects", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const v = toJsonable({
      big: 10n ** 20n,
      bytes: new Uint8Array([0, 255]),
      ref: new PerlRef("x"),
      obj: bless({ id: 1 }, "My::Thing"),
      cyclic: cyclic as never,
    });
    assert.deepEqual(JSON.parse(JSON.stringify(v)), {
      big: "100000000000000000000",
      bytes: { $bytes: "00ff" },
      ref: { $ref: "x" },
      obj: { $class: "My::Thing", $value: { id: 1 } },
      cyclic: { a: 1, self: { $cycle: true } },
    });
  });
});

describe("versions", () => {
  test("ikc --version prints the version package.json and deno.json carry", async () => {
    const { readFileSync } = await import("node:fs");
    const { repoPath } = await import("./helpers/perl.ts");
    const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")).version;
    const deno = JSON.parse(readFileSync(repoPath("deno.json"), "utf8")).version;
    const { code, out } = await run(["--version"]);
    assert.equal(code, 0);
    assert.equal(out.join("\n"), `ikc (poe-ikc) ${pkg}`);
    assert.equal(deno, pkg);
  });
});

// The `ikc` command-line tool, the same lines against the Perl test peer and against `ikc serve`
// (our server with the demo kernel, run as its own process on this runtime).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { formatJson, main, parseJson, toJsonable } from "../src/cli.ts";
import { bless, PerlRef } from "../mod.ts";
import { perlMissing } from "./helpers/perl.ts";
import { type PerlServer, startPerlServer } from "./helpers/server.ts";
import { makeTlsCerts, opensslMissing } from "./helpers/tls-certs.ts";

const skip = perlMissing("POE", "POE::Filter::Reference");

/** How to run the CLI as a child process of this runtime: the executable and the arguments before ours. */
function cliCommand(): [string, string[]] {
  const ts = import.meta.url.endsWith(".ts");
  const cli = fileURLToPath(new URL(ts ? "../src/cli.ts" : "../src/cli.js", import.meta.url));
  const g = globalThis as { Deno?: unknown };
  return [process.execPath, g.Deno !== undefined ? ["run", "-A", "--no-check", cli] : [cli]];
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ikc <args>` as a child process with `env` added to ours; resolves when it exits. */
function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const [exe, pre] = cliCommand();
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const k of ["IKC_HOST", "IKC_PORT"]) if (!(k in env)) delete childEnv[k];
  const proc = spawn(exe, [...pre, ...args], { stdio: ["ignore", "pipe", "pipe"], env: childEnv });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d: Uint8Array) => (stdout += new TextDecoder().decode(d)));
  proc.stderr!.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    proc.once("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `ikc serve --port 0 <extra>` as a child process of this runtime; resolves once it listens. */
function startIkcServe(
  extra: string[] = [],
): Promise<{ port: number; stop(): Promise<void>; out(): string; err(): string }> {
  const [exe, pre] = cliCommand();
  const proc = spawn(exe, [...pre, "serve", "--port", "0", "--name", "CliServer", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let started = false;
  proc.stdout!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
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
    // serve logs to stderr: stdout stays free for a command's output
    proc.stderr!.on("data", (d: Uint8Array) => {
      err += new TextDecoder().decode(d);
      const m = /listening on [^:\s]+:(\d+)/.exec(err);
      if (!m || started) return;
      started = true;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        out: () => out,
        err: () => err,
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

/**
 * Starts `ikc serve <serveArgs>` and `ikc listen tick <listenArgs>` against it; once the server
 * logs `connected`, stops it: the listener must exit 1 saying the server closed the connection.
 */
async function listenUntilServerStops(serveArgs: string[], listenArgs: string[], connected: RegExp): Promise<void> {
  const own = await startIkcServe(serveArgs);
  let stopped = false;
  try {
    const listening = runCli(["listen", "tick", "--port", String(own.port), ...listenArgs]);
    const t0 = Date.now();
    while (!connected.test(own.err()) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
    assert.match(own.err(), connected, "the listener connected");
    await own.stop();
    stopped = true;
    const r = await listening;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /closed the connection/);
  } finally {
    if (!stopped) await own.stop();
  }
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

/** Runs the CLI in this process (its stderr collected, the environment's IKC_* ignored). */
async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, (line) => out.push(line), { env: {}, error: (line) => err.push(line) });
  return { code, out, err };
}

const servers: Array<[string, { skip: string | false }, () => Promise<{ port: number; stop(): Promise<void> }>]> = [
  ["the Perl test peer", { skip }, () => startPerlServer(["--name", "CliServer"]) as Promise<PerlServer>],
  ["ikc serve", { skip: false }, () => startIkcServe()],
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

    test("integers beyond 2^53 arrive exactly (not rounded to the nearest double)", async () => {
      const r = await run(["call", "test/echo", "9007199254740993", ...common]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.match(r.out.join("\n"), /^"?9007199254740993"?$/);
      const nested = await run([
        "call",
        "test/echo",
        '{"n":[-9007199254740993,12345678901234567890]}',
        "--json",
        ...common,
      ]);
      assert.match(nested.out.join("\n"), /^\{"n":\["?-9007199254740993"?,"?12345678901234567890"?\]\}$/);
      if (label === "the Perl test peer") {
        // Perl adds them as integers: it read the number Perl would, not a rounded one.
        const sum = await run(["call", "test/add", "[9007199254740993, 2]", ...common]);
        assert.match(sum.out.join("\n"), /^"?9007199254740995"?$/, sum.err.join("\n"));
      }
    });

    test("usage errors exit 2 while a server listens too; --help exits 0", async () => {
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
      assert.match(r.err.join("\n"), /^ikc: ConnectError: /);
    });
  });
}

/** A TCP listener that counts the connections made to it and answers nothing. */
async function trap(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<{ destroy(): void }>();
  const server = createServer((sock) => {
    n++;
    sockets.add(sock);
    sock.on("error", () => {});
    sock.on("close", () => sockets.delete(sock));
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => n,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

describe("ikc checks the whole command line before it connects (a child process)", () => {
  test("every usage error exits 2 and nothing connects to the server it names", { timeout: 60_000 }, async () => {
    const t = await trap();
    // Files for the --tls-* checks, which come before any PEM is parsed: a PEM-looking file, a text
    // file that is no PEM, a folder and a path that is not there.
    const dir = mkdtempSync(join(tmpdir(), "ikc-cli-tls-"));
    const pem = join(dir, "cert.pem");
    writeFileSync(pem, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    const text = join(dir, "notes.txt");
    writeFileSync(text, "not a certificate\n");
    const missing = join(dir, "missing.pem");
    try {
      const env = { IKC_HOST: "127.0.0.1", IKC_PORT: String(t.port) };
      const port = ["--port", String(t.port)];
      // The cases run as child processes; the rest of the checks run in this process
      // (cheaper than a process each), pointed at the same trap.
      const cases: Array<[string[], RegExp, Record<string, string>?]> = [
        [["frobnicate", ...port], /unknown command "frobnicate"/],
        [["call", ...port], /call needs <spec>/],
        [["call", "test/add", "[1,2", ...port], /params are not valid JSON/],
        [["call", "test/add", "1", "2", "3", ...port], /too many arguments for call: "2" "3"/],
        [["listen", ...port], /listen needs <state>/],
        [["listen", "tick", "--count", "abc", ...port], /--count wants a whole number/],
        [["ping", "--port", "abc"], /--port wants a whole number from 1 to 65535, not "abc"/, env],
        [["ping"], /IKC_PORT wants a whole number/, { IKC_PORT: "abc" }],
        [["ping", "--bogus"], /bogus/, env],
        [["ping", "--tls-cert", pem, ...port], /--tls-cert and --tls-key go together/],
        [["call", "test/add", "--tls-ca", missing, ...port], /--tls-ca "[^"]+missing.pem" cannot be read \(ENOENT\)/],
        [["serve", "--tls-ca", pem, "--port", "0"], /serve with TLS needs --tls-cert and --tls-key/],
      ];
      const inProcess: Array<[string[], RegExp, Record<string, string>?]> = [
        [["call", "nospec", ...port], /"nospec" is not a <spec>/],
        [["listen", "tick", "--count", "0", ...port], /--count wants a whole number/],
        [["ping", "--port", "70000"], /--port wants/, env],
        [["ping", "--timeout", "soon"], /--timeout wants seconds/, env],
        [["ping", "--list"], /ping takes no --list/, env],
        [["ping", "extra"], /too many arguments for ping/, env],
        [["post", "test/x", "--protocol", "IKC9"], /--protocol is IKC0 or IKC/, env],
        [["post", "test/x", "--serializer", "JSON"], /--serializer is one of Storable/, env],
        [["call", "test/echo", "--name", "bad name"], /--name "bad name" may hold only/, env],
        [["ping", "--unix", "/tmp/nothing.sock", ...port], /--unix cannot go with --host or --port/],
        [["help", "frobnicate"], /no help for unknown command "frobnicate"/, env],
        [[], /no command given/, env],
        [["ping", "--tls-key", pem], /--tls-cert and --tls-key go together/, env],
        [["listen", "tick", "--tls-ca", dir], /--tls-ca "[^"]+" is not a file/, env],
        [["post", "test/x", "--tls-ca", text], /--tls-ca "[^"]+notes.txt" holds no PEM block/, env],
        [["post-respond", "test/x", "--tls-cert", pem, "--tls-key", missing], /--tls-key "[^"]+" cannot be read/, env],
        [
          ["ping", "--tls", "--unix", join(dir, "s.sock")],
          /--tls options go with TCP \(--host, --port\), not --unix/,
          env,
        ],
        [["call", "test/x", "--tls-ca", pem, "--unix", join(dir, "s.sock")], /not --unix/, env],
        [["serve", "--tls-cert", pem, "--tls-key", pem, "--unix", join(dir, "s.sock")], /not --unix/, env],
        [["serve", "--tls-cert", pem, "--port", "0"], /--tls-cert and --tls-key go together/, env],
        [["serve", "--tls", "--port", "0"], /serve takes no --tls/, env],
      ];
      const results = await Promise.all(cases.map(([args, , e]) => runCli(args, e ?? env)));
      for (const [args, , e] of inProcess) {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(args, (l) => out.push(l), { env: e ?? env, error: (l) => err.push(l) });
        results.push({ code, stdout: out.join("\n"), stderr: err.join("\n") });
      }
      [...cases, ...inProcess].forEach(([args, message], i) => {
        const r = results[i];
        const what = `ikc ${args.join(" ")}`;
        assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr ${r.stderr}`);
        assert.match(r.stderr, /^ikc: /, what);
        assert.match(r.stderr, message, what);
        assert.equal(r.stdout, "", `${what} printed on stdout`);
      });
      // The trap counts a connection when one is made: a ping that does connect (and then times
      // out, since the trap never answers) is seen, after every case above has exited.
      const control = await runCli(["ping", "--timeout", "1"], env);
      assert.equal(control.code, 1, control.stderr);
      assert.equal(t.connections(), 1, "only the control ping connected");
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ikc against ikc serve as child processes: environment, --json, help, listen", () => {
  let server: Awaited<ReturnType<typeof startIkcServe>>;
  before(async () => {
    server = await startIkcServe();
  });
  after(async () => {
    await server?.stop();
  });

  test("IKC_HOST and IKC_PORT name the server; --host and --port win over them", async () => {
    const r = await runCli(["ping"], { IKC_HOST: "127.0.0.1", IKC_PORT: String(server.port) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PONG from CliServer-\S+ \(IKC0, Storable\)\n$/);
    const t = await trap();
    try {
      const over = await runCli(["ping", "--host", "127.0.0.1", "--port", String(server.port)], {
        IKC_HOST: "localhost",
        IKC_PORT: String(t.port),
      });
      assert.equal(over.code, 0, over.stderr);
      assert.equal(t.connections(), 0, "IKC_PORT was used although --port was given");
    } finally {
      await t.close();
    }
  });

  test("--json prints one line of compact JSON", async () => {
    const env = { IKC_HOST: "127.0.0.1", IKC_PORT: String(server.port) };
    const params = '{"a": [1, "x", null], "big": 9007199254740993, "s": "y z"}';
    const r = await runCli(["call", "test/echo", params, "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[^\n]+\n$/, "one line");
    assert.equal(r.stdout, '{"a":[1,"x",null],"big":"9007199254740993","s":"y z"}\n');
    const pretty = await runCli(["call", "test/echo", "[1]"], env);
    assert.equal(pretty.stdout, "[\n  1\n]\n", "without --json the answer is indented");
    const ping = await runCli(["ping", "--json"], env);
    assert.deepEqual(Object.keys(JSON.parse(ping.stdout)), ["pong", "kernel", "protocol", "freezer"]);
    assert.match(ping.stdout, /^[^\n]+\n$/);
  });

  test("help <command>, --help and the exit statuses they state", async () => {
    const all = await runCli(["--help"]);
    assert.equal(all.code, 0);
    for (const c of ["ping", "call", "post", "post-respond", "listen", "serve", "help"]) {
      assert.match(all.stdout, new RegExp(`^  ${c} `, "m"), `--help lists ${c}`);
    }
    assert.match(all.stdout, /exit status:\n {2}0 +success\n {2}1 +runtime error[^]*\n {2}2 +usage error/);
    assert.match(all.stdout, /IKC_HOST and IKC_PORT/);
    const call = await runCli(["help", "call"]);
    assert.equal(call.code, 0);
    assert.match(call.stdout, /^usage: ikc call <spec> \[json\] \[options\]\n/);
    assert.match(call.stdout, /--list/);
    assert.doesNotMatch(call.stdout, /--count/, "only the options call takes");
    assert.equal((await runCli(["call", "--help"])).stdout, call.stdout);
    const listen = await runCli(["help", "listen"]);
    assert.match(listen.stdout, /--count <n>/);
    for (const o of ["--tls ", "--tls-ca <file>", "--tls-cert <file>", "--tls-key <file>"]) {
      assert.ok(call.stdout.includes(o), `help call shows ${o}`);
      assert.ok(all.stdout.includes(o), `--help shows ${o}`);
    }
    const serve = await runCli(["help", "serve"]);
    assert.match(serve.stdout, /--tls-cert <file>[^]*--tls-key <file>/);
    assert.doesNotMatch(serve.stdout, /--tls /, "serve takes no --tls");
  });

  test("listen exits 1 with a message when the server goes away", { timeout: 30_000 }, async () => {
    await listenUntilServerStops([], ["--host", "127.0.0.1"], /connect Client\d+-[0-9a-f-]+ \(/);
  });
});

describe("ikc over TLS: ikc serve and its clients as child processes", { skip: opensslMissing() }, () => {
  let certs: ReturnType<typeof makeTlsCerts>;
  let mutual: Awaited<ReturnType<typeof startIkcServe>>;
  let tlsOnly: Awaited<ReturnType<typeof startIkcServe>>;
  const file = (f: string) => join(certs.dir, f);
  const client =
    () => ["--tls-ca", file("ca.pem"), "--tls-cert", file("client.pem"), "--tls-key", file("client-key.pem")];
  const at = (s: { port: number }) => ["--host", "localhost", "--port", String(s.port), "--timeout", "5"];
  before(async () => {
    certs = makeTlsCerts();
    const cert = ["--tls-cert", file("server.pem"), "--tls-key", file("server-key.pem")];
    [mutual, tlsOnly] = await Promise.all([startIkcServe([...cert, "--tls-ca", file("ca.pem")]), startIkcServe(cert)]);
  });
  after(async () => {
    await Promise.all([mutual?.stop(), tlsOnly?.stop()]);
    certs?.remove();
  });

  test("with --tls-ca, serve requires a client certificate; ping, call, post and listen present one", async () => {
    assert.match(mutual.err(), /listening on 127\.0\.0\.1:\d+ \(TLS, client certificates required\)/);
    const ping = await runCli(["ping", ...at(mutual), ...client()]);
    assert.equal(ping.code, 0, ping.stderr);
    assert.match(ping.stdout, /^PONG from CliServer-\S+ \(IKC0, Storable\)\n$/);
    assert.match(
      mutual.err(),
      /connect Client\d+-[0-9a-f-]+ \(IKC0, Storable, TLS, certificate [^)]*CN=ikc-worker[^)]*\)/,
    );
    const [call, post] = await Promise.all([
      runCli(["call", "test/add", "[1,2,39]", ...at(mutual), ...client()]),
      runCli(["post", "test/record", '"over TLS"', ...at(mutual), ...client()]),
    ]);
    assert.equal(call.code, 0, call.stderr);
    assert.equal(call.stdout, "42\n");
    assert.equal(post.code, 0, post.stderr);
    const [seen, later] = await Promise.all([
      runCli(["call", "test/seen", "--json", ...at(mutual), ...client()]),
      runCli(["post-respond", "test/respond", '[5, "later"]', ...at(mutual), ...client()]),
    ]);
    assert.match(seen.stdout, /"over TLS"/);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(later.stdout, '"later"\n');
  });

  test("listen over TLS stays connected until the server goes away (exit 1)", { timeout: 30_000 }, async () => {
    const cert = ["--tls-cert", file("server.pem"), "--tls-key", file("server-key.pem")];
    await listenUntilServerStops(
      [...cert, "--tls-ca", file("ca.pem")],
      ["--host", "localhost", ...client()],
      /connect Client\d+-[0-9a-f-]+ \(IKC0, Storable, TLS, certificate [^)]*CN=ikc-worker[^)]*\)/,
    );
  });

  test("a client without a certificate, or in plain TCP, is refused (exit 1); the server serves on", async () => {
    const [noCert, plain] = await Promise.all([
      runCli(["ping", ...at(mutual), "--tls-ca", file("ca.pem")]),
      runCli(["ping", ...at(mutual)]),
    ]);
    assert.equal(noCert.code, 1, noCert.stderr);
    assert.match(noCert.stderr, /^ikc: ConnectError: /);
    assert.equal(plain.code, 1, plain.stderr);
    const again = await runCli(["ping", ...at(mutual), ...client()]);
    assert.equal(again.code, 0, again.stderr);
  });

  test("without --tls-ca, serve asks for no certificate; the client verifies the server by --tls-ca", async () => {
    assert.match(tlsOnly.err(), /listening on 127\.0\.0\.1:\d+ \(TLS\); /);
    const [byCa, byIp, stranger, systemRoots] = await Promise.all([
      runCli(["call", "test/echo", '"hello"', ...at(tlsOnly), "--tls-ca", file("ca.pem")]),
      runCli(["ping", "--host", "127.0.0.1", "--port", String(tlsOnly.port), "--tls-ca", file("ca.pem")]),
      runCli(["ping", ...at(tlsOnly), "--tls-ca", file("stranger-ca.pem")]),
      runCli(["ping", ...at(tlsOnly), "--tls"]),
    ]);
    assert.equal(byCa.code, 0, byCa.stderr);
    assert.equal(byCa.stdout, '"hello"\n');
    assert.equal(byIp.code, 0, byIp.stderr);
    // the test CA is in no system store: --tls alone, or another CA, refuses the server
    assert.equal(stranger.code, 1, stranger.stderr);
    assert.match(stranger.stderr, /^ikc: ConnectError: /);
    assert.equal(systemRoots.code, 1, systemRoots.stderr);
    assert.match(systemRoots.stderr, /^ikc: ConnectError: /);
  });
});

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
    assert.equal(typeof (v as { big: unknown }).big, "bigint", "a bigint stays one until printed");
    assert.deepEqual(parseJson(formatJson(v)), {
      big: 10n ** 20n,
      bytes: { $bytes: "00ff" },
      ref: { $ref: "x" },
      obj: { $class: "My::Thing", $value: { id: 1 } },
      cyclic: { a: 1, self: { $cycle: true } },
    });
  });
});

describe("JSON in and out of the command line", () => {
  test("parseJson keeps integers beyond 2^53 exact and everything else as JSON.parse does", () => {
    assert.deepEqual(parseJson("9007199254740993"), 9007199254740993n);
    assert.deepEqual(parseJson("[-9007199254740993, 9007199254740991, 1e400, 12345678901234567.5]"), [
      -9007199254740993n,
      9007199254740991,
      Infinity,
      12345678901234567.5,
    ]);
    // digits inside strings and keys are text, however long
    const text = '{"9007199254740993": "9007199254740993 and \\"12345678901234567890\\"", "n": 12345678901234567890}';
    assert.deepEqual(parseJson(text), {
      "9007199254740993": '9007199254740993 and "12345678901234567890"',
      n: 12345678901234567890n,
    });
    // a string that looks like the marker big integers travel in stays a string
    const sneaky = JSON.stringify(["\u{10FFFF}big:1", 9007199254740993n.toString()]).replace(/"(\d+)"\]$/, "$1]");
    assert.deepEqual(parseJson(sneaky), ["\u{10FFFF}big:1", 9007199254740993n]);
    assert.throws(() => parseJson("[1,2"), SyntaxError);
    assert.throws(() => parseJson("[12345678901234567890,"), SyntaxError);
  });

  test("formatJson writes bigints as exact numbers, compact or indented", () => {
    assert.equal(
      formatJson([9007199254740993n, -1n, "a", null, { k: [] }, {}]),
      '[9007199254740993,-1,"a",null,{"k":[]},{}]',
    );
    assert.equal(
      formatJson({ a: [1, { b: 2n ** 64n }] }, 2),
      '{\n  "a": [\n    1,\n    {\n      "b": 18446744073709551616\n    }\n  ]\n}',
    );
    const sample = { s: "x\ny\u0000", n: 1.5, t: true, l: [[1], []] };
    assert.equal(formatJson(sample), JSON.stringify(sample));
    assert.equal(formatJson(sample, 2), JSON.stringify(sample, null, 2));
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

// Perl IKC over TLS through a terminator, as real deployments run it (issue 20): a Perl client
// -> socat (plain to TLS, with a client certificate) -> our TLS IkcServer, and our TLS IkcClient
// -> socat (TLS to plain, asking for a client certificate) -> a Perl IKC server. The Perl peers
// are the bundled ones (tests/perl/), on POE's own wheels and filters.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { ConnectError, IkcClient, IkcServer } from "../mod.ts";
import { perlMissing } from "./helpers/perl.ts";
import { startPerlClient, stopAllPerlClients } from "./helpers/perl-client.ts";
import { repoPath } from "./helpers/perl.ts";
import { type PerlServer, startPerlServer } from "./helpers/server.ts";
import { makeTlsCerts, opensslMissing, type TlsCerts } from "./helpers/tls-certs.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function socatMissing(): string | false {
  const r = spawnSync("socat", ["-V"], { stdio: "ignore" });
  return r.status === 0 ? false : "socat is not installed (scripts/setup.sh installs it)";
}

const skip = socatMissing() || opensslMissing() || perlMissing("POE", "POE::Filter::Reference");
// The genuine POE::Component::IKC is not part of the project: scripts/check-genuine.sh and
// scripts/check-genuine-clients.sh set IKC_GENUINE_LIB to the checkout the user gives them.
const genuineLib = process.env.IKC_GENUINE_LIB;
const genuineSkip = skip ||
  (genuineLib ? false : "IKC_GENUINE_LIB is not set (scripts/check-genuine*.sh set it to a genuine IKC checkout)");

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts socat listening on 127.0.0.1:`port` (`listen` is its first address); resolves once it accepts. */
async function socat(port: number, listen: string, to: string): Promise<ChildProcess> {
  const proc = spawn("socat", [listen, to], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) return proc;
    if (proc.exitCode !== null) break;
    await sleep(25);
  }
  proc.kill();
  throw new Error(`socat ${listen} did not start: ${err}`);
}

/**
 * Our TLS IkcServer (publishing `t/echo`, asking for client certificates) behind a socat that takes
 * plain TCP and speaks TLS to it with the client certificate: a plain Perl client's way in.
 */
async function tlsHubBehindSocat(certs: TlsCerts, procs: ChildProcess[]): Promise<{ server: IkcServer; port: number }> {
  const file = (name: string) => join(certs.dir, name);
  const server = await IkcServer.listen({
    port: 0,
    name: "TlsHub",
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true },
  });
  server.publish("t", { echo: (params) => params });
  const port = await freePort();
  const to = `OPENSSL:localhost:${server.port},cafile=${file("ca.pem")},cert=${file("client.pem")},` +
    `key=${file("client-key.pem")},verify=1`;
  procs.push(await socat(port, `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, to));
  return { server, port };
}

/** Our IkcClient over mutual TLS to localhost:`port`. */
function mutualClient(certs: TlsCerts, port: number): Promise<IkcClient> {
  const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
  return IkcClient.connect({ host: "localhost", port, name: "TsOverTls", timeout: 5, tls });
}

/** A socat taking TLS (client certificate required) in front of the plain server at `target`; its port. */
async function socatTerminating(certs: TlsCerts, procs: ChildProcess[], target: number): Promise<number> {
  const file = (name: string) => join(certs.dir, name);
  const port = await freePort();
  const listen = `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,cert=${file("server.pem")},` +
    `key=${file("server-key.pem")},cafile=${file("ca.pem")},verify=1`;
  procs.push(await socat(port, listen, `TCP:127.0.0.1:${target}`));
  return port;
}

describe("Perl IKC over TLS through socat", { skip }, () => {
  let certs: TlsCerts;
  const procs: ChildProcess[] = [];
  before(() => (certs = makeTlsCerts()));
  after(async () => {
    await stopAllPerlClients();
    for (const p of procs) p.kill();
    certs?.remove();
  });

  test("Perl client -> socat (plain to TLS, client certificate) -> our TLS IkcServer", async () => {
    const { server, port } = await tlsHubBehindSocat(certs, procs);
    try {
      const c = await startPerlClient({ port, name: "perl_tls", timeout: 5 });
      assert.equal(c.negotiated.protocol, "IKC0");
      assert.ok(c.negotiated.remote.includes("TlsHub"));
      assert.deepEqual(await c.step({ op: "call", spec: "t/echo", params: "over TLS" }), { result: "over TLS" });
      await c.stop();
      // The same Perl client straight to the TLS port, in plain text, does not get in.
      await assert.rejects(startPerlClient({ port: server.port!, name: "perl_plain", timeout: 2, startMs: 8000 }));
    } finally {
      await server.close({ timeout: 1 });
    }
  });

  describe("our TLS IkcClient -> socat (TLS to plain, client certificate required) -> Perl server", () => {
    let perl: PerlServer;
    let port: number;
    before(async () => {
      perl = await startPerlServer(["--name", "PerlBehindTls"]);
      port = await socatTerminating(certs, procs, perl.port);
    });
    after(() => perl?.stop());

    test("mutual TLS: negotiates with the Perl server and calls it", async () => {
      const c = await mutualClient(certs, port);
      try {
        assert.ok(c.remoteAliases.includes("PerlBehindTls"));
        assert.equal(await c.call("test/add", [1, 2, 3]), 6);
        assert.equal(await c.call("test/echo", "through socat"), "through socat");
      } finally {
        await c.disconnect();
      }
    });

    test("refused without a client certificate, with an unknown CA, or in plain text: a ConnectError", async () => {
      const attempt = (tls: ConstructorParameters<typeof IkcClient>[0]) =>
        IkcClient.connect({ host: "localhost", port, connectTimeout: 3, reconnect: false, ...tls });
      await assert.rejects(attempt({ tls: { ca: certs.ca } }), ConnectError);
      await assert.rejects(
        attempt({ tls: { ca: certs.strangerCa, cert: certs.clientCert, key: certs.clientKey } }),
        ConnectError,
      );
      await assert.rejects(attempt({}), ConnectError);
    });
  });
});

describe("the genuine Perl IKC over TLS through socat", { skip: genuineSkip }, () => {
  let certs: TlsCerts;
  const procs: ChildProcess[] = [];
  before(() => (certs = makeTlsCerts()));
  after(() => {
    for (const p of procs) p.kill();
    certs?.remove();
  });

  test("genuine ClientLite -> socat (plain to TLS, client certificate) -> our TLS IkcServer", async () => {
    const { server, port } = await tlsHubBehindSocat(certs, procs);
    try {
      const lite = spawn("perl", [`-I${genuineLib}`, repoPath("check/genuine-lite.pl"), "--port", String(port)], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      procs.push(lite);
      let out = "";
      const line = async () => {
        for (let i = 0; i < 400 && !out.includes("\n"); i++) await sleep(25);
        const at = out.indexOf("\n");
        assert.ok(at >= 0, "a line from ClientLite");
        const text = out.slice(0, at);
        out = out.slice(at + 1);
        return JSON.parse(text);
      };
      lite.stdout!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
      const hello = await line();
      assert.equal(hello.connected, 1, JSON.stringify(hello));
      lite.stdin!.write(JSON.stringify({ op: "call", spec: "t/echo", params: "genuine over TLS" }) + "\n");
      assert.equal((await line()).result, "genuine over TLS");
      lite.stdin!.end(JSON.stringify({ op: "quit" }) + "\n");
    } finally {
      await server.close({ timeout: 1 });
    }
  });

  test("our TLS IkcClient -> socat (TLS to plain) -> the genuine IKC::Server", async () => {
    const perl = await startPerlServer(["--name", "GenuineBehindTls"], "check/genuine-server.pl", [`-I${genuineLib}`]);
    try {
      const port = await socatTerminating(certs, procs, perl.port);
      const c = await mutualClient(certs, port);
      try {
        assert.ok(c.remoteAliases.includes("GenuineBehindTls"), String(c.remoteAliases));
        assert.equal(await c.call("test/echo", "through socat"), "through socat");
      } finally {
        await c.disconnect();
      }
    } finally {
      await perl.stop();
    }
  });
});

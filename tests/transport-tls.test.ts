// TLS at the transport level (issue 20): mutual TLS with peer info, and every refusal a typed
// error within the connect timeout while the listener keeps serving the others.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { ConnectError, UnsupportedRuntimeError } from "../src/core/errors.ts";
import { detectTransport } from "../src/transport/detect.ts";
import { memoryTransport } from "../src/transport/memory.ts";
import { nodeTransport } from "../src/transport/node.ts";
import type { Connection, Listener, ListenTlsOptions, Transport } from "../src/transport/types.ts";
import { makeTlsCerts, opensslMissing, type TlsCerts } from "./helpers/tls-certs.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => (b === null ? "EOF" : new TextDecoder().decode(b));
const skip = opensslMissing();

const detected = detectTransport();
const transports: Transport[] = [detected];
if (detected.name !== "node") transports.push(nodeTransport);

/** Echoes every accepted connection until the listener closes. */
function serve(listener: Listener): Promise<void> {
  return (async () => {
    for (let conn; (conn = await listener.accept()) !== null;) {
      const c = conn;
      void (async () => {
        try {
          await c.write(enc(`hello ${c.tls?.subject ?? "anonymous"} (${c.tls?.authorized})\n`));
          for (let b = await c.read(); b !== null; b = await c.read()) await c.write(b);
        } catch {
          // a refused peer
        } finally {
          await c.close();
        }
      })();
    }
  })();
}

/** Writes a line, then reads what comes back (text, "EOF"), or the read's error. */
async function exchange(conn: Connection, line: string): Promise<string> {
  await conn.write(enc(line)).catch(() => {});
  let text = "";
  try {
    while (!text.includes(line)) {
      const b = await conn.read();
      if (b === null) break;
      text += dec(b);
    }
  } catch (e) {
    return `${text}ERROR ${(e as Error).name}: ${(e as Error).message}`;
  }
  return text;
}

describe("TLS", { skip }, () => {
  let certs: TlsCerts;
  before(() => (certs = makeTlsCerts()));
  after(() => certs?.remove());

  for (const transport of transports) {
    describe(`${transport.name} transport`, () => {
      test("mutual TLS: both ends verified, the peer's subject known, bytes both ways", async () => {
        const listener = await transport.listen({
          port: 0,
          tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true },
        });
        const served = serve(listener);
        try {
          const conn = await transport.connect({
            host: "localhost",
            port: listener.port,
            tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
            signal: AbortSignal.timeout(10000),
          });
          assert.equal(conn.tls?.authorized, true);
          const text = await exchange(conn, "ping\n");
          assert.match(text, /^hello .*CN=ikc-worker.* \(true\)\nping\n$/);
          await conn.close();
        } finally {
          await listener.close();
          await served;
        }
      });

      test("refusals: no client certificate, unknown CA, wrong name, plain TCP; the listener serves on", async () => {
        const listener = await transport.listen({
          port: 0,
          tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true },
        });
        const served = serve(listener);
        const port = listener.port!;
        const attempt = (tls: Parameters<Transport["connect"]>[0]["tls"]) =>
          transport.connect({ host: "localhost", port, tls, signal: AbortSignal.timeout(5000) });
        try {
          // The server refuses a client without a certificate once it has seen the client's
          // handshake: with TLS 1.3 that is after connect() resolved, so the refusal is the first read.
          const started = Date.now();
          const noCert = await attempt({ ca: certs.ca }).then(
            (conn) => exchange(conn, "anyone?\n").finally(() => conn.destroy!()),
            (e: unknown) => `CONNECT ${(e as Error).name}: ${(e as Error).message}`,
          );
          assert.match(noCert, /^(ERROR DisconnectedError|CONNECT ConnectError): .*(?:certificate|CERTIFICATE)/i);
          assert.ok(Date.now() - started < 5000, "refused within the connect timeout");
          await assert.rejects(
            attempt({ ca: certs.strangerCa, cert: certs.clientCert, key: certs.clientKey }),
            (e: unknown) => e instanceof ConnectError && /TLS handshake with localhost:\d+ failed/.test(e.message),
          );
          await assert.rejects(
            attempt({ ca: certs.ca, serverName: "example.org" }),
            (e: unknown) => e instanceof ConnectError && /example\.org/.test(e.message),
          );
          // Plain TCP to the TLS port: never served, gets TLS bytes or nothing, then the close.
          const plain = net.connect({ host: "127.0.0.1", port });
          plain.on("error", () => {});
          plain.write("SETUP KERNEL=plain;FREEZER=Storable;PID=1\r\n");
          let plainText = "";
          plain.on("data", (d: Uint8Array) => (plainText += new TextDecoder().decode(d)));
          await new Promise<void>((r) => plain.on("close", () => r()));
          assert.doesNotMatch(plainText, /hello|SETUP/);
          // ... and a good client is still served.
          const good = await attempt({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
          assert.match(await exchange(good, "still there\n"), /\(true\)\nstill there\n$/);
          await good.close();
        } finally {
          await listener.close();
          await served;
        }
      });

      /** A client that shows no certificate is served by a listener with `tls`, and told it is unverified. */
      async function anonymousIsUnverified(tls: ListenTlsOptions): Promise<void> {
        const listener = await transport.listen({ port: 0, tls });
        const served = serve(listener);
        try {
          const conn = await transport.connect({ host: "127.0.0.1", port: listener.port, tls: { ca: certs.ca } });
          assert.match(await exchange(conn, "who am I\n"), /^hello anonymous \(false\)\nwho am I\n$/);
          await conn.close();
        } finally {
          await listener.close();
          await served;
        }
      }

      test("requestCert with rejectUnauthorized false: a client without a certificate is served, unverified", async () => {
        await anonymousIsUnverified({
          cert: certs.serverCert,
          key: certs.serverKey,
          ca: certs.ca,
          requestCert: true,
          rejectUnauthorized: false,
        });
      });

      test("a server that asks for no certificate reports its client unverified", async () => {
        await anonymousIsUnverified({ cert: certs.serverCert, key: certs.serverKey });
      });

      test("TLS to a plain port fails within the signal's time, not in plain text", async () => {
        const server = net.createServer((s) => {
          s.on("error", () => {});
          s.on("data", () => {}); // a plain IKC server waiting for a line
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        try {
          const port = (server.address() as net.AddressInfo).port;
          await assert.rejects(
            transport.connect({ host: "127.0.0.1", port, tls: { ca: certs.ca }, signal: AbortSignal.timeout(500) }),
            (e: unknown) => e instanceof ConnectError && /aborted/.test(e.message),
          );
        } finally {
          server.close();
        }
      });

      test("bad tls options are TypeErrors naming them", async () => {
        await assert.rejects(
          transport.connect({ port: 1, tls: { ca: certs.ca, verify: true } as never }),
          (e: unknown) => e instanceof TypeError && /"verify"/.test(e.message),
        );
        await assert.rejects(transport.connect({ port: 1, tls: { cert: certs.clientCert } }), TypeError);
        await assert.rejects(transport.listen({ port: 0, tls: { cert: certs.serverCert } as never }), TypeError);
      });
    });
  }

  if (detected.name === "deno") {
    test("deno transport refuses what Deno.connectTls cannot do, never falling back to plain text", async () => {
      for (const tls of [{ rejectUnauthorized: false }, { serverName: "x.org", cert: "c", key: "k" }]) {
        await assert.rejects(detected.connect({ port: 1, tls }), UnsupportedRuntimeError);
      }
      await assert.rejects(detected.connect({ path: "/tmp/x.sock", tls: true }), UnsupportedRuntimeError);
    });
  }

  test("the memory transport refuses tls with a TypeError", async () => {
    const memory = memoryTransport();
    await assert.rejects(memory.connect({ port: 1, tls: true }), TypeError);
    await assert.rejects(memory.listen({ port: 0, tls: { cert: "c", key: "k" } }), TypeError);
  });
});

// Throwaway certificates for the TLS tests, made by `openssl` at test time (X.509 v3: rustls,
// behind Deno.connectTls, refuses v1).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM strings: a CA, a server and a client it signed, and a stranger CA with its own server. */
export interface TlsCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A server certificate (for localhost) signed by another CA: unknown to clients trusting `ca`. */
  strangerCert: string;
  strangerKey: string;
  strangerCa: string;
  /** The folder holding the files (`ca.pem`, `server.pem`, ...), for socat. */
  dir: string;
  remove(): void;
}

/** Why the TLS tests cannot run here, or false. */
export function opensslMissing(): string | false {
  const r = spawnSync("openssl", ["version"], { stdio: "ignore" });
  return r.status === 0 ? false : "openssl is not installed";
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

/** Makes a CA and the certificates it signs in a fresh temp folder. */
export function makeTlsCerts(): TlsCerts {
  const dir = mkdtempSync(join(tmpdir(), "ikc-tls-"));
  const ca = (name: string, cn: string) =>
    openssl(dir, [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.pem`,
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  const leaf = (name: string, cn: string, signer: string, ext: string) => {
    openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      cn,
    ]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${signer}.pem`,
      "-CAkey",
      `${signer}-key.pem`,
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${name}.pem`,
      "-extfile",
      `${name}.ext`,
    ]);
  };
  const serverExt = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n" +
    "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
  const clientExt =
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n";
  ca("ca", "poe-ikc test CA");
  ca("stranger-ca", "stranger CA");
  leaf("server", "/CN=localhost/O=poe-ikc test", "ca", serverExt);
  leaf("client", "/CN=ikc-worker/O=poe-ikc test", "ca", clientExt);
  leaf("stranger", "/CN=localhost/O=stranger", "stranger-ca", serverExt);
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  return {
    ca: read("ca.pem"),
    serverCert: read("server.pem"),
    serverKey: read("server-key.pem"),
    clientCert: read("client.pem"),
    clientKey: read("client-key.pem"),
    strangerCert: read("stranger.pem"),
    strangerKey: read("stranger-key.pem"),
    strangerCa: read("stranger-ca.pem"),
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * `--tls`, `--tls-ca`, `--tls-cert` and `--tls-key`: checked and their PEM files read while the
 * command line is checked, so a missing file or a wrong combination is a usage error before any
 * connection.
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import type { ConnectTlsOptions, ListenTlsOptions } from "../transport/types.ts";
import { UsageError } from "./usage-error.ts";

/** Largest PEM file read: certificates and keys are a few KB; this keeps a wrong path (a log, a device) out. */
const MAX_PEM_FILE = 1024 * 1024;

/**
 * The TLS options the command line asks for: a client's (`true` for the system's roots, or an
 * object) or, for `serve`, a listener's; undefined without any `--tls*` option.
 *
 * @example
 * ```ts
 * import { readTlsOptions } from "./tls-options.ts";
 * readTlsOptions("ping", { tls: true }); // true
 * readTlsOptions("ping", {}); // undefined
 * ```
 */
export function readTlsOptions(
  command: string,
  values: Record<string, string | boolean | undefined>,
): true | ConnectTlsOptions | ListenTlsOptions | undefined {
  const [ca, cert, key] = (["tls-ca", "tls-cert", "tls-key"] as const).map((k) => values[k] as string | undefined);
  const any = values.tls === true || ca !== undefined || cert !== undefined || key !== undefined;
  if (!any) return undefined;
  if (values.unix !== undefined) {
    // Deno's client cannot speak TLS over a Unix socket: the same command line works on every runtime.
    throw new UsageError("--tls options go with TCP (--host, --port), not --unix", command);
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together", command);
  }
  if (command === "serve") {
    if (cert === undefined || key === undefined) {
      throw new UsageError("serve with TLS needs --tls-cert and --tls-key", command);
    }
    const tls: ListenTlsOptions = {
      cert: readPem("--tls-cert", cert, command),
      key: readPem("--tls-key", key, command),
    };
    if (ca !== undefined) {
      tls.ca = readPem("--tls-ca", ca, command);
      tls.requestCert = true;
    }
    return tls;
  }
  if (ca === undefined && cert === undefined) return true;
  const tls: ConnectTlsOptions = {};
  if (ca !== undefined) tls.ca = readPem("--tls-ca", ca, command);
  if (cert !== undefined && key !== undefined) {
    tls.cert = readPem("--tls-cert", cert, command);
    tls.key = readPem("--tls-key", key, command);
  }
  return tls;
}

/** The text of the PEM file `path`, or a usage error saying why it cannot be used. */
function readPem(option: string, path: string, command: string): string {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError(`${option} ${JSON.stringify(path)} is not a file`, command);
    if (st.size > MAX_PEM_FILE) {
      throw new UsageError(`${option} ${JSON.stringify(path)} is over ${MAX_PEM_FILE} bytes: not a PEM file`, command);
    }
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as { code?: string }).code;
    throw new UsageError(`${option} ${JSON.stringify(path)} cannot be read${code ? ` (${code})` : ""}`, command);
  }
  if (!text.includes("-----BEGIN ")) {
    throw new UsageError(`${option} ${JSON.stringify(path)} holds no PEM block (-----BEGIN ...)`, command);
  }
  return text;
}

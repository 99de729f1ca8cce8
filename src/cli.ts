#!/usr/bin/env node
/**
 * `ikc`: the command-line tool. Talks to any IKC server (ping, call, post, postRespond,
 * listen for messages the server sends on its own), and runs the demo kernel as a server.
 * The whole command line is checked before anything connects: a mistake exits 2, nothing sent.
 *
 * ```sh
 * ikc serve --port 6030 &
 * ikc ping --port 6030
 * ikc call test/echo '{"a":[1,2]}' --port 6030
 * IKC_PORT=6030 ikc call test/echo_list '["a","b"]' --list --json
 * ikc help call
 * ```
 *
 * @module
 */
import process from "node:process";
import { IkcClient } from "./client.ts";
import type { IkcClientOptions } from "./client/types.ts";
import type { ListenTlsOptions } from "./transport/types.ts";
import { demoStates } from "./demo-kernel.ts";
import { IkcServer } from "./server.ts";
import { VERSION } from "./version.ts";
import { IkcError } from "./core/errors.ts";
import type { PerlValue } from "./core/perl.ts";
import { COMMANDS, helpText, type Invocation, parseCommandLine, UsageError } from "./cli/args.ts";
import { formatJson, toJsonable } from "./cli/json.ts";

export { formatJson, parseJson, toJsonable } from "./cli/json.ts";

/**
 * Where {@link main} writes and what it reads: stdout lines, stderr lines and the environment
 * (defaults: console.log, console.error, process.env).
 *
 * @example
 * ```ts
 * import type { CliIo } from "./cli.ts";
 * const io: CliIo = { env: { IKC_PORT: "6030" }, error: () => {} };
 * ```
 */
export interface CliIo {
  error?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

/**
 * Runs the command line; returns the exit status (0 ok, 1 runtime error, 2 usage error).
 * `write` receives stdout lines.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const code = await main(["ping", "--port", "603"], console.log);
 * ```
 */
export async function main(
  argv: string[],
  write: (line: string) => void = console.log,
  io: CliIo = {},
): Promise<number> {
  const warn = io.error ?? console.error;
  let inv: Invocation;
  let client: IkcClient | undefined;
  try {
    inv = parseCommandLine(argv, io.env ?? process.env);
    if (inv.command === "version") {
      write(`ikc (poe-ikc) ${VERSION}`);
      return 0;
    }
    if (inv.command === "help") {
      write(helpText(inv.positionals[0]));
      return 0;
    }
    if (inv.command === "serve") return await serve(inv, warn);
    client = newClient(inv);
  } catch (e) {
    return failed(e, warn);
  }
  try {
    await client.open();
    return await run(client, inv, write, warn);
  } catch (e) {
    return failed(e, warn);
  } finally {
    await client.disconnect();
  }
}

/** The client for `inv`, not yet connected: an option the library refuses is a usage error. */
function newClient(inv: Invocation): IkcClient {
  try {
    // parseCommandLine gives a client's TLS options to every command but serve
    return new IkcClient(inv.connect as IkcClientOptions);
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message, inv.command);
    throw e;
  }
}

/** Reports `e` on stderr; returns the exit status it calls for. */
function failed(e: unknown, warn: (line: string) => void): number {
  if (e instanceof UsageError) {
    const c = e.command !== undefined ? COMMANDS[e.command] : undefined;
    const usage = c ? `usage: ikc ${e.command}${c.args ? ` ${c.args}` : ""} [options]\n` : "";
    warn(`ikc: ${e.message}\n${usage}Run 'ikc help${e.command ? ` ${e.command}` : ""}' for more.`);
    return 2;
  }
  warn(`ikc: ${e instanceof IkcError ? `${e.name}: ` : ""}${(e as Error).message}`);
  return 1;
}

/** Runs one client command on the open `client`. */
async function run(
  client: IkcClient,
  inv: Invocation,
  write: (line: string) => void,
  warn: (line: string) => void,
): Promise<number> {
  const show = (v: PerlValue) => write(formatJson(toJsonable(v), inv.json ? 0 : 2));
  switch (inv.command) {
    case "ping": {
      await client.ping();
      const { remoteKernel: kernel, protocol, freezer } = client;
      write(
        inv.json
          ? formatJson({ pong: true, kernel, protocol, freezer })
          : `PONG from ${kernel} (${protocol}, ${freezer})`,
      );
      return 0;
    }
    case "call":
      show(await client.call(inv.spec!, inv.params, { context: inv.list ? "list" : "scalar" }));
      return 0;
    case "post":
      await client.post(inv.spec!, inv.params);
      return 0;
    case "post-respond":
      show(await client.postRespond(inv.spec!, inv.params));
      return 0;
    default:
      return await listen(client, inv, write, warn);
  }
}

/** `ikc listen`: one JSON line per message until --count, or exit 1 when the server goes away. */
function listen(
  client: IkcClient,
  inv: Invocation,
  write: (line: string) => void,
  warn: (line: string) => void,
): Promise<number> {
  const limit = inv.count ?? Infinity;
  let n = 0;
  return new Promise<number>((resolve) => {
    for (const state of inv.positionals) {
      client.onMessage(state, (params) => {
        if (n >= limit) return;
        write(formatJson({ state, params: toJsonable(params) }));
        if (++n >= limit) resolve(0);
      });
    }
    client.onError((e) => warn(`ikc: ${e.message}`));
    client.monitor("disconnect", (peer, why) => {
      warn(`ikc: the server ${peer.kernel} closed the connection${why ? `: ${why.message}` : ""}`);
      resolve(1);
    });
    // gone before we watched (the server closed as the negotiation ended): no disconnect to come
    if (!client.connected) {
      warn(`ikc: the server ${client.remoteKernel ?? ""} closed the connection`);
      resolve(1);
    }
  });
}

/** `ikc serve`: the demo kernel on a TypeScript IKC server, until SIGINT or SIGTERM. Logs to stderr. */
async function serve(inv: Invocation, log: (line: string) => void): Promise<number> {
  const { host, port, path, name, serializer } = inv.connect;
  const tls = inv.connect.tls as ListenTlsOptions | undefined;
  let server: IkcServer;
  try {
    server = await IkcServer.listen({ host, port, path, name: name ?? "DemoServer", serializer, tls });
  } catch (e) {
    return failed(e, log);
  }
  server.publish("test", demoStates());
  server.on("connect", (p) => {
    // a subject only: Deno's node:tls says authorized for a client that sent no certificate
    const cert = p.tls?.authorized && p.tls.subject !== undefined ? `, certificate ${p.tls.subject}` : "";
    log(`connect ${p.kernel} (${p.protocol}, ${p.freezer}${p.tls ? ", TLS" : ""}${cert}) from ${p.address}`);
  });
  server.on("disconnect", (p, why) => log(`disconnect ${p.kernel}: ${why?.message ?? "closed"}`));
  server.on("error", (e) => log(`ikc: ${e.message}`));
  log(
    `ikc serve: ${server.name} (kernel ${server.id}) listening on ${server.address}${tlsNote(tls)}; states: ${
      server.published().test.join(", ")
    }`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close({ timeout: 2 });
  log("ikc serve: closed");
  return 0;
}

/** How `serve` says it speaks TLS in its first line. */
function tlsNote(tls: ListenTlsOptions | undefined): string {
  if (tls === undefined) return "";
  return tls.requestCert ? " (TLS, client certificates required)" : " (TLS)";
}

const self = import.meta.url;
const invoked = process.argv[1];
if (invoked && (self.endsWith(invoked) || self.endsWith(`${invoked}.js`) || /\/(cli\.(ts|js)|ikc)$/.test(invoked))) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

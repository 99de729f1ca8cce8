#!/usr/bin/env node
/**
 * `ikc`: the command-line tool. Talks to any IKC server (ping, call, post, postRespond,
 * listen for messages the server sends on its own), and runs the demo kernel as a server.
 *
 * ```sh
 * ikc serve --port 6030 &
 * ikc ping --port 603
 * ikc call test/echo '{"a":[1,2]}' --port 603
 * ikc call test/echo_list '["a","b"]' --list --port 603
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { IkcClient, type IkcClientOptions } from "./client.ts";
import { demoStates } from "./demo-kernel.ts";
import { IkcServer } from "./server.ts";
import { VERSION } from "./version.ts";
import { IkcError } from "./core/errors.ts";
import { blessedClass, PerlRef, type PerlValue } from "./core/perl.ts";

const USAGE = `usage: ikc <command> [arguments] [options]

commands:
  ping                         check the server answers (IKC/ping)
  call <spec> [json]           call a state, print its answer as JSON
  post <spec> [json]           post to a state (no answer)
  post-respond <spec> [json]   post with an rsvp, print the answer
  listen <state>...            print messages the server sends to our states
  serve                        run an IKC server with the demo kernel (the test/* states of
                               the bundled Perl peer) until interrupted

options:
  --host <host>          server host (default localhost; serve: 127.0.0.1)
  --port <port>          server port (default 603)
  --unix <path>          unix-domain socket instead of TCP
  --name <name>          our kernel name (default Client<pid>)
  --protocol <p>         IKC0 (default) or IKC
  --serializer <pkg>     Storable (default), FreezeThaw, POE::Component::IKC::Freezer
  --timeout <seconds>    answer timeout (default 30)
  --list                 call in list context
  --count <n>            listen: stop after n messages
  -V, --version          print the version
  -h, --help             this text

<spec> is session/state, poe:/session/state or poe://kernel/session/state.
[json] is the params as JSON (default null); numbers, strings, arrays and objects map to Perl.`;

/**
 * Turns a Perl value into something JSON can print: bigint as string, bytes as
 * `{"$bytes": "hex"}`, refs as `{"$ref": value}`, blessed values as `{"$class": name, "$value": value}`.
 *
 * @example
 * ```ts
 * import { toJsonable } from "./cli.ts";
 * JSON.stringify(toJsonable({ n: 10n ** 20n })); // '{"n":"100000000000000000000"}'
 * ```
 */
export function toJsonable(v: PerlValue, seen: Set<object> = new Set()): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (typeof v !== "object") return v;
  if (v instanceof Uint8Array) {
    let hex = "";
    for (const b of v) hex += b.toString(16).padStart(2, "0");
    return { $bytes: hex };
  }
  if (seen.has(v)) return { $cycle: true };
  seen.add(v);
  let out: unknown;
  if (v instanceof PerlRef) out = { $ref: toJsonable(v.value, seen) };
  else if (Array.isArray(v)) out = v.map((x) => toJsonable(x, seen));
  else {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) o[k] = toJsonable((v as Record<string, PerlValue>)[k], seen);
    out = o;
  }
  seen.delete(v);
  const cls = blessedClass(v);
  return cls ? { $class: cls, $value: out } : out;
}

function parseJsonArg(text: string | undefined): PerlValue {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as PerlValue;
  } catch (e) {
    throw new UsageError(`params are not valid JSON: ${(e as Error).message}`);
  }
}

class UsageError extends Error {}

/**
 * Runs the command line; returns the exit code. `write` receives stdout lines.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const code = await main(["ping", "--port", "603"], console.log);
 * ```
 */
export async function main(argv: string[], write: (line: string) => void = console.log): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        unix: { type: "string" },
        name: { type: "string" },
        protocol: { type: "string" },
        serializer: { type: "string" },
        timeout: { type: "string" },
        list: { type: "boolean" },
        count: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (e) {
    console.error(`ikc: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    write(`ikc (poe-ikc) ${VERSION}`);
    return 0;
  }
  if (values.help || !command) {
    write(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === "serve") return await serve(values, write);
  const options: IkcClientOptions = {
    host: values.host,
    port: values.port !== undefined ? Number(values.port) : undefined,
    path: values.unix,
    name: values.name,
    protocol: values.protocol as IkcClientOptions["protocol"],
    serializer: values.serializer,
    timeout: values.timeout !== undefined ? Number(values.timeout) : undefined,
  };
  try {
    const show = (v: PerlValue) => write(JSON.stringify(toJsonable(v), null, 2));
    const client = await IkcClient.connect(options);
    try {
      switch (command) {
        case "ping":
          await client.ping();
          write(`PONG from ${client.remoteKernel} (${client.protocol}, ${client.freezer})`);
          return 0;
        case "call":
          if (!rest[0]) throw new UsageError("call needs a <spec>");
          show(await client.call(rest[0], parseJsonArg(rest[1]), { context: values.list ? "list" : "scalar" }));
          return 0;
        case "post":
          if (!rest[0]) throw new UsageError("post needs a <spec>");
          await client.post(rest[0], parseJsonArg(rest[1]));
          return 0;
        case "post-respond":
          if (!rest[0]) throw new UsageError("post-respond needs a <spec>");
          show(await client.postRespond(rest[0], parseJsonArg(rest[1])));
          return 0;
        case "listen": {
          if (rest.length === 0) throw new UsageError("listen needs at least one <state>");
          const limit = values.count !== undefined ? Number(values.count) : Infinity;
          let n = 0;
          await new Promise<void>((resolve) => {
            for (const state of rest) {
              client.on(state, (params) => {
                write(JSON.stringify({ state, params: toJsonable(params) }));
                if (++n >= limit) resolve();
              });
            }
            client.onError((e) => {
              console.error(`ikc: ${e.message}`);
              if (!client.connected) resolve();
            });
          });
          return 0;
        }
        default:
          throw new UsageError(`unknown command ${JSON.stringify(command)}`);
      }
    } finally {
      await client.disconnect();
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`ikc: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`ikc: ${e instanceof IkcError ? `${e.name}: ` : ""}${(e as Error).message}`);
    return 1;
  }
}

/** `ikc serve`: the demo kernel on a TypeScript IKC server, until SIGINT or SIGTERM. */
async function serve(
  values: { host?: string; port?: string; unix?: string; name?: string; serializer?: string },
  write: (line: string) => void,
): Promise<number> {
  let server: IkcServer;
  try {
    server = await IkcServer.listen({
      host: values.host,
      port: values.port !== undefined ? Number(values.port) : undefined,
      path: values.unix,
      name: values.name ?? "DemoServer",
      serializer: values.serializer,
    });
  } catch (e) {
    console.error(`ikc: ${e instanceof IkcError ? `${e.name}: ` : ""}${(e as Error).message}`);
    return 1;
  }
  server.publish("test", demoStates());
  server.on("connect", (p) => write(`connect ${p.kernel} (${p.protocol}, ${p.freezer}) from ${p.address}`));
  server.on("disconnect", (p, why) => write(`disconnect ${p.kernel}: ${why?.message ?? "closed"}`));
  server.on("error", (e) => console.error(`ikc: ${e.message}`));
  write(
    `ikc serve: ${server.name} (kernel ${server.id}) listening on ${server.address}; states: ${
      server.published().test.join(", ")
    }`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close({ timeout: 2 });
  write("ikc serve: closed");
  return 0;
}

const self = import.meta.url;
const invoked = process.argv[1];
if (invoked && (self.endsWith(invoked) || self.endsWith(`${invoked}.js`) || /\/(cli\.(ts|js)|ikc)$/.test(invoked))) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

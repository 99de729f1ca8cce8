/**
 * The `ikc` command line, checked whole before anything connects: the command, its arguments,
 * every option and the `IKC_HOST` / `IKC_PORT` environment. A mistake is a {@link UsageError}
 * (exit status 2), so a typo never reaches a server.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { builtinFreezers } from "../core/freezers.ts";
import { isValidKernelName } from "../core/negotiation.ts";
import type { PerlValue } from "../core/perl.ts";
import type { ConnectTlsOptions, ListenTlsOptions } from "../transport/types.ts";
import { parseSpecifier } from "../core/specifier.ts";
import { parseJson } from "./json.ts";
import { readTlsOptions } from "./tls-options.ts";
import { UsageError } from "./usage-error.ts";

export { UsageError } from "./usage-error.ts";

/** The options each command takes, and what each says in the help. */
const OPTION_HELP: Record<string, string> = {
  host: "--host <host>          server host (default $IKC_HOST, else localhost; serve: 127.0.0.1)",
  port: "--port <port>          server port (default $IKC_PORT, else 603; serve: 0 picks a free one)",
  unix: "--unix <path>          unix-domain socket instead of TCP",
  name: "--name <name>          our kernel name (default Client<pid>; serve: DemoServer)",
  protocol: "--protocol <p>         IKC0 (default) or IKC",
  serializer: "--serializer <pkg>     Storable (default), FreezeThaw or POE::Component::IKC::Freezer",
  timeout: "--timeout <seconds>    connect and answer timeout (default 30)",
  json: "--json                 print compact JSON on one line",
  list: "--list                 call in list context: the answer is the list of return values",
  count: "--count <n>            stop after n messages",
  tls: "--tls                  speak TLS, verifying the server against the system's roots",
  "tls-ca": "--tls-ca <file>        PEM CA: speak TLS, verify the server by it (serve: clients need a cert it signed)",
  "tls-cert": "--tls-cert <file>      PEM certificate: ours to the server, if it asks (serve: the server's)",
  "tls-key": "--tls-key <file>       PEM private key of --tls-cert (needed with it)",
};
const TLS = ["tls-ca", "tls-cert", "tls-key"];
const CONNECT = ["host", "port", "unix", "name", "protocol", "serializer", "timeout", "json", "tls", ...TLS];

interface Command {
  args: string;
  min: number;
  max: number;
  options: string[];
  summary: string;
  more?: string;
}

const PARAMS_HELP = "[json] is the params as JSON (default null); integers beyond 2^53 are sent exactly.";
const SPEC_HELP = "<spec> is session/state, poe:/session/state or poe://kernel/session/state.";

/** Every command, in the order the help lists them. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  ping: { args: "", min: 0, max: 0, options: CONNECT, summary: "check the server answers (IKC/ping)" },
  call: {
    args: "<spec> [json]",
    min: 1,
    max: 2,
    options: [...CONNECT, "list"],
    summary: "call a state, print its answer as JSON",
    more: `${SPEC_HELP}\n${PARAMS_HELP}`,
  },
  post: {
    args: "<spec> [json]",
    min: 1,
    max: 2,
    options: CONNECT,
    summary: "post to a state (no answer; prints nothing)",
    more: `${SPEC_HELP}\n${PARAMS_HELP}`,
  },
  "post-respond": {
    args: "<spec> [json]",
    min: 1,
    max: 2,
    options: CONNECT,
    summary: "post with an rsvp, print the answer",
    more: `${SPEC_HELP}\n${PARAMS_HELP}`,
  },
  listen: {
    args: "<state>...",
    min: 1,
    max: Infinity,
    options: [...CONNECT, "count"],
    summary: "print each message the server sends to our states, one JSON line each",
    more: "Runs until --count messages arrived, Ctrl-C, or the server closes the connection (exit 1).",
  },
  serve: {
    args: "",
    min: 0,
    max: 0,
    options: ["host", "port", "unix", "name", "serializer", ...TLS],
    summary: "run an IKC server with the demo kernel (the test/* states of the bundled Perl peer)",
    more: "Logs to stderr; runs until SIGINT or SIGTERM, then closes and exits 0.\n" +
      "TLS: --tls-cert and --tls-key; add --tls-ca to accept only clients with a certificate it signed.",
  },
  help: { args: "[command]", min: 0, max: 1, options: [], summary: "this text, or one command's" },
};

const EXIT_STATUS = `exit status:
  0    success
  1    runtime error: no connection, a failed negotiation, a remote error, a timeout,
       or (listen) the server closed the connection
  2    usage error: found before connecting, so nothing was sent
  130  interrupted by Ctrl-C (128 + the signal number for other signals)`;

/**
 * The help text: every command, or one command's usage and options.
 *
 * @example
 * ```ts
 * import { helpText } from "./args.ts";
 * console.log(helpText("call"));
 * ```
 */
export function helpText(command?: string): string {
  if (command !== undefined) {
    const c = COMMANDS[command];
    const opts = c.options.map((o) => `  ${OPTION_HELP[o]}`).join("\n");
    return `usage: ikc ${command}${c.args ? ` ${c.args}` : ""}${c.options.length ? " [options]" : ""}\n\n` +
      `${c.summary}\n${c.more ? `${c.more}\n` : ""}${opts ? `\noptions:\n${opts}\n` : ""}\n${EXIT_STATUS}`;
  }
  const cmds = Object.entries(COMMANDS).map(([n, c]) => `  ${`${n} ${c.args}`.padEnd(27)}  ${c.summary}`);
  const opts = Object.values(OPTION_HELP).map((h) => `  ${h}`);
  return `usage: ikc <command> [arguments] [options]\n\ncommands:\n${cmds.join("\n")}\n\n` +
    `options (each command takes those that apply to it; ikc help <command> says which):\n${opts.join("\n")}\n` +
    `  -V, --version          print the version\n  -h, --help             this text\n\n` +
    `${SPEC_HELP}\n${PARAMS_HELP}\nThe environment: IKC_HOST and IKC_PORT stand in for --host and --port.\n\n` +
    EXIT_STATUS;
}

/**
 * A checked command line. `client` holds the connection options for an `IkcClient` (or, for
 * `serve`, an `IkcServer`).
 *
 * @example
 * ```ts
 * import type { Invocation } from "./args.ts";
 * const inv: Invocation = { command: "ping", positionals: [], json: false, list: false, connect: {} };
 * ```
 */
export interface Invocation {
  command: string;
  positionals: string[];
  spec?: string;
  params?: PerlValue;
  count?: number;
  json: boolean;
  list: boolean;
  connect: {
    host?: string;
    port?: number;
    path?: string;
    name?: string;
    protocol?: "IKC0" | "IKC";
    serializer?: string;
    timeout?: number;
    /** A client's TLS options, or (serve) the listener's. */
    tls?: true | ConnectTlsOptions | ListenTlsOptions;
  };
}

type Values = Record<string, string | boolean | undefined>;

/**
 * Reads the command line and the environment; throws a {@link UsageError} for anything wrong.
 * `--help`/`-h` and `--version`/`-V` become the commands `help` and `version`.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./args.ts";
 * parseCommandLine(["call", "test/add", "[1,2]", "--port", "6030"], {}).params; // [1, 2]
 * ```
 */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined>): Invocation {
  const { values, positionals: [first, ...positionals] } = readArgs(argv);
  if (values.version) return bare("version", []);
  if (values.help) return bare("help", first === undefined ? [] : [first]);
  if (first === undefined) throw new UsageError("no command given");
  if (!Object.hasOwn(COMMANDS, first)) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
  const command = first;
  const c = COMMANDS[command];
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && !c.options.includes(k)) throw new UsageError(`${command} takes no --${k}`, command);
  }
  if (positionals.length < c.min) throw new UsageError(`${command} needs ${c.args}`, command);
  if (positionals.length > c.max) {
    const extra = positionals.slice(c.max).map((p) => JSON.stringify(p)).join(" ");
    throw new UsageError(`too many arguments for ${command}: ${extra}`, command);
  }
  if (command === "help" && positionals[0] !== undefined && !Object.hasOwn(COMMANDS, positionals[0])) {
    throw new UsageError(`no help for unknown command ${JSON.stringify(positionals[0])}`);
  }
  const inv = bare(command, positionals);
  inv.json = values.json === true;
  inv.list = values.list === true;
  inv.connect = connectOptions(command, values, env);
  if (values.count !== undefined) {
    inv.count = integer("--count", values.count as string, 1, Number.MAX_SAFE_INTEGER, command);
  }
  if (c.args.startsWith("<spec>")) readSpecAndParams(inv);
  if (command === "listen") {
    for (const s of positionals) if (s === "") throw new UsageError("a <state> cannot be empty", command);
  }
  return inv;
}

/** Every option `ikc` knows, by node:util's parseArgs (strict: an unknown option is a usage error). */
function readArgs(argv: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        unix: { type: "string" },
        name: { type: "string" },
        protocol: { type: "string" },
        serializer: { type: "string" },
        timeout: { type: "string" },
        json: { type: "boolean" },
        list: { type: "boolean" },
        count: { type: "string" },
        tls: { type: "boolean" },
        "tls-ca": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
    return { values: values as Values, positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
}

/** `<spec> [json]`: the spec must parse, the params must be JSON (big integers kept exact). */
function readSpecAndParams(inv: Invocation): void {
  const [spec, json] = inv.positionals;
  inv.spec = spec;
  try {
    parseSpecifier(spec);
  } catch {
    throw new UsageError(`${JSON.stringify(spec)} is not a <spec>`, inv.command);
  }
  try {
    inv.params = json === undefined ? null : parseJson(json) as PerlValue;
  } catch (e) {
    throw new UsageError(`params are not valid JSON: ${(e as Error).message}`, inv.command);
  }
}

function bare(command: string, positionals: string[]): Invocation {
  return { command, positionals, json: false, list: false, connect: {} };
}

function connectOptions(command: string, v: Values, env: Record<string, string | undefined>): Invocation["connect"] {
  const out: Invocation["connect"] = {};
  const str = (k: string) => v[k] as string | undefined;
  if (str("unix") !== undefined) {
    if (str("host") !== undefined || str("port") !== undefined) {
      throw new UsageError("--unix cannot go with --host or --port", command);
    }
    out.path = str("unix");
  } else {
    const host = str("host") ?? nonEmpty(env.IKC_HOST);
    if (host !== undefined) out.host = host;
    const [what, port] = str("port") !== undefined ? ["--port", str("port")] : ["IKC_PORT", nonEmpty(env.IKC_PORT)];
    if (port !== undefined) out.port = integer(what!, port, command === "serve" ? 0 : 1, 65535, command);
  }
  const name = str("name");
  if (name !== undefined) {
    if (!isValidKernelName(name)) {
      throw new UsageError(`--name ${JSON.stringify(name)} may hold only letters, digits, '_', '-' and '.'`, command);
    }
    out.name = name;
  }
  const protocol = str("protocol");
  if (protocol !== undefined) {
    if (protocol !== "IKC0" && protocol !== "IKC") throw new UsageError("--protocol is IKC0 or IKC", command);
    out.protocol = protocol;
  }
  const serializer = str("serializer");
  if (serializer !== undefined) {
    if (!Object.hasOwn(builtinFreezers, serializer)) {
      throw new UsageError(`--serializer is one of ${Object.keys(builtinFreezers).join(", ")}`, command);
    }
    out.serializer = serializer;
  }
  const timeout = str("timeout");
  if (timeout !== undefined) {
    const t = /^\d+(\.\d+)?$/.test(timeout) ? Number(timeout) : NaN;
    if (!(t > 0 && t <= 2_147_483)) {
      throw new UsageError(`--timeout wants seconds (> 0), not ${JSON.stringify(timeout)}`, command);
    }
    out.timeout = t;
  }
  const tls = readTlsOptions(command, v);
  if (tls !== undefined) out.tls = tls;
  return out;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

function integer(what: string, text: string, min: number, max: number, command: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(`${what} wants a whole number ${range}, not ${JSON.stringify(text)}`, command);
  }
  return n;
}

/**
 * Tracing a call: subscribes to the `ikc:request` and `ikc:state` tracing channels (and the
 * `ikc:connect` / `ikc:disconnect` channels) of `node:diagnostics_channel`, starts our server
 * in-process, makes one call that answers and one that fails, and prints every event with the
 * time since the first, as an OpenTelemetry instrumentation would see them. No Perl needed. Runs
 * on Deno, Bun and Node:
 *
 * ```sh
 * bash scripts/demo.sh --trace         # builds, then runs it on Node
 * node dist/examples/trace.js          # after `npm run build`
 * deno run -A examples/trace.ts
 * bun examples/trace.ts
 * ```
 *
 * @module
 */
import dc from "node:diagnostics_channel";
import { IkcClient, IkcServer, RemoteError } from "../mod.ts";

const t0 = performance.now();
const at = () => `${(performance.now() - t0).toFixed(2).padStart(7)} ms`;

function describe(m: Record<string, unknown>): string {
  const parts = Object.entries(m).map(([k, v]) => {
    if (v instanceof Error) return `${k}=${v.constructor.name}(${JSON.stringify(v.message)})`;
    if (v !== null && typeof v === "object" && "kernel" in v) return `${k}=${(v as { kernel: string }).kernel}`;
    return `${k}=${JSON.stringify(v)}`;
  });
  return parts.join(" ");
}

// A tracer: every event of both tracing channels, printed with its context.
for (const name of ["ikc:request", "ikc:state"]) {
  const print = (event: string) => (ctx: unknown) =>
    console.log(`${at()}  ${`${name}:${event}`.padEnd(22)} ${describe(ctx as Record<string, unknown>)}`);
  dc.tracingChannel(name).subscribe({
    start: print("start"),
    end: print("end"),
    asyncStart: print("asyncStart"),
    asyncEnd: print("asyncEnd"),
    error: print("error"),
  });
}
for (const name of ["ikc:connect", "ikc:disconnect"]) {
  dc.subscribe(name, (m) => console.log(`${at()}  ${name.padEnd(22)} ${describe(m as Record<string, unknown>)}`));
}

const server = await IkcServer.listen({ port: 0, name: "TraceHub" });
server.publish("calc", {
  add: async (p) => {
    await new Promise((r) => setTimeout(r, 5)); // some work, so the async part shows
    return (p as number[]).reduce((a, b) => a + b, 0);
  },
  fail: () => {
    throw new Error("no such luck");
  },
});
server.on("error", () => {}); // the failing state is reported here too; the trace shows it
const client = await IkcClient.connect({ port: server.port, name: "TraceClient" });

console.log(`\n--- call calc/add [1, 2, 3]`);
console.log(`answer: ${await client.call("calc/add", [1, 2, 3])}`);
console.log(`\n--- call calc/fail`);
await client.call("calc/fail").catch((e) => console.log(`rejected: ${e instanceof RemoteError ? e.remoteMessage : e}`));
console.log(`\n--- disconnect`);
await client.disconnect();
await server.close();
console.log(`\nstats of the server: ${JSON.stringify(server.stats())}`);

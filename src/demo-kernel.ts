/**
 * The demo kernel: a `test` session with the same states as the bundled Perl peer
 * (`tests/perl/ikc-server.pl`), so the same calls work against `ikc serve` and against Perl.
 *
 * @module
 */
import type { PerlValue } from "./core/perl.ts";
import type { StateContext, StateHandler } from "./kernel/types.ts";
import { isAsciiString } from "./core/text.ts";
import { sleepUnlessAborted as sleep } from "./time/sleep-unless-aborted.ts";

function numbers(p: PerlValue): number[] {
  return Array.isArray(p) ? p.map((x) => Number(x)) : [];
}

/** Where a message "to the client" goes: its own session (IKCLite for ClientLite) and `state`. */
function clientState(ctx: StateContext, state: string): { kernel?: string; session: string; state: string } {
  return { kernel: ctx.from?.kernel ?? ctx.kernel, session: ctx.from?.session ?? "IKCLite", state };
}

/** Posts `[value, i]` to the client's `state`, `count` times, each once written. */
async function push(ctx: StateContext, state: string, count: number, value: PerlValue): Promise<void> {
  for (let i = 0; i < count; i++) await ctx.post(clientState(ctx, state), [value, i]);
}

/**
 * The states of the demo `test` session. `record`/`seen`/`reset` share one list per call of this
 * function (one per server).
 *
 * @example
 * ```ts
 * import { IkcServer } from "@poe-ikc/ikc";
 * import { demoStates } from "./demo-kernel.ts";
 * const server = await IkcServer.listen({ port: 0, name: "DemoServer" });
 * server.publish("test", demoStates());
 * await server.close();
 * ```
 */
export function demoStates(): Record<string, StateHandler> {
  let recorded: PerlValue[] = [];
  return {
    echo: (p) => p,
    // A Perl list slice: every element in list context, the last one in scalar context.
    echo_list: (p, ctx) => Array.isArray(p) ? (ctx.context === "list" ? p : p[p.length - 1] ?? undefined) : p,
    add: (p) => numbers(p).reduce((a, b) => a + b, 0),
    concat: (p) => Array.isArray(p) ? p.map((x) => (x === null || x === undefined ? "" : String(x))).join("") : "",
    undef: () => undefined,
    empty_list: () => undefined,
    context: (_p, ctx) => ctx.context,
    delay: async (p) => {
      const [ms, value] = Array.isArray(p) ? p : [0, p];
      await sleep(Number(ms) || 0);
      return value ?? undefined;
    },
    record: (p) => recorded.push(p),
    seen: () => [...recorded],
    reset: () => {
      recorded = [];
      return 1;
    },
    // post_respond: params are [P, rsvp]; P is [ms, value, noise] or the value itself.
    respond: (p, ctx) => {
      const [inner, rsvp] = Array.isArray(p) ? p : [p, undefined];
      const [ms, value, noise] = Array.isArray(inner) ? inner : [10, inner];
      const target = rsvp as { kernel?: string; session: string; state: string } | undefined;
      if (!target || typeof target !== "object") throw new Error("test/respond wants post_respond params [P, rsvp]");
      void sleep(Number(ms) || 0).then(async () => {
        try {
          if (typeof noise === "string" && noise !== "") await push(ctx, noise, 1, value ?? null);
          await ctx.post(target, value ?? null);
        } catch {
          // the client went away; nothing is waiting on this side
        }
      });
      return undefined;
    },
    push: async (p, ctx) => {
      const o = (p !== null && typeof p === "object" && !Array.isArray(p) ? p : {}) as Record<string, PerlValue>;
      const state = String(o.state ?? "tick");
      const count = Number(o.count) || 0;
      if (o.after) void sleep(0).then(() => push(ctx, state, count, o.value ?? null)).catch(() => {});
      else await push(ctx, state, count, o.value ?? null);
      return "pushed";
    },
    die: () => {
      throw new Error("test/die was called");
    },
    // [characters, UTF-8 flag, octets], as Perl would see the string.
    bytes: (p) => {
      if (p instanceof Uint8Array) return [p.length, 0, p.length];
      const s = typeof p === "string" ? p : p === null || p === undefined ? "" : String(p);
      return [[...s].length, isAsciiString(s) ? 0 : 1, new TextEncoder().encode(s).length];
    },
    big: (n) => "x".repeat(Number(n) || 0),
  };
}

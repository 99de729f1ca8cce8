// The typed side of what a user writes: compiled with skipLibCheck false and no @types/node
// (TypeScript 5.0 and the current one), and run on Deno from source through an import map.
import {
  bless,
  type CallOptions,
  IkcClient,
  IkcServer,
  nfreeze,
  PERL_CLASS,
  type PerlInput,
  type PerlValue,
  RemoteError,
  type StateContext,
  thaw,
} from "poe-ikc";
import { StorableDecoder } from "poe-ikc/storable";

declare const console: { log(...args: unknown[]): void };

interface Job {
  id: number;
  name: string;
  tags: string[];
}

const job: Job = { id: 7, name: "resize", tags: ["img"] };
const sent: PerlInput = [job, new Map([["priority", 2]])];
const frozen: Uint8Array = nfreeze(sent);
const back: PerlValue = new StorableDecoder({ maxDepth: 8 }).decode(frozen);
const blessed = bless({ id: 1 }, "My::Job");
const cls: string = blessed[PERL_CLASS];

const server = await IkcServer.listen({ port: 0 });
server.publish("jobs", {
  run: (params: PerlValue, ctx: StateContext) => ({ ...(params as unknown as Job), by: ctx.kernel }),
});
const client = await IkcClient.connect({ port: server.port });
const options: CallOptions = { timeout: 5 };
const done = await client.call<Job & { by: string }>("jobs/run", job, options);
const id: number = done.id;
let refused = false;
try {
  await client.call("jobs/none");
} catch (e) {
  refused = e instanceof RemoteError;
}
await client.disconnect();
await server.close();
if (id !== 7 || !refused || cls !== "My::Job" || !Array.isArray(back) || thaw(frozen) === undefined) {
  throw new Error(`typed consumer got ${JSON.stringify({ id, refused, cls })}`);
}
console.log("typed consumer ok");

// What a user of the npm package writes, run on Node and Bun against the packed tarball
// installed into a scratch project: every entry point, the client against the server, and
// require() where the runtime has require(esm).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { bless, blessedClass, IkcClient, IkcServer, nfreeze, RemoteError, thaw } from "poe-ikc";
import { nfreeze as storableFreeze, thaw as storableThaw } from "poe-ikc/storable";
import { IkcServer as ServerOnly } from "poe-ikc/server";
import { IkcClient as ClientOnly } from "poe-ikc/client";

const runtime = globalThis.Bun ? "bun" : "node";
assert.equal(ServerOnly, IkcServer);
assert.equal(ClientOnly, IkcClient);
assert.deepEqual(storableThaw(storableFreeze({ a: [1, "two"] })), { a: [1, "two"] });
assert.equal(blessedClass(thaw(nfreeze(bless({ id: 1 }, "My::Job")))), "My::Job");

const server = await IkcServer.listen({ port: 0, name: "PackServer" });
const notes = [];
server.publish("calc", {
  // FreezeThaw and IKC::Freezer carry numbers as text, as Perl holds them: Number() either way.
  add: (params) => params.reduce((a, b) => a + Number(b), 0),
  split: (params) => String(params).split(","),
  note: (params) => void notes.push(params),
});
for (const serializer of ["Storable", "FreezeThaw", "POE::Component::IKC::Freezer"]) {
  const client = await IkcClient.connect({ port: server.port, serializer });
  assert.equal(Number(await client.call("calc/add", [1, 2, 3])), 6, serializer);
  assert.deepEqual(await client.call("calc/split", "a,b", { context: "list" }), ["a", "b"], serializer);
  await client.post("calc/note", new Map([["x", "1"]]));
  assert.deepEqual(await client.call("calc/split", "flushed"), ["flushed"]); // answered after the post ran
  assert.deepEqual({ ...notes.pop() }, { x: "1" }, serializer);
  await assert.rejects(client.call("calc/nope"), RemoteError);
  await client.disconnect();
}
await server.close();

const require = createRequire(import.meta.url);
assert.equal(typeof require("poe-ikc").IkcClient, "function");
assert.equal(typeof require("poe-ikc/storable").thaw, "function");
console.log(`consumer ok on ${runtime}`);

// Bundled for the browser (node:net stubbed out by the bundler), then run: connecting must say
// there are no sockets here, as an UnsupportedRuntimeError, not "undefined is not a function".
import { IkcClient, UnsupportedRuntimeError } from "poe-ikc";

try {
  await IkcClient.connect({ port: 1 });
  console.log("connected: unexpected");
} catch (e) {
  console.log(e instanceof UnsupportedRuntimeError ? "browser bundle: UnsupportedRuntimeError" : `other: ${e}`);
}

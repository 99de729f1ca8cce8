/**
 * Our kernel ids: unique per kernel, in the shape of POE's `$kernel->ID`
 * (`<host>-<8 hex time>-<8 hex pid>-<8 hex counter>`), with the kernel's name where POE has the
 * host name (a runtime-neutral module cannot read it everywhere).
 *
 * @module
 */
import { processId } from "../runtime.ts";

let counter = 0;

/**
 * A fresh kernel id for a kernel named `name`: announced first, its name and aliases after it,
 * so two kernels of one name are two kernels to a Perl hub.
 *
 * @example
 * ```ts
 * import { kernelId } from "./kernel-id.ts";
 * kernelId("Worker"); // e.g. "Worker-6b104a00-000041b6-00000001"
 * ```
 */
export function kernelId(name: string): string {
  const seconds = Math.floor(Date.now() / 1000);
  return `${name}-${hex8(seconds)}-${hex8(processId())}-${hex8(++counter)}`;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

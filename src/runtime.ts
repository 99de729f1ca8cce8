/**
 * The few facts about the host runtime the client needs, read without assuming which runtime it is.
 *
 * @module
 */

/**
 * The current process id, or 0 where the runtime does not expose one.
 *
 * @example
 * ```ts
 * import { processId } from "./runtime.ts";
 * console.log(`Client${processId()}`);
 * ```
 */
export function processId(): number {
  const g = globalThis as { process?: { pid?: number }; Deno?: { pid?: number } };
  return g.Deno?.pid ?? g.process?.pid ?? 0;
}

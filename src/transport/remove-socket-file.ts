/**
 * Clearing a stale Unix socket file before binding, and ours after closing.
 *
 * @module
 */
/**
 * Removes `path` if it is a Unix socket (a stale one, left by a listener that died), through
 * `node:fs`; anything else at `path` is left for the bind to fail on. Used by every runtime transport.
 *
 * @example
 * ```ts
 * import { removeSocketFile } from "./remove-socket-file.ts";
 * await removeSocketFile("/tmp/ikc.sock");
 * ```
 */
export async function removeSocketFile(path: string): Promise<void> {
  const fs = await import("node:fs");
  try {
    if (!fs.lstatSync(path).isSocket()) return;
    fs.unlinkSync(path);
  } catch {
    // ENOENT: nothing there, or gone already; any other failure surfaces at bind time
  }
}

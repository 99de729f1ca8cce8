/**
 * The connect attempt every runtime transport makes: raced against its AbortSignal.
 *
 * @module
 */
import { IkcError } from "../core/errors.ts";
import { connectAborted, connectFailed } from "./errors.ts";

/**
 * Starts `open` (a socket being opened to `remote`) unless `signal` is aborted, and waits for it
 * unless `signal` aborts first. Rejects with ConnectError: `connectAborted` on abort (then a socket
 * the attempt still delivers is handed to `dispose`, so nothing leaks), else `connectFailed` naming
 * the OS code; an IkcError or TypeError the attempt rejects with itself (a TLS refusal, an option
 * the runtime cannot honour) passes through unchanged. The signal governs only the attempt: it is
 * not kept, so aborting it later does not touch the connection.
 *
 * @example
 * ```ts
 * import { connectWithAbort } from "./connect-with-abort.ts";
 * const net = await import("node:net");
 * const socket = await connectWithAbort(
 *   () =>
 *     new Promise<import("node:net").Socket>((resolve, reject) => {
 *       const s = net.createConnection({ port: 603 }, () => resolve(s));
 *       s.once("error", reject);
 *     }),
 *   "localhost:603",
 *   AbortSignal.timeout(5000),
 *   (s) => s.destroy(),
 * );
 * ```
 */
export async function connectWithAbort<T>(
  open: () => Promise<T>,
  remote: string,
  signal: AbortSignal | undefined,
  dispose: (socket: T) => void,
): Promise<T> {
  if (signal?.aborted) throw connectAborted(remote, signal);
  const attempt = open();
  if (!signal) return await attempt.catch((err) => Promise.reject(failed(remote, err)));
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(connectAborted(remote, signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([attempt, aborted]);
  } catch (err) {
    // A socket completing after the abort is closed at once.
    attempt.then(dispose, () => {});
    if (signal.aborted) throw connectAborted(remote, signal);
    throw failed(remote, err);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function failed(remote: string, err: unknown): Error {
  return err instanceof IkcError || err instanceof TypeError ? err : connectFailed(remote, err);
}

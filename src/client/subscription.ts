/**
 * Subscriptions (`IKC/do_you_have`): asking a remote kernel whether it publishes a session, and
 * the handle for posting to and calling it.
 *
 * @module
 */
import { RemoteError, SubscriptionError } from "../core/errors.ts";
import type { PerlInput, PerlValue } from "../core/perl.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Line } from "../kernel/send.ts";
import type { CallOptions, RemoteSession, RequestOptions } from "./types.ts";

/**
 * The session a subscription names: `poe://Kernel/session`, or a bare `session` (kernel undefined:
 * the connected one). Throws a TypeError otherwise.
 *
 * @example
 * ```ts
 * import { parseSubscription } from "./subscription.ts";
 * parseSubscription("poe://Hub/calc"); // { kernel: "Hub", session: "calc" }
 * ```
 */
export function parseSubscription(spec: string): { kernel: string | undefined; session: string } {
  const m = typeof spec === "string" ? /^(?:poe:\/\/([^/]+)\/|poe:\/?)?([^/?]+)\/?$/.exec(spec) : null;
  if (!m) throw new TypeError(`subscribe wants poe://Kernel/session, not ${JSON.stringify(spec)}`);
  return { kernel: m[1], session: m[2] };
}

/**
 * What a subscription handle sends through.
 *
 * @example
 * ```ts
 * import type { SessionSender } from "./subscription.ts";
 * const none: SessionSender = { post: () => Promise.resolve(), call: () => Promise.reject(new Error("no")) };
 * ```
 */
export interface SessionSender {
  post(target: string, params?: PerlInput): Promise<void>;
  call<T>(target: string, params?: PerlInput, options?: CallOptions): Promise<T>;
}

/**
 * The handle for `kernel`'s `session` from its do_you_have `answer`; a refusal throws a
 * SubscriptionError carrying the remote's text.
 *
 * @example
 * ```ts
 * import { remoteSession } from "./subscription.ts";
 * const via = { post: () => Promise.resolve(), call: <T>() => Promise.resolve(3 as T) };
 * const calc = remoteSession([{ kernel: "Hub-1", session: "calc" }, "Hub-1"], "Hub", "calc", via);
 * console.log(calc.kernel); // "Hub-1"
 * ```
 */
export function remoteSession(answer: PerlValue, kernel: string, session: string, via: SessionSender): RemoteSession {
  if (!Array.isArray(answer) || answer[0] === null || typeof answer[0] !== "object") {
    throw new SubscriptionError(
      typeof answer === "string" ? answer : `Refused subscription poe://${kernel}/${session}`,
    );
  }
  const ses = answer[0] as Record<string, PerlValue>;
  const remote = typeof ses.kernel === "string" ? ses.kernel : kernel;
  return {
    kernel: remote,
    session,
    post: (state: string, params?: PerlInput) => via.post(`poe://${remote}/${session}/${state}`, params),
    call: <T>(state: string, params?: PerlInput, o?: CallOptions) =>
      via.call<T>(`poe://${remote}/${session}/${state}`, params, o),
  };
}

/**
 * Asks the kernel at the far end of `line` for `spec`'s session (`IKC/do_you_have`) and resolves
 * to its handle; sends through `via` afterwards.
 *
 * @example
 * ```ts
 * import { IkcClient } from "@poe-ikc/ikc";
 * const ikc = await IkcClient.connect({ port: 6030 });
 * const calc = await ikc.subscribe("poe://Hub/calc"); // comes here
 * ```
 */
export async function subscribe(
  spec: string,
  options: RequestOptions | undefined,
  kernel: Kernel,
  line: Line,
  via: SessionSender,
): Promise<RemoteSession> {
  const want = parseSubscription(spec);
  const remote = want.kernel ?? (await line.open()).remoteKernel;
  const target = { kernel: remote, session: "IKC", state: "do_you_have" };
  const params = [{ kernel: remote, session: want.session }, kernel.id];
  const answer = await kernel.request("subscribe", line, target, params, options, {
    kernel: kernel.id,
    session: "IKC",
  }).catch((e) => {
    // A remote_error to do_you_have (an `authorize` refusing it, say) is a refused subscription too.
    throw e instanceof RemoteError ? Object.assign(new SubscriptionError(e.remoteMessage), { cause: e }) : e;
  });
  return remoteSession(answer, remote, want.session, via);
}

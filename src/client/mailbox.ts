/**
 * ClientLite's inbox: messages a server sends on its own to our rsvp session (`IKCLite/<state>`,
 * ClientLite's; also where a Perl reply to `$_[SENDER]` lands by default). Each goes to the oldest
 * waiter on its state (`responded`), to every handler (`on`), or, when neither, into a bounded
 * inbox for a later `responded`.
 *
 * @module
 */
import { AbortError, IkcError, TimeoutError } from "../core/errors.ts";
import type { Message } from "../core/message.ts";
import { RSVP_SESSION } from "../kernel/rsvp.ts";
import type { Deadlines } from "../time/deadlines.ts";
import { TimedPromise } from "../time/timed-promise.ts";
import { checkKnownKeys, checkSeconds } from "../kernel/checks.ts";
import type { IkcMessage, MessageHandler, RequestOptions } from "./types.ts";

const WAIT_KEYS: ReadonlySet<string> = new Set(["timeout", "signal"]);

/** A `responded(state)` waiting for its message. */
class MailboxWait extends TimedPromise<IkcMessage> {
  readonly state: string;
  readonly #seconds: number;
  readonly #leave: (w: MailboxWait) => void;

  constructor(state: string, seconds: number, leave: (w: MailboxWait) => void) {
    super();
    this.state = state;
    this.#seconds = seconds;
    this.#leave = leave;
  }

  protected timeoutError(): Error {
    return new TimeoutError(`responded(${this.state}): no message arrived within ${this.#seconds} s`);
  }

  protected abortError(reason: unknown): Error {
    return new AbortError(`responded(${this.state}): aborted`, { cause: reason });
  }

  protected override settling(): void {
    this.#leave(this);
  }
}

/**
 * Messages for our states, by state.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * import { Deadlines } from "../time/deadlines.ts";
 * const box = new Mailbox(1000, 30, new Deadlines(), (e) => console.warn(e.message));
 * box.deliver({ state: "tick", session: "IKCLite", params: 1, raw: {} });
 * console.log((await box.next("tick", { timeout: 1 }, async () => {})).params); // 1
 * ```
 */
export class Mailbox {
  readonly #limit: number;
  readonly #timeout: number;
  readonly #deadlines: Deadlines;
  readonly #report: (e: Error, kind?: string) => void;
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  readonly #waiters = new Map<string, MailboxWait[]>();
  readonly #inbox = new Map<string, IkcMessage[]>();
  #size = 0;

  /**
   * Keeps at most `limit` messages nobody took; waits `timeout` seconds unless told otherwise;
   * `report` takes drops and handlers that threw.
   */
  constructor(limit: number, timeout: number, deadlines: Deadlines, report: (e: Error, kind?: string) => void) {
    this.#limit = limit;
    this.#timeout = timeout;
    this.#deadlines = deadlines;
    this.#report = report;
  }

  /** Messages kept for a later `next`. */
  get size(): number {
    return this.#size;
  }

  /** Adds a handler for `state` (first handing it what arrived before); returns its remover. */
  on(state: string, handler: MessageHandler): () => void {
    let set = this.#handlers.get(state);
    if (!set) this.#handlers.set(state, set = new Set());
    set.add(handler);
    const queued = this.#inbox.get(state);
    if (queued) {
      this.#inbox.delete(state);
      this.#size -= queued.length;
      for (const m of queued) this.#call(handler, m);
    }
    return () => {
      set!.delete(handler);
      if (set!.size === 0 && this.#handlers.get(state) === set) this.#handlers.delete(state);
    };
  }

  /** The oldest message kept for `state`, taken out, or undefined. */
  take(state: string): IkcMessage | undefined {
    const queued = this.#inbox.get(state);
    if (!queued || queued.length === 0) return undefined;
    const m = queued.shift()!;
    this.#size--;
    if (queued.length === 0) this.#inbox.delete(state);
    return m;
  }

  /**
   * The next message for `state`: one kept, at once; else, once `connect()` resolves, the next to
   * arrive within the options' `timeout`. A TypeError on a bad option, before connecting.
   */
  async next(state: string, options: RequestOptions, connect: () => Promise<unknown>): Promise<IkcMessage> {
    const kept = this.take(state);
    if (kept) return kept;
    checkKnownKeys(options, WAIT_KEYS, "responded");
    const seconds = options.timeout ?? this.#timeout;
    checkSeconds(seconds);
    await connect();
    // What arrived while connecting was kept for us.
    const arrived = this.take(state);
    if (arrived) return arrived;
    const wait = new MailboxWait(state, seconds, (w) => this.#leave(w));
    let list = this.#waiters.get(state);
    if (!list) this.#waiters.set(state, list = []);
    list.push(wait);
    wait.start(this.#deadlines, seconds * 1000, options.signal);
    return await wait.promise;
  }

  /**
   * Takes a message the kernel found no state for: true when it is ours to keep (a post to our
   * rsvp session, `IKCLite`, as ClientLite's); false for anything else, which the sender hears
   * of as a remote_error, as from a Perl kernel.
   */
  accept(m: Message): boolean {
    if (m.target.session !== RSVP_SESSION) return false;
    this.deliver({ state: m.target.state, session: m.target.session, params: m.params, raw: m.raw });
    return true;
  }

  /** Hands `message` to the oldest waiter on its state and to every handler; else keeps it. */
  deliver(message: IkcMessage): void {
    const waiter = this.#waiters.get(message.state)?.[0];
    const handlers = this.#handlers.get(message.state);
    waiter?.resolve(message);
    if (handlers) { for (const h of [...handlers]) this.#call(h, message); }
    if (!waiter && !handlers) this.#keep(message);
  }

  /** Rejects every waiter with `error` (the client disconnected). Kept messages stay. */
  rejectWaiters(error: Error): void {
    for (const list of [...this.#waiters.values()]) for (const w of [...list]) w.reject(error);
  }

  #leave(w: MailboxWait): void {
    const list = this.#waiters.get(w.state);
    if (!list) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#waiters.delete(w.state);
  }

  #keep(message: IkcMessage): void {
    if (this.#size >= this.#limit) {
      // Drop the oldest, loudly (in bounded form: a flood is one report and a count).
      for (const [state, list] of this.#inbox) {
        const old = list.shift()!;
        this.#size--;
        if (list.length === 0) this.#inbox.delete(state);
        this.#report(
          new IkcError(
            `inbox full (${this.#limit}): dropped a message for state ${old.state}; register a handler with on()`,
          ),
          "inbox-full",
        );
        break;
      }
    }
    let list = this.#inbox.get(message.state);
    if (!list) this.#inbox.set(message.state, list = []);
    list.push(message);
    this.#size++;
  }

  #call(h: MessageHandler, m: IkcMessage): void {
    try {
      h(m.params, m);
    } catch (e) {
      this.#report(
        new IkcError(`handler for state ${m.state} threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
      );
    }
  }
}

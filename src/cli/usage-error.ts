/**
 * The error a wrong command line is: exit status 2, nothing sent.
 *
 * @module
 */
import { IkcError } from "../core/errors.ts";

/**
 * The command line is wrong: nothing was sent. `command` names the command whose usage applies.
 *
 * @example
 * ```ts
 * import { UsageError } from "./usage-error.ts";
 * const e = new UsageError("call needs a <spec>", "call");
 * console.log(e.command); // call
 * ```
 */
export class UsageError extends IkcError {
  /** The command the mistake was made in, when known. */
  readonly command: string | undefined;
  /** A usage error in `command`. */
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/**
 * The version of this package; the same in `package.json` and `deno.json` (a test checks).
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(`poe-ikc ${VERSION}`);
 * ```
 */
export const VERSION: string = "0.2.0";

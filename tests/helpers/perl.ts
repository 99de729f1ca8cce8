// Helpers for tests that talk to real Perl. Uses only node: modules so the same file
// runs under Deno, Bun and Node (compiled).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root: the nearest folder above this file holding package.json. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "tests"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("repository root not found");
})();

/** Absolute path of a file given relative to the repository root. */
export function repoPath(rel: string): string {
  return resolve(repoRoot, rel);
}

const moduleCache = new Map<string, boolean>();
function hasModule(mod: string): boolean {
  let ok = moduleCache.get(mod);
  if (ok === undefined) {
    const r = spawnSync("perl", [`-M${mod}`, "-e", "1"], { stdio: "ignore" });
    ok = r.status === 0;
    moduleCache.set(mod, ok);
  }
  return ok;
}

/**
 * Returns false when perl and the given modules are present, or a skip reason when not.
 * Under CI a missing piece is a failure, not a skip: it throws.
 */
export function perlMissing(...modules: string[]): string | false {
  const missing = ["Storable", ...modules].filter((m) => !hasModule(m));
  if (missing.length === 0) return false;
  const reason = `perl modules missing: ${missing.join(", ")} (apt-get install -y libpoe-perl)`;
  if (process.env.CI) throw new Error(`CI requires ${reason}`);
  return reason;
}

/** Runs a Perl script synchronously, feeding `input` on stdin; returns stdout bytes. Throws on failure. */
export function runPerl(script: string, input?: Uint8Array | string, args: string[] = []): Uint8Array {
  const r = spawnSync("perl", ["-e", script, ...args], {
    input: input ?? "",
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) {
    throw new Error(`perl failed (${r.status}): ${r.stderr?.toString()}`);
  }
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}

/**
 * Starts a long-running Perl process (e.g. a test server) from a file under the repository.
 * `perlFlags` go before the script (e.g. `-I/some/lib`).
 */
export function spawnPerl(file: string, args: string[] = [], perlFlags: string[] = []): ChildProcess {
  return spawn("perl", [...perlFlags, repoPath(file), ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

// Cost assertions that hold on a busy machine: CPU time (this process's, so time spent waiting
// for a core does not count) compared between two sizes of the same work measured in the same
// process, in interleaved rounds. A linear cost grows 4x from n to 4n, a quadratic one 16x;
// the bound between them (8x) leaves room for noise and for a machine at half speed, since both
// sizes run on the same machine at the same moment.
import assert from "node:assert/strict";
import process from "node:process";

/** CPU time (user + system) this process spent in `fn`, in milliseconds. */
export function cpuMs(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Collects garbage first where the runtime lets a test (Bun), so earlier tests' garbage does not count. */
export function collectGarbage(): void {
  (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc(true);
}

/** The cheapest CPU time of `rounds` runs of `a` and of `b`, measured in the order a, b, a, b, ... */
export function interleavedCost(a: () => void, b: () => void, rounds = 2): { a: number; b: number } {
  let ta = Infinity;
  let tb = Infinity;
  for (let r = 0; r < rounds; r++) {
    ta = Math.min(ta, cpuMs(a));
    tb = Math.min(tb, cpuMs(b));
  }
  return { a: ta, b: tb };
}

/** The largest ratio of cost at 4n to cost at n that still counts as linear. */
export const LINEAR_RATIO = 8;

/**
 * Asserts that `work(4n)` costs less than {@link LINEAR_RATIO} times `work(n)` in CPU time
 * (quadratic work gives 16x). `n` should make `work(n)` take some tens of milliseconds, so the
 * clock's resolution and a stray collection do not decide the outcome.
 */
export function assertLinear(what: string, work: (n: number) => void, n: number, rounds = 2): void {
  const { a: small, b: large } = interleavedCost(() => work(n), () => work(4 * n), rounds);
  const ratio = large / Math.max(small, 1);
  assert.ok(
    ratio < LINEAR_RATIO,
    `${what}: ${large.toFixed(0)} ms of CPU at 4n = ${4 * n} against ${small.toFixed(0)} ms at n = ${n} ` +
      `(${ratio.toFixed(1)}x; linear is 4x, quadratic 16x)`,
  );
}

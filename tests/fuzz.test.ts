// The fuzzer of scripts/fuzz.ts with a short budget and a fixed seed, so the test command covers
// it: mutated Perl-written images must decode or throw an IkcError, each within 1 s (twice in a
// row, to be counted slow), without touching Object.prototype. `npm run fuzz -- --inputs N` runs the long version.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DECODER_NAMES, fuzz, fuzzInput, seeds, summaryLine } from "../scripts/fuzz.ts";
import { storableFreezer } from "../src/core/storable/mod.ts";
import { freezeThawFreezer } from "../src/core/freezethaw.ts";
import { dumperFreezer } from "../src/core/dumper.ts";

const INPUTS = 10_000;
// An input decodes in well under a millisecond; a pathological one (quadratic in a 30,000-fold
// repeat) takes seconds. 1 s, elapsed twice in a row, holds on a busy machine.
const MAX_MS = 1000;
const SEED = 20240901;
const freezers = { storable: storableFreezer, freezethaw: freezeThawFreezer, dumper: dumperFreezer };

describe("fuzz", () => {
  for (const decoder of DECODER_NAMES) {
    test(`${decoder}: every seed image decodes`, () => {
      assert.ok(seeds(decoder).length >= 20);
      for (const s of seeds(decoder)) assert.doesNotThrow(() => freezers[decoder].thaw(s.bytes), s.name);
    });

    test(`${decoder}: ${INPUTS} mutated inputs`, () => {
      const r = fuzz({ decoder, inputs: INPUTS, seed: SEED, maxMs: MAX_MS });
      console.log(summaryLine(r));
      const shown = r.failures.slice(0, 5).map((f) =>
        `#${f.index} ${f.kind}: ${f.message}\n  ${f.mutations.join("; ")}\n  ${f.hex}`
      );
      assert.equal(r.failures.length, 0, shown.join("\n"));
      assert.equal(r.decoded + r.rejected, INPUTS);
      assert.ok(r.decoded > INPUTS / 100, `only ${r.decoded} inputs decoded: mutations too destructive`);
      assert.ok(r.rejected > INPUTS / 2, `only ${r.rejected} inputs rejected: mutations too mild`);
    });
  }

  test("an input is a function of (seed, index) alone", () => {
    for (const decoder of DECODER_NAMES) {
      const seen = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const a = fuzzInput(decoder, 3, i);
        const b = fuzzInput(decoder, 3, i);
        assert.deepEqual(a, b);
        assert.ok(a.mutations[0].startsWith("seed "));
        seen.add(Array.from(a.bytes).join(","));
      }
      assert.ok(seen.size > 150, "inputs differ from one index to the next");
      const one = fuzz({ decoder, inputs: 0, seed: 3, index: 7 });
      assert.equal(one.inputs, 1);
    }
  });

  test("summary line", () => {
    assert.equal(
      summaryLine({ decoder: "dumper", inputs: 500, ms: 250, failures: 2 }),
      "fuzz: dumper 500 inputs, 2000 inputs/s, 2 failures",
    );
  });
});

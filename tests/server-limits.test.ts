// The decode limits a server applies (issue 17, item 2): counted in elements and bytes, for each
// of the three freezers a client may pick.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LimitError } from "../src/core/errors.ts";
import { resolveFreezers } from "../src/core/freezers.ts";
import { SERVER_DECODE_LIMITS } from "../src/core/limits.ts";
import type { Freezer } from "../src/core/freezer.ts";

const names = ["Storable", "FreezeThaw", "POE::Component::IKC::Freezer"];

describe("SERVER_DECODE_LIMITS through resolveFreezers", () => {
  const bounded = resolveFreezers(names, SERVER_DECODE_LIMITS);
  const unbounded = resolveFreezers(names);

  for (const [i, name] of names.entries()) {
    test(`${name}: a frame of maxElements + 1 values is a LimitError; the default freezer takes it`, () => {
      const freezer = bounded[i]!;
      assert.equal(freezer.name, name);
      const fits = freezer.freeze(Array.from({ length: SERVER_DECODE_LIMITS.maxElements - 2 }, () => 1));
      assert.ok(Array.isArray(freezer.thaw(fits)));
      const over = freezer.freeze(Array.from({ length: SERVER_DECODE_LIMITS.maxElements + 1 }, () => 1));
      assert.throws(() => freezer.thaw(over), LimitError);
      assert.ok(Array.isArray(unbounded[i]!.thaw(over)));
    });

    test(`${name}: a frame over maxInputSize (${SERVER_DECODE_LIMITS.maxInputSize} bytes) is a LimitError`, () => {
      const big = bounded[i]!.freeze(["x".repeat(SERVER_DECODE_LIMITS.maxInputSize)]);
      assert.throws(() => bounded[i]!.thaw(big), LimitError);
      assert.ok(Array.isArray(unbounded[i]!.thaw(big)));
    });
  }

  test("a Freezer object is used as it is", () => {
    const own: Freezer = { name: "JSON", freeze: () => new Uint8Array(0), thaw: () => null };
    assert.equal(resolveFreezers([own], SERVER_DECODE_LIMITS)[0], own);
    assert.throws(() => resolveFreezers("Nope", SERVER_DECODE_LIMITS), TypeError);
  });
});

// Maps sent as Perl hashes, for the text codecs' "we freeze, Perl thaws and compares" tests:
// [the Perl expression of what Perl must get, the JS value we freeze].
import { bless, type PerlInput } from "../../src/core/perl.ts";

/** A Map is a hash (text keys; a `__proto__` key is a key), one hash when met twice, blessed like any ref. */
export function mapCases(): [string, PerlInput][] {
  const shared = new Map([["k", 1]]);
  return [
    [`[{a=>1, "__proto__"=>2, 7=>"x"}]`, [new Map<string | number, PerlInput>([["a", 1], ["__proto__", 2], [7, "x"]])]],
    [`do { my $h = {k=>1}; [$h, $h] }`, [shared, shared]],
    [`[bless({a=>1}, "My::M")]`, [bless(new Map([["a", 1]]), "My::M")]],
  ];
}

#!/usr/bin/perl
# Storable test peer for tests/storable-*.test.ts. Real Perl is the oracle:
#
#   perl storable-corpus.pl emit        writes every corpus case as nfreeze ("n:NAME") and freeze ("f:NAME")
#   perl storable-corpus.pl check       reads records frozen by JS, thaws each, compares it with the value
#                                       built here and prints "ok NAME" or "not ok NAME - why"
#   perl storable-corpus.pl roundtrip   reads records, thaws and re-nfreezes each, writes records back
#                                       (payload "O" . image, or "E" . error message)
#   perl storable-corpus.pl expected    writes nfreeze images of the check expectations built here
#   perl storable-corpus.pl dump        reads records, prints "NAME\tCANON" (debugging aid)
#
# A record is pack("N/a* N/a*", name, bytes) on both stdin and stdout.
use strict;
use warnings;
use utf8;
use Storable qw(nfreeze freeze thaw);
use Scalar::Util qw(blessed reftype refaddr weaken isweak);
use Hash::Util qw(lock_keys lock_hash);
use B ();
no warnings qw(experimental::builtin once);
use builtin qw(is_bool);

binmode STDIN;
binmode STDOUT;
$| = 1;

package My::Hooked {
    our $THAWED = 0;
    sub new { my ($class, %a) = @_; return bless {%a}, $class }
    sub STORABLE_freeze {
        my ($self, $cloning) = @_;
        return ("id=$self->{id}", defined $self->{data} ? ($self->{data}) : ());
    }
    sub STORABLE_thaw {
        my ($self, $cloning, $serialized, @refs) = @_;
        ($self->{id}) = $serialized =~ /\Aid=(.*)\z/s or die "My::Hooked: bad serialized string '$serialized'";
        $self->{data} = $refs[0] if @refs;
        $self->{thawed} = 1;
        $THAWED++;
        return;
    }
}

package My::HookedList {
    sub new { my ($class, @items) = @_; return bless [@items], $class }
    sub STORABLE_freeze { my ($self) = @_; return join(",", grep { $_ ne "thawed" } @$self) }
    sub STORABLE_thaw {
        my ($self, $cloning, $serialized) = @_;
        @$self = ((grep { $_ ne "thawed" } split(/,/, $serialized)), "thawed");
        return;
    }
}

package My::Overloaded {
    use overload '""' => sub { "ov:" . $_[0]{v} }, fallback => 1;
    sub new { my ($class, $v) = @_; return bless { v => $v }, $class }
}

# Hook output past every 1-byte length: frozen string > 255 bytes, > 255 sub-objects and (through the
# subclass below) a class name > 255 bytes: SHF_LARGE_STRLEN, SHF_LARGE_LISTLEN, SHF_LARGE_CLASSLEN.
package My::HookedMany {
    sub STORABLE_freeze { my ($self) = @_; return ($self->{s}, @{ $self->{refs} }) }
    sub STORABLE_thaw {
        my ($self, $cloning, $serialized, @refs) = @_;
        $self->{s} = $serialized;
        $self->{refs} = \@refs;
        return;
    }
}

package main;

our $KEEP;
our $LONG_HOOK_CLASS = "My::HookedMany::" . ("Long" x 70);
{ no strict "refs"; @{"${LONG_HOOK_CLASS}::ISA"} = ("My::HookedMany") }
sub hook_large { bless { s => "k" x 300, refs => [map { [$_] } 1 .. 300] }, $LONG_HOOK_CLASS }
# v1.2.....100: a v-string whose literal is longer than 255 bytes (SX_LVSTRING)
our $LONG_VSTRING = eval("v" . join(".", 1 .. 100)) // die "no long v-string: $@";    # keeps the referent of a weak scalar ref alive while it is frozen

# name => sub returning the reference to freeze. "err_" cases must make the JS thaw throw a CodecError.
my @CORPUS = (
    undef_root        => sub { \undef },
    undef_scalar_root => sub { my $u; \$u },
    undefs            => sub { my @holes; $holes[3] = "end"; [undef, my $u, \@holes] },
    empty_string      => sub { [""] },
    ascii             => sub { ["hello, world", "line\nbreak\ttab"] },
    latin1_bytes      => sub { ["caf\xe9", "\xff\x80\x00\x7f"] },
    binary_nul        => sub { ["a\0b\0\0\xff", "\0\0\0"] },
    utf8_text         => sub { ["é", "日本語", "😀", "mixed é 日 😀 a"] },
    integers          => sub {
        [0, -1, 1, 127, 128, -128, -129, 255, 256, 32767, -32768, 65535,
         2147483647, 2147483648, -2147483648, -2147483649, 4294967296,
         9007199254740991, -9007199254740991, 9007199254740993, -9007199254740993,
         9223372036854775807, -9223372036854775808]
    },
    uv_max            => sub { [18446744073709551615] },
    doubles           => sub { [2.5, -0.1, 1e300, -1.5e-300, 3.0, 0.5] },
    specials          => sub { my $inf = 9**9**9; [$inf, -$inf, $inf - $inf] },
    numeric_strings   => sub { ["42", "3.14", "007", "1e3", " 5", "-0", "0x10", "12345678901234567890"] },
    long_ascii        => sub { ["x" x 300] },
    long_utf8         => sub { ["é" x 300] },
    # around the lengths where the reader changes strategy (JS build, native decode)
    mid_strings       => sub {
        no warnings;
        my @s;
        for my $l (15, 16, 17, 33, 40, 85, 200) {
            for my $x ("a", "\x{e9}", "\x{65e5}", "\x{1f600}", "\x{d800}", "\x{fffd}") {
                my $s = ("a" x $l) . $x . ("b" x ($l % 5));
                utf8::upgrade($s) unless $x eq "a";
                push @s, $s;
            }
            push @s, map { ("a" x $l) . $_ . "z" } "\xe9", "\xc3\xa9", "\xef\xbf\xbd", "\xed\xa0\x80";
        }
        \@s;
    },
    boundary_strings  => sub { ["a" x 255, "b" x 256, "é" x 127, "é" x 128] },
    mib_binary        => sub { [pack("C*", map { ($_ * 7) & 255 } 0 .. 1048575)] },
    mib_ascii         => sub { ["abcdefghijklmnop" x 65536] },
    array_100k        => sub { [0 .. 99999] },
    hash_10k          => sub { +{ map { ("k$_" => $_) } 0 .. 9999 } },
    nested_array_50   => sub { my $x = "bottom"; $x = [$x] for 1 .. 50; $x },
    nested_hash_50    => sub { my $x = "bottom"; $x = { d => $x } for 1 .. 50; $x },
    keys              => sub {
        +{ "é" => 1, "日本" => 2, "😀" => 3, "__proto__" => 4, "constructor" => 5, "prototype" => 6,
           "hasOwnProperty" => 7, "" => 8, "a\0b" => 9, "toString" => 10 }
    },
    proto_values      => sub { +{ "__proto__" => { polluted => 1 }, "constructor" => { prototype => { polluted => 1 } } } },
    latin1_key        => sub { +{ "caf\xe9" => 1 } },
    restricted        => sub { my %h = (a => 1, b => [2]); lock_keys(%h); \%h },
    locked            => sub { my %h = (a => 1, s => "x"); lock_hash(%h); \%h },
    restricted_placeholder => sub { my %h = (a => 1); lock_keys(%h, qw(a b)); \%h },
    scalar_refs       => sub { +{ r => \"text", n => \42, u => \undef, e => \"" } },
    ref_to_ref        => sub { +{ rr => \\"x", rh => \{ a => 1 }, ra => \[1], rrr => \\\"deep" } },
    root_scalar       => sub { \"hello" },
    root_int          => sub { \42 },
    root_ref_ref      => sub { \\"x" },
    blessed           => sub {
        +{ h => bless({ a => 1 }, "My::Hash"), a => bless([1, 2], "My::Array"),
           s => bless(\(my $s = "sv"), "My::Scalar"), e => bless({}, "Empty::Class") }
    },
    blessed_root      => sub { bless { x => 1 }, "Root::Class" },
    same_class        => sub {
        [bless({ n => 1 }, "Same"), bless({ n => 2 }, "Same"), bless([], "Other"),
         bless({ n => 3 }, "Same"), bless(\(my $x = 1), "Other")]
    },
    long_class        => sub { [bless({}, "A::" . ("Long" x 40)), bless([], "A::" . ("Long" x 40))] },
    shared            => sub { my $h = { v => 1 }; +{ a => $h, b => $h, list => [$h, $h] } },
    shared_scalar_ref => sub { my $x = "s"; my $r = \$x; +{ r1 => \$x, r2 => \$x, rr1 => \$r, rr2 => \$r, c => $r } },
    cycle_hash        => sub { my $h = { name => "self" }; $h->{self} = $h; $h },
    cycle_array       => sub { my @a = (1); push @a, \@a; \@a },
    cycle_deep        => sub { my $h = { name => "root" }; $h->{kids} = [{ parent => $h }, { parent => $h }]; $h },
    cycle_scalar      => sub { my $x; $x = \$x; +{ c => $x } },
    weak              => sub { my $h = { n => 1 }; my $d = { strong => $h, weak => $h }; weaken($d->{weak}); $d },
    weak_scalar       => sub { my $s = "ws"; $KEEP = \$s; my $d = { w => $KEEP }; weaken($d->{w}); $d },
    weak_cycle        => sub { my $h = { name => "w" }; $h->{self} = $h; weaken($h->{self}); $h },
    regexp            => sub { +{ re => qr/ab+c/i, re2 => qr/^\d+$/msx, plain => qr/x/, blessed_re => bless(qr/y+/, "My::Re") } },
    vstring           => sub { +{ v => v1.22.333, ascii => v65.66 } },
    hook              => sub {
        my $a = My::Hooked->new(id => 7, data => [1, 2]);
        [$a, My::Hooked->new(id => 8), $a, My::HookedList->new(3, 4)]
    },
    hook_shared_ref   => sub { my $sh = [9]; [My::Hooked->new(id => 1, data => $sh), $sh] },
    hook_root         => sub { My::Hooked->new(id => 5, data => { k => "v" }) },
    hook_large        => sub { [hook_large()] },
    long_vstring      => sub { +{ v => $LONG_VSTRING } },
    # @_ aliases the immortal PL_sv_undef for a literal undef argument: SX_SVUNDEF_ELEM
    svundef_elem      => sub { sub { \@_ }->(undef, 1) },
    weak_overload     => sub { my $o = My::Overloaded->new("w"); my $d = { s => $o, w => $o }; weaken($d->{w}); $d },
    booleans          => sub { [!!1, !!0] },
    immortals         => sub { +{ t => \!!1, f => \!!0 } },
    overload          => sub { +{ o => My::Overloaded->new("x") } },
    err_code          => sub { +{ c => sub { 42 } } },
    err_tied_hash     => sub { require Tie::Hash; tie my %t, "Tie::StdHash"; $t{a} = 1; \%t },
    err_tied_array    => sub { require Tie::Array; tie my @t, "Tie::StdArray"; @t = (1); [\@t] },
);

sub records_in {
    local $/;
    my $in = <STDIN> // "";
    my @out;
    my $pos = 0;
    while ($pos < length $in) {
        my ($name, $bytes) = unpack("N/a* N/a*", substr($in, $pos));
        $pos += 8 + length($name) + length($bytes);
        utf8::decode($name);
        push @out, [$name, $bytes];
    }
    return @out;
}

sub record_out {
    my ($name, $bytes) = @_;
    utf8::encode($name);
    print pack("N/a* N/a*", $name, $bytes);
}

# ---- canonical dump: everything that distinguishes two Perl values for our purposes ----

sub qstr {
    my ($s) = @_;
    my $flag = $s =~ /[^\x00-\x7f]/ ? (utf8::is_utf8($s) ? "u" : "b") : "a";
    (my $q = $s) =~ s/([\\"])/\\$1/g;
    $q =~ s/([^\x20-\x7e])/sprintf("\\x{%x}", ord $1)/ge;
    return qq{$flag"$q"};
}

sub vstring_magic {
    my ($svref) = @_;
    my $mg = B::svref_2object($svref)->MAGIC;
    while ($mg) {
        return $mg->PTR if $mg->TYPE eq "V";
        $mg = $mg->MOREMAGIC;
    }
    return undef;
}

sub canon_scalar {
    my ($v) = @_;
    return "undef" unless defined $v;
    my $vs = ref(\$v) eq "VSTRING" ? vstring_magic(\$v) : undef;
    return "vstring(" . qstr($vs) . "," . qstr($v) . ")" if defined $vs;
    return (is_bool($v) ? "bool:" : "") . qstr($v);
}

# $weak: whether the slot holding this ref is weak
sub canon {
    my ($v, $seen, $weak) = @_;
    return canon_scalar($v) unless ref $v;
    my $type = reftype($v);
    my $class = blessed($v);
    my $pre = ($weak ? "weak:" : "") . (defined $class && !($type eq "REGEXP" && $class eq "Regexp") ? "bless(" . qstr($class) . ")" : "");
    my $addr = refaddr($v);
    return "$pre^$seen->{$addr}" if exists $seen->{$addr};
    my $id = $seen->{$addr} = scalar keys %$seen;
    if ($type eq "HASH") {
        return "$pre#$id\{" . join(",", map { qstr($_) . "=>" . canon($v->{$_}, $seen, isweak($v->{$_})) } sort keys %$v) . "}";
    }
    if ($type eq "ARRAY") {
        return "$pre#$id\[" . join(",", map { canon($v->[$_], $seen, isweak($v->[$_])) } 0 .. $#$v) . "]";
    }
    if ($type eq "REGEXP") {
        my ($pat, $mods) = re::regexp_pattern($v);
        return "$pre#${id}qr(" . qstr($pat) . "," . qstr($mods) . ")";
    }
    if ($type eq "SCALAR" || $type eq "REF" || $type eq "VSTRING") {
        return "$pre#$id\\" . (ref $$v ? canon($$v, $seen, 0) : canon_scalar($$v));
    }
    return "$pre#$id<$type>";
}

sub canon_of { return canon($_[0], {}, 0) }

# ---- expectations for values frozen by JS (see tests/storable-perl.test.ts) ----

sub big_binary { return pack("C*", map { ($_ * 7) & 255 } 0 .. 1048575) }

sub num_eq {
    my ($got, $want) = @_;
    return 0 unless ref $got eq "ARRAY" && @$got == @$want;
    for my $i (0 .. $#$want) {
        my ($g, $w) = ($got->[$i], $want->[$i]);
        return 0 unless defined $g && !ref $g;
        if ($w != $w) { return 0 unless $g != $g; next }
        return 0 unless $g == $w;
    }
    return 1;
}

my $INF = 9**9**9;
my %EXPECT = (
    str_ascii        => sub { ["hello", "", "line\nbreak", "tab\there", "nul\0byte"] },
    str_non_ascii    => sub { ["café", "日本語", "😀", "é" x 300, "mixed é 日 😀"] },
    # lone surrogates travel as Perl's lax UTF-8 (ED A0 80): Perl gets the code point itself
    str_lone_surrogate => sub { no warnings; ["a\x{d800}b", "\x{dc00}", "\x{d83d}x"] },
    # around every length where the writer changes strategy (JS loop, native write, 1-byte length)
    str_lengths      => sub {
        no warnings;
        [map { my $l = $_; map { my $s = ("a" x $l) . $_ . ("b" x ($l % 7)); utf8::upgrade($s) unless $_ eq "a"; $s } "a", "\x{e9}", "\x{65e5}", "\x{1f600}", "\x{d800}" }
            15, 16, 17, 40, 84, 85, 86, 200, 300]
    },
    bytes            => sub { ["\x00\x01\xff\x80", "", "plain", "\xe9"] },
    ints             => sub {
        [0, -1, 1, 127, 128, -128, -129, 255, 256, 32767, 65536, 2147483647, 2147483648,
         -2147483648, -2147483649, 9007199254740992, -9007199254740992, 9007199254740991]
    },
    floats           => [sub { [2.5, -0.1, 1e300, 1.5e-300, 0.1 + 0.2, -1e-7, 123456.789] }, \&num_eq],
    float_specials   => [sub { [$INF, -$INF, $INF - $INF, 0] }, \&num_eq],
    bigints          => sub {
        ["9223372036854775807", "-9223372036854775808", "18446744073709551615", "12345",
         "1267650600228229401496703205376", "-1"]
    },
    # FreezeOptions.booleans "yesno" (default) writes "1" / "": plain writable scalars
    booleans         => [
        sub { ["1", "", { t => "1", f => "" }] },
        sub {
            my ($got, $want) = @_;
            return 0 unless canon_of($got) eq canon_of($want);
            return eval { $got->[0] = 5; $got->[1] = 6; $got->[2]{t} = 7; 1 } ? 1 : 0;   # not read-only immortals
        },
    ],
    nulls            => sub { [undef, undef, 1, undef, { a => undef, b => undef, c => 0 }] },
    nested           => sub { my $x = "bottom"; $x = [$x, { level => $_ }] for 1 .. 50; $x },
    shared           => sub { my $h = { v => 1 }; +{ a => $h, b => $h, list => [$h, $h] } },
    shared_array     => sub { my $a = [1, 2]; [$a, $a, { x => $a }] },
    cycle_hash       => sub { my $h = { name => "self" }; $h->{self} = $h; $h },
    cycle_array      => sub { my @a = (1); push @a, \@a; \@a },
    cycle_deep       => sub { my $h = { name => "root" }; $h->{kids} = [{ parent => $h }, { parent => $h }]; $h },
    cycle_ref        => sub { my $x; $x = \$x; +{ c => $x } },
    refs             => sub { +{ r => \"text", n => \42, u => \undef, rr => \\"x", rh => \{ a => 1 }, ra => \[1] } },
    shared_ref       => sub { my $x = "s"; +{ r1 => \$x, r2 => \$x } },
    root_ref         => sub { \"hello" },
    blessed          => sub {
        +{ h => bless({ a => 1 }, "My::Hash"), a => bless([1, 2], "My::Array"),
           s => bless(\(my $s = "sv"), "My::Scalar"),
           two => [bless({ n => 1 }, "Same"), bless({ n => 2 }, "Same"), bless([], "Same")] }
    },
    blessed_root     => sub { bless { x => 1 }, "Root::Class" },
    long_class       => sub { [bless({}, "A::" . ("Long" x 40))] },
    proto_keys       => sub { +{ "__proto__" => 1, "constructor" => 2, "prototype" => 3, "hasOwnProperty" => { "__proto__" => [] } } },
    map_input        => sub { +{ a => 1, b => [2], "é" => "x" } },
    utf8_keys        => sub { +{ "é" => 1, "日本" => 2, "😀" => 3, "a\0b" => 4, "" => 5 } },
    hook_from_perl   => sub { [bless({ id => 7, data => [1, 2], thawed => 1 }, "My::Hooked"), bless({ id => 8, thawed => 1 }, "My::Hooked")] },
    hook_shared      => sub { my $h = bless({ id => 7, data => [1, 2], thawed => 1 }, "My::Hooked"); [$h, $h, bless([3, 4, "thawed"], "My::HookedList")] },
    hook_built_in_js => sub { bless({ id => "js", data => { from => "js" }, thawed => 1 }, "My::Hooked") },
    regexp           => [
        sub { +{ re => qr/ab+c/i, re2 => qr/^\d+$/msx, plain => qr/x/ } },
        sub { my ($got, $want) = @_; canon_of($got) eq canon_of($want) && "xABBCx" =~ $got->{re} && "12" =~ $got->{re2} && "a\n12\n" =~ $got->{re2} && "ABC" !~ $got->{plain} },
    ],
    vstring          => sub { +{ v => v1.22.333, ascii => v65.66 } },
    long_vstring     => sub { +{ v => $LONG_VSTRING } },
    hook_large       => sub { [hook_large(), hook_large()] },
    large_string     => sub { ["abcdefghijklmnop" x 65536] },
    large_bytes      => sub { [big_binary()] },
    large_array      => sub { [0 .. 99999] },
    large_hash       => sub { +{ map { ("k$_" => $_) } 0 .. 9999 } },
);

sub cmd_emit {
    for (my $i = 0; $i < @CORPUS; $i += 2) {
        my ($name, $make) = @CORPUS[$i, $i + 1];
        local $Storable::Deparse = 1 if $name eq "err_code";
        record_out("n:$name", nfreeze($make->()));
        record_out("f:$name", freeze($make->()));
    }
}

# Perl's own images of the expectations: lets the suite prove the checker accepts what it should.
sub cmd_expected {
    for my $name (sort keys %EXPECT) {
        my $spec = $EXPECT{$name};
        my $make = ref $spec eq "ARRAY" ? $spec->[0] : $spec;
        record_out($name, nfreeze($make->()));
    }
}

sub cmd_check {
    my ($ok, $bad) = (0, 0);
    for my $rec (records_in()) {
        my ($name, $bytes) = @$rec;
        my $spec = $EXPECT{$name};
        if (!$spec) { print "not ok $name - no expectation in storable-corpus.pl\n"; $bad++; next }
        my ($make, $cmp) = ref $spec eq "ARRAY" ? @$spec : ($spec, undef);
        my $got = eval { thaw($bytes) };
        if (!defined $got) {
            (my $err = $@ || "thaw returned undef") =~ s/\s+\z//;
            print "not ok $name - thaw failed: $err\n";
            $bad++;
            next;
        }
        my $want = $make->();
        my ($g, $w) = (canon_of($got), canon_of($want));
        my $pass = $cmp ? $cmp->($got, $want) : $g eq $w;
        if ($pass) { print "ok $name\n"; $ok++ }
        else {
            # show where the dumps start to differ
            my $i = 0;
            $i++ while $i < length($g) && $i < length($w) && substr($g, $i, 1) eq substr($w, $i, 1);
            my $from = $i > 120 ? $i - 120 : 0;
            for ($g, $w) { $_ = ($from ? "..." : "") . substr($_, $from, 400) . (length($_) > $from + 400 ? "..." : "") }
            $g .= " (custom comparison)" if $cmp;
            print "not ok $name - got $g expected $w\n";
            $bad++;
        }
    }
    print "# thawed hooks: $My::Hooked::THAWED\n";
}

sub cmd_roundtrip {
    for my $rec (records_in()) {
        my ($name, $bytes) = @$rec;
        my $out = eval { "O" . nfreeze(thaw($bytes)) };
        if (!defined $out) { ($out = "E" . ($@ || "thaw returned undef")) =~ s/\s+\z// }
        record_out($name, $out);
    }
}

sub cmd_dump {
    for my $rec (records_in()) {
        my ($name, $bytes) = @$rec;
        my $got = eval { thaw($bytes) };
        my $c = defined $got ? canon_of($got) : "ERROR: $@";
        utf8::encode($c);
        print "$name\t$c\n";
    }
}

my $cmd = shift(@ARGV) // "";
if    ($cmd eq "emit")      { cmd_emit() }
elsif ($cmd eq "check")     { cmd_check() }
elsif ($cmd eq "roundtrip") { cmd_roundtrip() }
elsif ($cmd eq "expected")  { cmd_expected() }
elsif ($cmd eq "dump")      { cmd_dump() }
else                        { die "usage: $0 emit|check|roundtrip|dump\n" }

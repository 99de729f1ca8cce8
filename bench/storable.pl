#!/usr/bin/perl
# Perl XS Storable baseline for the benchmarks: builds the payloads of bench/payloads.ts in Perl
# and times nfreeze and thaw inside this process (Time::HiRes, warm-up, median of many batches).
#
#   perl bench/storable.pl [--time SECONDS] [--only NAME,...]   # prints JSON timings on stdout
#   perl bench/storable.pl --write DIR                          # writes DIR/<name>.storable (nfreeze bytes)
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use JSON::PP ();
use Storable qw(nfreeze thaw);
use Time::HiRes qw(time);

my %opt = ( time => 0.6, write => undef, only => undef );
GetOptions( 'time=f' => \$opt{time}, 'write=s' => \$opt{write}, 'only=s' => \$opt{only} )
    or die "usage: $0 [--time SECONDS] [--write DIR] [--only NAME,...]\n";

# --- payloads (keep in step with bench/payloads.ts) ------------------------------------------

sub rows_payload {
    my ($n) = @_;
    my @rows = map {
        { id => $_, name => "user$_", score => $_ * 1.5, tags => [ "a$_", 'b', 'c' ], active => $_ % 2, note => undef }
    } 0 .. $n - 1;
    return { rows => \@rows, total => $n, title => "$n rows" };
}

my $WIDE = "h\x{e9}llo w\x{f6}rld \x{2713} \x{65e5}\x{672c}\x{8a9e}";

sub strings_payload {
    my @list = map { ( "word$_ " x ( 1 + $_ % 20 ) ) . ( $_ % 4 == 0 ? $WIDE : '' ) } 0 .. 1999;
    my %by_key = map { ( "key$_" => "value $_" ) } 0 .. 999;
    return { list => \@list, byKey => \%by_key };
}

sub chain {
    my ($depth) = @_;
    my $node = undef;
    $node = { d => $_, a => [ $_, "x$_" ], next => $node } for 1 .. $depth;
    return $node;
}

sub nested_payload { return [ map { chain(200) } 1 .. 20 ] }

my @payloads = (
    [ rows1k  => rows_payload(1000) ],
    [ rows10k => rows_payload(10000) ],
    [ strings => strings_payload() ],
    [ nested  => nested_payload() ],
);
if ( $opt{only} ) {
    my %want = map { $_ => 1 } split /,/, $opt{only};
    @payloads = grep { $want{ $_->[0] } } @payloads;
}

if ( defined $opt{write} ) {
    for (@payloads) {
        my ( $name, $value ) = @$_;
        open my $fh, '>:raw', "$opt{write}/$name.storable" or die "$opt{write}/$name.storable: $!\n";
        print {$fh} nfreeze($value);
        close $fh or die "$!\n";
    }
    exit 0;
}

# --- timing ---------------------------------------------------------------------------------

# Runs $code in batches sized to ~10 ms each for $budget seconds (after a warm-up of a third of
# that) and returns the median and mean time per call in nanoseconds, and the call count.
sub measure {
    my ( $code, $budget ) = @_;
    my $t0 = time;
    $code->() while time - $t0 < $budget / 3;    # warm-up (also sizes the batch)
    my $n  = 0;
    my $t1 = time;
    $code->(), $n++ while time - $t1 < 0.01;
    my $per = ( time - $t1 ) / $n;
    my $batch = $per > 0.01 ? 1 : int( 0.01 / $per ) || 1;
    my ( @samples, $calls );
    my $start = time;
    while ( @samples < 5 or time - $start < $budget ) {
        my $s = time;
        $code->() for 1 .. $batch;
        push @samples, ( time - $s ) / $batch * 1e9;
        $calls += $batch;
    }
    my @sorted = sort { $a <=> $b } @samples;
    my $mid = @sorted / 2;
    my $median = @sorted % 2 ? $sorted[$mid] : ( $sorted[ $mid - 1 ] + $sorted[$mid] ) / 2;
    my $mean = 0;
    $mean += $_ for @samples;
    $mean /= @samples;
    return { median_ns => $median, mean_ns => $mean, samples => scalar(@samples), calls => $calls };
}

my %out = (
    perl     => sprintf( '%vd', $^V ),
    storable => $Storable::VERSION,
    results  => {},
);
for (@payloads) {
    my ( $name, $value ) = @$_;
    my $bytes = nfreeze($value);
    my $sink;
    $out{results}{$name} = {
        bytes   => length $bytes,
        nfreeze => measure( sub { $sink = nfreeze($value) }, $opt{time} ),
        thaw    => measure( sub { $sink = thaw($bytes) },    $opt{time} ),
    };
}
print JSON::PP->new->canonical->encode( \%out ), "\n";

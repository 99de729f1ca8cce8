#!/usr/bin/perl
# Drives the GENUINE POE::Component::IKC::ClientLite (from a checkout the user supplies, via -I)
# against a server, for check/genuine-clients.ts. This file is ours; ClientLite is theirs.
#
#   perl -I<genuine lib> check/genuine-lite.pl --port N [--host 127.0.0.1] [--name LiteN]
#        [--protocol IKC0|IKC] [--serialiser Storable|FreezeThaw|POE::Component::IKC::Freezer]
#        [--timeout S] [--spawn]
#
# Connects with create_ikc_client (or ->spawn with --spawn), then prints one JSON line:
#   {"connected":1,"name":N,"remote_name":R,"aliases":[...],"ping":P,"protocol":X,"warnings":[...]}
# or {"connected":0,"error":E} and exits 1. Then reads one JSON step a line from stdin, runs it
# with the ClientLite object and prints one JSON line for it:
#   {"op":"call","spec":S,"params":P[,"context":"list"][,"timeout":T]}
#   {"op":"post","spec":S,"params":P}         {"op":"post_respond","spec":S,"params":P[,"timeout":T]}
#   {"op":"responded","state":S[,"context":"list"][,"timeout":T]}
#   {"op":"ping"} {"op":"name"} {"op":"error"} {"op":"connect"} {"op":"disconnect"}
#   {"op":"close_socket"}  closes the socket under ClientLite's feet, as test-lite does
#   {"op":"set","protocol":P}  changes the protocol for the next (re)connect, as test-lite does
#   {"op":"quit"}
# -> {"op":..,"result":R,"error":E,"global_error":G,"elapsed":seconds,"warnings":[...]}
# `result` is the method's return value (an array for list context), `error` $lite->error,
# `global_error` POE::Component::IKC::ClientLite::error(). `timeout` sets ClientLite's
# timeout for that step only.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use JSON::PP;
use Time::HiRes qw(time);
use POE::Component::IKC::ClientLite;

my %opt = ( host => '127.0.0.1', port => 603, name => "Lite$$", protocol => 'IKC0',
            serialiser => undef, timeout => 10, spawn => 0 );
GetOptions(
    'host=s' => \$opt{host}, 'port=i' => \$opt{port}, 'name=s' => \$opt{name},
    'protocol=s' => \$opt{protocol}, 'serialiser=s' => \$opt{serialiser},
    'timeout=f' => \$opt{timeout}, 'spawn!' => \$opt{spawn},
) or die "bad arguments\n";
$| = 1;
$SIG{PIPE} = 'IGNORE';

my $json = JSON::PP->new->utf8->ascii->canonical->allow_nonref->allow_unknown->allow_blessed;
my @warnings;
$SIG{__WARN__} = sub { my $w = shift; chomp $w; push @warnings, $w; print STDERR "warn: $w\n" };

sub out {
    my ($h) = @_;
    $h->{warnings} = [@warnings];
    @warnings = ();
    print $json->encode($h), "\n";
}

my %args = ( ip => $opt{host}, port => $opt{port}, name => $opt{name},
             protocol => $opt{protocol}, timeout => $opt{timeout} );
$args{serialiser} = $opt{serialiser} if defined $opt{serialiser};
my $lite = $opt{spawn}
    ? POE::Component::IKC::ClientLite->spawn(%args)
    : create_ikc_client(%args);
unless ($lite) {
    out( { connected => 0, error => $POE::Component::IKC::ClientLite::error } );
    exit 1;
}
out( {
    connected   => 1,
    name        => $lite->name,
    remote_name => $lite->{remote}{name},
    aliases     => [ sort keys %{ $lite->{remote}{aliases} || {} } ],
    ping        => $lite->{ping},
    protocol    => $lite->{protocol},
    serialiser  => $lite->{serialiser},
} );

while ( defined( my $line = <STDIN> ) ) {
    chomp $line;
    next unless $line =~ /\S/;
    my $step = eval { $json->decode($line) };
    unless ( ref $step eq 'HASH' ) {
        out( { op => undef, error => "bad step: $line" } );
        next;
    }
    my $op = $step->{op} // '';
    last if $op eq 'quit';
    my $saved = $lite->{timeout};
    $lite->{timeout} = $step->{timeout} if defined $step->{timeout};
    my $list = ( $step->{context} // '' ) eq 'list';
    my $t0 = time;
    my $result;
    my $ok = eval {
        if ( $op eq 'call' ) {
            $result = $list ? [ $lite->call( $step->{spec}, $step->{params} ) ]
                            : scalar $lite->call( $step->{spec}, $step->{params} );
        }
        elsif ( $op eq 'post' )         { $result = $lite->post( $step->{spec}, $step->{params} ) }
        elsif ( $op eq 'post_respond' ) { $result = $lite->post_respond( $step->{spec}, $step->{params} ) }
        elsif ( $op eq 'responded' ) {
            $result = $list ? [ $lite->responded( $step->{state} ) ] : scalar $lite->responded( $step->{state} );
        }
        elsif ( $op eq 'ping' )         { $result = $lite->ping }
        elsif ( $op eq 'name' )         { $result = $lite->name }
        elsif ( $op eq 'error' )        { $result = $lite->error }
        elsif ( $op eq 'connect' )      { $result = $lite->connect }
        elsif ( $op eq 'disconnect' )   { $lite->disconnect; $result = 1 }
        elsif ( $op eq 'close_socket' ) { $lite->{remote}{socket}->close; $result = 1 }
        elsif ( $op eq 'set' )          { $lite->{protocol} = $step->{protocol}; $result = 1 }
        else                            { die "unknown op '$op'\n" }
        1;
    };
    my $died = $ok ? undef : $@;
    $lite->{timeout} = $saved;
    out( {
        op           => $op,
        result       => $result,
        error        => $lite->error,
        global_error => POE::Component::IKC::ClientLite::error(),
        died         => $died,
        elapsed      => sprintf( '%.3f', time - $t0 ) + 0,
        connected    => $lite->{remote}{connected} ? 1 : 0,
    } );
}
$lite->disconnect;
exit 0;

#!/usr/bin/perl
# Timing driver for bench/client.ts: Perl's side of the client comparison. With --genuine it
# uses the GENUINE POE::Component::IKC::ClientLite (from a checkout the user supplies, via -I);
# without, a blocking client of ours on POE::Filter::Reference that speaks IKC0 as ClientLite
# does (socket, SETUP line, Storable frames), for when the genuine code is absent.
#
#   perl [-I<genuine lib>] bench/lite-client.pl --port N [--genuine]
#
# Prints `READY <what>` once connected, then reads commands from stdin, one a line:
#   calls N   N sequential calls of test/echo with the 1-row payload; prints `calls N <seconds>`
#   posts N   N posts of the payload to test/echo (each returns once written), then one call so
#             the server has taken them all; prints `posts N <seconds>` (the call excluded)
#   quit
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use Time::HiRes qw(time);

my %opt = ( host => '127.0.0.1', port => undef, genuine => 0 );
GetOptions( 'host=s' => \$opt{host}, 'port=i' => \$opt{port}, 'genuine!' => \$opt{genuine} )
    or die "usage: $0 --port N [--genuine]\n";
die "--port is required\n" unless $opt{port};
$| = 1;
$SIG{PIPE} = 'IGNORE';

# Keep in step with rowsPayload(1) in bench/payloads.ts.
my $payload = {
    rows  => [ { id => 0, name => 'user0', score => 0, tags => [ 'a0', 'b', 'c' ], active => 0, note => undef } ],
    total => 1,
    title => '1 rows',
};

my ( $call, $post, $what );
if ( $opt{genuine} ) {
    require POE::Component::IKC::ClientLite;
    my $lite = POE::Component::IKC::ClientLite->spawn(
        ip => $opt{host}, port => $opt{port}, name => "BenchLite$$", timeout => 30 )
        or die 'ClientLite: ' . POE::Component::IKC::ClientLite::error() . "\n";
    $call = sub { my $r = $lite->call( 'test/echo', $_[0] ); die 'call: ' . $lite->error . "\n" unless ref $r; $r };
    $post = sub { $lite->post( 'test/echo', $_[0] ) or die 'post: ' . $lite->error . "\n" };
    $what = "genuine ClientLite $POE::Component::IKC::ClientLite::VERSION";
}
else {
    require IO::Socket::INET;
    require POE::Filter::Reference;
    my $name = "BenchLite$$";
    my $sock = IO::Socket::INET->new( PeerAddr => $opt{host}, PeerPort => $opt{port}, Proto => 'tcp' )
        or die "connect: $!\n";
    $sock->autoflush(1);
    setsockopt( $sock, 6, 1, 1 );    # TCP_NODELAY, as ClientLite's writes are one per message
    print $sock "SETUP KERNEL=$name;FREEZER=Storable;PID=$$\x0D\x0A";
    my $line = <$sock>;
    die "negotiation: no SETUP answer\n" unless defined $line && $line =~ /^SETUP /;
    my ($remote) = $line =~ /KERNEL=([^,;\r\n]+)/;
    my $filter = POE::Filter::Reference->new('Storable');
    my $n      = 0;
    my @pending;
    my $send = sub {
        my ($msg) = @_;
        my $raw = $filter->put( [$msg] );
        print $sock @$raw;
    };
    my $read = sub {
        while ( !@pending ) {
            my $got = sysread( $sock, my $buf, 65536 );
            die "read: connection closed\n" unless $got;
            push @pending, @{ $filter->get( [$buf] ) };
        }
        return shift @pending;
    };
    $call = sub {
        my $state = 'response' . ++$n;
        $send->( {
            event    => "poe://$remote/test/echo", params => $_[0], wantarray => 0,
            from     => { kernel => $name, session => 'IKCLite' },
            rsvp     => { kernel => $name, session => 'IKCLite', state => $state },
        } );
        my $m = $read->();
        my $ev = ref $m eq 'HASH' ? $m->{event} : undef;
        $ev = $ev->{state} if ref $ev eq 'HASH';
        die "call: unexpected answer\n" unless defined $ev && $ev =~ /\Q$state\E$/;
        $m->{params};
    };
    $post = sub {
        $send->( { event => "poe://$remote/test/echo", params => $_[0], from => { kernel => $name, session => 'IKCLite' } } );
        1;
    };
    $what = 'a blocking Perl client on POE::Filter::Reference (genuine ClientLite absent)';
}

print "READY $what\n";
while ( defined( my $line = <STDIN> ) ) {
    my ( $cmd, $count ) = split ' ', $line;
    last if !defined $cmd || $cmd eq 'quit';
    my $t0 = time;
    if ( $cmd eq 'calls' ) {
        $call->($payload) for 1 .. $count;
        printf "calls %d %.6f\n", $count, time - $t0;
    }
    elsif ( $cmd eq 'posts' ) {
        $post->($payload) for 1 .. $count;
        my $dt = time - $t0;
        $call->($payload);
        printf "posts %d %.6f\n", $count, $dt;
    }
    else { die "unknown command $cmd\n" }
}
exit 0;

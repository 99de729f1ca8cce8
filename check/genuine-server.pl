#!/usr/bin/perl
# Starts the GENUINE POE::Component::IKC::Server (from a checkout the user supplies, via -I) and
# publishes a `test` session for check/genuine.ts. This file is ours; the server is theirs.
#
#   perl -I<genuine lib> check/genuine-server.pl [--port N | --unix PATH] [--protocol IKC0|IKC]
#        [--name RefServer] [--alias Ref]... [--verbose]
#
# Prints `READY port=<n> pid=<pid>` or `READY unix=<path> pid=<pid>` once it listens, then the
# version it runs as a second line: `GENUINE <version> <path of Server.pm>`. Stops on SIGTERM.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use POE;
use POE::Component::IKC::Server;
use POE::Component::IKC::Responder;

my %opt = ( port => undef, unix => undef, protocol => 'IKC0', name => 'RefServer', alias => [], verbose => 0 );
GetOptions(
    'port=i'     => \$opt{port},
    'unix=s'     => \$opt{unix},
    'protocol=s' => \$opt{protocol},
    'name=s'     => \$opt{name},
    'alias=s@'   => $opt{alias},
    'verbose!'   => \$opt{verbose},
) or die "usage: $0 [--port N | --unix PATH] [--protocol IKC0|IKC] [--name N] [--alias A]...\n";
die "--protocol must be IKC0 or IKC\n" unless $opt{protocol} =~ /^IKC0?$/;
@{ $opt{alias} } = ('Ref') unless @{ $opt{alias} };
$opt{port} = 0 unless defined $opt{port} or defined $opt{unix};
$| = 1;
$SIG{PIPE} = 'IGNORE';

POE::Component::IKC::Responder->spawn;
my %server = ( protocol => $opt{protocol}, name => $opt{name}, aliases => $opt{alias} );
if ( defined $opt{unix} ) {
    $server{unix} = $opt{unix};
}
else {
    @server{qw(ip port)} = ( '127.0.0.1', $opt{port} );
}
my $port = POE::Component::IKC::Server->spawn(%server);
# With a fixed port spawn returns nothing; with port 0 it returns the one the kernel chose.
$port ||= $opt{port};

my @recorded;

# The kernel name of the client a request came from: the Responder runs each request in a
# "thunk" session whose heap holds the message's `from`.
sub client_kernel {
    my ($sender) = @_;
    my $heap = eval { $sender->get_heap };
    return ref $heap eq 'HASH' && ref $heap->{from} eq 'HASH' ? $heap->{from}{kernel} : undef;
}

POE::Session->create(
    inline_states => {
        _start => sub {
            my $kernel = $_[KERNEL];
            $kernel->alias_set('test');
            $kernel->call( IKC => publish => test => [
                qw(echo echo_list add undef empty_list context respond record seen clear push bytes die)
            ] );
            $kernel->sig( TERM => 'stop' );
            $kernel->sig( INT  => 'stop' );
            if ( defined $opt{unix} ) {
                print "READY unix=$opt{unix} pid=$$\n";
            }
            else {
                print "READY port=$port pid=$$\n";
            }
            print "GENUINE $POE::Component::IKC::Server::VERSION $INC{'POE/Component/IKC/Server.pm'}\n";
        },
        stop => sub {
            $_[KERNEL]->sig_handled;
            unlink $opt{unix} if defined $opt{unix};
            exit 0;
        },
        echo      => sub { $_[ARG0] },
        echo_list => sub {
            my $l = $_[ARG0];
            return $l unless ref $l eq 'ARRAY';
            return @{$l}[ 0 .. $#$l ];
        },
        add => sub {
            my $sum = 0;
            $sum += $_ for @{ $_[ARG0] || [] };
            return $sum;
        },
        undef      => sub { return undef },
        empty_list => sub { return () },
        context    => sub { wantarray ? 'list' : 'scalar' },
        # post_respond: ARG0 is [params, rsvp]; params is [delay ms, value]. Answers later through
        # the Responder, the way ClientLite's documentation shows.
        respond => sub {
            my ( $p, $rsvp ) = @{ $_[ARG0] || [] };
            my ( $ms, $value ) = ref $p eq 'ARRAY' ? @$p : ( 0, $p );
            $_[KERNEL]->delay_set( respond_later => ( $ms || 0 ) / 1000, $rsvp, $value );
            return;
        },
        respond_later => sub { $_[KERNEL]->post( IKC => post => $_[ARG0], $_[ARG1] ) },
        record        => sub { push @recorded, $_[ARG0]; scalar @recorded },
        seen          => sub { [@recorded] },
        clear         => sub { @recorded = (); 1 },
        # Posts to the client on its own: {state, count, value} -> count posts of [value, i]
        # to poe://<client>/IKCLite/<state>, after this call has answered.
        push => sub {
            my $p      = ref $_[ARG0] eq 'HASH' ? $_[ARG0] : {};
            my $client = client_kernel( $_[SENDER] );
            die "push: no client kernel known\n" unless defined $client;
            $_[KERNEL]->yield( push_later => $client, $p->{state}, $p->{count} || 0, $p->{value} );
            return $p->{count} || 0;
        },
        push_later => sub {
            my ( $client, $state, $count, $value ) = @_[ ARG0 .. ARG3 ];
            $_[KERNEL]->post( IKC => post => "poe://$client/IKCLite/$state", [ $value, $_ ] ) for 0 .. $count - 1;
        },
        # [n, utf8]: the characters 0..n-1 (mod 256), as bytes or upgraded to a text string
        bytes => sub {
            my ( $n, $utf8 ) = @{ $_[ARG0] || [] };
            my $s = join '', map { chr( $_ % 256 ) } 0 .. ( $n || 0 ) - 1;
            utf8::upgrade($s) if $utf8;
            return $s;
        },
        die => sub { die "test/die was called\n" },
    }
);

POE::Kernel->run;

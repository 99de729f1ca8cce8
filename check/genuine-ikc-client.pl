#!/usr/bin/perl
# Drives the GENUINE POE::Component::IKC::Client (a full POE kernel with its Responder, from a
# checkout the user supplies, via -I) against a server, for check/genuine-clients.ts. This file
# is ours; the Client and Responder are theirs.
#
#   perl -I<genuine lib> check/genuine-ikc-client.pl (--port N | --unix PATH) [--name N]
#        [--alias A]... [--protocol IKC0|IKC] [--serializer PKG]...
#
# Starts the Client (create_ikc_client), publishes a session `perlside` (echo add context undef note reply_sender
# relay whoami) and monitors every remote kernel. Prints JSON lines:
#   {"event":"ready","kernel":<our POE kernel id>,"pid":P}
#   {"event":"monitor","what":register|unregister|subscribe|unsubscribe|error|shutdown,
#    "name":ARG0,"rid":ARG1,"real":ARG2,"extra":[ARG4...]}
#   {"event":"perlside","state":S,"args":[ARG0...],"from":<the thunk's from>,"list":0|1}
#       whenever a remote kernel runs one of the perlside states
#   {"event":"stdin-eof"}
# and reads one JSON command a line from stdin, answered by a line with the same "id":
#   {"id":N,"op":"subscribe","spec":"poe://K/S"}          -> {"id":N,"subscribed":[...]}
#   {"id":N,"op":"unsubscribe","spec":"poe://K/S"}        -> {"id":N,"done":1}
#   {"id":N,"op":"proxy_post","to":"poe://K/S","state":E,"args":[...]}   posts to the proxy session
#                                                        -> {"id":N,"posted":<$kernel->post's result>}
#   {"id":N,"op":"post","spec":S,"params":P}              IKC/post -> {"id":N,"sent":<count>}
#   {"id":N,"op":"call","spec":S,"params":P[,"wait":s][,"rsvp":R]}
#        IKC/call with rsvp `poe:answerN` (or R, with answerN appended; `"rsvp_args":A` adds `?A`)
#        -> after the answer
#        {"id":N,"sent":C,"answer":[ARG0...]}, or {"id":N,"sent":C,"no_answer":1} after `wait` s
#   {"id":N,"op":"publish","session":S,"states":[...]} / {"id":N,"op":"retract",...} -> {"id":N,"done":R}
#   {"id":N,"op":"shutdown"}    IKC/shutdown: every channel closed -> {"id":N,"done":1}
#   {"id":N,"op":"quit"}        shutdown, stop reading stdin, exit once POE has nothing left
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use JSON::PP;
use POE;
use POE::Component::IKC::Client;
use POE::Component::IKC::Responder;

my %opt = ( port => undef, unix => undef, name => "PerlSide$$", alias => [], protocol => 'IKC0',
            serializer => [] );
GetOptions(
    'port=i' => \$opt{port}, 'unix=s' => \$opt{unix}, 'name=s' => \$opt{name},
    'alias=s@' => $opt{alias}, 'protocol=s' => \$opt{protocol}, 'serializer=s@' => $opt{serializer},
) or die "bad arguments\n";
die "--port or --unix\n" unless defined $opt{port} or defined $opt{unix};
$| = 1;
$SIG{PIPE} = 'IGNORE';

my $json = JSON::PP->new->utf8->ascii->canonical->allow_nonref->allow_unknown->allow_blessed;
sub out { print $json->encode( $_[0] ), "\n" }
$SIG{__WARN__} = sub { my $w = shift; chomp $w; print STDERR "warn: $w\n" };

POE::Component::IKC::Responder->spawn;

my $buffer = '';
my $seq    = 0;

sub thunk_from {
    my ($sender) = @_;
    my $heap = eval { $sender->get_heap };
    return ref $heap eq 'HASH' ? $heap->{from} : undef;
}

POE::Session->create(
    inline_states => {
        _start => sub {
            my $kernel = $_[KERNEL];
            $kernel->alias_set('perlside');
            $kernel->call( IKC => publish => perlside =>
                           [qw(echo add context undef note reply_sender relay whoami)] );
            $kernel->call( IKC => monitor => '*' => {
                map { $_ => "mon_$_" } qw(register unregister subscribe unsubscribe error shutdown)
            } );
            my %client = ( name => $opt{name}, protocol => $opt{protocol} );
            $client{aliases}     = $opt{alias}      if @{ $opt{alias} };
            $client{serializers} = $opt{serializer} if @{ $opt{serializer} };
            if ( defined $opt{unix} ) { $client{unix} = $opt{unix} }
            else                      { @client{qw(ip port)} = ( '127.0.0.1', $opt{port} ) }
            create_ikc_client(%client);    # the exported sugar for ->spawn
            $kernel->select_read( \*STDIN, 'stdin' );
            out( { event => 'ready', kernel => $kernel->ID, pid => $$ } );
        },
        ( map {
            my $what = $_;
            ( "mon_$what" => sub {
                  my @a = @_[ ARG0 .. $#_ ];
                  out( { event => 'monitor', what => $what, name => $a[0], rid => $a[1],
                         real => $a[2] ? 1 : 0, extra => [ @a[ 4 .. $#a ] ] } );
              } )
          } qw(register unregister subscribe unsubscribe error shutdown) ),

        # ---- what remote kernels may run here
        echo    => sub { note_call( 'echo', wantarray, @_ ); $_[ARG0] },
        add     => sub { note_call( 'add', wantarray, @_ ); my $s = 0; $s += $_ for @{ $_[ARG0] || [] }; $s },
        context => sub { note_call( 'context', wantarray, @_ ); wantarray ? 'list' : 'scalar' },
        undef   => sub { note_call( 'undef', wantarray, @_ ); return undef },
        note    => sub { note_call( 'note', wantarray, @_ ); 'noted' },
        whoami  => sub { note_call( 'whoami', wantarray, @_ ); return { from => thunk_from( $_[SENDER] ), kernel => $_[KERNEL]->ID } },
        # ARG0 = [state, args...]: post that state back to the thunk, which sends it to the
        # request's `from` (as a Perl state answering $_[SENDER] does)
        reply_sender => sub {
            note_call( 'reply_sender', wantarray, @_ );
            my ( $state, @args ) = @{ $_[ARG0] || [] };
            $_[KERNEL]->post( $_[SENDER], $state, @args );
            return 'replied';
        },
        # ARG0 = [spec, params]: IKC/post from this (published) session
        relay => sub {
            note_call( 'relay', wantarray, @_ );
            my ( $spec, $params ) = @{ $_[ARG0] || [] };
            return $_[KERNEL]->call( IKC => post => $spec, $params );
        },

        # ---- commands from stdin
        stdin => sub {
            my $kernel = $_[KERNEL];
            my $n = sysread( STDIN, $buffer, 65536, length $buffer );
            if ( !$n ) {
                $kernel->select_read( \*STDIN );
                out( { event => 'stdin-eof' } );
                $kernel->yield( cmd => { op => 'quit' } );
                return;
            }
            while ( $buffer =~ s/^([^\n]*)\n// ) {
                my $line = $1;
                next unless $line =~ /\S/;
                my $cmd = eval { $json->decode($line) };
                if ( ref $cmd ne 'HASH' ) { out( { error => "bad command: $line" } ); next }
                $kernel->yield( cmd => $cmd );
            }
        },
        cmd => sub {
            my ( $kernel, $session, $c ) = @_[ KERNEL, SESSION, ARG0 ];
            my $id = $c->{id};
            my $op = $c->{op} // '';
            if ( $op eq 'subscribe' ) {
                my $cb = 'subscribed' . ++$seq;
                $kernel->state( $cb, sub { out( { id => $id, subscribed => $_[ARG0] } ); $_[KERNEL]->state($cb) } );
                $kernel->post( IKC => subscribe => [ $c->{spec} ], $cb );
            }
            elsif ( $op eq 'unsubscribe' ) {
                $kernel->call( IKC => unsubscribe => [ $c->{spec} ] );
                out( { id => $id, done => 1 } );
            }
            elsif ( $op eq 'proxy_post' ) {
                my $r = $kernel->post( $c->{to}, $c->{state}, @{ $c->{args} || [] } );
                out( { id => $id, posted => $r ? 1 : 0, errno => $r ? undef : "$!" } );
            }
            elsif ( $op eq 'post' ) {
                my $r = $kernel->call( IKC => post => $c->{spec}, $c->{params} );
                out( { id => $id, sent => $r } );
            }
            elsif ( $op eq 'call' ) {
                my $answer = 'answer' . ++$seq;
                my $timer  = 'no_answer' . $seq;
                my $sent;
                $kernel->state( $answer, sub {
                    $_[KERNEL]->delay($timer);
                    $_[KERNEL]->state($timer);
                    $_[KERNEL]->state($answer);
                    out( { id => $id, sent => $sent, answer => [ @_[ ARG0 .. $#_ ] ] } );
                } );
                $kernel->state( $timer, sub {
                    $_[KERNEL]->state($timer);
                    $_[KERNEL]->state($answer);
                    out( { id => $id, sent => $sent, no_answer => 1 } );
                } );
                $kernel->delay( $timer, $c->{wait} // 10 );
                my $rsvp = defined $c->{rsvp} ? "$c->{rsvp}$answer" : "poe:$answer";
                $rsvp .= "?$c->{rsvp_args}" if defined $c->{rsvp_args};
                $sent = $kernel->call( IKC => call => $c->{spec}, $c->{params}, $rsvp );
            }
            elsif ( $op eq 'publish' || $op eq 'retract' ) {
                my $r = $kernel->call( IKC => $op => $c->{session}, $c->{states} );
                out( { id => $id, done => $r } );
            }
            elsif ( $op eq 'shutdown' ) {
                $kernel->call( IKC => 'shutdown' );
                out( { id => $id, done => 1 } );
            }
            elsif ( $op eq 'quit' ) {
                $kernel->select_read( \*STDIN );
                $kernel->call( IKC => 'shutdown' );
                $kernel->alias_remove('perlside');
                out( { id => $id, done => 1 } ) if defined $id;
            }
            else {
                out( { id => $id, error => "unknown op '$op'" } );
            }
        },
        _stop => sub { },
    },
);

sub note_call {
    my ( $state, $list, @event ) = @_;
    my @args = @event[ ARG0 .. $#event ];
    out( { event => 'perlside', state => $state, args => \@args,
           from => thunk_from( $event[SENDER] ), list => $list ? 1 : 0 } );
}

POE::Kernel->run;
exit 0;

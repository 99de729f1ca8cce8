#!/usr/bin/perl
# One GENUINE POE kernel with IKC (from a checkout the user supplies, via -I): a hub (one
# Responder behind one or more IKC::Server listeners, TCP and Unix) or a worker (IKC::Client),
# for check/genuine-kernels.ts. This file is ours; the Server, Client and Responder are theirs.
#
#   perl -I<genuine lib> check/genuine-kernel.pl --name N [--alias A]... [--session S]
#        ( [--listen PORT]... [--listen-unix PATH]...        a hub; PORT 0 picks one
#        | (--connect PORT | --connect-unix PATH) [--protocol IKC0|IKC] [--serializer PKG]... )
#
# Publishes session S (default `perlside`): echo note pair_back reply_sender whoami. Monitors
# `*` (register unregister subscribe unsubscribe error). Prints JSON lines:
#   {"event":"ready","kernel":<POE kernel id>,"pid":P,"ports":[...],"paths":[...]}
#   {"event":"monitor","tag":T,"what":W,"name":ARG0,"rid":ARG1,"real":0|1,"extra":[ARG4...]}
#   {"event":"state","state":S,"args":[ARG0...],"from":<the thunk's from>,"list":0|1}
# and reads one JSON command a line, answered by a line with the same "id":
#   {"id":N,"op":"post","spec":S,"params":P}              IKC/post from S -> {"id":N,"sent":C}
#   {"id":N,"op":"call","spec":S,"params":P[,"wait":s]}   IKC/call, rsvp poe:answerN
#        -> {"id":N,"sent":C,"answer":[ARG0...]} or {"id":N,"sent":C,"no_answer":1}
#   {"id":N,"op":"subscribe","spec":"poe://K/S"}          -> {"id":N,"subscribed":[...]}
#   {"id":N,"op":"proxy_post","to":"poe://K/S","state":E,"args":[...]}  through the proxy session
#   {"id":N,"op":"monitor","name":K,"tag":T}              IKC/monitor K, lines tagged T
#   {"id":N,"op":"quit"}                                 IKC/shutdown, then exit
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use JSON::PP;
use POE;
use POE::Component::IKC::Responder;
use POE::Component::IKC::Server;
use POE::Component::IKC::Client;

my %opt = ( name => "Perl$$", alias => [], session => 'perlside', listen => [], listen_unix => [],
            connect => undef, connect_unix => undef, protocol => 'IKC0', serializer => [] );
GetOptions(
    'name=s' => \$opt{name}, 'alias=s@' => $opt{alias}, 'session=s' => \$opt{session},
    'listen=i@' => $opt{listen}, 'listen-unix=s@' => $opt{listen_unix},
    'connect=i' => \$opt{connect}, 'connect-unix=s' => \$opt{connect_unix},
    'protocol=s' => \$opt{protocol}, 'serializer=s@' => $opt{serializer},
) or die "bad arguments\n";
$| = 1;
$SIG{PIPE} = 'IGNORE';

my $json = JSON::PP->new->utf8->ascii->canonical->allow_nonref->allow_unknown->allow_blessed;
sub out { print $json->encode( $_[0] ), "\n" }
$SIG{__WARN__} = sub { my $w = shift; chomp $w; out( { event => 'warn', text => $w } ) };

POE::Component::IKC::Responder->spawn;
my ( @ports, @paths );
my %names = ( name => $opt{name} );
$names{aliases} = $opt{alias} if @{ $opt{alias} };
for my $port ( @{ $opt{listen} } ) {
    my $p = POE::Component::IKC::Server->spawn( ip => '127.0.0.1', port => $port, %names );
    push @ports, $p || $port;
}
for my $path ( @{ $opt{listen_unix} } ) {
    POE::Component::IKC::Server->spawn( unix => $path, %names );
    push @paths, $path;
}

my ( $buffer, $seq ) = ( '', 0 );
my $S = $opt{session};

sub thunk_from {
    my $heap = eval { $_[0]->get_heap };
    return ref $heap eq 'HASH' ? $heap->{from} : undef;
}

sub note_state {
    my ( $state, @event ) = @_;
    out( { event => 'state', state => $state, args => [ @event[ ARG0 .. $#event ] ],
           from => thunk_from( $event[SENDER] ), list => wantarray ? 1 : 0 } );
}

sub monitor_states {
    my ($tag) = @_;
    return map {
        my $what = $_;
        ( "mon_${tag}_$what" => sub {
              my @a = @_[ ARG0 .. $#_ ];
              out( { event => 'monitor', tag => $tag, what => $what, name => $a[0], rid => $a[1],
                     real => $a[2] ? 1 : 0, extra => [ @a[ 4 .. $#a ] ] } );
          } )
    } qw(register unregister subscribe unsubscribe error);
}

sub monitor {
    my ( $kernel, $name, $tag ) = @_;
    $kernel->state( $_->[0], $_->[1] ) for pairs( monitor_states($tag) );
    $kernel->call( IKC => monitor => $name => {
        map { $_ => "mon_${tag}_$_" } qw(register unregister subscribe unsubscribe error) } );
}

sub pairs { my @l = @_; my @p; push @p, [ splice @l, 0, 2 ] while @l; @p }

my %cmd = (
    post => sub {
        my ( $k, $c ) = @_;
        return { sent => $k->call( IKC => post => $c->{spec}, $c->{params} ) };
    },
    subscribe => sub {
        my ( $k, $c ) = @_;
        my $cb = 'subscribed' . ++$seq;
        $k->state( $cb, sub { out( { id => $c->{id}, subscribed => $_[ARG0] } ); $_[KERNEL]->state($cb) } );
        $k->post( IKC => subscribe => [ $c->{spec} ], $cb );
        return;
    },
    proxy_post => sub {
        my ( $k, $c ) = @_;
        return { posted => $k->post( $c->{to}, $c->{state}, @{ $c->{args} || [] } ) ? 1 : 0 };
    },
    monitor => sub {
        my ( $k, $c ) = @_;
        monitor( $k, $c->{name}, $c->{tag} );
        return { done => 1 };
    },
    call => sub {
        my ( $k, $c ) = @_;
        my ( $answer, $timer, $sent ) = ( 'answer' . ++$seq, 'no_answer' . $seq );
        $k->state( $answer, sub {
            $_[KERNEL]->delay($timer);
            $_[KERNEL]->state($_) for $timer, $answer;
            out( { id => $c->{id}, sent => $sent, answer => [ @_[ ARG0 .. $#_ ] ] } );
        } );
        $k->state( $timer, sub {
            $_[KERNEL]->state($_) for $timer, $answer;
            out( { id => $c->{id}, sent => $sent, no_answer => 1 } );
        } );
        $k->delay( $timer, $c->{wait} // 10 );
        $sent = $k->call( IKC => call => $c->{spec}, $c->{params}, "poe:$answer" );
        return;
    },
    quit => sub {
        my ($k) = @_;
        $k->select_read( \*STDIN );
        $k->call( IKC => 'shutdown' );
        $k->alias_remove($S);
        return { done => 1 };
    },
);

POE::Session->create(
    inline_states => {
        _start => sub {
            my $kernel = $_[KERNEL];
            $kernel->alias_set($S);
            $kernel->call( IKC => publish => $S => [qw(echo note pair_back reply_sender whoami)] );
            monitor( $kernel, '*', 'all' );
            if ( defined $opt{connect} or defined $opt{connect_unix} ) {
                my %c = ( %names, protocol => $opt{protocol} );
                $c{serializers} = $opt{serializer} if @{ $opt{serializer} };
                if ( defined $opt{connect_unix} ) { $c{unix} = $opt{connect_unix} }
                else { @c{qw(ip port)} = ( '127.0.0.1', $opt{connect} ) }
                POE::Component::IKC::Client->spawn(%c);
            }
            $kernel->select_read( \*STDIN, 'stdin' );
            out( { event => 'ready', kernel => $kernel->ID, pid => $$, ports => \@ports, paths => \@paths } );
        },
        echo         => sub { note_state( 'echo', @_ ); $_[ARG0] },
        note         => sub { note_state( 'note', @_ ); 'noted' },
        pair_back    => sub { note_state( 'pair_back', @_ ); return },
        whoami       => sub { note_state( 'whoami', @_ ); { kernel => $_[KERNEL]->ID, from => thunk_from( $_[SENDER] ) } },
        # ARG0 = [state, args...]: post that state with those args to $_[SENDER] (the thunk)
        reply_sender => sub {
            note_state( 'reply_sender', @_ );
            my ( $state, @args ) = @{ $_[ARG0] || [] };
            $_[KERNEL]->post( $_[SENDER], $state, @args );
            return 'replied';
        },
        stdin => sub {
            my $kernel = $_[KERNEL];
            my $n = sysread( STDIN, $buffer, 65536, length $buffer );
            unless ($n) {
                $kernel->yield( cmd => { op => 'quit' } );
                return;
            }
            while ( $buffer =~ s/^([^\n]*)\n// ) {
                my $cmd = eval { $json->decode($1) };
                $kernel->yield( cmd => $cmd ) if ref $cmd eq 'HASH';
            }
        },
        cmd => sub {
            my ( $kernel, $c ) = @_[ KERNEL, ARG0 ];
            my $run = $cmd{ $c->{op} // '' };
            my $r = $run ? $run->( $kernel, $c ) : { error => "unknown op" };
            out( { id => $c->{id}, %$r } ) if $r and defined $c->{id};
        },
        _default => sub { return },
    },
);

POE::Kernel->run;
exit 0;

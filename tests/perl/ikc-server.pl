#!/usr/bin/perl
# Test peer: the SERVER side of IKC (POE::Component::IKC 0.2402) written from the protocol
# description, so the TypeScript client can be checked against real Perl, POE and Storable.
# It is not POE::Component::IKC; it only behaves like it on the wire.
#
#   perl tests/perl/ikc-server.pl [--port N | --unix PATH] [--protocol IKC0|IKC]
#        [--name RefServer] [--alias X]... [--freezer PKG]... [--mode NAME] [--times N] [--verbose]
#        [--routing connection|genuine]
#
# --routing genuine routes answers by kernel name the way POE::Component::IKC::Responder does: the
# first connection to register a name keeps it until it closes ("Remote kernel 'X' already exists"
# for a second one), so a client that reconnects before its old socket is closed loses its answers.
#
# Prints one line, `READY port=<n>` or `READY unix=<path>`, once it listens. Stops on SIGTERM/SIGINT.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use Socket qw(AF_UNIX IPPROTO_TCP TCP_NODELAY unpack_sockaddr_in inet_ntoa);
use POE qw(Wheel::SocketFactory Wheel::ReadWrite Filter::Line Filter::Reference Filter::Stream);
use Storable ();
use Data::Dumper ();

# The Data::Dumper freezer IKC names "POE::Component::IKC::Freezer". The real module is not
# installed, so this test server provides the package itself; the client must parse its text.
{
    package POE::Component::IKC::Freezer;
    my $VARNAME = 'POE::Component::IKC::Freezer::VAR';

    sub freeze {
        my $dd = Data::Dumper->new( [ $_[0] ] );
        $dd->Purity(1);
        $dd->Indent(0);
        $dd->Varname($VARNAME);
        return $dd->Dump;
    }

    sub thaw {
        my $text = shift;
        no strict 'vars';
        local $POE::Component::IKC::Freezer::VAR1;
        eval $text;    ## no critic (only ever fed by the test client)
        die $@ if $@;
        return $POE::Component::IKC::Freezer::VAR1;
    }
}

# Serializer handed to POE::Filter::Reference. Its thaw always yields one value: with NoFatals the
# filter thaws in scalar context, where FreezeThaw::thaw would return a count.
{
    package IKCTest::Codec;

    sub new {
        my ( $class, $pkg ) = @_;
        my $freeze = $pkg->can('nfreeze') || $pkg->can('freeze');
        my $thaw   = $pkg->can('thaw');
        die "$pkg cannot freeze and thaw\n" unless $freeze and $thaw;
        return bless { freeze => $freeze, thaw => $thaw }, $class;
    }
    sub freeze { $_[0]{freeze}->( $_[1] ) }
    sub thaw { my @v = $_[0]{thaw}->( $_[1] ); $v[0] }
}

my %MODES = map { $_ => 1 } qw(normal garbage-line silent bogus-length oversize corrupt
    close-mid-frame close-after-negotiation drop-first);

my %opt = (
    port     => undef,
    unix     => undef,
    protocol => 'IKC0',
    name     => 'RefServer',
    alias    => [],
    freezer  => [],
    mode     => 'normal',
    times    => undef,
    verbose  => 0,
    routing  => 'connection',
);
GetOptions(
    'port=i'     => \$opt{port},
    'unix=s'     => \$opt{unix},
    'protocol=s' => \$opt{protocol},
    'name=s'     => \$opt{name},
    'alias=s@'   => $opt{alias},
    'freezer=s@' => $opt{freezer},
    'mode=s'     => \$opt{mode},
    'times=i'    => \$opt{times},
    'verbose!'   => \$opt{verbose},
    'routing=s'  => \$opt{routing},
) or die "usage: $0 [--port N | --unix PATH] [--protocol IKC0|IKC] [--name N] [--alias A]..."
    . " [--freezer PKG]... [--mode M] [--times N] [--verbose]\n";

die "--protocol must be IKC0 or IKC\n" unless $opt{protocol} =~ /^IKC0?$/;
die "--routing must be connection or genuine\n" unless $opt{routing} =~ /^(?:connection|genuine)$/;
die "unknown --mode '$opt{mode}' (" . join( ', ', sort keys %MODES ) . ")\n" unless $MODES{ $opt{mode} };
die "give either --port or --unix, not both\n" if defined $opt{port} and defined $opt{unix};
$opt{port} = 0 unless defined $opt{port} or defined $opt{unix};
@{ $opt{freezer} } = ('Storable') unless @{ $opt{freezer} };
# drop-first means "the first request of this server's life"; other modes hit every occasion
$opt{times} = ( $opt{mode} eq 'drop-first' ? 1 : 0 ) unless defined $opt{times};

my %ACCEPTED = map { $_ => 1 } @{ $opt{freezer} };
require FreezeThaw if $ACCEPTED{FreezeThaw};

sub dbg { print STDERR "[ikc-server $$] ", @_, "\n" if $opt{verbose} }

# ---------------------------------------------------------------------------------------------
# Global server state
my %conns;          # wheel id -> connection record
my @recorded;       # what test/record stored (per server process)
my $misbehaved = 0; # how many times --mode has fired
my $listen_addr;    # 127.0.0.1:<port> or unix:<sanitised path>
my $shutting_down = 0;

# What each local session publishes; IKC's own three states are always there.
my %PUBLISHED = (
    IKC  => { map { $_ => 1 } qw(remote_error do_you_have ping) },
    test => {
        map { $_ => 1 }
            qw(echo echo_list add concat undef empty_list context delay record seen reset
            respond push die bytes big shutdown)
    },
);

# Request being served, for states that answer later (delay) or talk on their own (push).
our $CURRENT;

sub may_misbehave {
    return 0 if $opt{mode} eq 'normal';
    return 0 if $opt{times} and $misbehaved >= $opt{times};
    return 1;
}

sub misbehave_now { $misbehaved++; 1 }

# ---------------------------------------------------------------------------------------------
# Specifiers: poe://kernel/session/state, poe:/session/state, session/state, with ?arg

my $KERNEL_RE = qr{
      \*
    | [a-zA-Z0-9][-.a-zA-Z0-9]+:\d+
    | unix:[-.\w]+(?::\d+-\d+)?
    | [-. \w]+
}x;

sub spec_parse {
    my ($s) = @_;
    return undef unless $s;
    my %p;
    if ( ref $s ) {
        return undef unless ref $s eq 'HASH';
        # IKC fills the hash in place, so a reply's event carries the filled-in keys
        $s->{$_} ||= '' for qw(kernel session state);
        return $s;
    }
    if ( $s =~ m{^poe: (?: // ($KERNEL_RE)? )? (?: / ([- \w]+) )? (?: /? ([- \w]*) )? (?: \? (\w+) )? $}x ) {
        @p{qw(kernel session state)} = ( $1, $2, $3 );
        $p{args} = $4 if $4;
    }
    elsif ( $s =~ m{^ (?: // ($KERNEL_RE) / )? (?: ([- \w]+) / )? ([- \w]+)? (?: \? (\w+) )? $}x ) {
        @p{qw(kernel session state)} = ( $1, $2, $3 );
        $p{args} = $4 if $4;
    }
    else {
        return undef;
    }
    $p{$_} ||= '' for qw(kernel session state);
    return \%p;
}

sub spec_name {
    my ($s) = @_;
    return $s unless ref $s;
    $s = { kernel => '', session => $s->[0], state => $s->[1] } if ref $s eq 'ARRAY';
    return "$s" unless ref $s eq 'HASH';
    my $n = 'poe:';
    $n .= "//$s->{kernel}" if $s->{kernel};
    $n .= "/$s->{session}" if $s->{session};
    $n .= "/$s->{state}"   if $s->{state};
    return $n;
}

# ---------------------------------------------------------------------------------------------
# Output helpers

sub conn_put {
    my ( $c, $msg ) = @_;
    return 0 unless $c and $c->{wheel} and not $c->{closing};
    $c->{wheel}->put($msg);
    return 1;
}

# Bytes straight onto the socket, bypassing the reference filter (hostile modes).
sub conn_put_raw {
    my ( $c, $bytes ) = @_;
    return unless $c->{wheel};
    $c->{wheel}->set_output_filter( POE::Filter::Stream->new );
    $c->{wheel}->put($bytes);
    $c->{wheel}->set_output_filter( $c->{filter} ) if $c->{filter};
}

sub conn_close {
    my ( $c, $why ) = @_;
    return unless $c;
    dbg("conn $c->{id}: close ($why)");
    delete $conns{ $c->{id} };
    delete $c->{wheel};    # dropping the wheel closes the socket
}

# Asks the wheel for conn_flushed once its output buffer is empty.
sub want_flush {
    my ($c) = @_;
    $c->{wheel}->event( FlushedEvent => 'conn_flushed' ) if $c->{wheel};
}

# Close once everything queued has been written.
sub conn_close_after_flush {
    my ( $c, $why ) = @_;
    if ( $c->{wheel} and $c->{wheel}->get_driver_out_octets ) {
        want_flush($c);
        $c->{close_on_flush} = $why;
        $c->{closing}        = 1;
    }
    else {
        conn_close( $c, $why );
    }
}

# Where a message to kernel $name goes. Genuine IKC routes by name through one global table
# (first registration wins); here the connection the request came in on is preferred so that
# clients sharing a name stay independent.
sub route {
    my ( $origin, $name ) = @_;
    # the common case first: an answer to the kernel the request came from
    if ( defined $name and $origin and $origin->{ready} and $origin->{wheel} ) {
        for ( @{ $origin->{names} } ) { return $origin if $_ eq $name }
    }
    my @ready = grep { $_->{ready} and $_->{wheel} } map { $conns{$_} } sort { $a <=> $b } keys %conns;
    return ( $origin && $origin->{ready} ? $origin : () ) if not defined $name or $name eq '';
    return @ready if $name eq '*';
    return $origin if $origin and $origin->{ready} and grep { $_ eq $name } @{ $origin->{names} };
    for my $c (@ready) {
        return $c if grep { $_ eq $name } @{ $c->{names} };
    }
    return ();
}

# Like IKC's Responder send_msg: checks the destination, adds `from` for a sender session that
# published something, and writes to the right connection(s).
sub send_msg {
    my ( $origin, $msg, $sender ) = @_;
    my $to = spec_parse( $msg->{event} );
    unless ( $to and $to->{session} and $to->{state} ) {
        dbg( "dropping message with a bad event: ", Data::Dumper->new( [ $msg->{event} ] )->Indent(0)->Terse(1)->Dump );
        return 0;
    }
    if ( defined $sender and not $msg->{from} and $PUBLISHED{$sender} ) {
        $msg->{from} = { kernel => $poe_kernel->ID, session => $sender, state => 'IKC:proxy' };
    }
    my @to = route( $origin, $to->{kernel} );
    unless (@to) {
        dbg("Unknown kernel '$to->{kernel}'; dropping message to ", spec_name($to));
        return 0;
    }
    my $n = 0;
    $n += conn_put( $_, $msg ) for @to;
    return $n;
}

# ---------------------------------------------------------------------------------------------
# Sessions: the server (listener + connections), IKC (ping...) and test.

# Handlers run inside an eval of their own: a dying state must not take the server down
# (POE 1.370 even crashes on an exception raised by a list-context call()).
sub guarded {
    my ( $state, $code ) = @_;
    return sub {
        if (wantarray) {
            my @r = eval { $code->(@_) };
            if ($@) { chomp( my $e = $@ ); dbg("state $state died: $e"); return }
            return @r;
        }
        my $r = eval { $code->(@_) };
        if ($@) { chomp( my $e = $@ ); dbg("state $state died: $e"); return undef }
        return $r;
    };
}

sub client_event {
    my ( $ctx, $state ) = @_;
    my $from = ref $ctx->{from} eq 'HASH' ? $ctx->{from} : {};
    return { kernel => $from->{kernel}, session => $from->{session} || 'IKCLite', state => $state };
}

sub push_messages {
    my ( $ctx, $state, $count, $value ) = @_;
    my $origin = $conns{ $ctx->{conn} };
    for my $i ( 0 .. $count - 1 ) {
        send_msg( $origin, { event => client_event( $ctx, $state ), params => [ $value, $i ] }, 'test' );
    }
}

# Replies the way a synchronous answer would look (arrayref in list context, nothing if undef).
sub late_reply {
    my ( $ctx, $value ) = @_;
    return unless $ctx->{rsvp} and defined $value;
    my $params = $ctx->{wantarray} ? [$value] : $value;
    send_msg( $conns{ $ctx->{conn} }, { event => $ctx->{rsvp}, params => $params }, 'test' );
}

my %TEST_STATES = (
    _start => sub { $_[KERNEL]->alias_set('test') },
    echo   => sub { $_[ARG0] },
    echo_list => sub {
        my $l = $_[ARG0];
        return $l unless ref $l eq 'ARRAY';
        return @{$l}[ 0 .. $#$l ];    # a slice: the last element in scalar context
    },
    add => sub {
        my $sum = 0;
        $sum += $_ for @{ $_[ARG0] || [] };
        return $sum;
    },
    concat     => sub { join '', map { defined $_ ? $_ : '' } @{ $_[ARG0] || [] } },
    undef      => sub { return undef },
    empty_list => sub { return () },
    context    => sub { wantarray ? 'list' : 'scalar' },
    delay      => sub {
        my ( $ms, $value ) = @{ $_[ARG0] || [] };
        $_[KERNEL]->delay_set( late_reply => ( $ms || 0 ) / 1000, $CURRENT, $value );
        return;    # answered later (an empty list, so no reply in list context either)
    },
    late_reply => sub { late_reply( $_[ARG0], $_[ARG1] ) },
    record     => sub { push @recorded, $_[ARG0]; scalar @recorded },
    seen       => sub { [@recorded] },
    reset      => sub { @recorded = (); 1 },
    respond    => sub {
        my ( $p, $rsvp ) = @{ $_[ARG0] || [] };
        my ( $ms, $value, $noise ) = ref $p eq 'ARRAY' ? @$p : ( 10, $p );
        $_[KERNEL]->delay_set( respond_later => ( $ms || 0 ) / 1000, $CURRENT, $rsvp, $value, $noise );
        return;
    },
    respond_later => sub {
        my ( $ctx, $rsvp, $value, $noise ) = @_[ ARG0 .. ARG3 ];
        push_messages( $ctx, $noise, 1, $value ) if defined $noise and length $noise;
        send_msg( $conns{ $ctx->{conn} }, { event => $rsvp, params => $value }, 'test' );
    },
    push => sub {
        my $p = $_[ARG0];
        $p = {} unless ref $p eq 'HASH';
        my ( $state, $count, $value ) = ( $p->{state}, $p->{count} || 0, $p->{value} );
        if ( $p->{after} ) {
            $_[KERNEL]->yield( push_later => $CURRENT, $state, $count, $value );
        }
        else {
            push_messages( $CURRENT, $state, $count, $value );
        }
        return 'pushed';
    },
    push_later => sub { push_messages( @_[ ARG0 .. ARG3 ] ) },
    die        => sub { die "test/die was called\n" },
    bytes      => sub {
        my $s = $_[ARG0];
        $s = '' unless defined $s;
        my $octets = do { use bytes; length $s };
        return [ length($s), utf8::is_utf8($s) ? 1 : 0, $octets ];
    },
    big      => sub { 'x' x ( $_[ARG0] || 0 ) },
    shutdown => sub {
        $shutting_down = 1;
        $_[KERNEL]->post( server => 'stop_listening' );
        return 'bye';
    },
);

POE::Session->create(
    inline_states => {
        map { my $s = $_; ( $s => ( /^_/ ? $TEST_STATES{$s} : guarded( $s, $TEST_STATES{$s} ) ) ) }
            keys %TEST_STATES
    }
);

POE::Session->create(
    inline_states => {
        _start       => sub { $_[KERNEL]->alias_set('IKC') },
        ping         => guarded( ping => sub { 'PONG' } ),
        remote_error => guarded(
            remote_error => sub {
                my $m = $_[ARG0];
                dbg( "remote error: ", ref $m eq 'ARRAY' ? join( ' | ', map { defined $_ ? $_ : 'undef' } @$m ) : $m );
                return;
            }
        ),
        # What a full IKC client asks before subscribing to a session.
        do_you_have => guarded(
            do_you_have => sub {
                my $p   = $_[ARG0];
                my $ses = spec_parse( ref $p eq 'ARRAY' ? $p->[0] : $p );
                die "Bad state\n" unless $ses;
                if ( $PUBLISHED{ $ses->{session} }
                    and ( not $ses->{state} or $PUBLISHED{ $ses->{session} }{ $ses->{state} } ) )
                {
                    $ses->{kernel} ||= $poe_kernel->ID;
                    return [ $ses, $poe_kernel->ID ];
                }
                return "Refused subscription " . spec_name($ses);
            }
        ),
    }
);

# ---------------------------------------------------------------------------------------------
# Requests (after negotiation)

sub error_response {
    my ( $c, $err, $req, $to, $rkernel, $when ) = @_;
    chomp $err;
    $err .= '.  Request ' . spec_name($to);
    $err .= ' sent by ' . spec_name( $req->{from} ) if $req->{from};
    dbg("error: $err");
    return if $req->{is_error};    # never answer an error with an error
    my $errors_to = { kernel => $c->{remote_id}, session => 'IKC', state => 'remote_error' };
    conn_put( $c, { event => $errors_to, params => [ $err, $rkernel, $when ], is_error => 1 } );
}

sub handle_request {
    my ( $c, $req ) = @_;

    if ( $c->{stalled} ) {
        dbg("conn $c->{id}: stalled, ignoring a request");
        return;
    }
    $c->{requests}++;

    if ( $opt{mode} ne 'normal' and may_misbehave() ) {
        my $m = $opt{mode};
        if ( $m eq 'drop-first' ) {
            misbehave_now();
            return conn_close( $c, 'drop-first' );
        }
        if ( $c->{requests} == 1 ) {
            if ( $m eq 'bogus-length' ) {
                misbehave_now();
                conn_put_raw( $c, "12abc\0" . ( 'z' x 12 ) );
                $c->{stalled} = 1;
                return;
            }
            if ( $m eq 'oversize' ) {
                misbehave_now();
                conn_put_raw( $c, "2000000000\0" . ( 'o' x 4096 ) );
                $c->{stalled} = 1;
                return;
            }
            if ( $m eq 'corrupt' ) {
                misbehave_now();
                # network-order Storable magic, then opcodes no Storable knows
                my $junk = "\x05\x0b" . ( "\xfe\xed\xfa\xce" x 6 );
                conn_put_raw( $c, length($junk) . "\0" . $junk );
                return;
            }
            if ( $m eq 'close-mid-frame' ) {
                misbehave_now();
                conn_put_raw( $c, "100\0" . ( 'm' x 10 ) );
                return conn_close_after_flush( $c, 'close-mid-frame' );
            }
        }
    }

    unless ( ref $req eq 'HASH' ) {
        # genuine IKC would die here and take the whole server with it
        dbg( "conn $c->{id}: message is not a hash: ", defined $req ? $req : 'undef' );
        return;
    }

    my $to      = spec_parse( $req->{event} );
    my $rkernel = $to ? $to->{kernel} : undef;
    # Genuine IKC autovivifies an unparsable event into {}, so it is reported as
    # "Session '' is not available ...  Request poe: ..." with kernel undef.
    $to ||= {};
    my $when = 'request';
    my @args;
    eval {
        @args = ( $req->{params} );
        if ( ( $to->{state} // '' ) eq 'IKC:proxy' ) {    # proxied call: [state, [args]]
            my $p = $req->{params};
            $to->{state} = ref $p eq 'ARRAY' ? $p->[0] : '';
            @args = ref $p eq 'ARRAY' && ref $p->[1] eq 'ARRAY' ? @{ $p->[1] } : ();
        }
        $when = 'check';
        die "Session '" . ( $to->{session} // '' ) . "' is not available for remote kernels\n"
            unless $PUBLISHED{ $to->{session} // '' };
        die "Session '$to->{session}' has not published state '$to->{state}'\n"
            unless $PUBLISHED{ $to->{session} }{ $to->{state} };
        push @args, $to->{args} if exists $to->{args};
        $when = 'invocation';
    };
    return error_response( $c, $@, $req, $to, $rkernel, $when ) if $@;

    my $ctx = {
        conn      => $c->{id},
        from      => $req->{from},
        rsvp      => $req->{rsvp},
        wantarray => $req->{wantarray},
    };
    local $CURRENT = $ctx;
    if ( $req->{rsvp} ) {
        my ( @ret, $yes );
        if ( $req->{wantarray} ) {
            @ret = $poe_kernel->call( $to->{session}, $to->{state}, @args );
            $yes = @ret > 0;
        }
        else {
            $ret[0] = $poe_kernel->call( $to->{session}, $to->{state}, @args );
            $yes = defined $ret[0];
        }
        if ($yes) {
            send_msg( $c, { params => ( $req->{wantarray} ? \@ret : $ret[0] ), event => $req->{rsvp} },
                $to->{session} );
        }
    }
    else {
        my $ignored = $poe_kernel->call( $to->{session}, $to->{state}, @args );
    }

    if ($shutting_down) {
        # exit once every reply already queued is on the wire (or after 2 s at the latest)
        my $pending = 0;
        for my $o ( values %conns ) {
            next unless $o->{wheel} and $o->{wheel}->get_driver_out_octets;
            want_flush($o);
            $o->{exit_on_flush} = 1;
            $pending++;
        }
        finish() unless $pending;
        $poe_kernel->post( server => 'exit_soon' );
    }
}

sub finish {
    dbg("exiting");
    unlink $opt{unix} if defined $opt{unix};
    exit 0;
}

# ---------------------------------------------------------------------------------------------
# Negotiation (text lines)

sub negotiated {
    my ( $c, $freezer ) = @_;
    $freezer ||= 'Storable';    # classic IKC without a FREEZER line uses the default filter
    my $names = $c->{remote_names} || [];
    push @$names, $c->{peer} if defined $c->{peer} and not grep { $_ eq $c->{peer} } @$names;
    $c->{names}     = [ grep { defined } @$names ];
    $c->{remote_id} = $c->{names}[0];
    if ( $opt{routing} eq 'genuine' ) {
        my ($taken) = grep { $_ != $c and $_->{ready} and $_->{remote_id} eq $c->{remote_id} } values %conns;
        if ($taken) {
            print STDERR "$$: Remote kernel '$c->{remote_id}' already exists\n";
            $c->{names} = [];    # unroutable: answers for that name go to the older connection
        }
    }
    $c->{freezer}   = $freezer;
    # NoFatals: a frame that fails to thaw arrives as an error string instead of killing the server
    $c->{filter} = POE::Filter::Reference->new( Serializer => IKCTest::Codec->new($freezer), NoFatals => 1 );
    $c->{phase}     = 'frames';
    $c->{ready}     = 1;
    dbg( "conn $c->{id}: negotiated, client=", join( ',', @{ $c->{names} } ), " freezer=$freezer" );
    # Lines still buffered move over to the new filter (IKC switches filters the same way).
    $c->{wheel}->set_filter( $c->{filter} );

    if ( $opt{mode} eq 'close-after-negotiation' and may_misbehave() ) {
        misbehave_now();
        conn_close_after_flush( $c, 'close-after-negotiation' );
    }
}

sub parse_setup {
    my ($text) = @_;
    my %n = ( kernel => [], freezer => [], pid => 0, bad => 0 );
    for my $part ( split /;/, $text ) {
        if    ( $part =~ /KERNEL=(.+)/ )  { push @{ $n{kernel} },  split /,/, $1 }
        elsif ( $part =~ /FREEZER=(.+)/ ) { push @{ $n{freezer} }, split /,/, $1 }
        elsif ( $part =~ /PID=(\d+)/ )    { $n{pid} = $1 }
        else                              { dbg("unknown setup part '$part'"); $n{bad}++ }
    }
    $n{bad}++ unless @{ $n{kernel} };
    return \%n;
}

sub our_names {
    my ($c) = @_;
    return ( $opt{name}, @{ $opt{alias} }, $c->{local} );
}

sub start_classic {
    my ($c) = @_;
    conn_put( $c, 'IAM ' . $poe_kernel->ID );
    $c->{iam_queue} = [ our_names($c) ];    # sent last-first, one per OK
    $c->{phase}     = '001';
}

sub handle_line {
    my ( $c, $line ) = @_;
    dbg("conn $c->{id} [$c->{phase}] < $line");

    if ( $opt{mode} eq 'silent' and $c->{silent} ) {
        return;
    }
    if ( $opt{mode} eq 'garbage-line' and not $c->{lines}++ and may_misbehave() ) {
        misbehave_now();
        my $junk = join '', map { chr( int rand 256 ) } 1 .. 48;
        $junk =~ tr/\r\n/??/;
        conn_put( $c, $junk );
        return;
    }

    my $phase = $c->{phase};
    if ( $phase eq '010' ) {    # IKC0 server
        if ( $line =~ /^HELLO IKC\d$/ ) {
            conn_put( $c, 'NOT' );
        }
        elsif ( $line eq 'HELLO' ) {
            start_classic($c);
        }
        elsif ( $line =~ /^SETUP (.+)$/ ) {
            my $neg = parse_setup($1);
            my ($freezer) = grep { $ACCEPTED{$_} } @{ $neg->{freezer} };
            $neg->{bad}++ unless $freezer;
            if ( $neg->{bad} ) {
                conn_put( $c, 'NOT' );
                return;
            }
            $c->{remote_names} = $neg->{kernel};
            $c->{remote_pid}   = $neg->{pid};
            conn_put( $c,
                'SETUP ' . join ';',
                'KERNEL=' . join( ',', $poe_kernel->ID, our_names($c) ),
                "FREEZER=$freezer", "PID=$$" );
            negotiated( $c, $freezer );
        }
        else {
            dbg("ignoring '$line' in phase 010");
        }
    }
    elsif ( $phase eq '000' ) {    # classic IKC server
        if    ( $line =~ /^HELLO IKC\d$/ ) { conn_put( $c, 'NOT' ) }
        elsif ( $line =~ /^SETUP/ )        { conn_put( $c, 'NOT' ) }
        elsif ( $line eq 'HELLO' )         { start_classic($c) }
        else                               { dbg("ignoring '$line' in phase 000") }
    }
    elsif ( $phase eq '001' ) {    # we tell our names
        if ( $line eq 'OK' ) {
            my $next = pop @{ $c->{iam_queue} };
            if ($next) {
                conn_put( $c, "IAM $next" );
            }
            else {
                delete $c->{iam_queue};
                conn_put( $c, 'DONE' );
                $c->{phase} = '002';
            }
        }
        else {
            conn_put( $c, 'NOT' ) unless $line eq 'NOT';
        }
    }
    elsif ( $phase eq '002' ) {    # the client tells its names
        if ( $line eq 'DONE' ) {
            $c->{phase} = '003';    # no answer: the client goes on with FREEZER / WORLD
        }
        elsif ( $line =~ /^IAM\s+([-:.\w]+)$/ ) {
            push @{ $c->{remote_names} }, $1;
            conn_put( $c, 'OK' );
        }
        else {
            conn_put( $c, 'NOT' ) unless $line eq 'NOT';
        }
    }
    elsif ( $phase eq '003' ) {    # freezer, then WORLD/UP
        if ( $line =~ /^FREEZER\s+([-:\w]+)$/ ) {
            if ( $ACCEPTED{$1} ) {
                $c->{classic_freezer} = $1;
                conn_put( $c, 'OK' );
            }
            else {
                delete $c->{classic_freezer};    # IKC forgets an earlier choice here
                conn_put( $c, 'NOT' );
            }
        }
        elsif ( $line =~ /^FREEZER\s+(.+)$/ ) {
            conn_put( $c, 'NOT' );
        }
        elsif ( $line eq 'WORLD' ) {
            conn_put( $c, 'UP' );
            negotiated( $c, $c->{classic_freezer} );
        }
        else {
            conn_put( $c, 'NOT' ) unless $line eq 'NOT';
        }
    }
}

# ---------------------------------------------------------------------------------------------
# Listener and connections

sub sockaddr_text {
    my ($packed) = @_;
    my ( $port, $addr ) = eval { unpack_sockaddr_in($packed) };
    return undef unless defined $port;
    return inet_ntoa($addr) . ":$port";
}

POE::Session->create(
    inline_states => {
        _start => sub {
            my ( $kernel, $heap ) = @_[ KERNEL, HEAP ];
            $kernel->alias_set('server');
            $SIG{PIPE} = 'IGNORE';
            $kernel->sig( TERM => 'stop_signal' );
            $kernel->sig( INT  => 'stop_signal' );
            my %p = ( Reuse => 'yes', SuccessEvent => 'accepted', FailureEvent => 'listen_error' );
            if ( defined $opt{unix} ) {
                unlink $opt{unix};
                @p{qw(SocketDomain BindAddress)} = ( AF_UNIX, $opt{unix} );
                ( my $clean = $opt{unix} ) =~ s/[^-:.\w]+/_/g;
                $listen_addr = "unix:$clean";
            }
            else {
                @p{qw(BindAddress BindPort)} = ( '127.0.0.1', $opt{port} );
            }
            $heap->{listener} = POE::Wheel::SocketFactory->new(%p);
            return unless $heap->{listener};    # listen_error reports it
            $| = 1;
            if ( defined $opt{unix} ) {
                print "READY unix=$opt{unix}\n";
            }
            else {
                my ($port) = unpack_sockaddr_in( $heap->{listener}->getsockname );
                $listen_addr = "127.0.0.1:$port";
                print "READY port=$port\n";
            }
            dbg( "listening on $listen_addr as ", $kernel->ID, " (", join( ',', $opt{name}, @{ $opt{alias} } ),
                "), protocol $opt{protocol}, freezers ", join( ',', @{ $opt{freezer} } ), ", mode $opt{mode}" );
        },
        listen_error => sub {
            my ( $op, $errnum, $errstr ) = @_[ ARG0 .. ARG2 ];
            print STDERR "ikc-server: $op failed: $errstr ($errnum)\n";
            exit 2;
        },
        accepted => sub {
            my ($handle) = $_[ARG0];
            # Nagle off, as the clients do: otherwise an answer written while an earlier one is
            # unacknowledged waits for the client's delayed ACK (40 ms) when the client goes quiet.
            setsockopt( $handle, IPPROTO_TCP, TCP_NODELAY, 1 ) unless defined $opt{unix};
            my $wheel = POE::Wheel::ReadWrite->new(
                Handle       => $handle,
                Filter       => POE::Filter::Line->new,    # CR, LF, CRLF or LFCR in; CRLF out
                InputEvent   => 'conn_input',
                ErrorEvent   => 'conn_error',
                # FlushedEvent is set only while something waits for a flush (want_flush): an
                # event per answer written would cost every request a dispatch for nothing.
            );
            my $c = {
                id       => $wheel->ID,
                wheel    => $wheel,
                phase    => ( $opt{protocol} eq 'IKC0' ? '010' : '000' ),
                requests => 0,
            };
            if ( defined $opt{unix} ) {
                $c->{local} = $listen_addr;
            }
            else {
                $c->{local} = sockaddr_text( getsockname($handle) ) || $listen_addr;
                $c->{peer}  = sockaddr_text( getpeername($handle) );
            }
            $conns{ $c->{id} } = $c;
            dbg( "conn $c->{id}: accepted from ", $c->{peer} || 'unix socket' );
            if ( $opt{mode} eq 'silent' and may_misbehave() ) {
                misbehave_now();
                $c->{silent} = 1;
            }
        },
        conn_input => sub {
            my ( $input, $id ) = @_[ ARG0, ARG1 ];
            my $c = $conns{$id} or return;
            if ( $c->{phase} eq 'frames' ) {
                if ( not ref $input ) {
                    # NoFatals hands thaw/framing failures over as a string
                    dbg("conn $id: bad frame: $input");
                    return conn_close( $c, 'undecodable frame' );
                }
                handle_request( $c, $input );
            }
            else {
                handle_line( $c, $input );
            }
        },
        conn_error => sub {
            my ( $op, $errnum, $errstr, $id ) = @_[ ARG0 .. ARG3 ];
            my $c = $conns{$id} or return;
            conn_close( $c, $errnum ? "$op error $errnum: $errstr" : 'closed by peer' );
            finish() if $shutting_down and not grep { $_->{exit_on_flush} } values %conns;
        },
        conn_flushed => sub {
            my $id = $_[ARG0];
            my $c = $conns{$id} or return;
            if ( $c->{exit_on_flush} ) {
                delete $c->{exit_on_flush};
                finish() unless grep { $_->{exit_on_flush} } values %conns;
            }
            conn_close( $c, $c->{close_on_flush} ) if $c->{close_on_flush};
        },
        exit_soon => sub { $_[KERNEL]->delay( exit_now => 2 ) },
        exit_now  => sub { finish() },
        stop_listening => sub {
            dbg("closing the listening socket");
            delete $_[HEAP]{listener};
        },
        stop_signal => sub {
            dbg("signal $_[ARG0]");
            $_[KERNEL]->sig_handled;
            finish();
        },
    }
);

POE::Kernel->run;
finish();

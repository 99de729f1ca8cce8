#!/usr/bin/perl
# Test peer: the CLIENT side of IKC (POE::Component::IKC 0.2402, as its ClientLite speaks it) written
# from the protocol description on POE's own wheels and filters, so the TypeScript server can be
# driven from real Perl, POE and Storable. It is not POE::Component::IKC; it only behaves like it
# on the wire.
#
#   perl tests/perl/ikc-client.pl [--host 127.0.0.1] --port N | --unix PATH
#        [--protocol IKC0|IKC] [--freezer Storable|FreezeThaw|POE::Component::IKC::Freezer]
#        [--name Client<pid>] [--alias A]... [--timeout 10] [--verbose]
#
# Negotiation. IKC0 (default): sends `SETUP KERNEL=<name>[,<alias>...];FREEZER=<pkg>;PID=<pid>`;
# the server's `SETUP KERNEL=<id>,<names>...;FREEZER=<pkg>;PID=<pid>` must choose our freezer; its
# first KERNEL entry is the remote kernel id. On `NOT` it falls back to classic IKC on the same
# socket (so does --protocol IKC, straight away): HELLO / (IAM <remote> answered OK)... DONE /
# IAM <name> OK (then IAM <alias> OK for each alias) / DONE / FREEZER <pkg> OK|NOT / WORLD UP.
# Lines go out with CR LF; CR, LF, CRLF and LFCR are all accepted. Each phase waits --timeout s.
# Then it prints one line
#   {"negotiated":{"protocol":"IKC0"|"IKC","freezer":"<pkg>","remote":["<id>","<name>",...]}}
# or {"error":"..."} and exits 1.
#
# Steps: then reads one JSON object a line from stdin and runs them in order, printing one JSON
# line per step (flushed). `timeout` is in seconds and defaults to --timeout.
#   {"op":"call","spec":S,"params":P,"context":"scalar"|"list","timeout":T}
#        sends {event, params, from => {kernel => <name>, session => 'IKCLite'},
#        rsvp => {kernel => <name>, session => 'IKCLite', state => 'response<N>'}, wantarray => 0|1}
#        -> {"result":R}  (list context: R is the answer's arrayref)
#        -> {"remote_error":"<message>"}   an is_error message arrived meanwhile (see below)
#        -> {"timeout":1}                  nothing in time (what a state returning undef gives)
#   {"op":"post","spec":S,"params":P}        no rsvp -> {"posted":1} once the bytes left the socket
#   {"op":"post_respond","spec":S,"params":P,"timeout":T}
#        params => [P, {kernel => <name>, session => 'IKCLite', state => 'response<N>'}], no rsvp
#        -> {"result":R} when a message to that state arrives (or remote_error / timeout as call)
#   {"op":"ping","timeout":T}  {event => 'poe://<remote>/IKC/ping', params => 'PING',
#        rsvp => {kernel => <name>, session => 'IKC', state => 'pong'}} (no `from`, as ClientLite)
#        -> {"result":"PONG"}
#   {"op":"wait","state":"tick"[,"session":"IKCLite"],"timeout":T}
#        the oldest queued or next message whose state is `tick` (any session unless given)
#        -> {"message":{"event":E,"params":P,"from":F}}  (from is null when absent) or {"timeout":1}
#   {"op":"serve","publish":{"perlside":["echo","add","fail"]},"seconds":S[,"count":N]}
#        adds the table to what we publish, answers requests for S seconds (or until N requests
#        were handled) -> {"served":<requests handled during the step, errors included>}
#   {"op":"sleep","ms":N} -> {"slept":N}
#   {"op":"quit"} -> {"quit":1} once the socket is closed (output flushed, FIN sent, the server's
#        close awaited up to 2 s), then exit 0. EOF on stdin does the same after the last step,
#        without printing anything.
# A bad line gives {"error":"..."}; so does any step needing the socket once the server closed it.
# `spec` is a string (a bare `session/state` becomes `poe://<remote id>/session/state`, `poe:`
# forms are kept) or an object {kernel, session, state} sent as a hashref. rsvp numbers count from
# 0 over call and post_respond, as ClientLite's do.
#
# Incoming messages are handled whatever step runs (waits, sleeps, posts, calls), in this order:
#   - an is_error message goes to the pending call/post_respond/ping unless its text names
#     ("Request poe://K/S/T") another session/state; otherwise it is queued;
#   - the answer to the pending rsvp (matched by session and state) ends that step;
#   - a request to a published session/state, to IKC/ping (answered 'PONG') or IKC/do_you_have
#     (answered [{kernel, session[, state]}, <name>] or 'Refused subscription poe://K/S'), or to
#     any session but IKCLite/IKC is a request to us. Published states behave by name:
#       echo -> ARG0, add -> the sum of the array ARG0, context -> 'list'/'scalar',
#       undef -> undef, fail (and any other name) -> an error '<session>/<state> failed: <ARG0>';
#     a result goes to the request's rsvp, if any, as {event => <rsvp>, params => R (the arrayref
#     [R] when wantarray), from => {kernel => <name>, session => <session>, state => 'IKC:proxy'}};
#     as with genuine IKC, nothing is sent for undef in scalar context. Errors go, rsvp or not, to
#     {kernel => <remote id>, session => 'IKC', state => 'remote_error'} with is_error => 1 and
#     params [<text>.  Request <spec> sent by <from spec>, <kernel>, 'check'|'invocation'], in the
#     genuine words for an unpublished session ("Session 'X' is not available for remote kernels")
#     or state ("Session 'X' has not published state 'Y'"); such a rejected request is also queued.
#     IKC:proxy requests (params [state, [args]]) and `?arg` suffixes are understood.
#   - everything else (messages to IKCLite/<state>, late answers, ...) is queued for a later wait.
#
# JSON mapping. In: null -> undef, true/false -> 1/0, ASCII strings are byte strings, other strings
# characters (UTF-8 flagged, as under `use utf8`). Out (JSON::PP canonical, UTF-8): undef -> null,
# a Perl number (IV/NV without a string value) -> a number, anything else with a string value ->
# a string, so Storable network-order doubles ('2.5') come out as strings; byte strings that are
# valid UTF-8 are decoded as UTF-8, other byte strings are Latin-1; objects lose their class,
# scalar refs are dereferenced, code refs become "CODE", a cycle becomes "(cycle)".
# Freezers: Storable uses nfreeze (network order). FreezeThaw output counts characters while frames
# count bytes, so text strings are sent as bytes with it (Latin-1 when they fit, else UTF-8; see
# IKCTest::Codec). POE::Component::IKC::Freezer text is thawed in a Safe compartment.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use Socket qw(AF_INET AF_UNIX IPPROTO_TCP TCP_NODELAY);
use POE qw(Wheel::SocketFactory Wheel::ReadWrite Filter::Line Filter::Reference);
use Storable ();
use Data::Dumper ();
use JSON::PP ();
use Scalar::Util qw(reftype refaddr blessed);
use B ();
use Errno qw(EAGAIN EINTR);
use IO::Select;

# The Data::Dumper freezer IKC names "POE::Component::IKC::Freezer". The real module is not
# installed, so this test client provides the package itself (as tests/perl/ikc-server.pl does).
# Unlike IKC's own, its thaw runs the text in a Safe compartment: here the text comes from the
# server under test.
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

    my $safe;

    sub thaw {
        my $text = shift;
        require Safe;
        $safe ||= Safe->new;
        no strict 'vars';
        ${ $safe->varglob('POE::Component::IKC::Freezer::VAR1') } = undef;
        my $v = $safe->reval("$text\n;\$POE::Component::IKC::Freezer::VAR1");
        die $@ if $@;
        return $v;
    }
}

# Serializer handed to POE::Filter::Reference. Its thaw always yields one value: with NoFatals the
# filter thaws in scalar context, where FreezeThaw::thaw would return a count.
# FreezeThaw counts characters, POE::Filter::Reference frames in bytes: a text string frozen as is
# makes a corrupt frame (genuine IKC does just that). So for FreezeThaw a copy of the message is
# frozen in which every text string is made bytes: Latin-1 when it fits, else its UTF-8 encoding.
{
    package IKCTest::Codec;
    use Scalar::Util qw(refaddr reftype blessed);

    sub new {
        my ( $class, $pkg ) = @_;
        my $freeze = $pkg->can('nfreeze') || $pkg->can('freeze');
        my $thaw   = $pkg->can('thaw');
        die "$pkg cannot freeze and thaw\n" unless $freeze and $thaw;
        return bless { freeze => $freeze, thaw => $thaw, bytes => ( $pkg eq 'FreezeThaw' ) }, $class;
    }
    sub freeze { $_[0]{freeze}->( $_[0]{bytes} ? bytes_only( $_[1], {} ) : $_[1] ) }
    sub thaw { my @v = $_[0]{thaw}->( $_[1] ); $v[0] }

    sub bytes_only {
        my ( $v, $seen ) = @_;
        unless ( ref $v ) {
            return $v unless defined $v and utf8::is_utf8($v);
            my $s = $v;
            utf8::encode($s) unless utf8::downgrade( $s, 1 );
            return $s;
        }
        my $addr = refaddr $v;
        return $seen->{$addr} if $seen->{$addr};
        my $type = reftype $v;
        my $copy;
        if ( $type eq 'HASH' ) {
            $copy = $seen->{$addr} = {};
            $copy->{ bytes_only( $_, $seen ) } = bytes_only( $v->{$_}, $seen ) for keys %$v;
        }
        elsif ( $type eq 'ARRAY' ) {
            $copy = $seen->{$addr} = [];
            push @$copy, bytes_only( $_, $seen ) for @$v;
        }
        elsif ( $type eq 'SCALAR' or $type eq 'REF' ) {
            my $inner;
            $copy = $seen->{$addr} = \$inner;
            $inner = bytes_only( $$v, $seen );
        }
        else {
            return $v;
        }
        bless $copy, blessed $v if blessed $v;
        return $copy;
    }
}

my %opt = (
    host     => '127.0.0.1',
    port     => undef,
    unix     => undef,
    protocol => 'IKC0',
    freezer  => 'Storable',
    name     => "Client$$",
    alias    => [],
    timeout  => 10,
    verbose  => 0,
);
GetOptions(
    'host=s'     => \$opt{host},
    'port=i'     => \$opt{port},
    'unix=s'     => \$opt{unix},
    'protocol=s' => \$opt{protocol},
    'freezer=s'  => \$opt{freezer},
    'name=s'     => \$opt{name},
    'alias=s@'   => $opt{alias},
    'timeout=f'  => \$opt{timeout},
    'verbose!'   => \$opt{verbose},
) or die "usage: $0 [--host H] --port N | --unix PATH [--protocol IKC0|IKC] [--freezer PKG]"
    . " [--name NAME] [--alias A]... [--timeout SECONDS] [--verbose]\n";
die "--protocol must be IKC0 or IKC\n" unless $opt{protocol} =~ /^IKC0?$/;
die "give --port or --unix (one of them)\n" unless defined $opt{port} xor defined $opt{unix};
die "--timeout must be positive\n" unless $opt{timeout} > 0;

my $NAME    = $opt{name};
my $FREEZER = $opt{freezer};
require FreezeThaw if $FREEZER eq 'FreezeThaw';
my $CODEC = eval { IKCTest::Codec->new($FREEZER) };

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub dbg { print STDERR "[ikc-client $$] ", @_, "\n" if $opt{verbose} }

# ---------------------------------------------------------------------------------------------
# Output: one JSON line at a time, written whole even if POE made the descriptor non-blocking
# (a terminal shares it with stdin).

sub emit {
    my ($data) = @_;
    my $line = $JSON->encode( to_json_data( $data, {} ) ) . "\n";
    my $off  = 0;
    while ( $off < length $line ) {
        my $n = syswrite( STDOUT, $line, length($line) - $off, $off );
        if ( defined $n ) { $off += $n; next }
        if ( $! == EAGAIN ) { IO::Select->new( \*STDOUT )->can_write(1); next }
        next if $! == EINTR;
        exit 3;    # nobody reads us any more
    }
    dbg( "out: ", $line =~ s/\n\z//r );
}

# Perl data -> what JSON::PP should write (see the header).
sub to_json_data {
    my ( $v, $path ) = @_;
    return undef unless defined $v;
    unless ( ref $v ) {
        my $flags = B::svref_2object( \$v )->FLAGS;
        if ( $flags & ( B::SVp_IOK | B::SVp_NOK ) and not( $flags & B::SVp_POK ) ) {
            return "$v" if $v != $v or ( $v * 0 ) != 0;    # NaN, Inf: no JSON number
            return $v;
        }
        my $s = "$v";
        if ( not utf8::is_utf8($s) and $s =~ /[\x80-\xff]/ ) {
            my $try = $s;
            $s = $try if utf8::decode($try);
        }
        return $s;
    }
    my $addr = refaddr $v;
    return '(cycle)' if $path->{$addr};
    local $path->{$addr} = 1;
    my $type = reftype $v;
    if ( $type eq 'HASH' ) {
        return { map { ( to_json_data( $_, $path ) => to_json_data( $v->{$_}, $path ) ) } keys %$v };
    }
    return [ map { to_json_data( $_, $path ) } @$v ] if $type eq 'ARRAY';
    return to_json_data( $$v, $path ) if $type eq 'SCALAR' or $type eq 'REF' or $type eq 'LVALUE';
    return 'CODE' if $type eq 'CODE';
    return "$v";
}

# JSON::PP's data -> what we send (see the header).
sub from_json_data {
    my ($v) = @_;
    return undef unless defined $v;
    if ( blessed $v and $v->isa('JSON::PP::Boolean') ) {
        return $v ? 1 : 0;
    }
    if ( ref $v eq 'HASH' ) {
        my %h;
        for my $k ( keys %$v ) {
            my $kk = $k;
            utf8::downgrade( $kk, 1 ) if $kk !~ /[^\x00-\x7f]/;
            $h{$kk} = from_json_data( $v->{$k} );
        }
        return \%h;
    }
    return [ map { from_json_data($_) } @$v ] if ref $v eq 'ARRAY';
    return $v if ref $v;
    my $flags = B::svref_2object( \$v )->FLAGS;
    return $v if $flags & ( B::SVp_IOK | B::SVp_NOK ) and not( $flags & B::SVp_POK );
    my $s = $v;
    utf8::downgrade( $s, 1 ) if $s !~ /[^\x00-\x7f]/;
    return $s;
}

# ---------------------------------------------------------------------------------------------
# Specifiers

my $KERNEL_RE = qr{
      \*
    | [a-zA-Z0-9][-.a-zA-Z0-9]+:\d+
    | unix:[-.\w]+(?::\d+-\d+)?
    | [-. \w]+
}x;

# A copy: IKC fills a hashref event in place, we never touch what arrived.
sub spec_parse {
    my ($s) = @_;
    return undef unless $s;
    my %p;
    if ( ref $s ) {
        return undef unless ref $s eq 'HASH';
        %p = %$s;
    }
    elsif ( $s =~ m{^poe: (?: // ($KERNEL_RE)? )? (?: / ([- \w]+) )? (?: /? ([- \w]*) )? (?: \? (\w+) )? $}x ) {
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
    $p{$_} = ( defined $p{$_} && !ref $p{$_} ) ? $p{$_} : '' for qw(kernel session state);
    return \%p;
}

sub spec_name {
    my ($s) = @_;
    return defined $s ? $s : '' unless ref $s;
    $s = { kernel => '', session => $s->[0], state => $s->[1] } if ref $s eq 'ARRAY';
    return "$s" unless ref $s eq 'HASH';
    my $n = 'poe:';
    $n .= "//$s->{kernel}" if $s->{kernel};
    $n .= "/$s->{session}" if $s->{session};
    $n .= "/$s->{state}"   if $s->{state};
    return $n;
}

# ---------------------------------------------------------------------------------------------
# State

my %C = (
    phase    => 'connect',    # connect, 010, 000, 001, 003f, 003w, frames, closing, closed
    protocol => $opt{protocol},
    remote   => [],           # the server's names, id first
);
my $REMOTE;                   # remote kernel id
my $request_no = 0;           # response<N>
my @steps;                    # waiting steps (raw lines)
my $stdin_eof = 0;
my $current;                  # the step being run
my @inbox;                    # messages kept for `wait`
my %PUBLISHED;                # session => { state => 1 }
my $negotiated = 0;
my $step_serial = 0;

sub sock_put {
    my ($msg) = @_;
    return 0 unless $C{wheel} and $C{phase} eq 'frames';
    dbg( "send: ", Data::Dumper->new( [$msg] )->Indent(0)->Terse(1)->Sortkeys(1)->Dump );
    $C{wheel}->put($msg);
    return 1;
}

sub line_put {
    my ($line) = @_;
    dbg("> $line");
    $C{wheel}->put($line);
    $poe_kernel->delay( neg_timeout => $opt{timeout} );
}

sub neg_fail {
    my ($why) = @_;
    chomp $why;
    emit( { error => $why } );
    exit 1;
}

# ---------------------------------------------------------------------------------------------
# Negotiation

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

sub start_classic {
    $C{protocol} = 'IKC';
    $C{remote}   = [];
    $C{phase}    = '000';
    line_put('HELLO');
}

sub negotiation_line {
    my ($line) = @_;
    dbg("< $line");
    my $phase = $C{phase};
    if ( $phase eq '010' ) {
        return start_classic() if $line eq 'NOT';
        neg_fail("Phase 010: Invalid response from server: $line") unless $line =~ /^SETUP (.+)$/;
        my $neg = parse_setup($1);
        if ( $neg->{bad} ) {
            line_put('NOT');    # as ClientLite: refuse it and keep listening
            return;
        }
        neg_fail( "Phase 010: Refused $FREEZER, wants " . ( $neg->{freezer}[0] // '(none)' ) )
            unless defined $neg->{freezer}[0] and $neg->{freezer}[0] eq $FREEZER;
        $C{remote} = $neg->{kernel};
        return negotiated();
    }
    if ( $phase eq '000' ) {    # the server tells its names
        if ( $line eq 'DONE' ) {
            neg_fail("Phase 000: the server told no name") unless @{ $C{remote} };
            $C{iam}   = [ $NAME, @{ $opt{alias} } ];
            $C{phase} = '001';
            line_put( 'IAM ' . shift @{ $C{iam} } );
            return;
        }
        neg_fail("Invalid IAM response from server: $line") unless $line =~ /^IAM\s+([-:.\w]+)$/;
        push @{ $C{remote} }, $1 unless grep { $_ eq $1 } @{ $C{remote} };
        line_put('OK');
        return;
    }
    if ( $phase eq '001' ) {    # we tell ours
        neg_fail("Didn't get OK from server: $line") unless $line eq 'OK';
        if ( @{ $C{iam} } ) {
            line_put( 'IAM ' . shift @{ $C{iam} } );
            return;
        }
        delete $C{iam};
        line_put('DONE');
        $C{phase} = '003f';
        line_put("FREEZER $FREEZER");
        return;
    }
    if ( $phase eq '003f' ) {
        neg_fail("server refused $FREEZER") if $line eq 'NOT';
        neg_fail("Phase 002: unexpected answer to FREEZER: $line") unless $line eq 'OK';
        $C{phase} = '003w';
        line_put('WORLD');
        return;
    }
    if ( $phase eq '003w' ) {
        neg_fail("Didn't get UP from server: $line") unless $line eq 'UP';
        return negotiated();
    }
}

sub negotiated {
    $poe_kernel->delay('neg_timeout');
    $REMOTE = $C{remote}[0];
    $C{phase} = 'frames';
    # NoFatals: a frame that fails to thaw arrives as an error string
    $C{wheel}->set_filter( POE::Filter::Reference->new( Serializer => $CODEC, NoFatals => 1 ) );
    $negotiated = 1;
    emit( { negotiated => { protocol => $C{protocol}, freezer => $FREEZER, remote => [ @{ $C{remote} } ] } } );
    $poe_kernel->yield('next_step');
}

# ---------------------------------------------------------------------------------------------
# Incoming messages

sub queue_message {
    my ( $msg, $to ) = @_;
    if ( $current and $current->{kind} eq 'wait' and wait_matches( $current, $to ) ) {
        return step_done( { message => message_view($msg) } );
    }
    push @inbox, [ $msg, $to ];
}

sub message_view {
    my ($msg) = @_;
    return { event => $msg->{event}, params => $msg->{params}, from => $msg->{from} };
}

sub wait_matches {
    my ( $step, $to ) = @_;
    return 0 unless $to->{state} eq $step->{state};
    return 0 if defined $step->{session} and $to->{session} ne $step->{session};
    return 1;
}

# Does this error belong to the request the current step waits on?
sub error_is_ours {
    my ( $msg, $step ) = @_;
    my $p    = $msg->{params};
    my $text = ref $p eq 'ARRAY' ? $p->[0] : $p;
    # the last "Request": a failure that quotes a nested request's error names that one first
    return 1 unless defined $text and not ref $text and $text =~ /.*Request (\S+)/s;
    my $named = spec_parse($1) or return 1;
    my $want  = $step->{target};
    return $named->{session} eq $want->{session} && $named->{state} eq $want->{state};
}

sub handle_message {
    my ($msg) = @_;
    unless ( ref $msg eq 'HASH' ) {
        print STDERR "ikc-client: message is not a hash: ", ( defined $msg ? $msg : 'undef' ), "\n";
        return;
    }
    dbg( "recv: ", Data::Dumper->new( [$msg] )->Indent(0)->Terse(1)->Sortkeys(1)->Dump );
    my $to = spec_parse( $msg->{event} ) || { kernel => '', session => '', state => '' };

    if ( $msg->{is_error} ) {
        if ( $current and $current->{kind} eq 'rsvp' and error_is_ours( $msg, $current ) ) {
            my $p = $msg->{params};
            return step_done( { remote_error => ref $p eq 'ARRAY' ? $p->[0] : $p } );
        }
        return queue_message( $msg, $to );
    }
    if (    $current
        and $current->{kind} eq 'rsvp'
        and $to->{session} eq $current->{rsvp}{session}
        and $to->{state} eq $current->{rsvp}{state} )
    {
        return step_done( { result => $msg->{params} } );
    }
    my $published = $PUBLISHED{ $to->{session} } && $PUBLISHED{ $to->{session} }{ $to->{state} };
    if (   $published
        or ( $to->{session} eq 'IKC' and $to->{state} =~ /^(?:ping|do_you_have)$/ )
        or ( $to->{session} ne 'IKC' and $to->{session} ne 'IKCLite' ) )
    {
        return serve_request( $msg, $to );
    }
    queue_message( $msg, $to );
}

sub send_error {
    my ( $msg, $text, $kernel, $when ) = @_;
    return if $msg->{is_error};    # never answer an error with an error
    sock_put(
        {
            event    => { kernel => $REMOTE, session => 'IKC', state => 'remote_error' },
            params   => [ $text, $kernel, $when ],
            is_error => 1,
        }
    );
}

my %BEHAVIOUR = (
    echo    => sub { $_[1] },
    add     => sub { my $s = 0; $s += $_ for @{ ref $_[1] eq 'ARRAY' ? $_[1] : [] }; $s },
    context => sub { $_[0] ? 'list' : 'scalar' },
    undef   => sub { undef },
);

# A serve step with a `count` ends as soon as that many requests were handled.
sub serve_request {
    my ( $msg, $to ) = @_;
    my $counted = ( $current and $current->{kind} eq 'serve' ) ? $current : undef;
    $counted->{served}++ if $counted;
    answer_request( $msg, $to );
    step_done( { served => $counted->{served} } )
        if $counted and $current and $current == $counted and $counted->{count} and $counted->{served} >= $counted->{count};
}

sub answer_request {
    my ( $msg, $to ) = @_;
    my %to = %$to;
    my @args = ( $msg->{params} );
    if ( $to{state} eq 'IKC:proxy' ) {
        my $p = $msg->{params};
        $to{state} = ref $p eq 'ARRAY' && defined $p->[0] ? $p->[0] : '';
        @args = ref $p eq 'ARRAY' && ref $p->[1] eq 'ARRAY' ? @{ $p->[1] } : ();
    }
    push @args, $to{args} if exists $to{args};
    my $request = spec_name( { kernel => $to{kernel}, session => $to{session}, state => $to{state} } );
    my $suffix  = ".  Request $request" . ( $msg->{from} ? ' sent by ' . spec_name( $msg->{from} ) : '' );

    my ( $ok, $result );
    my $session = $to{session};
    if ( $session eq 'IKC' and $to{state} eq 'ping' ) {
        ( $ok, $result ) = ( 1, 'PONG' );
    }
    elsif ( $session eq 'IKC' and $to{state} eq 'do_you_have' ) {
        my $p   = $args[0];
        my $ses = spec_parse( ref $p eq 'ARRAY' ? $p->[0] : $p );
        if ( $ses and $PUBLISHED{ $ses->{session} }
            and ( not $ses->{state} or $PUBLISHED{ $ses->{session} }{ $ses->{state} } ) )
        {
            my %have = ( kernel => $NAME, session => $ses->{session} );
            $have{state} = $ses->{state} if $ses->{state};
            ( $ok, $result ) = ( 1, [ \%have, $NAME ] );
        }
        else {
            ( $ok, $result ) = ( 1, 'Refused subscription ' . spec_name( $ses || {} ) );
        }
    }
    elsif ( not $PUBLISHED{$session} ) {
        send_error( $msg, "Session '$session' is not available for remote kernels$suffix", $to{kernel}, 'check' );
        return queue_message( $msg, $to );
    }
    elsif ( not $PUBLISHED{$session}{ $to{state} } ) {
        send_error( $msg, "Session '$session' has not published state '$to{state}'$suffix", $to{kernel}, 'check' );
        return queue_message( $msg, $to );
    }
    elsif ( my $code = $BEHAVIOUR{ $to{state} } ) {
        ( $ok, $result ) = ( 1, $code->( $msg->{wantarray}, @args ) );
    }
    else {
        my $what = defined $args[0] ? ref $args[0] ? $JSON->encode( to_json_data( $args[0], {} ) ) : $args[0] : 'undef';
        utf8::decode($what) if ref $args[0];
        send_error( $msg, "$session/$to{state} failed: $what$suffix", $NAME, 'invocation' );
        return;
    }

    # as genuine IKC: no answer for undef in scalar context (a list of one undef is answered)
    return unless $msg->{rsvp};
    return unless $msg->{wantarray} or defined $result;
    sock_put(
        {
            event  => $msg->{rsvp},
            params => ( $msg->{wantarray} ? [$result] : $result ),
            from   => { kernel => $NAME, session => $session, state => 'IKC:proxy' },
        }
    );
}

# ---------------------------------------------------------------------------------------------
# Steps

sub step_done {
    my ($out) = @_;
    return unless $current;
    $poe_kernel->alarm_remove( $current->{alarm} ) if $current->{alarm};
    $current = undef;
    emit($out);
    $poe_kernel->yield('next_step');
}

sub step_arm {
    my ( $step, $seconds, $out ) = @_;
    $current = $step;
    $step->{serial} = ++$step_serial;
    $step->{alarm} = $poe_kernel->delay_set( step_timer => $seconds, $step->{serial}, $out );
}

sub qualify {
    my ($spec) = @_;
    return $spec if ref $spec or $spec =~ m{^poe:};
    return "poe://$REMOTE/$spec";
}

sub is_number {
    my ($v) = @_;
    return ( defined $v and !ref $v and $v =~ /^\d+(?:\.\d*)?(?:[eE][-+]?\d+)?$/ ) ? 1 : 0;
}

sub step_timeout_of {
    my ($s) = @_;
    return is_number( $s->{timeout} ) ? $s->{timeout} : $opt{timeout};
}

my %NEEDS_SOCKET = map { $_ => 1 } qw(call post post_respond ping);

sub run_step {
    my ($line) = @_;
    my $s = eval { $JSON->decode($line) };
    return emit( { error => "bad step line: " . ( $@ =~ s/ at \S+ line \d+.*//sr ) } ) unless ref $s eq 'HASH';
    my $op = $s->{op} // '';
    dbg("step: $line");

    if ( $NEEDS_SOCKET{$op} and $C{phase} ne 'frames' ) {
        return emit( { error => "not connected: " . ( $C{closed_why} || $C{phase} ) } );
    }
    my $from = { kernel => $NAME, session => 'IKCLite' };

    if ( $op eq 'call' or $op eq 'post_respond' ) {
        return emit( { error => "$op needs a spec" } ) unless defined $s->{spec} and $s->{spec} ne '';
        my $event = qualify( from_json_data( $s->{spec} ) );
        my $rsvp  = { kernel => $NAME, session => 'IKCLite', state => 'response' . $request_no++ };
        my $msg   = { event => $event, from => $from };
        if ( $op eq 'call' ) {
            my $ctx = $s->{context} // 'scalar';
            return emit( { error => "context must be scalar or list" } ) unless $ctx =~ /^(?:scalar|list)$/;
            $msg->{params}    = from_json_data( $s->{params} );
            $msg->{rsvp}      = $rsvp;
            $msg->{wantarray} = $ctx eq 'list' ? 1 : 0;
        }
        else {
            $msg->{params} = [ from_json_data( $s->{params} ), $rsvp ];
        }
        my $target = spec_parse($event) || {};
        step_arm( { kind => 'rsvp', rsvp => $rsvp, target => $target }, step_timeout_of($s), { timeout => 1 } );
        sock_put($msg);
        return;
    }
    if ( $op eq 'ping' ) {
        my $rsvp = { kernel => $NAME, session => 'IKC', state => 'pong' };
        step_arm( { kind => 'rsvp', rsvp => $rsvp, target => { session => 'IKC', state => 'ping' } },
            step_timeout_of($s), { timeout => 1 } );
        sock_put( { event => "poe://$REMOTE/IKC/ping", params => 'PING', rsvp => $rsvp } );
        return;
    }
    if ( $op eq 'post' ) {
        return emit( { error => "post needs a spec" } ) unless defined $s->{spec} and $s->{spec} ne '';
        sock_put( { event => qualify( from_json_data( $s->{spec} ) ), params => from_json_data( $s->{params} ),
                from => $from } );
        $current = { kind => 'flush', serial => ++$step_serial };
        return step_done( { posted => 1 } ) unless $C{wheel}->get_driver_out_octets;
        return;    # sock_flushed ends it
    }
    if ( $op eq 'wait' ) {
        my $state = $s->{state};
        return emit( { error => "wait needs a state" } ) unless defined $state and !ref $state and length $state;
        my $step = { kind => 'wait', state => $state, session => $s->{session} };
        for my $i ( 0 .. $#inbox ) {
            next unless wait_matches( $step, $inbox[$i][1] );
            my ($hit) = splice @inbox, $i, 1;
            return emit( { message => message_view( $hit->[0] ) } );
        }
        step_arm( $step, step_timeout_of($s), { timeout => 1 } );
        return;
    }
    if ( $op eq 'serve' ) {
        my $pub = $s->{publish} // {};
        return emit( { error => "publish must be an object {session: [states]}" } ) unless ref $pub eq 'HASH';
        for my $session ( keys %$pub ) {
            my $states = $pub->{$session};
            $states = [$states] unless ref $states eq 'ARRAY';
            $PUBLISHED{$session}{$_} = 1 for grep { defined and !ref } @$states;
        }
        my $secs = $s->{seconds} // 1;
        return emit( { error => "seconds must be a number" } ) unless is_number($secs);
        return emit( { error => "count must be a number" } ) if defined $s->{count} and not is_number( $s->{count} );
        my $step = { kind => 'serve', served => 0, count => $s->{count} };
        step_arm( $step, $secs, undef );
        return;
    }
    if ( $op eq 'sleep' ) {
        my $ms = $s->{ms} // 0;
        return emit( { error => "ms must be a number" } ) unless is_number($ms);
        step_arm( { kind => 'sleep' }, $ms / 1000, { slept => $ms } );
        return;
    }
    if ( $op eq 'quit' ) {
        return start_close(1);
    }
    emit( { error => "unknown op '$op'" } );
}

sub start_close {
    my ($say) = @_;
    $current = { kind => 'closing', serial => ++$step_serial };
    $C{say_quit} = $say;
    unless ( $C{wheel} ) {
        return finish();
    }
    $C{phase} = 'closing';
    if ( $C{wheel}->get_driver_out_octets ) {
        $C{close_after_flush} = 1;
        return;
    }
    half_close();
}

sub half_close {
    dbg("closing: FIN sent, waiting for the server's close");
    $C{wheel}->shutdown_output;
    $poe_kernel->delay( close_timer => 2 );
}

sub finish {
    delete $C{wheel};
    emit( { quit => 1 } ) if $C{say_quit};
    exit 0;
}

sub lost_connection {
    my ($why) = @_;
    dbg("connection lost: $why");
    delete $C{wheel};
    $C{phase}      = 'closed';
    $C{closed_why} = $why;
    if ( $current and $current->{kind} =~ /^(?:rsvp|flush)$/ ) {
        step_done( { error => "connection closed: $why" } );
    }
}

# ---------------------------------------------------------------------------------------------

$SIG{PIPE} = 'IGNORE';

POE::Session->create(
    inline_states => {
        _start => sub {
            my ( $kernel, $heap ) = @_[ KERNEL, HEAP ];
            $kernel->sig( TERM => 'stop_signal' );
            $kernel->sig( INT  => 'stop_signal' );
            neg_fail("freezer $FREEZER: $@") unless $CODEC;
            $heap->{stdin} = POE::Wheel::ReadWrite->new(
                InputHandle  => \*STDIN,
                OutputHandle => \*STDERR,    # never written to
                Filter       => POE::Filter::Line->new( InputLiteral => "\n" ),
                InputEvent   => 'stdin_line',
                ErrorEvent   => 'stdin_error',
            );
            my %p = ( SuccessEvent => 'connected', FailureEvent => 'connect_error' );
            if ( defined $opt{unix} ) {
                @p{qw(SocketDomain RemoteAddress)} = ( AF_UNIX, $opt{unix} );
            }
            else {
                @p{qw(SocketDomain RemoteAddress RemotePort)} = ( AF_INET, $opt{host}, $opt{port} );
            }
            $heap->{factory} = POE::Wheel::SocketFactory->new(%p);
            $kernel->delay( neg_timeout => $opt{timeout} );
        },
        connect_error => sub {
            my ( $op, $errnum, $errstr ) = @_[ ARG0 .. ARG2 ];
            neg_fail( "cannot connect to " . ( $opt{unix} // "$opt{host}:$opt{port}" ) . ": $op: $errstr" );
        },
        connected => sub {
            my ( $kernel, $heap, $handle ) = @_[ KERNEL, HEAP, ARG0 ];
            delete $heap->{factory};
            setsockopt( $handle, IPPROTO_TCP, TCP_NODELAY, 1 ) unless defined $opt{unix};
            $C{wheel} = POE::Wheel::ReadWrite->new(
                Handle       => $handle,
                Filter       => POE::Filter::Line->new,    # CR, LF, CRLF or LFCR in; CRLF out
                InputEvent   => 'sock_input',
                ErrorEvent   => 'sock_error',
                FlushedEvent => 'sock_flushed',
            );
            dbg( "connected to ", $opt{unix} // "$opt{host}:$opt{port}" );
            if ( $opt{protocol} eq 'IKC0' ) {
                $C{phase} = '010';
                line_put( 'SETUP ' . join ';', 'KERNEL=' . join( ',', $NAME, @{ $opt{alias} } ),
                    "FREEZER=$FREEZER", "PID=$$" );
            }
            else {
                start_classic();
            }
        },
        neg_timeout => sub {
            neg_fail( $C{phase} eq 'connect' ? "Timeout connecting" : "Timeout in negotiation phase $C{phase}" );
        },
        sock_input => sub {
            my $input = $_[ARG0];
            if ( $C{phase} eq 'frames' or $C{phase} eq 'closing' ) {
                unless ( ref $input ) {    # NoFatals hands thaw/framing failures over as a string
                    chomp $input;
                    print STDERR "ikc-client: undecodable frame: $input\n";
                    return lost_connection("undecodable frame from server: $input") if $C{phase} eq 'frames';
                    return;
                }
                handle_message($input);
            }
            elsif ( $C{phase} =~ /^(?:010|000|001|003f|003w)$/ ) {
                negotiation_line($input);
            }
        },
        sock_error => sub {
            my ( $op, $errnum, $errstr ) = @_[ ARG0 .. ARG2 ];
            my $why = $errnum ? "$op error $errnum: $errstr" : 'closed by the server';
            return finish() if $C{phase} eq 'closing';
            neg_fail("connection lost during negotiation: $why") unless $negotiated;
            lost_connection($why);
        },
        sock_flushed => sub {
            if ( $C{phase} eq 'closing' ) {
                half_close() if delete $C{close_after_flush};
                return;
            }
            step_done( { posted => 1 } ) if $current and $current->{kind} eq 'flush';
        },
        close_timer => sub { finish() },
        step_timer => sub {
            my ( $serial, $out ) = @_[ ARG0, ARG1 ];
            return unless $current and $current->{serial} and $current->{serial} == $serial;
            $current->{alarm} = undef;
            $out = { served => $current->{served} } if $current->{kind} eq 'serve';
            step_done($out);
        },
        stdin_line => sub {
            push @steps, $_[ARG0];
            $_[KERNEL]->yield('next_step');
        },
        stdin_error => sub {
            delete $_[HEAP]{stdin};
            $stdin_eof = 1;
            $_[KERNEL]->yield('next_step');
        },
        next_step => sub {
            return unless $negotiated;
            while ( not $current ) {
                if (@steps) {
                    my $line = shift @steps;
                    $line =~ s/\r\z//;
                    next unless $line =~ /\S/;
                    run_step($line);
                    next;
                }
                start_close(0) if $stdin_eof;
                return;
            }
        },
        stop_signal => sub {
            $_[KERNEL]->sig_handled;
            exit 0;
        },
    }
);

POE::Kernel->run;
exit 0;

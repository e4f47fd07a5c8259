# -*- test-case-name: tests.test_ftps -*-
"""FTPS: explicit TLS on the control and data connections, as ProFTPD's mod_tls does it.

This module runs TLS for ftpredis (the directives' values are parsed and checked in
:mod:`ftpredis.tls.settings`):

- :class:`ServerTLS`, one per configured server: the certificates, keys and options,
  turned into an ``SSL.Context`` for each FTPS session;
- the AUTH / PBSZ / PROT / CCC / SSCN commands, the ``TLSRequired`` checks and the
  protection of data connections, called from small hooks in :mod:`ftpredis.ftp.protocol`.

Data-connection protection follows mod_tls: a data connection must resume the TLS session
of its control connection unless ``TLSOptions NoSessionReuseRequired``.  Every FTPS
session gets its own ``SSL.Context`` (own session cache, own ticket keys, own session id
context), so the only sessions a data connection *can* resume are the ones its own
control connection was given: a resumed handshake proves the data connection comes from
the control connection's client, which defeats data-connection theft even by another
client of the same server.  After CCC (the control connection back in clear text, see
:func:`clear_control`) mod_tls has no control session left and accepts any data
handshake; so does ftpredis.

SSCN ON (mod_tls's "Set Secured Client Negotiation", for server-to-server transfers)
makes ftpredis the TLS *client* of the data connections of RETR, STOR, APPE and STOU
(listings stay on the server side, as in mod_tls).  Such a handshake resumes nothing;
unless ``TLSVerifyServer off`` the peer's certificate chain must verify against
``TLSCACertificateFile``, as mod_tls requires (whose verdict on the peer's names has no
effect in 1.3.8, so ftpredis checks none).

What Twisted and pyOpenSSL do not offer publicly (the resumed-session check, startTLS as
the TLS server on an active-mode data connection, undoing startTLS for CCC) goes through
:mod:`ftpredis._compat.openssl` and :mod:`ftpredis._compat.twisted_tls`.
"""

from __future__ import annotations
from ftpredis.ftp.replies import Reply

import os
import weakref
from typing import Callable, Optional

from OpenSSL import SSL, crypto
from twisted.internet import defer, interfaces, protocol
from twisted.logger import Logger
from twisted.protocols import policies
from zope.interface import implementer

from ftpredis.records.events import command_words
from ftpredis._compat import (
    CompatError, openssl as _openssl, twisted_tls as _twisted_tls,
    twisted_tls_bulk as _twisted_tls_bulk)
from ftpredis.tls.settings import (
    DEFAULT_CIPHERS, PROTOCOLS, TLSConfig, read_certificates, read_private_key, ssl_reason)

log = Logger()

# ProFTPD mod_tls 2.9.2 (1.3.8) replies, measured against Debian's proftpd.
REPLIES = {
    "auth_ok": (234, "AUTH %s successful"),
    "auth_noarg": (504, "AUTH requires at least one argument"),
    "auth_second": (503, "Unwilling to accept second AUTH"),
    "unwilling": (534, "Unwilling to accept security parameters"),
    "not_understood": (500, "%s not understood"),
    "pbsz_insecure": (503, "PBSZ not allowed on insecure control connection"),
    "pbsz_ok": (200, "PBSZ 0 successful"),
    "pbsz_other": (200, "PBSZ=0 successful"),
    "prot_ok": (200, "Protection set to %s"),
    "prot_unsupported": (536, "PROT %s unsupported"),
    "prot_bad": (504, "PROT %s unsupported"),
    "invalid_params": (501, "Invalid number of parameters"),
    "ccc_ok": (200, "Clearing control channel protection"),
    "ccc_insecure": (533, "CCC not allowed on insecure control connection"),
    "ctrl_required": (550, "SSL/TLS required on the control channel"),
    "data_required": (522, "SSL/TLS required on the data channel"),
    "handshake_failed": (421, "TLS handshake failed"),
    "data_refused": (425, "Unable to build data connection: Operation not permitted"),
    "sscn_mode": (200, "SSCN:%s METHOD"),
    "sscn_bad": (501, "SSCN: Invalid argument"),
    "sscn_malformed": (504, "SSCN: Invalid argument"),
}

AUTH_MECHANISMS = ("TLS", "TLS-C", "SSL", "TLS-P")
FEATURES = ("AUTH TLS", "CCC", "PBSZ", "PROT", "SSCN")
#: Commands mod_tls never hinders (TLSRequired).
UNHINDERED = frozenset({"SYST", "AUTH", "FEAT", "HOST", "QUIT"})
DATA_COMMANDS = frozenset({"APPE", "LIST", "MLSD", "NLST", "RETR", "STOR", "STOU"})
#: Data commands whose connection ftpredis protects as the TLS server whatever SSCN says.
LISTINGS = frozenset({"LIST", "MLSD", "NLST"})
AUTH_COMMANDS = frozenset({"USER", "PASS", "ACCT"})

#: Seconds a refused data connection is given to answer our close_notify.
REFUSE_GRACE = 2.0


# --------------------------------------------------------------------------- runtime

class ServerTLS:
    """One server's TLS material; makes an ``SSL.Context`` for each FTPS session."""

    def __init__(self, cfg: TLSConfig, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.cfg = cfg
        self.pairs = []
        for cert_path, key_path in ((cfg.rsa_cert, cfg.rsa_key), (cfg.ec_cert, cfg.ec_key)):
            if cert_path and key_path:
                self.pairs.append((read_certificates(cert_path), read_private_key(key_path)))
        self.chain = read_certificates(cfg.chain_file) if cfg.chain_file else ()
        self.reuse_required = "NoSessionReuseRequired" not in cfg.options
        self.tlslog = None
        if cfg.log:
            from ftpredis.redis.redislog import RedisLog
            self.tlslog = RedisLog(cfg.log)
        self.context()      # fail now, at start-up, rather than at the first AUTH

    @classmethod
    def build(cls, server, reactor=None) -> Optional["ServerTLS"]:
        cfg = getattr(server, "tls", None)
        if cfg is None or not cfg.engine:
            return None
        return cls(cfg, reactor)

    def log(self, message: str) -> None:
        if self.tlslog is not None:
            self.tlslog.write(message)

    def context(self) -> SSL.Context:
        cfg = self.cfg
        ctx = SSL.Context(SSL.TLS_METHOD)
        versions = sorted(PROTOCOLS[p] for p in cfg.protocols)
        ctx.set_min_proto_version(versions[0])
        ctx.set_max_proto_version(versions[-1])
        # Clients (curl among them) often end an upload's data connection without a
        # close_notify; like mod_tls, take that EOF as the end of the data.
        options = (SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE
                   | SSL.OP_IGNORE_UNEXPECTED_EOF)
        if "AllowClientRenegotiations" not in cfg.options:
            options |= SSL.OP_NO_RENEGOTIATION
        else:
            # OpenSSL 3 refuses client-initiated renegotiation unless told otherwise.
            options |= getattr(SSL, "OP_ALLOW_CLIENT_RENEGOTIATION", 0x100)
        ctx.set_options(options)
        ctx.set_cipher_list((cfg.cipher_suite or DEFAULT_CIPHERS).encode())
        if cfg.tls13_suites:
            ctx.set_tls13_ciphersuites(cfg.tls13_suites.encode())
        seen_chain = set()
        for certs, key in self.pairs:
            ctx.use_certificate(certs[0])
            ctx.use_privatekey(key)
            ctx.check_privatekey()
            for extra in certs[1:] + self.chain:
                digest = extra.digest("sha256")
                if digest not in seen_chain:
                    seen_chain.add(digest)
                    ctx.add_extra_chain_cert(extra)
        if cfg.ca_file:
            ctx.load_verify_locations(cfg.ca_file.encode())
            if cfg.verify_client != "off":
                mode = SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE
                if cfg.verify_client == "on":
                    mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
                ctx.set_verify(mode, lambda conn, cert, errno, depth, ok: bool(ok))
        # A session id context of its own: sessions resume only within this context,
        # i.e. within one FTPS session (see the module docstring).
        ctx.set_session_id(os.urandom(16).hex().encode())
        ctx.set_timeout(cfg.session_timeout)
        return ctx


@implementer(interfaces.IOpenSSLServerConnectionCreator,
             interfaces.IOpenSSLClientConnectionCreator)
class _Creator:
    """Connections on one session's context (Twisted's TLS asks us): server-side ones,
    and client-side ones for SSCN ON."""

    def __init__(self, ctx: SSL.Context):
        self.ctx = ctx
        self.connection: Optional[SSL.Connection] = None

    def serverConnectionForTLS(self, tlsProtocol):
        self.connection = SSL.Connection(self.ctx, None)
        return self.connection

    def clientConnectionForTLS(self, tlsProtocol):
        self.connection = SSL.Connection(self.ctx, None)
        # The context's TLSVerifyClient mode is not for the peer's server certificate:
        # that one is checked once the handshake is done (server_cert_problem).
        self.connection.set_verify(SSL.VERIFY_NONE)
        return self.connection


@implementer(interfaces.IHandshakeListener)
class _HandshakeWatch(protocol.Protocol):
    """Sits between Twisted's TLS layer and the protocol it protects.

    Tells its owner when the handshake is done (before any application byte is
    delivered) or when the connection went away before that; passes everything else on.
    """

    def __init__(self, inner, done: Callable[[], None], lost: Callable[[object], None]):
        self.inner = inner
        self._done = done
        self._lost = lost
        self.shaken = False

    def makeConnection(self, transport):
        # The inner protocol is connected already; Twisted's startTLS never calls this.
        self.transport = transport

    def handshakeCompleted(self):
        self.shaken = True
        done, self._done = self._done, None
        if done is not None:
            done()

    def dataReceived(self, data):
        self.inner.dataReceived(data)

    def connectionLost(self, reason):
        try:
            self.inner.connectionLost(reason)
        finally:
            lost, self._lost = self._lost, None
            if lost is not None and not self.shaken:
                lost(reason)


def _raw_transport(transport):
    """The TCP transport under any policies wrappers."""
    while isinstance(transport, policies.ProtocolWrapper):
        transport = transport.transport
    return transport


def start_tls(transport, ctx: SSL.Context, timeout: int, reactor,
              done: Callable[[SSL.Connection], None], failed: Callable[[str], None],
              tls_client: bool = False):
    """Start a server-side TLS handshake on a connected TCP ``transport`` (with
    ``tls_client``, a client-side one).

    ``done(connection)`` runs once the handshake is complete and before any application
    data reaches the protocol; ``failed(why)`` if the connection ends first or the
    handshake takes longer than ``timeout`` seconds.
    """
    tcp = _raw_transport(transport)
    creator = _Creator(ctx)
    timer = None

    def on_done():
        if timer is not None and timer.active():
            timer.cancel()
        done(creator.connection)

    def on_lost(reason):
        if timer is not None and timer.active():
            timer.cancel()
        why = getattr(reason, "value", reason)
        failed(ssl_reason(why) if isinstance(why, SSL.Error) else str(why))

    watch = _HandshakeWatch(tcp.protocol, on_done, on_lost)
    try:
        # An active-mode data connection is a TCP client but still the TLS server.
        _twisted_tls.start_server_tls(tcp, creator, watch, tls_client)
    except CompatError as e:
        # No TLS layer we understand: end the connection (its loss reaches ``failed``
        # through the watch, which start_server_tls put in place first).
        log.error("TLS not started: {why}", why=e)
        tcp.abortConnection()
        return creator
    watch.transport = tcp

    def tcp_lost():
        conn = creator.connection
        if conn is not None and conn.get_shutdown() & SSL.RECEIVED_SHUTDOWN:
            _closed_by_peer.add(conn)
    try:
        _twisted_tls.before_tcp_lost(tcp, tcp_lost)
    except CompatError as e:
        # Then no reset counts as the end of a transfer: never a cut upload taken whole.
        _warn_once("TLS: cannot tell a close_notify from a reset (%s)" % e)
    if timeout:
        def expire():
            log.info("TLS handshake timed out after {n} seconds", n=timeout)
            tcp.abortConnection()
        timer = reactor.callLater(timeout, expire)
    return creator


_warned = set()


def _warn_once(message: str) -> None:
    """Log ``message`` the first time only: it would otherwise come with every data
    connection."""
    if message not in _warned:
        _warned.add(message)
        log.warn(message)


def data_writer(transport) -> Callable[[bytes], None]:
    """How to write to a data connection under TLS: in bulk (one BIO read and one TCP
    write per chunk rather than per 16 KiB record) when Twisted's TLS layer is the one
    :mod:`ftpredis._compat.twisted_tls_bulk` knows, else ``transport.write``."""
    w = _twisted_tls_bulk.bulk_writer(_raw_transport(transport))
    if w is None:
        _warn_once("FTPS data: Twisted's TLS layer is not the expected one (see "
                   "ftpredis/_compat/twisted_tls_bulk.py); data connections go through "
                   "it record by record")
        return transport.write
    return w


#: TLS connections whose peer's close_notify came while their TCP connection was up.
_closed_by_peer: "weakref.WeakSet[SSL.Connection]" = weakref.WeakSet()


def peer_closed(transport) -> bool:
    """Whether the peer ended this TLS connection with close_notify before its TCP
    connection ended (False for plain TCP).

    A client may reset the TCP connection right after its close_notify (curl does, when
    our own close_notify meets its closed socket): the stream was complete all the same,
    as mod_tls judges it, which reads up to the close_notify.  A reset with no
    close_notify before it is a cut stream, whatever OpenSSL says afterwards (see
    :func:`ftpredis._compat.twisted_tls.before_tcp_lost`): the client's kernel drops
    the bytes it had not sent yet when it resets.  lftp can be reset so: it reads
    nothing of an upload's data connection and closes it without waiting for our
    close_notify, and a TLS 1.3 session ticket of ours arriving after that close makes
    its kernel reset the connection."""
    try:
        return transport.getHandle() in _closed_by_peer
    except Exception:           # no TLS (a socket has no getHandle), or gone
        return False


def server_cert_problem(conn: SSL.Connection, ctx: SSL.Context, peer: str) -> Optional[str]:
    """Why the certificate of ``peer``, the TLS server of the client-side connection
    ``conn``, is refused (mod_tls's tls_check_server_cert), or None: there must be one,
    and its chain must verify against the context's CA certificates."""
    chain = conn.get_peer_cert_chain() or []
    if not chain:
        return "unable to verify '%s': server did not provide certificate" % peer
    try:
        crypto.X509StoreContext(ctx.get_cert_store(), chain[0], chain[1:]) \
            .verify_certificate()
    except crypto.X509StoreContextError as e:
        return "unable to verify '%s' server certificate: %s" % (peer, e)
    return None


def describe(conn: SSL.Connection, data: bool = False, reused: bool = False) -> str:
    return "%s %sconnection accepted, using cipher %s (%d bits%s)" % (
        conn.get_protocol_version_name(), "data " if data else "",
        conn.get_cipher_name(), conn.get_cipher_bits() or 0,
        ", resumed session" if reused else "")


# --------------------------------------------------------------------------- commands

def _reply(name, *args, sent=False):
    code, fmt = REPLIES[name]
    r = Reply(code, fmt % args if args else fmt)
    if sent:
        r.sent = True
    return r


class SessionTLS:
    """The FTPS state of one control connection."""

    def __init__(self, server_tls: ServerTLS):
        self.server = server_tls
        self.ctx: Optional[SSL.Context] = None
        self.ctrl: Optional[SSL.Connection] = None
        self.on_ctrl = False        # the control channel is protected now
        self.used = False           # AUTH succeeded once (PBSZ/PROT are known from then)
        self.cleared = False        # CCC done
        self.pbsz = False
        self.private = False        # PROT P
        self.sscn_client = False    # SSCN ON: TLS client on transfers' data connections


def state(pi) -> Optional[SessionTLS]:
    """The session's FTPS state, or None when the server has no TLSEngine on."""
    st = getattr(pi, "ftps", None)
    if st is None:
        server_tls = getattr(pi.factory, "tls", None)
        if server_tls is None:
            return None
        st = pi.ftps = SessionTLS(server_tls)
    return st


def features(pi) -> list:
    return list(FEATURES) if state(pi) is not None else []


def precheck(pi, base: str) -> None:
    """TLSRequired: refuse ``base`` as mod_tls does (raises the Reply)."""
    st = state(pi)
    if st is None or base in UNHINDERED:
        return
    cfg = st.server.cfg
    if not st.on_ctrl:
        if cfg.required_ctrl or (cfg.required_auth and base in AUTH_COMMANDS):
            st.server.log("SSL/TLS required but absent on control channel, denying %s "
                          "command" % base)
            raise _reply("ctrl_required")
    if cfg.required_data and not st.private and base in DATA_COMMANDS:
        st.server.log("SSL/TLS required but absent on data channel, denying %s command"
                      % base)
        raise _reply("data_required")


def cmd_auth(pi, cmd):
    st = state(pi)
    if st is None:
        raise _reply("not_understood", "AUTH")
    if cmd.arg is None or not cmd.arg.split():
        raise _reply("auth_noarg")
    if st.cleared:
        st.server.log("Unwilling to accept AUTH after CCC for this session")
        raise _reply("unwilling")
    if st.on_ctrl:
        st.server.log("Unwilling to accept AUTH after AUTH for this session")
        raise _reply("auth_second")
    mechanism = cmd.arg.split()[0].upper()
    if mechanism not in AUTH_MECHANISMS:
        st.server.log("AUTH %s unsupported, declining" % cmd.arg.split()[0])
        raise _reply("not_understood", "AUTH")
    st.server.log("%s requested, starting TLS handshake"
                  % ("TLS/TLS-C" if mechanism in ("TLS", "TLS-C") else "SSL/TLS-P"))
    if pi.policy_event("TLSHandshake"):
        raise _reply("handshake_failed")        # banned: the session is being ended
    ctx = st.server.context()
    # The reply goes out in clear before the handshake; nothing the client sent after
    # the AUTH line in clear may be taken as a command (STARTTLS injection).
    pi.sendReply(_reply("auth_ok", mechanism))
    pi.discard_pending_input()
    d = defer.Deferred()

    def done(conn):
        st.ctx, st.ctrl, st.on_ctrl, st.used = ctx, conn, True, True
        if mechanism in ("SSL", "TLS-P"):
            st.pbsz = st.private = True     # mod_tls: these imply PBSZ 0, PROT P
        pi.protocol_name = "ftps"
        st.server.log(describe(conn))
        cmd.fields["tls_version"] = conn.get_protocol_version_name()
        d.callback(_reply("auth_ok", mechanism, sent=True))

    def failed(why):
        st.server.log("TLS/TLS-C negotiation failed on control channel: %s" % why)
        pi.end_reason = "TLS handshake failed"
        cmd.fields["handshake_failed"] = "ctrl"
        d.callback(_reply("handshake_failed", sent=True))

    start_tls(pi.transport, ctx, st.server.cfg.timeout_handshake, st.server.reactor,
              done, failed)
    return d


def cmd_pbsz(pi, cmd):
    st = state(pi)
    if st is None or not st.used:
        raise _reply("not_understood", "PBSZ")
    if cmd.arg is None or len(cmd.arg.split()) != 1:
        raise _reply("invalid_params")
    if not st.on_ctrl:
        raise _reply("pbsz_insecure")
    st.pbsz = True
    return _reply("pbsz_ok" if cmd.arg.strip() == "0" else "pbsz_other")


def cmd_prot(pi, cmd):
    st = state(pi)
    if st is None or not st.used:
        raise _reply("not_understood", "PROT")
    if cmd.arg is None or len(cmd.arg.split(" ")) != 1:
        raise _reply("invalid_params")
    level = cmd.arg
    cfg = st.server.cfg
    if level == "C":
        if cfg.required_data:
            st.server.log("PROT C not allowed: TLSRequired requires data protection")
            raise _reply("unwilling")
        st.private = False
        st.server.log("Protection set to Clear")
        return _reply("prot_ok", "Clear")
    if level == "P":
        st.private = True
        st.server.log("Protection set to Private")
        return _reply("prot_ok", "Private")
    if level in ("S", "E"):
        raise _reply("prot_unsupported", level)
    raise _reply("prot_bad", level)


def cmd_ccc(pi, cmd):
    st = state(pi)
    if st is None or not st.used:
        raise _reply("not_understood", "CCC")        # mod_tls declines it before AUTH
    if not st.on_ctrl:
        raise _reply("ccc_insecure")
    if st.server.cfg.required_ctrl:
        st.server.log("CCC: unwilling to accept security parameters: TLSRequired setting "
                      "does not allow for unprotected control channel")
        raise _reply("unwilling")
    why = _twisted_tls.clearable(_raw_transport(pi.transport), st.ctrl)
    if why is not None:
        # Refused while the control connection is still wholly under TLS: no reply or
        # command can then be read on the wrong side of a close_notify.
        log.error("CCC refused: {why}", why=why)
        st.server.log("CCC: unable to clear control channel protection: %s" % why)
        raise _reply("unwilling")
    st.server.log("received CCC, clearing control channel protection")
    st.on_ctrl = False
    st.cleared = True
    # The 200 goes out under TLS; the close_notify follows it (cmd.after runs once the
    # reply has been written), and from then on the control connection is clear text.
    cmd.after = lambda: clear_control(pi, st)
    return _reply("ccc_ok")


def cmd_sscn(pi, cmd):
    st = state(pi)
    if st is None or not st.used:
        raise _reply("not_understood", "SSCN")       # mod_tls declines it before AUTH
    words = command_words(cmd.arg)
    if len(words) > 1:
        st.server.log("denying malformed SSCN command: 'SSCN %s'" % cmd.arg)
        raise _reply("sscn_malformed")
    if words and words[0] in ("ON", "OFF"):         # case matters (mod_tls: strncmp)
        st.sscn_client = words[0] == "ON"
    elif words:
        st.server.log("denying unsupported SSCN command: 'SSCN %s'" % words[0])
        raise _reply("sscn_bad")
    return _reply("sscn_mode", "CLIENT" if st.sscn_client else "SERVER")


def clear_control(pi, st: SessionTLS) -> None:
    """Take the TLS layer off the control connection (RFC 4217 section 6, CCC).

    Twisted's TLS layer has no way back to clear text: on the peer's close_notify it
    closes the TCP connection.  So the connection is taken from it here: its pending
    output is flushed, our close_notify is sent, and the TCP transport is handed to an
    :class:`_Unwrap` protocol that reads the client's remaining TLS records until its
    close_notify, then gives the transport back to the FTP protocol.  The FTP protocol
    itself never sees a new connection.
    """
    tcp = _raw_transport(pi.transport)
    conn = st.ctrl
    try:
        # The 200 (and anything before it) goes out under TLS first; from then on
        # writes go straight to the socket.
        inner = _twisted_tls.take_back(tcp, conn)
    except CompatError as e:
        # Not the layer cmd_auth put there (cmd_ccc checked it): nothing was changed,
        # and there is no safe way to clear it.
        log.error("CCC: {why}", why=e)
        st.server.log("CCC: unable to clear control channel protection, disconnecting")
        pi.end_reason = "CCC failed"
        tcp.loseConnection()
        return
    if isinstance(inner, _HandshakeWatch):
        inner = inner.inner
    unwrap = _Unwrap(tcp, conn, inner, st.server)
    tcp.protocol = unwrap
    try:
        conn.shutdown()
    except SSL.Error:
        pass
    unwrap.flush()


#: TLS record content types (change_cipher_spec, alert, handshake, application_data).
_RECORD_TYPES = frozenset((20, 21, 22, 23))
#: The largest TLS record (TLSv1.2 ciphertext: 2^14 + 2048, plus the 5-byte header).
_MAX_RECORD = 5 + 2 ** 14 + 2048


class _Unwrap(protocol.Protocol):
    """The control connection between CCC's close_notify and the client's.

    Reads whole TLS records and decrypts them (a client may still send commands under
    TLS after CCC) until the client's close_notify; whatever follows it is clear text
    for the FTP protocol, to which the TCP transport is then given back.  A client that
    switches to clear text without a close_notify (curl's default "passive" CCC mode)
    is recognised by its first byte, which cannot start a TLS record.
    """

    def __init__(self, tcp, conn: SSL.Connection, inner, server: ServerTLS):
        self.transport = tcp
        self.conn = conn
        self.inner = inner
        self.server = server
        self.buf = b""

    def flush(self) -> None:
        out = []
        while True:
            try:
                out.append(self.conn.bio_read(2 ** 16))
            except SSL.WantReadError:
                break
            except SSL.Error:
                break
        if out:
            # Below the (now removed) TLS layer: TLS bytes written as they are.
            self.transport.write(b"".join(out))

    def dataReceived(self, data):
        self.buf += data
        while self.transport.protocol is self and self.buf:
            buf = self.buf
            if buf[0] not in _RECORD_TYPES:
                self._plain()
                return
            if len(buf) < 5:
                return
            size = 5 + int.from_bytes(buf[3:5], "big")
            if size > _MAX_RECORD:
                self._fail("oversized TLS record after CCC")
                return
            if len(buf) < size:
                return
            self.buf = buf[size:]
            self.conn.bio_write(buf[:size])
            while True:
                try:
                    clear = self.conn.recv(2 ** 16)
                except SSL.WantReadError:
                    break
                except SSL.ZeroReturnError:
                    self._plain()
                    return
                except SSL.Error as e:
                    self._fail(ssl_reason(e))
                    return
                if clear:
                    self.inner.dataReceived(clear)
            if self.conn.get_shutdown() & SSL.RECEIVED_SHUTDOWN:
                self._plain()
                return

    def _plain(self) -> None:
        self.transport.protocol = self.inner
        rest, self.buf = self.buf, b""
        if rest:
            self.inner.dataReceived(rest)

    def _fail(self, why: str) -> None:
        self.server.log("CCC: TLS shutdown failed on control channel: %s" % why)
        self.buf = b""
        self.transport.protocol = self.inner
        self.transport.loseConnection()

    def connectionLost(self, reason):
        self.inner.connectionLost(reason)


def run_data(pi, conn, body, cmd=None) -> defer.Deferred:
    """Run the transfer ``body(conn)``, first protecting ``conn`` when PROT P is on.

    A data connection whose handshake fails, that does not resume the control
    connection's session when that is required, or (SSCN ON) whose peer's certificate
    does not verify, is closed and the command answered with mod_tls's 425 (a failed
    handshake is noted in ``cmd``'s event for the metrics).
    """
    st = state(pi)
    if st is None or not st.private or st.ctx is None:
        return defer.maybeDeferred(body, conn)
    server = st.server
    d = defer.Deferred()
    tls_client = st.sscn_client and cmd is not None and cmd.verb not in LISTINGS
    failure = "connection" if tls_client else "negotiation"

    def reject():
        server.log("unable to open data connection: TLS %s failed" % failure)
        # close_notify first, so the client sees a clean end rather than a reset;
        # the 425 follows once the connection is gone (or after a short wait).
        conn.transport.loseConnection()
        timer = server.reactor.callLater(REFUSE_GRACE, conn.transport.abortConnection)

        def closed(_):
            if timer.active():
                timer.cancel()
            refused()
        conn.waitClosed().addBoth(closed)

    def done(ssl_conn):
        if tls_client:
            problem = None
            if server.cfg.verify_server:
                problem = server_cert_problem(ssl_conn, st.ctx,
                                              conn.transport.getPeer().host)
            if problem is not None:
                server.log(problem)
                reject()
                return
            server.log("%s connection created, using cipher %s (%d bits)" % (
                ssl_conn.get_protocol_version_name(), ssl_conn.get_cipher_name(),
                ssl_conn.get_cipher_bits() or 0))
        elif not _reused(ssl_conn):
            reject()
            return
        if not _twisted_tls_bulk.bulk_reader(_raw_transport(conn.transport)):
            _warn_once("FTPS data: Twisted's TLS layer is not the expected one (see "
                       "ftpredis/_compat/twisted_tls_bulk.py); data connections go "
                       "through it record by record")
        try:
            # A close_notify that came before a reset counts even when the reactor
            # meets the reset before reading it: our TLS 1.3 session ticket, sent in
            # the turn that read the upload's last records, fails with ECONNRESET
            # (see read_rest_at_loss).
            _twisted_tls.read_rest_at_loss(
                _raw_transport(conn.transport),
                lambda: not ssl_conn.get_shutdown() & SSL.RECEIVED_SHUTDOWN)
        except CompatError as e:
            _warn_once("TLS: a close_notify followed by a reset may be taken for a cut "
                       "stream (%s)" % e)
        # Synchronously: an upload's sink must be in place before the first decrypted
        # bytes are delivered, which happens right after this returns.
        defer.maybeDeferred(body, conn).chainDeferred(d)

    def _reused(ssl_conn) -> bool:
        """Whether the server-side data handshake may go on (session reuse)."""
        try:
            reused = _openssl.session_reused(ssl_conn)
        except CompatError as e:
            # Unknown counts as not resumed: refused below when reuse is required.
            log.error("TLS session reuse unknown: {why}", why=e)
            server.log("unable to tell whether the client reused the TLS session: %s" % e)
            reused = False
        # After CCC mod_tls no longer has a control session to compare with and accepts
        # any data handshake; so must we: curl's default CCC mode drops its own session
        # (no close_notify from it, so OpenSSL marks the session not resumable).
        if not reused and server.reuse_required and not st.cleared:
            server.log("client did not reuse TLS session, rejecting data connection "
                       "(see the NoSessionReuseRequired TLSOptions parameter)")
            return False
        if reused:
            server.log("client reused TLS session for data connection")
        server.log(describe(ssl_conn, data=True, reused=reused))
        return True

    def refused():
        if cmd is not None:
            # Logged as the plain 425 is: the transfer never started (%b 0, measured).
            cmd.fields.setdefault("bytes_sent", 0)
        if not d.called:
            d.callback(_reply("data_refused"))

    def failed(why):
        server.log("unable to open data connection: TLS %s failed (%s)" % (failure, why))
        if cmd is not None:
            cmd.fields["handshake_failed"] = "data"
        refused()

    if tls_client:
        server.log("making TLS connection for data connection")
    start_tls(conn.transport, st.ctx, server.cfg.timeout_handshake, server.reactor,
              done, failed, tls_client)
    conn.transport.resumeProducing()        # the handshake needs reading
    return d

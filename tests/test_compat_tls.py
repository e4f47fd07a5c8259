# -*- test-case-name: tests.test_compat_tls -*-
"""The TLS shims (ftpredis._compat.openssl, .twisted_tls, .twisted_tls_bulk) against the
installed pyOpenSSL and Twisted: their private names resolve, their live checks pass on
real connections, and FTPS refuses (rather than guesses) when the internals are gone."""

from __future__ import annotations

import fcntl
import ftplib
import select
import socket
import struct
import time

from OpenSSL import SSL
from twisted.internet import defer, protocol, reactor, ssl, task
from twisted.internet.interfaces import ISSLTransport
from twisted.trial import unittest

import ftpredis._compat
from ftpredis._compat import (
    CompatError, openssl, twisted_tcp, twisted_tls, twisted_tls_bulk)
from ftpredis.tls import ftps
from ftpredis.tls.settings import read_certificates, read_private_key
from tests.support.ftps import CCCFTP_TLS, FTPSMixin, pki
from tests.support.ftphelpers import PASSWORD, USER


def _server_context(max_version=None):
    paths = pki()
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.use_certificate(read_certificates(paths["rsa_cert"])[0])
    ctx.use_privatekey(read_private_key(paths["rsa_key"]))
    ctx.set_session_id(b"test_compat_tls")
    # As the server's own contexts (ftpredis.tls.ftps): a FIN without close_notify is
    # the end of a stream, not an error.
    ctx.set_options(SSL.OP_IGNORE_UNEXPECTED_EOF)
    if max_version is not None:
        ctx.set_max_proto_version(max_version)
    return ctx


def _handshake(server_ctx, client_ctx, session=None):
    """A server and a client ``SSL.Connection`` shaken hands through memory BIOs."""
    server = SSL.Connection(server_ctx, None)
    server.set_accept_state()
    client = SSL.Connection(client_ctx, None)
    client.set_connect_state()
    if session is not None:
        client.set_session(session)
    done = set()
    for _ in range(20):
        for side in (client, server):
            try:
                side.do_handshake()
                done.add(side)
            except SSL.WantReadError:
                pass
        for src, dst in ((client, server), (server, client)):
            try:
                dst.bio_write(src.bio_read(65536))
            except SSL.WantReadError:
                pass
        if len(done) == 2:
            return server, client
    raise AssertionError("in-memory handshake did not finish")


class VerifyTests(unittest.TestCase):

    def test_private_names_resolve(self):
        checked = ftpredis._compat.verify()
        for shim in (openssl, twisted_tls):
            for module, dotted in shim.PRIVATE_NAMES:
                self.assertIn("%s.%s" % (module, dotted), checked)
            self.assertTrue(shim.TESTED_WITH)

    def test_missing_name_fails_loudly(self):
        with self.assertRaises(CompatError):
            ftpredis._compat.resolve("twisted.protocols.tls", "_AggregateSmallWrites.gone")


class OpenSSLTests(unittest.TestCase):

    def test_session_reused(self):
        """SSL_session_reused() through the shim on real connections: a first handshake
        is new, a second one offering its session resumes it."""
        server_ctx = _server_context(SSL.TLS1_2_VERSION)
        client_ctx = SSL.Context(SSL.TLS_METHOD)
        server, client = _handshake(server_ctx, client_ctx)
        openssl.verify_live(server)
        self.assertFalse(openssl.session_reused(server))
        server, client = _handshake(server_ctx, client_ctx, client.get_session())
        self.assertTrue(openssl.session_reused(server))
        self.assertTrue(openssl.session_reused(client))

    def test_verify_live_refuses_other_objects(self):
        with self.assertRaises(CompatError):
            openssl.verify_live(object())

        class Fake:
            _ssl = b"not an SSL *"
        with self.assertRaises(CompatError):
            openssl.verify_live(Fake())
        with self.assertRaises(CompatError):
            openssl.session_reused(Fake())
        with self.assertRaises(CompatError):
            openssl.bio_reader(Fake(), 10)
        with self.assertRaises(CompatError):
            openssl.whole_writes(Fake())
        with self.assertRaises(CompatError):
            openssl.ssl_reader(Fake(), 10)

    def test_ssl_reader(self):
        """Records decrypted into our buffer; 0 when more bytes are needed; -1 at the
        peer's close_notify, which pyOpenSSL's recv then raises as ever."""
        for version in (SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION):
            server, client = _handshake(_server_context(version),
                                        SSL.Context(SSL.TLS_METHOD))
            buffer, read = openssl.ssl_reader(server, 100000)
            self.assertEqual(read(0, 16384), 0)
            data = bytes(range(256)) * 200             # 51,200 bytes: 4 records
            client.sendall(data)
            wire = client.bio_read(200000)
            server.bio_write(wire[:-10])                # the last record incomplete
            pos = 0
            while True:
                n = read(pos, 16384)
                if n <= 0:
                    break
                pos += n
            self.assertEqual(n, 0)
            server.bio_write(wire[-10:])
            pos += read(pos, 16384)
            self.assertEqual(bytes(buffer[:pos]), data)
            client.shutdown()
            server.bio_write(client.bio_read(1000))
            self.assertEqual(read(0, 16384), -1)
            with self.assertRaises(SSL.ZeroReturnError):
                server.recv(1000)

    def test_bio_reader_and_whole_writes(self):
        """The send BIO read into our own buffer, and one SSL_write for many records:
        what the peer decrypts is what was written, in order."""
        for version in (SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION):
            server, client = _handshake(_server_context(version),
                                        SSL.Context(SSL.TLS_METHOD))
            buffer, read = openssl.bio_reader(server, 70000)
            self.assertEqual(read(), 0)
            openssl.whole_writes(server)
            data = bytes(range(256)) * 1000         # 256,000 bytes: 16 records
            self.assertEqual(server.send(data), len(data))
            got = []
            while True:
                n = read()
                if not n:
                    break
                client.bio_write(bytes(buffer[:n]))
                while True:
                    try:
                        got.append(client.recv(65536))
                    except SSL.WantReadError:
                        break
            self.assertEqual(b"".join(got), data)


class _Plain(protocol.Protocol):
    def __init__(self):
        self.lost = defer.Deferred()

    def connectionLost(self, reason):
        self.lost.callback(None)


class TwistedTLSTests(unittest.TestCase):
    """A real loopback TCP connection whose connecting side is the TLS server (as on an
    active-mode data connection), started by ftps.start_tls through the shim."""

    @defer.inlineCallbacks
    def setUp(self):
        self.listening_side = _Plain()
        connected = defer.Deferred()

        class Factory(protocol.Factory):
            def buildProtocol(factory, addr):
                reactor.callLater(0, connected.callback, None)
                return self.listening_side
        port = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.connecting_side = _Plain()
        yield protocol.ClientCreator(reactor, lambda: self.connecting_side).connectTCP(
            "127.0.0.1", port.getHost().port)
        yield connected
        self.tcp = self.connecting_side.transport
        shaken = defer.Deferred()
        # The accepting side is the TLS client here.
        self.listening_side.transport.startTLS(ssl.CertificateOptions(), normal=False)
        ftps.start_tls(self.tcp, _server_context(), 10, reactor, shaken.callback,
                       lambda why: shaken.errback(AssertionError(why)))
        self.conn = yield shaken
        self.addCleanup(self._close)

    def _close(self):
        self.tcp.abortConnection()
        self.listening_side.transport.abortConnection()
        return defer.DeferredList([self.connecting_side.lost, self.listening_side.lost])

    def test_server_side_on_tcp_client(self):
        self.assertFalse(self.conn.get_shutdown())
        self.assertIs(self.tcp.getHandle(), self.conn)
        self.assertTrue(ISSLTransport.providedBy(self.tcp))

    def test_verify_live_on_real_layer(self):
        twisted_tls.verify_live(self.tcp.protocol)
        self.assertIsNone(twisted_tls.clearable(self.tcp, self.conn))

    def test_verify_live_refuses_other_objects(self):
        with self.assertRaises(CompatError):
            twisted_tls.verify_live(object())
        with self.assertRaises(CompatError):
            twisted_tls.verify_live(_Plain())

    def test_bulk_verify_live_on_real_layer(self):
        twisted_tls_bulk.verify_live(self.tcp.protocol)
        for other in (object(), _Plain(), self.tcp):
            with self.assertRaises(CompatError):
                twisted_tls_bulk.verify_live(other)

    @defer.inlineCallbacks
    def _peer_closed_at_loss(self, end):
        """``end()`` ends the connection from the client's side; what
        ``ftps.peer_closed`` says when the protected protocol hears of the loss."""
        seen = []
        ordinary = self.connecting_side.connectionLost

        def connectionLost(reason):
            seen.append(ftps.peer_closed(self.tcp))
            ordinary(reason)
        self.connecting_side.connectionLost = connectionLost
        end()
        yield self.connecting_side.lost
        return seen

    @defer.inlineCallbacks
    def test_close_notify_told_from_a_cut_stream(self):
        """A FIN with no close_notify before it: OpenSSL (OP_IGNORE_UNEXPECTED_EOF)
        marks the connection shut down by the peer all the same once the layer has fed
        it the EOF, which is why ``before_tcp_lost`` reads the mark before that."""
        # (_server_context sets the option, as the server's contexts do)
        seen = yield self._peer_closed_at_loss(
            lambda: self.listening_side.transport.socket.shutdown(socket.SHUT_WR))
        self.assertEqual(seen, [False])
        self.assertTrue(self.conn.get_shutdown() & SSL.RECEIVED_SHUTDOWN)

    @defer.inlineCallbacks
    def test_close_notify_before_the_loss(self):
        seen = yield self._peer_closed_at_loss(self.listening_side.transport.loseConnection)
        self.assertEqual(seen, [True])

    def test_before_tcp_lost_refuses_other_layers(self):
        for other in (object(), _Plain(), self.tcp):      # (self.tcp's is taken already)
            with self.assertRaises(CompatError):
                twisted_tls.before_tcp_lost(other, lambda: None)

    def test_read_rest_at_loss_refuses_other_transports(self):
        for other in (object(), _Plain(), self.listening_side):
            with self.assertRaises(CompatError):
                twisted_tls.read_rest_at_loss(other, lambda: True)
        twisted_tls.read_rest_at_loss(self.tcp, lambda: True)
        with self.assertRaises(CompatError):        # (taken now)
            twisted_tls.read_rest_at_loss(self.tcp, lambda: True)

    @defer.inlineCallbacks
    def test_read_rest_at_loss_reads_the_close_notify(self):
        """Reading paused (a busy disk), the peer's last record, its close_notify and
        a reset come; the reactor meets the reset through a write and loses the
        connection without reading.  What came before the reset reaches the protocol
        all the same, and the close_notify counts."""
        got = []
        self.connecting_side.dataReceived = got.append
        twisted_tls.read_rest_at_loss(
            self.tcp, lambda: not self.conn.get_shutdown() & SSL.RECEIVED_SHUTDOWN)
        self.tcp.pauseProducing()
        peer = self.listening_side.transport
        peer.write(b"the last bytes")
        peer.loseConnection()           # close_notify; ours will not come
        sock = self.tcp.socket
        yield _until(lambda: _queued(sock) and not twisted_tcp.has_queued(peer))
        peer.abortConnection()          # the reset
        hangup = select.poll()
        hangup.register(sock, 0)
        yield _until(lambda: hangup.poll(0))
        self.tcp.write(b"x" * 100000)   # where the server meets it
        seen = yield self._peer_closed_at_loss(lambda: None)
        self.assertEqual(seen, [True])
        self.assertEqual(b"".join(got), b"the last bytes")

    def test_start_needs_tls_client_default(self):
        class NoDefault:
            protocol = None

            def startTLS(self, *args, **kw):
                raise AssertionError("must not be reached")
        with self.assertRaises(CompatError):
            twisted_tls.start_server_tls(NoDefault(), None, _Plain())

    def test_clearable_names_the_obstacle(self):
        other = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
        self.assertIn("not the one AUTH started", twisted_tls.clearable(self.tcp, other))
        self.assertIn("no TLS connection", twisted_tls.clearable(self.tcp, None))
        client_side = self.listening_side.transport        # TLS, but not this conn
        self.assertIsNotNone(twisted_tls.clearable(client_side, self.conn))

    def test_take_back(self):
        layer = self.tcp.protocol
        inner = twisted_tls.take_back(self.tcp, self.conn)
        self.assertIs(inner, layer.wrappedProtocol)
        self.tcp.protocol = inner.inner
        self.assertFalse(self.tcp.TLS)
        self.assertFalse(ISSLTransport.providedBy(self.tcp))
        self.assertNotIn("getHandle", vars(self.tcp))
        self.assertIsNotNone(twisted_tls.clearable(self.tcp, self.conn))
        with self.assertRaises(CompatError):
            twisted_tls.take_back(self.tcp, self.conn)


_SIOCINQ = 0x541B


def _queued(sock) -> int:
    """Bytes waiting in the receive queue of the TCP socket ``sock`` (Linux)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCINQ, b"\0" * 4))[0]


def _until(predicate, timeout=10.0):
    """Fires once ``predicate()`` is true, checking at every reactor turn."""
    deadline = time.monotonic() + timeout

    def check():
        if predicate():
            return None
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        return task.deferLater(reactor, 0, check)
    return task.deferLater(reactor, 0, check)


def _gone(*args):
    raise CompatError("simulated: the private name is gone")


class FailClosedTests(FTPSMixin, unittest.TestCase):
    """When a shim's live check fails, FTPS refuses instead of guessing."""

    def _session(self, steps):
        def run():
            f = CCCFTP_TLS(context=self.context(), encoding="utf-8")
            f.connect("127.0.0.1", self.port, timeout=10)
            f.login(USER, PASSWORD)
            f.prot_p()
            out = []
            for step in steps:
                try:
                    out.append(step(f))
                except ftplib.Error as e:
                    out.append(str(e))
            out.append(f.sock.version() is not None)
            f.quit()
            return out
        return self.inThread(run)

    @defer.inlineCallbacks
    def test_ccc_refused_when_tls_layer_unknown(self):
        self.patch(twisted_tls, "verify_live", _gone)
        self.write("a.txt", b"hello\n")
        out = yield self._session([lambda f: f.ccc(), lambda f: f.voidcmd("NOOP"),
                                   lambda f: f.nlst()])
        self.assertEqual(out, ["534 Unwilling to accept security parameters",
                               "200 NOOP command successful", ["a.txt"],
                               True])         # the control connection still under TLS
        self.assertEqual(self.last("CCC").response_code, 534)

    @defer.inlineCallbacks
    def test_data_refused_when_reuse_unknown(self):
        self.patch(openssl, "verify_live", _gone)
        self.write("a.txt", b"hello\n")
        out = yield self._session([lambda f: f.nlst()])
        self.assertEqual(out, ["425 Unable to build data connection: Operation not "
                               "permitted", True])

# -*- test-case-name: tests.test_compat_tcp -*-
"""The Twisted TCP and txredisapi shims still find the private names they rely on."""

import socket

import txredisapi
from twisted.internet import defer, protocol, reactor
from twisted.trial import unittest

from ftpredis import _compat
from ftpredis._compat import CompatError, twisted_tcp
from ftpredis._compat import txredisapi as tx_shim
from ftpredis.redis.connection import _SinkProtocol


class _Hold(protocol.Protocol):
    def connectionMade(self):
        self.factory.made.callback(self)


class TwistedTCPTests(unittest.TestCase):

    @defer.inlineCallbacks
    def test_liveConnectionBuffers(self):
        """A real connected tcp.Connection keeps the second write buffer where
        has_queued looks, and has_queued sees bytes queued in it."""
        server = protocol.ServerFactory()
        server.protocol = _Hold
        server.made = defer.Deferred()
        port = reactor.listenTCP(0, server, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        client = protocol.ClientCreator(reactor, protocol.Protocol)
        c = yield client.connectTCP("127.0.0.1", port.getHost().port)
        self.addCleanup(c.transport.loseConnection)
        s = yield server.made
        self.addCleanup(s.transport.loseConnection)
        conn = s.transport
        twisted_tcp.verify_live(conn)
        self.assertFalse(twisted_tcp.has_queued(conn))
        self.assertEqual(twisted_tcp.send_now(conn, b"ab"), 2)
        conn.write(b"x" * 10)           # queued until the reactor's next write turn
        self.assertTrue(twisted_tcp.has_queued(conn))
        # Nothing may overtake the queued bytes.
        self.assertEqual(twisted_tcp.send_now(conn, b"cd"), -1)

    def test_goneBufferIsLoud(self):
        """Without the private buffer, verify_live raises CompatError naming it."""
        class Bare:
            dataBuffer = b""
        e = self.assertRaises(CompatError, twisted_tcp.verify_live, Bare())
        self.assertIn("_tempDataBuffer", str(e))
        self.assertRaises(CompatError, twisted_tcp.has_queued, Bare())
        self.assertRaises(CompatError, twisted_tcp.send_now, Bare(), b"x")

    def test_goneTLSMarkIsLoud(self):
        """Without startTLS's mark, verify_live raises CompatError naming it."""
        class NoMark:
            dataBuffer = b""
            _tempDataBuffer: list = []
        e = self.assertRaises(CompatError, twisted_tcp.verify_live, NoMark())
        self.assertIn("TLS", str(e))

    def test_rawAccept(self):
        """raw_accept returns a bare descriptor for a waiting connection."""
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        lst.setblocking(False)
        self.addCleanup(lst.close)
        self.assertRaises(BlockingIOError, twisted_tcp.raw_accept, lst)
        c = socket.create_connection(lst.getsockname())
        self.addCleanup(c.close)
        fd, addr = twisted_tcp.raw_accept(lst)
        self.addCleanup(socket.close, fd)
        self.assertIsInstance(fd, int)
        self.assertEqual(addr[0], "127.0.0.1")


class PortsTests(unittest.TestCase):

    def test_livePassivePort(self):
        """A real passive port (our tcp.Port subclass) keeps its number where the
        overrides put it."""
        from ftpredis._compat import twisted_ports
        port = twisted_ports.listen_quiet(reactor)(0, protocol.ServerFactory(),
                                                   interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        twisted_ports.verify_live(port)
        lo, hi = twisted_ports.EPHEMERAL
        self.assertTrue(lo <= port.getHost().port <= hi)


class ReactorTests(unittest.TestCase):

    def test_liveReactor(self):
        """The reactor the suite runs on (epoll, or ours) has the private state
        FTPRedisReactor.doPoll reads."""
        from ftpredis._compat import twisted_reactor
        from twisted.internet.epollreactor import EPollReactor
        self.assertIsInstance(reactor, EPollReactor)
        twisted_reactor.verify_live(reactor)

    def test_goneStateIsLoud(self):
        from ftpredis._compat import twisted_reactor
        e = self.assertRaises(CompatError, twisted_reactor.verify_live, object())
        self.assertIn("_poller", str(e))


class TxRedisApiTests(unittest.TestCase):

    def test_encoderOverridden(self):
        """The override replaces txredisapi's own method of that name (if txredisapi
        renamed it, ours would be dead code: verify() fails instead)."""
        _compat.resolve("txredisapi", "RedisProtocol._build_command")
        self.assertIs(_SinkProtocol._build_command, tx_shim.FastEncoding._build_command)

    def test_sameBytesAsTxredisapi(self):
        """For all-bytes commands the fast encoder writes what txredisapi writes; other
        arguments go to txredisapi's encoder."""
        ours = _SinkProtocol()
        theirs = txredisapi.RedisProtocol()
        for args in [(b"RPUSH", b"k", b'{"a":1}', b""), (b"PING",)]:
            self.assertEqual(ours._build_command(*args), theirs._build_command(*args))
        self.assertEqual(ours._build_command("SELECT", 3), theirs._build_command("SELECT", 3))

    def test_encodedSentAsItIs(self):
        """A command the sink encoded itself goes out unchanged."""
        ours = _SinkProtocol()
        data = theirs = txredisapi.RedisProtocol()._build_command(b"EVALSHA", b"x", b"0")
        self.assertIs(ours._build_command(tx_shim.Encoded(data)), theirs)

# -*- test-case-name: tests.test_sink -*-
"""Tests for ftpredis.redis.sink against real, private redis-servers (tests/support/redisserver.py).

Waits are "until a condition holds" with a generous bound that only stops a broken test
from hanging; nothing asserts how long anything took.
"""

import atexit
import os
import re
import shutil
import subprocess
import tempfile

from twisted.internet import defer, protocol, reactor
from twisted.trial import unittest

from ftpredis.config.model import RedisTarget
from ftpredis.redis.redislog import RedisLog
from ftpredis.redis.sink import RedisSink, SinkRegistry
from tests.support.redisserver import RedisServer, RedisServerMixin

from tests.support.waiting import waitFor


class SinkTestMixin(RedisServerMixin):
    def makeLog(self):
        d = self.mktemp()
        os.makedirs(d)
        os.chmod(d, 0o755)
        path = os.path.join(os.path.abspath(d), "redis.log")
        log = RedisLog(path)
        self.addCleanup(log.close)
        self.assertIsNone(log.error)
        return log

    def logText(self, log):
        with open(log.path, encoding="utf-8") as f:
            return f.read()

    def droppedInLog(self, log, reason):
        """Sum of N over the "dropped N records: <reason>" lines."""
        total = 0
        for m in re.finditer(r"dropped (\d+) records?: (.*)$", self.logText(log), re.M):
            if m.group(2) == reason:
                total += int(m.group(1))
        return total

    def makeSink(self, server="default", log=None, start=True, **kw):
        if server == "default":
            server = self.redis
        kw.setdefault("host", "127.0.0.1")
        kw.setdefault("port", server.port if server is not None else 6379)
        if "unix_path" in kw:
            kw.pop("host")
        target = RedisTarget(**kw)
        sink = RedisSink(target, [log] if log is not None else [])
        if start:
            sink.startService()
        self.addCleanup(lambda: sink.stopService() if sink.running else None)
        return sink

    def assertInvariant(self, sink):
        self.assertEqual(sink.pushed, sink.sent + sink.dropped + sink.buffered)


class DeliveryTests(SinkTestMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_orderSeveralKeys(self):
        """Records reach their keys complete and in push order."""
        log = self.makeLog()
        sink = self.makeSink(log=log)
        expected = {b"a": [], b"b": [], b"c:d": []}
        for i in range(3000):
            key = [b"a", b"b", b"c:d"][i % 3]
            value = b'{"n":%d}' % i
            expected[key].append(value)
            sink.push(key, value)
        yield waitFor(lambda: sink.sent == 3000, "3000 records sent")
        client = self.redis.client()
        for key, values in expected.items():
            self.assertEqual(client.lrange(key), values)
        self.assertEqual(client.keys(), [b"a", b"b", b"c:d"])
        self.assertEqual(len(client.keys("ftpredis:ledger:*", ledgers=True)), 1)
        self.assertEqual((sink.pushed, sink.sent, sink.dropped, sink.buffered), (3000, 3000, 0, 0))
        self.assertIn("connected to Redis 127.0.0.1:%d" % self.redis.port, self.logText(log))

    @defer.inlineCallbacks
    def test_later_keeps_order_with_push(self):
        """Events handed over with later() become records at the next pump, in the order
        they were handed over, interleaved correctly with direct pushes made before."""
        sink = self.makeSink()
        sink.push(b"k", b"0")

        def emit(event):
            sink.push(b"k", event)
        for i in range(1, 500):
            sink.later(emit, b"%d" % i)
        self.assertEqual(sink.pushed, 1)        # routed and rendered later, not now
        yield waitFor(lambda: sink.sent == 500, "500 records sent")
        self.assertEqual(self.redis.client().lrange(b"k"), [b"%d" % i for i in range(500)])
        self.assertInvariant(sink)

    @defer.inlineCallbacks
    def test_later_failing_emit_spares_the_others(self):
        """A routing error loses only its own event; it is logged, the rest is sent."""
        sink = self.makeSink()

        def emit(event):
            if event == b"bad":
                raise ValueError("boom")
            sink.push(b"k", event)
        for v in (b"1", b"bad", b"2"):
            sink.later(emit, v)
        yield waitFor(lambda: sink.sent == 2, "2 records sent")
        self.assertEqual(self.redis.client().lrange(b"k"), [b"1", b"2"])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    @defer.inlineCallbacks
    def test_later_then_stop_flushes(self):
        """Events still waiting for their pump when the sink stops are routed, sent and
        acknowledged before the stop completes, even before the first connection."""
        sink = self.makeSink()
        for i in range(10):
            sink.later(lambda e: sink.push(b"k", e), b"%d" % i)
        yield sink.stopService()
        self.assertEqual(self.redis.client().lrange(b"k"), [b"%d" % i for i in range(10)])
        self.assertEqual((sink.sent, sink.buffered), (10, 0))

    def test_later_after_stop_counts_drop(self):
        """After the stop, an event is routed at once and its record counted as dropped."""
        sink = self.makeSink(start=False)
        sink._finishStop()
        sink.later(lambda e: sink.push(b"k", e), b"1")
        self.assertEqual((sink.pushed, sink.dropped, sink.buffered), (1, 1, 0))

    @defer.inlineCallbacks
    def test_batching(self):
        """Records pushed while a batch is pending share one RPUSH (1000 values at most)."""
        sink = self.makeSink()
        for i in range(5000):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: sink.sent == 5000, "5000 sent")
        client = self.redis.client()
        self.assertEqual(client.llen(b"k"), 5000)
        self.assertEqual(client.commandstats()["rpush"], 5)
        # a trickle after that: the first record goes at once, later ones batch
        for i in range(5000, 5100):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: sink.sent == 5100, "5100 sent")
        self.assertEqual(client.lrange(b"k"), [b"%d" % i for i in range(5100)])
        self.assertLessEqual(client.commandstats()["rpush"], 7)

    @defer.inlineCallbacks
    def test_pool(self):
        """With a pool of several connections, keys go out in parallel, each in order."""
        sink = self.makeSink(start=False)
        sink.poolsize = 3
        sink.startService()
        keys = [b"k%d" % i for i in range(4)]
        for i in range(8000):
            sink.push(keys[i % 4], b"%d" % i)
        yield waitFor(lambda: sink.sent == 8000, "8000 sent")
        client = self.redis.client()
        for j, key in enumerate(keys):
            self.assertEqual(client.lrange(key), [b"%d" % i for i in range(j, 8000, 4)])
        self.assertEqual(len(sink._ready), 3)

    @defer.inlineCallbacks
    def test_lazyConnect(self):
        """A running sink with nothing to send opens no connection."""
        sink = self.makeSink()
        other = self.makeSink()
        other.push(b"other", b"v")
        # a negative check: another sink connecting and getting an answer proves the reactor
        # ran long enough for this one to have connected too, had it meant to
        yield waitFor(lambda: other.sent == 1, "the other sink's record sent")
        self.assertIsNone(sink._factory)
        self.assertFalse(sink.connected)
        sink.push(b"k", b"v")
        yield waitFor(lambda: sink.sent == 1)
        self.assertTrue(sink.connected)

    @defer.inlineCallbacks
    def test_downThenUp(self):
        """Records pushed while Redis is down arrive, in order, once it is up."""
        log = self.makeLog()
        port = self.redis.port
        self.redis.stop()
        sink = self.makeSink(log=log, port=port)
        for i in range(100):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: "error connecting" in self.logText(log), "connect error logged")
        self.assertIn("error connecting to Redis 127.0.0.1:%d: Connection refused" % port,
                      self.logText(log))
        self.assertEqual((sink.sent, sink.buffered), (0, 100))
        for i in range(100, 150):
            sink.push(b"k", b"%d" % i)
        self.redis.start(same_port=True)
        yield waitFor(lambda: sink.sent == 150, "150 sent")
        self.assertEqual(self.redis.client().lrange(b"k"), [b"%d" % i for i in range(150)])
        self.assertInvariant(sink)

    @defer.inlineCallbacks
    def test_restartMidStream(self):
        """Redis killed and restarted mid-stream: nothing lost, order kept (a re-sent batch
        may appear twice: at-least-once)."""
        self.redis.stop()
        self.redis.extra_args = ("--appendonly", "yes", "--appendfsync", "always")
        self.redis.start(same_port=True)
        log = self.makeLog()
        sink = self.makeSink(log=log)
        expected = []

        def pushSome(n):
            for _ in range(n):
                v = b"%d" % len(expected)
                expected.append(v)
                sink.push(b"k", v)

        pushSome(500)
        yield waitFor(lambda: sink.sent == 500, "the first records sent")
        # stopped, Redis holds the next batch unanswered: the kill lands mid-batch
        self.redis.pause()
        pushSome(200)
        yield waitFor(lambda: sink.batches_in_flight, "a batch in flight")
        self.redis.kill()
        pushSome(200)
        yield waitFor(lambda: "lost connection" in self.logText(log), "disconnect logged")
        pushSome(100)
        self.redis.start(same_port=True)
        pushSome(100)
        yield waitFor(lambda: sink.sent == len(expected), "all sent")
        got = self.redis.client().lrange(b"k")
        self.assertEqual(got, expected)
        self.assertEqual(set(got), set(expected))
        self.assertInvariant(sink)

    @defer.inlineCallbacks
    def test_paused(self):
        """A SIGSTOPped Redis: push stays non-blocking, the buffer grows, the io timeout
        recycles the connection, and after SIGCONT everything arrives in order."""
        log = self.makeLog()
        sink = self.makeSink(log=log, io_timeout_ms=200, connect_timeout_ms=200)
        expected = [b"%d" % i for i in range(300)]
        for v in expected[:100]:
            sink.push(b"k", v)
        yield waitFor(lambda: sink.sent == 100)
        self.redis.pause()
        for v in expected[100:200]:
            sink.push(b"k", v)
        self.assertEqual(sink.buffered, 100)
        yield waitFor(lambda: "no reply from Redis" in self.logText(log), "io timeout logged")
        for v in expected[200:]:
            sink.push(b"k", v)
        self.assertEqual(sink.buffered, 200)
        self.redis.resume()
        yield waitFor(lambda: sink.sent == 300, "300 sent")
        got = self.redis.client().lrange(b"k")
        self.assertEqual(got, expected)
        self.assertEqual(set(got), set(expected))


class AuthTests(SinkTestMixin, unittest.TestCase):
    redis_autostart = False

    @defer.inlineCallbacks
    def test_password(self):
        server = self.startRedis(password="s3cret")
        sink = self.makeSink(server, password="s3cret")
        sink.push(b"k", b"v")
        yield waitFor(lambda: sink.sent == 1)
        self.assertEqual(server.client().lrange(b"k"), [b"v"])

    @defer.inlineCallbacks
    def test_wrongPasswordKeepsTrying(self):
        """AUTH failure is logged and retried (txredisapi #146 would stop for good)."""
        server = self.startRedis(password="s3cret")
        log = self.makeLog()
        sink = self.makeSink(server, log=log, password="wrong")
        sink.push(b"k", b"v")
        yield waitFor(lambda: "WRONGPASS" in self.logText(log), "auth error logged")
        self.assertIn("error connecting to Redis 127.0.0.1:%d: could not auth: WRONGPASS"
                      % server.port, self.logText(log))
        before = int(server.client().info("stats")["total_connections_received"])
        yield waitFor(lambda: int(server.client().info("stats")["total_connections_received"])
                      > before + 2, "more attempts")
        self.assertEqual((sink.sent, sink.buffered), (0, 1))
        # the same error is not written again and again
        self.assertEqual(self.logText(log).count("WRONGPASS"), 1)

    @defer.inlineCallbacks
    def test_aclUser(self):
        """username + password: AUTH user pass (Redis 6 ACL), not one-word AUTH."""
        server = self.startRedis(password="defaultpw")
        server.client().command("ACL", "SETUSER", "ftplog", "on", ">ftplogpw", "~ftp:*",
                                "+rpush", "+ping", "+select")
        sink = self.makeSink(server, username="ftplog", password="ftplogpw")
        sink.push(b"ftp:events", b"1")
        sink.push(b"ftp:events", b"2")
        yield waitFor(lambda: sink.sent == 2)
        self.assertEqual(server.client().lrange(b"ftp:events"), [b"1", b"2"])

    @defer.inlineCallbacks
    def test_aclNoPermission(self):
        """An error reply (NOPERM) keeps the batch and logs the error."""
        server = self.startRedis(password="defaultpw")
        server.client().command("ACL", "SETUSER", "ftplog", "on", ">ftplogpw", "~ftp:*",
                                "+rpush")
        log = self.makeLog()
        sink = self.makeSink(server, log=log, username="ftplog", password="ftplogpw")
        sink.push(b"other", b"1")
        yield waitFor(lambda: "error appending" in self.logText(log), "NOPERM logged")
        self.assertIn("error appending 1 records to 'other': NOPERM", self.logText(log))
        # no +evalsha: the exactly-once script is refused, plain RPUSH said so first
        self.assertIn("refused the ledger script (NOPERM", self.logText(log))
        self.assertEqual((sink.sent, sink.buffered, sink.dropped), (0, 1, 0))

    @defer.inlineCallbacks
    def test_db(self):
        server = self.startRedis()
        sink = self.makeSink(server, db=3)
        sink.push(b"k", b"v")
        yield waitFor(lambda: sink.sent == 1)
        self.assertEqual(server.client(db=3).lrange(b"k"), [b"v"])
        self.assertEqual(server.client().keys(), [])

    @defer.inlineCallbacks
    def test_dbAfterReconnect(self):
        """Every new connection does AUTH and SELECT again (ProFTPD does not)."""
        server = self.startRedis(password="pw")
        sink = self.makeSink(server, password="pw", db=5)
        sink.push(b"k", b"1")
        yield waitFor(lambda: sink.sent == 1)
        server.restart()
        sink.push(b"k", b"2")
        yield waitFor(lambda: sink.sent == 2)
        self.assertEqual(server.client(db=5).lrange(b"k"), [b"2"])
        self.assertEqual(server.client().keys(), [])

    @defer.inlineCallbacks
    def test_unixSocket(self):
        server = self.startRedis(unixsocket=True, password="pw")
        sink = self.makeSink(server, unix_path=server.unix_path, password="pw", db=1)
        for i in range(10):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: sink.sent == 10)
        self.assertEqual(server.client(db=1).lrange(b"k"), [b"%d" % i for i in range(10)])
        self.assertEqual(sink.address, server.unix_path)


class RedisErrorTests(SinkTestMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_errorReplyKeepsRecords(self):
        """A key that Redis refuses (WRONGTYPE) keeps its records, in order, until the
        problem is fixed; other keys are not held up."""
        log = self.makeLog()
        client = self.redis.client()
        client.command("SET", "bad", "a string")
        sink = self.makeSink(log=log)
        for i in range(5):
            sink.push(b"bad", b"b%d" % i)
            sink.push(b"good", b"g%d" % i)
        yield waitFor(lambda: sink.sent == 5, "good key sent")
        yield waitFor(lambda: "WRONGTYPE" in self.logText(log), "error logged")
        self.assertIn("error appending 5 records to 'bad': WRONGTYPE", self.logText(log))
        for i in range(5, 8):
            sink.push(b"bad", b"b%d" % i)
            sink.push(b"good", b"g%d" % i)
        # Acknowledged, not only in Redis: the reply to the last batch may still be on
        # its way when LLEN already counts it (CI, lowest versions: buffered was 11).
        yield waitFor(lambda: sink.sent == 8, "good key complete")
        self.assertEqual(client.llen(b"good"), 8)
        self.assertEqual(sink.buffered, 8)
        client.command("DEL", "bad")
        yield waitFor(lambda: sink.sent == 16, "bad key sent")
        self.assertEqual(client.lrange(b"bad"), [b"b%d" % i for i in range(8)])
        self.assertEqual(client.lrange(b"good"), [b"g%d" % i for i in range(8)])


class _Silent(protocol.Protocol):
    """Accepts, reads, never answers: a Redis that hangs."""

    def connectionMade(self):
        self.factory.connections += 1
        self.factory.live.add(self)

    def connectionLost(self, reason):
        self.factory.live.discard(self)


class _Garbage(_Silent):
    """Answers every read with a line that is not UTF-8: a peer that is not Redis."""

    def dataReceived(self, data):
        self.transport.write(b"\xff\xfe\r\n")


class _AlwaysOK(_Silent):
    """Answers every command of Redis's protocol with +OK, EVALSHA included: a peer that
    speaks the protocol but is not Redis (a proxy, a mock left running)."""

    _buf = b""

    def dataReceived(self, data):
        self._buf += data
        while True:
            end = self._command_end(self._buf)
            if end is None:
                return
            self._buf = self._buf[end:]
            self.transport.write(b"+OK\r\n")

    @staticmethod
    def _command_end(buf):
        """Where the first whole command of ``buf`` (an array of bulk strings) ends."""
        i = buf.find(b"\r\n")
        if i < 0 or not buf.startswith(b"*"):
            return None
        pos = i + 2
        for _ in range(int(buf[1:i])):
            j = buf.find(b"\r\n", pos)
            if j < 0:
                return None
            pos = j + 2 + int(buf[pos + 1:j]) + 2
            if pos > len(buf):
                return None
        return pos


class BlackholeTests(SinkTestMixin, unittest.TestCase):
    redis_autostart = False

    def peer(self, kind, abort_at_end=True):
        """A listening peer on loopback whose connections are ``kind`` (counted in
        ``factory.connections``, open ones in ``factory.live``): ``(port, factory)``."""
        f = protocol.ServerFactory()
        f.protocol = kind
        f.connections = 0
        f.live = set()
        port = reactor.listenTCP(0, f, interface="127.0.0.1")
        self.addCleanup(lambda: port.stopListening() if port.connected else None)
        if abort_at_end:
            self.addCleanup(lambda: [c.transport.abortConnection() for c in list(f.live)])
        return port, f

    @defer.inlineCallbacks
    def test_acceptsNeverAnswers(self):
        """A peer that accepts and never answers: the io timeout recycles the connection,
        nothing hangs, and once a real Redis listens on that port the records arrive."""
        port, f = self.peer(_Silent, abort_at_end=False)
        portno = port.getHost().port
        log = self.makeLog()
        sink = self.makeSink(None, log=log, port=portno, io_timeout_ms=100, connect_timeout_ms=100)
        for i in range(5):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: f.connections >= 3, "three connections")
        self.assertEqual((sink.sent, sink.buffered), (0, 5))
        # the first PING on a new connection is not answered: never used for records
        self.assertIn("error connecting to Redis 127.0.0.1:%d: no reply to PING within 0.1s"
                      % portno, self.logText(log))
        yield port.stopListening()
        for conn in list(f.live):
            conn.transport.abortConnection()
        server = RedisServer(port=portno)
        self.addCleanup(server.cleanup)
        server.start()
        yield waitFor(lambda: sink.sent == 5, "sent to the real Redis")
        got = server.client().lrange(b"k")
        self.assertEqual(got, [b"%d" % i for i in range(5)])


    @defer.inlineCallbacks
    def test_tlsHandshakeNeverAnswered(self):
        """TLS to a peer that never answers the handshake: bounded, logged, retried."""
        port, f = self.peer(_Silent)
        log = self.makeLog()
        sink = self.makeSink(None, log=log, port=port.getHost().port, ssl=True,
                             io_timeout_ms=100, connect_timeout_ms=100)
        sink.push(b"k", b"v")
        yield waitFor(lambda: f.connections >= 2, "a second attempt")
        self.assertIn("error connecting to Redis 127.0.0.1:%d: TLS handshake timed out"
                      % port.getHost().port, self.logText(log))
        self.assertEqual((sink.sent, sink.buffered), (0, 1))


    @defer.inlineCallbacks
    def test_answersNotRedisProtocol(self):
        """A peer that answers bytes that are not Redis's protocol (not even UTF-8): each
        attempt ends with a clear line in RedisLog, not a traceback in twistd's log, and
        the records wait for a real Redis."""
        port, f = self.peer(_Garbage)
        portno = port.getHost().port
        log = self.makeLog()
        sink = self.makeSink(None, log=log, port=portno, io_timeout_ms=100, connect_timeout_ms=100)
        sink.push(b"k", b"v")
        yield waitFor(lambda: f.connections >= 2, "a second attempt")
        self.assertIn("error connecting to Redis 127.0.0.1:%d: a reply that is not Redis's "
                      "protocol (invalid UTF-8)" % portno, self.logText(log))
        self.assertEqual((sink.sent, sink.buffered), (0, 1))
        # trial fails the test on its own if an unhandled error was logged meanwhile

    @defer.inlineCallbacks
    def test_answersOKToTheLedgerScript(self):
        """A peer that answers +OK to everything, the ledger script included, has not
        stored the batch: it is not counted as sent, RedisLog says why, and the records
        wait in the buffer for a real Redis."""
        port, f = self.peer(_AlwaysOK)
        portno = port.getHost().port
        log = self.makeLog()
        sink = self.makeSink(None, log=log, port=portno, io_timeout_ms=1000,
                             connect_timeout_ms=1000)
        for i in range(3):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: "not its two counts" in self.logText(log), "the refusal logged")
        yield waitFor(lambda: f.connections >= 2, "a second attempt")
        self.assertIn("error appending 3 records to 'k': the ledger script's reply was 'OK', "
                      "not its two counts (is the server at RedisServer a Redis?)",
                      self.logText(log))
        self.assertEqual((sink.sent, sink.buffered, sink.dropped), (0, 3, 0))


class NoReconnectTests(SinkTestMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_noReconnect(self):
        """After a broken connection: the in-flight batch and every later record is dropped
        and counted; RedisLog says so."""
        log = self.makeLog()
        sink = self.makeSink(log=log, no_reconnect=True)
        for i in range(10):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: sink.sent == 10)
        self.redis.pause()
        for i in range(5):
            sink.push(b"k", b"late%d" % i)
        yield waitFor(lambda: sink.batches_in_flight, "batch in flight")
        self.redis.kill()
        yield waitFor(lambda: "NoReconnect" in self.logText(log), "NoReconnect logged")
        self.assertEqual((sink.sent, sink.dropped, sink.buffered), (10, 5, 0))
        self.assertIn("5 buffered records dropped", self.logText(log))
        self.redis.start(same_port=True)
        for i in range(3):
            sink.push(b"k", b"after%d" % i)
        self.assertEqual((sink.pushed, sink.sent, sink.dropped, sink.buffered), (18, 10, 8, 0))
        yield sink.stopService()
        reason = "connection to Redis 127.0.0.1:%d lost and RedisOptions NoReconnect is set" \
            % self.redis.port
        self.assertEqual(self.droppedInLog(log, reason), 3)
        self.assertEqual(self.redis.client().keys(), [])

    @defer.inlineCallbacks
    def test_noReconnectRetriesFirstConnect(self):
        """NoReconnect still retries until the first connection is up (as ProFTPD does)."""
        port = self.redis.port
        self.redis.stop()
        log = self.makeLog()
        sink = self.makeSink(log=log, no_reconnect=True, port=port)
        sink.push(b"k", b"v")
        yield waitFor(lambda: "error connecting" in self.logText(log), "a failed first connect")
        self.redis.start(same_port=True)
        yield waitFor(lambda: sink.sent == 1)
        self.assertEqual(self.redis.client().lrange(b"k"), [b"v"])


class OverflowAndStopTests(SinkTestMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_overflowDropsNewest(self):
        log = self.makeLog()
        port = self.redis.port
        self.redis.stop()
        sink = self.makeSink(log=log, port=port, buffer_size=10)
        sink.drop_report_interval = 0.05
        for i in range(25):
            sink.push(b"k", b"%d" % i)
        self.assertEqual((sink.pushed, sink.dropped, sink.buffered), (25, 15, 10))
        reason = "buffer full (RedisBufferSize 10)"
        yield waitFor(lambda: self.droppedInLog(log, reason) == 15, "drop report")
        self.assertIn("dropped 15 records: buffer full (RedisBufferSize 10)", self.logText(log))
        self.redis.start(same_port=True)
        yield waitFor(lambda: sink.sent == 10)
        self.assertEqual(self.redis.client().lrange(b"k"), [b"%d" % i for i in range(10)])
        sink.push(b"k", b"later")
        yield waitFor(lambda: sink.sent == 11)
        self.assertInvariant(sink)

    @defer.inlineCallbacks
    def test_stopFlushes(self):
        """stopService sends what is buffered before it disconnects."""
        log = self.makeLog()
        sink = self.makeSink(log=log)
        for i in range(2500):
            sink.push(b"k%d" % (i % 2), b"%d" % i)
        yield sink.stopService()
        self.assertEqual((sink.sent, sink.buffered), (2500, 0))
        client = self.redis.client()
        self.assertEqual(client.llen(b"k0") + client.llen(b"k1"), 2500)
        self.assertNotIn("unsent", self.logText(log))
        self.assertFalse(sink.connected)

    @defer.inlineCallbacks
    def test_stopBoundedWhenDown(self):
        """With Redis down, stopService still ends and reports what was left."""
        log = self.makeLog()
        port = self.redis.port
        self.redis.stop()
        sink = self.makeSink(log=log, port=port, io_timeout_ms=100, connect_timeout_ms=100)
        for i in range(7):
            sink.push(b"k", b"%d" % i)
        yield sink.stopService()
        self.assertIn("stopping: 7 records left unsent to Redis 127.0.0.1:%d" % port,
                      self.logText(log))
        sink.push(b"k", b"x")
        self.assertEqual(sink.dropped, 1)
        self.assertInvariant(sink)


class RegistryTests(SinkTestMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_sharedPerTarget(self):
        reg = SinkRegistry()
        log1, log2 = self.makeLog(), self.makeLog()
        t1 = RedisTarget(host="127.0.0.1", port=self.redis.port)
        t2 = RedisTarget(host="127.0.0.1", port=self.redis.port)
        t3 = RedisTarget(host="127.0.0.1", port=self.redis.port, db=2)
        a = reg.get(t1, [log1])
        b = reg.get(t2, [log2, log1])
        c = reg.get(t3, [])
        self.assertIs(a, b)
        self.assertIsNot(a, c)
        self.assertEqual(a.logs, [log1, log2])
        self.assertEqual(set(reg), {a, c})
        reg.startService()
        self.assertTrue(a.running and c.running)
        a.push(b"k", b"1")
        c.push(b"k", b"2")
        yield waitFor(lambda: a.sent == 1 and c.sent == 1)
        yield reg.stopService()
        self.assertFalse(a.running)
        self.assertEqual(self.redis.client().lrange(b"k"), [b"1"])
        self.assertEqual(self.redis.client(db=2).lrange(b"k"), [b"2"])
        self.assertIn("connected to Redis", self.logText(log2))


def _openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class TLSTests(SinkTestMixin, unittest.TestCase):
    redis_autostart = False

    _certs = {}

    def makeCerts(self, san="DNS:localhost,IP:127.0.0.1"):
        # RSA key generation is the slow part of these tests: once per SAN and run
        if san in TLSTests._certs:
            return TLSTests._certs[san]
        d = tempfile.mkdtemp(prefix="ftpredis-certs-")
        atexit.register(shutil.rmtree, d, True)
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                 "-out", "ca.crt", "-days", "2", "-subj", "/CN=Test Redis CA", cwd=d)
        for name in ("server", "client"):
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                     "-out", name + ".csr", "-subj", "/CN=localhost", cwd=d)
            with open(os.path.join(d, "san.ext"), "w") as f:
                f.write("subjectAltName=%s\n" % san)
            _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                     "-CAcreateserial", "-out", name + ".crt", "-days", "2",
                     "-extfile", "san.ext", cwd=d)
        TLSTests._certs[san] = d
        return d

    def startTLSRedis(self, certs, auth_clients="yes", **kw):
        return self.startRedis(
            "--tls-cert-file", os.path.join(certs, "server.crt"),
            "--tls-key-file", os.path.join(certs, "server.key"),
            "--tls-ca-cert-file", os.path.join(certs, "ca.crt"),
            "--tls-auth-clients", auth_clients, tls_port=True, **kw)

    @defer.inlineCallbacks
    def test_tlsVerifiedWithClientCert(self):
        certs = self.makeCerts()
        server = self.startTLSRedis(certs, password="pw")
        sink = self.makeSink(server, port=server.tls_port, host="localhost", password="pw", db=2,
                             ssl=True, ssl_ca=os.path.join(certs, "ca.crt"),
                             ssl_cert=os.path.join(certs, "client.crt"),
                             ssl_key=os.path.join(certs, "client.key"))
        sink.push(b"k", b"secure")
        yield waitFor(lambda: sink.sent == 1)
        self.assertEqual(server.client(db=2).lrange(b"k"), [b"secure"])

    @defer.inlineCallbacks
    def test_tlsWrongHostRefused(self):
        """A certificate for another name is refused (service_identity), and said so."""
        certs = self.makeCerts(san="DNS:redis.example")
        server = self.startTLSRedis(certs, auth_clients="no")
        log = self.makeLog()
        sink = self.makeSink(server, log=log, port=server.tls_port, host="127.0.0.1",
                             ssl=True, ssl_ca=os.path.join(certs, "ca.crt"))
        sink.push(b"k", b"v")
        yield waitFor(lambda: "error connecting" in self.logText(log), "TLS error logged")
        self.assertIn("error connecting to Redis 127.0.0.1:%d: TLS error: VerificationError"
                      % server.tls_port, self.logText(log))
        self.assertNotIn("connected to Redis", self.logText(log))
        self.assertEqual((sink.sent, sink.buffered), (0, 1))

    @defer.inlineCallbacks
    def test_tlsUnbuildableNoPlaintext(self):
        """A TLS context that cannot be built is an error, never a plaintext connection."""
        server = self.startRedis()
        log = self.makeLog()
        before = int(server.client().info("stats")["total_connections_received"])
        sink = self.makeSink(server, log=log, ssl=True, ssl_ca="/nonexistent/ca.crt")
        sink.push(b"k", b"v")
        yield waitFor(lambda: "error connecting" in self.logText(log), "TLS error logged")
        self.assertIn("error connecting to Redis 127.0.0.1:%d: cannot set up the connection: "
                      "No such file or directory: '/nonexistent/ca.crt'" % server.port,
                      self.logText(log))
        after = int(server.client().info("stats")["total_connections_received"])
        self.assertEqual(after, before + 1)       # only the INFO call just above
        self.assertEqual((sink.sent, sink.buffered), (0, 1))


class PingTests(SinkTestMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_idleConnectionPinged(self):
        """An idle connection to a Redis that stopped answering is noticed by the periodic
        PING and replaced (without any record to send), not at the next record."""
        log = self.makeLog()
        sink = self.makeSink(log=log, io_timeout_ms=200, connect_timeout_ms=200, start=False)
        sink.ping_interval = 0.1
        sink.startService()
        sink.push(b"k", b"1")
        yield waitFor(lambda: sink.sent == 1)
        first = sink._ready[0]
        self.redis.pause()
        yield waitFor(lambda: "no reply to PING" in self.logText(log), "PING timeout logged")
        self.assertIn("no reply to PING from Redis 127.0.0.1:%d within 0.2s" % self.redis.port,
                      self.logText(log))
        self.assertNotIn(first, sink._ready)
        self.redis.resume()
        yield waitFor(lambda: sink.connected, "a new connection, with nothing to send")
        self.assertIsNot(sink._ready[0], first)
        sink.push(b"k", b"2")
        yield waitFor(lambda: sink.sent == 2)
        self.assertEqual(self.redis.client().lrange(b"k"), [b"1", b"2"])


class BatchSplitTests(unittest.TestCase):
    """A key's queue goes out in batches of at most BATCH_MAX_RECORDS records and about
    BATCH_MAX_BYTES, in order, every record once."""

    def batches(self, values):
        from twisted.internet import task
        from ftpredis.redis import sink as sink_mod
        sink = RedisSink(RedisTarget(host="127.0.0.1", buffer_size=10 ** 6),
                         reactor=task.Clock())
        for value in values:
            sink.push(b"k", value)
        out = []
        sink._evalBatch = lambda conn, key, mode, batch: (out.append(batch)
                                                          or defer.Deferred())
        while b"k" in sink._queues:
            sink._send(object(), b"k")
        self.assertEqual([value for batch in out for _seq, value in batch], values)
        self.assertEqual([seq for batch in out for seq, _value in batch],
                         list(range(1, len(values) + 1)))
        self.assertTrue(all(len(b) <= sink_mod.BATCH_MAX_RECORDS for b in out))
        return [len(b) for b in out]

    def test_byCount(self):
        values = [b"%d" % i for i in range(2500)]
        self.assertEqual(self.batches(values), [1000, 1000, 500])

    def test_byBytes(self):
        big = b"x" * (1024 * 1024 + 1)
        values = [big, b"a", big, big, big, b"b", big * 5, b"c"]
        self.assertEqual(self.batches(values), [5, 2, 1])

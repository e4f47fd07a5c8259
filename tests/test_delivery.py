# -*- test-case-name: tests.test_delivery -*-
"""Exactly once (ftpredis.redis.ledger) and RedisLogTarget list|stream|channel, against
real redis-servers, sentinels and twistd processes: a reply lost after Redis applied a
batch, a Sentinel failover of a stream, per-user stream keys read with XREADGROUP, a
channel read with SUBSCRIBE, a trimmed list with a TTL, over TLS, and the config's
errors."""

import json
import os
import socket

from twisted.internet import defer, protocol, reactor, task, threads
from twisted.trial import unittest

from ftpredis.config import ConfigErrors, load_config
from ftpredis.config.model import LogTarget, RedisTarget
from ftpredis.redis import spool as _spool
from ftpredis.redis.sink import RedisSink
from tests import test_sentinel, test_sink
from tests.support import e2e
from tests.support.twistdrun import TwistdMixin
from tests.support.waiting import waitFor
from tests.test_sentinel import NAME, SentinelMixin


# -- a proxy that loses one reply ------------------------------------------------------

class _Upstream(protocol.Protocol):
    def __init__(self, down):
        self.down = down

    def connectionMade(self):
        self.down.upstream = self
        if self.down.pending:
            self.transport.write(b"".join(self.down.pending))
            self.down.pending = []

    def dataReceived(self, data):
        self.down.fromRedis(data)

    def connectionLost(self, reason):
        if self.down.transport.connected:
            self.down.transport.loseConnection()


class _Downstream(protocol.Protocol):
    """Client side: forwards both ways; when the factory's ``cut`` is set, the reply to
    the next script call is swallowed and both connections dropped (Redis applied it)."""

    upstream = None

    def connectionMade(self):
        self.pending = []
        self.scripted = False
        protocol.ClientCreator(reactor, _Upstream, self).connectTCP(
            "127.0.0.1", self.factory.redis_port)

    def dataReceived(self, data):
        if b"EVAL" in data:
            self.scripted = True
        if self.upstream is None:
            self.pending.append(data)
        else:
            self.upstream.transport.write(data)

    def fromRedis(self, data):
        if self.factory.cut and self.scripted:
            self.factory.cut = False
            self.factory.cuts += 1
            self.transport.abortConnection()
            self.upstream.transport.abortConnection()
            return
        self.scripted = False
        self.transport.write(data)

    def connectionLost(self, reason):
        if self.upstream is not None and self.upstream.transport.connected:
            self.upstream.transport.loseConnection()


class LostReplyTests(test_sink.SinkTestMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_lostReplyAppliedOnce(self):
        """Redis applied a batch and its reply was lost: the sink sends it again on a
        new connection and the ledger applies it once (before: twice)."""
        f = protocol.Factory.forProtocol(_Downstream)
        f.redis_port, f.cut, f.cuts = self.redis.port, False, 0
        port = reactor.listenTCP(0, f, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        log = self.makeLog()
        sink = self.makeSink(None, log=log, port=port.getHost().port)
        expected = [b"%d" % i for i in range(300)]
        for v in expected[:100]:
            sink.push(b"k", v)
        yield waitFor(lambda: sink.sent == 100, "100 sent")
        f.cut = True
        for v in expected[100:]:
            sink.push(b"k", v)
        yield waitFor(lambda: sink.sent == 300, "300 sent")
        self.assertEqual(f.cuts, 1)
        self.assertEqual(self.redis.client().lrange(b"k"), expected)
        self.assertGreater(sink.duplicates_avoided, 0)
        self.assertIn("lost connection", self.logText(log))


# -- RedisLogTarget through the sink -----------------------------------------------------

def _subscribe(port, channel, count, ready):
    """Read ``count`` messages of ``channel`` with a plain SUBSCRIBE (what a live
    consumer does); ``ready`` is set once subscribed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel), channel))

    def reply():
        line = f.readline().rstrip(b"\r\n")
        if line[:1] == b"*":
            return [reply() for _ in range(int(line[1:]))]
        if line[:1] == b"$":
            data = f.read(int(line[1:]) + 2)
            return data[:-2]
        return line[1:]
    reply()                             # the subscribe confirmation
    reactor.callFromThread(ready.callback, None)
    got = [reply()[2] for _ in range(count)]
    s.close()
    return got


class TargetTests(test_sink.SinkTestMixin, unittest.TestCase):

    def targets(self, *rules):
        return tuple(LogTarget(*r) for r in rules)

    @defer.inlineCallbacks
    def test_listMaxlenExpire(self):
        sink = self.makeSink(log_targets=self.targets(("recent", "list", 3, 100)))
        for i in range(10):
            sink.push(b"recent", b"%d" % i)
        yield waitFor(lambda: sink.sent == 10, "sent")
        client = self.redis.client()
        self.assertEqual(client.lrange(b"recent"), [b"7", b"8", b"9"])
        self.assertTrue(0 < client.command("TTL", "recent") <= 100)

    @defer.inlineCallbacks
    def test_streamByWrittenKey(self):
        """A rule for ``audit:%u`` applies to every key it expands to; XREADGROUP reads
        the records field by field, in order, and acknowledges them."""
        sink = self.makeSink(log_targets=self.targets(("audit:%u", "stream", 100)))
        records = [{"command": "CWD", "user": "bob", "n": i, "ok": True, "none": None}
                   for i in range(5)]
        for r in records:
            sink.push(b"audit:bob", json.dumps(r).encode(), b"audit:%u")
        sink.push(b"audit:%u", b'{"plain":"list"}', b"other")   # no rule: a list
        yield waitFor(lambda: sink.sent == 6, "sent")
        client = self.redis.client()
        client.command("XGROUP", "CREATE", "audit:bob", "g", "0")
        got = client.command("XREADGROUP", "GROUP", "g", "c1", "COUNT", "10",
                             "STREAMS", "audit:bob", ">")
        entries = got[0][1]
        self.assertEqual([e[1] for e in entries],
                         [[b"command", b"CWD", b"user", b"bob", b"n", b"%d" % i, b"ok",
                           b"true", b"none", b"null"] for i in range(5)])
        self.assertEqual(client.command("XACK", "audit:bob", "g",
                                        *[e[0] for e in entries]), 5)
        self.assertEqual(client.lrange(b"audit:%u"), [b'{"plain":"list"}'])

    @defer.inlineCallbacks
    def test_channel(self):
        sink = self.makeSink(log_targets=self.targets(("live", "channel")))
        ready = defer.Deferred()
        got = threads.deferToThread(_subscribe, self.redis.port, b"live", 3, ready)
        yield ready
        for i in range(3):
            sink.push(b"live", b"%d" % i)
        self.assertEqual((yield got), [b"0", b"1", b"2"])


class TLSTargetTests(test_sink.SinkTestMixin, unittest.TestCase):
    redis_autostart = False
    makeCerts = test_sink.TLSTests.makeCerts
    startTLSRedis = test_sink.TLSTests.startTLSRedis

    @defer.inlineCallbacks
    def test_streamOverTLS(self):
        certs = self.makeCerts()
        server = self.startTLSRedis(certs, auth_clients="no")
        sink = self.makeSink(server, port=server.tls_port, host="localhost", ssl=True,
                             ssl_ca=os.path.join(certs, "ca.crt"),
                             log_targets=(LogTarget("s", "stream", 10),))
        for i in range(20):
            sink.push(b"s", b'{"n":%d}' % i)
        yield waitFor(lambda: sink.sent == 20, "sent")
        entries = server.client().command("XRANGE", "s", "-", "+")
        # MAXLEN ~ trims whole nodes only: the newest are all there, in order
        values = [int(e[1][1]) for e in entries]
        self.assertEqual(values, list(range(20 - len(values), 20)))


class SentinelTargetTests(SentinelMixin, unittest.TestCase):
    pushDuring = test_sentinel.FailoverTests.pushDuring

    @defer.inlineCallbacks
    def test_streamFailoverExactlyOnce(self):
        """The master is SIGKILLed under a steady stream of stream records: every record
        is on the promoted replica exactly once, in order."""
        yield self.startCluster()
        sink = self.makeSink([("127.0.0.1", s.port) for s in self.sentinels],
                             master_name=NAME,
                             log_targets=(LogTarget("events", "stream"),))

        @defer.inlineCallbacks
        def kill():
            self.master.kill()
            yield waitFor(lambda: self.sentinels[0].master_addr(NAME)
                          == ("127.0.0.1", self.replica.port), "failover", limit=30)
        expected = yield self.pushDuring(sink, kill)
        entries = self.replica.client().command("XRANGE", "events", "-", "+")
        got = [json.dumps({"n": int(e[1][1])}).encode() for e in entries]
        self.assertEqual(got, expected)

    @defer.inlineCallbacks
    def test_channelAndListWithSentinel(self):
        yield self.startCluster()
        sink = self.makeSink([("127.0.0.1", s.port) for s in self.sentinels],
                             master_name=NAME,
                             log_targets=(LogTarget("live", "channel"),
                                          LogTarget("l", "list", 2, 60)))
        ready = defer.Deferred()
        got = threads.deferToThread(_subscribe, self.master.port, b"live", 2, ready)
        yield ready
        for i in range(4):
            sink.push(b"live" if i < 2 else b"l", b"%d" % i)
        self.assertEqual((yield got), [b"0", b"1"])
        yield waitFor(lambda: sink.sent == 4, "sent")
        self.assertEqual(self.master.client().lrange(b"l"), [b"2", b"3"])


    @defer.inlineCallbacks
    def test_spoolForgetsWhatAReplicaHas(self):
        """With RedisSentinel the spool keeps a batch until a replica confirmed it, then
        forgets it: a trickle of records drains it, and the replica has every one."""
        yield self.startCluster()
        d = os.path.join(os.path.abspath(self.mktemp()), "spool")
        target = RedisTarget(sentinels=tuple(("127.0.0.1", s.port) for s in self.sentinels),
                             master_name=NAME, spool_dir=d)
        sink = RedisSink(target)
        self.assertIsNotNone(_spool.attach(sink, target))
        sink.startService()
        self.addCleanup(lambda: sink.stopService() if sink.running else None)
        pushed = []

        def trickle():
            v = b"%d" % len(pushed)
            pushed.append(v)
            sink.push(b"k", v)
        loop = task.LoopingCall(trickle)
        loop.start(0.05)
        try:
            yield waitFor(lambda: len(pushed) >= 40 and sink.spool.records < 10,
                          "the spool to forget confirmed batches", limit=30)
        finally:
            loop.stop()
        yield waitFor(lambda: sink.sent == len(pushed), "all sent")
        yield waitFor(lambda: self.replica.client().llen(b"k") == len(pushed), "replicated")
        self.assertEqual(self.replica.client().lrange(b"k"), pushed)


# -- end to end through the config and the router ---------------------------------------

CONF = r"""
ServerName          "targets"
DefaultAddress      127.0.0.1
Port                {p}
LogFormat           dl "%u %m %J"
RedisLogTarget      audit:%u stream maxlen 1000
RedisLogTarget      recent list maxlen 2 expire 3600
RedisLogOnCommand   CWD dl audit:%u
RedisLogOnCommand   CWD dl recent
"""


class ConfigTargetTests(TwistdMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_perUserStreamFromConfig(self):
        p = e2e.free_port()
        self.write(CONF, p=p)
        self.twistd()
        self.assertTrue((yield e2e.in_thread(e2e.wait_listening, p)), self.log_or_output())

        def session():
            ftp = e2e.ftp_connect(p)
            for i in range(3):
                try:
                    ftp.cwd("/d%d" % i)
                except Exception:
                    pass
            ftp.quit()
        yield e2e.in_thread(session)
        key = "audit:%s" % e2e.USER
        self.assertTrue((yield e2e.wait_for(lambda: self.db.command("XLEN", key) == 3, 30)),
                        (self.db.keys(), self.log_or_output()))
        entries = self.db.command("XRANGE", key, "-", "+")
        self.assertEqual([dict(zip(e[1][::2], e[1][1::2]))[b"command_params"]
                          for e in entries], [b"/d0", b"/d1", b"/d2"])
        self.assertTrue((yield e2e.wait_for(lambda: self.db.llen(b"recent") == 2, 30)))
        self.assertEqual([json.loads(v)["command_params"] for v in self.db.lrange(b"recent")],
                         ["/d1", "/d2"])
        self.assertGreater(self.db.command("TTL", "recent"), 0)


    @defer.inlineCallbacks
    def test_unusedTargetWarned(self):
        """A RedisLogTarget whose key no rule writes (a typo) is named in the log."""
        p = e2e.free_port()
        self.write(CONF + "RedisLogTarget      audit:%U stream\n", p=p)
        self.twistd()
        self.assertTrue((yield self.wait_logged("RedisLogTarget audit:%U (line ")),
                        self.log_or_output())
        self.assertIn("writes to that key as written; it applies to nothing", self.logged())
        self.assertNotIn("RedisLogTarget audit:%u", self.logged())


class ScriptCommandTests(unittest.TestCase):
    """The batch's command made in one pass is the one txredisapi would write for the
    script's arguments."""

    def test_sameBytesAsTheArguments(self):
        import txredisapi
        from ftpredis.redis import ledger
        encode = txredisapi.RedisProtocol()._build_command
        value = '{"cmd":"PASS (hidden)","user":"\u00e9"}'.encode("utf-8")
        seqs = [1, 9, 10, 11, 99, 100, 5, 123456789, 1000000000, 7, 0]
        batch = [(seq, value + b"%d" % seq) for seq in seqs]
        modes = [None, LogTarget("k", "list", 10, 60), LogTarget("k", "channel"),
                 LogTarget("k", "stream", 100)]
        for mode in modes:
            for part in (batch, batch[:1], []):
                for name, script in ((b"EVALSHA", ledger.SCRIPT_SHA), (b"EVAL", ledger.SCRIPT)):
                    args = ledger.script_args("p1", b"k", mode, part)
                    self.assertEqual(
                        ledger.script_command(name, script, "p1", b"k", mode, part),
                        encode(name, script, *args))


class ConfigErrorTests(unittest.TestCase):

    def load(self, body):
        d = os.path.abspath(self.mktemp())
        os.makedirs(d)
        path = os.path.join(d, "ftpd.conf")
        with open(path, "w") as f:
            f.write("RedisEngine on\nRedisServer 127.0.0.1:6379\n" + body)
        return load_config(path, environ={})

    def errors(self, body):
        try:
            self.load(body)
        except ConfigErrors as e:
            return " ".join(str(x) for x in e.errors)
        self.fail("accepted: %r" % body)

    def test_parsed(self):
        t = self.load("RedisLogTarget a:%u stream maxlen 5 expire 9\nRedisLogTarget c channel\n"
                      "RedisSpool /tmp/x 2M\nRedisSpoolSync always\n").servers[0].redis
        self.assertEqual([(x.key, x.kind, x.maxlen, x.expire) for x in t.log_targets],
                         [("a:%u", "stream", 5, 9), ("c", "channel", 0, 0)])
        self.assertEqual((t.spool_dir, t.spool_max_bytes, t.spool_sync),
                         ("/tmp/x", 2 * 1024 * 1024, "always"))
        self.assertEqual(self.load("").servers[0].redis.spool_sync, "everysec")

    def test_errors(self):
        self.assertIn("maxlen and expire apply to list and stream targets only",
                      self.errors("RedisLogTarget c channel maxlen 4\n"))
        self.assertIn("unknown target type 'set'", self.errors("RedisLogTarget c set\n"))
        self.assertIn("maxlen needs a number", self.errors("RedisLogTarget c maxlen\n"))
        self.assertIn("bad policy 'sometimes'", self.errors("RedisSpoolSync sometimes\n"))
        self.assertIn("must be at least 1M", self.errors("RedisSpool /tmp/x 10K\n"))
        self.assertIn("ftpd.conf", self.errors("RedisSpoolSync sometimes\n"))


class TargetEqualityTests(unittest.TestCase):
    def test_sinksDifferByTargets(self):
        a = RedisTarget(host="h", log_targets=(LogTarget("k", "stream"),))
        self.assertNotEqual(a, RedisTarget(host="h"))
        self.assertEqual(a, RedisTarget(host="h", log_targets=(LogTarget("k", "stream"),)))


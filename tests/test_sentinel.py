# -*- test-case-name: tests.test_sentinel -*-
"""Tests for RedisSentinel (ftpredis.redis.sentinel + the sink in Sentinel mode) against real
``redis-server --sentinel`` processes watching a real master and replica.

Waits are "until a condition holds" with a generous bound; nothing asserts durations.
"""

import json
import os

from twisted.internet import defer, protocol, task, threads
from twisted.trial import unittest

from ftpredis.config.model import RedisTarget
from ftpredis.redis.redislog import RedisLog
from ftpredis.redis.sentinel import SentinelMasterEndpoint
from ftpredis.redis.sink import RedisSink
from tests.support.redisserver import RedisReplyError, RedisServer, SentinelServer, free_port
from tests.support.waiting import waitFor

NAME = "mymaster"


def replicationUp(server):
    try:
        return server.client().info("replication").get("master_link_status") == "up"
    except OSError:
        return False


class SentinelMixin:
    def startServer(self, *args, **kw):
        server = RedisServer(args, **kw)
        self.addCleanup(server.cleanup)
        return server.start()

    def startSentinel(self, monitors, **kw):
        s = SentinelServer(monitors, **kw)
        self.addCleanup(s.cleanup)
        return s.start()

    def makeLog(self):
        d = os.path.abspath(self.mktemp())
        os.makedirs(d)
        os.chmod(d, 0o755)
        log = RedisLog(os.path.join(d, "redis.log"))
        self.addCleanup(log.close)
        return log

    def logText(self, log):
        with open(log.path, encoding="utf-8") as f:
            return f.read()

    def makeSink(self, sentinels, log=None, **kw):
        target = RedisTarget(sentinels=tuple(sentinels), **kw)
        sink = RedisSink(target, [log] if log is not None else [])
        sink.startService()
        self.addCleanup(lambda: sink.stopService() if sink.running else None)
        return sink

    @defer.inlineCallbacks
    def startCluster(self, sentinels=3):
        """A master, a replica following it, and ``sentinels`` sentinels (quorum 2)."""
        # no 5 s diskless-sync delay; no 10 s wait for replicas at shutdown
        fast = ("--repl-diskless-sync-delay", "0", "--shutdown-timeout", "0")
        self.master = self.startServer(*fast)
        self.replica = self.startServer("--replicaof", "127.0.0.1", str(self.master.port),
                                        *fast)
        yield waitFor(lambda: replicationUp(self.replica), "replica in sync")
        self.sentinels = [self.startSentinel([(NAME, "127.0.0.1", self.master.port, 2)])
                          for _ in range(sentinels)]

        def knowsReplica(s):
            try:
                return any(int(r["port"]) == self.replica.port and "s_down" not in r["flags"]
                           for r in s.replicas(NAME))
            except (OSError, RedisReplyError):
                return False
        yield waitFor(lambda: all(knowsReplica(s) for s in self.sentinels),
                      "sentinels know the replica")


class DiscoveryTests(SentinelMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_firstAnsweringInOrder(self):
        """A dead sentinel and one that does not know the name are skipped; the first
        that answers, in the given order, names the master."""
        master = self.startServer()
        other = self.startServer()
        dead = free_port()
        s_other = self.startSentinel([("othermaster", "127.0.0.1", other.port, 1)])
        s_good = self.startSentinel([(NAME, "127.0.0.1", master.port, 1)])
        log = self.makeLog()
        sink = self.makeSink([("127.0.0.1", dead), ("127.0.0.1", s_other.port),
                              ("127.0.0.1", s_good.port)], log=log, master_name=NAME)
        for i in range(10):
            sink.push(b"k", b"%d" % i)
        yield waitFor(lambda: sink.sent == 10, "10 sent")
        self.assertEqual(master.client().lrange(b"k"), [b"%d" % i for i in range(10)])
        self.assertEqual(other.client().keys(), [])
        self.assertEqual(sink.sentinel.answered_by, ("127.0.0.1", s_good.port))
        self.assertIn("connected to Redis 127.0.0.1:%d (master 'mymaster' via RedisSentinel)"
                      % master.port, self.logText(log))

    @defer.inlineCallbacks
    def test_noNameTakesFirstListed(self):
        """Without ``master NAME``, the first master ``SENTINEL masters`` lists is used,
        with RedisServer's password and db."""
        master = self.startServer(password="pw")
        s = self.startSentinel([("alpha", "127.0.0.1", master.port, 1)])
        s.client().command("SENTINEL", "SET", "alpha", "auth-pass", "pw")
        sink = self.makeSink([("127.0.0.1", s.port)], password="pw", db=4)
        sink.push(b"k", b"v")
        yield waitFor(lambda: sink.sent == 1, "sent")
        self.assertEqual(master.client(db=4).lrange(b"k"), [b"v"])
        self.assertEqual(sink.sentinel.master_name, "alpha")

    @defer.inlineCallbacks
    def test_noSentinelAnswers(self):
        """Nothing answers: logged, records kept, delivered once a sentinel is up."""
        master = self.startServer()
        port = free_port()
        log = self.makeLog()
        sink = self.makeSink([("127.0.0.1", port)], log=log, master_name=NAME,
                             connect_timeout_ms=200, io_timeout_ms=200)
        sink.push(b"k", b"1")
        yield waitFor(lambda: "error connecting" in self.logText(log), "error logged")
        self.assertIn("error connecting to Redis master 'mymaster' via RedisSentinel: no "
                      "sentinel answered for master 'mymaster' (127.0.0.1:%d: Connection "
                      "refused)" % port, self.logText(log))
        self.assertEqual(sink.buffered, 1)
        s = SentinelServer([(NAME, "127.0.0.1", master.port, 1)], port=port)
        self.addCleanup(s.cleanup)
        yield threads.deferToThread(s.start)
        sink.push(b"k", b"2")
        yield waitFor(lambda: sink.sent == 2, "sent")
        self.assertEqual(master.client().lrange(b"k"), [b"1", b"2"])

    @defer.inlineCallbacks
    def test_replicaRefused(self):
        """A sentinel naming a replica (stale answer): ROLE says slave, nothing is
        written there, and the error is logged."""
        master = self.startServer()
        replica = self.startServer("--replicaof", "127.0.0.1", str(master.port))
        # a sentinel that (wrongly) monitors the replica as "mymaster"
        s = self.startSentinel([(NAME, "127.0.0.1", replica.port, 1)])
        log = self.makeLog()
        sink = self.makeSink([("127.0.0.1", s.port)], log=log, master_name=NAME)
        sink.push(b"k", b"v")
        yield waitFor(lambda: "it is not a master" in self.logText(log), "refusal logged")
        self.assertIn("error connecting to Redis 127.0.0.1:%d (master 'mymaster' via "
                      "RedisSentinel): it is not a master (ROLE slave)" % replica.port,
                      self.logText(log))
        self.assertEqual((sink.sent, sink.buffered), (0, 1))
        self.assertNotIn("connected to Redis", self.logText(log))


def subscribers(server):
    """How many clients of ``server`` hold a SUBSCRIBE (ours: ``+switch-master``)."""
    listing = server.client().command("CLIENT", "LIST").decode()
    return sum(1 for line in listing.splitlines()
               if any(f.startswith("sub=") and f != "sub=0" for f in line.split()))


class SubscriptionTests(SentinelMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_stopWhileConnecting(self):
        """Stopped while its subscription is still connecting to the first sentinel, the
        monitor does not go on to the next one: no connection outlives the stop, and a
        restart subscribes to the first sentinel only.  (Twisted 24.7's ClientService
        raised an unhandled NoTransition when such a late connection was lost.)"""
        master = self.startServer()
        first = self.startSentinel([(NAME, "127.0.0.1", master.port, 1)])
        second = self.startSentinel([(NAME, "127.0.0.1", master.port, 1)])
        sink = self.makeSink([("127.0.0.1", first.port), ("127.0.0.1", second.port)],
                             master_name=NAME)
        monitor = sink.sentinel
        for _ in range(3):
            monitor.start()
            yield monitor.stop()
        monitor.start()
        yield waitFor(lambda: monitor._subscriber is not None, "subscribed")
        yield waitFor(lambda: subscribers(first) == 1, "one subscription on the first")
        self.assertEqual(monitor._subscriber.sentinel, ("127.0.0.1", first.port))
        self.assertEqual(subscribers(second), 0)
        yield monitor.stop()
        yield waitFor(lambda: subscribers(first) == 0, "no subscription left")
        self.assertEqual(subscribers(second), 0)


    @defer.inlineCallbacks
    def test_poolAttemptCancelledWhileDiscovering(self):
        """A pool connection attempt (what txredisapi's ClientService cancels when the
        sink drops a pool, as on a failover) cancelled while it asks the first sentinel
        fails at once and asks no other: no connection to the master is made for it."""
        master = self.startServer()
        first = self.startSentinel([(NAME, "127.0.0.1", master.port, 1)])
        second = self.startSentinel([(NAME, "127.0.0.1", master.port, 1)])
        sink = self.makeSink([("127.0.0.1", first.port), ("127.0.0.1", second.port)],
                             master_name=NAME)
        built = []

        class Factory(protocol.Factory):
            def buildProtocol(self, addr):
                built.append(addr)
                return protocol.Protocol()

        endpoint = SentinelMasterEndpoint(sink.sentinel)
        for _ in range(3):
            d = endpoint.connect(Factory())
            d.cancel()
            yield self.assertFailure(d, defer.CancelledError)
        proto = yield endpoint.connect(Factory())
        self.addCleanup(proto.transport.loseConnection)
        self.assertEqual(len(built), 1)


class FailoverTests(SentinelMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def pushDuring(self, sink, during, key=b"events"):
        """Push a steady stream (5 records every 5 ms) while ``during()`` runs and until
        the sink writes to the new master; return the list pushed."""
        expected = []

        def tick():
            for _ in range(5):
                v = json.dumps({"n": len(expected)}).encode()
                expected.append(v)
                sink.push(key, v)

        loop = task.LoopingCall(tick)
        loop.start(0.005)
        try:
            yield waitFor(lambda: sink.sent >= 200, "a first 200 records sent")
            yield during()
            yield waitFor(lambda: any(c.masterAddress[1] == self.replica.port
                                      for c in sink._ready), "writing to the new master")
            yield waitFor(lambda: sink.sent >= len(expected) - 10, "caught up")
            more = len(expected) + 200
            yield waitFor(lambda: len(expected) >= more, "200 more pushed")
        finally:
            loop.stop()
        yield waitFor(lambda: sink.sent == len(expected) and sink.buffered == 0, "all sent")
        return expected

    @defer.inlineCallbacks
    def test_forcedFailoverMidStream(self):
        """SENTINEL FAILOVER in the middle of a stream: the sink follows +switch-master
        and every record reaches the new master, in order."""
        yield self.startCluster()
        log = self.makeLog()
        sink = self.makeSink([("127.0.0.1", s.port) for s in self.sentinels], log=log,
                             master_name=NAME)

        @defer.inlineCallbacks
        def failover():
            def force():
                while True:
                    try:
                        return self.sentinels[1].client().command("SENTINEL", "FAILOVER", NAME)
                    except RedisReplyError as e:
                        if "NOGOODSLAVE" not in str(e) and "INPROG" not in str(e):
                            raise
            yield threads.deferToThread(force)
            yield waitFor(lambda: self.sentinels[0].master_addr(NAME)
                          == ("127.0.0.1", self.replica.port), "sentinel names the replica")

        expected = yield self.pushDuring(sink, failover)
        got = self.replica.client().lrange(b"events")
        self.assertEqual(got, expected)
        self.assertEqual(set(got), set(expected))
        self.assertIn("switching to 127.0.0.1:%d" % self.replica.port, self.logText(log))
        self.assertEqual(sink.pushed, sink.sent + sink.buffered + sink.dropped)
        self.assertEqual(sink.dropped, 0)
        # ftpredis_redis_sentinel_failovers_total (ftpredis.metrics.sinks) reads this
        self.assertEqual(sink.failovers, 1)

    @defer.inlineCallbacks
    def test_masterKilled(self):
        """The master dies (SIGKILL): the sentinels elect the replica, the sink finds it
        on reconnect (and via +switch-master) and nothing is lost."""
        yield self.startCluster()
        log = self.makeLog()
        sink = self.makeSink([("127.0.0.1", s.port) for s in self.sentinels], log=log,
                             master_name=NAME)

        @defer.inlineCallbacks
        def kill():
            # let the replica catch up first: a killed master loses what it did not
            # replicate, and the sink resends what no replica confirmed
            self.master.kill()
            yield waitFor(lambda: self.sentinels[0].master_addr(NAME)
                          == ("127.0.0.1", self.replica.port), "failover", limit=30)

        expected = yield self.pushDuring(sink, kill)
        got = self.replica.client().lrange(b"events")
        self.assertEqual(got, expected)
        self.assertEqual(set(got), set(expected))
        self.assertEqual(sink.dropped, 0)
        self.assertEqual(sink.failovers, 1)

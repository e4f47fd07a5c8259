# -*- test-case-name: tests.test_sink_stall -*-
"""End to end: the FTP session never waits on Redis.

The whole service runs in-process (config file, FTP server, router, sink); ftplib runs a
session of many commands in a thread while Redis is stalled: a listener that accepts and
never answers, or a real redis-server paused with SIGSTOP.  The session must complete
while Redis is still stalled (no timing threshold: it just has to finish), and once Redis
is back every record arrives, in order, counted.
"""

import json
import os

from twisted.internet import defer, protocol, reactor
from twisted.trial import unittest

from ftpredis.config import load_config
from ftpredis.app.service import FTPRedisService
from tests.support import e2e
from tests.support.redisserver import RedisServer, RedisServerMixin
from tests.support.waiting import waitFor

CONFIG = r"""
ServerName          "stall"
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
DefaultRoot         ~

RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
RedisTimeouts       200 200
RedisLog            {base}/redis.log
LogFormat           cmds "%r %s"
RedisLogOnCommand   ALL cmds
"""

N = 60      # MKD commands per session


class _Silent(protocol.Protocol):
    def connectionMade(self):
        self.factory.live.add(self)

    def connectionLost(self, reason):
        self.factory.live.discard(self)


class StallTests(RedisServerMixin, unittest.TestCase):
    redis_autostart = False

    def startService(self, redis_port):
        base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        conf = e2e.write_site(base, CONFIG, port=self.port, redis_port=redis_port)
        os.chmod(base, 0o755)
        self.service = FTPRedisService(load_config(conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.sink = self.service.sinks.sinks()[0]

    def session(self):
        ftp = e2e.ftp_connect(self.port)
        replies = [ftp.sendcmd("MKD d%d" % i) for i in range(N)]
        ftp.quit()
        return replies

    def expected(self):
        out = [{"raw_command": "USER %s" % e2e.USER, "response_code": 331},
               {"raw_command": "PASS (hidden)", "response_code": 230}]
        out += [{"raw_command": "MKD d%d" % i, "response_code": 257} for i in range(N)]
        out.append({"raw_command": "QUIT", "response_code": 221})
        return [json.dumps(r, separators=(",", ":")).encode() for r in out]

    @defer.inlineCallbacks
    def test_blackhole(self):
        """Redis accepts and never answers: the session completes, records wait; then a
        real Redis on that port gets every one of them, in order."""
        f = protocol.ServerFactory()
        f.protocol = _Silent
        f.live = set()
        listener = reactor.listenTCP(0, f, interface="127.0.0.1")
        self.addCleanup(lambda: listener.stopListening() if listener.connected else None)
        self.addCleanup(lambda: [c.transport.abortConnection() for c in list(f.live)])
        port = listener.getHost().port
        self.startService(port)
        replies = yield e2e.in_thread(self.session)
        self.assertEqual(len(replies), N)
        self.assertTrue(all(r.startswith("257 ") for r in replies), replies)
        # the session is over and Redis never answered anything
        self.assertEqual(self.sink.sent, 0)
        yield waitFor(lambda: self.sink.pushed == N + 3, "QUIT record")
        yield listener.stopListening()
        for conn in list(f.live):
            conn.transport.abortConnection()
        server = RedisServer(port=port)
        self.addCleanup(server.cleanup)
        server.start()
        yield waitFor(lambda: self.sink.sent == N + 3, "all records sent")
        got = server.client().lrange(b"cmds")
        self.assertEqual(got, self.expected())
        self.assertEqual(len(set(got)), N + 3)
        self.assertEqual(self.sink.dropped, 0)

    @defer.inlineCallbacks
    def test_sigstop(self):
        """Redis paused with SIGSTOP for the whole session: the session completes while
        it is still paused; after SIGCONT every record arrives, in order."""
        self.redis = self.startRedis()
        self.startService(self.redis.port)
        # a first record so the sink has a live connection that then hangs
        self.sink.push(b"warmup", b"1")
        yield waitFor(lambda: self.sink.sent == 1, "warm-up sent")
        self.redis.pause()
        replies = yield e2e.in_thread(self.session)
        self.assertEqual(len(replies), N)
        self.assertTrue(self.redis.paused)
        self.assertEqual(self.sink.sent, 1)
        yield waitFor(lambda: self.sink.pushed == N + 4, "QUIT record")
        self.redis.resume()
        yield waitFor(lambda: self.sink.sent == N + 4, "all records sent")
        got = self.redis.client().lrange(b"cmds")
        self.assertEqual(got, self.expected())
        self.assertEqual(len(set(got)), N + 3)
        self.assertEqual(self.sink.dropped, 0)

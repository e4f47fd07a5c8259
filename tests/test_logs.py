# -*- test-case-name: tests.test_logs -*-
"""twistd's log as an admin reads it, from real ``twistd -n ftpredis`` processes: Redis
going away under a running server gives one line when it is lost and one when it is
back (with the figures), a Redis that cannot be reached at start one warning naming
RedisServer's line, and none of Twisted's per-retry lines or ``<... object at 0x...>``.
"""

import os
import re
import signal
import socket

from twisted.internet import defer
from twisted.logger import PredicateResult
from twisted.trial import unittest

from ftpredis.app import logs
from tests.support import e2e
from tests.support.twistdrun import TwistdMixin

MAIN = r"""
ServerName          "main"
DefaultAddress      127.0.0.1
Port                {p}
RedisLogOnCommand   USER,PASS,QUIT who main-key
"""


def session(port):
    ftp = e2e.ftp_connect(port)
    ftp.quit()


def turn_away(port, attempts, timeout=30):
    """Listen on Redis's port and close ``attempts`` connections at once (a Redis that
    closes on connect): returns once the server has tried that many more times."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(8)
        s.settimeout(timeout)
        for _ in range(attempts):
            conn, _ = s.accept()
            conn.close()


class RedisOutageTests(TwistdMixin, unittest.TestCase):

    def lines(self, text):
        return [line for line in self.logged().splitlines() if text in line]

    def assertClean(self, p):
        log = self.logged()
        self.assertNotIn("object at 0x", log)
        self.assertNotIn("Scheduling retry", log)
        self.assertNotIn("Starting factory", log)
        self.assertEqual(len(self.lines("listening on 127.0.0.1:%d" % p)), 2, log)   # + stopped
        self.assertEqual(len(self.lines("stopped listening on 127.0.0.1:%d" % p)), 1, log)
        self.assertNotIn("starting on %d" % p, log)
        self.assertNotIn("Port %d Closed" % p, log)

    @defer.inlineCallbacks
    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        code = yield e2e.in_thread(proc.wait, 30)
        self.assertIn(code, (0, -signal.SIGTERM), self.logged())

    @defer.inlineCallbacks
    def test_one_line_lost_one_line_back(self):
        p = e2e.free_port()
        self.write(MAIN, p=p)
        proc = self.twistd()
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        yield e2e.in_thread(session, p)
        yield self.records(b"main-key", 3)
        self.assertEqual(len(self.lines("connected to Redis")), 1, self.logged())

        yield e2e.in_thread(self.redis.stop)
        self.assertTrue((yield self.wait_logged("lost Redis")), self.logged())
        # two sessions while it is down: 6 records wait in memory; the sink tries again
        # and again meanwhile (each attempt goes to the RedisLog, not here)
        yield e2e.in_thread(session, p)
        yield e2e.in_thread(session, p)
        yield e2e.in_thread(turn_away, self.redis.port, 4)
        self.assertNotIn("is back after", self.logged())
        yield e2e.in_thread(self.redis.start, True)
        self.assertTrue((yield self.wait_logged("is back after")), self.logged())
        got = yield self.records(b"main-key", 6)
        self.assertEqual(len(got), 6)            # the new server is empty
        yield self.stop(proc)

        lost = self.lines("lost Redis")
        self.assertEqual(len(lost), 1, self.logged())
        self.assertRegex(lost[0], r"#warn\] lost Redis 127\.0\.0\.1:%d \(RedisServer on "
                                  r"line \d+ of '%s'\): Connection closed by Redis; records "
                                  r"are kept in memory \(up to RedisBufferSize 100000, then "
                                  r"the newest are dropped\) and sent when it is back; 0 "
                                  r"waiting$" % (self.redis.port, re.escape(self.conf)))
        back = self.lines("is back after")
        self.assertEqual(len(back), 1, self.logged())
        m = re.search(r"Redis 127\.0\.0\.1:%d is back after (\d+\.\d) s unreachable: 6 "
                      r"records delivered since it was lost$" % (self.redis.port,), back[0])
        self.assertIsNotNone(m, back[0])
        self.assertGreater(float(m.group(1)), 0.0)
        self.assertEqual(self.lines("cannot reach"), [])
        self.assertEqual(self.lines("error connecting"), [])
        self.assertClean(p)

    @defer.inlineCallbacks
    def test_redis_unreachable_at_start(self):
        p = e2e.free_port()
        self.write(MAIN, p=p)
        down = self.redis.port
        yield e2e.in_thread(self.redis.stop)
        proc = self.twistd()
        self.assertTrue((yield self.wait_logged("cannot reach")), self.log_or_output())
        # a session's records make the sink try (and fail) again: still the one line
        yield e2e.in_thread(session, p)
        yield e2e.in_thread(turn_away, down, 3)
        yield self.stop(proc)
        warned = self.lines("cannot reach")
        self.assertEqual(len(warned), 1, self.logged())
        with open(self.conf) as f:
            line = 1 + [l.split()[:1] for l in f.read().splitlines()].index(["RedisServer"])
        self.assertIn("#warn] cannot reach Redis 127.0.0.1:%d (RedisServer on line %d of "
                      "'%s') at start: Connection refused; records are kept in memory"
                      % (down, line, self.conf), warned[0])
        self.assertEqual(self.lines("lost Redis"), [])
        self.assertIn("3 records left unsent", self.logged())
        self.assertClean(p)


class FilterTests(unittest.TestCase):
    """The filter drops Twisted's own lines by their format, and nothing else."""

    def test_dropped(self):
        for event in [
            {"log_format": "Scheduling retry {attempt} to connect {endpoint} in {delay} "
                           "seconds.", "attempt": 1},
            {"log_format": "Starting factory {factory!r}"},
            {"log_format": "Stopping factory {factory!r}"},
            {"log_format": "{log_text}", "log_text": "ftpredis starting on 2121"},
            {"message": ("(TCP Port 2121 Closed)",)},
        ]:
            self.assertEqual(logs.chatter(event), PredicateResult.no, event)

    def test_kept(self):
        for event in [
            {"log_format": "listening on {address}"},
            {"log_format": "{log_text}", "log_text": "ftpredis starting on port 2121 now"},
            {"message": ("Received SIGTERM, shutting down.",)},
            {"log_format": None},
            {},
        ]:
            self.assertEqual(logs.chatter(event), PredicateResult.maybe, event)

    def test_no_logger_option_left_alone(self):
        """``twistd --logger`` names the user's observer: not replaced."""
        from twisted.application.service import Application
        app = Application("x")
        self.assertFalse(logs.install(app, {"logger": lambda: None}))
        from twisted.logger import ILogObserver
        self.assertIsNone(app.getComponent(ILogObserver, None))

    def test_twistd_observer_wrapped(self):
        from twisted.application.service import Application
        from twisted.logger import ILogObserver
        app = Application("x")
        path = os.path.abspath(self.mktemp())
        options = {"logfile": path, "nodaemon": True, "syslog": False, "prefix": ""}
        self.assertTrue(logs.install(app, options))
        observer = app.getComponent(ILogObserver)
        observer({"log_format": "Starting factory {factory!r}", "factory": 1,
                  "log_time": 0.0, "log_level": None, "log_namespace": "t"})
        observer({"log_format": "kept {x}", "x": 1, "log_time": 0.0,
                  "log_namespace": "t"})
        with open(path) as f:
            text = f.read()
        self.assertIn("kept 1", text)
        self.assertNotIn("Starting factory", text)

# -*- test-case-name: tests.test_login_churn -*-
"""The short session the W3 benchmark repeats (connect, USER, PASS, PWD, QUIT), as a client
sees it on the wire and as Redis records it, over the paths a repeated login takes: the
verified-password cache and the kernel-cache fast path (ftpredis.ftp.login), QUIT's 221
sent together with the close (ftpredis.ftp.fastpath), a jail whose top is the home and one
whose home lies below the top, and a <Limit LOGIN> that still refuses."""

import json
import os
import socket

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.app.service import FTPRedisService
from ftpredis.config import load_config
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin

CONFIG = r"""
ServerName          "churn"
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
DefaultRoot         %s
RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
LogFormat           churn "%%m %%s %%r"
RedisLogOnEvent     ALL churn
%s
"""


def session(port, user=e2e.USER, password=e2e.PASSWORD):
    """One W3 session on a raw socket: everything the server sent, up to its close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    try:
        got = [f.readline()]
        for line in ("USER " + user, "PASS " + password, "PWD", "QUIT"):
            s.sendall(line.encode() + b"\r\n")
            got.append(f.readline())
        got.append(f.read())        # the server closes: b"" once everything was read
        return got
    finally:
        f.close()
        s.close()


class _Churn(RedisServerMixin):
    extra = ""

    def default_root(self, base):
        return "~"

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        body = CONFIG % (self.default_root(self.base), self.extra)
        self.conf = e2e.write_site(self.base, body, port=self.port,
                                   redis_port=self.redis.port,
                                   users=((e2e.USER, e2e.PASSWORD), ("bob", "bob-secret")))
        self.db = self.redis.client()
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)


class JailAtHomeTests(_Churn, unittest.TestCase):

    @defer.inlineCallbacks
    def test_repeated_sessions_wire_and_records(self):
        """Three sessions in a row (the second and third log in through the cache of
        verified passwords): the same replies, 221 last and then the close, and six
        records each, in order."""
        for _ in range(3):
            got = yield e2e.in_thread(session, self.port)
            self.assertEqual(got[0][:4], b"220 ")
            self.assertEqual(got[1:], [b"331 Password required for ftpuser\r\n",
                                       b"230 User ftpuser logged in\r\n",
                                       b'257 "/" is the current directory\r\n',
                                       b"221 Goodbye.\r\n", b""])
        raw = yield e2e.wait_records(self.db, b"churn", 18, timeout=30)
        self.assertEqual(len(raw), 18, raw)
        records = [json.loads(r) for r in raw]
        self.assertEqual([(r.get("command"), r.get("response_code")) for r in records],
                         [(None, None), ("USER", 331), ("PASS", 230), ("PWD", 257),
                          ("QUIT", 221), ("EXIT", None)] * 3, records[:6])
        self.assertEqual([r.get("raw_command") for r in records[:6]],
                         [None, "USER ftpuser", "PASS (hidden)", "PWD", "QUIT", None])


class HomeBelowTheJailTests(_Churn, unittest.TestCase):
    """DefaultRoot above the home: the session starts in its home, below the top."""

    def default_root(self, base):
        return os.path.join(base, "home")

    @defer.inlineCallbacks
    def test_pwd_is_the_home_twice(self):
        for _ in range(2):
            got = yield e2e.in_thread(session, self.port)
            self.assertEqual(got[3], b'257 "/ftpuser" is the current directory\r\n')
            self.assertEqual(got[4:], [b"221 Goodbye.\r\n", b""])


class LimitLoginTests(_Churn, unittest.TestCase):
    """A <Limit LOGIN> is still asked, also for a password verified a moment ago."""

    extra = "<Limit LOGIN>\n  DenyUser bob\n</Limit>\n"

    @defer.inlineCallbacks
    def test_denied_user_is_refused_every_time(self):
        for _ in range(2):
            got = yield e2e.in_thread(session, self.port, "bob", "bob-secret")
            self.assertEqual(got[2], b"530 Login incorrect.\r\n")
            self.assertEqual(got[4:], [b"221 Goodbye.\r\n", b""])
            got = yield e2e.in_thread(session, self.port)
            self.assertEqual(got[2], b"230 User ftpuser logged in\r\n")
            self.assertEqual(got[3:], [b'257 "/" is the current directory\r\n',
                                       b"221 Goodbye.\r\n", b""])


class PlainDirTests(unittest.TestCase):
    """The login's shortcut for its home (ftpredis.auth.portal._plain_dir) says yes only
    where isdir is true and realpath changes nothing."""

    def test_agrees_with_isdir_and_realpath(self):
        from ftpredis.auth.portal import _plain_dir
        base = os.path.realpath(os.path.abspath(self.mktemp()))
        os.makedirs(os.path.join(base, "real", "home"))
        os.symlink(os.path.join(base, "real"), os.path.join(base, "link"))
        os.symlink(os.path.join(base, "real", "home"), os.path.join(base, "homelink"))
        with open(os.path.join(base, "file"), "w"):
            pass
        cases = {
            os.path.join(base, "real", "home"): True,
            os.path.join(base, "link", "home"): False,      # a link above the home
            os.path.join(base, "homelink"): False,          # the home itself a link
            os.path.join(base, "file"): False,
            os.path.join(base, "missing"): False,
            "/" + base: False,                              # POSIX's leading "//"
            os.path.relpath(os.path.join(base, "real")): False,
        }
        for path, plain in cases.items():
            self.assertEqual(_plain_dir(path), plain, path)
            if plain:
                self.assertTrue(os.path.isdir(path))
                self.assertEqual(os.path.realpath(path), path)


class NoCycleTests(_Churn, unittest.TestCase):
    """An ended session is freed as soon as it ends (reference counting), not left as a
    reference cycle for the garbage collector to find: with thousands of sessions a
    second, that was every session's objects traversed again and freed late."""

    @defer.inlineCallbacks
    def test_ended_session_leaves_no_cycle(self):
        import gc
        from ftpredis.ftp.protocol import FTPRedisProtocol

        def alive():
            return [o for o in gc.get_objects() if isinstance(o, FTPRedisProtocol)]
        gc.collect()
        gc.disable()
        self.addCleanup(gc.enable)
        self.assertEqual(alive(), [])
        for _ in range(2):      # the second login takes the fast path
            got = yield e2e.in_thread(session, self.port)
            self.assertEqual(got[4:], [b"221 Goodbye.\r\n", b""])
        # The DISCONNECT records are written after both sessions ended.
        yield e2e.wait_records(self.db, b"churn", 12, timeout=30)
        self.assertEqual(alive(), [])


class ControlAddressTests(unittest.TestCase):
    """A control connection's local address is what the kernel says, whether its port
    listens on one address (known without asking) or on a wildcard (asked)."""

    @defer.inlineCallbacks
    def test_get_host_matches_getsockname(self):
        from twisted.internet import address, protocol, reactor
        from ftpredis.app import workers
        seen = []

        class Probe(protocol.Protocol):
            def connectionMade(self):
                h = self.transport.getHandle().getsockname()
                seen.append((self.transport.getHost(), address.IPv4Address("TCP", *h)))
                self.transport.loseConnection()
        factory = protocol.Factory.forProtocol(Probe)
        for interface, expect_known in (("127.0.0.1", True), ("0.0.0.0", False)):
            port = yield workers.ControlEndpoint(reactor, 0, interface).listen(factory)
            self.addCleanup(port.stopListening)
            self.assertEqual(port.local_address is not None, expect_known)
            n = len(seen)
            yield e2e.in_thread(lambda: socket.create_connection(
                ("127.0.0.1", port.getHost().port), timeout=10).close())
            ok = yield e2e.wait_for(lambda: len(seen) > n, timeout=15)
            self.assertTrue(ok)
            got, kernel = seen[-1]
            self.assertEqual(got, kernel)

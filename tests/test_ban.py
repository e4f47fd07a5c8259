# -*- test-case-name: tests.test_ban -*-
"""Bans (ProFTPD mod_ban, ``BanCache redis``): directives, the table, and two real ftpredis
nodes (twistd subprocesses) sharing one real redis-server.

Every client connects to 127.0.0.1 from its own source address (127.0.0.N: the whole
127/8 is loopback on Linux), so each test has its own "host" and the shared nodes need
not be restarted between tests.
"""

import ftplib
import json
import os
import socket
import subprocess
import sys
import time

from twisted.internet import task
from twisted.trial import unittest
from zope.interface import implementer

from ftpredis.ban import bans as ban
from ftpredis.config import ConfigErrors, load_config
from ftpredis.ftp.interfaces import IPolicySession
from tests.support.waiting import recv_all
from tests.support import e2e
from tests.support.redisserver import RedisServer

NODE = r"""
ServerName          "node"
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
DefaultRoot         ~
MaxLoginAttempts    2

RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
LogFormat           sessions "%a %E %s %S"
RedisLogOnCommand   CONNECT,DISCONNECT sessions
LogFormat           users "%a %r %s %S"
RedisLogOnCommand   USER users

<IfModule mod_ban.c>
  BanEngine         on
  BanTable          {base}/ban.tab
  BanLog            {base}/ban.log
  BanCache          redis
  BanCacheOptions   UseJSON
  BanMessage        "Host %a (class %c, user %u) has been banned"
  BanOnEvent        MaxLoginAttempts 1/00:10:00 00:00:04
  BanOnEvent        ClientConnectRate 30/00:00:30 00:01:00
  BanOnEvent        MaxCommandRate 1/00:00:10 00:01:00
  MaxCommandRate    10 1
</IfModule>
"""

USERS = ((e2e.USER, e2e.PASSWORD), ("other", "otherpass"))
REPO = e2e.REPO


def raw_session(port, source, lines=(), read_banner=True):
    """Connect from ``source``, send ``lines`` one at a time; (transcript, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        out = ""
        s.settimeout(2.0)
        for line in lines:
            try:
                s.sendall(line.encode() + b"\r\n")
                out += s.recv(4096).decode()
            except (socket.timeout, OSError):
                break
        rest, closed = recv_all(s, 0.5 if lines else 2.0)
        return out + rest, closed
    finally:
        s.close()


def first_reply(port, source):
    """The first line a client at ``source`` gets, and whether the server then closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        s.settimeout(5)
        f = s.makefile("rb")
        line = f.readline().decode().rstrip("\r\n")
        if line.startswith("220"):
            s.sendall(b"QUIT\r\n")
            f.readline()
        return line
    finally:
        s.close()


def wait_until(predicate, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def tool(redis_port, *args):
    env = dict(os.environ, PYTHONPATH=REPO)
    p = subprocess.run([sys.executable, "-m", "ftpredis.ban.tool", "--redis",
                        "127.0.0.1:%d" % redis_port] + list(args),
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=30)
    return p.returncode, p.stdout + p.stderr


class TwoNodes(unittest.TestCase):
    """Node A and node B: same config, own ports, one redis-server."""

    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.cleanup)
        self.redis.start()
        self.db = self.redis.client()
        self.ports, self.bases = [], []
        for name in ("a", "b"):
            base = os.path.realpath(self.mktemp()) + "-" + name
            port = e2e.free_port()
            conf = e2e.write_site(base, NODE, port=port, redis_port=self.redis.port,
                                  users=USERS)
            proc = e2e.twistd(["-n", "--pidfile=", "--logfile",
                               os.path.join(base, "twistd.log"), "ftpredis",
                               "--config", conf], cwd=base)
            self.addCleanup(e2e.stop_process, proc)
            self.ports.append(port)
            self.bases.append(base)
        for port, base in zip(self.ports, self.bases):
            if not e2e.wait_listening(port):
                with open(os.path.join(base, "twistd.log")) as f:
                    self.fail("node on %d did not start:\n%s" % (port, f.read()))
        # Listening is not enough: a node accepts sessions before its ban cache has
        # connected to Redis, and a ban made in that gap stays local (as mod_ban does
        # when Redis is unreachable).  Under load the gap was wide enough for a test's
        # first command.
        for port, base in zip(self.ports, self.bases):
            if not wait_until(lambda: self.cache_connected(base), 15.0):
                self.fail("node on %d never connected its ban cache to Redis" % port)

    @staticmethod
    def cache_connected(base):
        try:
            with open(os.path.join(base, "ban.log")) as f:
                return "connected to Redis" in f.read()
        except OSError:
            return False

    @property
    def a(self):
        return self.ports[0]

    @property
    def b(self):
        return self.ports[1]

    def cached(self, ban_type, name):
        value = self.db.command("GET", ban.cache_key(ban_type, name))
        return None if value is None else json.loads(value)

    def sessions(self, source):
        records = [json.loads(r) for r in self.db.lrange(b"sessions")]
        return [r for r in records if r.get("remote_ip") == source]

    def refused(self, port, source):
        return first_reply(port, source).startswith("530 ")

    def accepted(self, port, source):
        return first_reply(port, source).startswith("220 ")

    def fail_logins(self, port, source, user=e2e.USER):
        return raw_session(port, source, ["USER " + user, "PASS wrong",
                                          "USER " + user, "PASS wrong"])

    # -- tests --------------------------------------------------------------------------
    def test_max_login_attempts_on_a_refused_on_b_then_expires(self):
        src = "127.0.0.2"
        self.assertTrue(self.accepted(self.b, src))
        transcript, closed = self.fail_logins(self.a, src)
        message = "Host %s (class (none), user ftpuser) has been banned" % src
        self.assertEqual(transcript.splitlines(), [
            "220 ftpredis Server (node) [127.0.0.1]",
            "331 Password required for ftpuser", "530 Login incorrect.",
            "331 Password required for ftpuser", "530 Login incorrect.",
            "530 " + message])
        self.assertTrue(closed)
        # node B learns it from Redis within a second and refuses before the banner
        self.assertTrue(wait_until(lambda: self.refused(self.b, src), 3.0))
        line = first_reply(self.b, src)
        self.assertEqual(line, "530 Host %s (class (none), user (none)) has been banned" % src)
        entry = self.cached(ban.BAN_TYPE_HOST, src)
        self.assertEqual(entry["ban_type"], "host ban")
        self.assertEqual(entry["ban_name"], src)
        self.assertTrue(entry["ban_reason"].startswith("MaxLoginAttempts autoban at "))
        self.assertEqual(entry["expires_ts"] - entry["update_ts"], 4)
        self.assertEqual((entry["ip_addr"], entry["port"], entry["server_id"]),
                         ("127.0.0.1", self.a, 1))
        # the refusal is an event RedisLogOn* logs: the DISCONNECT record of the session
        # (node A's own banned session logs one too, with the user it tried; wait for B's)
        refused_on_b = {"disconnecting": True, "remote_ip": src,
                        "session_end_reason": "Banned", "response_code": 530,
                        "response_msg": "Host %s (class (none), user (none)) has been banned"
                        % src}
        records = wait_until(lambda: [r for r in self.sessions(src) if r == refused_on_b], 5)
        self.assertEqual(records[:1], [refused_on_b])
        # expiry is the second in expires_ts, on both nodes
        self.assertTrue(wait_until(lambda: time.time() >= entry["expires_ts"]
                                   and self.accepted(self.b, src),
                                   timeout=entry["expires_ts"] - time.time() + 5))
        self.assertTrue(self.accepted(self.a, src))

    def test_permit_lifts_an_autoban_on_both_nodes(self):
        src = "127.0.0.3"
        self.fail_logins(self.a, src)
        self.assertTrue(wait_until(lambda: self.refused(self.b, src), 3.0))
        self.assertTrue(self.refused(self.a, src))
        code, out = tool(self.redis.port, "permit", "host", src)
        self.assertEqual((code, out), (0, "host '%s' permitted\n" % src))
        # A's own table entry goes too, not only the cached copy
        self.assertTrue(wait_until(lambda: self.accepted(self.a, src), 3.0))
        self.assertTrue(wait_until(lambda: self.accepted(self.b, src), 3.0))
        self.assertEqual(tool(self.redis.port, "permit", "host", src)[0], 1)

    def test_tool_ban_applies_everywhere_and_json_is_readable(self):
        src = "127.0.0.7"
        code, out = tool(self.redis.port, "ban", "host", src, "--expires", "60",
                         "--message", "go away %a")
        self.assertEqual((code, out), (0, "host %s banned\n" % src))
        raw = self.db.command("GET", b'mod_ban.{"ban_type_id":2,"ban_name":"%s"}\x00'
                              % src.encode())
        value = json.loads(raw)        # plain JSON, as redis-cli shows it
        self.assertEqual(sorted(value), sorted(
            ["version", "update_ts", "ip_addr", "port", "ban_type", "ban_name",
             "ban_reason", "ban_message", "expires_ts", "server_id"]))
        self.assertEqual(value["expires_ts"] - value["update_ts"], 60)
        ttl = self.db.command("TTL", b'mod_ban.{"ban_type_id":2,"ban_name":"%s"}\x00'
                              % src.encode())
        self.assertTrue(55 <= ttl <= 60, ttl)
        for port in (self.a, self.b):
            self.assertTrue(wait_until(lambda: self.refused(port, src), 3.0))
            self.assertEqual(first_reply(port, src), "530 go away %s" % src)
        code, out = tool(self.redis.port, "info", "--json")
        self.assertIn(src, [json.loads(line)["ban_name"] for line in out.splitlines()])
        code, out = tool(self.redis.port, "info")
        self.assertIn("Banned Hosts:\n  %s\n" % src, out)
        tool(self.redis.port, "permit", "host", src)
        for port in (self.a, self.b):
            self.assertTrue(wait_until(lambda: self.accepted(port, src), 3.0))

    def test_client_connect_rate(self):
        src = "127.0.0.4"
        for _ in range(29):
            self.assertTrue(self.accepted(self.a, src))
        # the 30th connection within 30 s reaches the threshold: refused and banned
        self.assertEqual(first_reply(self.a, src),
                         "530 Host %s (class (none), user (none)) has been banned" % src)
        self.assertTrue(wait_until(lambda: self.refused(self.b, src), 3.0))
        self.assertTrue(self.cached(ban.BAN_TYPE_HOST, src)["ban_reason"]
                        .startswith("ClientConnectRate autoban"))
        tool(self.redis.port, "permit", "host", src)

    def test_max_command_rate(self):
        src = "127.0.0.5"
        s = socket.create_connection(("127.0.0.1", self.a), timeout=5,
                                     source_address=(src, 0))
        try:
            s.sendall(b"NOOP\r\n" * 12)
            transcript, closed = recv_all(s)
        finally:
            s.close()
        self.assertTrue(closed)
        self.assertIn("530 Host %s (class (none), user (none)) has been banned" % src,
                      transcript)
        # The cache entry first: node B's own ClientConnectRate (30 connections in 30 s)
        # may ban the host again, and rewrite the entry, while the loop below polls it.
        # A deadline, not a pace: a loaded machine has been seen to need over 3 s here.
        entry = wait_until(lambda: self.cached(ban.BAN_TYPE_HOST, src), 15.0)
        self.assertIsNotNone(entry, "no ban cache entry for %s in Redis" % src)
        self.assertTrue(entry["ban_reason"].startswith("MaxCommandRate autoban"), entry)
        self.assertTrue(wait_until(lambda: self.refused(self.b, src), 3.0))
        tool(self.redis.port, "permit", "host", src)

    def test_user_ban_refuses_at_user(self):
        src = "127.0.0.6"
        self.assertEqual(tool(self.redis.port, "ban", "user", "other")[0], 0)

        def refused_user(port):
            transcript, _ = raw_session(port, src, ["USER other", "QUIT"])
            return "530 Host %s (class (none), user other) has been banned" % src \
                in transcript
        self.assertTrue(wait_until(lambda: refused_user(self.b), 3.0))
        self.assertTrue(wait_until(lambda: refused_user(self.a), 3.0))
        # another user on the same host is not affected
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", self.a, timeout=5, source_address=(src, 0))
        try:
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.login("other", "otherpass")
            self.assertTrue(str(e.exception).startswith("530 Host"))
            ftp.login(e2e.USER, e2e.PASSWORD)
        finally:
            ftp.close()
        expected = {"remote_ip": src, "raw_command": "USER other", "response_code": 530,
                    "response_msg": "Host %s (class (none), user other) has been banned"
                    % src}
        self.assertTrue(wait_until(lambda: expected in [json.loads(r) for r in
                                                        self.db.lrange(b"users")], 3.0))
        self.assertEqual(tool(self.redis.port, "permit", "user", "other"),
                         (0, "user 'other' permitted\n"))
        self.assertTrue(wait_until(lambda: "331 Password required for other"
                                   in raw_session(self.b, src, ["USER other"])[0], 3.0))


# ---------------------------------------------------------------------------------------
# In-process: config, the table, Redis outages

CONF_HEAD = """
Port 0
RedisServer 127.0.0.1:1
"""


class ConfigTests(unittest.TestCase):
    def load(self, body):
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        path = os.path.join(base, "ftpd.conf")
        with open(path, "w") as f:
            f.write((CONF_HEAD + body).format(base=base))
        return load_config(path), path

    def errors(self, body):
        with self.assertRaises(ConfigErrors) as e:
            self.load(body)
        return [str(err) for err in e.exception.errors]

    def test_full_config(self):
        config, _ = self.load(
            "BanEngine on\nBanTable {base}/t\nBanCache redis\nBanCacheOptions UseJSON "
            "MatchServer\nBanOptions MatchAnyServer\nBanMessage \"no %a\"\nBanLog {base}/b.log\n"
            "BanOnEvent MaxLoginAttempts 2/00:10:00 01:00:00 \"bye\"\n"
            "BanOnEvent timeoutidle 1/1:0:0 0:0:30\nMaxCommandRate 100 2\n")
        b = config.servers[0].ban
        self.assertTrue(b.engine and b.use_json and b.match_server and b.match_any_server)
        self.assertEqual((b.cache, b.message), ("redis", "no %a"))
        self.assertEqual([(r.event, r.count, r.window, r.expires, r.message) for r in b.rules],
                         [("MaxLoginAttempts", 2, 600, 3600, "bye"),
                          ("TimeoutIdle", 1, 3600, 30, None)])
        self.assertEqual(config.servers[0].max_command_rate, (100, 2))

    def test_every_event_name_is_accepted(self):
        body = "BanEngine on\nBanTable {base}/t\n" + "".join(
            "BanOnEvent %s 1/00:00:01 00:00:01\n" % name for name in ban.EVENT_BAN_TYPE)
        config, _ = self.load(body)
        self.assertEqual(len(config.servers[0].ban.rules), len(ban.EVENT_BAN_TYPE))

    def test_bad_values_name_file_and_line(self):
        errors = self.errors(
            "BanEngine on\n"                                            # line 4
            "BanOnEvent Nonsense 1/00:00:01 00:00:01\n"                 # 5
            "BanOnEvent MaxLoginAttempts 0/00:00:01 00:00:01\n"         # 6
            "BanOnEvent MaxLoginAttempts 1/1h 00:00:01\n"               # 7
            "BanOnEvent MaxLoginAttempts 2 00:00:01\n"                  # 8
            "BanOnEvent MaxLoginAttempts 2/00:00:01 00:00:00\n"         # 9
            "BanCache memcache\n"                                       # 10
            "BanCacheOptions UseXML\n"                                  # 11
            "BanLog /nonexistent/dir/ban.log\n"                         # 12
            "MaxCommandRate fast\n")                                    # 13
        self.assertEqual(len(errors), 10, errors)
        for line, text in ((5, "unknown ban event 'Nonsense'"),
                           (6, "bad occurrence count '0'"),
                           (7, "badly formatted event window '1h'"),
                           (8, "badly formatted frequency '2'"),
                           (9, "ban duration '00:00:00' must be longer than zero"),
                           (10, "driver 'memcache' is not supported"),
                           (11, "unknown option 'UseXML'"),
                           (12, "BanLog: unable to use '/nonexistent/dir/ban.log'"),
                           (13, "MaxCommandRate: bad command count 'fast'")):
            self.assertTrue(any(text in e and "line %d of" % line in e for e in errors),
                            (line, text, errors))
        self.assertTrue(any("missing required BanTable" in e and "line 4 of" in e
                            for e in errors), errors)

    def test_ban_cache_needs_a_redis_server(self):
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        path = os.path.join(base, "ftpd.conf")
        with open(path, "w") as f:
            f.write("Port 0\nBanEngine on\nBanTable %s/t\nBanCache redis\n" % base)
        with self.assertRaises(ConfigErrors) as e:
            load_config(path)
        self.assertIn("BanCache: redis needs RedisServer", str(e.exception))


@implementer(IPolicySession)
class _Proto:
    """A session as the policy sees it; records how it was ended."""

    def __init__(self, host, sid=1):
        self.peer_host = host
        self.local_host = "127.0.0.1"
        self.original_user = None
        self.user = None
        self.connection_class = None
        self.disconnected = False
        self.end_reason = None
        self.ended = []
        self.session = type("S", (), {"session_id": sid})()

    def end_session(self, reason, reply=None):
        self.end_reason = reason
        self.ended.append((reason, reply))

    def policy_event(self, event, user=None):
        return False


class TableTests(unittest.TestCase):
    """The local table with a fake clock, and a ban cache whose Redis is down."""

    def setUp(self):
        self.now = 1000.25
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        self.conf = os.path.join(base, "ftpd.conf")
        port = e2e.free_port()      # nobody listens: Redis is down
        with open(self.conf, "w") as f:
            f.write("Port 0\nRedisServer 127.0.0.1:%d\nRedisTimeouts 200 200\n"
                    "BanEngine on\nBanTable %s/t\nBanCache redis\nBanCacheOptions UseJSON\n"
                    "BanOnEvent MaxLoginAttempts 2/00:01:00 00:00:10\n" % (port, base))
        config = load_config(self.conf)
        self.clock = task.Clock()
        self.registry = ban.BanRegistry(reactor=self.clock, clock=lambda: self.now)
        self.registry.configure(config)
        self.manager = self.registry.policy_for(config.servers[0])

    def test_expiry_is_exact_and_redis_down_does_not_matter(self):
        self.assertIsNotNone(self.manager.cache)       # configured, never connected
        p = _Proto("10.1.1.1")
        self.assertFalse(self.manager.on_event(p, "MaxLoginAttempts"))
        self.assertTrue(self.manager.on_event(p, "MaxLoginAttempts"))
        self.assertEqual(p.ended, [("Banned", None)])
        entry = self.registry.table[(ban.BAN_TYPE_HOST, "10.1.1.1", 1)]
        self.assertEqual(entry.expires, 1010)          # int(now) + 10, as in the cache
        for now, refused in ((1000.3, True), (1009.999, True), (1010.0, False)):
            self.now = now
            q = _Proto("10.1.1.1")
            self.assertEqual(self.manager.on_connect(q), refused, now)
        self.assertTrue(self.manager.on_connect.__self__ is self.manager)

    def test_event_window(self):
        p = _Proto("10.1.1.2")
        self.manager.on_event(p, "MaxLoginAttempts")
        self.now += 61                                 # outside the 1-minute window
        self.assertFalse(self.manager.on_event(p, "MaxLoginAttempts"))
        self.assertTrue(self.manager.on_event(p, "MaxLoginAttempts"))

    def test_refusal_without_message_is_silent(self):
        self.manager.add_ban(ban.BAN_TYPE_HOST, "10.1.1.3", 0, "test")
        p = _Proto("10.1.1.3", sid=77)
        self.assertTrue(self.manager.on_connect(p))
        # No BanMessage: a silent close (no 530, none on the DISCONNECT record), as ProFTPD
        self.assertEqual(p.ended, [("Banned", None)])

    def test_new_ban_ends_the_clients_other_sessions(self):
        first, other, current = _Proto("10.1.1.4"), _Proto("10.1.1.5"), _Proto("10.1.1.4")
        for p in (first, other, current):
            self.assertFalse(self.manager.on_connect(p))
        self.assertFalse(self.manager.on_event(current, "MaxLoginAttempts"))
        self.assertTrue(self.manager.on_event(current, "MaxLoginAttempts"))
        self.assertEqual((first.ended, other.ended, current.ended),
                         ([("Banned", None)], [], [("Banned", None)]))

    def test_manager_provides_the_policy_interface(self):
        from zope.interface.verify import verifyObject
        from ftpredis.ftp.interfaces import ISessionPolicy
        self.assertTrue(verifyObject(ISessionPolicy, self.manager))
        from zope.interface.verify import verifyClass
        from ftpredis.ftp.protocol import FTPRedisProtocol
        self.assertTrue(verifyClass(IPolicySession, FTPRedisProtocol))

    def test_mirror_survives_an_outage(self):
        cache = self.manager.cache
        entry = ban.BanEntry(ban.BAN_TYPE_HOST, "10.9.9.9", expires=0, reason="r")
        cache.mirror[(ban.BAN_TYPE_HOST, "10.9.9.9")] = entry
        cache.poll()                                   # no connection: keeps the mirror
        self.assertTrue(self.manager.on_connect(_Proto("10.9.9.9")))
        d = cache.store(entry)
        self.assertFailure(d, ban.NotConnected)        # fails at once, never waits
        return d

    def test_cache_key_and_value(self):
        self.assertEqual(ban.cache_key(2, "127.0.0.1"),
                         b'mod_ban.{"ban_type_id":2,"ban_name":"127.0.0.1"}\x00')
        # ProFTPD's own value, trailing NUL included, is read
        value = (b'{"version":2,"update_ts":1795643857,"ip_addr":"127.0.0.1","port":24974,'
                 b'"ban_type":"host ban","ban_name":"127.0.0.1","ban_reason":"MaxLoginAttempts'
                 b' autoban at Wed Nov 25 21:57:37 2026","ban_message":"",'
                 b'"expires_ts":1795643862,"server_id":1}\x00')
        entry = ban.BanEntry.from_cache(ban.cache_key(2, "127.0.0.1"), value)
        self.assertEqual((entry.ban_type, entry.name, entry.expires, entry.port),
                         (2, "127.0.0.1", 1795643862, 24974))
        self.assertEqual(entry.to_json(), value.rstrip(b"\x00"))
        self.assertIsNone(ban.BanEntry.from_cache(ban.cache_key(2, "x"), b"\x01tpl"))
        self.assertIsNone(ban.parse_key(b"mod_ban.nonsense"))

# -*- test-case-name: tests.test_ban_events -*-
"""The BanOnEvent events produced by login policy (ProFTPD 1.3.8's mod_auth signals):
MaxConnectionsPerHost, MaxClientsPerHost, MaxClientsPerUser, RootLogin and
AnonRejectPasswords, and those directives' own refusals without BanEngine.

In-process: the server is an FTPRedisFactory built from a config file on 127.0.0.1, its
bans kept in a real redis-server (``BanCache redis``); clients are plain sockets in a
thread so the reactor keeps serving.  What ProFTPD 1.3.8 does (checked with Debian's
proftpd and mod_ban): the event comes before the refusal reply, so the attempt that
reaches a rule's threshold gets only the BanMessage (nothing without one) and is closed.
"""

import json
import os
import socket
import time

from passlib.hash import sha512_crypt
from twisted.internet import defer, reactor
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from ftpredis.ban import bans as ban
from ftpredis.auth.portal import make_portal
from ftpredis.config import load_config
from ftpredis.ftp.factory import FTPRedisFactory
from tests.support.redisserver import RedisServer

PASSWORD = "s3cret"
_HASH = sha512_crypt.using(rounds=1000).hash(PASSWORD)

BANS = """
BanEngine         on
BanTable          {base}/ban.tab
BanCache          redis
BanCacheOptions   UseJSON
BanMessage        "Banned %a (user %u)"
RedisServer       127.0.0.1:{redis_port}
"""

BANNER = "220 ftpredis Server (test) [127.0.0.1]"
PER_USER = "530 Sorry, the maximum number of clients (%d) for this user are already connected."
PER_CONN = ("530 Sorry, the maximum number of connections (%d) for your host are already "
            "connected.")


class Client:
    """A blocking control connection (used from a thread)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")

    def reply(self):
        """The next reply's lines, or ["<closed>"] when the server closed instead."""
        lines = []
        while True:
            try:
                line = self.file.readline()
            except OSError:
                line = b""
            if not line:
                return lines + ["<closed>"]
            line = line.decode().rstrip("\r\n")
            lines.append(line)
            if line[3:4] == " ":
                return lines

    def send(self, line):
        try:
            self.sock.sendall(line.encode() + b"\r\n")
        except OSError:
            return ["<closed>"]
        return self.reply()

    def login(self, user, password=PASSWORD):
        self.send("USER " + user)
        return self.send("PASS " + password)

    def close(self):
        self.file.close()
        self.sock.close()


class _Base(unittest.TestCase):
    redis = None

    def start(self, conf, bans=False):
        """Serve ``conf`` (config lines; users alice and toor, uid 0, exist)."""
        base = os.path.realpath(self.mktemp())
        os.makedirs(os.path.join(base, "home"))
        os.makedirs(os.path.join(base, "anon"))
        passwd = os.path.join(base, "ftpd.passwd")
        with open(passwd, "w") as f:
            for name, uid in (("alice", 65534), ("toor", 0)):
                f.write("%s:%s:%d:65534::%s/home:/bin/sh\n" % (name, _HASH, uid, base))
        os.chmod(passwd, 0o600)
        text = ("ServerName test\nPort 0\nAuthUserFile %s\nRequireValidShell off\n"
                "DefaultRoot ~\nMaxLoginAttempts 5\n" % passwd)
        if bans:
            self.redis = RedisServer()
            self.addCleanup(self.redis.cleanup)
            self.redis.start()
            text += BANS.format(base=base, redis_port=self.redis.port)
        text += conf.format(base=base)
        path = os.path.join(base, "ftpd.conf")
        with open(path, "w") as f:
            f.write(text)
        config = load_config(path)
        server = config.servers[0]
        self.events = []
        policy = None
        if bans:
            self.registry = ban.BanRegistry()
            self.registry.configure(config)
            policy = self.registry.policy_for(server)
            self.registry.startService()
            self.addCleanup(self.registry.stopService)
        self.factory = FTPRedisFactory(server, make_portal(server), self.events.append,
                                       policy=policy)
        self.factory.loginFailureDelay = 0
        listener = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(listener.stopListening)
        self.port = listener.getHost().port
        self.clients = []
        self.addCleanup(self._closeClients)
        if bans:
            return self.cacheReady()
        return defer.succeed(None)

    def cacheReady(self):
        return self.registry.caches[self.factory.server.redis].whenConnected(5)

    def _closeClients(self):
        for c in self.clients:
            c.close()

    def connect(self):
        c = Client(self.port)
        self.clients.append(c)
        return c, c.reply()

    def cached(self, ban_type, name):
        """The ban entry in Redis (waits up to 5 s for it to be stored)."""
        db = self.redis.client()
        deadline = time.monotonic() + 5
        while True:
            value = db.command("GET", ban.cache_key(ban_type, name))
            if value is not None or time.monotonic() > deadline:
                return None if value is None else json.loads(value)
            time.sleep(0.02)

    def waitSessions(self, n):
        """Wait (in the client thread) until the server holds ``n`` sessions."""
        deadline = time.monotonic() + 5
        while len(self.factory.instances) != n:
            if time.monotonic() > deadline:
                raise AssertionError("the server holds %d sessions, not %d"
                                     % (len(self.factory.instances), n))
            time.sleep(0.01)

    def thread(self, fn):
        return deferToThread(fn)


class DirectiveTests(_Base):
    """The directives' own refusals; BanEngine off."""

    @defer.inlineCallbacks
    def test_max_connections_per_host(self):
        yield self.start("MaxConnectionsPerHost 2\n")

        def run():
            first = [self.connect()[1] for _ in range(2)]
            c, third = self.connect()
            return first, third, c.reply()
        first, third, after = yield self.thread(run)
        self.assertEqual(first, [[BANNER], [BANNER]])
        self.assertEqual(third, [PER_CONN % 2])        # instead of the banner
        self.assertEqual(after, ["<closed>"])

    @defer.inlineCallbacks
    def test_max_connections_per_host_message(self):
        yield self.start('MaxConnectionsPerHost 1 "no more than %m, please"\n')

        def run():
            self.connect()
            return self.connect()[1]
        self.assertEqual((yield self.thread(run)), ["530 no more than 1, please"])

    @defer.inlineCallbacks
    def test_closed_connections_do_not_count(self):
        yield self.start("MaxConnectionsPerHost 1\n")

        def run():
            c, first = self.connect()
            c.send("QUIT")
            c.reply()
            self.waitSessions(0)
            return first, self.connect()[1]
        self.assertEqual((yield self.thread(run)), ([BANNER], [BANNER]))

    @defer.inlineCallbacks
    def test_max_clients_per_user(self):
        yield self.start("MaxClientsPerUser 1\n")

        def run():
            a, _ = self.connect()
            b, _ = self.connect()
            return a.login("alice"), b.login("alice"), b.send("NOOP"), a.send("NOOP")
        a_login, b_login, b_after, a_after = yield self.thread(run)
        self.assertEqual(a_login, ["230 User alice logged in"])
        self.assertEqual(b_login, [PER_USER % 1])
        self.assertEqual(b_after, ["<closed>"])
        self.assertEqual(a_after, ["200 NOOP command successful"])
        refused = [e for e in self.events if e.command == "PASS" and e.response_code == 530]
        self.assertEqual([e.response_msg for e in refused], [PER_USER[4:] % 1])

    @defer.inlineCallbacks
    def test_max_clients_per_user_message_and_other_users(self):
        yield self.start('MaxClientsPerUser 1 "only %m session for you"\n'
                         "RootLogin on\n")

        def run():
            a, _ = self.connect()
            b, _ = self.connect()
            c, _ = self.connect()
            return a.login("alice"), c.login("toor"), b.login("alice")
        self.assertEqual((yield self.thread(run)), (
            ["230 User alice logged in"], ["230 User toor logged in"],
            ["530 only 1 session for you"]))

    @defer.inlineCallbacks
    def test_root_login(self):
        yield self.start("")

        def run():
            c, _ = self.connect()
            return c.login("toor"), c.login("toor", "wrong"), c.login("alice")
        self.assertEqual((yield self.thread(run)), (
            ["530 Login incorrect."], ["530 Login incorrect."],
            ["230 User alice logged in"]))

    @defer.inlineCallbacks
    def test_root_login_on(self):
        yield self.start("RootLogin on\n")

        def run():
            c, _ = self.connect()
            return c.login("toor")
        self.assertEqual((yield self.thread(run)), ["230 User toor logged in"])

    @defer.inlineCallbacks
    def test_anon_reject_passwords(self):
        yield self.start("<Anonymous {base}/anon>\n  User alice\n  UserAlias anonymous alice\n"
                         "  AnonRejectPasswords ^(mozilla|IE[0-9]*User)@\n</Anonymous>\n")

        def run():
            c, _ = self.connect()
            return (c.login("anonymous", "mozilla@"), c.send("NOOP"),
                    c.login("anonymous", "IEUser@"), c.login("anonymous", "me@example.com"))
        rejected, noop, rejected2, accepted = yield self.thread(run)
        self.assertEqual(rejected, ["530 Login incorrect."])   # a failed login, session on
        self.assertEqual(noop, ["200 NOOP command successful"])
        self.assertEqual(rejected2, ["530 Login incorrect."])
        self.assertEqual(accepted, ["230 Anonymous access granted, restrictions apply"])

    @defer.inlineCallbacks
    def test_anon_reject_passwords_negated(self):
        yield self.start("<Anonymous {base}/anon>\n  User alice\n  UserAlias anonymous alice\n"
                         "  AnonRejectPasswords !@\n</Anonymous>\n")

        def run():
            c, _ = self.connect()
            return c.login("anonymous", "nobody"), c.login("anonymous", "me@example.com")
        self.assertEqual((yield self.thread(run)), (
            ["530 Login incorrect."], ["230 Anonymous access granted, restrictions apply"]))


class BanEventTests(_Base):
    """Each event bans (kept in Redis), the triggering attempt gets only the BanMessage."""

    def assertCached(self, ban_type, name, event):
        entry = self.cached(ban_type, name)
        self.assertIsNotNone(entry, "no cache entry for %s" % (name,))
        self.assertTrue(entry["ban_reason"].startswith(event + " autoban at "), entry)
        self.assertEqual(entry["expires_ts"] - entry["update_ts"], 60)

    @defer.inlineCallbacks
    def test_max_connections_per_host(self):
        yield self.start("MaxConnectionsPerHost 1\n"
                         "BanOnEvent MaxConnectionsPerHost 2/00:01:00 00:01:00\n", bans=True)

        def run():
            a, first = self.connect()
            b, second = self.connect()       # the first event: refused, not banned
            c, third = self.connect()        # the second: banned, a is ended too
            self.assertCached(ban.BAN_TYPE_HOST, "127.0.0.1", "MaxConnectionsPerHost")
            d, fourth = self.connect()       # a host ban, before the banner
            return first, second, b.reply(), third, c.reply(), a.reply(), fourth
        first, second, second_after, third, third_after, a_after, fourth = \
            yield self.thread(run)
        self.assertEqual(first, [BANNER])
        self.assertEqual(second, [PER_CONN % 1])
        self.assertEqual(second_after, ["<closed>"])
        self.assertEqual(third, ["530 Banned 127.0.0.1 (user (none))"])
        self.assertEqual(third_after, ["<closed>"])
        self.assertEqual(a_after, ["530 Banned 127.0.0.1 (user (none))"])
        self.assertEqual(fourth, ["530 Banned 127.0.0.1 (user (none))"])

    @defer.inlineCallbacks
    def test_max_clients_per_host(self):
        yield self.start("MaxClientsPerHost 1\n"
                         "BanOnEvent MaxClientsPerHost 1/00:01:00 00:01:00\n", bans=True)

        def run():
            a, _ = self.connect()
            logged = a.login("alice")
            b, _ = self.connect()            # connections count, logged in or not
            refused = b.login("alice")
            self.assertCached(ban.BAN_TYPE_HOST, "127.0.0.1", "MaxClientsPerHost")
            return logged, refused, b.reply(), self.connect()[1]
        logged, refused, after, next_one = yield self.thread(run)
        self.assertEqual(logged, ["230 User alice logged in"])
        self.assertEqual(refused, ["530 Banned 127.0.0.1 (user alice)"])   # not the 530 "Sorry..."
        self.assertEqual(after, ["<closed>"])
        self.assertEqual(next_one[:1], ["530 Banned 127.0.0.1 (user (none))"])

    @defer.inlineCallbacks
    def test_max_clients_per_user(self):
        yield self.start("MaxClientsPerUser 1\n"
                         "BanOnEvent MaxClientsPerUser 2/00:01:00 00:01:00\n", bans=True)

        def run():
            a, _ = self.connect()
            b, _ = self.connect()
            c, _ = self.connect()
            d, _ = self.connect()
            out = [a.login("alice"), b.login("alice"), c.login("alice")]
            self.assertCached(ban.BAN_TYPE_USER, "alice", "MaxClientsPerUser")
            out += [a.reply(), d.send("USER alice"), d.send("USER toor")]
            return out
        a_in, b_refused, c_banned, a_after, d_alice, d_toor = yield self.thread(run)
        self.assertEqual(a_in, ["230 User alice logged in"])
        self.assertEqual(b_refused, [PER_USER % 1])
        self.assertEqual(c_banned, ["530 Banned 127.0.0.1 (user alice)"])
        # a user ban: alice's other session ends, and USER alice is refused; toor is not
        self.assertEqual(a_after, ["530 Banned 127.0.0.1 (user alice)"])
        self.assertEqual(d_alice, ["530 Banned 127.0.0.1 (user alice)"])
        self.assertEqual(d_toor, ["331 Password required for toor"])

    @defer.inlineCallbacks
    def test_root_login(self):
        yield self.start("BanOnEvent RootLogin 2/00:01:00 00:01:00\n", bans=True)

        def run():
            c, _ = self.connect()
            # counted whatever the password, as in ProFTPD (before the password check)
            out = [c.login("toor", "wrong"), c.login("toor")]
            self.assertCached(ban.BAN_TYPE_HOST, "127.0.0.1", "RootLogin")
            return out + [c.reply(), self.connect()[1]]
        first, second, after, next_one = yield self.thread(run)
        self.assertEqual(first, ["530 Login incorrect."])
        self.assertEqual(second, ["530 Banned 127.0.0.1 (user toor)"])
        self.assertEqual(after, ["<closed>"])
        self.assertEqual(next_one[:1], ["530 Banned 127.0.0.1 (user (none))"])

    @defer.inlineCallbacks
    def test_root_login_on_still_counts(self):
        yield self.start("RootLogin on\nBanOnEvent RootLogin 1/00:01:00 00:01:00\n",
                         bans=True)

        def run():
            c, _ = self.connect()
            return c.login("toor")
        self.assertEqual((yield self.thread(run)), ["530 Banned 127.0.0.1 (user toor)"])

    @defer.inlineCallbacks
    def test_anon_reject_passwords(self):
        yield self.start("BanOnEvent AnonRejectPasswords 2/00:01:00 00:01:00\n"
                         "<Anonymous {base}/anon>\n  User alice\n  UserAlias anonymous alice\n"
                         "  AnonRejectPasswords ^bad\n</Anonymous>\n", bans=True)

        def run():
            c, _ = self.connect()
            out = [c.login("anonymous", "me@example.com")]
            d, _ = self.connect()
            out += [d.login("anonymous", "bad@x"), d.login("anonymous", "bad@y")]
            self.assertCached(ban.BAN_TYPE_HOST, "127.0.0.1", "AnonRejectPasswords")
            return out + [d.reply(), c.send("NOOP"), self.connect()[1]]
        ok, first, second, after, c_after, next_one = yield self.thread(run)
        self.assertEqual(ok, ["230 Anonymous access granted, restrictions apply"])
        self.assertEqual(first, ["530 Login incorrect."])
        self.assertEqual(second, ["530 Banned 127.0.0.1 (user anonymous)"])
        self.assertEqual(after, ["<closed>"])
        # the host's other session ends too
        self.assertEqual(c_after, ["530 Banned 127.0.0.1 (user anonymous)"])
        self.assertEqual(next_one[:1], ["530 Banned 127.0.0.1 (user (none))"])

    @defer.inlineCallbacks
    def test_no_rule_no_ban(self):
        """Without a BanOnEvent rule the policy refusals stay ProFTPD's plain replies."""
        yield self.start("MaxConnectionsPerHost 1\nMaxClientsPerUser 1\n", bans=True)

        def run():
            a, _ = self.connect()
            _, refused = self.connect()
            out = [refused, a.login("alice")]
            self.waitSessions(1)
            b, banner = self.connect()
            return out + [banner]
        refused, logged, banner = yield self.thread(run)
        self.assertEqual(refused, [PER_CONN % 1])
        self.assertEqual(logged, ["230 User alice logged in"])
        self.assertEqual(banner, [PER_CONN % 1])      # a is still connected; no ban
        self.assertEqual(self.registry.table, {})

# -*- test-case-name: tests.test_service -*-
"""The service tree in-process: virtual hosts as listeners (addresses, ports, wildcard
routing, Port 0, duplicates, <Global>), shared sinks, reload and graceful shutdown.

Everything runs against a real redis-server and real ftplib clients over loopback
(127.0.0.1, 127.0.0.2 and ::1); the daemon side (twistd, signals, privileges, the init
script) is in tests/test_daemon.py.
"""

import ftplib
import json
import os
import socket
import threading

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config import load_config
from ftpredis.config.model import ConfigErrors
from ftpredis.app.service import FTPRedisService, RoutingTable
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin

from tests.support.sites import HEAD, free_port_on  # noqa: E402


def client(host, port, user=e2e.USER, password=e2e.PASSWORD):
    return e2e.ftp_connect(port, user, password, host=host)


def session(host, port):
    """Log in, store a file, quit; returns the banner."""
    ftp = client(host, port)
    ftp.storbinary("STOR f.txt", e2e.BytesIO(b"data\n"))
    ftp.quit()
    return ftp.welcome


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        return True
    return False


class SiteMixin(RedisServerMixin):
    """A config written from ``head + body`` with named ports; the service started."""

    shutdown_timeout = 10.0

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        e2e.write_site(self.base, "", users=((e2e.USER, e2e.PASSWORD), ("other", "pw2")))
        self.db = self.redis.client()
        self.service = None

    def write(self, body, **ports):
        text = (HEAD + body).format(base=self.base, redis_port=self.redis.port, **ports)
        self.conf = os.path.join(self.base, "ftpd.conf")
        with open(self.conf, "w") as f:
            f.write(text)
        return self.conf

    def start(self, body, **ports):
        self.write(body, **ports)
        self.service = FTPRedisService(load_config(self.conf),
                                       shutdown_timeout=self.shutdown_timeout)
        self.service.startService()
        self.addCleanup(self._stop)
        return self.service

    def _stop(self):
        if self.service is not None and self.service.running:
            return self.service.stopService()

    @defer.inlineCallbacks
    def records(self, key, count):
        got = yield e2e.wait_records(self.db, key, count)
        return [json.loads(r) for r in got]


THREE = r"""
ServerName          "main"
DefaultAddress      127.0.0.1
Port                {p}
RedisLogOnCommand   CONNECT,PASS,DISCONNECT who main-key

<VirtualHost 127.0.0.2>
  ServerName        "second"
  Port              {p}
  RedisLogOnCommand CONNECT,PASS,DISCONNECT who second-key
</VirtualHost>

<VirtualHost ::1>
  ServerName        "third"
  Port              {q}
  RedisLogOnCommand CONNECT,PASS,DISCONNECT who third-key
</VirtualHost>
"""

TWO = r"""
ServerName          "main (disabled)"
Port                0
RedisLogOnCommand   CONNECT,PASS,DISCONNECT who main-key

<VirtualHost 127.0.0.1>
  ServerName        "alpha"
  Port              {p}
  RedisLogOnCommand CONNECT,PASS,DISCONNECT who alpha-key
</VirtualHost>

<VirtualHost 127.0.0.2>
  ServerName        "beta"
  Port              {q}
  RedisLogOnCommand CONNECT,PASS,DISCONNECT who beta-key
</VirtualHost>
"""


class VirtualHostTests(SiteMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_two_vhosts_and_a_disabled_main_server(self):
        p, q = e2e.free_port(), free_port_on("127.0.0.2")
        svc = self.start(TWO, p=p, q=q)
        self.assertEqual(svc.addresses(), [("127.0.0.1", p), ("127.0.0.2", q)])
        self.assertEqual([s.server.server_name for s in svc.servers()], ["alpha", "beta"])
        yield e2e.in_thread(session, "127.0.0.1", p)
        yield e2e.in_thread(session, "127.0.0.2", q)
        # Port 0: the main server has no listener anywhere, and its key stays empty.
        self.assertTrue((yield e2e.in_thread(refused, "127.0.0.2", p)))
        alpha = yield self.records(b"alpha-key", 3)
        beta = yield self.records(b"beta-key", 3)
        self.assertEqual([(r["server_name"], r["local_port"], r["local_ip"]) for r in alpha],
                         [("alpha", p, "127.0.0.1")] * 3)
        self.assertEqual([(r["server_name"], r["local_port"], r["local_ip"]) for r in beta],
                         [("beta", q, "127.0.0.2")] * 3)
        self.assertEqual([r.get("command") for r in alpha], [None, "PASS", "EXIT"])
        self.assertEqual(self.db.llen(b"main-key"), 0)

    @defer.inlineCallbacks
    def test_control_connections_get_nodelay_and_oobinline(self):
        """Every accepted control connection has TCP_NODELAY (no reply waits for Nagle)
        and SO_OOBINLINE (ABOR's urgent byte read in line), set once on the listening
        socket and inherited, on each vhost's listener."""
        p, q = e2e.free_port(), free_port_on("127.0.0.2")
        svc = self.start(TWO, p=p, q=q)
        for host, port in (("127.0.0.1", p), ("127.0.0.2", q)):
            ftp = yield e2e.in_thread(client, host, port)
            self.addCleanup(ftp.close)
        protos = [proto for s in svc.servers() for proto in s.sessions()]
        self.assertEqual(len(protos), 2)
        for proto in protos:
            sock = proto.transport.getHandle()
            self.assertTrue(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            self.assertTrue(sock.getsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE))
            self.assertTrue(proto.transport.server.control_options)

    @defer.inlineCallbacks
    def test_three_servers_ipv4_and_ipv6(self):
        p, q = free_port_on("127.0.0.1", "127.0.0.2"), free_port_on("::1")
        svc = self.start(THREE, p=p, q=q)
        self.assertEqual(sorted(svc.addresses()),
                         sorted([("127.0.0.1", p), ("127.0.0.2", p), ("::1", q)]))
        banners = []
        for host, port in (("127.0.0.1", p), ("127.0.0.2", p), ("::1", q)):
            banners.append((yield e2e.in_thread(session, host, port)))
        self.assertEqual([b.split(" ")[-1] for b in banners], ["[127.0.0.1]", "[127.0.0.2]",
                                                                 "[::1]"])
        for key, name, ip, port in ((b"main-key", "main", "127.0.0.1", p),
                                    (b"second-key", "second", "127.0.0.2", p),
                                    (b"third-key", "third", "::1", q)):
            got = yield self.records(key, 3)
            self.assertEqual({(r["server_name"], r["local_port"], r["local_ip"]) for r in got},
                             {(name, port, ip)}, key)
            self.assertEqual(got[-1]["session_end_reason"], "Quit")
        # Servers on one Redis share one sink (and one connection pool).
        self.assertEqual(len(svc.sinks.sinks()), 1)

    @defer.inlineCallbacks
    def test_wildcard_main_server_and_vhost_on_one_port(self):
        """ProFTPD's SocketBindTight off: one wildcard socket, connections routed by the
        local address they arrived on."""
        p = free_port_on("0.0.0.0")
        svc = self.start(r"""
ServerName          "wild"
Port                {p}
RedisLogOnCommand   CONNECT who main-key
<VirtualHost 127.0.0.2>
  ServerName        "exact"
  Port              {p}
  RedisLogOnCommand CONNECT who vhost-key
</VirtualHost>
""", p=p)
        self.assertEqual(svc.addresses(), [("0.0.0.0", p)])
        yield e2e.in_thread(session, "127.0.0.1", p)
        yield e2e.in_thread(session, "127.0.0.2", p)
        main = yield self.records(b"main-key", 1)
        vhost = yield self.records(b"vhost-key", 1)
        self.assertEqual((main[0]["server_name"], main[0]["local_ip"]), ("wild", "127.0.0.1"))
        self.assertEqual((vhost[0]["server_name"], vhost[0]["local_ip"]),
                         ("exact", "127.0.0.2"))

    @defer.inlineCallbacks
    def test_global_merging_and_own_settings(self):
        """<Global> applies to every server; a server's own directive wins; each server
        has its own auth and DefaultRoot."""
        p, q = e2e.free_port(), free_port_on("127.0.0.2")
        other_passwd = os.path.join(self.base, "other.passwd")
        with open(os.path.join(self.base, "ftpd.passwd")) as f:
            lines = f.readlines()
        with open(other_passwd, "w") as f:
            f.writelines(l for l in lines if l.startswith("other:"))
        os.chmod(other_passwd, 0o600)
        self.start(r"""
<Global>
  ServerIdent       on "global banner"
  DefaultRoot       ~
</Global>
ServerName          "main"
DefaultAddress      127.0.0.1
Port                {p}
<VirtualHost 127.0.0.2>
  ServerName        "vhost"
  ServerIdent       on "own banner"
  AuthUserFile      {base}/other.passwd
  Port              {q}
  DefaultRoot       /
</VirtualHost>
""", p=p, q=q)

        def probe(host, port, user, password):
            ftp = client(host, port, None)
            banner = ftp.welcome
            try:
                ftp.login(user, password)
            except ftplib.error_perm as e:
                ftp.close()
                return banner, str(e)
            pwd = ftp.pwd()
            ftp.quit()
            return banner, pwd

        main_user = yield e2e.in_thread(probe, "127.0.0.1", p, e2e.USER, e2e.PASSWORD)
        vhost_user = yield e2e.in_thread(probe, "127.0.0.2", q, e2e.USER, e2e.PASSWORD)
        vhost_other = yield e2e.in_thread(probe, "127.0.0.2", q, "other", "pw2")
        self.assertEqual(main_user, ("220 global banner", "/"))
        self.assertEqual(vhost_user, ("220 own banner", "530 Login incorrect."))
        # No jail on the vhost: the start directory is the real home.
        self.assertEqual(vhost_other, ("220 own banner", e2e.home(self.base, "other")))

    def test_duplicate_binding_is_a_config_error(self):
        conf = self.write(r"""
DefaultAddress      127.0.0.1
Port                2121
<VirtualHost 127.0.0.1>
  Port              2121
</VirtualHost>
""")
        with self.assertRaises(ConfigErrors) as caught:
            load_config(conf)
        text = "\n".join(str(e) for e in caught.exception.errors)
        self.assertIn("port 2121 is already used by main server", text)
        with open(conf) as f:
            line = f.read().splitlines().index("<VirtualHost 127.0.0.1>") + 1
        self.assertIn("line %d of '%s'" % (line, conf), text)

    def test_same_address_once_resolved_is_a_config_error(self):
        config = load_config(self.write(r"""
DefaultAddress      127.0.0.1
Port                2121
<VirtualHost localhost>
  Port              2121
</VirtualHost>
"""))
        if socket.getaddrinfo("localhost", 2121, type=socket.SOCK_STREAM)[0][0] != socket.AF_INET:
            # localhost resolves to ::1 first here: a different address, no clash.
            RoutingTable([(s, s) for s in config.servers])
            return
        with self.assertRaises(ConfigErrors) as caught:
            RoutingTable([(s, s) for s in config.servers])
        self.assertIn("127.0.0.1) port 2121 is already used by main server",
                      str(caught.exception))

    def test_separate_redis_targets_get_separate_sinks(self):
        other = self.startRedis()
        p, q = e2e.free_port(), e2e.free_port()
        svc = self.start(r"""
DefaultAddress      127.0.0.1
Port                {p}
RedisLogOnCommand   CONNECT who k
<VirtualHost 127.0.0.1>
  Port              {q}
  RedisServer       127.0.0.1:%d
  RedisLogOnCommand CONNECT who k
</VirtualHost>
""" % other.port, p=p, q=q)
        self.assertEqual(len(svc.sinks.sinks()), 2)
        main, vhost = svc.servers()
        self.assertIsNot(main.sink, vhost.sink)
        self.assertEqual(vhost.sink.target.port, other.port)


RELOAD = r"""
ServerName          "main"
DefaultAddress      127.0.0.1
Port                {p}
RedisLogOnCommand   CONNECT,PASS,STOR,DISCONNECT who main-key
"""

VHOST = r"""
<VirtualHost 127.0.0.2>
  ServerName        "{name}"
  Port              {q}
  RedisLogOnCommand CONNECT,PASS,STOR,DISCONNECT who {name}-key
</VirtualHost>
"""


class ReloadTests(SiteMixin, unittest.TestCase):

    def rewrite(self, body, **ports):
        self.write(body, **ports)

    @defer.inlineCallbacks
    def test_add_and_remove_vhost_while_a_session_stays_open(self):
        p, q, r = e2e.free_port(), free_port_on("127.0.0.2"), free_port_on("127.0.0.2")
        svc = self.start(RELOAD + VHOST, p=p, q=q, name="old")
        main_before = svc.servers()[0]
        ftp = yield e2e.in_thread(client, "127.0.0.2", q)

        self.rewrite(RELOAD + VHOST.replace("{q}", "{r}"), p=p, r=r, name="new")
        self.assertTrue((yield svc.reload()))
        self.assertEqual(svc.addresses(), [("127.0.0.1", p), ("127.0.0.2", r)])
        # The unchanged main server was not touched; the vhost was replaced.
        self.assertIs(svc.servers()[0], main_before)
        self.assertEqual([s.server.server_name for s in svc.servers()], ["main", "new"])
        self.assertTrue((yield e2e.in_thread(refused, "127.0.0.2", q)))
        yield e2e.in_thread(session, "127.0.0.2", r)

        # The session opened before the reload goes on, on its old settings.
        def finish():
            ftp.storbinary("STOR late.txt", e2e.BytesIO(b"late\n"))
            ftp.quit()
        yield e2e.in_thread(finish)
        old = yield self.records(b"old-key", 4)
        self.assertEqual([(r.get("command"), r["server_name"], r["local_port"]) for r in old],
                         [(None, "old", q), ("PASS", "old", q), ("STOR", "old", q),
                          ("EXIT", "old", q)])
        new = yield self.records(b"new-key", 4)
        self.assertEqual({(r["server_name"], r["local_port"]) for r in new}, {("new", r)})

    @defer.inlineCallbacks
    def test_removed_vhost_session_ended_at_shutdown(self):
        p, q = e2e.free_port(), free_port_on("127.0.0.2")
        svc = self.start(RELOAD + VHOST, p=p, q=q, name="gone")
        ftp = yield e2e.in_thread(client, "127.0.0.2", q)
        self.rewrite(RELOAD, p=p)
        self.assertTrue((yield svc.reload()))
        self.assertEqual(svc.addresses(), [("127.0.0.1", p)])
        yield svc.stopService()
        got = yield self.records(b"gone-key", 3)
        self.assertEqual(got[-1]["session_end_reason"], "Server shutting down")
        ftp.close()

    @defer.inlineCallbacks
    def test_changed_port_is_rebound(self):
        p, p2 = e2e.free_port(), e2e.free_port()
        svc = self.start(RELOAD, p=p)
        self.rewrite(RELOAD, p=p2)
        self.assertTrue((yield svc.reload()))
        self.assertEqual(svc.addresses(), [("127.0.0.1", p2)])
        self.assertTrue((yield e2e.in_thread(refused, "127.0.0.1", p)))
        yield e2e.in_thread(session, "127.0.0.1", p2)
        got = yield self.records(b"main-key", 4)
        self.assertEqual({r["local_port"] for r in got}, {p2})

    @defer.inlineCallbacks
    def test_summary_says_what_changed(self):
        """The reload's log line names the listeners, servers and users that changed."""
        p, q, r = e2e.free_port(), free_port_on("127.0.0.2"), free_port_on("127.0.0.2")
        svc = self.start(RELOAD + VHOST, p=p, q=q, name="v")
        lines = []
        from twisted.logger import formatEvent, globalLogPublisher

        def observer(event):
            if event.get("log_format", "").startswith("configuration reloaded"):
                lines.append(formatEvent(event))
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        passwd = os.path.join(self.base, "ftpd.passwd")
        with open(passwd) as f:
            entry = f.readline()
        with open(passwd, "a") as f:
            f.write(entry.replace(e2e.USER, "bob", 1))
        self.rewrite(RELOAD + VHOST.replace("{q}", "{r}"), p=p, r=r, name="v")
        self.assertTrue((yield svc.reload()))
        self.assertTrue((yield svc.reload()))
        self.assertEqual(lines, [
            "configuration reloaded from %s: listeners 1 kept, 1 added (127.0.0.2:%d), 1 "
            "removed (127.0.0.2:%d); servers 0 unchanged, 2 changed (main server, "
            "<VirtualHost 127.0.0.2>), 0 added, 0 removed; users 1 added (bob), 0 removed, "
            "0 changed" % (self.conf, r, q),
            "configuration reloaded from %s: nothing changed (2 listeners, 2 servers, 3 "
            "users)" % (self.conf,)])

    @defer.inlineCallbacks
    def test_config_with_errors_is_refused(self):
        p = e2e.free_port()
        svc = self.start(RELOAD, p=p)
        before = (svc.config, svc.servers(), svc.addresses())
        with open(self.conf, "a") as f:
            f.write("\nPort {p}\nNoSuchDirective 1\n".format(p=e2e.free_port()))
        errors = []
        from twisted.logger import globalLogPublisher
        observer = errors.append
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.assertFalse((yield svc.reload()))
        self.assertEqual((svc.config, svc.servers(), svc.addresses()), before)
        messages = [e.get("error") for e in errors if e.get("error")]
        with open(self.conf) as f:
            line = f.read().splitlines().index("NoSuchDirective 1") + 1
        self.assertTrue(any("NoSuchDirective" in m and "line %d of '%s'" % (line, self.conf)
                            in m for m in messages), messages)
        yield e2e.in_thread(session, "127.0.0.1", p)

    @defer.inlineCallbacks
    def test_unprovided_modules_directives_judged_as_at_start(self):
        """Below ``LoadModule mod_quotatab.c``, ``QuotaEngine off`` is taken (ignored) and
        ``QuotaEngine on`` refuses the reload, naming the module and its LoadModule
        line (tests/test_config_unprovided.py)."""
        p = e2e.free_port()
        svc = self.start(RELOAD, p=p)
        self.rewrite("LoadModule mod_quotatab.c\nQuotaEngine off\n" + RELOAD, p=p)
        self.assertTrue((yield svc.reload()))
        before = (svc.config, svc.servers(), svc.addresses())
        self.assertTrue([w for w in svc.config.warnings if w.startswith("QuotaEngine off on")
                         and "ignored: it turns off mod_quotatab.c" in w],
                        svc.config.warnings)
        errors = []
        from twisted.logger import globalLogPublisher
        globalLogPublisher.addObserver(errors.append)
        self.addCleanup(globalLogPublisher.removeObserver, errors.append)
        self.rewrite("LoadModule mod_quotatab.c\nQuotaEngine on\n" + RELOAD, p=p)
        self.assertFalse((yield svc.reload()))
        self.assertEqual((svc.config, svc.servers(), svc.addresses()), before)
        with open(self.conf) as f:
            line = f.read().splitlines().index("QuotaEngine on") + 1
        self.assertIn("QuotaEngine: ftpredis does not provide mod_quotatab.c (loaded on line "
                      "%d of '%s') and cannot apply this directive on line %d of '%s'; "
                      "ProFTPD would apply it: remove it (only turning the module off is "
                      "accepted)" % (line - 1, self.conf, line, self.conf),
                      [e.get("error") for e in errors])
        yield e2e.in_thread(session, "127.0.0.1", p)

    @defer.inlineCallbacks
    def test_port_that_cannot_be_bound_refuses_the_reload(self):
        p = e2e.free_port()
        svc = self.start(RELOAD, p=p)
        busy = socket.socket()
        busy.bind(("127.0.0.2", 0))
        busy.listen()
        self.addCleanup(busy.close)
        self.rewrite(RELOAD + VHOST, p=p, q=busy.getsockname()[1], name="v")
        self.assertFalse((yield svc.reload()))
        self.assertEqual(svc.addresses(), [("127.0.0.1", p)])
        self.assertEqual([s.server.server_name for s in svc.servers()], ["main"])
        yield e2e.in_thread(session, "127.0.0.1", p)

    @defer.inlineCallbacks
    def test_wildcard_added_on_a_bound_port(self):
        """A vhost's port gains the wildcard main server: the specific socket is swapped
        for a wildcard one, and both servers are reached."""
        p = free_port_on("0.0.0.0")
        svc = self.start(r"""
Port                0
<VirtualHost 127.0.0.2>
  ServerName        "exact"
  Port              {p}
  RedisLogOnCommand CONNECT who k
</VirtualHost>
""", p=p)
        self.assertEqual(svc.addresses(), [("127.0.0.2", p)])
        self.rewrite(r"""
ServerName          "wild"
Port                {p}
RedisLogOnCommand   CONNECT who k
<VirtualHost 127.0.0.2>
  ServerName        "exact"
  Port              {p}
  RedisLogOnCommand CONNECT who k
</VirtualHost>
""", p=p)
        self.assertTrue((yield svc.reload()))
        self.assertEqual(svc.addresses(), [("0.0.0.0", p)])
        yield e2e.in_thread(session, "127.0.0.2", p)
        yield e2e.in_thread(session, "127.0.0.1", p)
        got = yield self.records(b"k", 2)
        self.assertEqual([r["server_name"] for r in got], ["exact", "wild"])

    @defer.inlineCallbacks
    def test_redislog_reopened(self):
        p = e2e.free_port()
        logdir = os.path.join(self.base, "log")
        os.makedirs(logdir, mode=0o700)
        body = RELOAD + "RedisLog %s/redis.log\n" % logdir
        self.start(body, p=p)
        path = os.path.join(logdir, "redis.log")
        self.assertTrue(os.path.exists(path))
        os.rename(path, path + ".1")        # what logrotate does
        self.assertTrue((yield self.service.reload()))
        self.assertTrue(os.path.exists(path))
        redis_log = self.service.servers()[0].logs[0]
        redis_log.write("after rotation")
        with open(path) as f:
            self.assertIn("after rotation", f.read())
        self.assertIn(redis_log, self.service.servers()[0].sink.logs)


BIG = 24 * 1024 * 1024      # more than loopback socket buffers hold


class ShutdownTests(SiteMixin, unittest.TestCase):
    """stopService (what SIGTERM runs): stop accepting, transfers finish, DISCONNECTs
    logged, then the sink flushes."""

    body = RELOAD.replace("CONNECT,PASS,STOR,DISCONNECT", "RETR,DISCONNECT")

    def setUp(self):
        super().setUp()
        with open(os.path.join(e2e.home(self.base), "big.bin"), "wb") as f:
            f.write(os.urandom(1024) * (BIG // 1024))

    def slow_download(self, port, started, go_on):
        return e2e.slow_download(port, started, go_on, wait=30)

    @defer.inlineCallbacks
    def test_transfer_in_flight_finishes(self):
        p = e2e.free_port()
        svc = self.start(self.body, p=p)
        started, go_on = threading.Event(), threading.Event()
        download = e2e.in_thread(self.slow_download, p, started, go_on)
        yield e2e.wait_for(started.is_set)
        session = svc.servers()[0].sessions()[0]
        stopping = svc.stopService()
        # No longer accepting (once the port is closed), while the transfer still goes on.
        self.assertTrue((yield e2e.wait_for(lambda: refused("127.0.0.1", p))))
        self.assertFalse(stopping.called)
        self.assertTrue(session._busy)
        go_on.set()
        size, reply = yield download
        yield stopping
        self.assertEqual(size, BIG)
        self.assertEqual(reply, "error_temp: 421 Server shutting down: closing control "
                                "connection")
        got = [json.loads(r) for r in self.db.lrange(b"main-key")]
        self.assertEqual([(r["command"], r.get("response_code"), r.get("session_end_reason"))
                          for r in got],
                         [("RETR", 226, None), ("EXIT", None, "Server shutting down")])

    @defer.inlineCallbacks
    def test_stalled_transfer_is_cut_short(self):
        self.shutdown_timeout = 0.5
        p = e2e.free_port()
        svc = self.start(self.body, p=p)
        started, go_on = threading.Event(), threading.Event()
        download = e2e.in_thread(self.slow_download, p, started, go_on)
        yield e2e.wait_for(started.is_set)
        yield svc.stopService()
        go_on.set()
        size, reply = yield download
        self.assertLess(size, BIG)
        got = [json.loads(r) for r in self.db.lrange(b"main-key")]
        self.assertEqual([r["command"] for r in got], ["RETR", "EXIT"])
        self.assertGreaterEqual(got[0]["response_code"], 400)
        self.assertEqual(got[1]["session_end_reason"], "Server shutting down")

    @defer.inlineCallbacks
    def test_idle_sessions_get_421_and_disconnect_records(self):
        p = e2e.free_port()
        svc = self.start(self.body, p=p)
        idle = yield e2e.in_thread(client, "127.0.0.1", p)
        yield svc.stopService()

        def reply():
            try:
                return idle.voidcmd("NOOP")
            except ftplib.Error as e:
                return str(e)
            finally:
                idle.close()
        self.assertEqual((yield e2e.in_thread(reply)),
                         "421 Server shutting down: closing control connection")
        got = [json.loads(r) for r in self.db.lrange(b"main-key")]
        self.assertEqual([r["session_end_reason"] for r in got], ["Server shutting down"])

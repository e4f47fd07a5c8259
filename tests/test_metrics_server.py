# -*- test-case-name: tests.test_metrics_server -*-
"""The exporter's remaining mod_prometheus families and ftpredis's own process metrics,
scraped with real curl around real sessions: refused connections (a ban,
MaxConnectionsPerHost), bans added and enforced, FTPS handshakes and TLS versions,
TimeoutStalled, log messages by level, reloads; and item 4 of the exporter's promise:
scrapers that never read hold no thread and no FTP session.
"""

import ftplib
import os
import socket
import ssl
import threading
import time

from twisted.internet import defer
from twisted.logger import Logger
from twisted.trial import unittest

from ftpredis.app.service import FTPRedisService
from ftpredis.config import format_check_report, load_config
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin, free_port
from tests.support.ftps import pki
from tests.support.waiting import waitFor
from tests.test_metrics import ExporterMixin, curl, samples

_log = Logger()


def plain(scrape, name, **labels):
    return scrape.get((name, tuple(sorted(labels.items()))), 0)


def moved(after, before, name, **labels):
    return plain(after, name, **labels) - plain(before, name, **labels)


def refused_at_connect(port):
    """Connect; the reply the server sends before closing (or "" on a silent close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data.decode()
            data += chunk


def banned_login(port):
    banned_login_as(port, "wrong")


def banned_login_as(port, password):
    """A login the server refuses and ends the session for."""
    ftp = e2e.ftp_connect(port, user=None)
    try:
        ftp.login(e2e.USER, password)
    except (ftplib.Error, EOFError, OSError):
        pass
    ftp.close()


class RefusedTests(ExporterMixin, unittest.TestCase):
    extra = ("MaxLoginAttempts 1\nMaxConnectionsPerHost 1\nBanEngine on\n"
             "BanTable {base}/ban.tab\n"
             "BanOnEvent MaxLoginAttempts 1/00:10:00 00:10:00\n")

    @defer.inlineCallbacks
    def test_refusals_and_bans_are_counted(self):
        before = yield self.scrape()
        # MaxConnectionsPerHost 1: a second connection while one is open.
        first = yield e2e.in_thread(e2e.ftp_connect, self.port)
        reply = yield e2e.in_thread(refused_at_connect, self.port)
        self.assertIn("530", reply)
        yield e2e.in_thread(first.quit)
        yield waitFor(lambda: self.open_sessions() == 0, "both sessions' DISCONNECT")
        mid = yield self.scrape()
        self.assertEqual(moved(mid, before, "proftpd_connection_refused_total",
                               reason="Denied by MaxConnectionsPerHost", protocol="ftp"), 1)
        # One failed login: MaxLoginAttempts 1 ends it and BanOnEvent bans the host; the
        # next connection is refused by that ban.
        yield e2e.in_thread(banned_login, self.port)
        yield waitFor(lambda: self.open_sessions() == 0, "the banned session's end")
        yield e2e.in_thread(refused_at_connect, self.port)
        yield waitFor(lambda: self.open_sessions() == 0, "the refused session's end")
        after = yield self.scrape()
        self.assertEqual(moved(after, mid, "proftpd_connection_refused_total", reason="",
                               protocol="ftp"), 2)
        self.assertEqual(moved(after, mid, "proftpd_connection_total", protocol="ftp"), 2)
        self.assertEqual(plain(after, "proftpd_connection_count", protocol="ftp"), 0)
        self.assertEqual(moved(after, before, "ftpredis_bans_added_total", source="local",
                               type="host"), 1)
        self.assertEqual(moved(after, before, "ftpredis_bans_enforced_total",
                               source="local", type="host"), 2)


class MaxClientsTests(ExporterMixin, unittest.TestCase):
    extra = "MaxClients 1\n"

    @defer.inlineCallbacks
    def test_a_login_over_max_clients_is_a_refused_connection(self):
        first = yield e2e.in_thread(e2e.ftp_connect, self.port)
        yield e2e.in_thread(banned_login_as, self.port, e2e.PASSWORD)
        yield e2e.in_thread(first.quit)
        yield waitFor(lambda: self.open_sessions() == 0, "both sessions' DISCONNECT")
        after = yield self.scrape()
        self.assertEqual(plain(after, "proftpd_connection_refused_total",
                               reason="Denied by MaxClients", protocol="ftp"), 1)
        self.assertEqual(plain(after, "proftpd_login_total", protocol="ftp"), 1)
        self.assertEqual(plain(after, "proftpd_connection_total", protocol="ftp"), 2)


class TLSTests(ExporterMixin, unittest.TestCase):

    def setUp(self):
        p = pki()
        self.extra = ("TLSEngine on\nTLSRSACertificateFile %s\nTLSRSACertificateKeyFile %s\n"
                      "TLSTimeoutHandshake 10\nTLSOptions NoSessionReuseRequired\n"
                      % (p["rsa_cert"], p["rsa_key"]))
        self.ca = p["ca"]
        ExporterMixin.setUp(self)

    def tls_session(self):
        ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=self.ca))
        ftp.connect("127.0.0.1", self.port, timeout=10)
        ftp.login(e2e.USER, e2e.PASSWORD)
        version = ftp.sock.version()
        ftp.prot_p()
        # A PROT P listing whose data connection never speaks TLS: its handshake fails.
        host, port = ftplib.parse227(ftp.sendcmd("PASV"))
        data = socket.create_connection((host, port), timeout=10)
        ftp.putcmd("LIST")
        ftp.getresp()                        # 150
        data.sendall(b"this is not a TLS record\r\n" * 4)
        data.close()
        try:
            reply = ftp.getresp()
        except ftplib.Error as e:
            reply = str(e)
        ftp.quit()
        return version, reply

    def bad_handshake(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"AUTH TLS\r\n")
            reply = f.readline()
            s.sendall(b"\x16\x03\x01\x00\x05hello" + b"\0" * 64)
            try:
                f.read()
            except OSError:
                pass
            return reply.decode()

    @defer.inlineCallbacks
    def test_tls_versions_and_handshake_errors(self):
        before = yield self.scrape()
        version, reply = yield e2e.in_thread(self.tls_session)
        self.assertIn("425", reply)
        self.assertIn("234", (yield e2e.in_thread(self.bad_handshake)))
        yield waitFor(lambda: sum(self.service.exporter.subscriber.metrics.connection_count
                                  .values.values()) == 0, "both sessions' DISCONNECT")
        after = yield self.scrape()
        self.assertEqual(moved(after, before, "proftpd_tls_protocol_total", version=version,
                               protocol="ftps"), 1)
        self.assertEqual(moved(after, before, "proftpd_handshake_error_total",
                               connection="ctrl", protocol="ftps"), 1)
        self.assertEqual(moved(after, before, "proftpd_handshake_error_total",
                               connection="data", protocol="ftps"), 1)
        self.assertEqual(moved(after, before, "proftpd_login_total", protocol="ftps"), 1)


class StalledTests(ExporterMixin, unittest.TestCase):
    extra = "TimeoutStalled 1\n"

    @defer.inlineCallbacks
    def test_a_stalled_transfer_is_counted(self):
        with open(os.path.join(e2e.home(self.base), "big.bin"), "wb") as f:
            f.truncate(64 << 20)
        started, go_on = threading.Event(), threading.Event()
        self.addCleanup(go_on.set)
        d = e2e.in_thread(e2e.slow_download, self.port, started, go_on, "big.bin", 30)
        yield waitFor(started.is_set, "the download's first block")
        m = self.service.exporter.subscriber.metrics
        yield waitFor(lambda: m.timeout.values.get(("TimeoutStalled", "ftp"), 0) == 1,
                      "TimeoutStalled", limit=30)
        go_on.set()
        yield d
        after = yield self.scrape()
        self.assertEqual(plain(after, "proftpd_timeout_total", reason="TimeoutStalled",
                               protocol="ftp"), 1)
        self.assertEqual(plain(after, "proftpd_file_download_error_total", protocol="ftp"), 1)


class LogAndReloadTests(ExporterMixin, unittest.TestCase):
    extra = "PrometheusOptions EnableLogMessageMetrics\n"

    @defer.inlineCallbacks
    def test_log_messages_by_level_and_reloads(self):
        before = yield self.scrape()
        _log.warn("a warning for the metrics test")
        _log.warn("another")
        _log.error("an error for the metrics test")
        mid = yield self.scrape()
        self.assertEqual(moved(mid, before, "proftpd_log_message_total", level="warn",
                               protocol="ftp"), 2)
        self.assertEqual(moved(mid, before, "proftpd_log_message_total", level="error",
                               protocol="ftp"), 1)
        ok = yield self.service.reload()
        self.assertTrue(ok)
        with open(self.conf) as f:
            good = f.read()
        with open(self.conf, "w") as f:
            f.write(good + "NoSuchDirective here\n")
        ok = yield self.service.reload()
        self.assertFalse(ok)
        after = yield self.scrape()
        self.assertEqual(moved(after, before, "ftpredis_reloads_total", result="ok"), 1)
        self.assertEqual(moved(after, before, "ftpredis_reloads_total", result="refused"), 1)
        # The refused reload's error line; the accepted one's "configuration reloaded".
        self.assertEqual(moved(after, mid, "proftpd_log_message_total", level="error",
                               protocol="ftp"), 1)
        self.assertGreaterEqual(moved(after, mid, "proftpd_log_message_total",
                                      level="info", protocol="ftp"), 1)


class SlowScraperTests(ExporterMixin, unittest.TestCase):
    """More scrapers than the reactor's pool has threads (10), none of them reading: a
    response is handed to the reactor's socket buffer, so no thread waits for them."""

    @defer.inlineCallbacks
    def test_scrapers_that_never_read_hold_nothing(self):
        stuck = []
        self.addCleanup(lambda: [s.close() for s in stuck])
        for i in range(24):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.connect(("127.0.0.1", self.mport))
            if i % 6:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
            else:
                s.sendall(b"GET /metr")         # a request that never ends
            stuck.append(s)
        t0 = time.monotonic()
        # Logins (their password hashing runs in the same pool), transfers and listings
        # go on, and another scraper is answered.
        from tests.test_metrics import good_session
        for _ in range(3):
            data, lines = yield e2e.in_thread(good_session, self.port)
            self.assertEqual(data, b"12345")
        scrape = yield self.scrape()
        self.assertEqual(plain(scrape, "proftpd_login_total", protocol="ftp"), 3)
        self.assertLess(time.monotonic() - t0, 60)


class OptionsTests(unittest.TestCase):

    def write(self, text):
        path = os.path.abspath(self.mktemp()) + ".conf"
        with open(path, "w") as f:
            f.write("Port 0\n" + text)
        return path

    def test_prometheus_options(self):
        config = load_config(self.write("PrometheusOptions enablelogmessagemetrics\n"))
        self.assertEqual(config.servers[0].prometheus_options,
                         frozenset({"EnableLogMessageMetrics"}))
        path = self.write("PrometheusOptions EnableLogMessageMetrics Other\n")
        code, text = format_check_report(path)
        self.assertEqual(code, 1)
        self.assertEqual(text.splitlines(), [
            "PrometheusOptions: unknown PrometheusOption 'Other' on line 2 of '%s'" % path])


NODE = """\
Port                {port}
DefaultAddress      127.0.0.1
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
MaxLoginAttempts    1
RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
BanEngine           on
BanTable            {base}/ban.tab
BanCache            redis
BanCacheOptions     UseJSON
BanOnEvent          MaxLoginAttempts 1/00:10:00 00:10:00
PrometheusEngine    on
PrometheusExporter  127.0.0.1:%d
"""


def banned_from(port, source):
    """A failed login from ``source`` (MaxLoginAttempts 1 ends it, and bans the host)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    with s, s.makefile("rb") as f:
        f.readline()
        s.sendall(b"USER %s\r\nPASS wrong\r\n" % e2e.USER.encode())
        return f.read().decode()


class SharedBanTests(RedisServerMixin, unittest.TestCase):
    """Two nodes share a BanCache: one's autoban is the other's shared ban."""

    def node(self, name):
        base = os.path.abspath(self.mktemp())
        mport = free_port()
        conf = e2e.write_site(base, NODE % mport, redis_port=self.redis.port)
        config = load_config(conf)
        service = FTPRedisService(config, shutdown_timeout=2)
        service.startService()
        self.addCleanup(service.stopService)
        return service, config.servers[0].port, "http://127.0.0.1:%d/metrics" % mport

    @defer.inlineCallbacks
    def scrape(self, url):
        status, body = yield e2e.in_thread(curl, url)
        self.assertEqual(status, 200, body)
        return samples(body)

    @defer.inlineCallbacks
    def test_local_and_shared_bans(self):
        a, a_port, a_url = self.node("a")
        b, b_port, b_url = self.node("b")
        reply = yield e2e.in_thread(banned_from, a_port, "127.0.0.2")
        self.assertIn("530", reply)
        [cache] = b.bans.caches.values()
        yield waitFor(lambda: any(name == "127.0.0.2" for _, name in cache.mirror),
                      "node b to read the ban from Redis")
        refused = yield e2e.in_thread(banned_from, b_port, "127.0.0.2")
        self.assertNotIn("230", refused)
        yield waitFor(lambda: sum(b.exporter.subscriber.metrics.connection_count
                                  .values.values()) == 0, "node b's refused session")
        sa = yield self.scrape(a_url)
        sb = yield self.scrape(b_url)
        self.assertEqual(plain(sa, "ftpredis_bans_added_total", source="local", type="host"),
                         1)
        self.assertEqual(plain(sa, "ftpredis_bans_added_total", source="shared",
                               type="host"), 0)
        self.assertEqual(plain(sb, "ftpredis_bans_added_total", source="shared",
                               type="host"), 1)
        self.assertEqual(plain(sb, "ftpredis_bans_enforced_total", source="shared",
                               type="host"), 1)
        self.assertEqual(plain(sb, "proftpd_connection_refused_total", reason="",
                               protocol="ftp"), 1)

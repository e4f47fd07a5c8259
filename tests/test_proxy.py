# -*- test-case-name: tests.test_proxy -*-
"""The PROXY protocol (mod_proxy_protocol's directives) on control connections: the
header reader (ftpredis.proxy.header) on its own, then the whole service in-process
with real ftplib clients, a real redis-server, and headers as HAProxy sends them: the
proxied client's address in records, SystemLog, MaxClientsPerHost and bans; PASV through AllowForeignAddress; TLV notes; FTPS after the header;
UseProxiedServerAddress; and bad, oversized and slow headers refused without holding
up other sessions.  tests/test_haproxy.py runs the same behind Debian's haproxy.
"""

import json
import os
import socket
import time

from twisted.internet import defer
from twisted.logger import globalLogPublisher
from twisted.trial import unittest

from ftpredis.app.service import FTPRedisService
from ftpredis.config import load_config
from ftpredis.proxy.header import HeaderError, HeaderReader
from tests.support import e2e
from tests.support.ftps import CCCFTP_TLS, pki
from tests.support.proxyclient import (ProxiedFTP, ProxiedFTP_TLS, raw, ssl_tlv, tlv, v1,
                                       v2)
from tests.support.redisserver import RedisServerMixin
from tests.support.sites import HEAD


class HeaderReaderTests(unittest.TestCase):
    def test_v1_tcp4_byte_by_byte(self):
        r = HeaderReader(1)
        data = v1("203.0.113.7", "10.0.0.1", 5555, 21) + b"USER x\r\n"
        for i in range(len(data) - 9):
            self.assertIsNone(r.feed(data[i:i + 1]))
        proxied, rest = r.feed(data[len(data) - 9:])
        self.assertEqual((proxied.source.host, proxied.source.port), ("203.0.113.7", 5555))
        self.assertEqual((proxied.destination.host, proxied.destination.port),
                         ("10.0.0.1", 21))
        self.assertEqual(rest, b"USER x\r\n")

    def test_v1_tcp6_and_unknown(self):
        proxied, _ = HeaderReader(1).feed(v1("2001:db8::7", "2001:db8::1"))
        self.assertEqual(proxied.source.host, "2001:db8::7")
        proxied, rest = HeaderReader(1).feed(b"PROXY UNKNOWN\r\nNOOP\r\n")
        self.assertIsNone(proxied.source)
        self.assertEqual(rest, b"NOOP\r\n")

    def test_v1_refusals(self):
        bad = {
            b"USER alice\r\n": "no PROXY protocol V1 header",
            b"PROXY TCP4 203.0.113.7 10.0.0.1 1 2" + b" " * 80: "longer than 107",
            b"PROXY TCP4 300.1.1.1 10.0.0.1 1 2\r\n": "not an IP address",
            b"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n": "family",
            b"PROXY TCP4 203.0.113.7 10.0.0.1 1 70000\r\n": "port",
            b"PROXY TCP4 203.0.113.7 10.0.0.1 x 2\r\n": "malformed",
            b"PROXY TCP5 203.0.113.7 10.0.0.1 1 2\r\n": "malformed",
            b"PROXY TCP4 10.0.0.1 10.0.0.1 21 21\r\n": "identical",
            b"PROXY TCP4 203.0.113.7\r\n": "malformed",
            v2("203.0.113.7", "10.0.0.1"): "V2 header where V1 is expected",
            b"\x16\x03\x01\x02\x00\x01": "TLS handshake",
        }
        for data, why in bad.items():
            with self.assertRaises(HeaderError) as e:
                HeaderReader(1).feed(data)
            self.assertIn(why, str(e.exception), data)

    def test_v2_with_tlvs(self):
        tlvs = (tlv(0x01, b"ftp") + tlv(0x02, b"ftp.example.com") + tlv(0x04, b"\0" * 3)
                + tlv(0x05, b"abc-123") + ssl_tlv("TLSv1.3", "TLS_AES_128_GCM_SHA256"))
        data = v2("203.0.113.7", "10.0.0.1", 5555, 21, tlvs) + b"NOOP\r\n"
        r = HeaderReader(2)
        self.assertIsNone(r.feed(data[:5]))
        self.assertIsNone(r.feed(data[5:20]))
        proxied, rest = r.feed(data[20:])
        self.assertEqual(proxied.source.host, "203.0.113.7")
        self.assertEqual(rest, b"NOOP\r\n")
        self.assertEqual(proxied.notes, {
            "mod_proxy_protocol.alpn": "ftp",
            "mod_proxy_protocol.authority": "ftp.example.com",
            "mod_proxy_protocol.unique-id": "abc-123",
            "mod_proxy_protocol.tls.version": "TLSv1.3",
            "mod_proxy_protocol.tls.cipher": "TLS_AES_128_GCM_SHA256"})

    def test_v2_ipv6_and_local(self):
        proxied, _ = HeaderReader(2).feed(v2("2001:db8::7", "2001:db8::1"))
        self.assertEqual(proxied.source.host, "2001:db8::7")
        proxied, _ = HeaderReader(2).feed(v2(None, None, command=0))
        self.assertIsNone(proxied.source)

    def test_v2_refusals(self):
        good = v2("203.0.113.7", "10.0.0.1")
        bad = {
            b"PROXY TCP4 203.0.113.7 10.0.0.1 1 2\r\n": "V1 header where V2 is expected",
            b"\r\n\r\n\x00\r\nQUIX\n" + b"\0" * 8: "signature",
            good[:12] + b"\x31" + good[13:]: "version",
            good[:12] + b"\x22" + good[13:]: "command",
            good[:14] + b"\xff\xff": "more than 4096",
            good[:14] + b"\x00\x04" + good[16:20]: "too short",
            v2("203.0.113.7", "203.0.113.7", 21, 21): "identical",
        }
        for data, why in bad.items():
            with self.assertRaises(HeaderError) as e:
                HeaderReader(2).feed(data)
            self.assertIn(why, str(e.exception), data)

    def test_v2_truncated_tlv_is_dropped(self):
        proxied, _ = HeaderReader(2).feed(v2("203.0.113.7", "10.0.0.1",
                                             tlvs=tlv(0x05, b"id") + b"\x01\x00\x09ab"))
        self.assertEqual(proxied.notes, {"mod_proxy_protocol.unique-id": "id"})


SITE = r"""
ServerName          "main"
DefaultAddress      127.0.0.1
Port                {p}
DefaultRoot         ~
SystemLog           {base}/system.log
ProxyProtocolEngine on
ProxyProtocolVersion {version}
ProxyProtocolTimeout 1
AllowForeignAddress {foreign}
LogFormat           addr "%a %h %m %s %{{note:mod_proxy_protocol.unique-id}} %{{note:mod_proxy_protocol.tls.cipher}}"
RedisLogOnCommand   CONNECT,PASS,RETR,DISCONNECT addr addr-key
{extra}
"""


class _Site(RedisServerMixin):
    version = "haproxyV1"
    extra = ""
    foreign = "on"

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        e2e.write_site(self.base, "", users=((e2e.USER, e2e.PASSWORD), ("other", "pw2")))
        with open(os.path.join(e2e.home(self.base), "f.txt"), "wb") as f:
            f.write(b"proxied data\n" * 1000)
        self.db = self.redis.client()
        self.p = e2e.free_port()
        self.conf = os.path.join(self.base, "ftpd.conf")
        with open(self.conf, "w") as f:
            f.write((HEAD + SITE).format(base=self.base, redis_port=self.redis.port,
                                         p=self.p, version=self.version,
                                         foreign=self.foreign,
                                         extra=self.extra.format(p=self.p,
                                                                 base=self.base)))
        self.service = FTPRedisService(load_config(self.conf), shutdown_timeout=5)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.logged = []
        globalLogPublisher.addObserver(self.logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.logged.append)

    def header(self, src, sport=40000):
        if self.version == "haproxyV2":
            return v2(src, "127.0.0.1", sport, self.p)
        return v1(src, "127.0.0.1", sport, self.p)

    def client(self, src, login=True, user=e2e.USER, password=e2e.PASSWORD, header=None,
               timeout=10):
        ftp = ProxiedFTP(self.header(src) if header is None else header, timeout=timeout)
        ftp.connect("127.0.0.1", self.p)
        if login:
            ftp.login(user, password)
        return ftp

    @defer.inlineCallbacks
    def records(self, count):
        got = yield e2e.wait_records(self.db, b"addr-key", count)
        return [json.loads(r) for r in got]

    def log_text(self):
        from twisted.logger import formatEvent
        return "\n".join(formatEvent(e) for e in self.logged)


class ProxiedV1Tests(_Site, unittest.TestCase):
    extra = """
MaxClientsPerHost 1
<IfModule mod_ban.c>
  BanEngine         on
  BanTable          {base}/ban.tab
  BanLog            {base}/ban.log
  BanOnEvent        MaxLoginAttempts 1/00:10:00 00:05:00
  MaxLoginAttempts  1
</IfModule>
"""

    @defer.inlineCallbacks
    def test_client_address_everywhere_and_pasv(self):
        def session():
            ftp = self.client("203.0.113.7")
            out = []
            ftp.retrbinary("RETR f.txt", out.append)
            ftp.quit()
            return b"".join(out)
        data = yield e2e.in_thread(session)
        self.assertEqual(data, b"proxied data\n" * 1000)
        recs = yield self.records(4)
        self.assertEqual([(r["remote_ip"], r["remote_dns"], r.get("command")) for r in recs],
                         [("203.0.113.7", "203.0.113.7", c)
                          for c in (None, "PASS", "RETR", "EXIT")])
        with open(os.path.join(self.base, "system.log")) as f:
            system = f.read()
        self.assertIn("[203.0.113.7]", system)
        self.assertNotIn("[127.0.0.1]", system)

    @defer.inlineCallbacks
    def test_max_clients_per_host_counts_proxied_addresses(self):
        def run():
            a = self.client("203.0.113.10")
            b = self.client("203.0.113.11")          # same real address, other client
            try:
                self.client("203.0.113.10")
                third = "accepted"
            except ftplib_error as e:
                third = str(e)
            a.quit()
            b.quit()
            return third
        third = yield e2e.in_thread(run)
        self.assertTrue(third.startswith("530"), third)

    @defer.inlineCallbacks
    def test_ban_follows_proxied_address(self):
        def run():
            try:
                self.client("203.0.113.20", password="wrong")
            except ftplib_error:
                pass
            banned = raw(self.p, self.header("203.0.113.20"))
            other = self.client("203.0.113.21")        # the same real address
            other.quit()
            return banned
        banned = yield e2e.in_thread(run)
        self.assertEqual(banned, (b"", True))       # no BanMessage: closed, no greeting
        with open(os.path.join(self.base, "ban.log")) as f:
            self.assertIn("login from host '203.0.113.20' denied due to host ban", f.read())

    @defer.inlineCallbacks
    def test_no_header_no_greeting(self):
        out, closed = yield e2e.in_thread(raw, self.p, b"USER alice\r\n")
        self.assertEqual((out, closed), (b"", True))
        self.assertIn("no PROXY protocol V1 header", self.log_text())

    @defer.inlineCallbacks
    def test_slow_and_bad_headers_do_not_hold_others(self):
        def run():
            slow = socket.create_connection(("127.0.0.1", self.p), timeout=10)
            slow.sendall(b"PROXY TCP4 203.0.113.30")      # and nothing more
            t0 = time.monotonic()
            outcomes = [raw(self.p, data)[0] for data in (
                b"PROXY TCP4 203.0.113.31 127.0.0.1 1 2" + b"9" * 100,   # oversized
                b"PROXY TCP4 203.0.113.31 127.0.0.1 1\r\n",             # malformed
                v2("203.0.113.31", "127.0.0.1"))]                       # wrong version
            ftp = self.client("203.0.113.32")
            ftp.voidcmd("NOOP")
            ftp.quit()
            served = time.monotonic() - t0
            slow.settimeout(10)
            try:
                got = slow.recv(100)
            except ConnectionResetError:
                got = b""
            slow.close()
            return outcomes, served, got
        outcomes, served, got = yield e2e.in_thread(run)
        self.assertEqual(outcomes, [b"", b"", b""])
        self.assertEqual(got, b"")          # closed at ProxyProtocolTimeout, no greeting
        text = self.log_text()
        for why in ("longer than 107", "malformed", "V2 header where V1",
                    "within ProxyProtocolTimeout (1 sec)"):
            self.assertIn(why, text)

    @defer.inlineCallbacks
    def test_header_split_from_first_command(self):
        def run():
            header = self.header("203.0.113.40")
            out, _ = raw(self.p, header + b"QUIT\r\n")
            return out.decode()
        out = yield e2e.in_thread(run)
        self.assertTrue(out.startswith("220 "), out)
        self.assertIn("221 ", out)


ftplib_error = __import__("ftplib").all_errors


class ProxiedV2Tests(_Site, unittest.TestCase):
    version = "haproxyV2"

    @defer.inlineCallbacks
    def test_tlv_notes_in_records(self):
        def run():
            header = v2("203.0.113.50", "127.0.0.1", 4000, self.p,
                        tlv(0x05, b"uid-42") + ssl_tlv("TLSv1.3", "TLS_AES_256_GCM_SHA384"))
            self.client(None, header=header).quit()
        yield e2e.in_thread(run)
        recs = yield self.records(3)
        for r in recs:
            self.assertEqual(r["remote_ip"], "203.0.113.50")
            self.assertEqual(r["NOTE:mod_proxy_protocol.unique-id"], "uid-42")
            self.assertEqual(r["NOTE:mod_proxy_protocol.tls.cipher"],
                             "TLS_AES_256_GCM_SHA384")

    @defer.inlineCallbacks
    def test_local_command_keeps_own_address(self):
        def run():
            self.client(None, header=v2(None, None, command=0)).quit()
        yield e2e.in_thread(run)
        recs = yield self.records(3)
        self.assertEqual({r["remote_ip"] for r in recs}, {"127.0.0.1"})


class ProxiedFTPSTests(_Site, unittest.TestCase):
    version = "haproxyV2"

    def setUp(self):
        paths = pki()
        self.ca = paths["ca"]
        self.extra = """
TLSEngine on
TLSRSACertificateFile %s
TLSRSACertificateKeyFile %s
""" % (paths["rsa_cert"], paths["rsa_key"])
        return super().setUp()

    @defer.inlineCallbacks
    def test_auth_tls_after_header(self):
        def run():
            ftp = ProxiedFTP_TLS(v2("203.0.113.60", "127.0.0.1", 4000, self.p), self.ca,
                                 timeout=10)
            ftp.connect("127.0.0.1", self.p)
            ftp.auth()
            ftp.login(e2e.USER, e2e.PASSWORD)
            ftp.prot_p()
            out = []
            ftp.retrbinary("RETR f.txt", out.append)
            version = ftp.sock.version()
            ftp.quit()
            return b"".join(out), version
        data, version = yield e2e.in_thread(run)
        self.assertEqual(data, b"proxied data\n" * 1000)
        self.assertTrue(version.startswith("TLS"), version)
        recs = yield self.records(4)
        self.assertEqual({r["remote_ip"] for r in recs}, {"203.0.113.60"})


    @defer.inlineCallbacks
    def test_ccc_after_header(self):
        def run():
            ftp = _ProxiedCCC(v2("203.0.113.61", "127.0.0.1", 4000, self.p), self.ca)
            ftp.connect("127.0.0.1", self.p)
            ftp.auth()
            ftp.login(e2e.USER, e2e.PASSWORD)
            ftp.prot_p()
            ccc = ftp.ccc()
            out = []
            ftp.retrbinary("RETR f.txt", out.append)
            ftp.quit()
            return ccc, b"".join(out)
        ccc, data = yield e2e.in_thread(run)
        self.assertTrue(ccc.startswith("200"), ccc)
        self.assertEqual(data, b"proxied data\n" * 1000)


class _ProxiedCCC(ProxiedFTP_TLS, CCCFTP_TLS):
    ntransfercmd = CCCFTP_TLS.ntransfercmd


class UseProxiedServerAddressTests(_Site, unittest.TestCase):
    extra = """
ProxyProtocolOptions UseProxiedServerAddress
<VirtualHost 127.0.0.2>
  ServerName        "second"
  Port              {p}
  ServerIdent       on "second server"
</VirtualHost>
"""

    @defer.inlineCallbacks
    def test_destination_picks_the_virtual_host(self):
        def run():
            other = ProxiedFTP(v1("203.0.113.70", "127.0.0.2", 4000, self.p), timeout=10)
            first = ProxiedFTP(v1("203.0.113.70", "127.0.0.1", 4000, self.p), timeout=10)
            return [f.connect("127.0.0.1", self.p) for f in (other, first)]
        banners = yield e2e.in_thread(run)
        self.assertEqual(banners[0], "220 second server")
        self.assertIn("main", banners[1])


class NoForeignAddressTests(_Site, unittest.TestCase):
    """Without AllowForeignAddress, a passive data connection must come from the proxied
    client's address, which a connection from the proxy is not (as in ProFTPD)."""
    foreign = "off"

    @defer.inlineCallbacks
    def test_pasv_from_the_proxy_is_refused(self):
        def run():
            # The 425 comes after the server's data connection timeout (10 s).
            ftp = self.client("203.0.113.80", timeout=60)
            try:
                ftp.retrbinary("RETR f.txt", lambda data: None)
                return "transferred"
            except ftplib_error as e:
                return str(e)
            finally:
                ftp.close()
        outcome = yield e2e.in_thread(run)
        self.assertTrue(outcome.startswith("425"), outcome)


class IgnoreTests(_Site, unittest.TestCase):
    extra = "ProxyProtocolIgnore on"

    @defer.inlineCallbacks
    def test_header_read_and_addresses_kept(self):
        def run():
            self.client("203.0.113.90").quit()
        yield e2e.in_thread(run)
        recs = yield self.records(3)
        self.assertEqual({r["remote_ip"] for r in recs}, {"127.0.0.1"})

# -*- test-case-name: tests.test_acl -*-
"""``Allow``/``Deny`` address rules in ``<Limit>``, with real clients from several loopback
addresses (ftplib bound with source_address, lftp with net:socket-bind-ipv4, ::1), and
behind the PROXY protocol; what each client sees is what ProFTPD 1.3.8 does for the same
config (tests/test_conformance_access.py compares records with its own run)."""

from __future__ import annotations

import ftplib
import io
import os
import subprocess

from twisted.internet import defer
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from ftpredis.app.service import FTPRedisService
from ftpredis.config import load_config
from tests.support import e2e, proxyclient
from tests.support.sites import free_port_on
from tests.support.waiting import waitFor
from tests.test_metrics import ExporterMixin

AUTH = """\
AuthUserFile {base}/ftpd.passwd
AuthGroupFile {base}/ftpd.group
RequireValidShell off
DefaultRoot ~
AllowOverwrite on
"""

HEAD = """\
ServerName "acl"
Port {port}
DefaultAddress 127.0.0.1
SystemLog {base}/system.log
""" + AUTH

USERS = ((e2e.USER, e2e.PASSWORD), ("bob", "bob-secret"))

LFTP = ("set cmd:fail-exit yes; set net:max-retries 1; set net:reconnect-interval-base 1; "
        "set net:timeout 5; set ftp:ssl-allow no; set ftp:passive-mode on; ")


class Refused(Exception):
    """The server closed the connection before its banner."""


def session(port, source, user=e2e.USER, password=e2e.PASSWORD, stor=None, host="127.0.0.1",
            header=None, cmd=None):
    """Log in from ``source`` (optionally STOR ``stor``, or send ``cmd``); the replies,
    or Refused."""
    f = proxyclient.ProxiedFTP(header) if header is not None else ftplib.FTP()
    try:
        try:
            f.connect(host, port, timeout=10,
                      source_address=(source, 0) if source else None)
        except (EOFError, ConnectionResetError) as e:
            raise Refused(repr(e))
        out = []
        try:
            out.append(f.login(user, password))
        except ftplib.error_perm as e:
            out.append(str(e))
            return out
        if stor is not None:
            try:
                out.append(f.storbinary("STOR " + stor, io.BytesIO(b"data\n")))
            except ftplib.error_perm as e:
                out.append(str(e))
        if cmd is not None:
            try:
                out.append(f.sendcmd(cmd))
            except ftplib.error_perm as e:
                out.append(str(e))
        f.quit()
        return out
    finally:
        f.close()


class _Site(unittest.TestCase):

    body = ""

    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        self.port6 = None
        body = HEAD + self.body
        if "PORT6" in body:
            self.port6 = free_port_on("::1")
            body = body.replace("PORT6", str(self.port6))
        self.conf = e2e.write_site(self.base, body, port=self.port, users=USERS)
        self.home = e2e.home(self.base)
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)

    def run_session(self, source, **kw):
        kw.setdefault("port", self.port)
        port = kw.pop("port")
        return deferToThread(session, port, source, **kw)

    @defer.inlineCallbacks
    def refused(self, source, **kw):
        try:
            got = yield self.run_session(source, **kw)
        except Refused:
            return True
        self.fail("%s was let in: %r" % (source, got))

    def log_lines(self):
        path = os.path.join(self.base, "system.log")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            # The message follows "SERVER (CLIENT[ADDR]): " (the first ": ").
            return [line.rstrip("\n").split(": ", 1)[-1] for line in f]


class LoginByAddressTests(_Site):
    """The usual admin config: Order allow,deny / Allow from networks / Deny from all."""

    body = """\
<Limit LOGIN>
  Order allow,deny
  Allow from 127.0.0.0/30, 127.0.1.
  Allow 127.0.2.9
  Deny from all
</Limit>
"""

    @defer.inlineCallbacks
    def test_allowed_networks_log_in(self):
        for source in ("127.0.0.1", "127.0.0.3", "127.0.1.200", "127.0.2.9"):
            got = yield self.run_session(source)
            self.assertEqual(got, ["230 User ftpuser logged in"], source)

    @defer.inlineCallbacks
    def test_others_are_dropped_before_the_banner(self):
        """ProFTPD closes the connection before the banner and writes one SystemLog line
        (no session opened, no record)."""
        for source in ("127.0.0.4", "127.0.2.10", "127.1.1.1"):
            yield self.refused(source)
        yield waitFor(lambda: len(self.log_lines()) >= 4, "the refusals in the SystemLog")
        self.assertEqual(self.log_lines()[1:], [
            "Connection from %s [%s] denied" % (s, s)
            for s in ("127.0.0.4", "127.0.2.10", "127.1.1.1")])

    @defer.inlineCallbacks
    def test_lftp(self):
        def lftp(source):
            return subprocess.run(
                ["lftp", "-c", LFTP + "set net:socket-bind-ipv4 %s; open -u %s,%s "
                 "ftp://127.0.0.1:%d; cls -1" % (source, e2e.USER, e2e.PASSWORD, self.port)],
                capture_output=True, timeout=60)
        with open(os.path.join(self.home, "listed.txt"), "w") as f:
            f.write("x\n")
        ok = yield e2e.in_thread(lftp, "127.0.0.2")
        self.assertEqual((ok.returncode, ok.stdout), (0, b"listed.txt\n"), ok.stderr)
        no = yield e2e.in_thread(lftp, "127.0.0.9")
        self.assertNotEqual(no.returncode, 0)
        self.assertNotIn(b"listed.txt", no.stdout)


class DenyAllowAndUsersTests(_Site):
    """Order deny,allow with DenyUser: the address is judged when the client connects,
    the user at PASS."""

    body = """\
<Limit LOGIN>
  Order deny,allow
  DenyUser bob
  Deny from 127.0.0.5
  Allow from 127.0.0.0/24
</Limit>
"""

    @defer.inlineCallbacks
    def test_order_deny_allow(self):
        got = yield self.run_session("127.0.0.1")
        self.assertEqual(got, ["230 User ftpuser logged in"])
        # Denied address, although 127.0.0.0/24 allows it: deny is asked first.
        yield self.refused("127.0.0.5")
        # Matching neither: deny,allow denies.
        yield self.refused("127.0.1.1")
        # bob is refused at PASS, from an allowed address.
        got = yield self.run_session("127.0.0.2", user="bob", password="bob-secret")
        self.assertEqual(got, ["530 Login incorrect."])
        yield waitFor(lambda: "USER bob (Login failed): Limit access denies login"
                      in self.log_lines(), "bob's refusal in the SystemLog")


class RefusedAtPassTests(_Site):
    """An AllowUser line lets every client connect (the user is not known yet); the
    address is then refused at PASS, with ProFTPD's 530 and SystemLog line."""

    body = """\
<Limit LOGIN>
  AllowUser bob
  Deny from 127.0.0.2
</Limit>
"""

    @defer.inlineCallbacks
    def test_refused_at_pass(self):
        got = yield self.run_session("127.0.0.2")
        self.assertEqual(got, ["530 Login incorrect."])
        got = yield self.run_session("127.0.0.2", user="bob", password="bob-secret")
        self.assertEqual(got, ["230 User bob logged in"])
        got = yield self.run_session("127.0.0.1")
        self.assertEqual(got, ["230 User ftpuser logged in"])
        yield waitFor(lambda: "USER ftpuser (Login failed): Limit access denies login"
                      in self.log_lines(), "the refusal in the SystemLog")


class CommandLimitTests(_Site):
    """<Limit STOR> in a <Directory> (in <Global>, so the ::1 virtual host has it too):
    IPv4 and IPv6 addresses, CIDR."""

    body = """\
<Global>
  <Directory {base}/home/ftpuser>
    <Limit STOR>
      Order allow,deny
      Allow from 127.0.0.1 ::1/128 127.0.0.16/28
      Deny from all
    </Limit>
  </Directory>
</Global>
<VirtualHost ::1>
  Port PORT6
  ServerName "acl6"
""" + AUTH + """\
</VirtualHost>
"""

    @defer.inlineCallbacks
    def test_stor_by_address(self):
        for source, name in (("127.0.0.1", "a.txt"), ("127.0.0.20", "b.txt")):
            got = yield self.run_session(source, stor=name)
            self.assertEqual(got, ["230 User ftpuser logged in", "226 Transfer complete"])
            self.assertTrue(os.path.exists(os.path.join(self.home, name)))
        got = yield self.run_session("127.0.0.2", stor="c.txt")
        self.assertEqual(got, ["230 User ftpuser logged in",
                               "550 c.txt: Operation not permitted"])
        self.assertFalse(os.path.exists(os.path.join(self.home, "c.txt")))

    @defer.inlineCallbacks
    def test_ipv6(self):
        got = yield self.run_session("::1", stor="six.txt", host="::1", port=self.port6)
        self.assertEqual(got, ["230 User ftpuser logged in", "226 Transfer complete"])
        self.assertTrue(os.path.exists(os.path.join(self.home, "six.txt")))


class IPv6DeniedTests(_Site):
    body = """\
<Global>
  <Limit STOR>
    Deny from 2001:db8::/32, ::1
  </Limit>
</Global>
<VirtualHost ::1>
  Port PORT6
""" + AUTH + """\
</VirtualHost>
"""

    @defer.inlineCallbacks
    def test_ipv6_denied(self):
        got = yield self.run_session("::1", stor="six.txt", host="::1", port=self.port6)
        self.assertEqual(got, ["230 User ftpuser logged in",
                               "550 six.txt: Operation not permitted"])
        got = yield self.run_session("127.0.0.1", stor="four.txt")
        self.assertEqual(got[-1], "226 Transfer complete")


class ProxiedAddressTests(_Site):
    """Behind the PROXY protocol the proxied client's address is what Allow/Deny see,
    at connect, at PASS and for commands; the proxy's own address does not count
    (doc/decisions.rst, "Allow/Deny behind the PROXY protocol")."""

    body = """\
ProxyProtocolEngine on
ProxyProtocolVersion haproxyV1
<Limit LOGIN>
  Order allow,deny
  Allow from 192.0.2.0/24
  Deny from all
</Limit>
<Directory {base}/home/ftpuser>
  <Limit MKD>
    Deny from 192.0.2.66
  </Limit>
</Directory>
"""

    @defer.inlineCallbacks
    def test_proxied_address_judged(self):
        header = proxyclient.v1("192.0.2.7", "127.0.0.1", dport=self.port)
        got = yield self.run_session("127.0.0.1", header=header, cmd="MKD p")
        self.assertEqual(got, ["230 User ftpuser logged in",
                               '257 "/p" - Directory successfully created'])
        header = proxyclient.v1("192.0.2.66", "127.0.0.1", dport=self.port)
        got = yield self.run_session("127.0.0.1", header=header, cmd="MKD q")
        self.assertEqual(got, ["230 User ftpuser logged in",
                               "550 q: Permission denied"])
        self.assertFalse(os.path.exists(os.path.join(self.home, "q")))
        # 127.0.0.1, the proxy, is not allowed; a client it forwards from elsewhere
        # neither.
        header = proxyclient.v1("198.51.100.1", "127.0.0.1", dport=self.port)
        yield self.refused("127.0.0.1", header=header)
        yield waitFor(lambda: "Connection from 198.51.100.1 [198.51.100.1] denied"
                      in self.log_lines(), "the refusal in the SystemLog")


class AnonymousTests(_Site):
    """A <Limit LOGIN> inside <Anonymous> is not asked when the client connects (ProFTPD
    asks those only when a server-level one refused); it refuses the anonymous login at
    PASS, with mod_auth's "ANON" SystemLog line."""

    body = """\
<Anonymous {base}/anon>
  User bob
  Group ftpgroup
  UserAlias anonymous bob
  <Limit LOGIN>
    Deny from 127.0.0.2
  </Limit>
</Anonymous>
"""

    @defer.inlineCallbacks
    def test_anonymous_refused_at_pass(self):
        os.makedirs(os.path.join(self.base, "anon"), exist_ok=True)
        got = yield self.run_session("127.0.0.1", user="anonymous", password="a@b.c")
        self.assertEqual(got, ["230 Anonymous access granted, restrictions apply"])
        got = yield self.run_session("127.0.0.2", user="anonymous", password="a@b.c")
        self.assertEqual(got, ["530 Login incorrect."])
        got = yield self.run_session("127.0.0.2")
        self.assertEqual(got, ["230 User ftpuser logged in"])
        yield waitFor(lambda: "ANON anonymous (Login failed): Limit access denies login"
                      in self.log_lines(), "the ANON refusal in the SystemLog")


class ClassTests(_Site):
    """<Class>: a client's class is the first one its address satisfies; it shows as %c
    in the session's events and DenyClass refuses it."""

    body = """\
<Class lan>
  From 127.0.0.0/30
</Class>
<Class rest>
  From all
</Class>
<Limit MKD>
  DenyClass rest
</Limit>
"""

    @defer.inlineCallbacks
    def test_class_of_each_client(self):
        events = []
        for server in self.service.servers():
            server.events.subscribe(events.append)
        got = yield self.run_session("127.0.0.2", cmd="MKD a")
        self.assertEqual(got[-1], '257 "/a" - Directory successfully created')
        got = yield self.run_session("127.0.0.9", cmd="MKD b")
        self.assertEqual(got[-1], "550 b: Permission denied")
        yield waitFor(lambda: len([e for e in events if e.verb == "MKD"]) == 2,
                      "both MKD events")
        self.assertEqual([(e.session.remote_ip, e.connection_class) for e in events
                          if e.verb == "MKD"], [("127.0.0.2", "lan"), ("127.0.0.9", "rest")])


class RefusedCountedTests(ExporterMixin, unittest.TestCase):
    """A connection <Limit LOGIN> drops by address counts in connection_refused (no
    reason label: ProFTPD refuses it before its session notes exist)."""

    extra = "<Limit LOGIN>\n  Deny from 127.0.0.8\n</Limit>\n"

    @defer.inlineCallbacks
    def test_counted(self):
        before = yield self.scrape()
        yield self.assertFailure(deferToThread(session, self.port, "127.0.0.8"), Refused)
        got = yield deferToThread(session, self.port, "127.0.0.1")
        self.assertEqual(got, ["230 User ftpuser logged in"])
        after = yield self.scrape()
        key = ("proftpd_connection_refused_total", (("protocol", "ftp"), ("reason", "")))
        self.assertEqual(after.get(key, 0) - before.get(key, 0), 1)

# -*- test-case-name: tests.test_sftp_combos -*-
"""SFTP together with the other operational features, as a real site runs them:
behind Debian's haproxy with the PROXY protocol (``send-proxy-v2``) and behind a
version 1 relay (OpenSSH's ProxyCommand), under ``ServerWorkers 2`` with a SIGHUP
reload, under ``MaxInstances``, and ``--check`` of a configuration that uses SFTP,
PROXY, Prometheus and RedisSpool together.  Clients are OpenSSH's sftp and ssh (with
sshpass); the client address the server must see is 127.0.0.7 (``BindAddress``)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.support.sites import free_port_on
from tests.support.twistdrun import TwistdMixin
from tests.test_haproxy import _listening
from tests.test_sftp import SSH_OPTS, _keygen

CLIENT, OTHER, PUBLIC = "127.0.0.7", "127.0.0.8", "127.0.0.5"
FORMAT = "%a|%h|%m|%s|%E|%{protocol}"

HAPROXY = """\
global
    maxconn 200

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend sftp
    bind {public}:{hport}
    default_backend sftp-nodes

backend sftp-nodes
    server node1 127.0.0.1:{port} send-proxy-v2 check inter 1h
"""


def _raw(host, port, send=b"", source=None, timeout=15):
    """What the server sends a connection that sends ``send`` (b"" when it is closed
    without a byte)."""
    s = socket.create_connection((host, port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        if send:
            s.sendall(send)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return got
            got += chunk
    except OSError:
        return got
    finally:
        s.close()


class _Site(TwistdMixin):
    """A site with an SSH host key and one user with password ftppass."""

    timeout = 240
    BODY = ""

    def setUp(self):
        super().setUp()
        self.port = free_port_on("127.0.0.1")
        _keygen(os.path.join(self.base, "hostkey"), "rsa", "-b", "2048", "-m", "PEM")
        self.local = os.path.join(self.base, "local")
        os.makedirs(self.local)
        self.home = e2e.home(self.base)
        with open(os.path.join(self.home, "a.txt"), "wb") as f:
            f.write(b"a" * 50)

    def write_conf(self, body, **ports):
        body = body.replace("{fmt}", FORMAT.replace("{", "{{").replace("}", "}}"))
        return self.write(body, port=self.port, **ports)

    def sftp_argv(self, host, port, password="ftppass", source=CLIENT, extra=()):
        return (["sshpass", "-p", password, "sftp"] + SSH_OPTS + list(extra) +
                ["-oBindAddress=%s" % source, "-P", str(port), "-oBatchMode=no",
                 "-oPreferredAuthentications=password", "-oPubkeyAuthentication=no",
                 "-oNumberOfPasswordPrompts=1"])

    def sftp(self, batch, host="127.0.0.1", port=None, check=True, **kw):
        path = os.path.join(self.local, "batch")
        with open(path, "w") as f:
            f.write(batch)
        argv = self.sftp_argv(host, port or self.port, **kw) + ["-b", path,
                                                                "ftpuser@" + host]

        def run():
            return subprocess.run(argv, cwd=self.local, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=120)
        d = e2e.in_thread(run)
        if check:
            d.addCallback(lambda p: self.assertEqual(p.returncode, 0, p.stdout) or p)
        return d

    def hold(self, host="127.0.0.1", port=None, **kw):
        """An SFTP session kept open (ssh -s sftp, reading its stdin) until closed."""
        argv = self.sftp_argv(host, port or self.port, **kw)
        argv = argv[:3] + ["ssh", "-s"] + argv[4:]
        argv = [a if a != "-P" else "-p" for a in argv] + ["ftpuser@" + host, "sftp"]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill() or proc.wait())
        return proc

    @defer.inlineCallbacks
    def rows(self, count, key=b"sftp", timeout=30, where=None):
        """The records (FORMAT's fields joined by "|"), once ``count`` are there."""
        def matching():
            got = [json.loads(r) for r in self.db.lrange(key)]
            return [r for r in got if where is None or r.get("remote_ip") == where]
        yield e2e.wait_for(lambda: len(matching()) >= count, timeout)
        out = []
        for r in (yield e2e.in_thread(matching)):
            out.append("|".join("-" if r.get(k) is None else str(r[k]) for k in (
                "remote_ip", "remote_dns", "command", "response_code",
                "session_end_reason", "protocol")))
        return out

    def read(self, name):
        path = os.path.join(self.base, name)
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()


PROXIED = r"""
Port {port}
DefaultAddress 127.0.0.1
LogFormat sftp "{fmt}"
RedisLogOnEvent ALL sftp
SystemLog {base}/system.log
SFTPEngine on
SFTPHostKey {base}/hostkey
SFTPLog {base}/sftp.log
DefaultRoot ~
ProxyProtocolEngine on
ProxyProtocolVersion {version}
MaxClientsPerHost 1
MaxLoginAttempts 1
BanEngine on
BanTable {base}/ban.tab
BanLog {base}/ban.log
BanOnEvent MaxLoginAttempts 1/00:10:00 00:05:00
"""


class SFTPBehindHAProxy(_Site, unittest.TestCase):
    """Issue 18: SFTP works behind the PROXY protocol, with Debian's haproxy in front
    (``send-proxy-v2``, as etc/haproxy/ does for FTP)."""

    @defer.inlineCallbacks
    def setUp(self):
        super().setUp()
        self.write_conf(PROXIED.replace("{version}", "haproxyV2"))
        self.twistd()
        ok = yield e2e.in_thread(e2e.wait_listening, self.port)
        self.assertTrue(ok, self.log_or_output())
        self.hport = free_port_on(PUBLIC)
        cfg = os.path.join(self.base, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY.format(public=PUBLIC, hport=self.hport, port=self.port))
        self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", cfg],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(self._reap, self.haproxy)

        ok = yield e2e.in_thread(_listening, PUBLIC, self.hport)
        self.assertTrue(ok, "haproxy did not start")

    @defer.inlineCallbacks
    def test_client_address(self):
        """The proxied client's address in records (%a, %h), SystemLog and SFTPLog."""
        yield self.sftp("ls\nget a.txt\n", host=PUBLIC, port=self.hport)
        got = yield self.rows(8, where=CLIENT)
        self.assertEqual(got, [
            "127.0.0.7|127.0.0.7|-|-|-|ssh2",
            "127.0.0.7|127.0.0.7|USER|331|-|ssh2",
            "127.0.0.7|127.0.0.7|USER|331|-|ssh2",
            "127.0.0.7|127.0.0.7|PASS|230|-|ssh2",
            "127.0.0.7|127.0.0.7|MLSD|-|-|sftp",
            "127.0.0.7|127.0.0.7|STAT|-|-|sftp",
            "127.0.0.7|127.0.0.7|RETR|226|-|sftp",
            "127.0.0.7|127.0.0.7|EXIT|-|Quit: disconnected by user|ssh2"])
        system = self.read("system.log")
        # ProFTPD names an SSH session's lines "SSH2" (its pr_session_get_protocol()).
        self.assertIn("(127.0.0.7[127.0.0.7]): SSH2 session opened.", system)
        self.assertIn("(127.0.0.7[127.0.0.7]): SSH2 session closed.", system)
        self.assertNotIn("[127.0.0.5]", system)
        self.assertIn("client (127.0.0.7:", self.read("sftp.log"))

    @defer.inlineCallbacks
    def test_max_clients_per_host(self):
        """MaxClientsPerHost 1 counts the proxied client, not haproxy's address: a
        second session of 127.0.0.7 is refused, one of 127.0.0.8 is not."""
        self.hold(host=PUBLIC, port=self.hport)
        yield self.rows(4, where=CLIENT)            # CONNECT, USER, USER, PASS 230
        p = yield self.sftp("ls\n", host=PUBLIC, port=self.hport, check=False)
        self.assertIn(b"Maximum connections for host/user reached", p.stdout)
        got = yield self.rows(9, where=CLIENT)
        self.assertEqual(got[-1], "127.0.0.7|127.0.0.7|EXIT|-|"
                                  "Configured policy: Denied by MaxClientsPerHost|ssh2")
        yield self.sftp("ls\n", host=PUBLIC, port=self.hport, source=OTHER)
        got = yield self.rows(6, where=OTHER)
        self.assertEqual(got[-1], "127.0.0.8|127.0.0.8|EXIT|-|Quit: disconnected by "
                                  "user|ssh2")

    @defer.inlineCallbacks
    def test_ban(self):
        """MaxLoginAttempts 1 bans the proxied client (mod_ban); its next connection
        is refused before the key exchange; another client's is not."""
        p = yield self.sftp("ls\n", host=PUBLIC, port=self.hport, password="wrong",
                            check=False)
        self.assertNotEqual(p.returncode, 0)
        got = yield self.rows(5, where=CLIENT)
        self.assertEqual(got[-1], "127.0.0.7|127.0.0.7|EXIT|-|Banned|ssh2")
        p = yield self.sftp("ls\n", host=PUBLIC, port=self.hport, check=False)
        self.assertNotEqual(p.returncode, 0)
        got = yield self.rows(7, where=CLIENT)
        self.assertEqual([r.split("|")[2] for r in got[5:]], ["-", "EXIT"])
        self.assertIn("127.0.0.7", self.read("ban.tab") + self.read("ban.log"))
        self.assertIn("denied due to host ban", self.read("ban.log"))
        yield self.sftp("ls\n", host=PUBLIC, port=self.hport, source=OTHER)

    @defer.inlineCallbacks
    def test_no_header(self):
        """A connection straight to the node gets no SSH identification string: an
        SSH client's first line is not a header (closed at once); a silent client is
        closed after ProxyProtocolTimeout.  Neither is a session."""
        got = yield e2e.in_thread(_raw, "127.0.0.1", self.port,
                                  b"SSH-2.0-OpenSSH_9.2p1\r\n", CLIENT)
        self.assertEqual(got, b"")
        got = yield e2e.in_thread(_raw, "127.0.0.1", self.port, b"", CLIENT)
        self.assertEqual(got, b"")
        ok = yield self.wait_logged("no complete header within ProxyProtocolTimeout")
        self.assertTrue(ok, self.logged())
        self.assertIn("127.0.0.7:", self.logged())
        self.assertIn("invalid PROXY protocol V2 signature", self.logged())
        self.assertEqual([r for r in (yield self.rows(0)) if r.startswith(CLIENT)], [])
        self.assertNotIn("127.0.0.7", self.read("system.log"))


RELAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "support",
                     "proxyrelay.py")


class SFTPBehindV1Relay(_Site, unittest.TestCase):
    """A version 1 header (``ProxyProtocolVersion haproxyV1``) written by a relay that
    OpenSSH's sftp runs as its ProxyCommand, then SSH through it."""

    @defer.inlineCallbacks
    def setUp(self):
        super().setUp()
        self.write_conf(PROXIED.replace("{version}", "haproxyV1"))
        self.twistd()
        ok = yield e2e.in_thread(e2e.wait_listening, self.port)
        self.assertTrue(ok, self.log_or_output())

    @defer.inlineCallbacks
    def test_session(self):
        relay = "%s %s 127.0.0.1 %%p %s" % (sys.executable, RELAY, CLIENT)
        yield self.sftp("get a.txt\n", extra=["-oProxyCommand=" + relay])
        with open(os.path.join(self.local, "a.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)
        got = yield self.rows(7, where=CLIENT)
        self.assertEqual([r.split("|")[2] for r in got],
                         ["-", "USER", "USER", "PASS", "STAT", "RETR", "EXIT"])
        self.assertIn("(127.0.0.7[127.0.0.7]): SSH2 session opened.",
                      self.read("system.log"))


WORKERS = r"""
Port 0
ServerWorkers 2
SystemLog {base}/system.log
LogFormat sftp "{fmt}"
<Global>
  RedisLogOnEvent ALL sftp
  SFTPEngine on
  SFTPHostKey {base}/hostkey
  DefaultRoot ~
</Global>
<VirtualHost 127.0.0.1>
  Port {port}
  ServerIdent on "kept"
</VirtualHost>
<VirtualHost 127.0.0.2>
  Port {port2}
  ServerIdent on "{ident}"
</VirtualHost>
"""
_OPENED = re.compile(r" ftpredis\[(\d+)\] .*SSH2 session opened")


class SFTPWithWorkers(_Site, unittest.TestCase):
    """``ServerWorkers 2`` with two SFTP virtual hosts: sessions on both processes, a
    SIGHUP that changes one host and keeps the other."""

    @defer.inlineCallbacks
    def setUp(self):
        super().setUp()
        self.port2 = free_port_on("127.0.0.2")
        self.configure("before")
        # The worker logs to its stderr (the parent's): kept in a file to be read.
        self.stderr = os.path.join(self.base, "stderr.log")
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                 "-n", "--pidfile=", "--logfile", self.log, "ftpredis", "--config",
                 self.conf], cwd=self.base, env=dict(os.environ, PYTHONPATH=e2e.REPO),
                stdout=subprocess.DEVNULL, stderr=err)
        self.addCleanup(self._reap, self.proc)
        up = yield e2e.wait_for(lambda: e2e.wait_listening(self.port) and
                                len(self.children()) == 1, timeout=30)
        self.assertTrue(up, self.log_or_output())

    def configure(self, ident):
        self.write_conf(WORKERS.replace("{ident}", ident), port2=self.port2)

    def children(self):
        pid = self.proc.pid
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def pids(self):
        return set(int(m.group(1)) for m in _OPENED.finditer(self.read("system.log")))

    def ident(self, host, port):
        """The SSH identification string a new connection is sent."""
        with socket.create_connection((host, port), timeout=15) as s:
            got = b""
            while b"\r\n" not in got:
                chunk = s.recv(256)
                if not chunk:
                    break
                got += chunk
            return got.split(b"\r\n")[0]

    @defer.inlineCallbacks
    def test_sessions_on_both_processes(self):
        n = 0
        while len(self.pids()) < 2 and n < 40:
            yield self.sftp("ls\n")
            n += 1
        self.assertEqual(self.pids(), {self.proc.pid} | set(self.children()))
        yield self.rows(6 * n)

        def settled():
            # The readiness probes were sessions too, so 6 * n records may be there
            # before the last session's EXIT: wait until every CONNECT has its EXIT.
            got = [json.loads(r) for r in self.db.lrange(b"sftp")]
            return (sum(1 for r in got if r.get("command") == "EXIT") ==
                    sum(1 for r in got if r.get("command") is None))
        yield e2e.wait_for(settled, 30)
        got = yield self.rows(6 * n)
        # Every session is complete, none twice.
        exits = [r for r in got if "|EXIT|" in r]
        self.assertEqual(len([r for r in got if "|-|-|-|ssh2" in r and
                              r.split("|")[2] == "-"]), len(exits))
        self.assertEqual(len([r for r in got if "|PASS|230|" in r]), n)
        self.assertEqual(len([r for r in got if "|MLSD|" in r]), n)
        logged = self.logged() + self.read("stderr.log")
        self.assertIn("ftpredis worker %d serving" % self.children()[0], logged)
        for bad in ("Traceback", "Unhandled", "Address already in use", "SFTPHostKey"):
            self.assertNotIn(bad, logged)

    @defer.inlineCallbacks
    def test_reload(self):
        """Open sessions go on through a reload (on both hosts); new sessions of the
        changed host get its new settings, the kept host stays as it was."""
        before = yield e2e.in_thread(self.ident, "127.0.0.2", self.port2)
        self.assertEqual(before, b"SSH-2.0-before")
        held = []
        for host, port in (("127.0.0.1", self.port), ("127.0.0.2", self.port2)):
            argv = self.sftp_argv(host, port) + ["-b", "-", "ftpuser@" + host]
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, cwd=self.local)
            self.addCleanup(lambda p=proc: p.poll() is None and p.kill() or p.wait())
            held.append(proc)
        yield self.rows(4, where=None)

        def logged_in():
            return len([r for r in self.db.lrange(b"sftp")
                        if b'"PASS"' in r]) >= 2
        self.assertTrue((yield e2e.wait_for(logged_in, timeout=30)))
        self.configure("after")
        os.kill(self.proc.pid, signal.SIGHUP)

        def reloaded():
            # Both processes reload (the parent passes SIGHUP on); a new connection
            # lands on either, so several in a row must see the new ServerIdent.
            return all(self.ident("127.0.0.2", self.port2) == b"SSH-2.0-after"
                       for _ in range(8))
        self.assertTrue((yield e2e.wait_for(reloaded, timeout=30)), self.logged())
        for proc in held:
            out, _ = yield e2e.in_thread(proc.communicate, b"ls\nget a.txt\nbye\n", 60)
            self.assertEqual(proc.returncode, 0, out)
        for _ in range(6):     # a new connection lands on either process
            got = yield e2e.in_thread(self.ident, "127.0.0.2", self.port2)
            self.assertEqual(got, b"SSH-2.0-after")
            got = yield e2e.in_thread(self.ident, "127.0.0.1", self.port)
            self.assertEqual(got, b"SSH-2.0-kept")
        def done():
            return len([r for r in self.db.lrange(b"sftp")
                        if b"Quit: disconnected by user" in r]) >= 2
        self.assertTrue((yield e2e.wait_for(done, timeout=30)))
        got = yield self.rows(0)
        # The two sessions opened before the reload, each complete, nothing twice.
        self.assertEqual(len([r for r in got if "|RETR|226|" in r]), 2, got)
        self.assertEqual(len([r for r in got if "|MLSD|" in r]), 2, got)
        self.assertEqual(len([r for r in got if "|PASS|230|" in r]), 2, got)
        self.assertEqual(len([r for r in got if "Quit: disconnected by user" in r]), 2, got)


INSTANCES = r"""
Port {port}
DefaultAddress 127.0.0.1
LogFormat sftp "{fmt}"
RedisLogOnEvent ALL sftp
SystemLog {base}/system.log
SFTPEngine on
SFTPHostKey {base}/hostkey
DefaultRoot ~
MaxInstances 2
"""


class SFTPMaxInstances(_Site, unittest.TestCase):
    """MaxInstances counts SSH connections, logged in or not; the one beyond is closed
    before the SSH identification string, as ProFTPD's daemon closes it."""

    BODY = INSTANCES

    @defer.inlineCallbacks
    def setUp(self):
        super().setUp()
        self.write_conf(self.BODY)
        self.twistd()
        ok = yield e2e.in_thread(e2e.wait_listening, self.port)
        self.assertTrue(ok, self.log_or_output())

    def idle(self, send=b""):
        """A connection that stays open without logging in."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        self.addCleanup(s.close)
        if send:
            s.sendall(send)
        return s

    @defer.inlineCallbacks
    def test_beyond_is_closed(self):
        yield self.rows(2)                  # wait_listening's probe: CONNECT, EXIT
        self.db.command("DEL", b"sftp")
        held = self.hold()
        yield self.rows(4)                  # logged in
        waiting = self.idle()
        first = yield e2e.in_thread(waiting.recv, 100)
        self.assertTrue(first.startswith(b"SSH-2.0-"), first)
        got = yield e2e.in_thread(_raw, "127.0.0.1", self.port)
        self.assertEqual(got, b"")          # no SSH identification string
        p = yield self.sftp("ls\n", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("MaxInstances (2) reached, new connection denied",
                      self.read("system.log"))
        waiting.close()
        yield self.rows(6)                  # its CONNECT and EXIT, no other session
        yield self.sftp("ls\n")
        held.stdin.close()
        yield e2e.in_thread(held.wait, 30)
        got = yield self.rows(6 + 7)
        self.assertEqual(len([r for r in got if "|PASS|230|" in r]), 2, got)


class SFTPMaxInstancesBehindProxy(SFTPMaxInstances):
    """With ProxyProtocolEngine on, a connection still waiting for its header counts."""

    BODY = INSTANCES + "ProxyProtocolEngine on\nProxyProtocolTimeout 60\n"

    @defer.inlineCallbacks
    def test_beyond_is_closed(self):
        # wait_listening's probe first ends (it sent no header).
        self.assertTrue((yield self.wait_logged("closed before a complete header")))
        waiting = [self.idle(), self.idle(b"PROXY TCP4 127.0.0.9 127.0.0.1 1 2")]
        relay = "%s %s 127.0.0.1 %%p %s" % (sys.executable, RELAY, CLIENT)

        def counted():
            return "MaxInstances (2) reached" in self.read("system.log")
        # The relay's connection is refused at once: its header is never read.
        p = yield self.sftp("ls\n", extra=["-oProxyCommand=" + relay], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(counted(), self.read("system.log"))
        for s in waiting:
            s.close()
        yield self.sftp("ls\n", extra=["-oProxyCommand=" + relay])
        got = yield self.rows(6, where=CLIENT)
        self.assertEqual([r.split("|")[2] for r in got],
                         ["-", "USER", "USER", "PASS", "MLSD", "EXIT"])


CHECKED = r"""
Port {ftp_port}
DefaultAddress 127.0.0.1
RedisSpool {base}/spool 64M
RedisSpoolSync everysec
LogFormat sftp "{fmt}"
RedisLogOnEvent ALL sftp
PrometheusEngine on
PrometheusExporter 127.0.0.1:{mport}
ServerWorkers 2
MaxInstances 100
SystemLog {base}/system.log
Include {base}/sftp.conf
"""

SFTP_VHOST = """\
<VirtualHost 127.0.0.1>
  Port %(port)d
  SFTPEngine on
  SFTPHostKey %(key)s
  SFTPLog %(base)s/sftp.log
  ProxyProtocolEngine on
  ProxyProtocolVersion %(version)s
  ProxyProtocolTimeout %(timeout)s
  MaxClientsPerHost 5
  DefaultRoot ~
</VirtualHost>
"""


class CheckTests(_Site, unittest.TestCase):
    """``twistd ftpredis --check`` on a site with SFTP, PROXY, Prometheus and RedisSpool
    together: clean when it is, and every error named with its file and line."""

    def check(self, mport=None, **vhost):
        values = dict(port=self.port, key=os.path.join(self.base, "hostkey"),
                      base=self.base, version="haproxyV2", timeout="5")
        values.update(vhost)
        with open(os.path.join(self.base, "sftp.conf"), "w") as f:
            f.write(SFTP_VHOST % values)
        self.write_conf(CHECKED, ftp_port=free_port_on("127.0.0.1"),
                        mport=mport or free_port_on("127.0.0.1"))
        return subprocess.run(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
             "ftpredis", "--config", self.conf, "--check"], cwd=self.base,
            env=dict(os.environ, PYTHONPATH=e2e.REPO), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=120)

    def test_clean(self):
        p = self.check()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)     # no warning
        self.assertTrue(lines[0].startswith("Syntax OK: 2 servers"), lines)

    def test_errors_named(self):
        p = self.check(key=os.path.join(self.base, "nokey"), version="haproxyV3",
                       timeout="-1", mport=self.port)
        self.assertEqual(p.returncode, 1, p.stdout)
        vhost = "of %r" % os.path.join(self.base, "sftp.conf")
        main = "of %r" % self.conf
        got = sorted(p.stderr.decode().splitlines())
        self.assertEqual(len(got), 4, got)
        exporter, proxy_timeout, proxy_version, host_key = got
        self.assertTrue(host_key.startswith("SFTPHostKey: unable to check"), got)
        self.assertTrue(host_key.endswith("on line 4 " + vhost), got)
        self.assertTrue(proxy_version.startswith("ProxyProtocolVersion: unknown"), got)
        self.assertTrue(proxy_version.endswith("on line 7 " + vhost), got)
        self.assertTrue(proxy_timeout.startswith("ProxyProtocolTimeout: error parsing"), got)
        self.assertTrue(proxy_timeout.endswith("on line 8 " + vhost), got)
        # The exporter on the SFTP host's port: both would bind it; the second would
        # fail when ftpredis starts.
        with open(self.conf) as f:
            line = [n for n, text in enumerate(f, 1) if "PrometheusExporter" in text][0]
        self.assertEqual(exporter, "PrometheusExporter: address 127.0.0.1 port %d is "
                         "already used by <VirtualHost 127.0.0.1> (line 1 %s) on line %d "
                         "%s" % (self.port, vhost, line, main))

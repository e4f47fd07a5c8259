# -*- test-case-name: tests.test_haproxy -*-
"""The shipped scale-out layout (etc/haproxy/) run for real: Debian's haproxy on
127.0.0.5 (the "public" address), two ``twistd ftpredis`` nodes on 127.0.0.1 and
127.0.0.2 with the shipped configs, one redis-server; clients bind 127.0.0.7 (and
other 127/8 addresses) so that the address the nodes log is the client's and not
HAProxy's.  Only addresses and ports are changed from the shipped files.

Shows: the real client address in records (and HAProxy's unique id as a note); PASV
transfers through HAProxy's per-node passive ranges; BanOnEvent counts adding up over
both nodes; a ban crossing nodes (the delay measured and logged, asserted only
generously: the machine is shared); one node killed mid-session without losing a
record of the other node's session.
"""

import ftplib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time

from twisted.internet import defer
from twisted.python import log
from twisted.trial import unittest

from tests.support import bannodes, e2e
from tests.support.proxyclient import v2
from tests.support.redisserver import RedisServer
from tests.support.sites import free_port_on

PUBLIC, NODES, CLIENT = "127.0.0.5", ("127.0.0.1", "127.0.0.2"), "127.0.0.7"
RANGE = 5


def _free_range(hosts, taken=()):
    """``RANGE`` consecutive ports free on every one of ``hosts``."""
    for _ in range(200):
        # Below the kernel's ephemeral range: after a benchmark or a busy suite, tens of
        # thousands of client ports there sit in TIME_WAIT, and those block a bind even
        # with SO_REUSEADDR; consecutive free ones are then rare.
        first = random.randrange(10000, 32000 - RANGE)
        ports = range(first, first + RANGE)
        if any(p in taken for p in ports):
            continue
        try:
            for p in ports:
                for h in hosts:
                    with socket.socket() as s:
                        # As the servers bind them: a port whose only users are
                        # TIME_WAIT connections (thousands after a benchmark) is free.
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind((h, p))
            return ports
        except OSError:
            continue
    raise RuntimeError("no free port range")


def _listening(host, port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class BehindHAProxy(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.cleanup)
        self.redis.start()
        self.db = self.redis.client()
        self.base = base = os.path.realpath(self.mktemp())
        etc = os.path.join(base, "etc")
        shutil.copytree(os.path.join(e2e.REPO, "etc", "haproxy"), os.path.join(etc, "haproxy"))
        with open(os.path.join(e2e.REPO, "etc", "ftpd.passwd")) as f:
            passwd = f.read().replace("/tmp/ftpredis-example", os.path.join(base, "homes"))
        with open(os.path.join(etc, "ftpd.passwd"), "w") as f:
            f.write(passwd)
        os.chmod(os.path.join(etc, "ftpd.passwd"), 0o600)
        self.port = free_port_on(PUBLIC)
        node_port = free_port_on(*NODES)
        r1 = _free_range((PUBLIC, NODES[0]))
        r2 = _free_range((PUBLIC, NODES[1]), taken=r1)
        self.ranges = (r1, r2)
        edits = [("192.0.2.10:21\n", "%s:%d\n" % (PUBLIC, self.port)),
                 ("192.0.2.10:60000-60049", "%s:%d-%d" % (PUBLIC, r1[0], r1[-1])),
                 ("192.0.2.10:60050-60099", "%s:%d-%d" % (PUBLIC, r2[0], r2[-1])),
                 ("PassivePorts        60000 60049", "PassivePorts %d %d" % (r1[0], r1[-1])),
                 ("PassivePorts        60050 60099", "PassivePorts %d %d" % (r2[0], r2[-1])),
                 ("192.0.2.10", PUBLIC), ("10.0.0.11", NODES[0]), ("10.0.0.12", NODES[1]),
                 (":2121", ":%d" % node_port), ("Port                2121",
                                                "Port %d" % node_port),
                 ("10.0.0.20:6379", "127.0.0.1:%d" % self.redis.port),
                 ("/var/lib/ftpredis", base), ("log /dev/log local0", ""),
                 # The shipped figure needs a raised open-file limit (systemd's unit
                 # gives Debian's haproxy one); not this test's.
                 ("maxconn 20000", "maxconn 500")]
        for name in os.listdir(os.path.join(etc, "haproxy")):
            path = os.path.join(etc, "haproxy", name)
            with open(path) as f:
                text = f.read()
            for old, new in edits:
                text = text.replace(old, new)
            with open(path, "w") as f:
                f.write(text)
        self.nodes = []
        for n in (1, 2):
            logfile = os.path.join(base, "node%d.log" % n)
            proc = e2e.twistd(["-n", "--pidfile=", "--logfile", logfile, "ftpredis",
                               "--config", os.path.join(etc, "haproxy", "ftpd-node%d.conf" % n)],
                              cwd=base)
            self.addCleanup(e2e.stop_process, proc)
            self.nodes.append((proc, logfile, NODES[n - 1], node_port))
        for proc, logfile, host, port in self.nodes:
            if not _listening(host, port):
                self.fail("node on %s did not start:\n%s" % (host, self._read(logfile)))
        self.haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", os.path.join(etc, "haproxy", "haproxy.cfg")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(e2e.stop_process, self.haproxy)
        if not _listening(PUBLIC, self.port):
            self.haproxy.kill()
            out, _ = self.haproxy.communicate()
            self.fail("haproxy did not start: %s" % out.decode())

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return "(no log)"

    def client(self, source=CLIENT):
        ftp = ftplib.FTP(timeout=10)
        ftp.connect(PUBLIC, self.port, source_address=(source, 0))
        ftp.login(e2e.USER, e2e.PASSWORD)
        return ftp

    def records(self, key):
        return [json.loads(r) for r in self.db.lrange(key)]

    def wait_records(self, key, predicate, timeout=10.0):
        def check():
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                got = self.records(key)
                if predicate(got):
                    return got
                time.sleep(0.05)
            return self.records(key)
        return e2e.in_thread(check)

    @defer.inlineCallbacks
    def test_client_address_and_pasv_through_haproxy(self):
        def run():
            # Two sessions open at once: leastconn puts them on both nodes.
            a, b = self.client(), self.client()
            banners = sorted((a.welcome, b.welcome))
            for i, ftp in enumerate((a, b)):
                ftp.storbinary("STOR f%d.bin" % i, io.BytesIO(b"%d" % i * 100000))
                out = io.BytesIO()
                ftp.retrbinary("RETR f%d.bin" % i, out.write)
                assert out.getvalue() == b"%d" % i * 100000
            a.quit()
            b.quit()
            return banners
        banners = yield e2e.in_thread(run)
        self.assertEqual(banners, ["220 ftp node1 ready", "220 ftp node2 ready"])
        sessions = yield self.wait_records(
            "sessions", lambda rs: sum(1 for r in rs if r.get("remote_ip") == CLIENT) >= 4)
        mine = [r for r in sessions if r.get("remote_ip") == CLIENT]
        self.assertEqual(len(mine), 4, sessions)
        self.assertEqual({r["server_name"] for r in mine}, {"ftp node1", "ftp node2"})
        self.assertEqual({r["remote_dns"] for r in mine}, {CLIENT})
        for r in mine:       # HAProxy's unique id, from the PROXY v2 header's TLV
            self.assertTrue(r.get("NOTE:mod_proxy_protocol.unique-id"), r)
        transfers = yield self.wait_records("file-transfers", lambda rs: len(rs) >= 4)
        self.assertEqual([(r["remote_dns"], r["response_code"]) for r in transfers],
                         [(CLIENT, 226)] * 4)
        self.assertEqual({r["server_name"] for r in transfers}, {"ftp node1", "ftp node2"})

    def _probe_nodes(self, source):
        """What each node answers a client at ``source`` (a PROXY header as HAProxy's)."""
        return [bannodes.first_line(port, "127.0.0.1", host,
                                    header=v2(source, PUBLIC, 40000, self.port))
                for _, _, host, port in self.nodes]

    @defer.inlineCallbacks
    def test_counters_add_up_and_bans_cross_nodes(self):
        (_, _, h1, port), (_, _, h2, _) = self.nodes
        header = lambda src: v2(src, PUBLIC, 40000, self.port)     # noqa: E731
        src = "127.0.0.20"
        # Two failed logins on node 1 and one on node 2: three, the rule's count.
        for host in (h1, h2):
            yield e2e.in_thread(bannodes.fail_login, port, "127.0.0.1", host, header(src))
        got = yield e2e.in_thread(self._probe_nodes, src)
        self.assertEqual([g[:3] for g in got], ["220", "220"])
        yield e2e.in_thread(bannodes.fail_login, port, "127.0.0.1", h1, header(src))

        def banned_everywhere():
            return bannodes.until(
                lambda: all(g.startswith("530") for g in self._probe_nodes(src)), 5)
        self.assertTrue((yield e2e.in_thread(banned_everywhere)))
        refused = yield e2e.in_thread(bannodes.first_line, self.port, src, PUBLIC)
        self.assertEqual(refused, "530 Host %s has been banned" % src)

        # A ban added in Redis (as ftpredis-ban does) reaching node 2: measured.
        def probe(_port, source):
            return self._probe_nodes(source)[1]
        bans, permits = yield e2e.in_thread(
            bannodes.measure, self.db, None, ["127.0.0.%d" % i for i in range(30, 40)], probe)
        log.msg("ban propagation behind haproxy: ban %s; permit %s"
                % (bannodes.summary(bans), bannodes.summary(permits)))
        self.assertNotIn(None, bans + permits)
        # Generous, for a shared machine (a few ms here): the poll alone is ~250 ms
        # median.
        self.assertLess(sorted(bans)[len(bans) // 2], 0.15, bannodes.summary(bans))

    @defer.inlineCallbacks
    def test_node_killed_mid_session_keeps_the_others_records(self):
        def start():
            a, b = self.client(), self.client()
            return {ftp.welcome: ftp for ftp in (a, b)}
        sessions = yield e2e.in_thread(start)
        self.assertEqual(sorted(sessions), ["220 ftp node1 ready", "220 ftp node2 ready"])
        doomed, survivor = sessions["220 ftp node1 ready"], sessions["220 ftp node2 ready"]
        self.nodes[0][0].send_signal(signal.SIGKILL)
        self.nodes[0][0].communicate()

        def go_on():
            survivor.storbinary("STOR after.bin", io.BytesIO(b"x" * 50000))
            out = io.BytesIO()
            survivor.retrbinary("RETR after.bin", out.write)
            survivor.quit()
            try:
                doomed.voidcmd("NOOP")
                lost = False
            except (ftplib.all_errors) as e:
                lost = bool(e) or True
            # A new session goes to the node still up.
            again = self.client()
            welcome = again.welcome
            again.quit()
            return out.getvalue(), lost, welcome
        data, lost, welcome = yield e2e.in_thread(go_on)
        self.assertEqual(data, b"x" * 50000)
        self.assertTrue(lost)
        self.assertEqual(welcome, "220 ftp node2 ready")
        transfers = yield self.wait_records(
            "file-transfers", lambda rs: sum(1 for r in rs if r["server_name"] == "ftp node2")
            >= 2)
        self.assertEqual([(r["raw_command"], r["response_code"]) for r in transfers
                          if r["server_name"] == "ftp node2"],
                         [("STOR after.bin", 226), ("RETR after.bin", 226)])
        sessions = yield self.wait_records(
            "sessions", lambda rs: sum(1 for r in rs if r["server_name"] == "ftp node2"
                                       and r.get("remote_ip") == CLIENT) >= 4)
        node2 = [r for r in sessions if r["server_name"] == "ftp node2"
                 and r.get("remote_ip") == CLIENT]
        self.assertEqual(len(node2), 4, sessions)      # two sessions: CONNECT, DISCONNECT

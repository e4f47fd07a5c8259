"""Functional tests of the performance machinery: sendfile RETR (ftpredis.ftp.fastpath), the
login fast path (ftpredis.auth.fastcrypt) and worker processes (ftpredis.app.workers).

Benchmarks are not tests: nothing here measures or asserts a time.
"""

import ftplib
import json
import os
import signal
import socket
import threading

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.auth import fastcrypt
from ftpredis.ftp import fastpath
from ftpredis.auth.portal import hash_password, verify_password
from ftpredis.config import load_config
from ftpredis.app.service import FTPRedisService
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin
from tests.support.waiting import waitFor

CONFIG = r"""
ServerName          "perf"
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
DefaultRoot         ~
AllowOverwrite      on
RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
LogFormat           every "%m %s %b %P"
RedisLogOnEvent     ALL every
"""

BIG = os.urandom(256 * 1024) * 12          # 3 MiB, several sendfile rounds


class _Site(RedisServerMixin):
    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        self.conf = e2e.write_site(self.base, self.config_body, port=self.port,
                                   redis_port=self.redis.port)
        self.db = self.redis.client()
        with open(os.path.join(e2e.home(self.base), "big.bin"), "wb") as f:
            f.write(BIG)
        with open(os.path.join(e2e.home(self.base), "text.txt"), "wb") as f:
            f.write(b"one\ntwo\nthree\n" * 1000)

    config_body = CONFIG

    @defer.inlineCallbacks
    def records(self, n):
        """(command, response code, bytes_sent, pid) of each record."""
        raw = yield e2e.wait_records(self.db, b"every", n)
        out = []
        for r in raw:
            d = json.loads(r)
            out.append((d.get("command"), d.get("response_code"), d.get("bytes_sent"),
                        d.get("pid")))
        return out


class SendfileRetrTests(_Site, unittest.TestCase):
    """Binary RETR over plain TCP goes through os.sendfile; the bytes, the REST offset,
    ASCII mode and an aborted transfer all behave as with the ordinary producer."""

    def setUp(self):
        super().setUp()
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.calls = []
        real = os.sendfile

        self.threads = []

        def counting(*args):
            self.calls.append(args[3])
            self.threads.append(threading.current_thread())
            return real(*args)
        self.patch(os, "sendfile", counting)

    @defer.inlineCallbacks
    def test_binary_and_rest(self):
        def session():
            ftp = e2e.ftp_connect(self.port)
            whole, tail = bytearray(), bytearray()
            ftp.retrbinary("RETR big.bin", whole.extend)
            ftp.retrbinary("RETR big.bin", tail.extend, rest=1000001)
            ftp.quit()
            return bytes(whole), bytes(tail)
        whole, tail = yield e2e.in_thread(session)
        self.assertEqual(whole, BIG)
        self.assertEqual(tail, BIG[1000001:])
        self.assertTrue(self.calls, "os.sendfile was not used")
        # What the socket did not take at once is read from the disk off the reactor.
        self.assertIn(True, [t is not threading.main_thread() for t in self.threads])
        records = yield self.records(10)
        retrs = [r for r in records if r[0] == "RETR"]
        self.assertEqual([(r[1], r[2]) for r in retrs],
                         [(226, len(BIG)), (226, len(BIG) - 1000001)])

    @defer.inlineCallbacks
    def test_small_files_back_to_back(self):
        """Small files are sent whole while the RETR is handled (the client connected
        after PASV); each one arrives intact and its record counts its bytes."""
        sizes = (0, 1, 4096, 65536, 200000)
        for n in sizes:
            with open(os.path.join(e2e.home(self.base), "s%d.bin" % n), "wb") as f:
                f.write(BIG[:n])

        def session():
            ftp = e2e.ftp_connect(self.port)
            got = []
            for n in sizes * 3:
                buf = bytearray()
                ftp.retrbinary("RETR s%d.bin" % n, buf.extend)
                got.append(bytes(buf))
            ftp.quit()
            return got
        got = yield e2e.in_thread(session)
        self.assertEqual(got, [BIG[:n] for n in sizes * 3])
        records = yield self.records(3 + 2 * len(sizes) * 3 + 2)
        self.assertEqual([(r[1], r[2]) for r in records if r[0] == "RETR"],
                         [(226, n) for n in sizes * 3])

    @defer.inlineCallbacks
    def test_retr_before_the_client_connects(self):
        """A client that sends RETR first and connects afterwards (the reactor then
        accepts on the passive port) gets the file."""
        def ask():
            ftp = e2e.ftp_connect(self.port)
            ftp.voidcmd("TYPE I")
            host, port = ftplib.parse227(ftp.sendcmd("PASV"))
            ftp.putcmd("RETR big.bin")
            return ftp, port

        def waitingForData():
            return any(p.waiting_for_data
                       for s in self.service.servers() for p in s.sessions())

        def session(ftp, port):
            data = bytearray()
            with socket.create_connection(("127.0.0.1", port)) as conn:
                opening = ftp.getresp()
                while True:
                    chunk = conn.recv(1 << 16)
                    if not chunk:
                        break
                    data.extend(chunk)
            final = ftp.voidresp()
            ftp.quit()
            return opening, bytes(data), final
        ftp, port = yield e2e.in_thread(ask)
        self.addCleanup(ftp.close)
        # connecting only once the server waits for it is the case under test
        yield waitFor(waitingForData, "the RETR waiting for its data connection")
        opening, data, final = yield e2e.in_thread(session, ftp, port)
        self.assertTrue(opening.startswith("150 "), opening)
        self.assertEqual(data, BIG)
        self.assertTrue(final.startswith("226 "), final)
        records = yield self.records(8)
        self.assertIn(("RETR", 226, len(BIG)), [r[:3] for r in records])

    @defer.inlineCallbacks
    def test_ascii_uses_the_producer(self):
        def session():
            ftp = e2e.ftp_connect(self.port)
            lines = []
            ftp.sendcmd("TYPE A")
            ftp.retrlines("RETR text.txt", lines.append)
            ftp.quit()
            return lines
        lines = yield e2e.in_thread(session)
        self.assertEqual(lines, ["one", "two", "three"] * 1000)
        self.assertEqual(self.calls, [])

    @defer.inlineCallbacks
    def test_aborted_transfer(self):
        def session():
            ftp = e2e.ftp_connect(self.port)
            ftp.voidcmd("TYPE I")
            conn = ftp.transfercmd("RETR big.bin")
            # Shrink our receive window so the server is still sending when we go.
            conn.recv(1000)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            conn.close()                 # RST
            final = ftp.getmultiline()
            after = ftp.sendcmd("NOOP")
            ftp.quit()
            return final, after
        final, after = yield e2e.in_thread(session)
        self.assertTrue(final.startswith("426") or final.startswith("226"), final)
        self.assertTrue(after.startswith("200"), after)
        records = yield self.records(9)
        retr = [r for r in records if r[0] == "RETR"][0]
        self.assertEqual(retr[1], int(final[:3]))
        self.assertLessEqual(retr[2], len(BIG))
        self.assertEqual(records[-1][0], "EXIT")


class SpliceStorTests(_Site, unittest.TestCase):
    """Binary STOR over plain TCP goes socket -> pipe -> file with os.splice; the bytes,
    APPE, ASCII mode (the ordinary receiver) and an aborted upload behave as before."""

    def setUp(self):
        super().setUp()
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.calls = []
        real = os.splice

        def counting(*args, **kw):
            self.calls.append(args[2])
            return real(*args, **kw)
        self.patch(os, "splice", counting)

    def home(self, name):
        return os.path.join(e2e.home(self.base), name)

    @defer.inlineCallbacks
    def test_binary_and_overwrite(self):
        import io

        def session():
            ftp = e2e.ftp_connect(self.port)
            ftp.storbinary("STOR up.bin", io.BytesIO(BIG), blocksize=1 << 20)
            ftp.storbinary("STOR up2.bin", io.BytesIO(BIG), blocksize=1 << 20)
            ftp.storbinary("STOR up2.bin", io.BytesIO(b"tail" * 1000))
            ftp.quit()
        yield e2e.in_thread(session)
        with open(self.home("up.bin"), "rb") as f:
            self.assertEqual(f.read(), BIG)
        with open(self.home("up2.bin"), "rb") as f:
            self.assertEqual(f.read(), b"tail" * 1000)
        self.assertTrue(self.calls, "os.splice was not used")
        records = yield self.records(13)
        stors = [(r[0], r[1], r[2]) for r in records if r[0] == "STOR"]
        self.assertEqual(stors, [("STOR", 226, len(BIG)), ("STOR", 226, len(BIG)),
                                 ("STOR", 226, 4000)])

    @defer.inlineCallbacks
    def test_ascii_uses_the_receiver(self):
        import io

        def session():
            ftp = e2e.ftp_connect(self.port)
            ftp.sendcmd("TYPE A")
            ftp.storlines("STOR up.txt", io.BytesIO(b"one\r\ntwo\r\n" * 100))
            ftp.quit()
        yield e2e.in_thread(session)
        with open(self.home("up.txt"), "rb") as f:
            self.assertEqual(f.read(), b"one\ntwo\n" * 100)
        self.assertEqual(self.calls, [])

    @defer.inlineCallbacks
    def test_aborted_upload(self):
        def session():
            ftp = e2e.ftp_connect(self.port)
            ftp.voidcmd("TYPE I")
            conn = ftp.transfercmd("STOR cut.bin")
            conn.sendall(BIG[:100000])
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            conn.close()                 # RST: the upload did not complete
            final = ftp.getmultiline()
            after = ftp.sendcmd("NOOP")
            ftp.quit()
            return final, after
        final, after = yield e2e.in_thread(session)
        self.assertTrue(final.startswith("426"), final)
        self.assertTrue(after.startswith("200"), after)
        self.assertFalse(os.path.exists(self.home("cut.bin")))
        self.assertEqual([n for n in os.listdir(e2e.home(self.base)) if n.endswith(".part")],
                         [])

    @defer.inlineCallbacks
    def test_stalled_disk_does_not_freeze_other_sessions(self):
        """The upload is moved to the file in a pool thread: while its writes are stalled
        (a slow disk), another session's commands are still answered, and the upload then
        completes with every byte, in order, counted exactly."""
        import threading

        started, release = threading.Event(), threading.Event()
        real = fastpath.socket_to_file

        def stalled(*args):
            started.set()
            release.wait(60)             # a safety net only: the test sets it itself
            return real(*args)
        self.patch(fastpath, "socket_to_file", stalled)

        def session():
            ftp = e2e.ftp_connect(self.port)
            ftp.voidcmd("TYPE I")
            conn = ftp.transfercmd("STOR slow.bin")

            def upload():
                conn.sendall(BIG)
                conn.close()
            sender = threading.Thread(target=upload)
            sender.start()
            try:
                self.assertTrue(started.wait(30), "no file write was attempted")
                other = e2e.ftp_connect(self.port)
                answers = [other.sendcmd("NOOP") for _ in range(3)]
                answers.append(other.sendcmd("PWD"))
                stalled_still = not release.is_set()
                other.quit()
            finally:
                release.set()
            sender.join(30)
            final = ftp.voidresp()
            ftp.quit()
            return answers, stalled_still, final
        answers, stalled_still, final = yield e2e.in_thread(session)
        self.assertTrue(stalled_still)
        self.assertEqual([a[:3] for a in answers], ["200", "200", "200", "257"])
        self.assertTrue(final.startswith("226"), final)
        with open(self.home("slow.bin"), "rb") as f:
            self.assertEqual(f.read(), BIG)
        records = yield self.records(14)
        stors = [(r[1], r[2]) for r in records if r[0] == "STOR"]
        self.assertEqual(stors, [(226, len(BIG))])


class FastpathUnitTests(unittest.TestCase):
    def test_plain_tcp_refuses_other_transports(self):
        from twisted.internet.testing import StringTransport
        self.assertIsNone(fastpath.plain_tcp(StringTransport()))
        t = StringTransport()
        fastpath.write_now(t, b"220 hi\r\n")
        self.assertEqual(t.value(), b"220 hi\r\n")


    def test_pasv_port_picked_in_the_ephemeral_range(self):
        from twisted.internet import protocol, reactor
        lo, hi = fastpath.EPHEMERAL
        listen = fastpath.listen_quiet(reactor)
        ports = [listen(0, protocol.ServerFactory(), interface="127.0.0.1")
                 for _ in range(5)]
        try:
            numbers = [p.getHost().port for p in ports]
            self.assertEqual(len(set(numbers)), 5)
            for n in numbers:
                self.assertTrue(lo <= n <= hi, n)
        finally:
            for p in ports:
                p.stopListening()

    def test_event_adopt_equals_constructor(self):
        from ftpredis.records.events import COMMAND, Event, Session
        s = Session("1.2.3.4", 5, "1.2.3.4", "5.6.7.8", "5.6.7.8", "5.6.7.8", 21, "x",
                    "v", 1)
        fields = dict(kind=COMMAND, session=s, time=1.5, verb="RETR", bytes_sent=4,
                      file="/r/f")
        self.assertEqual(Event.adopt(dict(fields)), Event(**fields))
        self.assertEqual(Event.adopt(dict(fields)).notes, {})
        self.assertEqual(Event.adopt(dict(fields)).uid, -1)
        with self.assertRaises(TypeError):
            Event.adopt(dict(fields, byte_sent=4))

    def test_session_adopt_equals_constructor(self):
        from ftpredis.records.events import Session
        fields = dict(remote_ip="1.2.3.4", remote_port=5, remote_dns="1.2.3.4",
                      local_ip="5.6.7.8", server_dns="5.6.7.8", server_ip="5.6.7.8",
                      local_port=21, server_name="x", server_version="v", pid=1,
                      session_id=7)
        s = Session.adopt(dict(fields))
        self.assertEqual(s, Session(**fields))
        self.assertEqual(hash(s), hash(Session(**fields)))
        with self.assertRaises(TypeError):
            Session.adopt(dict(fields, sesion_id=7))

    @defer.inlineCallbacks
    def test_adopted_listener_knows_whether_connections_inherit_options(self):
        """A worker adopting its parent's listening socket sets TCP_NODELAY and
        SO_OOBINLINE per connection unless the parent set them on that socket."""
        from twisted.internet import protocol, reactor
        from ftpredis.app import workers
        for preset in (True, False):
            s = socket.socket()
            if preset:
                workers.set_control_options(s)
            s.bind(("127.0.0.1", 0))
            s.listen(5)
            s.setblocking(False)
            # the endpoint closes the descriptor it was given once it has adopted it
            port = yield workers._AdoptedEndpoint(reactor, s.detach(), socket.AF_INET).listen(
                protocol.Factory.forProtocol(protocol.Protocol))
            self.addCleanup(port.stopListening)
            self.assertIs(port.control_options, preset)

    def test_jail_check_matches_realpath(self):
        from ftpredis.ftp.filesystem import JailedFS, _within
        base = os.path.abspath(self.mktemp())
        root = os.path.join(base, "root")
        os.makedirs(os.path.join(root, "d", "e"))
        os.makedirs(os.path.join(base, "out"))
        open(os.path.join(root, "f"), "w").close()
        for link, target in (("esc", "../out"), ("in", "d"), ("d/pw", "/etc/passwd"),
                             ("d/el", "e"), ("dangling", "nowhere"),
                             ("d/e/up", "../../../out")):
            os.symlink(target, os.path.join(root, link))
        fs = JailedFS(root)
        for p in ("/", "f", "esc", "esc/x", "in", "in/e", "d/pw", "d/el", "d/el/up",
                  "d/el/up/x", "dangling", "nope/x", "f/x", "in/el/up", "../out"):
            v = fs.virtual(p)
            r = fs.real_of(v)
            self.assertEqual(fs._inside(v, r), _within(os.path.realpath(r), fs.root), p)


class LoginFastPathTests(unittest.TestCase):
    def test_libcrypt_matches_passlib(self):
        h = hash_password("s3cret")
        self.assertTrue(fastcrypt.available())
        self.assertIs(fastcrypt.verify(b"s3cret", h), True)
        self.assertIs(fastcrypt.verify(b"wrong", h), False)
        self.assertIs(verify_password("s3cret", h), True)
        self.assertIs(verify_password("wrong", h), False)
        self.assertIs(verify_password("s3cret", "$6$bad"), False)
        self.assertIs(verify_password("s3\x00cret", h), False)

    def test_cache_remembers_only_what_it_is_told(self):
        now = [0.0]
        cache = fastcrypt.VerifyCache(size=2, ttl=10, clock=lambda: now[0])
        self.assertFalse(cache.check(b"pw", "$6$x$y"))
        cache.remember(b"pw", "$6$x$y")
        self.assertTrue(cache.check(b"pw", "$6$x$y"))
        self.assertFalse(cache.check(b"other", "$6$x$y"))
        self.assertFalse(cache.check(b"pw", "$6$x$z"))     # the hash changed
        now[0] = 11
        self.assertFalse(cache.check(b"pw", "$6$x$y"))     # expired
        for i in range(3):
            cache.remember(b"pw%d" % i, "h")
        self.assertFalse(cache.check(b"pw0", "h"))         # evicted (size 2)
        self.assertTrue(cache.check(b"pw2", "h"))
        # Nothing in it is the password itself.
        self.assertNotIn(b"pw2", repr(cache._entries).encode())


class WorkersTests(_Site, unittest.TestCase):
    """ServerWorkers 2: twistd plus one worker share the socket; every session is served
    and every record logged, through each process's own sink."""

    config_body = CONFIG + "ServerWorkers 2\n"

    def setUp(self):
        super().setUp()
        self.proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", self.conf])
        self.addCleanup(self._stop)

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def children(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    @defer.inlineCallbacks
    def test_sessions_and_records(self):
        self.assertTrue((yield e2e.in_thread(e2e.wait_listening, self.port)))
        ok = yield e2e.wait_for(lambda: len(self.children()) >= 1, timeout=15)
        self.assertTrue(ok, "no worker process")
        # wait_listening's probe connection logs CONNECT and DISCONNECT.
        yield self.records(2)
        self.db.command("DEL", "every")
        n = 12

        def sessions():
            ftps = [e2e.ftp_connect(self.port) for _ in range(n)]
            got = []
            for ftp in ftps:
                ftp.voidcmd("TYPE I")
                data = bytearray()
                ftp.retrbinary("RETR big.bin", data.extend)
                got.append(bytes(data) == BIG)
            for ftp in ftps:
                ftp.quit()
            return got
        got = yield e2e.in_thread(sessions)
        self.assertEqual(got, [True] * n)
        per_session = 2 + 7      # CONNECT USER PASS TYPE TYPE PASV RETR QUIT EXIT
        records = yield self.records(n * per_session)
        self.assertEqual(len(records), n * per_session)
        pids = {r[3] for r in records}
        self.assertTrue(pids <= {self.proc.pid} | set(self.children()), pids)
        verbs = [r[0] for r in records]
        self.assertEqual(verbs.count("RETR"), n)
        self.assertEqual(verbs.count("EXIT"), n)
        # SIGTERM: the parent stops its workers, which exit.
        kids = self.children()
        self.proc.send_signal(signal.SIGTERM)
        yield e2e.in_thread(self.proc.wait, 30)
        for pid in kids:
            self.assertFalse(os.path.exists("/proc/%d/status" % pid)
                             and "zombie" not in open("/proc/%d/status" % pid).read())

    @defer.inlineCallbacks
    def test_reload_while_the_worker_starts(self):
        """A SIGHUP passed on to a worker still starting is a reload, not its death: no
        connection waiting in its socket is reset, and it is not started again."""
        ok = yield e2e.wait_for(lambda: len(self.children()) >= 1, timeout=15)
        self.assertTrue(ok, "no worker process")
        worker = self.children()
        self.proc.send_signal(signal.SIGHUP)        # the worker is still importing

        def greetings():
            # The kernel spreads them over the parent's and the worker's sockets (by
            # the client's port); those in the worker's wait until it accepts them.
            socks = [socket.create_connection(("127.0.0.1", self.port), timeout=30)
                     for _ in range(16)]
            got = []
            for s in socks:
                with s:
                    try:
                        got.append(s.recv(4))
                    except ConnectionResetError:
                        got.append(b"reset")
            return got
        got = yield e2e.in_thread(greetings)
        self.assertEqual(got, [b"220 "] * 16)
        self.assertEqual(self.children(), worker)

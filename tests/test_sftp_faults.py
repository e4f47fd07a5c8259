# -*- test-case-name: tests.test_sftp_faults -*-
"""A client's mistakes over SFTP: every request answered (the status code and text
ProFTPD's mod_sftp gives, or OpenSSH's sftp-server where mod_sftp ends the session),
the session usable after it, and no traceback in the server's log."""

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.test_sftp import SSH_OPTS, RawSFTP, _SFTPSite, _str, _u32, _u64

OPEN, CLOSE, READ, WRITE, FSTAT, SETSTAT, FSETSTAT, OPENDIR, READDIR = (
    3, 4, 5, 6, 8, 9, 10, 11, 12)
MKDIR, REALPATH, STAT, EXTENDED = 14, 16, 17, 200
STATUS, HANDLE, NAME, ATTRS = 101, 102, 104, 105


class _Client(RawSFTP):
    """RawSFTP whose answers carry the status text, and which gives up on a server
    that does not answer (instead of waiting for TimeoutIdle)."""

    def send(self, kind, body):
        self.id += 1
        self._send(bytes([kind]) + _u32(self.id) + body)
        return self.answer()

    def answer(self):
        reply = self._receive()
        if reply[0] == STATUS:
            code, n = struct.unpack(">II", reply[5:13])
            return "STATUS", code, reply[13:13 + n].decode()
        if reply[0] == HANDLE:
            return "HANDLE", reply[9:9 + struct.unpack(">I", reply[5:9])[0]]
        return reply[0]

    def works(self):
        """The session still answers: REALPATH of "."."""
        return self.send(REALPATH, _str(b".")) == NAME


class SFTPFaultTests(_SFTPSite, unittest.TestCase):

    @defer.inlineCallbacks
    def session(self, steps):
        """Run ``steps(client)`` in a thread, then end the session, wait for its EXIT
        record and check the log has no traceback.  Returns what ``steps`` did."""
        self.db.command("DEL", b"sftp")

        def run():
            c = _Client(self.port)
            try:
                return steps(c)
            finally:
                c.close()
        out = yield e2e.in_thread(run)
        got = yield e2e.wait_for(lambda: any(
            json.loads(r).get("command") == "EXIT" for r in self.db.lrange(b"sftp")), 30)
        self.assertTrue(got, "no EXIT record")
        log = self.logged()
        for bad in ("Traceback", "#critical", "Unhandled"):
            self.assertNotIn(bad, log)
        return out

    @defer.inlineCallbacks
    def test_unknown_handle(self):
        """Each request naming a handle the session does not hold: mod_sftp's 9
        "Invalid handle" (READ and WRITE were never answered: twisted.conch calls
        _ebRead/_ebWrite, which it does not have)."""
        bad = _str(b"12345")

        def steps(c):
            out = [c.send(READ, bad + _u64(0) + _u32(10)),
                   c.send(WRITE, bad + _u64(0) + _str(b"x")),
                   c.send(CLOSE, bad), c.send(FSTAT, bad),
                   c.send(FSETSTAT, bad + _u32(0)), c.send(READDIR, bad)]
            # A file's handle is no directory's, nor the other way round.
            h = c.send(OPEN, _str(b"a.txt") + _u32(1) + _u32(0))[1]
            out.append(c.send(READDIR, _str(h)))
            d = c.send(OPENDIR, _str(b"."))[1]
            out.append(c.send(READ, _str(d) + _u64(0) + _u32(10)))
            c.send(CLOSE, _str(h))
            c.send(CLOSE, _str(d))
            return out, c.works()
        out, works = yield self.session(steps)
        self.assertEqual(out, [("STATUS", 9, "Invalid handle")] * 8)
        self.assertTrue(works)

    @defer.inlineCallbacks
    def test_unknown_request_type(self):
        """A request of a type SFTP v3 does not have, or an extension this server does
        not offer: 8 "Unsupported operation" (neither was ever answered: twisted.conch
        failed on the extension's name)."""
        def steps(c):
            return [c.send(99, b""), c.send(STATUS, _u32(0)), c.send(2, _u32(3)),
                    c.send(EXTENDED, _str(b"limits@openssh.com"))], c.works()
        out, works = yield self.session(steps)
        self.assertEqual(out, [("STATUS", 8, "Unsupported operation")] * 4)
        self.assertTrue(works)
        sftp_log = open(os.path.join(self.base, "sftp.log")).read()
        self.assertIn("unhandled SFTP request type 99", sftp_log)
        self.assertIn("client requested 'limits@openssh.com' extension, rejecting",
                      sftp_log)

    @defer.inlineCallbacks
    def test_malformed_requests(self):
        """Requests cut short: 5 "Bad message" (twisted.conch's struct.error left them
        unanswered); bytes beyond a request's fields are ignored, as OpenSSH's
        sftp-server and mod_sftp do (twisted.conch's assertion left it unanswered)."""
        def steps(c):
            return [
                # OPEN whose attributes say a size follows, and none does.
                c.send(OPEN, _str(b"a.txt") + _u32(1) + _u32(1)),
                c.send(OPEN, _str(b"a.txt")),
                c.send(READ, _str(b"1")),
                c.send(STAT, _u32(100) + b"a.txt"),
                c.send(MKDIR, _str(b"d") + _u32(0x80000000) + _u32(2) + _str(b"x")),
                c.send(STAT, _str(b"a.txt") + b"extra"),
            ], c.works()
        out, works = yield self.session(steps)
        self.assertEqual(out, [("STATUS", 5, "Bad message")] * 5 + [ATTRS])
        self.assertTrue(works)
        self.assertFalse(os.path.exists(os.path.join(self.home, "d")))

    @defer.inlineCallbacks
    def test_packet_too_short_ends_the_session(self):
        """A packet too short for a request id (here zero bytes): nothing can be
        answered; the session ends at once, as mod_sftp ends it (it waited for
        TimeoutIdle), with one SFTPLog line."""
        def steps(c):
            c.proc.stdin.write(_u32(0))
            c.proc.stdin.flush()
            return c.proc.stdout.read()
        self.assertEqual((yield self.session(steps)), b"")
        got = yield self.lines(5)
        self.assertTrue(got[-1].startswith("EXIT|"), got)
        self.assertTrue(got[-1].endswith("|Malformed SFTP packet"), got)
        self.assertIn("illegal SFTP request length (0 bytes, require at least 5 bytes)",
                      open(os.path.join(self.base, "sftp.log")).read())

    @defer.inlineCallbacks
    def test_offsets_beyond_a_file(self):
        """READ and WRITE at offsets off_t cannot hold: mod_sftp's 8 "Invalid
        parameter"; a WRITE beyond the largest file: 4 "Out of disk space" (both were
        answered 4 with a traceback in the log)."""
        def steps(c):
            r = c.send(OPEN, _str(b"a.txt") + _u32(1) + _u32(0))[1]
            w = c.send(OPEN, _str(b"new.txt") + _u32(2 | 8) + _u32(0))[1]
            out = [c.send(READ, _str(r) + _u64(2 ** 63) + _u32(10)),
                   c.send(READ, _str(r) + _u64(2 ** 64 - 1) + _u32(10)),
                   c.send(WRITE, _str(w) + _u64(2 ** 63) + _str(b"x")),
                   c.send(WRITE, _str(w) + _u64(2 ** 62) + _str(b"x"))]
            out.append(c.send(WRITE, _str(w) + _u64(0) + _str(b"ok")))
            out += [c.send(CLOSE, _str(r)), c.send(CLOSE, _str(w))]
            return out, c.works()
        out, works = yield self.session(steps)
        self.assertEqual(out, [("STATUS", 8, "Invalid parameter")] * 3 + [
            ("STATUS", 4, "Out of disk space"), ("STATUS", 0, "OK"),
            ("STATUS", 0, "OK"), ("STATUS", 0, "OK")])
        self.assertTrue(works)
        with open(os.path.join(self.home, "new.txt"), "rb") as f:
            self.assertEqual(f.read(), b"ok")

    @defer.inlineCallbacks
    def test_sizes_beyond_off_t(self):
        """SETSTAT and FSETSTAT of a size off_t cannot hold: ProFTPD's truncate() fails
        EINVAL, 8 "Invalid parameter"; the file keeps its size (conch answered 4 and
        logged a traceback: Python would not convert the size)."""
        def steps(c):
            h = c.send(OPEN, _str(b"a.txt") + _u32(2) + _u32(0))[1]
            out = [c.send(SETSTAT, _str(b"a.txt") + _u32(1) + _u64(2 ** 64 - 1)),
                   c.send(SETSTAT, _str(b"a.txt") + _u32(1) + _u64(2 ** 63)),
                   c.send(FSETSTAT, _str(h) + _u32(1) + _u64(2 ** 63)),
                   c.send(FSETSTAT, _str(h) + _u32(1) + _u64(20)),
                   c.send(CLOSE, _str(h))]
            return out, c.works()
        out, works = yield self.session(steps)
        self.assertEqual(out, [("STATUS", 8, "Invalid parameter")] * 3
                         + [("STATUS", 0, "OK")] * 2)
        self.assertTrue(works)
        self.assertEqual(os.path.getsize(os.path.join(self.home, "a.txt")), 20)

    @defer.inlineCallbacks
    def test_nul_in_names_and_writes_to_a_file_opened_for_reading(self):
        """A name with a NUL byte: 5 "Bad message" (OpenSSH's sftp-server takes it for
        a malformed message); a WRITE on a handle opened for reading: mod_sftp's 2 "No
        such file" (its write(2) fails EBADF).  Both were answered 4 with a traceback
        in the log.  The handle's RETR is recorded when it is closed, as before."""
        def steps(c):
            out = [c.send(OPEN, _str(b"nul\0byte.txt") + _u32(2 | 8) + _u32(0)),
                   c.send(MKDIR, _str(b"nul\0dir") + _u32(0)),
                   c.send(STAT, _str(b"a.txt\0"))]
            h = c.send(OPEN, _str(b"a.txt") + _u32(1) + _u32(0))[1]
            out += [c.send(WRITE, _str(h) + _u64(0) + _str(b"x")), c.send(CLOSE, _str(h))]
            return out, c.works()
        out, works = yield self.session(steps)
        self.assertEqual(out, [("STATUS", 5, "Bad message")] * 3 + [
            ("STATUS", 2, "No such file"), ("STATUS", 0, "OK")])
        self.assertTrue(works)
        self.assertEqual(sorted(os.listdir(self.home)), ["a.txt", "nr", "ro"])
        with open(os.path.join(self.home, "a.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)
        got = yield self.lines(6)
        self.assertEqual([line.split("|")[0] for line in got],
                         ["-", "USER", "USER", "PASS", "RETR", "EXIT"][:len(got)])


class SSHRefusalTests(_SFTPSite, unittest.TestCase):
    """What an SSH client asks that this server does not do: refused in mod_sftp's
    words, without a traceback (twisted.conch logged each refused channel as a failure;
    a short DISCONNECT was an "Unhandled Error")."""

    VHOST = "  SFTPMaxChannels 1\n"

    def clean_log(self):
        log = self.logged()
        for bad in ("Traceback", "#critical", "Unhandled"):
            self.assertNotIn(bad, log)

    @defer.inlineCallbacks
    def test_refused_channels(self):
        """A port forward (direct-tcpip): 3 "Unsupported channel type requested"; a
        second session over SFTPMaxChannels 1: 4 "Resource shortage"; a remote forward
        (tcpip-forward) refused; the first session still answers."""
        # A Unix socket's path is short: not under the test's directory.
        short = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, short, True)
        ctl = os.path.join(short, "ctl")
        lport = e2e.free_port()
        ssh = ["ssh"] + SSH_OPTS + ["-p", str(self.port), "-S", ctl]
        master = subprocess.Popen(
            # INFO (ssh takes an option's first value): the refusals' text.
            ["sshpass", "-p", "ftppass", "ssh", "-oLogLevel=INFO"] + ssh[1:] + [
                "-M", "-N", "-oPreferredAuthentications=password",
                "-oPubkeyAuthentication=no", "-L",
                "%d:127.0.0.1:%d" % (lport, self.ftp_port), "ftpuser@127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.local, "master.err"), "wb"))
        self.addCleanup(lambda: master.poll() is None and (master.kill(), master.wait()))

        def up():
            return subprocess.run(ssh + ["-O", "check", "x"], capture_output=True,
                                  timeout=30).returncode == 0

        def run():
            # Before the session: SFTPMaxChannels is asked first, as mod_sftp does.
            s = socket.create_connection(("127.0.0.1", lport), 20)
            s.settimeout(20)
            forwarded = s.recv(100)             # "" once the server refused the channel
            s.close()
            first = _Client.__new__(_Client)
            first.proc = subprocess.Popen(ssh + ["-s", "x", "sftp"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL)
            first.id = 0
            first._send(bytes([1]) + _u32(3))
            first._receive()
            try:
                second = subprocess.run(ssh + ["-s", "x", "sftp"], stdin=subprocess.DEVNULL,
                                        capture_output=True, timeout=60)
                remote = subprocess.run(ssh + ["-O", "forward", "-R", "0:127.0.0.1:1", "x"],
                                        capture_output=True, timeout=60)
                return forwarded, second, remote.returncode, first.works()
            finally:
                first.close()
        self.assertTrue((yield e2e.wait_for(up, 30)), open(os.path.join(
            self.local, "master.err")).read() + self.logged())
        forwarded, second, remote, works = yield e2e.in_thread(run)
        self.assertEqual(forwarded, b"")
        self.assertNotEqual(second.returncode, 0)
        self.assertIn(b"Session open refused by peer", second.stderr)
        told = open(os.path.join(self.local, "master.err")).read()
        self.assertIn("open failed: unknown channel type: Unsupported channel type "
                      "requested", told)
        self.assertIn("open failed: resource shortage: Resource shortage", told)
        self.assertNotEqual(remote, 0)
        self.assertTrue(works)
        sftp_log = open(os.path.join(self.base, "sftp.log")).read()
        self.assertIn("unsupported channel type 'direct-tcpip' requested, denying", sftp_log)
        self.assertIn("maximum number of channels (1) open, denying request to open "
                      "'session' channel", sftp_log)
        subprocess.run(ssh + ["-O", "exit", "x"], capture_output=True, timeout=30)
        master.wait(30)
        got = yield self.lines(5)
        self.assertTrue(got[-1].startswith("EXIT|"), got)
        self.clean_log()

    @defer.inlineCallbacks
    def test_short_disconnect_before_login(self):
        """A DISCONNECT too short for its reason code: the session ends ("Quit") as for
        any DISCONNECT."""
        def run():
            s = socket.create_connection(("127.0.0.1", self.port), 20)
            s.settimeout(20)
            f = s.makefile("rb")
            f.readline()                        # the server's identification
            # payload, then 7 bytes of padding: 4 + 1 + 4 + 7 is a multiple of 8
            s.sendall(b"SSH-2.0-test\r\n" + _u32(12) + bytes([7]) + b"\x01abc" + b"\0" * 7)
            rest = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                rest += data
            s.close()
            return True
        self.assertTrue((yield e2e.in_thread(run)))
        got = yield self.lines(2)
        self.assertEqual(got[-1].split("|")[0], "EXIT")
        self.assertTrue(got[-1].endswith("|Quit"), got)
        self.clean_log()


class SFTPMaxChannelsTests(_SFTPSite, unittest.TestCase):
    """SFTPMaxChannels bounds the channels open at once, as mod_sftp counts them
    (contrib/mod_sftp/channel.c): a closed session channel frees its slot.  It counted
    every channel ever opened, so a ControlMaster connection served two sessions in
    all."""

    VHOST = "  SFTPMaxChannels 2\n"

    @defer.inlineCallbacks
    def test_closed_channels_free_their_slots(self):
        short = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, short, True)
        ctl = os.path.join(short, "ctl")
        mux = SSH_OPTS + ["-oControlPath=" + ctl, "-oControlMaster=no"]
        master = subprocess.Popen(
            ["sshpass", "-p", "ftppass", "ssh"] + SSH_OPTS + [
                "-p", str(self.port), "-S", ctl, "-M", "-N",
                "-oPreferredAuthentications=password", "-oPubkeyAuthentication=no",
                "ftpuser@127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: master.poll() is None and (master.kill(), master.wait()))

        def up():
            return subprocess.run(["ssh", "-S", ctl, "-O", "check", "x"],
                                  capture_output=True, timeout=30).returncode == 0

        def sftp_session(batch):
            # OpenSSH's sftp, its session a channel of the master's connection.
            return subprocess.run(["sftp"] + mux + ["-P", str(self.port), "-b", "-", "x"],
                                  input=batch, capture_output=True, timeout=60)

        def held():
            c = _Client.__new__(_Client)
            c.proc = subprocess.Popen(["ssh"] + mux + ["-p", str(self.port), "-s", "x",
                                                      "sftp"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
            c.id = 0
            c._send(bytes([1]) + _u32(3))
            c._receive()
            return c

        def run():
            # Four sessions one after another: each closes before the next opens.
            one_by_one = [sftp_session(b"ls\n") for _ in range(4)]
            first, second = held(), held()
            try:
                third = sftp_session(b"ls\n")       # a third at once: refused
                works = first.works() and second.works()
            finally:
                first.close()
            again = sftp_session(b"ls\n")          # the first's slot is free again
            second.close()
            return one_by_one, third, works, again
        self.assertTrue((yield e2e.wait_for(up, 30)), self.logged())
        one_by_one, third, works, again = yield e2e.in_thread(run)
        for p in one_by_one + [again]:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(b"a.txt", p.stdout)
        self.assertNotEqual(third.returncode, 0)
        self.assertIn(b"Session open refused by peer", third.stderr)
        self.assertTrue(works)
        sftp_log = open(os.path.join(self.base, "sftp.log")).read()
        self.assertEqual(sftp_log.count("maximum number of channels (2) open, denying "
                                        "request to open 'session' channel"), 1, sftp_log)
        subprocess.run(["ssh", "-S", ctl, "-O", "exit", "x"], capture_output=True,
                       timeout=30)
        yield e2e.in_thread(master.wait, 30)

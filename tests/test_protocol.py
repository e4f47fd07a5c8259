# -*- test-case-name: tests.test_protocol -*-
"""ftpredis's FTP server driven over loopback by ftplib, curl and lftp."""

from __future__ import annotations

import ftplib
import io
import os
import socket

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.records.events import CONNECT
from tests.support.ftphelpers import FTPServerMixin, GID, PASSWORD, UID, USER


class SessionTests(FTPServerMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_login_and_quit(self):
        def run():
            f = self.client(login=False)
            welcome = f.getwelcome()
            f.login(USER, PASSWORD)
            pwd = f.pwd()
            f.quit()
            return welcome, pwd
        welcome, pwd = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(welcome, "220 ftpredis Server (test) [127.0.0.1]")
        self.assertEqual(pwd, "/")
        kinds = [(e.kind, e.verb) for e in self.events]
        self.assertEqual(kinds[0], (CONNECT, None))
        self.assertEqual([v for _, v in kinds[1:]], ["USER", "PASS", "PWD", "QUIT", "EXIT"])
        user, pw, pwd_ev, quit, exit_ = self.events[1:]
        self.assertEqual((user.response_code, user.response_msg),
                         (331, "Password required for alice"))
        self.assertEqual(user.original_user, USER)
        self.assertIsNone(user.user)
        self.assertEqual(user.uid, os.geteuid())
        self.assertEqual((pw.response_code, pw.response_msg), (230, "User alice logged in"))
        self.assertEqual((pw.user, pw.group, pw.uid, pw.gid), (USER, "nogroup", UID, GID))
        self.assertEqual((pw.command_params, pw.raw_command), ("(hidden)", "PASS (hidden)"))
        for e in self.events:
            self.assertNotIn(PASSWORD, repr(e))
        self.assertEqual(pwd_ev.file, os.path.realpath(self.home) + "/")
        self.assertEqual(pwd_ev.basename, "/")
        self.assertEqual((quit.response_code, quit.response_msg), (221, "Goodbye."))
        self.assertIsNone(quit.session_end_reason)
        self.assertEqual(exit_.session_end_reason, "Quit")
        self.assertEqual(exit_.command, "EXIT")
        self.assertEqual(exit_.user, USER)
        self.assertGreater(exit_.session_bytes_rcvd, 0)
        self.assertGreater(exit_.session_bytes_sent, 0)

    @defer.inlineCallbacks
    def test_bad_login_then_eof(self):
        def run():
            f = self.client(login=False)
            try:
                f.login(USER, "wrong")
            except ftplib.error_perm as e:
                err = str(e)
            f.sendcmd("NOOP")
            f.close()
            return err
        err = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(err, "530 Login incorrect.")
        pw = self.last("PASS")
        self.assertEqual((pw.response_code, pw.original_user, pw.user), (530, USER, None))
        self.assertIsNone(self.last("NOOP").original_user)
        self.assertEqual(self.last("NOOP").response_code, 200)
        self.assertEqual(self.exits()[0].session_end_reason, "Read EOF from client")

    @defer.inlineCallbacks
    def test_unknown_and_prelogin(self):
        def run():
            f = self.client(login=False)
            out = []
            for c in ("FOO bar", "PWD", "PASS x"):
                try:
                    f.sendcmd(c)
                except ftplib.Error as e:
                    out.append(str(e))
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["500 FOO not understood", "530 Please login with USER and PASS",
                               "503 Login with USER first"])
        self.assertEqual(self.last("FOO").response_code, 500)
        self.assertEqual(self.last("FOO").raw_command, "FOO bar")

    @defer.inlineCallbacks
    def test_long_line_and_nul(self):
        def run():
            s = socket.create_connection(("127.0.0.1", self.port))
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"USER " + b"a" * 600 + b"\r\n")
            r1 = f.readline()
            s.sendall(b"NOOP " + b"x" * 70000 + b"\r\nNOOP\x00x\r\nNOOP\r\nQUIT\r\n")
            rest = [f.readline() for _ in range(4)]
            s.close()
            return r1, rest
        r1, rest = yield self.inThread(run)
        yield self.waitExits()
        self.assertTrue(r1.startswith(b"331 Password required for aaaa"))
        # The line ends at its NUL, as in ProFTPD 1.3.8 (tests/test_conformance_hostile.py)
        self.assertEqual(rest, [b"500 Command line too long\r\n",
                                b"200 NOOP command successful\r\n",
                                b"200 NOOP command successful\r\n", b"221 Goodbye.\r\n"])


class TransferTests(FTPServerMixin, unittest.TestCase):

    def setUp(self):
        FTPServerMixin.setUp(self)
        self.factory.allowStoreRestart = True
        self.write("f.txt", b"line1\nline2\n")

    @defer.inlineCallbacks
    def test_list_nlst(self):
        os.mkdir(self.path("d"))
        def run():
            f = self.client()
            lines = []
            f.retrlines("LIST", lines.append)
            names = f.nlst()
            f.quit()
            return lines, names
        lines, names = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(names, ["d", "f.txt"])
        self.assertTrue(lines[1].startswith("-rw-"), lines)
        self.assertTrue(lines[1].endswith(" f.txt"))
        nlst = self.last("NLST")
        self.assertEqual((nlst.response_code, nlst.response_msg), (226, "Transfer complete"))
        self.assertEqual(nlst.bytes_sent, len(b"d\r\nf.txt\r\n"))
        self.assertEqual(nlst.dir_path, os.path.realpath(self.home) + "/")
        self.assertEqual((nlst.dir_name, nlst.basename), ("", ""))
        self.assertEqual(nlst.transfer_status, "success")
        self.assertEqual(nlst.transfer_type, "ASCII")
        self.assertIsNotNone(nlst.transfer_port)

    @defer.inlineCallbacks
    def test_upload_download_binary(self):
        data = os.urandom(700000)
        def run():
            f = self.client()
            f.storbinary("STOR up.bin", io.BytesIO(data))
            got = io.BytesIO()
            f.retrbinary("RETR up.bin", got.write)
            size = f.size("up.bin")
            mdtm = f.sendcmd("MDTM up.bin")
            f.quit()
            return got.getvalue(), size, mdtm
        got, size, mdtm = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(got, data)
        self.assertEqual(size, len(data))
        self.assertTrue(mdtm.startswith("213 20"))
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual([n for n in os.listdir(self.home) if n.endswith(".part")], [])
        stor, retr = self.last("STOR"), self.last("RETR")
        real = os.path.join(os.path.realpath(self.home), "up.bin")
        for ev in (stor, retr):
            self.assertEqual((ev.response_code, ev.bytes_sent, ev.file_size),
                             (226, len(data), len(data)))
            self.assertEqual((ev.file, ev.transfer_path, ev.basename), (real, "/up.bin", "up.bin"))
            self.assertEqual((ev.transfer_type, ev.transfer_status), ("binary", "success"))
            self.assertEqual(ev.file_offset, 0)
            self.assertIsNotNone(ev.transfer_millis)
        self.assertFalse(stor.file_modified)
        self.assertEqual(self.exits()[0].session_bytes_rcvd > len(data), True)
        self.assertEqual(self.exits()[0].session_bytes_sent > len(data), True)

    @defer.inlineCallbacks
    def test_ascii_up_and_down(self):
        def run():
            f = self.client()
            f.storlines("STOR a.txt", io.BytesIO(b"x\ny\n"))
            lines = []
            f.retrlines("RETR f.txt", lines.append)
            f.quit()
            return lines
        lines = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(lines, ["line1", "line2"])
        with open(self.path("a.txt"), "rb") as f:
            self.assertEqual(f.read(), b"x\ny\n")
        self.assertEqual(self.last("RETR").transfer_type, "ASCII")

    @defer.inlineCallbacks
    def test_rest_retr_appe_stou(self):
        def run():
            f = self.client()
            got = io.BytesIO()
            f.retrbinary("RETR f.txt", got.write, rest=6)
            f.storbinary("APPE f.txt", io.BytesIO(b"more\n"))
            f.voidcmd("TYPE I")
            conn, _ = f.ntransfercmd("STOU")
            conn.sendall(b"unique")
            conn.close()
            final = f.voidresp()
            f.quit()
            return got.getvalue(), final
        got, final = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(got, b"line2\n")
        retr = self.last("RETR")
        self.assertEqual((retr.bytes_sent, retr.file_offset), (6, 6))
        with open(self.path("f.txt"), "rb") as f:
            self.assertEqual(f.read(), b"line1\nline2\nmore\n")
        appe = self.last("APPE")
        self.assertEqual((appe.response_code, appe.bytes_sent, appe.file_offset, appe.file_modified),
                         (226, 5, 12, True))
        stou = self.last("STOU")
        self.assertEqual(stou.response_code, 226)
        self.assertTrue(stou.basename.startswith("ftp"))
        with open(self.path(stou.basename), "rb") as f:
            self.assertEqual(f.read(), b"unique")

    @defer.inlineCallbacks
    def test_appe_refused_without_store_restart(self):
        self.factory.allowStoreRestart = False
        def run():
            f = self.client()
            try:
                f.storbinary("APPE f.txt", io.BytesIO(b"x"))
            except ftplib.error_temp as e:
                r = str(e)
            f.quit()
            return r
        r = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(r, "451 f.txt: Append/Restart not permitted, try again")
        self.assertEqual(self.last("APPE").transfer_status, "failed")

    @defer.inlineCallbacks
    def test_file_commands(self):
        def run():
            f = self.client()
            out = [f.mkd("d"), f.cwd("d"), f.pwd(), f.cwd(".."), f.sendcmd("RNFR f.txt"),
                   f.sendcmd("RNTO d/g.txt"), f.sendcmd("DELE d/g.txt")]
            for c in ("DELE nope", "RMD nope", "CWD nope"):
                try:
                    f.sendcmd(c)
                except ftplib.error_perm as e:
                    out.append(str(e))
            out.append(f.rmd("d"))
            out.append(f.sendcmd("SITE CHMOD 600 ."))
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["/d", "250 CWD command successful", "/d",
                               "250 CDUP command successful",
                               "350 File or directory exists, ready for destination name",
                               "250 Rename successful", "250 DELE command successful",
                               "550 nope: No such file or directory",
                               "550 nope: No such file or directory",
                               "550 nope: No such file or directory",
                               "250 RMD command successful", "200 SITE CHMOD command successful"])
        home = os.path.realpath(self.home)
        mkd = self.last("MKD")
        self.assertEqual((mkd.dir_name, mkd.dir_path, mkd.transfer_path), ("d", home + "/d", "/d"))
        rnto = self.last("RNTO")
        self.assertEqual((rnto.rename_from, rnto.transfer_path, rnto.bytes_sent),
                         ("/f.txt", "/d/g.txt", 0))
        dele = [e for e in self.commands("DELE")]
        self.assertEqual([e.bytes_sent for e in dele], [12, 0])
        self.assertEqual(self.last("SITE").command, "SITE CHMOD")


class SecurityTests(FTPServerMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_port_bounce_refused(self):
        def run():
            f = self.client()
            out = []
            for c in ("PORT 127,0,0,2,10,10", "PORT 127,0,0,1,0,21", "EPRT |1|127.0.0.2|4000|"):
                try:
                    f.sendcmd(c)
                except ftplib.error_perm as e:
                    out.append(str(e))
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["500 Illegal PORT command"] * 2 + ["500 Illegal EPRT command"])

    @defer.inlineCallbacks
    def test_port_to_a_closed_port_answers_425_at_once(self):
        # A client behind a firewall that drops nothing but refuses: ProFTPD 1.3.8 answers
        # at once (measured); ftpredis left the transfer command unanswered for good.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]         # nothing listens there once closed

        self.write("f.txt", b"data\n")

        def run():
            f = self.client()
            out = [f.sendcmd("PORT 127,0,0,1,%d,%d" % divmod(closed, 256))]
            for c in ("RETR f.txt", "PORT", "EPRT"):
                try:
                    f.sendcmd(c)
                except ftplib.Error as e:
                    out.append(str(e))
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["200 PORT command successful",
                               "425 Unable to build data connection: Connection refused",
                               "501 Invalid number of parameters",
                               "501 Invalid number of parameters"])
        retr = self.last("RETR")
        self.assertEqual((retr.response_code, retr.response_msg),
                         (425, "Unable to build data connection: Connection refused"))

    @defer.inlineCallbacks
    def test_unused_pasv_does_not_block(self):
        def run():
            f = self.client()
            r1 = f.sendcmd("PASV")
            r2 = f.sendcmd("NOOP")
            r3 = f.sendcmd("EPSV")
            f.quit()
            return r1, r2, r3
        r1, r2, r3 = yield self.inThread(run)
        yield self.waitExits()
        self.assertTrue(r1.startswith("227 Entering Passive Mode (127,0,0,1,"))
        self.assertEqual(r2, "200 NOOP command successful")
        self.assertTrue(r3.startswith("229 Entering Extended Passive Mode (|||"))

    @defer.inlineCallbacks
    def test_escapes_refused(self):
        os.symlink(self.outside, self.path("link"))
        def run():
            f = self.client()
            out = []
            for fn, a in ((f.retrbinary, ("RETR link/secret.txt", print)),
                          (f.cwd, ("link",)),
                          (f.sendcmd, ("RNFR /../../outside/secret.txt",)),
                          (f.retrbinary, ("RETR ../../outside/secret.txt", print))):
                try:
                    fn(*a)
                except ftplib.error_perm as e:
                    out.append(str(e))
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        # In 1.3.8's chroot the link's target is looked for inside the jail, where it is
        # not (tools/compare_proftpd.py jail_links)
        self.assertEqual(out, ["550 link/secret.txt: No such file or directory",
                               "550 link: No such file or directory",
                               "550 /../../outside/secret.txt: No such file or directory",
                               "550 ../../outside/secret.txt: No such file or directory"])

    @defer.inlineCallbacks
    def test_odd_names(self):
        names = ['q"uote\'s.txt', "caf\u00e9.txt", "sp ace.txt"]
        def run():
            f = self.client()
            for n in names:
                f.storbinary("STOR " + n, io.BytesIO(b"z"))
            listing = f.nlst()
            f.quit()
            # invalid UTF-8, sent raw: ftplib cannot read the reply that echoes it (not
            # 0xFF: Telnet's IAC, see tests/test_conformance_hostile.py)
            s = socket.create_connection(("127.0.0.1", self.port))
            rf = s.makefile("rb")
            rf.readline()
            s.sendall(("USER %s\r\nPASS %s\r\n" % (USER, PASSWORD)).encode())
            rf.readline(), rf.readline()
            s.sendall(b"MKD bad\xfe\xfdname\r\nQUIT\r\n")
            r = rf.readline()
            rf.readline()
            s.close()
            return r, listing
        r, listing = yield self.inThread(run)
        yield self.waitExits(2)
        on_disk = set(os.listdir(os.fsencode(self.home)))
        for n in names:
            self.assertIn(n.encode("utf-8"), on_disk)
        self.assertIn(b"bad\xfe\xfdname", on_disk)
        self.assertEqual(r, b'257 "/bad\xfe\xfdname" - Directory successfully created\r\n')
        self.assertEqual(self.last("MKD").dir_name, "bad\udcfe\udcfdname")
        self.assertIn("caf\u00e9.txt", listing)


class ClientTests(FTPServerMixin, unittest.TestCase):

    def _exec(self, argv):
        import subprocess
        return self.inThread(subprocess.run, argv, capture_output=True, timeout=30)

    @defer.inlineCallbacks
    def test_curl_nlst(self):
        self.write("f.txt", b"x")
        r = yield self._exec(["curl", "-s", "-l", "ftp://%s:%s@127.0.0.1:%d/" %
                             (USER, PASSWORD, self.port)])
        yield self.waitExits()
        self.assertEqual((r.returncode, r.stdout), (0, b"f.txt\n"))   # curl converts ASCII

    @defer.inlineCallbacks
    def test_lftp(self):
        src = os.path.abspath(self.mktemp())
        with open(src, "wb") as f:
            f.write(b"hello lftp\n" * 1000)
        out = os.path.abspath(self.mktemp())
        r = yield self._exec(["lftp", "-c", "set cmd:fail-exit yes; set net:max-retries 1; "
                             "open -u %s,%s ftp://127.0.0.1:%d; put %s -o up.txt; ls; "
                             "get up.txt -o %s" % (USER, PASSWORD, self.port, src, out)])
        yield self.waitExits()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"up.txt", r.stdout)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"hello lftp\n" * 1000)


class EndReasonTests(FTPServerMixin, unittest.TestCase):
    server_options = {"timeout_idle": 1}

    @defer.inlineCallbacks
    def test_idle_timeout(self):
        def run():
            s = socket.create_connection(("127.0.0.1", self.port))
            f = s.makefile("rb")
            banner = f.readline()
            line = f.readline()
            s.close()
            return banner, line
        banner, line = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(line, b"421 Idle timeout (1 seconds): closing control connection\r\n")
        # ProFTPD 1.3.8 names the timer: "Timeout exceeded: TimeoutIdle".
        self.assertEqual(self.exits()[0].session_end_reason, "Timeout exceeded: TimeoutIdle")

    @defer.inlineCallbacks
    def test_server_shutdown(self):
        def run():
            s = socket.create_connection(("127.0.0.1", self.port))
            s.makefile("rb").readline()
            return s
        s = yield self.inThread(run)
        # What the service does on SIGTERM (not on a reload, which keeps sessions).
        self.factory.closeAllSessions()
        self.assertEqual([e.session_end_reason for e in self.exits()], ["Server shutting down"])
        yield self.waitFor(lambda: not self.factory.instances)
        s.close()


class MaxClientsTests(FTPServerMixin, unittest.TestCase):
    server_options = {"max_clients": (2, None)}

    @defer.inlineCallbacks
    def test_limit_counts_logged_in_sessions(self):
        """MaxClients counts logged-in sessions only, as ProFTPD 1.3.8 does (its records
        for the same session: tests/test_conformance_behaviour.py): connections beyond
        it that have not logged in are greeted, a login beyond it is refused with 530
        and its session closed, and a session that ends frees its place."""
        def run():
            idle = [self.client(login=False) for _ in range(3)]
            a, b = self.client(), self.client()
            c = self.client(login=False)
            try:
                c.login("alice", "s3cret")
                refused = None
            except ftplib.error_perm as e:
                refused = str(e)
            closed = c.sock.recv(100)            # b"": the server closed the session
            c.close()
            a.quit()
            return idle + [b], refused, closed
        sessions, refused, closed = yield self.inThread(run)
        # The freed place counts once the server has seen the close.
        yield self.waitFor(lambda: self.factory.logged_in == 1)

        def again():
            d = self.client()
            for f in sessions + [d]:
                f.quit()
            return [f.welcome for f in sessions[:3]]
        welcomes = yield self.inThread(again)
        yield self.waitFor(lambda: self.factory.logged_in == 0 and not self.factory.instances)
        self.assertEqual(welcomes, ["220 ftpredis Server (test) [127.0.0.1]"] * 3)
        self.assertEqual(refused, "530 Sorry, the maximum number of allowed clients (2) are "
                                  "already connected.")
        self.assertEqual(closed, b"")
        refusal = [e for e in self.commands("PASS") if e.response_code == 530]
        self.assertEqual([(e.user, e.original_user) for e in refusal], [("alice", "alice")])
        self.assertIn("Configured policy: Denied by MaxClients",
                      [e.session_end_reason for e in self.exits()])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OnePassivePortTests(FTPServerMixin, unittest.TestCase):
    """``PassivePorts`` with a single port: one session's finished transfer must not
    hold it (a session keeps its passive port for its next PASV only without
    PassivePorts), so another session's PASV right after gets it."""

    def setUp(self):
        port = _free_port()
        self.server_options = {"passive_ports": (port, port)}
        FTPServerMixin.setUp(self)

    @defer.inlineCallbacks
    def test_sessions_take_turns(self):
        self.write("f.bin", b"x" * 4096)

        def run():
            a, b = self.client(), self.client()
            got = []
            for _ in range(3):
                for f in (a, b):        # both stay logged in: neither session ends
                    buf = bytearray()
                    f.retrbinary("RETR f.bin", buf.extend)
                    got.append(len(buf))
            a.quit()
            b.quit()
            return got
        got = yield self.inThread(run)
        self.assertEqual(got, [4096] * 6)

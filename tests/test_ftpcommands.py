# -*- test-case-name: tests.test_ftpcommands -*-
"""ftpredis's FTP command set, ProFTPD's core directives and the attacks an FTP server
faces, driven over loopback with ftplib and raw sockets; each refusal is checked in the
reply the client gets and in the event the server emits."""

from __future__ import annotations

import ftplib
import io
import os
import socket
import time

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config.model import AnonymousConfig, DirectoryConfig, LimitConfig
from tests.support.ftphelpers import FTPServerMixin, PASSWORD, USER
from tests.support.waiting import recv_all


class _Base(FTPServerMixin):

    def setUp(self):
        FTPServerMixin.setUp(self)
        self.factory.loginFailureDelay = 0.01
        self.write("f.txt", b"line1\nline2\n")

    def raw(self, port=None):
        """A raw control connection: (socket, readline-ish reply reader)."""
        s = socket.create_connection(("127.0.0.1", port or self.port), timeout=10)
        f = s.makefile("rb")

        def reply():
            lines = []
            while True:
                line = f.readline()
                lines.append(line)
                if not line or (line[3:4] == b" " and line[:3].isdigit()):
                    return lines
        reply()
        return s, reply

    def run_cmds(self, cmds, login=True):
        def run():
            f = self.client(login=login)
            out = []
            for c in cmds:
                try:
                    out.append(f.sendcmd(c))
                except ftplib.Error as e:
                    out.append(str(e))
            f.quit()
            return out
        return self.inThread(run)


class CommandTests(_Base, unittest.TestCase):

    @defer.inlineCallbacks
    def test_mlst_and_opts(self):
        out = yield self.run_cmds(["MLST f.txt", "OPTS MLST type;size;", "MLST f.txt",
                                   "MLST nope", "OPTS MLST bogus;"])
        yield self.waitExits()
        lines = out[0].split("\n")
        self.assertEqual(lines[0], "250-Start of list for f.txt")
        self.assertRegex(lines[1], r"^ modify=\d{14};perm=[adfrw]+;size=12;type=file;"
                                   r"unique=[0-9A-F]+U[0-9A-F]+;UNIX.group=\d+;"
                                   r"UNIX.groupname=\w+;UNIX.mode=0644;UNIX.owner=\d+;"
                                   r"UNIX.ownername=\w+; /f.txt$")
        self.assertEqual(lines[-1], "250 End of list")
        self.assertEqual(out[1], "200 MLST OPTS type;size;")
        self.assertEqual(out[2].split("\n")[1], " size=12;type=file; /f.txt")
        self.assertEqual(out[3], "550 'nope' cannot be listed")
        self.assertEqual(out[4], "200 MLST OPTS ")
        mlst = self.commands("MLST")
        self.assertEqual([(e.response_code, e.response_msg) for e in mlst],
                         [(250, "End of list")] * 2 + [(550, "'nope' cannot be listed")])

    @defer.inlineCallbacks
    def test_mlsd(self):
        os.mkdir(self.path("d"))

        def run():
            f = self.client()
            entries = list(f.mlsd())
            try:
                f.retrlines("MLSD f.txt", print)
            except ftplib.error_perm as e:
                err = str(e)
            f.quit()
            return entries, err
        entries, err = yield self.inThread(run)
        yield self.waitExits()
        types = {name: facts["type"] for name, facts in entries}
        self.assertEqual(types, {"f.txt": "file", "d": "dir", ".": "cdir", "..": "pdir"})
        self.assertEqual(dict(entries)["f.txt"]["size"], "12")
        self.assertEqual(err, "550 'f.txt' is not a directory")
        ok, bad = self.commands("MLSD")
        self.assertEqual((ok.response_code, ok.transfer_status), (226, "success"))
        self.assertGreater(ok.bytes_sent, 0)
        self.assertEqual((bad.response_code, bad.transfer_status), (550, "failed"))

    @defer.inlineCallbacks
    def test_blank_parameter_is_none(self):
        """A parameter of blanks only is no parameter, as ProFTPD counts it: refused
        with 501, not taken as a file named SPACE or TAB (measured with ProFTPD 1.3.8)."""
        cmds = ["MKD  ", "MKD \t", "RMD  ", "CWD \t", "DELE  ", "RNFR \x0b", "SIZE \x0c",
                "MDTM  ", "MFMT  ", "OPTS  "]
        out = yield self.run_cmds(cmds + ["PWD"])
        yield self.waitExits()
        self.assertEqual(out, ["501 Invalid number of parameters"] * len(cmds)
                         + ['257 "/" is the current directory'])
        self.assertEqual(sorted(os.listdir(self.path("."))), ["f.txt"])

    @defer.inlineCallbacks
    def test_numbers_are_ascii_digits(self):
        """Python's int() also reads fullwidth digits and "2_00": ProFTPD 1.3.8 refuses
        them (measured), so no PORT, REST, RANG, chmod or mtime comes from them."""
        mode = os.stat(self.path("f.txt")).st_mode
        mtime = os.stat(self.path("f.txt")).st_mtime
        out = yield self.run_cmds([
            "PORT 127,0,0,1,2_00,1", "PORT 127,0,0,1,\uff1200,1",
            "EPRT |1|127.0.0.1|2_100|", "EPRT |1|127.0.0.1|+2100|",
            "EPRT |1|127.0.0.1|\uff12100|", "TYPE I", "REST \uff11", "RANG \uff11 5",
            "SITE CHMOD \uff17\uff17\uff17 f.txt", "SITE CHMOD 7_77 f.txt",
            "MFMT \uff12\uff10200101000000 f.txt", "PWD"])
        yield self.waitExits()
        self.assertEqual(out, [
            "501 Illegal PORT command", "501 Illegal PORT command",
            "501 Illegal EPRT command", "501 Illegal EPRT command",
            "501 Illegal EPRT command", "200 Type set to I",
            "501 REST requires a value greater than or equal to 0",
            "501 RANG requires a value greater than or equal to 0",
            "550 '\uff17\uff17\uff17': invalid mode", "550 '7_77': invalid mode",
            # ProFTPD names the file here ("501 f.txt: ..."); ftpredis says what it says
            # for any timestamp it cannot read ("MFMT bad f.txt"): the refusal is the point
            "501 \uff12\uff10200101000000: Invalid argument",
            '257 "/" is the current directory'])
        self.assertEqual(os.stat(self.path("f.txt")).st_mode, mode)
        self.assertEqual(os.stat(self.path("f.txt")).st_mtime, mtime)

    @defer.inlineCallbacks
    def test_blank_parameter_optional(self):
        """Where the parameter is optional, blanks only are none too (ProFTPD 1.3.8):
        STAT and HELP answer as bare, MLST shows the current directory, EPSV opens."""
        out = yield self.run_cmds(["STAT  ", "HELP \t", "MLST  ", "EPSV  "])
        yield self.waitExits()
        self.assertTrue(out[0].startswith("211-Status of "), out[0])
        self.assertTrue(out[1].startswith("214-The following commands are recognized"), out[1])
        self.assertTrue(out[2].startswith("250-Start of list for /\n"), out[2])
        self.assertTrue(out[2].endswith("; /\n250 End of list"), out[2])
        self.assertTrue(out[3].startswith("229 Entering Extended Passive Mode"), out[3])

    @defer.inlineCallbacks
    def test_small_commands(self):
        out = yield self.run_cmds([
            "MFMT 20200102030405 f.txt", "MFMT bad f.txt", "MFMT 20200101000000",
            "HOST 127.0.0.1", "LANG", "LANG fr", "ALLO 10", "HELP RETR", "HELP FOO",
            "STAT f.txt", "STAT nope", "SMNT x", "REIN", "FOO", "RNTO x", "XPWD", "XMKD d",
            "XCWD d", "XCUP", "XRMD d", "SITE HELP", "SITE FOO"])
        yield self.waitExits()
        self.assertEqual(out[:9], [
            "213 Modify=20200102030405; f.txt", "501 bad: Invalid argument",
            "501 Invalid number of parameters", "503 Bad sequence of commands",
            "200 Using default language C.UTF-8", "504 Language fr not supported",
            "202 No storage allocation necessary", "214 Syntax: RETR <sp> pathname",
            "502 Unknown command 'FOO'"])
        self.assertEqual(time.gmtime(os.stat(self.path("f.txt")).st_mtime)[:6],
                         (2020, 1, 2, 3, 4, 5))
        self.assertTrue(out[9].startswith("213-Status of f.txt:\n -rw-"), out[9])
        self.assertEqual(out[10:19], [
            "450 nope: No such file or directory", "502 SMNT command not implemented",
            "502 REIN command not implemented", "500 FOO not understood",
            "503 Bad sequence of commands", '257 "/" is the current directory',
            '257 "/d" - Directory successfully created', "250 XCWD command successful",
            "250 XCUP command successful"])
        self.assertEqual(out[19], "250 XRMD command successful")
        self.assertTrue(out[20].startswith("214-"))
        self.assertEqual(out[21], "500 'SITE FOO' not understood")
        self.assertEqual(self.commands("MFMT")[0].file,
                         os.path.join(os.path.realpath(self.home), "f.txt"))
        self.assertEqual(self.last("SMNT").response_code, 502)

    @defer.inlineCallbacks
    def test_feat_lists_what_is_implemented(self):
        def run():
            f = self.client(login=False)
            feat = f.sendcmd("FEAT")
            f.login(USER, PASSWORD)
            f.quit()
            return feat
        feat = yield self.inThread(run)
        yield self.waitExits()
        lines = [line.strip() for line in feat.split("\n")[1:-1]]
        # ProFTPD 1.3.8's list (tests.test_ftpextras checks it byte for byte).
        self.assertEqual(lines[:9], ["CLNT", "CSID", "EPRT", "EPSV", "HOST", "LANG C.UTF-8*",
                                     "MDTM", "MFF modify;UNIX.group;UNIX.mode;", "MFMT"])
        self.assertTrue(lines[9].startswith("MLST modify*;perm*;size*;type*;unique*;"))
        self.assertEqual(lines[10:], ["RANG STREAM", "REST STREAM", "SIZE", "TVFS", "UTF8"])
        # every advertised command is answered by something other than 500/502
        for word in lines:
            if word in ("TVFS", "UTF8", "REST STREAM"):
                continue            # properties, not commands
            self.assertTrue(hasattr(self.factory.protocol, "cmd_" + word.split()[0]), word)

    @defer.inlineCallbacks
    def test_nlst_and_list_globbing(self):
        os.mkdir(self.path("d"))
        self.write("g.txt", b"")
        self.write("d/h.txt", b"")

        def run():
            f = self.client()
            a = f.nlst("*.txt")
            b = f.nlst("d/*.txt")
            lines = []
            f.retrlines("LIST *.txt", lines.append)
            try:
                f.nlst("*.none")
            except ftplib.error_temp as e:
                c = str(e)
            f.quit()
            return a, b, lines, c
        a, b, lines, c = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(a, ["f.txt", "g.txt"])
        self.assertEqual(b, ["d/h.txt"])
        self.assertEqual([line.split()[-1] for line in lines], ["f.txt", "g.txt"])
        self.assertEqual(c, "450 No files found")     # mod_ls: GLOB_NOMATCH

    @defer.inlineCallbacks
    def test_list_of_a_missing_path(self):
        """LIST of a missing path: 150, the data connection closed empty (not reset), then
        450, as ProFTPD 1.3.8 does; ftplib reads the 450 and the session goes on."""
        def run():
            f = self.client()
            out = []
            for path in ("nosuch", "nosuch/"):
                try:
                    f.retrlines("LIST " + path, out.append)
                except ftplib.error_temp as e:
                    out.append(str(e))
            out.append(f.pwd())
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["450 nosuch: No such file or directory",
                               "450 nosuch/: No such file or directory", "/"])

    @defer.inlineCallbacks
    def test_abor_during_retr(self):
        self.write("big.bin", os.urandom(8 * 1024 * 1024))

        def run():
            s, reply = self.raw()
            for c in (b"USER %s" % USER.encode(), b"PASS %s" % PASSWORD.encode(),
                      b"TYPE I", b"EPSV"):
                s.sendall(c + b"\r\n")
                r = reply()
            port = int(r[-1].split(b"|||")[1].split(b"|")[0])
            d = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"RETR big.bin\r\n")
            opening = reply()
            d.recv(1000)                # the transfer runs; stop reading
            # Telnet IP + Synch, as lftp sends it, then ABOR
            s.sendall(b"\xff\xf4\xff", socket.MSG_OOB)
            s.sendall(b"\xf2ABOR\r\n")
            first, second = reply(), reply()
            s.sendall(b"NOOP\r\n")
            third = reply()
            d.close()
            s.close()
            return opening, first, second, third
        opening, first, second, third = yield self.inThread(run)
        yield self.waitExits()
        self.assertTrue(opening[0].startswith(b"150 Opening BINARY mode"))
        self.assertEqual(first, [b"426 Transfer aborted. Data connection closed.\r\n"])
        self.assertEqual(second, [b"226 Abort successful\r\n"])
        self.assertEqual(third, [b"200 NOOP command successful\r\n"])
        # ProFTPD 1.3.8's "true abort" (UseSendfile off, measured): the lingering
        # abort's 426 with its period, the transfer "cancelled"/"aborted", ABOR "cancelled".
        retr = self.last("RETR")
        self.assertEqual((retr.response_code, retr.transfer_status, retr.transfer_failure),
                         (426, "cancelled", "aborted"))
        abor = self.last("ABOR")
        self.assertEqual((abor.response_code, abor.transfer_status), (226, "cancelled"))
        verbs = [e.verb for e in self.commands()]
        self.assertEqual(verbs[-3:], ["RETR", "ABOR", "NOOP"])

    @defer.inlineCallbacks
    def test_abor_with_ftplib_during_stor(self):
        def run():
            f = self.client()
            f.voidcmd("TYPE I")
            conn = f.transfercmd("STOR up.bin")
            conn.sendall(b"x" * 100000)
            resp = f.abort()            # ABOR sent as urgent data
            conn.close()
            after = f.sendcmd("NOOP")
            f.quit()
            return resp, after
        resp, after = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(resp, "426 Transfer aborted. Data connection closed.")
        self.assertEqual(after, "226 Abort successful")   # ftplib reads one reply only
        stor = self.last("STOR")
        self.assertEqual((stor.response_code, stor.transfer_status, stor.transfer_failure),
                         (426, "cancelled", "aborted"))
        self.assertFalse(os.path.exists(self.path("up.bin")))


class RestartTests(_Base, unittest.TestCase):
    server_options = {"allow_retrieve_restart": False}

    @defer.inlineCallbacks
    def test_retrieve_restart_off(self):
        out = yield self.run_cmds(["REST 3", "TYPE I", "REST 3", "RETR f.txt"])
        yield self.waitExits()
        self.assertEqual(out, ["501 REST: Resuming transfers not allowed in ASCII mode",
                               "200 Type set to I",
                               "350 Restarting at 3. Send STORE or RETRIEVE to initiate "
                               "transfer", "451 f.txt: Append/Restart not permitted, try again"])
        self.assertEqual(self.last("RETR").transfer_status, "failed")


class ForeignAddressTests(_Base, unittest.TestCase):
    server_options = {"allow_foreign_address": True}

    @defer.inlineCallbacks
    def test_foreign_allowed_privileged_never(self):
        out = yield self.run_cmds(["PORT 127,0,0,2,10,10", "PORT 127,0,0,2,0,25",
                                   "EPRT |1|127.0.0.3|5000|"])
        yield self.waitExits()
        self.assertEqual(out, ["200 PORT command successful", "500 Illegal PORT command",
                               "200 EPRT command successful"])
        self.assertEqual([e.response_code for e in self.commands("PORT")], [200, 500])


class TimeoutLoginTests(_Base, unittest.TestCase):
    server_options = {"timeout_login": 1}

    @defer.inlineCallbacks
    def test_login_timeout(self):
        def run():
            s, reply = self.raw()
            s.sendall(b"USER alice\r\n")
            reply()
            line = reply()
            s.close()
            return line
        line = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(line, [b"421 Login timeout (1 seconds): closing control "
                                b"connection\r\n"])
        self.assertEqual(self.exits()[0].session_end_reason, "Timeout exceeded: TimeoutLogin")


class TimeoutNoTransferTests(_Base, unittest.TestCase):
    server_options = {"timeout_no_transfer": 1}

    @defer.inlineCallbacks
    def test_no_transfer_timeout(self):
        def run():
            f = self.client()
            f.sendcmd("NOOP")
            return f.getline()
        line = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(line, "421 No transfer timeout (1 seconds): closing control "
                               "connection")
        self.assertEqual(self.exits()[0].session_end_reason,
                         "Timeout exceeded: TimeoutNoTransfer")


class MaxClientsPerHostTests(_Base, unittest.TestCase):
    server_options = {"max_clients_per_host": (1, None)}

    @defer.inlineCallbacks
    def test_second_session_refused(self):
        """Logged-in sessions count, connections that have not logged in do not; the
        refused PASS and the session's end name the account, as ProFTPD 1.3.8's records
        do (it has taken the account on when it counts)."""
        def run():
            idle = self.client(login=False)
            first = self.client()
            try:
                self.client()
            except ftplib.error_perm as e:
                err = str(e)
            first.quit()
            idle.quit()
            return err
        err = yield self.inThread(run)
        yield self.waitExits(3)
        self.assertEqual(err, "530 Sorry, the maximum number of clients (1) from your host "
                              "are already connected.")
        refused = self.commands("PASS")[-1]
        self.assertEqual((refused.response_code, refused.user), (530, "alice"))
        self.assertIn("Configured policy: Denied by MaxClientsPerHost",
                      [e.session_end_reason for e in self.exits()])

    @defer.inlineCallbacks
    def test_refused_logins_keep_no_descriptor(self):
        """A login refused after its password was accepted leaves nothing open (its
        jail's root descriptor was opened already)."""
        def run():
            first = self.client()
            for _ in range(5):
                try:
                    self.client()
                except ftplib.error_perm:
                    pass
            first.quit()

        def count():
            return len(os.listdir("/proc/self/fd"))
        yield self.inThread(run)        # the password verified once, logins take no thread
        yield self.waitExits(6)
        before = count()
        yield self.inThread(run)
        yield self.waitExits(12)
        self.assertEqual(count(), before)

    @defer.inlineCallbacks
    def test_failed_jail_keeps_no_descriptor(self):
        """A login whose jail cannot be set up (a name lookup failing, say) is answered,
        logged, and leaves its shared root descriptor counted out: the next session
        logs in and the descriptor is closed when it leaves."""
        from ftpredis.ftp import login as login_mod
        real = login_mod.JailedFS
        failures = []

        def failing_once(*a, **kw):
            if not failures:
                failures.append(1)
                raise OSError(5, "Input/output error")
            return real(*a, **kw)
        self.patch(login_mod, "JailedFS", failing_once)

        def count():
            return len(os.listdir("/proc/self/fd"))

        def run():
            try:
                self.client()
            except ftplib.all_errors as e:
                err = str(e)
            c = self.client()
            pwd = c.pwd()
            c.quit()
            return err, pwd
        failures.append(0)              # the first session: the password verified once
        yield self.inThread(lambda: self.client().quit())
        yield self.waitExits(1)
        failures.clear()                # then a login that takes no thread fails
        before = count()
        err, pwd = yield self.inThread(run)
        yield self.waitExits(3)
        self.assertTrue(err.startswith("4") or err.startswith("5"), err)
        self.assertEqual(pwd, "/")
        self.assertEqual(failures, [1])
        self.assertEqual(count(), before)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)


class LoginAttemptTests(_Base, unittest.TestCase):
    server_options = {"max_login_attempts": 2}

    @defer.inlineCallbacks
    def test_delay_then_disconnect(self):
        def run():
            s, reply = self.raw()
            out = []
            for pw in (b"x", b"y"):
                s.sendall(b"USER alice\r\nPASS " + pw + b"\r\n")
                out += reply() + reply()
            out.append(s.recv(100))      # b"": closed by the server
            s.close()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, [b"331 Password required for alice\r\n",
                               b"530 Login incorrect.\r\n"] * 2 + [b""])
        self.assertEqual([e.response_code for e in self.commands("PASS")], [530, 530])
        self.assertEqual(self.exits()[0].session_end_reason, "Configured policy")


class HideDisplayTests(_Base, unittest.TestCase):

    def setUp(self):
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        self.welcome = os.path.join(base, "welcome.txt")
        with open(self.welcome, "w") as f:
            f.write("Hello %U\nsecond line\n")
        self.server_options = {"display_login": self.welcome}
        _Base.setUp(self)
        home = os.path.realpath(self.home)
        import dataclasses
        self.factory.server = self.server = dataclasses.replace(
            self.server, directories=(DirectoryConfig(home, hide_files=r"\.secret$"),))
        self.write("x.secret", b"hidden")

    @defer.inlineCallbacks
    def test_hide_files_and_display_login(self):
        def run():
            f = self.client(login=False)
            welcome = f.login(USER, PASSWORD)
            names = f.nlst()
            try:
                f.retrbinary("RETR x.secret", print)
            except ftplib.error_perm as e:
                err = str(e)
            f.quit()
            return welcome, names, err
        welcome, names, err = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(welcome, "230-Hello alice\n second line\n230 User alice logged in")
        self.assertEqual(names, ["f.txt"])
        self.assertEqual(err, "550 x.secret: No such file or directory")
        self.assertEqual(self.last("RETR").response_code, 550)
        self.assertEqual(self.last("PASS").response_msg, "User alice logged in")


class RelativeDisplayTests(_Base, unittest.TestCase):
    """A relative DisplayLogin (Debian's stock ``DisplayLogin welcome.msg``) is the file
    in the directory the login starts in, as mod_auth reads it after the chroot; where
    it is missing nothing is shown."""

    server_options = {"display_login": "welcome.msg"}

    @defer.inlineCallbacks
    def test_from_the_home(self):
        def login():
            f = self.client(login=False)
            reply = f.login(USER, PASSWORD)
            f.quit()
            return reply
        missing = yield self.inThread(login)
        self.write("welcome.msg", b"Hello %U, from your home\n")
        shown = yield self.inThread(login)
        self.assertEqual(missing, "230 User alice logged in")
        self.assertEqual(shown, "230-Hello alice, from your home\n230 User alice logged in")


class LimitTests(_Base, unittest.TestCase):

    def setUp(self):
        _Base.setUp(self)
        os.mkdir(self.path("ro"))
        self.write("ro/r.txt", b"r")
        home = os.path.realpath(self.home)
        import dataclasses
        deny_write = LimitConfig(frozenset({"WRITE"}), (("DenyAll", ()),))
        deny_bob = LimitConfig(frozenset({"LOGIN"}), (("DenyUser", ("bob",)),))
        self.factory.server = self.server = dataclasses.replace(
            self.server, limits=(deny_bob,),
            directories=(DirectoryConfig(home + "/ro", limits=(deny_write,)),))

    @defer.inlineCallbacks
    def test_write_denied_in_directory(self):
        def run():
            f = self.client()
            out = []
            for c in ("DELE ro/r.txt", "RNFR ro/r.txt", "MKD ro/d", "SITE CHMOD 600 ro/r.txt"):
                try:
                    out.append(f.sendcmd(c))
                except ftplib.error_perm as e:
                    out.append(str(e))
            try:
                f.storbinary("STOR ro/x", io.BytesIO(b"x"))
            except ftplib.error_perm as e:
                out.append(str(e))
            got = []
            f.retrbinary("RETR ro/r.txt", got.append)
            f.storbinary("STOR ok.txt", io.BytesIO(b"fine"))
            f.quit()
            return out, got
        out, got = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["550 ro/r.txt: Operation not permitted",
                               "550 ro/r.txt: Operation not permitted",
                               "550 ro/d: Permission denied",
                               "550 CHMOD 600 ro/r.txt: Permission denied",
                               "550 ro/x: Operation not permitted"])
        self.assertEqual(got, [b"r"])
        self.assertTrue(os.path.exists(self.path("ro/r.txt")))
        self.assertFalse(os.path.exists(self.path("ro/x")))
        self.assertEqual(self.last("DELE").response_msg, "ro/r.txt: Operation not permitted")
        stor = self.commands("STOR")
        self.assertEqual([(e.response_code, e.transfer_status) for e in stor],
                         [(550, "failed"), (226, "success")])

    @defer.inlineCallbacks
    def test_login_denied(self):
        import dataclasses
        from tests.support.ftphelpers import _HASH, GID, UID
        from ftpredis.config.model import AuthUser
        from ftpredis.auth.portal import make_portal
        bob = AuthUser("bob", _HASH, UID, GID, "", self.home, "/bin/false")
        self.factory.server = self.server = dataclasses.replace(
            self.server, auth_users=self.server.auth_users + (bob,))
        self.factory.portal = make_portal(self.server)

        def run():
            f = self.client(login=False)
            try:
                f.login("bob", PASSWORD)
            except ftplib.error_perm as e:
                err = str(e)
            f.login(USER, PASSWORD)
            f.quit()
            return err
        err = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(err, "530 Login incorrect.")
        self.assertEqual([(e.response_code, e.user) for e in self.commands("PASS")],
                         [(530, None), (230, USER)])


class AnonymousTests(_Base, unittest.TestCase):

    def setUp(self):
        _Base.setUp(self)
        self.anon = os.path.join(os.path.dirname(self.home), "anon")
        os.makedirs(os.path.join(self.anon, "pub"))
        with open(os.path.join(self.anon, "pub", "a.txt"), "wb") as f:
            f.write(b"public")
        import dataclasses
        from ftpredis.auth.portal import make_portal
        self.factory.server = self.server = dataclasses.replace(
            self.server, anonymous=(AnonymousConfig(
                self.anon, user="nobody", group="nogroup",
                user_aliases=(("anonymous", "nobody"), ("ftp", "nobody"))),))
        self.factory.portal = make_portal(self.server)

    @defer.inlineCallbacks
    def test_anonymous_read_only(self):
        def run():
            f = self.client(login=False)
            r1 = f.sendcmd("USER anonymous")
            r2 = f.sendcmd("PASS guest@example.com")
            got = []
            f.retrbinary("RETR /pub/a.txt", got.append)
            out = []
            for fn, a in ((f.storbinary, ("STOR x", io.BytesIO(b"x"))),
                          (f.sendcmd, ("MKD d",)), (f.sendcmd, ("DELE pub/a.txt",)),
                          (f.retrbinary, ("RETR ../home/f.txt", got.append))):
                try:
                    fn(*a)
                except ftplib.error_perm as e:
                    out.append(str(e))
            f.quit()
            return r1, r2, got, out
        r1, r2, got, out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(r1, "331 Anonymous login ok, send your complete email address as "
                             "your password")
        self.assertEqual(r2, "230 Anonymous access granted, restrictions apply")
        self.assertEqual(got, [b"public"])
        self.assertEqual(out, ["550 x: Operation not permitted",
                               "550 d: Permission denied",
                               "550 pub/a.txt: Operation not permitted",
                               "550 ../home/f.txt: No such file or directory"])
        self.assertEqual(os.listdir(self.anon), ["pub"])
        pw = self.last("PASS")
        self.assertEqual((pw.user, pw.original_user, pw.anon_password, pw.anonymous),
                         ("nobody", "anonymous", "guest@example.com", True))
        self.assertNotIn("guest@example.com", pw.raw_command)
        ok, refused = self.commands("RETR")
        self.assertEqual(ok.file, os.path.realpath(self.anon) + "/pub/a.txt")
        self.assertEqual((refused.response_code, refused.transfer_status), (550, "failed"))


class SecurityTests(_Base, unittest.TestCase):

    @defer.inlineCallbacks
    def test_jail_escapes_refused_and_logged(self):
        os.symlink(self.outside, self.path("link"))
        os.symlink("/etc/hostname", self.path("host"))

        def run():
            f = self.client()
            out = []
            for c in ("CWD ../../..", "CWD /../outside", "SIZE link/secret.txt",
                      "MDTM host", "RNFR f.txt"):
                try:
                    out.append(f.sendcmd(c))
                except ftplib.error_perm as e:
                    out.append(str(e))
            try:
                f.sendcmd("RNTO link/stolen.txt")
            except ftplib.error_perm as e:
                out.append(str(e))
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["250 CWD command successful",
                               "550 /../outside: No such file or directory",
                               "550 SIZE not allowed in ASCII mode",
                               # links resolved as in ProFTPD's chroot: looked for in
                               # the jail, never the host's files
                               "550 host: No such file or directory",
                               "350 File or directory exists, ready for destination name",
                               "550 link/stolen.txt: No such file or directory"])
        self.assertEqual(os.listdir(self.outside), ["secret.txt"])
        self.assertTrue(os.path.exists(self.path("f.txt")))
        # at the top, logged as ProFTPD 1.3.8 logs a CWD there: the chroot without its
        # slash (tests/test_conformance_hostile.py)
        self.assertEqual(self.commands("CWD")[0].dir_path, os.path.realpath(self.home))
        self.assertEqual((self.last("MDTM").response_code, self.last("RNTO").response_code),
                         (550, 550))

    @defer.inlineCallbacks
    def test_bounce_refused_and_logged(self):
        # (a private address such as 10.0.0.1 would stand for the client's own, as in
        # ProFTPD: tests/test_conformance_hostile_args.py)
        out = yield self.run_cmds(["PORT 127,0,0,2,10,10", "PORT 127,0,0,1,0,21",
                                   "EPRT |1|198.51.100.1|4000|", "EPRT |2|::2|4000|"])
        yield self.waitExits()
        self.assertEqual(out, ["500 Illegal PORT command"] * 2
                         + ["500 Illegal EPRT command"] * 2)
        self.assertEqual([(e.verb, e.response_code, e.response_msg) for e in
                          self.commands() if e.verb in ("PORT", "EPRT")],
                         [("PORT", 500, "Illegal PORT command")] * 2
                         + [("EPRT", 500, "Illegal EPRT command")] * 2)

    @defer.inlineCallbacks
    def test_passive_theft_refused_and_logged(self):
        def run():
            f = self.client()
            f.voidcmd("TYPE I")
            host, port = ftplib.parse227(f.sendcmd("PASV"))
            thief = socket.socket()
            thief.bind(("127.0.0.2", 0))
            thief.settimeout(5)
            thief.connect((host, port))
            good = socket.create_connection((host, port))
            f.sendcmd("RETR f.txt")
            data = good.recv(100)
            good.close()
            # The port is accepted from once the transfer starts: the thief, first in
            # the queue, is closed unread then (EOF), and the client's connection used.
            stolen = thief.recv(100)
            thief.close()
            f.voidresp()
            f.quit()
            return stolen, data
        stolen, data = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual((stolen, data), (b"", b"line1\nline2\n"))
        retr = self.last("RETR")
        self.assertEqual((retr.response_code, retr.bytes_sent), (226, 12))

    @defer.inlineCallbacks
    def test_hostile_lines(self):
        def run():
            s, reply = self.raw()
            s.sendall(b"USER alice\r\nPASS " + PASSWORD.encode() + b"\r\n")
            reply(), reply()
            s.sendall(b"MKD " + b"a" * 5000 + b"\r\n")
            too_long = reply()
            # unbounded input without a newline is dropped as it arrives
            s.sendall(b"B" * 300000)
            s.sendall(b"\r\nMKD x\x00y\r\nMKD in\rside\r\nMKD bad\xff\r\nNOOP\r\n")
            rest = [reply() for _ in range(4)]
            s.sendall(b"QUIT\r\n")
            reply()
            s.close()
            return too_long, rest
        too_long, rest = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(too_long, [b"500 Command line too long\r\n"])
        self.assertEqual(rest[0], [b"500 Command line too long\r\n"])
        # "MKD x<NUL>y" is "MKD x": ProFTPD 1.3.8 ends the line at a NUL
        self.assertEqual(rest[1], [b'257 "/x" - Directory successfully created\r\n'])
        self.assertEqual(rest[2], [b'257 "/in\rside" - Directory successfully created\r\n'])
        self.assertEqual(rest[3], [b'257 "/bad\xff" - Directory successfully created\r\n'])
        self.assertLess(len(self.factory.instances), 2)
        mkd = self.commands("MKD")
        self.assertEqual([e.dir_name for e in mkd], ["x", "in\rside", "bad\udcff"])
        # the record encoder escapes both: one JSON line each
        from ftpredis.records.logformat import compile_format
        fmt = compile_format("t", "%m %d %r")
        for e in mkd:
            line = fmt.json(e)
            self.assertNotIn(b"\r", line)
            self.assertNotIn(b"\n", line)

    @defer.inlineCallbacks
    def test_commands_pipelined_after_quit_are_not_run(self):
        """As in ProFTPD 1.3.8 (compared): 221, then the end; what followed QUIT in the
        same packet gets no reply and no record."""
        def run():
            s, reply = self.raw()
            s.sendall(b"USER alice\r\nPASS " + PASSWORD.encode() + b"\r\n")
            reply(), reply()
            s.sendall(b"QUIT\r\nNOOP\r\nMKD after-quit\r\n")
            try:
                return recv_all(s)
            finally:
                s.close()
        got = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(got, ("221 Goodbye.\r\n", True))     # and closed
        self.assertEqual([e.verb for e in self.commands()], ["USER", "PASS", "QUIT"])
        self.assertEqual(self.exits()[-1].session_end_reason, "Quit")
        self.assertFalse(os.path.exists(self.path("after-quit")))

    @defer.inlineCallbacks
    def test_lines_in_pieces_and_while_busy_are_answered_in_order(self):
        """A command sent while PASS is still being checked waits for it; a line in
        several pieces, and one ended by LF alone, are each one command."""
        def run():
            s, reply = self.raw()
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"USER alice\r\n")
            out = [reply()]
            s.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
            s.sendall(b"NOOP\r\n")
            out += [reply(), reply()]
            for piece in (b"PW", b"D\r", b"\n"):
                s.sendall(piece)
            out.append(reply())
            s.sendall(b"SYST\n")
            out.append(reply())
            s.sendall(b"QUIT\r\n")
            out.append(reply())
            s.close()
            return out
        got = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(got, [[b"331 Password required for alice\r\n"],
                               [b"230 User alice logged in\r\n"],
                               [b"200 NOOP command successful\r\n"],
                               [b'257 "/" is the current directory\r\n'],
                               [b"215 UNIX Type: L8\r\n"],
                               [b"221 Goodbye.\r\n"]])
        self.assertEqual([e.verb for e in self.commands()],
                         ["USER", "PASS", "NOOP", "PWD", "SYST", "QUIT"])

    @defer.inlineCallbacks
    def test_failed_overwrite_keeps_the_old_file(self):
        self.write("keep.bin", b"original contents")

        def run():
            f = self.client()
            f.voidcmd("TYPE I")
            conn = f.transfercmd("STOR keep.bin")
            conn.sendall(b"partial new")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()                # RST: the upload did not complete
            try:
                f.voidresp()
            except ftplib.Error as e:
                r = str(e)
            f.quit()
            return r
        r = yield self.inThread(run)
        yield self.waitExits()
        # pr_data_abort(ECONNRESET)'s text: no period (the ABOR one has it)
        self.assertEqual(r, "426 Transfer aborted. Data connection closed")
        with open(self.path("keep.bin"), "rb") as f:
            self.assertEqual(f.read(), b"original contents")
        self.assertEqual([n for n in os.listdir(self.home) if n.endswith(".part")], [])
        stor = self.last("STOR")
        self.assertEqual((stor.response_code, stor.transfer_status), (426, "failed"))


class CommandBufferSizeTests(_Base, unittest.TestCase):
    """The issue's 512-byte limit, set the ProFTPD way (the default follows 1.3.8: 4096)."""

    server_options = {"command_buffer_size": 512}

    @defer.inlineCallbacks
    def test_600_byte_line_refused(self):
        def run():
            s, reply = self.raw()
            s.sendall(b"USER alice\r\nPASS " + PASSWORD.encode() + b"\r\n")
            reply(), reply()
            s.sendall(b"MKD " + b"a" * 596 + b"\r\n")
            too_long = reply()
            s.sendall(b"CWD /" + b"./" * 250 + b"\r\n")      # 505 bytes: fits
            fits = reply()
            s.sendall(b"QUIT\r\n")
            reply()
            s.close()
            return too_long, fits
        too_long, fits = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(too_long, [b"500 Command line too long\r\n"])
        self.assertEqual(fits, [b"250 CWD command successful\r\n"])
        self.assertEqual(self.commands("MKD"), [])


class DirectoryUmaskTests(_Base, unittest.TestCase):
    """Umask inside <Directory>: the deepest <Directory> that sets it wins."""

    def setUp(self):
        _Base.setUp(self)
        import dataclasses
        home = os.path.realpath(self.home)
        os.makedirs(os.path.join(home, "private"))
        self.factory.server = self.server = dataclasses.replace(
            self.server, umask=0o022,
            directories=(DirectoryConfig(os.path.join(home, "private"), umask=0o077),))

    @defer.inlineCallbacks
    def test_umask_per_directory(self):
        def run():
            f = self.client()
            f.voidcmd("TYPE I")
            for name in ("open.txt", "private/secret.txt"):
                f.storbinary("STOR " + name, io.BytesIO(b"x"))
            f.mkd("opendir")
            f.mkd("private/sub")
            f.quit()
        yield self.inThread(run)
        mode = lambda *p: os.stat(self.path(*p)).st_mode & 0o777
        self.assertEqual((mode("open.txt"), mode("opendir")), (0o644, 0o755))
        self.assertEqual((mode("private", "secret.txt"), mode("private", "sub")), (0o600, 0o700))

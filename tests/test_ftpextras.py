# -*- test-case-name: tests.test_ftpextras -*-
"""The extensions ProFTPD 1.3.8 advertises beyond the RFC 959/3659 core: CSID, MFF,
RANG, SITE CHGRP, and the FEAT, HELP and SITE HELP lists that name them.  Each reply
text was measured on proftpd 1.3.8 (Debian 12); each command's event is checked too.

The server runs as root here (as the conformance harness does); the test user is
uid/gid 65534, and files the test writes belong to root, i.e. to the server itself.
"""

from __future__ import annotations

import ftplib
import os
import socket

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis import __version__
from tests.support.ftphelpers import FTPServerMixin, GID, PASSWORD, USER

DATA = b"0123456789abcdefghij\n" * 3          # 63 bytes
OTHER_GID = 4242                              # a group the user is not in

PROFTPD_FEAT = [
    "211-Features:", " CLNT", " CSID", " EPRT", " EPSV", " HOST", " LANG C.UTF-8*", " MDTM",
    " MFF modify;UNIX.group;UNIX.mode;", " MFMT",
    " MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;"
    "UNIX.owner*;UNIX.ownername*;",
    " RANG STREAM", " REST STREAM", " SIZE", " TVFS", " UTF8", "211 End"]

PROFTPD_HELP = [
    "214-The following commands are recognized (* =>'s unimplemented):",
    " CWD     XCWD    CDUP    XCUP    SMNT*   QUIT    PORT    PASV    ",
    " EPRT    EPSV    ALLO    RNFR    RNTO    DELE    MDTM    RMD     ",
    " XRMD    MKD     XMKD    PWD     XPWD    SIZE    SYST    HELP    ",
    " NOOP    FEAT    OPTS    HOST    CLNT    AUTH*   CCC*    CONF*   ",
    " ENC*    MIC*    PBSZ*   PROT*   TYPE    STRU    MODE    RETR    ",
    " STOR    STOU    APPE    REST    ABOR    RANG    USER    PASS    ",
    " ACCT*   REIN*   LIST    NLST    STAT    SITE    MLSD    MLST    ",
    "214 Direct comments to root@127.0.0.1"]


class _Base(FTPServerMixin):

    server_options = {"auth_groups": {GID: "nogroup", OTHER_GID: "others"}}

    def setUp(self):
        FTPServerMixin.setUp(self)
        self.factory.loginFailureDelay = 0.01
        self.write("a.txt", DATA)
        os.mkdir(self.path("sub"))

    def session(self, cmds, login=True):
        """Send raw command lines; returns each reply's lines (str, CRLF dropped).

        ``"<data"`` reads the data connection a preceding PASV opened (as a list entry
        ``b"..."``) and ``">bytes"`` uploads to it.
        """
        def run():
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            f = s.makefile("rb")

            def reply():
                lines = []
                while True:
                    line = f.readline()
                    if not line:
                        return lines
                    lines.append(line.rstrip(b"\r\n").decode("utf-8", "replace"))
                    if line[3:4] == b" " and line[:3].isdigit():
                        return lines
            reply()
            if login:
                for c in ("USER " + USER, "PASS " + PASSWORD):
                    s.sendall(c.encode() + b"\r\n")
                    reply()
            out, data = [], None
            for c in cmds:
                if c == "<data":
                    buf = b""
                    while True:
                        chunk = data.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    data.close()
                    out.append(buf)
                    out.append(reply()[-1])         # the 226 after the 150
                    continue
                if c.startswith(">"):
                    data.sendall(c[1:].encode())
                    data.close()
                    out.append(reply()[-1])
                    continue
                s.sendall(c.encode("utf-8") + b"\r\n")
                r = reply()
                if r[-1].startswith("227 "):
                    nums = r[-1].split("(")[1].split(")")[0].split(",")
                    data = socket.create_connection(
                        ("127.0.0.1", int(nums[4]) * 256 + int(nums[5])), timeout=10)
                elif r[-1][:1] in "45" and data is not None and c.split()[0] in (
                        "RETR", "STOR", "APPE"):
                    data.close()
                    data = None
                out.append(r if len(r) > 1 else r[0])
            s.sendall(b"QUIT\r\n")
            reply()
            s.close()
            return out
        return self.inThread(run)

    def commands(self, verb=None):
        """Command events by %m (``SITE CHGRP``, not ``SITE``)."""
        return [e for e in FTPServerMixin.commands(self)
                if verb is None or e.command == verb]

    def events_for(self, verb):
        return [(e.response_code, e.response_msg) for e in self.commands(verb)]


class ListsTests(_Base, unittest.TestCase):
    """FEAT, HELP and SITE HELP list exactly what ProFTPD lists."""

    @defer.inlineCallbacks
    def test_feat(self):
        out = yield self.session(["FEAT"], login=False)
        self.assertEqual(out[0], PROFTPD_FEAT)

    @defer.inlineCallbacks
    def test_help(self):
        out = yield self.session(["HELP", "HELP RANG", "HELP rang x", "HELP CLNT", "HELP MFF",
                                  "HELP CSID", "HELP LANG", "HELP MFMT", "HELP SITE",
                                  "HELP SITE CHMOD", "HELP site chmod"])
        yield self.waitExits()
        self.assertEqual(out[0], PROFTPD_HELP)
        self.assertEqual(out[1:], [
            "214 Syntax: RANG <sp> start-point <sp> end-point",
            "214 Syntax: RANG <sp> start-point <sp> end-point",
            "214 Syntax: CLNT <cp> client-info",
            "502 Unknown command 'MFF'",
            "502 Unknown command 'CSID'",
            "502 Unknown command 'LANG'",
            "502 Unknown command 'MFMT'",
            ["214-HELP", " CHGRP", "214 CHMOD"],
            "502 Unknown command 'SITE SITE CHMOD'",
            "502 Unknown command 'SITE site chmod'"])
        self.assertEqual(self.events_for("HELP")[8], (214, "CHMOD"))

    @defer.inlineCallbacks
    def test_site_help(self):
        out = yield self.session(["SITE HELP", "SITE help CHGRP", "SITE HELP chmod x",
                                  "SITE HELP HELP", "SITE HELP XYZ"])
        yield self.waitExits()
        head = "214-The following SITE commands are recognized (* =>'s unimplemented)"
        end = "214 Direct comments to root@127.0.0.1"
        self.assertEqual(out, [
            [head, " HELP", " CHGRP", " CHMOD", end],
            [head, " Syntax: SITE CHGRP <sp> group <sp> pathname", end],
            [head, " Syntax: SITE CHMOD <sp> mode <sp> pathname", end],
            [head, " Syntax: SITE HELP [<sp> site-command]", end],
            "502 Unknown command 'SITE HELP XYZ'"])
        self.assertEqual(self.events_for("SITE HELP")[-1],
                         (502, "Unknown command 'SITE HELP XYZ'"))


class CSIDTests(_Base, unittest.TestCase):

    @defer.inlineCallbacks
    def test_csid(self):
        ident = "200 name=ftpredis;version=%s;casesensitive=1;" % (__version__,)
        out = yield self.session(["CSID Name=lftp; Version=4.9;", "CSID", "csid x"])
        yield self.waitExits()
        self.assertEqual(out, [ident] * 3)
        e = self.commands("CSID")[0]
        self.assertEqual((e.response_code, e.command_params),
                         (200, "Name=lftp; Version=4.9;"))

    @defer.inlineCallbacks
    def test_login_first(self):
        """Before login: 530, which ProFTPD has sent before logging, so it is in %O."""
        out = yield self.session(["CSID", "MFF modify=20200101000000; a.txt", "RANG 1 2",
                                  "CLNT x"], login=False)
        yield self.waitExits()
        self.assertEqual(out, ["530 Please login with USER and PASS"] * 3 + ["200 OK"])
        banner = self.commands("CSID")[0].session_bytes_sent - 37
        self.assertEqual([e.session_bytes_sent for e in self.commands()][:4],
                         [banner + 37, banner + 74, banner + 111, banner + 111])


class MFFTests(_Base, unittest.TestCase):

    def mode(self, name="a.txt"):
        return os.stat(self.path(name)).st_mode & 0o7777

    @defer.inlineCallbacks
    def test_success(self):
        out = yield self.session([
            "MFF modify=20200102030405;UNIX.mode=0600;UNIX.group=%d; a.txt" % GID,
            "MFF UNIX.group=nogroup;unix.MODE=755; sub",
            "MFF modify=20210101000000.123; a.txt",
            "MFF UNIX.mode=0644;junk a.txt"])
        yield self.waitExits()
        self.assertEqual(out, [
            "213 modify=20200102030405;UNIX.mode=0600;UNIX.group=%d; a.txt" % GID,
            "213 UNIX.group=nogroup;unix.MODE=755; sub",
            # mod_facts cuts the fractional seconds off in place: the reply shows it.
            "213 modify=20210101000000 a.txt",
            "213 UNIX.mode=0644;junk a.txt"])
        st = os.stat(self.path("a.txt"))
        self.assertEqual((st.st_mtime, st.st_mode & 0o7777, st.st_gid),
                         (1609459200, 0o644, GID))
        self.assertEqual((self.mode("sub"), os.stat(self.path("sub")).st_gid), (0o755, GID))
        e = self.commands("MFF")[0]
        self.assertEqual((e.response_code, e.command_params),
                         (213, "modify=20200102030405;UNIX.mode=0600;UNIX.group=%d; a.txt"
                          % GID))

    @defer.inlineCallbacks
    def test_errors(self):
        out = yield self.session([
            "MFF", "MFF modify=20200101000000;",
            "MFF UNIX.mode=0600 a.txt",
            "MFF size=5; a.txt", "MFF UNIX.mode=0600;size=5; a.txt",
            "MFF UNIX.mode=0644;;x; a.txt",
            "MFF modify; a.txt", "MFF modify=2020; a.txt",
            "MFF modify=19690101000000; a.txt", "MFF modify=20201301000000; a.txt",
            "MFF modify=2020010100000099; a.txt",
            "MFF UNIX.mode=xyz; a.txt", "MFF UNIX.mode=08; a.txt", "MFF UNIX.mode; a.txt",
            "MFF UNIX.group; a.txt", "MFF UNIX.group=%d; a.txt" % OTHER_GID,
            "MFF UNIX.group=root; a.txt", "MFF UNIX.group=0; a.txt",
            "MFF modify=20200101000000; nosuch.txt", "MFF UNIX.mode=0755; nosuch.txt",
            "MFF UNIX.group=%d; nosuch.txt" % GID,
            "MFF modify=20200101000000; ../../outside/secret.txt",
            "MFF modify=20200101000000;UNIX.mode=0640;modify; a.txt"])
        yield self.waitExits()
        self.assertEqual(out, [
            "501 Invalid number of parameters", "501 Invalid number of parameters",
            "550 UNIX.mode=0600: Invalid argument",
            "504 Cannot modify fact 'size=5'", "504 Cannot modify fact 'size=5'",
            "504 Cannot modify fact ''",
            "501 modify: Invalid argument", "501 2020: Invalid argument",
            "501 a.txt: Invalid argument", "501 a.txt: Invalid argument",
            "501 a.txt: Invalid argument",
            "501 a.txt: Invalid argument", "501 a.txt: Invalid argument",
            "501 UNIX.mode;: No such file or directory",
            "501 UNIX.group;: Invalid argument", "501 a.txt: Operation not permitted",
            "501 a.txt: Invalid argument", "501 a.txt: Operation not permitted",
            "550 nosuch.txt: No such file or directory",
            "550 nosuch.txt: No such file or directory",
            "550 nosuch.txt: No such file or directory",
            "550 ../../outside/secret.txt: No such file or directory",
            "501 modify=20200101000000;UNIX.mode=0640;modify: Invalid argument"])
        # Facts before a failing one stay changed, as in ProFTPD.
        self.assertEqual(self.mode(), 0o640)
        self.assertEqual(os.stat(self.path("a.txt")).st_gid, 0)
        self.assertEqual(len(self.events_for("MFF")), len(out))

    @defer.inlineCallbacks
    def test_symlink_out_of_jail(self):
        os.symlink(os.path.join(self.outside, "secret.txt"), self.path("link"))
        before = os.stat(os.path.join(self.outside, "secret.txt"))
        out = yield self.session(["MFF UNIX.mode=0777;modify=20000101000000; link"])
        # in ProFTPD's chroot the target is looked for inside the jail: ENOENT, which
        # mod_facts answers 550 (others 501)
        self.assertEqual(out, ["550 link: No such file or directory"])
        after = os.stat(os.path.join(self.outside, "secret.txt"))
        self.assertEqual((after.st_mode, after.st_mtime), (before.st_mode, before.st_mtime))


class RANGTests(_Base, unittest.TestCase):

    @defer.inlineCallbacks
    def test_replies(self):
        out = yield self.session([
            "RANG 5 10", "RANG 1 0", "RANG 10 5", "TYPE I", "RANG", "RANG 5",
            "RANG 5 10 15", "RANG 5 10", "RANG 5 5", "RANG 0 0", "RANG +1  5", "RANG -1 5",
            "RANG a b", "RANG 10 5", "RANG 1 0"])
        yield self.waitExits()
        self.assertEqual(out, [
            "551 RANG: Transfer ranges not allowed in ASCII mode",
            "350 Reset byte transfer range",
            "501 RANG start must be less than end",
            "200 Type set to I",
            "500 'RANG' not understood", "500 'RANG 5' not understood",
            "500 'RANG 5 10 15' not understood",
            "350 Transferring byte range of 6 bytes starting from 5",
            "350 Transferring byte range of 1 byte starting from 5",
            "350 Transferring byte range of 1 byte starting from 0",
            "350 Transferring byte range of 5 bytes starting from 1",
            "501 RANG requires a value greater than or equal to 0",
            "501 RANG requires a value greater than or equal to 0",
            "501 RANG start must be less than end",
            "350 Reset byte transfer range"])

    @defer.inlineCallbacks
    def test_retr_range(self):
        out = yield self.session([
            "TYPE I", "RANG 5 9", "PASV", "NOOP", "RETR a.txt", "<data",
            "PASV", "RETR a.txt", "<data",                       # the range was used up
            "RANG 60 62", "PASV", "RETR a.txt", "<data",
            "RANG 0 1000", "PASV", "RETR a.txt", "<data",        # from 0: what there is
            "RANG 5 9", "REST 7", "PASV", "RETR a.txt", "<data",  # REST replaces RANG
            "REST 3", "RANG 5 9", "PASV", "RETR a.txt", "<data",  # and RANG replaces REST
            "RANG 60 63", "PASV", "RETR a.txt",
            "RANG 64 70", "PASV", "RETR a.txt",
            "RANG 1 2", "PASV", "RETR sub",
            "PASV", "RETR a.txt", "<data"])
        yield self.waitExits()
        got = [o for o in out if isinstance(o, bytes)]
        self.assertEqual(got, [DATA[5:10], DATA, DATA[60:63], DATA, DATA[7:], DATA[5:10],
                               DATA])
        opening = [o for o in out if isinstance(o, str) and o.startswith("150")]
        self.assertEqual(opening[0], "150 Opening BINARY mode data connection for a.txt "
                                     "(5 bytes)")
        self.assertIn("554 a.txt: invalid RANG argument", out)
        self.assertIn("554 RANG: invalid a.txt argument", out)
        self.assertIn("550 sub: Not a regular file", out)
        retr = self.commands("RETR")
        self.assertEqual([(e.response_code, e.file_offset, e.bytes_sent) for e in retr[:6]],
                         [(226, 5, 5), (226, 0, 63), (226, 60, 3), (226, 0, 63),
                          (226, 7, 56), (226, 5, 5)])
        failed = retr[6]
        self.assertEqual((failed.response_code, failed.transfer_status, failed.file),
                         (554, "failed", self.path("a.txt")))

    @defer.inlineCallbacks
    def test_stor_refused(self):
        out = yield self.session(["TYPE I", "RANG 2 5", "PASV", "STOR a.txt",
                                  "RANG 2 5", "PASV", "STOR new.txt"])
        yield self.waitExits()
        self.assertEqual(out[3], "451 a.txt: Append/Restart not permitted, try again")
        self.assertEqual(out[6], "554 RANG: invalid new.txt argument")
        self.assertFalse(os.path.exists(self.path("new.txt")))
        with open(self.path("a.txt"), "rb") as f:
            self.assertEqual(f.read(), DATA)
        self.assertEqual([e.transfer_status for e in self.commands("STOR")],
                         ["failed", "failed"])


class SiteChgrpTests(_Base, unittest.TestCase):

    @defer.inlineCallbacks
    def test_success(self):
        os.chown(self.path("sub"), GID, 0)       # the user's own directory
        out = yield self.session(["SITE CHGRP %d a.txt" % GID, "SITE chgrp nogroup sub",
                                  "SITE CHGRP -1 a.txt", "SITE CHGRP %d  /a.txt " % GID])
        yield self.waitExits()
        self.assertEqual(out, ["200 SITE CHGRP command successful"] * 4)
        self.assertEqual(os.stat(self.path("a.txt")).st_gid, GID)
        self.assertEqual(os.stat(self.path("sub")).st_gid, GID)
        e = self.commands("SITE CHGRP")[0]
        self.assertEqual((e.response_code, e.file), (200, self.path("a.txt")))

    @defer.inlineCallbacks
    def test_refusals(self):
        self.write("theirs.txt", b"x")
        os.chown(self.path("theirs.txt"), 4343, 0)
        out = yield self.session([
            "SITE CHGRP", "SITE CHGRP %d" % GID,
            "SITE CHGRP 0 a.txt", "SITE CHGRP %d a.txt" % OTHER_GID, "SITE CHGRP others a.txt",
            "SITE CHGRP root a.txt", "SITE CHGRP 65534x a.txt",
            "SITE CHGRP %d nosuch.txt" % GID, "SITE CHGRP %d theirs.txt" % GID,
            "SITE CHGRP %d ../../outside/secret.txt" % GID,
            "SITE CHGRP %d a   b.txt" % GID])
        yield self.waitExits()
        self.assertEqual(out, [
            ["500-'SITE CHGRP' not understood", "500 SITE not understood"],
            ["500-'SITE CHGRP %d' not understood" % GID, "500 SITE not understood"],
            "550 a.txt: Operation not permitted", "550 a.txt: Operation not permitted",
            "550 a.txt: Operation not permitted",
            "550 a.txt: Invalid argument", "550 a.txt: Invalid argument",
            "550 nosuch.txt: No such file or directory",
            "550 theirs.txt: Operation not permitted",
            "550 ../../outside/secret.txt: No such file or directory",
            "550 a   b.txt: No such file or directory"])
        self.assertEqual(os.stat(self.path("a.txt")).st_gid, 0)
        self.assertEqual(os.stat(os.path.join(self.outside, "secret.txt")).st_gid, 0)
        events = self.commands("SITE CHGRP")
        self.assertEqual(len(events), len(out))
        # %f: the chroot path joined with the argument as given (ProFTPD, measured).
        self.assertEqual(events[9].file, self.home + "/../../outside/secret.txt")



class SiteChgrpMemberTests(_Base, unittest.TestCase):

    server_options = dict(_Base.server_options,
                          auth_group_members={USER: (OTHER_GID,), "bob": (4343,)})

    @defer.inlineCallbacks
    def test_memberOfAuthGroupFileGroup(self):
        """A group whose AuthGroupFile line lists the user as a member is one of the
        session's groups (ProFTPD's session.gids), so the user may give a file to it; a
        group that lists someone else is still refused."""
        out = yield self.session(["SITE CHGRP others a.txt", "SITE CHGRP 4343 a.txt"])
        yield self.waitExits()
        self.assertEqual(out, ["200 SITE CHGRP command successful",
                               "550 a.txt: Operation not permitted"])
        self.assertEqual(os.stat(self.path("a.txt")).st_gid, OTHER_GID)


class AnonymousTests(_Base, unittest.TestCase):
    """An <Anonymous> session is read-only: MFF and SITE CHGRP are writes."""

    def setUp(self):
        import dataclasses
        from ftpredis.auth.portal import make_portal
        from ftpredis.config.model import AnonymousConfig
        _Base.setUp(self)
        self.anon = os.path.join(os.path.dirname(self.home), "anon")
        os.makedirs(self.anon)
        with open(os.path.join(self.anon, "a.txt"), "wb") as f:
            f.write(b"public")
        self.factory.server = self.server = dataclasses.replace(
            self.server, anonymous=(AnonymousConfig(
                self.anon, user="nobody", group="nogroup",
                user_aliases=(("anonymous", "nobody"),)),))
        self.factory.portal = make_portal(self.server)

    @defer.inlineCallbacks
    def test_read_only(self):
        def run():
            f = ftplib.FTP()
            f.connect("127.0.0.1", self.port, timeout=10)
            f.login("anonymous", "guest@example.com")
            out = []
            for c in ("MFF UNIX.mode=0777; a.txt", "SITE CHGRP nogroup a.txt", "TYPE I",
                      "RANG 0 1"):
                try:
                    out.append(f.sendcmd(c))
                except ftplib.error_perm as e:
                    out.append(str(e))
            f.quit()
            return out
        out = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(out, ["550 a.txt: Operation not permitted",
                               # as SITE CHMOD's <Limit> refusal, sub-command included
                               "550 CHGRP nogroup a.txt: Permission denied",
                               "200 Type set to I",
                               "350 Transferring byte range of 2 bytes starting from 0"])
        self.assertEqual(os.stat(os.path.join(self.anon, "a.txt")).st_mode & 0o777, 0o644)

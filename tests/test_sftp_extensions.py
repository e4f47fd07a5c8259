# -*- test-case-name: tests.test_sftp_extensions -*-
"""OpenSSH's SFTP extensions ProFTPD 1.3.8's mod_sftp offers and ftpredis serves:
``posix-rename@openssh.com`` (OpenSSH's ``rename``), ``statvfs@openssh.com`` (its
``df``), ``fstatvfs@openssh.com``, ``fsync@openssh.com`` (``put -f``),
``hardlink@openssh.com`` (``ln``) and ``home-directory``; their answers, their records
(as ``tools/compare_proftpd.py sftp_extensions`` and ``sftp_links`` saw mod_sftp write
them) and the jail."""

import os
import struct

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.support.sftp_scenarios import extension_probe
from tests.test_sftp import _SFTPSite, _str, _u32
from tests.test_sftp_faults import CLOSE, EXTENDED, OPEN, OPENDIR, WRITE, _Client

_STATVFS = struct.Struct(">11Q")


def _version_extensions(reply):
    """(name, data) pairs of a VERSION answer (type, version, then the pairs)."""
    out, data = [], reply[5:]
    while data:
        n = struct.unpack(">I", data[:4])[0]
        name, data = data[4:4 + n], data[4 + n:]
        n = struct.unpack(">I", data[:4])[0]
        out.append((name, data[4:4 + n]))
        data = data[4 + n:]
    return out


class _Extended(_Client):
    """_Client that keeps the VERSION answer and reads EXTENDED_REPLY's data."""

    def __init__(self, port):
        self.version = None
        _Client.__init__(self, port)

    def _receive(self):
        reply = _Client._receive(self)
        if self.version is None:
            self.version = reply
        return reply

    def extended(self, name, body):
        self.id += 1
        self._send(bytes([EXTENDED]) + _u32(self.id) + _str(name) + body)
        reply = self._receive()
        if reply[0] == 201:
            return "REPLY", reply[5:]
        if reply[0] == 104:
            return "NAME", reply
        code, n = struct.unpack(">II", reply[5:13])
        return "STATUS", code, reply[13:13 + n].decode()


class SFTPExtensionTests(_SFTPSite, unittest.TestCase):

    @defer.inlineCallbacks
    def test_rename_replaces(self):
        """OpenSSH's rename goes over posix-rename@openssh.com, which replaces an
        existing file (SFTP v3's RENAME never does: the rename failed), recorded as
        RNFR and RNTO; failures as mod_sftp words them ("RNFR: <reason>"), a refusal
        of <Limit> or a rename onto itself as for RENAME."""
        with open(os.path.join(self.local, "up.txt"), "wb") as f:
            f.write(b"y" * 300)
        p = yield self.sftp("put up.txt\nrename up.txt a.txt\n-rename missing.txt m.txt\n"
                            "-rename a.txt ro/b.txt\n-rename a.txt a.txt\n")
        self.assertIn(b'remote rename "/missing.txt" to "/m.txt": No such file or '
                      b'directory', p.stdout)
        self.assertIn(b'remote rename "/a.txt" to "/ro/b.txt": Permission denied',
                      p.stdout)
        with open(os.path.join(self.home, "a.txt"), "rb") as f:
            self.assertEqual(f.read(), b"y" * 300)
        self.assertEqual(sorted(os.listdir(self.home)), ["a.txt", "nr", "ro"])
        got = yield self.lines(14)
        tail = "|ftpuser|ftpuser|-"
        self.assertEqual(got[5:], [
            "RNFR|/up.txt|350|File or directory exists, ready for destination name|sftp|0|"
            "/up.txt|-|-" + tail,
            "RNTO|/a.txt|250|Rename successful|sftp|0|/a.txt|-|-" + tail,
            "RNFR|/missing.txt|550|RNFR: No such file or directory|sftp|0|/missing.txt|-|-"
            + tail,
            "RNTO|/m.txt|550|RNTO: No such file or directory|sftp|0|/m.txt|-|-" + tail,
            "RNTO|/ro/b.txt|550|/ro/b.txt: Permission denied|sftp|-|/ro/b.txt|-|-" + tail,
            "RNFR|/a.txt|550|/a.txt: Permission denied|sftp|-|-|-|-" + tail,
            "RNTO|/a.txt|550|/a.txt: File exists|sftp|-|/a.txt|-|-" + tail,
            "RNFR|/a.txt|550|/a.txt: File exists|sftp|-|-|-|-" + tail,
            "EXIT|-|-|-|ssh2|-|-|-|-|ftpuser|ftpuser|Quit: disconnected by user"])
        sftp_log = open(os.path.join(self.base, "sftp.log")).read()
        self.assertIn("RENAME of '/a.txt' to '/ro/b.txt' blocked by <Limit> "
                      "configuration", sftp_log)
        self.assertIn("error renaming '/missing.txt' to '/m.txt': No such file or "
                      "directory", sftp_log)

    @defer.inlineCallbacks
    def test_df(self):
        """OpenSSH's df (statvfs@openssh.com) shows the home's file system; it said the
        server does not support the extension."""
        p = yield self.sftp("df\ndf -i\n")
        out = p.stdout.decode()
        st = os.statvfs(self.home)
        lines = out.splitlines()
        sizes = lines[lines.index("sftp> df") + 2].split()
        inodes = lines[lines.index("sftp> df -i") + 2].split()
        # Size in KiB and the inode count: what does not move while the suite runs.
        self.assertEqual(int(sizes[0]), st.f_frsize * st.f_blocks // 1024, out)
        self.assertEqual(int(inodes[0]), st.f_files, out)
        # Not logged, as by mod_sftp.
        got = yield self.lines(5)
        self.assertEqual([line.split("|")[0] for line in got],
                         ["-", "USER", "USER", "PASS", "EXIT"])

    @defer.inlineCallbacks
    def test_offered_and_jailed(self):
        """VERSION offers what mod_sftp's does of these, in its order; statvfs and fstatvfs
        answer the jail's view (a path outside is not found, and a link to "/" names the
        jail's top, as in ProFTPD's chroot),
        fstatvfs takes a file's or a directory's handle; posix-rename stays in the jail
        and keeps <Limit WRITE> on the source (mod_sftp checks only the destination's:
        a file could leave a write-protected directory)."""
        os.symlink("/", os.path.join(self.home, "out"))
        with open(os.path.join(self.home, "ro", "keep.txt"), "wb") as f:
            f.write(b"k")

        def run():
            c = _Extended(self.port)
            try:
                out = {"version": _version_extensions(c.version)}
                out["/"] = c.extended(b"statvfs@openssh.com", _str(b"/"))
                out["bad"] = [c.extended(b"statvfs@openssh.com", _str(p))
                              for p in (b"/etc", b"out", b"out/etc", b"missing", b"")]
                h = c.send(OPEN, _str(b"a.txt") + _u32(1) + _u32(0))[1]
                d = c.send(OPENDIR, _str(b"/nr"))[1]
                out["handles"] = [c.extended(b"fstatvfs@openssh.com", _str(h)),
                                  c.extended(b"fstatvfs@openssh.com", _str(d)),
                                  c.extended(b"fstatvfs@openssh.com", _str(b"zzz"))]
                c.send(CLOSE, _str(h))
                c.send(CLOSE, _str(d))
                rename = [c.extended(b"posix-rename@openssh.com", _str(a) + _str(b))
                          for a, b in ((b"a.txt", b"out/tmp/escaped.txt"),
                                       (b"ro/keep.txt", b"kept.txt"),
                                       (b"../../a.txt", b"b.txt"))]
                out["rename"] = rename
                out["works"] = c.works()
                return out
            finally:
                c.close()
        out = yield e2e.in_thread(run)
        self.assertEqual(out["version"], [(b"fsync@openssh.com", b"1"),
                                          (b"posix-rename@openssh.com", b"1"),
                                          (b"statvfs@openssh.com", b"2"),
                                          (b"fstatvfs@openssh.com", b"2"),
                                          (b"hardlink@openssh.com", b"1"),
                                          (b"home-directory", b"1")])
        kind, reply = out["/"]
        self.assertEqual(kind, "REPLY")
        fields = _STATVFS.unpack(reply)
        st = os.statvfs(self.home)
        self.assertEqual((fields[0], fields[1], fields[2], fields[5], fields[10]),
                         (st.f_bsize, st.f_frsize, st.f_blocks, st.f_files, st.f_namemax))
        # "out" is a link to "/": in ProFTPD's chroot that is the jail's top (its free
        # counts may move between the two calls)
        kind, reply = out["bad"].pop(1)
        self.assertEqual(kind, "REPLY")
        linked = _STATVFS.unpack(reply)
        self.assertEqual((linked[0], linked[1], linked[2], linked[5], linked[10]),
                         (fields[0], fields[1], fields[2], fields[5], fields[10]))
        self.assertEqual(out["bad"], [("STATUS", 2, "No such file")] * 4)
        self.assertEqual([h[0] for h in out["handles"][:2]], ["REPLY", "REPLY"])
        self.assertEqual([_STATVFS.unpack(h[1])[2] for h in out["handles"][:2]],
                         [st.f_blocks] * 2)
        self.assertEqual(out["handles"][2], ("STATUS", 9, "Invalid handle"))
        # out/tmp is /tmp of the jail, which it has not (as in ProFTPD's chroot)
        self.assertEqual(out["rename"], [("STATUS", 2, "No such file"),
                                         ("STATUS", 3, "Permission denied"),
                                         ("STATUS", 0, "OK")])
        self.assertTrue(out["works"])
        self.assertFalse(os.path.exists("/tmp/escaped.txt"))
        self.assertTrue(os.path.exists(os.path.join(self.home, "ro", "keep.txt")))
        self.assertEqual(sorted(os.listdir(self.home)), ["b.txt", "nr", "out", "ro"])
        log = self.logged()
        for bad in ("Traceback", "#critical", "Unhandled"):
            self.assertNotIn(bad, log)


#: What mod_sftp answered to extension_probe (tools/compare_proftpd.py sftp_links), but
#: for the differences README.rst gives: home-directory under DefaultRoot ~ (mod_sftp
#: stats the home's real path inside its chroot: 2 "No such file"), a hard link out of a
#: <Limit READ> directory and one of a symbolic link (mod_sftp made both).
PROFTPD = """\
OPEN a.txt read: HANDLE
fsync a file opened for reading: STATUS 0 'OK' en-US
CLOSE file: STATUS 0 'OK' en-US
fsync a closed handle: STATUS 9 'Invalid handle' en-US
OPENDIR /: HANDLE
fsync a directory: STATUS 9 'Invalid handle' en-US
CLOSE directory: STATUS 0 'OK' en-US
home-directory of the session's user: STATUS 2 'No such file' en-US
home-directory ftpuser: STATUS 2 'No such file' en-US
home-directory nosuchuser: STATUS 2 'No such file' en-US
home-directory root: STATUS 2 'No such file' en-US
hardlink nr/f.txt (<Limit READ>): STATUS 0 'OK' en-US
hardlink link (a symbolic link): STATUS 0 'OK' en-US
hardlink a.txt onto itself: STATUS 4 'File already exists' en-US
hardlink a.txt onto nr/f.txt (exists): STATUS 4 'File already exists' en-US
hardlink a directory: STATUS 3 'Permission denied' en-US
hardlink to nodir/: STATUS 2 'No such file' en-US""".splitlines()

#: Where ftpredis answers otherwise, and why (README.rst).
DIFFERENT = {
    "home-directory of the session's user": "NAME /",
    "home-directory ftpuser": "NAME /",
    "hardlink nr/f.txt (<Limit READ>)": "STATUS 3 'Permission denied' en-US",
    "hardlink link (a symbolic link)": "STATUS 3 'Permission denied' en-US",
}


class SFTPLinkTests(_SFTPSite, unittest.TestCase):
    """fsync@openssh.com, hardlink@openssh.com and home-directory."""

    @defer.inlineCallbacks
    def test_ln_and_put_f(self):
        """OpenSSH's ln makes a hard link (hardlink@openssh.com), its put -f asks for
        fsync@openssh.com: the transcript mod_sftp gave (tools/compare_proftpd.py
        sftp_links; before, sftp said the server does not support them).  Neither is
        recorded, as by mod_sftp; SFTPLog says why a link failed in mod_sftp's words."""
        with open(os.path.join(self.local, "up.txt"), "wb") as f:
            f.write(b"y" * 300)
        p = yield self.sftp("put -f up.txt\nln a.txt h.txt\n-ln missing.txt m.txt\n"
                            "-ln a.txt ro/h.txt\n-ln a.txt a.txt\n-ln up.txt h.txt\n"
                            "-ln a.txt nodir/h.txt\n")
        out = p.stdout.decode()
        self.assertNotIn("not support", out)
        for line in ('remote link "/missing.txt" to "/m.txt": No such file or directory',
                     'remote link "/a.txt" to "/ro/h.txt": Permission denied',
                     'remote link "/a.txt" to "/a.txt": Failure',
                     'remote link "/up.txt" to "/h.txt": Failure',
                     'remote link "/a.txt" to "/nodir/h.txt": No such file or directory'):
            self.assertIn(line, out)
        a, h = (os.stat(os.path.join(self.home, n)) for n in ("a.txt", "h.txt"))
        self.assertEqual((a.st_ino, a.st_nlink), (h.st_ino, 2))
        with open(os.path.join(self.home, "up.txt"), "rb") as f:
            self.assertEqual(f.read(), b"y" * 300)
        got = yield self.lines(6)
        self.assertEqual([line.split("|")[0] for line in got],
                         ["-", "USER", "USER", "PASS", "STOR", "EXIT"])
        sftp_log = open(os.path.join(self.base, "sftp.log")).read()
        self.assertIn("HARDLINK of '/a.txt' to '/ro/h.txt' blocked by <Limit> "
                      "configuration", sftp_log)
        self.assertIn("HARDLINK of '/a.txt' to same path '/a.txt', rejecting", sftp_log)
        self.assertIn("error hardlinking '/missing.txt' to '/m.txt': No such file or "
                      "directory", sftp_log)

    @defer.inlineCallbacks
    def test_answers_as_proftpd(self):
        """Each request of extension_probe answered as mod_sftp answered it, but where
        README.rst says why not: home-directory shows the home ("/" in the jail), a hard
        link is refused out of a <Limit READ> directory and of a symbolic link."""
        got = yield e2e.in_thread(extension_probe, self.port, self.home)
        want = []
        for line in PROFTPD:
            label = line.split(": ", 1)[0]
            want.append(label + ": " + DIFFERENT[label] if label in DIFFERENT else line)
        self.assertEqual(got, want)
        self.assertFalse(os.path.lexists(os.path.join(self.home, "f.txt")))
        self.assertFalse(os.path.lexists(os.path.join(self.home, "link2")))

    @defer.inlineCallbacks
    def test_jail(self):
        """A hard link stays in the jail (a path through a symbolic link out of it is
        not found, as in ProFTPD's chroot) and keeps <Limit WRITE> on the source (a
        second name outside ro/ would let the file be overwritten); home-directory's
        NAME carries the home's long name and attributes."""
        os.symlink("/", os.path.join(self.home, "out"))
        with open(os.path.join(self.home, "ro", "keep.txt"), "wb") as f:
            f.write(b"k")
        outside = os.path.join(self.base, "outside.txt")
        with open(outside, "wb") as f:
            f.write(b"o")

        def run():
            c = _Extended(self.port)
            try:
                links = [c.extended(b"hardlink@openssh.com", _str(a) + _str(b))
                         for a, b in (((b"out" + outside.encode()), b"got.txt"),
                                      (b"a.txt", b"out" + self.base.encode() + b"/x.txt"),
                                      (b"ro/keep.txt", b"kept.txt"),
                                      (b"../../a.txt", b"b.txt"))]
                home = c.extended(b"home-directory", _str(b""))
                return links, home, c.works()
            finally:
                c.close()
        links, home, works = yield e2e.in_thread(run)
        self.assertEqual(links, [("STATUS", 2, "No such file"), ("STATUS", 2, "No such file"),
                                 ("STATUS", 3, "Permission denied"), ("STATUS", 0, "OK")])
        self.assertTrue(works)
        self.assertEqual(sorted(os.listdir(self.home)), ["a.txt", "b.txt", "nr", "out", "ro"])
        self.assertFalse(os.path.exists(os.path.join(self.base, "x.txt")))
        self.assertEqual(os.stat(outside).st_nlink, 1)
        kind, reply = home
        self.assertEqual((kind, reply[0]), ("NAME", 104))
        data = reply[9:]
        self.assertEqual(struct.unpack(">I", reply[5:9])[0], 1)
        n = struct.unpack(">I", data[:4])[0]
        self.assertEqual(data[4:4 + n], b"/")
        data = data[4 + n:]
        n = struct.unpack(">I", data[:4])[0]
        longname, attrs = data[4:4 + n].decode(), data[4 + n:]
        self.assertTrue(longname.startswith("drwx"), longname)
        self.assertTrue(longname.endswith(" /"), longname)
        st = os.stat(self.home)
        # (The access time moved: the directory was listed since.)
        fields = struct.unpack(">IQIIIII", attrs)
        self.assertEqual(fields[:5] + fields[6:], (15, st.st_size, st.st_uid, st.st_gid,
                                                   st.st_mode, int(st.st_mtime)))

    @defer.inlineCallbacks
    def test_fsync_between_writes_and_close(self):
        """WRITE, fsync@openssh.com, WRITE and CLOSE sent at once: answered in order, the
        fsync after the first write and before the descriptor is closed, the upload
        whole and recorded once."""
        def run():
            c = _Client(self.port)
            try:
                h = _str(c.send(OPEN, _str(b"s.txt") + _u32(2 | 8 | 16) + _u32(0))[1])
                for body in (bytes([WRITE]) + h + struct.pack(">Q", 0) + _str(b"x" * 1000),
                             bytes([EXTENDED]) + _str(b"fsync@openssh.com") + h,
                             bytes([WRITE]) + h + struct.pack(">Q", 1000)
                             + _str(b"z" * 1000),
                             bytes([EXTENDED]) + _str(b"fsync@openssh.com") + h,
                             bytes([CLOSE]) + h):
                    c.id += 1
                    c._send(body[:1] + _u32(c.id) + body[1:])
                return [c.answer() for _ in range(5)]
            finally:
                c.close()
        answers = yield e2e.in_thread(run)
        self.assertEqual(answers, [("STATUS", 0, "OK")] * 5)
        with open(os.path.join(self.home, "s.txt"), "rb") as f:
            self.assertEqual(f.read(), b"x" * 1000 + b"z" * 1000)
        got = yield self.lines(6)
        self.assertEqual(got[4].split("|")[:6], ["STOR", "s.txt", "226", "Transfer complete",
                                                 "sftp", "2000"])
        log = self.logged()
        for bad in ("Traceback", "#critical", "Unhandled"):
            self.assertNotIn(bad, log)

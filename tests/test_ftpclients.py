# -*- test-case-name: tests.test_ftpclients -*-
"""Real clients against ftpredis over loopback: lftp (mirror both ways, resumed get and
put, mkdir/mv/rm/chmod, cls over MLSD) and curl (download, upload, ``-C -`` resume,
PASV, EPSV, PORT/EPRT, listings).  Every client runs as a subprocess in a thread."""

from __future__ import annotations

import os
import subprocess

from twisted.internet import defer
from twisted.trial import unittest

from tests.support.ftphelpers import FTPServerMixin, PASSWORD, USER

LFTP_SETTINGS = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
                 "set ftp:ssl-allow no; set xfer:clobber on; set ftp:passive-mode on; ")


class _Clients(FTPServerMixin):

    def setUp(self):
        FTPServerMixin.setUp(self)
        self.factory.allowStoreRestart = True
        self.factory.loginFailureDelay = 0.01
        self.local = os.path.abspath(self.mktemp())
        os.makedirs(self.local)

    def url(self, path=""):
        return "ftp://%s:%s@127.0.0.1:%d/%s" % (USER, PASSWORD, self.port, path)

    def _exec(self, argv):
        d = self.inThread(subprocess.run, argv, capture_output=True, timeout=60)
        return d

    def lftp(self, script):
        return self._exec(["lftp", "-c", LFTP_SETTINGS + "open -u %s,%s ftp://127.0.0.1:%d; %s"
                         % (USER, PASSWORD, self.port, script)])

    def curl(self, *args):
        return self._exec(["curl", "-sS", "--max-time", "30"] + list(args))

    def tree(self, root):
        out = {}
        for d, dirs, files in os.walk(root):
            for n in files:
                p = os.path.join(d, n)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, root)] = f.read()
        return out


class LftpTests(_Clients, unittest.TestCase):

    @defer.inlineCallbacks
    def test_mirror_up_and_down(self):
        src = os.path.join(self.local, "src")
        os.makedirs(os.path.join(src, "sub", "deeper"))
        files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(300000),
                 "sub/deeper/c caf\u00e9.txt": b"c"}
        for rel, data in files.items():
            with open(os.path.join(src, rel), "wb") as f:
                f.write(data)
        r = yield self.lftp("mirror -R %s up; mirror up %s/down" % (src, self.local))
        yield self.waitExits()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.tree(self.path("up")), files)
        self.assertEqual(self.tree(os.path.join(self.local, "down")), files)
        verbs = {e.verb for e in self.commands()}
        self.assertTrue({"MKD", "STOR", "RETR", "MLSD"} <= verbs, verbs)
        self.assertEqual({e.response_code for e in self.commands("STOR")}, {226})

    @defer.inlineCallbacks
    def test_resume_get_and_put(self):
        data = os.urandom(1000000)
        self.write("big.bin", data)
        part = os.path.join(self.local, "big.bin")
        with open(part, "wb") as f:
            f.write(data[:400000])               # an interrupted download
        up = os.path.join(self.local, "up.bin")
        with open(up, "wb") as f:
            f.write(data)
        self.write("up.bin", data[:300000])     # an interrupted upload
        r = yield self.lftp("get -c big.bin -o %s; put -c %s -o up.bin" % (part, up))
        yield self.waitExits()
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(part, "rb") as f:
            self.assertEqual(f.read(), data)
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        retr = self.last("RETR")
        self.assertEqual((retr.file_offset, retr.bytes_sent), (400000, 600000))
        stor = self.commands("STOR") + self.commands("APPE")
        self.assertEqual([(e.file_offset, e.bytes_sent) for e in stor], [(300000, 700000)])
        self.assertIn(300000, [int(e.command_params) for e in self.commands("REST")])

    @defer.inlineCallbacks
    def test_file_operations_and_cls(self):
        self.write("f.txt", b"x")
        r = yield self.lftp("mkdir d; mv f.txt d/g.txt; chmod 600 d/g.txt; cls -l d; "
                            "rm d/g.txt; rmdir d; cls -1")
        yield self.waitExits()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"g.txt", r.stdout)
        self.assertEqual(os.listdir(self.home), [])
        verbs = [e.verb for e in self.commands()]
        for v in ("MKD", "RNFR", "RNTO", "SITE", "MLSD", "DELE", "RMD"):
            self.assertIn(v, verbs)
        self.assertEqual(self.last("SITE").command, "SITE CHMOD")
        self.assertEqual(self.last("SITE").response_code, 200)


class CurlTests(_Clients, unittest.TestCase):

    @defer.inlineCallbacks
    def test_download_upload_modes(self):
        data = os.urandom(200000)
        self.write("f.bin", data)
        src = os.path.join(self.local, "src.bin")
        with open(src, "wb") as f:
            f.write(data)
        outs = []
        for mode in (["--ftp-pasv"], ["--disable-epsv"], ["--ftp-port", "127.0.0.1"],
                     ["--ftp-port", "127.0.0.1", "--disable-eprt"]):
            out = os.path.join(self.local, "out%d" % len(outs))
            r = yield self.curl(*mode, "-o", out, self.url("f.bin"))
            self.assertEqual(r.returncode, 0, (mode, r.stderr))
            r = yield self.curl(*mode, "-T", src, self.url("up%d.bin" % len(outs)))
            self.assertEqual(r.returncode, 0, (mode, r.stderr))
            outs.append(out)
        yield self.waitExits(8)
        for i, out in enumerate(outs):
            with open(out, "rb") as f:
                self.assertEqual(f.read(), data)
            with open(self.path("up%d.bin" % i), "rb") as f:
                self.assertEqual(f.read(), data)
        verbs = [e.verb for e in self.commands()]
        for v in ("EPSV", "PASV", "EPRT", "PORT"):
            self.assertIn(v, verbs)

    @defer.inlineCallbacks
    def test_resume_and_listing(self):
        data = os.urandom(300000)
        self.write("f.bin", data)
        part = os.path.join(self.local, "f.bin")
        with open(part, "wb") as f:
            f.write(data[:100000])
        r = yield self.curl("-C", "-", "-o", part, self.url("f.bin"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(part, "rb") as f:
            self.assertEqual(f.read(), data)
        self.write("up.bin", data[:50000])
        r = yield self.curl("-C", "-", "-T", part, self.url("up.bin"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        r1 = yield self.curl(self.url())
        r2 = yield self.curl("-l", self.url())
        yield self.waitExits(4)
        self.assertIn(b" f.bin\r\n", r1.stdout.replace(b"\n", b"\r\n").replace(b"\r\r", b"\r"))
        self.assertEqual(sorted(r2.stdout.split()), [b"f.bin", b"up.bin"])
        self.assertEqual(self.last("RETR").file_offset, 100000)
        self.assertEqual((self.last("APPE").file_offset, self.last("APPE").bytes_sent),
                         (50000, 250000))

# -*- test-case-name: tests.test_shared_root -*-
"""Sessions jailed in one home share its root descriptor: an idle logged-in session holds
its control socket only, a home replaced between two logins gives the second the new
directory, and sessions using the shared descriptor at once each get their own files."""

from __future__ import annotations

import ftplib
import io
import os

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.ftp import nowait
from tests.support.ftphelpers import FTPServerMixin


def _descriptors() -> list:
    """This process's open descriptors as what they point at (the server runs here)."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink("/proc/self/fd/" + name))
        except OSError:
            pass        # the listing's own descriptor, closed already
    return out


def _retr(f: ftplib.FTP, name: str) -> bytes:
    buf = io.BytesIO()
    f.retrbinary("RETR " + name, buf.write)
    return buf.getvalue()


class SharedRootTests(FTPServerMixin, unittest.TestCase):

    def setUp(self):
        if not nowait.SUPPORTED:
            raise unittest.SkipTest("no root descriptor on this machine")
        FTPServerMixin.setUp(self)
        self.write("f.txt", b"line1\nline2\n")

    @defer.inlineCallbacks
    def test_idle_session_holds_its_socket_only(self):
        """Five sessions logged in under one home: the server holds one descriptor of
        the home for all of them, and per session only the control connection (each
        session here is two sockets, the client's end being in this process too)."""
        def warm():
            self.client().quit()        # the password verified once, logins take no thread
        yield self.inThread(warm)
        yield self.waitExits(1)
        before = _descriptors()
        held = []

        def login(n):
            for _ in range(n):
                held.append(self.client())
        self.addCleanup(lambda: [f.close() for f in held])
        yield self.inThread(login, 5)
        yield self.waitFor(lambda: self.factory.logged_in == 5)
        during = _descriptors()
        self.assertEqual(during.count(self.home), 1)
        self.assertEqual(len(during) - len(before), 5 * 2 + 1, sorted(during))

        def leave():
            for f in held:
                f.quit()
        yield self.inThread(leave)
        yield self.waitExits(6)
        after = _descriptors()
        self.assertEqual(after.count(self.home), 0)
        self.assertEqual(len(after), len(before))

    @defer.inlineCallbacks
    def test_replaced_home_gives_the_next_login_the_new_directory(self):
        """The home renamed away and made again between two logins: the second session
        lists and retrieves the new directory's files, not the first session's."""
        self.write("same.txt", b"old home\n")
        first = yield self.inThread(self.client)
        self.addCleanup(first.close)
        yield self.waitFor(lambda: self.factory.logged_in == 1)
        os.rename(self.home, self.home + ".old")
        os.mkdir(self.home)
        self.write("same.txt", b"new home\n")
        self.write("new.txt", b"only here\n")

        def second():
            f = self.client()
            try:
                return sorted(f.nlst()), _retr(f, "same.txt"), _retr(f, "new.txt")
            finally:
                f.quit()
        names, same, new = yield self.inThread(second)
        self.assertEqual((names, same, new), (["new.txt", "same.txt"], b"new home\n",
                                              b"only here\n"))
        self.assertEqual(_descriptors().count(self.home + ".old"), 1)   # the first's
        yield self.inThread(first.quit)
        yield self.waitExits(2)
        self.assertEqual(_descriptors().count(self.home + ".old"), 0)
        self.assertEqual(_descriptors().count(self.home), 0)

    @defer.inlineCallbacks
    def test_sessions_sharing_the_root_at_once(self):
        """Several sessions listing, storing and retrieving at the same time through the
        one root descriptor: each gets exactly its own files back."""
        def session(i):
            f = self.client()
            try:
                out = []
                for r in range(5):
                    name = "s%d-%d.bin" % (i, r)
                    data = (b"%d:%d " % (i, r)) * (1000 * (r + 1))
                    f.storbinary("STOR " + name, io.BytesIO(data))
                    out.append((name in f.nlst(), _retr(f, name) == data,
                                _retr(f, "f.txt")))
                    lines = []
                    f.retrlines("LIST", lines.append)
                    out.append(any(line.endswith(" " + name) for line in lines))
                return out
            finally:
                f.quit()
        results = yield defer.gatherResults([self.inThread(session, i) for i in range(4)])
        for out in results:
            self.assertEqual(out, [(True, True, b"line1\nline2\n"), True] * 5)
        yield self.waitExits(4)
        self.assertEqual(_descriptors().count(self.home), 0)

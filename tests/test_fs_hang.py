# -*- test-case-name: tests.test_fs_hang -*-
"""A session whose file system hangs does not hold up the others.

Two real FTP sessions against an in-process server.  Session A's disk is made to hang
for 2 s (a dead network mount): either its jail is wrapped so that the first disk call
of a command blocks, or, for the login, its DisplayLogin file is a FIFO nobody writes
to (a real open() that blocks).  Session B's NOOPs must still be answered within 50 ms
while A waits, and A's command then completes as usual.  B's round trip is well under
1 ms on loopback; a blocked reactor would make it wait for the rest of the hang.
"""

from __future__ import annotations

import io
import os
import threading
import time

from twisted.internet import defer, reactor
from twisted.trial import unittest

from tests.support.ftphelpers import PASSWORD, USER, FTPServerMixin

HANG = 2.0
BOUND = 0.05

#: The JailedFS methods the commands below reach first.
_DISK_CALLS = ("stat", "open_read", "chdir", "mkdir", "listing", "resolve", "lstat",
               "unlink", "rename", "utime", "chmod", "rmdir")


def _probe(client):
    """Five NOOP round trips, spread over the first half of a hang, timed in the calling
    (client) thread: the reactor may be the one stuck."""
    took = []
    for _ in range(5):
        t = time.monotonic()
        client.voidcmd("NOOP")
        took.append(time.monotonic() - t)
        time.sleep(HANG / 10)       # spreads the probes over the hang
    return took


class _HangingJail:
    """A JailedFS whose first disk call after :meth:`arm` blocks ``HANG`` seconds."""

    def __init__(self, jail):
        self._jail = jail
        self.entered = threading.Event()
        self._armed = False

    def arm(self):
        self._armed = True

    @staticmethod
    def open_read_now(path):
        # A network mount is never opened on the reactor's fast path.
        return None

    def __getattr__(self, name):
        attr = getattr(self._jail, name)
        if name not in _DISK_CALLS:
            return attr

        def call(*args, **kw):
            if self._armed:
                self._armed = False
                self.entered.set()
                time.sleep(HANG)
            return attr(*args, **kw)
        return call


class HungFileSystemTests(FTPServerMixin, unittest.TestCase):

    def setUp(self):
        FTPServerMixin.setUp(self)
        self.write("file.bin", b"x" * 4096)
        os.mkdir(self.path("sub"))

    @defer.inlineCallbacks
    def sessions(self):
        a = yield self.inThread(self.client)
        b = yield self.inThread(self.client)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        port = a.sock.getsockname()[1]
        [proto] = [p for p in self.factory.instances if p.transport.getPeer().port == port]
        hanging = _HangingJail(proto.fs.jail)
        proto.fs.jail = hanging
        yield self.inThread(a.voidcmd, "TYPE I")
        yield self.inThread(b.voidcmd, "NOOP")          # warmed up
        hanging.arm()
        return a, b, hanging.entered

    def noops(self, client, entered):
        """B's NOOP round trips once A's disk call has started."""
        if not entered.wait(10):
            raise AssertionError("A's disk was never called")
        return _probe(client)

    @defer.inlineCallbacks
    def check_other_session(self, b, entered, command):
        took = yield self.inThread(self.noops, b, entered)
        # The median, so that one scheduling hiccup of a loaded test machine does not
        # fail it; a blocked reactor makes every one of them wait.
        self.assertLess(sorted(took)[2], BOUND, "NOOP round trips while A hangs: %r" % (took,))
        self.assertLess(max(took), HANG / 4, "NOOP round trips while A hangs: %r" % (took,))
        self.assertFalse(command.called, "A's command did not wait for its disk")

    @defer.inlineCallbacks
    def test_size(self):
        a, b, entered = yield self.sessions()
        size = self.inThread(a.sendcmd, "SIZE file.bin")
        yield self.check_other_session(b, entered, size)
        self.assertEqual((yield size), "213 4096")

    @defer.inlineCallbacks
    def test_retr(self):
        a, b, entered = yield self.sessions()
        got = []
        retr = self.inThread(a.retrbinary, "RETR file.bin", got.append)
        yield self.check_other_session(b, entered, retr)
        self.assertTrue((yield retr).startswith("226"))
        self.assertEqual(b"".join(got), b"x" * 4096)

    @defer.inlineCallbacks
    def test_stor(self):
        a, b, entered = yield self.sessions()
        stor = self.inThread(a.storbinary, "STOR up.bin", io.BytesIO(b"y" * 1000))
        yield self.check_other_session(b, entered, stor)
        self.assertTrue((yield stor).startswith("226"))
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), b"y" * 1000)

    @defer.inlineCallbacks
    def test_cwd(self):
        a, b, entered = yield self.sessions()
        cwd = self.inThread(a.cwd, "sub")
        yield self.check_other_session(b, entered, cwd)
        self.assertTrue((yield cwd).startswith("250"))
        self.assertEqual((yield self.inThread(a.pwd)), "/sub")

    @defer.inlineCallbacks
    def test_mkd(self):
        a, b, entered = yield self.sessions()
        mkd = self.inThread(a.mkd, "new")
        yield self.check_other_session(b, entered, mkd)
        self.assertEqual((yield mkd), "/new")
        self.assertTrue(os.path.isdir(self.path("new")))

    @defer.inlineCallbacks
    def test_list(self):
        a, b, entered = yield self.sessions()
        lines = []
        listing = self.inThread(a.retrlines, "LIST", lines.append)
        yield self.check_other_session(b, entered, listing)
        self.assertTrue((yield listing).startswith("226"))
        self.assertEqual(sorted(line.split()[-1] for line in lines), ["file.bin", "sub"])


class HungLoginTests(FTPServerMixin, unittest.TestCase):
    """The disk work of a login (the home, the jail, DisplayLogin) waits off the reactor:
    here DisplayLogin is a FIFO, whose open() blocks until someone opens it to write."""

    def setUp(self):
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        self.fifo = os.path.join(base, "welcome.fifo")
        os.mkfifo(self.fifo)
        self.server_options = dict(display_login=self.fifo)
        FTPServerMixin.setUp(self)

    def release(self):
        # The writer's open() lets the server's open() return; closing it ends the text.
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"Welcome, %U\n")
        os.close(fd)

    @defer.inlineCallbacks
    def test_login(self):
        b = yield self.inThread(self.client, False)
        self.addCleanup(b.close)
        a = yield self.inThread(self.client, False)
        self.addCleanup(a.close)
        yield self.inThread(a.sendcmd, "USER " + USER)
        login = self.inThread(a.sendcmd, "PASS " + PASSWORD)
        probed = defer.Deferred()

        def probe():
            # A thread of its own, not the reactor's pool: if the reactor is the one
            # stuck, the probes time out and the FIFO is released all the same.
            took = []
            try:
                took = _probe(b)
            except Exception as e:
                took.append(e)
            finally:
                self._releaseWhenOpened()
                reactor.callFromThread(probed.callback, took)
        threading.Thread(target=probe, daemon=True).start()
        took = yield probed
        self.assertFalse([t for t in took if isinstance(t, Exception)], took)
        self.assertLess(sorted(took)[2], BOUND, "NOOP round trips while A hangs: %r" % (took,))
        self.assertLess(max(took), HANG / 4, "NOOP round trips while A hangs: %r" % (took,))
        reply = yield login
        self.assertTrue(reply.startswith("230"), reply)
        self.assertIn("Welcome, " + USER, reply)

    def _releaseWhenOpened(self):
        # ENXIO until the server's open() waits on the other end.
        deadline = time.monotonic() + 10
        while True:
            try:
                return self.release()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

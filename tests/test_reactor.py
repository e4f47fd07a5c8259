# -*- test-case-name: tests.test_reactor -*-
"""ftpredis.app.reactor: the epoll reactor without per-event logging context, with BusyPoll.

The reactor under test is a fresh FTPRedisReactor driven turn by turn with doPoll (not
run): trial's own reactor keeps running the other tests.  Nothing here times anything:
the window's adaptation is checked by its state after given event patterns.
"""

from __future__ import annotations

import os
import socket
import textwrap
import threading

from twisted.internet import abstract
from twisted.trial import unittest

from ftpredis.app import reactor as ftpreactor
from ftpredis.config import load_config


class _Reader(abstract.FileDescriptor):
    def __init__(self, reactor, sock):
        abstract.FileDescriptor.__init__(self, reactor)
        self.sock = sock
        self.got = []

    def fileno(self):
        return self.sock.fileno()

    def doRead(self):
        data = self.sock.recv(100)
        if not data:
            return ValueError("closed")
        self.got.append(data)

    def connectionLost(self, reason):
        self.lost = reason


class ReactorTests(unittest.TestCase):

    def setUp(self):
        self.r = ftpreactor.FTPRedisReactor()
        self.addCleanup(self.r._poller.close)
        self.a, self.b = socket.socketpair()
        self.addCleanup(self.a.close)
        self.addCleanup(self.b.close)
        self.reader = _Reader(self.r, self.b)
        self.r.addReader(self.reader)
        self.addCleanup(self.r.removeAll)

    def test_dispatches_and_disconnects(self):
        """Events reach doRead; what doRead returns as a reason disconnects it."""
        self.a.send(b"hello")
        self.r.doPoll(1.0)
        self.assertEqual(self.reader.got, [b"hello"])
        self.a.close()
        self.r.doPoll(1.0)
        self.assertNotIn(self.reader, self.r.getReaders())
        self.assertTrue(self.reader.lost.check(ValueError))

    def test_after_turn_calls_run_once_the_turn_is_handled(self):
        """call_after_turn: after every event of the turn, before the next poll, once;
        one that raises is logged and the others still run."""
        seen = []
        orig = self.reader.doRead

        def doRead():
            seen.append("read")
            if len(seen) == 1:
                self.r.call_after_turn(lambda: seen.append("after"))
                self.r.call_after_turn(lambda: 1 / 0)
                self.r.call_after_turn(lambda: seen.append("after2"))
            return orig()
        self.reader.doRead = doRead
        self.a.send(b"x")
        self.r.doPoll(1.0)
        self.assertEqual(seen, ["read", "after", "after2"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.a.send(b"y")
        self.r.doPoll(1.0)
        self.assertEqual(seen, ["read", "after", "after2", "read"])

    def test_after_turn_asked_outside_events_runs_before_the_poll(self):
        """Asked for by a timed call (no I/O event in its turn): run before the poll
        waits, not once some later event arrives."""
        seen = []
        self.r.call_after_turn(lambda: seen.append("after"))
        self.r.doPoll(0)
        self.assertEqual(seen, ["after"])

    def test_after_turn_on_another_reactor(self):
        from twisted.internet.task import Clock
        clock = Clock()
        seen = []
        ftpreactor.call_after_turn(clock, lambda: seen.append(1))
        self.assertEqual(seen, [])
        clock.advance(0)
        self.assertEqual(seen, [1])

    def test_window_shrinks_when_polling_finds_nothing(self):
        self.r.set_busy_poll(100)
        self.a.send(b"x")
        self.r.doPoll(1.0)             # events: the next turn polls first
        self.r.doPoll(0.01)            # nothing came within the window
        self.assertEqual(self.r._window, 50000)
        for _ in range(6):
            # A slow peer: its next message comes milliseconds after the reactor slept.
            later = threading.Timer(0.005, self.a.send, (b"x",))
            later.start()
            self.r.doPoll(1.0)
            later.join()
            self.r.doPoll(0.01)
        self.assertEqual(self.r._window, 0)      # polling now costs nothing

    def test_window_opens_when_a_wait_was_short(self):
        self.r.set_busy_poll(100)
        self.r._window = 0
        self.a.send(b"x")               # already there: the blocking wait returns at once
        self.r.doPoll(1.0)
        self.assertEqual(self.r._window, 25000)
        self.a.send(b"x")
        self.r.doPoll(1.0)              # polled first (after events) and found it
        self.assertEqual(self.r._window, 25000)

    def test_off(self):
        self.r.set_busy_poll(0)
        self.a.send(b"x")
        self.r.doPoll(1.0)
        self.r.doPoll(0.01)
        self.assertEqual((self.r._window, self.reader.got), (0, [b"x"]))

    def test_install_keeps_an_installed_reactor(self):
        # trial's reactor is installed: install() must not replace it.
        self.assertFalse(ftpreactor.install())


class DirectiveTests(unittest.TestCase):

    def load(self, text):
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return load_config(path)

    def test_busy_poll(self):
        self.assertEqual(self.load("Port 2121\n").servers[0].busy_poll, 100)
        self.assertEqual(self.load("Port 2121\nBusyPoll 30\n").servers[0].busy_poll, 30)
        self.assertEqual(self.load("Port 2121\nBusyPoll off\n").servers[0].busy_poll, 0)
        r = ftpreactor.FTPRedisReactor()
        self.addCleanup(r._poller.close)
        ftpreactor.configure(self.load("Port 2121\nBusyPoll 30\n"), r)
        self.assertEqual(r.busy_poll_max, 30000)

    def test_bad_value(self):
        from ftpredis.config import ConfigErrors
        with self.assertRaises(ConfigErrors) as c:
            self.load("Port 2121\nBusyPoll lots\n")
        self.assertIn("BusyPoll", str(c.exception))
        self.assertIn("line 2", str(c.exception))


class _LeanProtocol:
    """A control-connection-like protocol that lets the reactor read for it."""
    lean_read = True

    def __init__(self):
        self.got = []
        self.lost = None
        self.fail = False

    def makeConnection(self, transport):
        self.transport = transport

    def dataReceived(self, data):
        if self.fail:
            raise ZeroDivisionError("boom")
        self.got.append(data)

    def connectionLost(self, reason):
        self.lost = reason


class LeanReadTests(unittest.TestCase):
    """Reads of a ``lean_read`` protocol's TCP connection skip Twisted's doRead but end
    as Twisted's would: data delivered, EOF and reset reported, a raising protocol
    logged and dropped."""

    def setUp(self):
        from twisted.internet import protocol
        self.r = ftpreactor.FTPRedisReactor()
        self.addCleanup(self.r._poller.close)
        self.protocols = []
        factory = protocol.Factory()

        def build(addr):
            p = _LeanProtocol()
            self.protocols.append(p)
            return p
        factory.buildProtocol = build
        self.port = self.r.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(self.r.removeAll)
        self.client = socket.create_connection(("127.0.0.1", self.port.getHost().port))
        self.addCleanup(self.client.close)
        while not self.protocols:
            self.r.doPoll(1.0)
        self.proto = self.protocols[0]

    def lean_only(self):
        """Make Twisted's doRead fail the test: the lean path must be the one taken."""
        def no_doRead():
            raise AssertionError("Twisted's doRead was used")
        self.proto.transport.doRead = no_doRead

    def poll_until(self, predicate):
        for _ in range(100):
            if predicate():
                return
            self.r.doPoll(1.0)
        self.fail("condition not met")

    def test_data_then_eof(self):
        self.lean_only()
        self.client.sendall(b"NOOP\r\n")
        self.poll_until(lambda: self.proto.got)
        self.assertEqual(self.proto.got, [b"NOOP\r\n"])
        self.client.shutdown(socket.SHUT_WR)
        self.poll_until(lambda: self.proto.lost is not None)
        from twisted.internet.error import ConnectionDone
        self.assertTrue(self.proto.lost.check(ConnectionDone))

    def test_reset(self):
        # A reset comes with EPOLLHUP|EPOLLERR: Twisted's own path, as before.
        import struct
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.close()
        self.poll_until(lambda: self.proto.lost is not None)
        from twisted.internet.error import ConnectionDone
        self.assertFalse(self.proto.lost.check(ConnectionDone))

    def test_raising_protocol_is_logged_and_dropped(self):
        self.lean_only()
        self.proto.fail = True
        self.client.sendall(b"NOOP\r\n")
        self.poll_until(lambda: self.proto.lost is not None)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertTrue(self.proto.lost.check(ZeroDivisionError))

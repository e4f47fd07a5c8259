# -*- test-case-name: tests.test_session_timers -*-
"""TimeoutIdle, TimeoutLogin and TimeoutNoTransfer on a session's one DelayedCall
(ftpredis.ftp.protocol): each fires when its own DelayedCall would have, under a
simulated clock.  The end-to-end timeouts are in tests/test_ftpcommands.py and
tests/test_protocol.py."""

from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.trial import unittest

from ftpredis.ftp.protocol import FTPRedisProtocol


class _Session(FTPRedisProtocol):
    """A protocol whose timeouts are recorded instead of written to a client."""

    def __init__(self, clock, idle=None, login=None, notransfer=None):
        self.factory = SimpleNamespace(reactor=clock)
        self.server = SimpleNamespace(timeout_login=login, timeout_no_transfer=notransfer)
        self.timeOut = idle
        self.fired = []
        self.clock = clock
        # What connectionMade arms.
        self.setTimeout(idle)
        if login:
            self._login_due = clock.seconds() + login
            self._arm(self._login_due, clock.seconds())

    def timeoutConnection(self):
        self.fired.append(("TimeoutIdle", self.clock.seconds()))

    def _policyTimeout(self, reply, event, seconds):
        self.fired.append((event, self.clock.seconds()))

    def login(self):
        self._cancelTimer("_login_timer")
        self._startNoTransferTimer()

    def lose(self):
        self.disconnected = True
        self.fired.append(("lost", self.clock.seconds()))


class OneTimerTests(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()

    def run_until(self, seconds):
        while self.clock.seconds() < seconds:
            self.clock.advance(min(0.5, seconds - self.clock.seconds()))

    def test_activity_postpones_idle(self):
        s = _Session(self.clock, idle=10)
        self.run_until(6)
        s.resetTimeout()
        self.run_until(13)
        s.resetTimeout()
        self.run_until(40)
        self.assertEqual(s.fired[0], ("TimeoutIdle", 23))
        self.assertEqual(len(s.fired), 1)      # fired once, as TimeoutMixin does

    def test_login_times_out_whatever_the_activity(self):
        s = _Session(self.clock, idle=10, login=30)
        for t in range(5, 40, 5):
            self.run_until(t)
            s.resetTimeout()
        self.assertEqual(s.fired, [("TimeoutLogin", 30)])

    def test_login_ends_login_timeout_and_starts_no_transfer(self):
        s = _Session(self.clock, idle=600, login=300, notransfer=20)
        self.run_until(100)
        s.login()                               # earlier than the armed 300: reset
        self.run_until(400)
        self.assertEqual(s.fired[0], ("TimeoutNoTransfer", 120))
        self.assertNotIn("TimeoutLogin", [e for e, _ in s.fired])

    def test_transfer_restarts_no_transfer(self):
        s = _Session(self.clock, idle=600, login=30, notransfer=50)
        self.run_until(10)
        s.login()
        self.run_until(40)
        s._cancelTimer("_notransfer_timer")     # a transfer starts
        self.run_until(100)
        s._startNoTransferTimer()               # and ends
        self.run_until(200)
        self.assertEqual(s.fired, [("TimeoutNoTransfer", 150)])

    def test_idle_stops_counting_and_starts_again(self):
        s = _Session(self.clock, idle=10)
        self.run_until(5)
        s.setTimeout(None)                      # a transfer runs
        self.run_until(30)
        self.assertEqual(s.fired, [])
        s.setTimeout(10)
        self.run_until(50)
        self.assertEqual(s.fired, [("TimeoutIdle", 40)])

    def test_deadlines_passed_together_fire_in_order_until_the_session_ends(self):
        s = _Session(self.clock, idle=10, login=9)
        self.clock.advance(20)
        self.assertEqual(s.fired, [("TimeoutLogin", 20), ("TimeoutIdle", 20)])
        s2 = _Session(self.clock, idle=10, login=9)
        s2._policyTimeout = lambda *a: s2.lose()
        self.clock.advance(20)
        self.assertEqual(s2.fired, [("lost", 40)])

    def test_one_delayed_call_per_session(self):
        s = _Session(self.clock, idle=600, login=300, notransfer=300)
        for t in range(1, 50):
            self.run_until(t)
            s.resetTimeout()
            if t == 10:
                s.login()
            self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.assertEqual(s.fired, [])

# -*- test-case-name: tests.test_reactor -*-
"""The reactor ftpredis runs on: Twisted's epoll reactor, leaner, with adaptive busy-poll.

Two changes to ``EPollReactor.doPoll``, both measured on the 2-vCPU benchmark VM:

* No logging context per event.  Twisted hands every ready descriptor to
  ``log.callWithLogger``, which builds a context (two dictionaries, four nested calls)
  so that legacy ``twisted.python.log`` messages carry the connection's prefix.
  ftpredis logs through ``twisted.logger`` with its own namespaces; the context cost
  4-5 us of the ~16 us a bare Twisted echo spends per message.  Errors are still caught,
  logged and the descriptor disconnected by ``_doReadOrWrite``, as before.

* Busy-poll before sleeping (``BusyPoll``, microseconds, main server context; default
  :data:`DEFAULT_BUSY_POLL_US`).  After a turn that handled events, the reactor asks
  epoll again without blocking for up to the window before it blocks.  An idle CPU of
  a virtual machine halts, and waking it again for the next packet cost 15-20 us on the
  benchmark VM (its guest halt-polling is off): a NOOP round trip took 68 us with the
  server busy enough never to halt and 84 us once it did less work and halted between
  commands.  With the window, 52 us, and p99 from 200 to 110 us.  The window adapts as
  KVM's halt-polling does: it halves each time polling found nothing (a client across a
  real network answers in milliseconds: the window soon shrinks to nothing and costs
  nothing), and opens again, doubling from a quarter, when a blocking wait returned
  within the maximum window (polling would have caught that event).  An idle server
  does not poll at all: only a turn with events starts a window.

:func:`install` is called by ``twistd ftpredis`` before anything imports the reactor; a
reactor chosen with ``twistd --reactor`` (or any other already installed) is kept, and
``BusyPoll`` then does nothing.
"""

from __future__ import annotations

import errno
import sys
import threading
import time

from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

try:
    from twisted.internet.epollreactor import EPollReactor
except ImportError:             # not Linux
    EPollReactor = None

from ftpredis.config.model import DEFAULT_BUSY_POLL_US

_log = Logger()

_ns = time.perf_counter_ns


class _CountingThreadPool(ThreadPool):
    """The reactor's thread pool, counting the work handed to it and not yet done.

    Busy-polling holds the GIL between its polls long enough to starve a worker thread
    (a thread that wants the GIL back waits for the switch interval, 5 ms): splice STOR,
    whose file writes run in the pool, fell from ~1700 to ~900 MiB/s.  The reactor does
    not busy-poll while the pool has work."""

    def __init__(self, *args, **kw):
        ThreadPool.__init__(self, *args, **kw)
        self.handed = 0             # changed in the reactor thread only
        self._done = 0              # changed by the workers, under the lock
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        return self.handed != self._done

    def _finished(self) -> None:
        with self._lock:
            self._done += 1

    def callInThreadWithCallback(self, onResult, func, *args, **kw):
        self.handed += 1
        if onResult is None:
            def counted(*a, **k):
                try:
                    return func(*a, **k)
                finally:
                    self._finished()
            ThreadPool.callInThreadWithCallback(self, None, counted, *args, **kw)
            return

        def reported(ok, result):
            # Done only once the result is on its way to the reactor (callFromThread
            # needs the GIL too).
            try:
                onResult(ok, result)
            finally:
                self._finished()
        ThreadPool.callInThreadWithCallback(self, reported, func, *args, **kw)


if EPollReactor is not None:
    class FTPRedisReactor(EPollReactor):
        """``EPollReactor`` without the per-event logging context, with busy-poll."""

        def _initThreadPool(self) -> None:
            self.threadpool = _CountingThreadPool(0, 10, "twisted.internet.reactor")
            self._threadpoolStartupID = self.callWhenRunning(self.threadpool.start)
            self.threadpoolShutdownID = self.addSystemEventTrigger(
                "during", "shutdown", self._stopThreadPool)

        busy_poll_max = DEFAULT_BUSY_POLL_US * 1000     # ns; 0 = never poll
        _window = DEFAULT_BUSY_POLL_US * 1000           # ns, the adaptive part
        _after_events = False

        def set_busy_poll(self, microseconds: int) -> None:
            self.busy_poll_max = self._window = max(0, int(microseconds)) * 1000

        def doPoll(self, timeout):
            if self._after_turn:
                # asked for by timed calls or thread results (runUntilCurrent)
                self._runAfterTurn()
            if timeout is None:
                timeout = -1
            poll = self._poller.poll
            n = len(self._selectables)
            try:
                ready = None
                window = self._window
                pool = self.threadpool
                if (window and self._after_events and timeout != 0
                        and (pool is None or not pool.pending)):
                    if 0 < timeout * 1e9 < window:
                        window = int(timeout * 1e9)     # a timer is due sooner
                    end = _ns() + window
                    while True:
                        ready = poll(0, n)
                        if ready:
                            break
                        if _ns() > end:
                            # Nothing came: poll for less next time.
                            self._window = self._window // 2 if self._window > 4000 else 0
                            break
                if not ready:
                    limit = self.busy_poll_max
                    if limit and self._window < limit and timeout != 0:
                        start = _ns()
                        ready = poll(timeout, n)
                        if ready and _ns() - start < limit:
                            # Polling would have caught this one: open the window again.
                            self._window = min(limit, max(self._window * 2, limit // 4))
                    else:
                        ready = poll(timeout, n)
            except OSError as err:
                if err.errno == errno.EINTR:
                    return
                raise
            self._after_events = bool(ready)
            selectables = self._selectables
            dispatch = self._doReadOrWrite
            for fd, event in ready:
                selectable = selectables.get(fd)
                if selectable is not None:
                    dispatch(selectable, fd, event)
            if self._after_turn:
                self._runAfterTurn()

        _after_turn: list = []

        def call_after_turn(self, fn) -> None:
            """Call ``fn()`` once the events of this reactor turn have been handled
            (every session's reply of the turn is out), before the next poll."""
            if not self._after_turn:
                self._after_turn = []
            self._after_turn.append(fn)

        def _runAfterTurn(self) -> None:
            calls, self._after_turn = self._after_turn, []
            for fn in calls:
                try:
                    fn()
                except Exception:
                    _log.failure("after-turn call {fn!r} failed", fn=fn)

        doIteration = doPoll
else:                           # pragma: no cover
    FTPRedisReactor = None


def call_after_turn(reactor, fn) -> None:
    """``fn()`` after this turn's events: :meth:`FTPRedisReactor.call_after_turn`, or the
    next turn's timed calls on another reactor (``callLater(0)``)."""
    after = getattr(reactor, "call_after_turn", None)
    if after is not None:
        after(fn)
    else:
        reactor.callLater(0, fn)


def install() -> bool:
    """Install :class:`FTPRedisReactor` unless a reactor is installed already (or epoll
    is missing); True when it was installed."""
    if FTPRedisReactor is None or "twisted.internet.reactor" in sys.modules:
        return False
    from twisted.internet.main import installReactor
    installReactor(FTPRedisReactor())
    return True


def configure(config, reactor=None) -> None:
    """Apply the main server's ``BusyPoll`` to the running reactor (if it is ours)."""
    if reactor is None:
        from twisted.internet import reactor
    if FTPRedisReactor is None or not isinstance(reactor, FTPRedisReactor):
        return
    us = DEFAULT_BUSY_POLL_US
    if config.servers:
        us = getattr(config.servers[0], "busy_poll", DEFAULT_BUSY_POLL_US)
    reactor.set_busy_poll(us)

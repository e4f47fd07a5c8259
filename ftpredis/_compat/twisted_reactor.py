# -*- test-case-name: tests.test_reactor -*-
"""``FTPRedisReactor``: Twisted's ``EPollReactor`` with its own ``doPoll`` (no logging
context per event, adaptive busy-poll) and a thread pool that counts pending work.

Why the reactor is changed at all is told in :mod:`ftpredis.app.reactor`.  Here is the
code that does it, because it is a modified copy of ``EPollReactor.doPoll`` and reads the
reactor's private state (``_poller``, ``_selectables``, ``_doReadOrWrite``) and overrides
``_initThreadPool``: a Twisted release that reorganizes the epoll reactor breaks it, so
every name is listed in ``PRIVATE_NAMES`` (and :func:`verify_live` checks a running
reactor), and ``tests/test_compat_tcp.py`` runs both.
"""

from __future__ import annotations

import errno
import sys
import threading
import time

from twisted.internet import main, tcp
from twisted.logger import Logger
from twisted.python import log as _legacy_log
from twisted.python.threadpool import ThreadPool

try:
    from twisted.internet.epollreactor import EPollReactor
except ImportError:             # not Linux
    EPollReactor = None

from ftpredis._compat import CompatError
from ftpredis.config.model import DEFAULT_BUSY_POLL_US

TESTED_WITH = {"Twisted": ("24.7.0", "26.10.0")}

PRIVATE_NAMES = (
    ("twisted.internet.epollreactor", "EPollReactor._doReadOrWrite"),
    ("twisted.internet.epollreactor", "EPollReactor._disconnectSelectable"),
    ("twisted.internet.epollreactor", "EPollReactor._POLL_IN"),
    ("twisted.internet.tcp", "Connection._dataReceived"),
    ("twisted.internet.base", "ReactorBase._initThreadPool"),
    ("twisted.internet.base", "ReactorBase._stopThreadPool"),
)

_LIVE = ("_poller", "_selectables", "_threadpoolStartupID")

_log = Logger(namespace="ftpredis.app.reactor")


def verify_live(reactor) -> None:
    """Raise :class:`CompatError` unless a running epoll reactor has the private state
    ``FTPRedisReactor.doPoll`` reads."""
    for name in _LIVE:
        if not hasattr(reactor, name):
            raise CompatError("twisted.internet.epollreactor.EPollReactor.%s is gone: "
                              "see ftpredis/_compat/twisted_reactor.py" % (name,))
    if not callable(getattr(reactor._poller, "poll", None)):
        raise CompatError("EPollReactor._poller.poll is gone: see "
                          "ftpredis/_compat/twisted_reactor.py")


_ns = time.perf_counter_ns

_DO_READ = tcp.Connection.doRead
_DATA_RECEIVED = tcp.Connection._dataReceived
_EWOULDBLOCK = errno.EWOULDBLOCK
_CONNECTION_DONE = main.CONNECTION_DONE
_CONNECTION_LOST = main.CONNECTION_LOST


def _reads_as_tcp(cls) -> bool:
    """True when connections of ``cls`` read as Twisted's ``tcp.Connection`` does (its
    ``doRead`` and ``_dataReceived``, not a subclass's), the read ``doPoll`` inlines."""
    return (getattr(cls, "doRead", None) is _DO_READ
            and getattr(cls, "_dataReceived", None) is _DATA_RECEIVED)


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

        #: Other pools whose workers need the GIL while they have work (the disk pool).
        _watched: tuple = ()

        def watch_pool(self, pool) -> None:
            """No busy-poll either while ``pool.pending`` (as for the reactor's pool)."""
            self._watched += (pool,)

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
                busy = (window and self._after_events and timeout != 0
                        and (pool is None or not pool.pending))
                if busy:
                    # (a loop, not any() over a generator built every turn)
                    for p in self._watched:
                        if p.pending:
                            busy = False
                            break
                if busy:
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
            lean = self._lean
            pollin = self._POLL_IN
            for fd, event in ready:
                selectable = selectables.get(fd)
                if selectable is None:
                    continue
                if event == pollin:
                    cls = selectable.__class__
                    plain = lean.get(cls)
                    if plain is None:
                        plain = lean[cls] = _reads_as_tcp(cls)
                    if plain and getattr(getattr(selectable, "protocol", None), "lean_read",
                                         False):
                        self._leanRead(selectable, fd)
                        continue
                dispatch(selectable, fd, event)
            if self._after_turn:
                self._runAfterTurn()

        #: class of a selectable -> whether it reads as tcp.Connection (_reads_as_tcp)
        _lean: dict = {}

        def _leanRead(self, selectable, fd) -> None:
            """``_doReadOrWrite`` of a read event (nothing else: no hang-up, no error,
            not writable), with ``tcp.Connection.doRead`` and ``_dataReceived`` inlined:
            two calls less per command read on a control connection.

            Only for a protocol that says ``lean_read`` (ftpredis.ftp.dispatch): its
            ``dataReceived`` returns nothing, so Twisted 24.7's ``_dataReceived`` (which
            passed a returned value on as the reason to disconnect) and 26.10's agree."""
            why = None
            try:
                if selectable.fileno() == -1:
                    # Twisted's own handling of a lost descriptor.
                    self._doReadOrWrite(selectable, fd, self._POLL_IN)
                    return
                try:
                    data = selectable.socket.recv(selectable.bufferSize)
                except OSError as se:
                    if se.args[0] != _EWOULDBLOCK:
                        why = _CONNECTION_LOST
                else:
                    if data:
                        selectable.protocol.dataReceived(data)
                    else:
                        why = _CONNECTION_DONE
            except BaseException:
                # As _doReadOrWrite: logged, and the connection is dropped.
                why = sys.exc_info()[1]
                _legacy_log.err()
            if why:
                self._disconnectSelectable(selectable, why, True)

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

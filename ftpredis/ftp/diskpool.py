# -*- test-case-name: tests.test_diskpool -*-
"""The threads every blocking file system call of the process runs in.

This module owns :class:`DiskPool`: the one place where a session's disk work (opens,
stats, mkdir, rename, listings, the home directory at login) leaves the reactor thread.
A file system that hangs (a dead network mount) then holds the threads of the sessions
that use it, as one ProFTPD process per session would, and never the reactor, which
goes on answering every other session.

It is lighter than Twisted's ``ThreadPool`` on purpose: a job is a tuple on a
``queue.SimpleQueue`` and its result a tuple on a deque; workers wake the reactor once
per batch of results (not once per job), and start on demand up to a bound.  Twisted's
pool, with its context copy, its worker team and one ``callFromThread`` per job, cost
about three times as much CPU per job, which the 4 KiB RETR benchmark (one open per
file) could not afford.

The pool counts the jobs handed out and not yet delivered (:attr:`DiskPool.pending`):
ftpredis's reactor does not busy-poll while a worker may want the GIL.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Callable

from twisted.internet import defer
from twisted.python import failure

#: Threads at most.  Each hung session holds one; the others share the rest.
DEFAULT_MAX_THREADS = 64


class DiskPool:
    """Runs blocking functions in worker threads; results come back in the reactor thread."""

    def __init__(self, reactor, max_threads: int = DEFAULT_MAX_THREADS,
                 name: str = "ftpredis-disk"):
        self.reactor = reactor
        self.max_threads = max_threads
        self.name = name
        self.handed = 0         # both counters change in the reactor thread only
        self.delivered = 0
        self.threads = 0
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._results: deque = deque()
        self._lock = threading.Lock()
        self._wake_sent = False
        self._stopped = False

    @property
    def pending(self) -> bool:
        """Work handed out whose result the reactor has not yet taken."""
        return self.handed != self.delivered

    def run(self, fn: Callable, *args) -> defer.Deferred:
        """``fn(*args)`` in a worker; a Deferred that fires with its result (or its
        exception) in the reactor thread."""
        if self._stopped:
            return defer.maybeDeferred(fn, *args)
        d = defer.Deferred()
        self.handed += 1
        self._jobs.put((fn, args, d))
        if self.handed - self.delivered > self.threads and self.threads < self.max_threads:
            self._start_thread()
        return d

    def _start_thread(self) -> None:
        self.threads += 1
        # Daemon: a worker stuck in a hung mount must not keep the process from exiting.
        threading.Thread(target=self._work, name="%s-%d" % (self.name, self.threads),
                         daemon=True).start()

    def _work(self) -> None:
        get = self._jobs.get
        put = self._results.append
        lock = self._lock
        while True:
            job = get()
            if job is None:
                return
            fn, args, d = job
            try:
                put((d, True, fn(*args)))
            except BaseException as e:
                put((d, False, e))
            del job, fn, args, d
            with lock:
                if self._wake_sent:
                    continue            # a delivery is on its way and will take this one
                self._wake_sent = True
            try:
                self.reactor.callFromThread(self._deliver)
            except Exception:
                return                  # the reactor is gone: nobody to deliver to

    def _deliver(self) -> None:
        # Cleared before draining: a result added after the drain finds the flag down and
        # sends a wake of its own.
        with self._lock:
            self._wake_sent = False
        results = self._results
        while results:
            d, ok, value = results.popleft()
            self.delivered += 1
            if ok:
                d.callback(value)
            else:
                d.errback(failure.Failure(value, type(value), value.__traceback__))

    def stop(self) -> None:
        """Ask idle workers to end (one stuck in a system call ends with the process);
        later jobs run in the caller's thread."""
        self._stopped = True
        for _ in range(self.threads):
            self._jobs.put(None)
        self.threads = 0


#: reactor -> its DiskPool
_pools: dict = {}


def pool_for(reactor=None) -> DiskPool:
    """The reactor's disk pool: made on first use, watched by the reactor's busy-poll,
    stopped at the reactor's shutdown."""
    if reactor is None:
        from twisted.internet import reactor
    pool = _pools.get(reactor)
    if pool is None:
        pool = _pools[reactor] = DiskPool(reactor)
        watch = getattr(reactor, "watch_pool", None)
        if watch is not None:
            watch(pool)

        def stop():
            if _pools.get(reactor) is pool:
                del _pools[reactor]
            pool.stop()
        reactor.addSystemEventTrigger("during", "shutdown", stop)
    return pool

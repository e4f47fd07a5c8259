# -*- test-case-name: tests.test_metrics_workers -*-
"""The pipes between the exporter (in the ServerWorkers parent) and each worker.

This module owns the conversation that lets the parent report the whole server: the
parent starts each worker (ftpredis.app.workers) with two more pipes; at each scrape it
writes one line (``?``) down the first, and the worker answers with one line up the
second: its families as JSON (ftpredis.metrics.merge).  Nothing blocks a reactor:

- the worker builds its answer in a thread of its pool, as the parent builds the
  exposition (collecting reads only copies of plain numbers, ftpredis.metrics.registry);
- the parent waits for the answers with a Deferred, bounded by :data:`ANSWER_TIMEOUT`;
  a worker that is late, busy or gone is reported with its last answer, so the totals
  stay whole and never go down;
- the answer is kept as bytes and parsed in the scrape's thread.

Why pipes rather than prometheus_client's multiprocess mode: that mode keeps values in
memory-mapped files written by its own Counter/Gauge/Histogram objects and cannot carry
the collectors that read their numbers at scrape time (the in-progress gauges, the Redis
sinks' state); and a pipe per worker is closed by the kernel when the worker ends, so a
worker started again never shares a file with its predecessor.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

from twisted.application import service
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger, globalLogPublisher
from twisted.protocols.basic import LineOnlyReceiver

from ftpredis.metrics.merge import to_json

_log = Logger()

#: Seconds a scrape waits for the workers before using their last answers.
ANSWER_TIMEOUT = 2.0
#: The largest answer accepted (a worker's families are a few kilobytes).
MAX_ANSWER = 16 << 20
ASK = b"?"


class _Channel:
    """The parent's side of one worker's pipes.

    A scrape must not be answered with numbers the worker made before the scrape asked:
    a question still unanswered (a scrape that timed out waiting) answers only its own
    askers, and a scrape arriving meanwhile waits for the next question, sent as soon
    as that answer is in.  So at most two questions are ever out, however often a
    scraper asks a busy worker.
    """

    def __init__(self, write: Callable[[bytes], None]):
        self.write = write
        self.buffer = b""
        self.latest: Optional[bytes] = None
        self.asked: Optional[List[defer.Deferred]] = None     # the question out
        self.queued: Optional[List[defer.Deferred]] = None    # asked after it went out

    def ask(self) -> defer.Deferred:
        d = defer.Deferred()
        if self.asked is None:
            if not self._send():
                return defer.succeed(None)
            self.asked = [d]
        else:
            if self.queued is None:
                self.queued = []
            self.queued.append(d)
        return d

    def _send(self) -> bool:
        try:
            self.write(ASK + b"\n")
        except Exception:
            return False
        return True

    def received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.latest = line
            self.answered()
        if len(self.buffer) > MAX_ANSWER:
            self.buffer = b""

    def answered(self, gone: bool = False) -> None:
        waiting, self.asked = self.asked or [], None
        queued, self.queued = self.queued, None
        if queued:
            if not gone and self._send():
                self.asked = queued
            else:
                waiting = waiting + queued
        for d in waiting:
            d.callback(None)


class WorkerHub:
    """The parent's side of every worker's pipes; given to ftpredis.app.workers's pool
    (which calls :meth:`attach`, :meth:`received`, :meth:`ended`) and read by the
    exporter's :class:`~ftpredis.metrics.merge.ServerCollector` (:meth:`answers`)."""

    def __init__(self, reactor, collector, planned: int = 1):
        self.reactor = reactor
        self.collector = collector
        self.planned = planned
        self.restarts = 0
        self._channels: Dict[int, _Channel] = {}

    # -- the pool's side ---------------------------------------------------------------
    def attach(self, index: int, write: Callable[[bytes], None]) -> None:
        self._channels[index] = _Channel(write)

    def received(self, index: int, data: bytes) -> None:
        channel = self._channels.get(index)
        if channel is not None:
            channel.received(data)

    def ended(self, index: int, stopping: bool = False) -> None:
        channel = self._channels.pop(index, None)
        if channel is None:
            return
        channel.answered(gone=True)
        self.collector.retire(channel.latest)
        if not stopping:
            self.restarts += 1

    # -- the exporter's side -----------------------------------------------------------
    def alive(self) -> int:
        """Processes serving FTP: the parent and its workers."""
        return 1 + len(self._channels)

    def answers(self) -> Dict[int, Optional[bytes]]:
        return {i: c.latest for i, c in list(self._channels.items())}

    def refresh(self, timeout: float = ANSWER_TIMEOUT) -> defer.Deferred:
        """Ask every worker; fires once all answered, or after ``timeout`` seconds."""
        waits = [c.ask() for c in list(self._channels.values())]
        if not waits:
            return defer.succeed(None)
        done = defer.Deferred()
        timer = self.reactor.callLater(timeout, lambda: done.called or done.callback(None))

        def all_in(_):
            if timer.active():
                timer.cancel()
            if not done.called:
                done.callback(None)
        defer.DeferredList(waits).addBoth(all_in)
        return done


class _Answerer(LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 1024

    def __init__(self, reporter):
        self.reporter = reporter

    def lineReceived(self, line):
        if line.strip() != ASK:
            return
        r = self.reporter
        d = deferToThreadPool(r.reactor, r.reactor.getThreadPool(), to_json, r.collectors)
        d.addCallback(lambda answer: self.transport.write(answer + b"\n"))
        d.addErrback(lambda f: _log.failure("metrics for the exporter failed", f))


class WorkerReporter(service.Service):
    """A worker's side: answers the parent's questions on the pipes ``fds`` (read,
    write) with the families of ``collectors``.  Stands where the exporter stands in
    the parent (the service uses its ``subscriber``, ``server_metrics``, ``log_file``)."""

    log_file = None
    hub = None
    log_messages = None
    server_metrics = None

    def __init__(self, reactor, fds, collectors, subscriber):
        self.reactor = reactor
        self.fds = fds
        self.collectors = list(collectors)
        self.subscriber = subscriber
        self._stdio = None

    def startService(self):
        service.Service.startService(self)
        if self.log_messages is not None:
            globalLogPublisher.addObserver(self.log_messages)
        if self.fds is not None and self._stdio is None:
            from twisted.internet import stdio
            rfd, wfd = self.fds
            self._stdio = stdio.StandardIO(_Answerer(self), stdin=rfd, stdout=wfd,
                                           reactor=self.reactor)

    def stopService(self):
        service.Service.stopService(self)
        if self.log_messages is not None:
            globalLogPublisher.removeObserver(self.log_messages)
        stdio, self._stdio = self._stdio, None
        if stdio is not None:
            stdio.loseConnection()

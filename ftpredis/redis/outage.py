# -*- test-case-name: tests.test_logs -*-
"""What twistd's log says about one Redis target being reachable or not.

This module owns the outage report of a :class:`~ftpredis.redis.sink.RedisSink`: one
warning when Redis cannot be reached at start (:meth:`Availability.startFailed`), one
line when it is lost (what happens to the records: kept in memory up to
``RedisBufferSize``, how many are waiting), one line when it is back (how long it was
down, how many records were delivered since it went down, how many dropped), and
nothing in between: every failed attempt is still written to the RedisLog files by the
sink (ProFTPD's mod_redis does that), but a reconnect loop every couple of seconds would
drown twistd's log.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet import defer, protocol
from twisted.logger import Logger

from ftpredis.redis.errors import describe_reason

_log = Logger(namespace="ftpredis.redis.sink")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return "%.1f s" % (seconds,)
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return "%d min %d s" % (minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return "%d h %d min" % (hours, minutes)


def _records(n: int) -> str:
    return "%d record%s" % (n, "" if n == 1 else "s")


class Availability:
    """Up/down bookkeeping for one sink; the sink tells it what happened.

    ``down_since`` is the reactor time the outage began (None while Redis is reachable
    or before anything was tried).  An outage ends when a connection is usable again and
    the records held meanwhile are delivered: the "back" line can then say they are.
    """

    def __init__(self, sink):
        self.sink = sink
        self.down_since: Optional[float] = None
        self.ever_connected = False
        #: while the outage is ending: the ``sink.sent`` to reach before the "back" line
        self.catching_up: Optional[int] = None
        self._sent_at = 0           # sink.sent when the outage began
        self._dropped_at = 0
        self._probing: Optional[defer.Deferred] = None

    def _where(self) -> str:
        source = getattr(self.sink.target, "source", None)
        address = "Redis %s" % (self.sink.address,)
        # the config's RedisServer line, or RedisSentinel's when there is no RedisServer
        directive = "RedisServer" if self.sink.target.host or self.sink.target.unix_path \
            else "RedisSentinel"
        return address if source is None else "%s (%s on %s)" % (address, directive, source)

    def _kept(self) -> str:
        return ("records are kept in memory (up to RedisBufferSize %d, then the newest are "
                "dropped) and sent when it is back; %d waiting"
                % (self.sink.target.buffer_size, self.sink.buffered))

    def _begin(self) -> None:
        self.down_since = self.sink.reactor.seconds()
        self._sent_at = self.sink.sent
        self._dropped_at = self.sink.dropped
        self.catching_up = None

    def probe(self) -> defer.Deferred:
        """One connection attempt at start (the sink itself connects with the first
        record): a Redis that cannot be reached is said at once, not with the first
        session.  Not with RedisSentinel, whose monitor starts with the sink.  Fires
        True when Redis answered the connection."""
        if self.sink.sentinel is not None:
            return defer.succeed(None)
        try:
            d = self.sink.makeEndpoint().connect(_KnockFactory())
        except Exception as e:
            d = defer.fail(e)

        self._probing = d

        def reached(proto):
            proto.transport.abortConnection()
            return True

        def failed(f):
            if not f.check(defer.CancelledError):
                self.startFailed(describe_reason(f))
            return False

        def done(result):
            self._probing = None
            return result
        return d.addCallbacks(reached, failed).addBoth(done)

    def stopProbe(self) -> None:
        """The sink stops: an attempt still under way is given up."""
        if self._probing is not None:
            self._probing.cancel()

    def startFailed(self, reason: str) -> None:
        """The probe at start could not connect."""
        if self.down_since is not None:
            return
        self._begin()
        _log.warn("cannot reach {where} at start: {reason}; {kept}",
                  where=self._where(), reason=reason, kept=self._kept())

    def failed(self, reason: str) -> None:
        """A connection attempt failed or a connection was lost, and none is usable."""
        if self.sink.connected:
            return
        if self.down_since is not None:
            self.catching_up = None       # flapping: still the same outage
            return
        self._begin()
        _log.warn("{what} {where}: {reason}; {kept}",
                  what="lost" if self.ever_connected else "cannot reach",
                  where=self._where(), reason=reason, kept=self._kept())

    def connected(self) -> None:
        """A connection is usable: the outage ends once what waits now is delivered."""
        first, self.ever_connected = not self.ever_connected, True
        if self.down_since is None:
            if first:
                _log.info("connected to Redis {address}", address=self.sink.address)
            return
        self.catching_up = self.sink.sent + self.sink.buffered
        self.progress()

    def progress(self) -> None:
        """Records were delivered (or a connection is up): is the outage over?"""
        if self.catching_up is None or self.sink.sent < self.catching_up:
            return
        down = self.sink.reactor.seconds() - self.down_since
        delivered = self.sink.sent - self._sent_at
        dropped = self.sink.dropped - self._dropped_at
        self.down_since = None
        self.catching_up = None
        _log.info("{where} is back after {down} unreachable: {delivered} delivered since "
                  "it was lost{dropped}", where="Redis %s" % (self.sink.address,),
                  down=_duration(down), delivered=_records(delivered),
                  dropped="" if not dropped else ", %s dropped" % (_records(dropped),))


class _Knock(protocol.Protocol):
    """The probe's connection: closed as soon as it is made."""


class _KnockFactory(protocol.Factory):
    noisy = False
    protocol = _Knock

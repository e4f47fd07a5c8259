# -*- test-case-name: tests.test_sink -*-
"""The Redis sink: a bounded in-memory buffer drained by batches sent over txredisapi.

This module owns everything between "a record exists" and "Redis has it":

* :class:`RedisSink` (one per distinct :class:`~ftpredis.config.model.RedisTarget`, a
  Twisted service).  ``push(key, value)`` is O(1) and never blocks or raises: the FTP
  session never waits for Redis.  A single writer sends one batch per key for whatever
  accumulated (one ``EVALSHA`` of :mod:`ftpredis.redis.ledger`'s script: RPUSH, XADD
  or PUBLISH per ``RedisLogTarget``), keeps a batch that failed and sends it again, in
  order, once Redis is back.  With ``RedisSpool`` every record is also written to
  :mod:`ftpredis.redis.spool` before its command's reply, and replayed at start.
* the connection (:mod:`ftpredis.redis.connection`): a txredisapi 1.6 ``RedisFactory`` (its ``ClientService`` pool) that keeps
  trying after AUTH/SELECT failures (txredisapi #146), over an endpoint we build ourselves
  (TCP with a connect timeout, a UNIX socket, or verified TLS; never a silent plaintext
  fallback), with a short back-off;
* what the sink says in the RedisLog files (connects, disconnects with their reason,
  errors, dropped records with exact counts, records left unsent at shutdown);
* :class:`SinkRegistry`, which hands out one shared sink per equal target.

Delivery is **exactly once**.  When the connection breaks (or the io timeout fires)
after a batch was written and before its reply came back, nobody can tell whether Redis
executed it, and the batch is sent again; the ledger script skips the records Redis
already has (every record carries its producer's sequence number), so a resent batch is
applied once.  (A Redis user the script is refused to gets plain commands instead: at
least once, said in the RedisLog.)  Records for one key reach Redis in the order they were pushed (at most one batch per key
is in flight, a failed one goes back to the head of its key's queue).  There is no order
between different keys.

txredisapi pitfalls this avoids (measured, notes §C): commands issued while no
connection is up wait in an unbounded queue with no timeout, so the writer only hands a
batch to a connection it knows is up, and bounds every command with the io timeout
itself (``addTimeout``) besides txredisapi's ``replyTimeout``.  ``connectTimeout`` is
always set.  Idle connections are PINGed every ``ping_interval`` seconds (as Synapse
does) so that a connection that died silently is replaced before records need it.

RedisSentinel (discovery, ``+switch-master``: :mod:`ftpredis.redis.sentinel`): every
connection is confirmed with ``ROLE`` before it is used, and the sink keeps the records
the master acknowledged but no replica has confirmed yet (the master's ``ROLE`` reply,
pipelined after each batch, gives both offsets).  Redis replication is asynchronous, so
those are exactly the writes a failover can lose; when the sink comes up on a different
master it sends them again, ahead of everything newer (:mod:`ftpredis.redis.failover`);
the new master's ledger skips what the old one had already replicated.
"""

from __future__ import annotations

import bisect
from collections import deque
from itertools import islice
from operator import itemgetter
from typing import Callable, Deque, Dict, Iterable, List, Optional, Tuple

import txredisapi
from twisted.application import service
from twisted.internet import defer, error as ierror
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint, wrapClientTLS
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from ftpredis._compat.txredisapi import Encoded
from ftpredis.app import reactor as _reactor_mod
from ftpredis.config.model import RedisTarget
from ftpredis.redis.errors import describe_reason
from ftpredis.redis.outage import Availability
from ftpredis.redis import ledger, spool as _spool
from ftpredis.redis.failover import SentinelWindow
from ftpredis.redis.sentinel import SentinelMasterEndpoint, SentinelMonitor, format_address

_log = Logger(namespace="ftpredis.redis.sink")

#: Most values one RPUSH carries, and roughly how many bytes (whichever comes first).
BATCH_MAX_RECORDS = 1000
#: Seconds a record may wait for others to share its RPUSH.  0 would send one RPUSH per
#: reactor turn, i.e. one per command on a busy session (a Redis round trip and its
#: parsing per FTP command: a third of a NOOP's CPU in the W5 benchmark).  100 ms batches
#: whatever a busy server logs in that time and delays a record by at most that much: 2 ms
#: still cost 8 us of a 69 us NOOP, and each flush delays the command that meets it, so
#: the flushes set the NOOP p99 (ftpbench W5: 116-134 us with 20 ms, 96-100 us with
#: 100 ms, 84-98 us with 1 s; ProFTPD's 157-272 us).
PUMP_DELAY = 0.1
#: Events routed and rendered per reactor turn (see RedisSink.later): ~4 us each, so a
#: busy server's 100 ms of events (thousands) does not hold every session for ~10 ms.
MATERIALIZE_MAX = 256
BATCH_MAX_BYTES = 4 * 1024 * 1024


from ftpredis.redis.connection import _ReportingEndpoint, _SinkFactory


#: upper bounds (seconds) of the batch round-trip histogram's buckets
RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

#: ``dropped_by_reason`` keys: a short, fixed set (they become a metric's label values).
DROP_REASONS = ("buffer_full", "no_reconnect", "stopped")


class RedisSink(SentinelWindow, service.Service):
    """Buffered, batched, ordered, exactly-once writes of records to one Redis target.

    Counters (never reset): ``pushed`` (calls to :meth:`push`), ``sent`` (acknowledged by
    Redis; a re-sent batch counts once), ``dropped``, and ``buffered`` (held right now,
    in flight included).  ``pushed == sent + dropped + buffered`` at all times.
    ``dropped_by_reason`` splits ``dropped`` (:data:`DROP_REASONS`); ``reconnects``,
    ``failovers`` (another master than the last): read at scrape time by ftpredis.metrics.

    Overflow: when ``target.buffer_size`` records are held, the **newest** record (the
    one being pushed) is dropped.  Reasons: it is O(1) with per-key queues (dropping the
    oldest would need a global order across keys); what is kept stays a gap-free run of
    each key's records from the start of the outage, so a consumer sees one clear hole at
    the end instead of a hole moved around; and records already accepted are never
    revoked.  Drops are counted and written to the RedisLogs at most once per
    ``drop_report_interval`` seconds with exact numbers.

    ``target.no_reconnect`` (RedisOptions NoReconnect): connection attempts go on until
    the first connection is up (ProFTPD retries a failed creation on the next event);
    once an established connection breaks, the sink stops: what it holds and every later
    record is counted as dropped.
    """

    poolsize = 1
    drop_report_interval = 1.0
    retry_initial_delay = 0.1
    retry_max_delay = 2.0
    repeat_interval = 60.0
    #: seconds between PINGs (ROLE with Sentinel) on connections with nothing in flight
    ping_interval = 30.0

    def __init__(self, target: RedisTarget, logs: Iterable = (), reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.target = target
        self.logs: List = [log for log in logs if log is not None]
        self.reactor = reactor
        # RedisTimeouts 0 is "undefined" in ProFTPD; an unbounded wait is what we must never
        # have, and 1 ms would fail every command, so 0 means the default (500 ms)
        self.io_timeout = (target.io_timeout_ms if target.io_timeout_ms > 0 else 500) / 1000.0
        self.connect_timeout = (target.connect_timeout_ms
                                if target.connect_timeout_ms > 0 else 500) / 1000.0
        if target.unix_path:
            self.address = target.unix_path
        elif target.host:
            host = "[%s]" % target.host if ":" in target.host else target.host
            self.address = "%s:%d" % (host, target.port)
        else:
            self.address = "master %s via RedisSentinel" % (
                "'%s'" % target.master_name if target.master_name else "(first listed)",)
        self.sentinel: Optional[SentinelMonitor] = (
            SentinelMonitor(self) if target.sentinels else None)
        #: Sentinel mode: acknowledged batches no replica has confirmed yet, in ack order;
        #: each [master offset or None, key, values, master address]
        self._window: Deque[list] = deque()
        self._window_count = 0
        self.replayed = 0
        self._ping_loop: Optional[LoopingCall] = None

        self.pushed = 0
        self.sent = 0
        self.dropped = 0
        self.buffered = 0
        self.dropped_by_reason: Dict[str, int] = {}
        self.reconnects = 0
        self.failovers = 0
        self._lost, self._last_master = 0, None     # lost, not yet made again; Sentinel

        #: exactly once (ftpredis.redis.ledger): who we are to Redis's ledger, and the
        #: sequence number of our next record; a RedisSpool replaces both with its own
        self.producer = ledger.new_producer()
        self._next_seq = 1
        self.spool = None
        self.recovered = 0                  # records replayed from the spool at start
        #: records Redis's ledger said it had already (a resent batch), not applied again
        self.duplicates_avoided = 0
        #: batch round trips (send to reply), seconds: counts per RTT_BUCKETS, and the sum
        self.rtt_counts = [0] * (len(RTT_BUCKETS) + 1)
        self.rtt_sum = 0.0
        #: RedisLogTarget rules by the key as written in the config, and what each
        #: written key resolved to for the keys written so far
        self._modes: Dict[bytes, object] = {
            t.key.encode("utf-8", "surrogateescape"): t for t in target.log_targets}
        self._key_modes: Dict[bytes, object] = {}
        self._queues: Dict[bytes, Deque[Tuple[int, bytes]]] = {}
        self._inflight: Dict[object, Tuple[bytes, List[Tuple[int, bytes]], float]] = {}
        self._busy_keys: set = set()
        self._ready: List = []
        self._factory: Optional[_SinkFactory] = None
        self._pump_call = None
        self._later: List[Tuple[Callable, object]] = []   # see later()
        self._share = 0                 # of _later, still to render before the next send
        self._backoff_call = None
        self._retry: Dict[bytes, Tuple[int, float]] = {}   # key -> (failures, not before)
        self._dead = False            # NoReconnect tripped
        self._stopping = False
        self._stopped = False
        self._drained: List[defer.Deferred] = []
        self._drops: Dict[str, int] = {}
        self._drop_call = None
        self._recent: Dict[str, list] = {}
        #: twistd's log hears of outages from it; the RedisLogs of every attempt from us
        self.availability = Availability(self)

    def __repr__(self):
        return "<RedisSink %s pushed=%d sent=%d dropped=%d buffered=%d>" % (
            self.address, self.pushed, self.sent, self.dropped, self.buffered)

    def add_logs(self, logs: Iterable) -> None:
        for log in logs:
            if log is not None and all(log is not mine for mine in self.logs):
                self.logs.append(log)

    @property
    def connected(self) -> bool:
        return bool(self._ready)

    @property
    def batches_in_flight(self) -> int:
        """Batches written to Redis whose reply has not come yet."""
        return len(self._inflight)

    # -- the producer side ---------------------------------------------------------------
    def push(self, key: bytes, value: bytes, written: Optional[bytes] = None) -> None:
        """Queue one record for ``key`` (``written``: the key as the config wrote it,
        which picks its RedisLogTarget).  O(1); never blocks, never raises; with a
        RedisSpool the record is on disk when this returns."""
        try:
            self.pushed += 1
            if self._dead:
                self._drop(1, "connection to Redis %s lost and RedisOptions NoReconnect is set"
                           % (self.address,), "no_reconnect")
                return
            if self._stopped:
                self._drop(1, "Redis sink already stopped", "stopped")
                return
            if self.buffered >= self.target.buffer_size:
                self._drop(1, "buffer full (RedisBufferSize %d)" % (self.target.buffer_size,),
                           "buffer_full")
                return
            seq = self._next_seq
            self._next_seq = seq + 1
            if self._modes and key not in self._key_modes:
                if len(self._key_modes) >= 65536:
                    self._key_modes.clear()     # per-user, per-day keys: only recent ones
                self._key_modes[key] = self._modes.get(written if written is not None else key)
            if self.spool is not None and not self.spool.append(
                    seq, key, written if written is not None else key, value):
                self._spoolRefused()
            q = self._queues.get(key)
            if q is None:
                q = self._queues[key] = deque()
            q.append((seq, value))
            self.buffered += 1
            if self._factory is None:
                if self.running:
                    self._startConnecting()
            elif self._pump_call is None and self._ready:
                # one pump per reactor turn: records pushed in the same turn share a batch
                self._pump_call = self.reactor.callLater(PUMP_DELAY, self._pump)
        except Exception:
            _log.failure("RedisSink.push failed")

    def later(self, emit: Callable, event) -> None:
        """Have ``emit(event)`` (route, render, :meth:`push`) run once this reactor turn's
        events are handled (every reply of the turn written) instead of now.  The event's
        values are already taken, so the records are the same; made together, they cost
        less than made one after each command (the router's and renderer's code and data
        stay in the CPU caches).  Not later than that: rendering a 100 ms batch at the
        pump held any command that arrived meanwhile (ftpbench W5 NOOP p99 93 -> 123-144
        us).  Order is kept."""
        if self._stopped or self._dead or self.spool is not None:
            # counted as dropped, now; or, with a RedisSpool, on disk before the reply
            emit(event)
            return
        self._later.append((emit, event))
        if not self._turn_call:
            self._turn_call = True
            _reactor_mod.call_after_turn(self.reactor, self._afterTurn)
        if self._factory is None and self.running:
            self._startConnecting()     # as push() would: the connection is made meanwhile
        if self._pump_call is None:
            self._pump_call = self.reactor.callLater(PUMP_DELAY, self._pump)

    _turn_call = False

    def _afterTurn(self) -> None:
        self._turn_call = False
        if self._later and not self._share:
            self._materialize(MATERIALIZE_MAX)
            if self._later:
                self._turn_call = True
                _reactor_mod.call_after_turn(self.reactor, self._afterTurn)

    def _materialize(self, limit: Optional[int] = None) -> None:
        later = self._later
        if limit is None or len(later) <= limit:
            self._later = []
        else:
            later, self._later = later[:limit], later[limit:]
        for emit, event in later:
            try:
                emit(event)
            except Exception:
                _log.failure("routing {verb} failed", verb=getattr(event, "verb", None))

    # -- the service -----------------------------------------------------------------------
    def useSpool(self, spool) -> None:
        """Write every record to ``spool`` (:class:`ftpredis.redis.spool.Spool`, not yet
        open) from now on, after queueing what an earlier process left in it: those
        records go first, in order, under their own producer id and numbers, so Redis's
        ledger skips any it applied before the crash."""
        records = spool.open()
        self.spool = spool
        self.producer = spool.producer
        self._next_seq = spool.next_seq
        for seq, key, written, value in records:
            if self._modes and key not in self._key_modes:
                self._key_modes[key] = self._modes.get(written)
            q = self._queues.get(key)
            if q is None:
                q = self._queues[key] = deque()
            q.append((seq, value))
        n = len(records)
        self.pushed += n
        self.buffered += n
        self.recovered += n
        if n:
            self._write("RedisSpool: %d records an earlier process left in %s are sent "
                        "first" % (n, spool.directory))

    def _settled(self, batch) -> None:
        """``batch`` will not be sent again (acknowledged; under RedisSentinel, confirmed
        by a replica or given up by the window): the spool may forget it."""
        spool = self.spool
        if spool is not None:
            spool.acked([seq for seq, _v in batch])
            if spool.last_error is not None:
                self._spoolRefused()

    def _spoolRefused(self) -> None:
        spool = self.spool
        errors = spool.take_errors()
        why = errors[0] if errors else "full (%d of %d bytes)" % (spool.bytes, spool.max_bytes)
        self.note("RedisSpool %s: %s; records are kept in memory only until there is room "
                  "(%d so far)" % (spool.directory, why, spool.refused), topic="spool")

    #: open target.spool_dir at the first start (SinkRegistry's sinks: the records')
    use_spool = False
    _spool_tried = False

    def startService(self):
        service.Service.startService(self)
        if self.use_spool and not self._spool_tried and self.target.spool_dir:
            self._spool_tried = True
            # here, not when built: twistd has switched to User/Group by now, so the
            # directory and its files belong to the account that writes them
            _spool.attach(self, self.target)
        self._stopped = False
        self._stopping = False
        if self.buffered and self._factory is None and not self._dead:
            self._startConnecting()

    def stopService(self):
        """Flush what is buffered (bounded by the io timeout, plus the connect timeout when
        no connection is up), disconnect, and log how many records were left unsent."""
        service.Service.stopService(self)
        self.availability.stopProbe()
        self._stopping = True
        self._retry.clear()             # one last immediate try for every key
        if self._later:
            self._materialize()
        d = defer.succeed(None)
        if self.buffered and self._factory is not None and not self._dead:
            limit = self.io_timeout + (0 if self._ready else self.connect_timeout)
            waiter = defer.Deferred()
            self._drained.append(waiter)
            waiter.addTimeout(limit, self.reactor, onTimeoutCancel=lambda r, t: None)
            self._pump()
            d = waiter
        d.addCallback(self._finishStop)
        return d

    def _finishStop(self, _ignored=None):
        self._stopped = True
        self._stopping = False
        for call in (self._pump_call, self._backoff_call):
            if call is not None and call.active():
                call.cancel()
        self._pump_call = self._backoff_call = None
        self._stopHelpers()
        self._reportDrops()
        if self.spool is not None:
            spool, self.spool = self.spool, None
            spool.close()
            if spool.records:
                self._write("RedisSpool: %d records wait in %s for the next start"
                            % (spool.records, spool.directory))
        if self.buffered:
            self._write("stopping: %d records left unsent to Redis %s"
                        % (self.buffered, self.address))
        factory, self._factory = self._factory, None
        self._ready = []
        if factory is None:
            return None
        d = factory.disconnect()
        # closing a socket is quick, but never let shutdown hang on it
        d.addTimeout(self.io_timeout + 1.0, self.reactor)
        d.addErrback(lambda f: None)
        return d

    # -- connections -------------------------------------------------------------------
    def makeEndpoint(self):
        """The endpoint one connection attempt uses: with RedisSentinel, one that asks
        the sentinels for the master first (:mod:`ftpredis.redis.sentinel`)."""
        t = self.target
        if self.sentinel is not None:
            return SentinelMasterEndpoint(self.sentinel)
        if t.unix_path:
            if t.ssl:
                raise ValueError("TLS over a UNIX socket is not supported")
            return UNIXClientEndpoint(self.reactor, t.unix_path, timeout=self.connect_timeout)
        if not t.host:
            raise ValueError("no Redis server configured (RedisSentinel is not supported yet)")
        endpoint = HostnameEndpoint(self.reactor, t.host, t.port, timeout=self.connect_timeout)
        if t.ssl:
            endpoint = wrapClientTLS(self.tlsOptions(), endpoint)
        return endpoint

    def tlsOptions(self, hostname=None):
        """Client TLS options: verify the server against ``ssl-ca`` (else the platform's
        trust store) and the host name (``hostname``, default the RedisServer host);
        present ``ssl-cert``/``ssl-key`` when given."""
        from twisted.internet import ssl
        t = self.target
        trust = None
        if t.ssl_ca:
            with open(t.ssl_ca, "rb") as f:
                trust = ssl.Certificate.loadPEM(f.read())
        client_cert = None
        if t.ssl_cert:
            with open(t.ssl_cert, "rb") as f:
                pem = f.read()
            if t.ssl_key:
                with open(t.ssl_key, "rb") as f:
                    pem = pem + b"\n" + f.read()
            client_cert = ssl.PrivateCertificate.loadPEM(pem)
        elif t.ssl_key:
            raise ValueError("ssl-key given without ssl-cert")
        return ssl.optionsForClientTLS(hostname or t.host, trustRoot=trust,
                                       clientCertificate=client_cert)

    def _startConnecting(self):
        self._factory = _SinkFactory(self, self.poolsize)
        self._factory.initialDelay = self.retry_initial_delay
        self._factory.maxDelay = self.retry_max_delay
        self._factory.startConnecting(_ReportingEndpoint(self))
        if self.sentinel is not None:
            self.sentinel.start()
        if self._ping_loop is None and self.ping_interval:
            self._ping_loop = LoopingCall(self._pingIdle)
            self._ping_loop.clock = self.reactor
            self._ping_loop.start(self.ping_interval, now=False)

    def _stopHelpers(self):
        if self._ping_loop is not None:
            if self._ping_loop.running:
                self._ping_loop.stop()
            self._ping_loop = None
        if self.sentinel is not None:
            self.sentinel.stop()

    def connectFailed(self, reason, prefix=""):
        if self._stopped or self._dead:
            return
        why = prefix + describe_reason(reason)
        self._error("error connecting to Redis %s: %s" % (self.address, why), twistd=False)
        self.availability.failed(why)

    def connectionReady(self, conn):
        if self._factory is None or conn.factory is not self._factory:
            conn.transport.loseConnection()
            return
        master = getattr(conn, "masterAddress", None)
        if self._lost > 0:
            self._lost -= 1
            self.reconnects += 1
        if master is not None:
            if self._last_master is not None and master != self._last_master:
                self.failovers += 1
            self._last_master = master
        if master is None:
            self.note("connected to Redis %s" % (self.address,), twistd=False)
        else:
            self.note("connected to Redis %s (%s)" % (format_address(master), self.address),
                      twistd=False)
            # anything still connected to another master goes; what that one acknowledged
            # without a replica confirming it is sent again, first
            for other in list(self._factory.pool):
                if other is not conn and getattr(other, "masterAddress", None) != master:
                    self._abandon(other)
            self._replay(master, getattr(conn, "replInfo", {}))
        self._ready.append(conn)
        self.availability.connected()
        self._pump()

    def connectionGone(self, conn):
        if conn in self._ready:
            self._ready.remove(conn)
        if self._factory is None or conn.factory is not self._factory:
            return          # our own shutdown
        reason = describe_reason(conn.lostReason) if conn.lostReason is not None else "unknown"
        self._lost = min(self._lost + 1, self.poolsize)
        if self.target.no_reconnect and not getattr(conn, "switchedAway", False):
            self._dead = True
            lost = self.buffered
            self._inflight.clear()
            self._busy_keys.clear()
            self._queues.clear()
            self.buffered = 0
            self.dropped += lost
            if lost:
                self._count_drop(lost, "no_reconnect")
            self._write("lost connection to Redis %s: %s; RedisOptions NoReconnect is set: "
                        "%d buffered records dropped, no more records will be sent"
                        % (self.address, reason, lost))
            factory, self._factory = self._factory, None
            self._ready = []
            factory.disconnect().addErrback(lambda f: None)
            self._stopHelpers()
            self._releaseDrained()
            return
        if not getattr(conn, "abortedBySink", False):
            self._error("lost connection to Redis %s: %s" % (self.address, reason),
                        twistd=False)
            self.availability.failed(reason)

    # -- the writer --------------------------------------------------------------------
    def _pump(self):
        # Called by its timer, or directly (stop, reply, reconnect): a timer still pending
        # then is cancelled, not forgotten (it would fire after the sink stopped).
        if self._later:
            # Its pushes see _pump_call set: no second timer.
            if self._stopping or self._dead:
                self._materialize()
                self._share = 0
            else:
                if not self._share:
                    self._share = len(self._later)      # what this pump sends
                n = min(self._share, MATERIALIZE_MAX)
                self._materialize(n)
                self._share -= n
                if self._share:
                    # The rest on the next turns, between the sessions' own work; sent
                    # together then (one RPUSH of a few 256-record parts cost more).
                    call = self._pump_call
                    if call is not None and call.active():
                        call.reset(0)
                    else:
                        self._pump_call = self.reactor.callLater(0, self._pump)
                    return
        call, self._pump_call = self._pump_call, None
        if call is not None and call.active():
            call.cancel()
        if self._dead:
            return
        for conn in list(self._ready):
            if conn in self._inflight:
                continue
            if not conn.connected or conn.abortedBySink:
                continue
            key = self._nextKey()
            if key is None:
                break
            self._send(conn, key)
        self._releaseDrained()

    def _nextKey(self) -> Optional[bytes]:
        """The first key with records, no batch in flight and no pending retry delay."""
        retry = self._retry
        now = self.reactor.seconds() if retry else 0.0
        wake = None
        for key in self._queues:
            if key in self._busy_keys:
                continue
            failure = retry.get(key)
            if failure is not None and failure[1] > now:
                wake = failure[1] if wake is None else min(wake, failure[1])
                continue
            return key
        if wake is not None:
            if self._backoff_call is None:
                self._backoff_call = self.reactor.callLater(max(0.0, wake - now),
                                                             self._endBackoff)
            elif self._backoff_call.getTime() > wake:
                self._backoff_call.reset(max(0.0, wake - now))
        return None

    def _send(self, conn, key: bytes) -> None:
        q = self._queues.pop(key)
        # the usual case (records well under BATCH_MAX_BYTES) without a step per record
        batch = list(islice(q, BATCH_MAX_RECORDS))
        if sum(map(len, map(itemgetter(1), batch))) < BATCH_MAX_BYTES:
            q = deque(islice(q, len(batch), None)) if len(q) > len(batch) else None
        else:
            batch = self._takeBatch(q)
        if q:
            self._queues[key] = q           # back of the line: other keys get their turn
        entry = (key, batch, self.reactor.seconds())
        self._inflight[conn] = entry
        self._busy_keys.add(key)
        d = self._evalBatch(conn, key, self._key_modes.get(key) if self._modes else None,
                            batch)
        d.addTimeout(self.io_timeout, self.reactor)
        d.addCallbacks(self._sent, self._sendFailed, callbackArgs=(conn, entry),
                       errbackArgs=(conn, entry))
        d.addErrback(lambda f: _log.failure("RedisSink writer failed", f))
        if self.sentinel is not None and getattr(conn, "masterAddress", None) is not None:
            # in the same round trip: how far the master is and how far its replicas
            # confirmed, to know when this batch would survive a failover
            role = defer.maybeDeferred(conn.execute_command, "ROLE")
            role.addCallbacks(self._roleReply, lambda f: None, callbackArgs=(conn,))
            role.addErrback(lambda f: _log.failure("RedisSink ROLE reply failed", f))

    @staticmethod
    def _takeBatch(q) -> List[Tuple[int, bytes]]:
        """The head of ``q`` up to BATCH_MAX_RECORDS records or BATCH_MAX_BYTES (at
        least one record, however large)."""
        batch: List[Tuple[int, bytes]] = []
        size = 0
        while q and len(batch) < BATCH_MAX_RECORDS and (size < BATCH_MAX_BYTES or not batch):
            v = q.popleft()
            batch.append(v)
            size += len(v[1])
        return batch

    #: False once Redis refused the ledger script (an ACL user without +evalsha or
    #: access to ftpredis:ledger:*): plain commands then, at least once
    exactly_once = True

    def _evalBatch(self, conn, key, mode, batch):
        """The ledger script over ``conn``: EVALSHA, and EVAL when Redis does not have
        the script (a restarted or another server): NOSCRIPT means it ran nothing."""
        if not self.exactly_once:
            return self._plainBatch(conn, key, mode, batch)
        d = defer.maybeDeferred(conn.execute_command, Encoded(ledger.script_command(
            b"EVALSHA", ledger.SCRIPT_SHA, self.producer, key, mode, batch)))

        def refused(f):
            if not f.check(txredisapi.ResponseError):
                return f
            text = str(f.value)
            if "NOSCRIPT" in text:
                return conn.execute_command(Encoded(ledger.script_command(
                    b"EVAL", ledger.SCRIPT, self.producer, key, mode, batch))
                ).addErrback(refused)
            if "NOPERM" in text or "No permissions" in text:
                # the script writes the ledger before the records: nothing was applied
                self.exactly_once = False
                self.report("Redis %s refused the ledger script (%s): records are sent "
                            "with plain commands, at least once (a batch resent after a "
                            "lost reply may appear twice)" % (self.address, text))
                return self._plainBatch(conn, key, mode, batch)
            return f
        return d.addErrback(refused)

    def _plainBatch(self, conn, key, mode, batch):
        sends = [defer.maybeDeferred(conn.execute_command, *command)
                 for command in ledger.plain_commands(key, mode, batch)]
        d = defer.gatherResults(sends, consumeErrors=True)
        d.addCallbacks(lambda _: (len(batch), 0), lambda f: f.value.subFailure)
        return d

    def _sent(self, reply, conn, entry):
        if self._inflight.get(conn) is not entry:
            return                          # abandoned (NoReconnect, failover)
        key, batch, started = entry
        try:
            _applied, skipped = ledger.parse_reply(reply, len(batch))
        except ledger.UnexpectedReply as e:
            # Counted as sent, these would be lost without a word: the batch goes back
            # to its queue and the connection, whose replies cannot be trusted, is
            # dropped.
            self._sendFailed(Failure(e), conn, entry)
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.abortConnection()
            return
        del self._inflight[conn]
        self._busy_keys.discard(key)
        self.duplicates_avoided += skipped
        rtt = self.reactor.seconds() - started
        self.rtt_sum += rtt
        self.rtt_counts[bisect.bisect_left(RTT_BUCKETS, rtt)] += 1
        if self.sentinel is None or getattr(conn, "masterAddress", None) is None:
            self._settled(batch)
        self.sent += len(batch)
        self.buffered -= len(batch)
        self._retry.pop(key, None)
        if self.availability.catching_up is not None:
            self.availability.progress()
        master = getattr(conn, "masterAddress", None)
        if master is not None:
            replid = getattr(conn, "replInfo", {}).get("master_replid")
            self._window.append([None, key, batch, master, conn, replid])
            self._window_count += len(batch)
            self._trimWindow()
        if self._recent:
            # healthy again: the next problem is news
            for topic in [t for t, e in self._recent.items() if e[2] in (None, key)]:
                del self._recent[topic]
        if self._stopped:
            return                          # a reply that came after the stop: no new timer
        if self._stopping or not self._queues or self.buffered >= BATCH_MAX_RECORDS:
            self._pump()
        elif self._pump_call is None:
            # Let a trickle of records gather (PUMP_DELAY) instead of one RPUSH each.
            self._pump_call = self.reactor.callLater(PUMP_DELAY, self._pump)

    def _sendFailed(self, f, conn, entry):
        if self._inflight.get(conn) is not entry:
            return
        del self._inflight[conn]
        key, batch, _started = entry
        self._busy_keys.discard(key)
        q = self._queues.get(key)
        if q is None:
            # re-inserted at the end; order between keys does not matter, within one it does
            self._queues[key] = deque(batch)
        else:
            q.extendleft(reversed(batch))
        if f.check(defer.TimeoutError, defer.CancelledError, txredisapi.TimeoutError,
                   ierror.TimeoutError):
            self.note("error appending %d records to '%s': no reply from Redis %s within %gs"
                       % (len(batch), _text(key), self.address, self.io_timeout),
                       topic=("timeout", key), key=key)
            conn.abortedBySink = True           # its loss is ours, not news for RedisLog
            transport = getattr(conn, "transport", None)
            if conn.connected and transport is not None:
                transport.abortConnection()     # a stalled connection is recycled
        elif not f.check(txredisapi.ConnectionError):
            # an error reply (WRONGTYPE, NOPERM, OOM, READONLY...) or something unexpected
            reason = describe_reason(f)
            self.note("error appending %d records to '%s': %s"
                       % (len(batch), _text(key), reason), topic=("error", key, reason), key=key)
            if self.sentinel is not None and reason.startswith("READONLY"):
                self._abandon(conn)         # a demoted master: find the new one now
        # a lost connection is logged by connectionGone; the batch waits for the next one.
        # This key waits a little before it is tried again; other keys are not held up.
        failures = self._retry.get(key, (0, 0.0))[0] + 1
        delay = min(self.retry_initial_delay * (2 ** (failures - 1)), self.retry_max_delay)
        self._retry[key] = (failures, self.reactor.seconds() + delay)
        self._pump()

    # -- liveness ------------------------------------------------------------------------
    def _pingIdle(self):
        """PING (ROLE with Sentinel) every idle connection: a dead one is noticed and
        replaced before records need it; with Sentinel, a demoted master too."""
        for conn in list(self._ready):
            if conn in self._inflight or not conn.connected:
                continue
            command = "ROLE" if getattr(conn, "masterAddress", None) is not None else "PING"
            d = defer.maybeDeferred(conn.execute_command, command)
            d.addTimeout(self.io_timeout, self.reactor)
            d.addCallbacks(self._pinged, self._pingFailed, callbackArgs=(conn,),
                           errbackArgs=(conn,))
            d.addErrback(lambda f: _log.failure("RedisSink PING failed", f))
        if self.sentinel is not None:
            self.sentinel.ping()

    def _pinged(self, reply, conn):
        if getattr(conn, "masterAddress", None) is not None:
            self._roleReply(reply, conn)

    def _pingFailed(self, f, conn):
        if not conn.connected or conn not in self._ready:
            return
        self.note("no reply to PING from Redis %s within %gs: %s; reconnecting"
                   % (self.address, self.io_timeout, describe_reason(f)),
                   topic=("ping", self.address))
        self._abandon(conn, switched=False)

    def _endBackoff(self):
        self._backoff_call = None
        self._pump()

    def _releaseDrained(self):
        if self._drained and (self.buffered == 0 or self._dead):
            waiters, self._drained = self._drained, []
            for d in waiters:
                if not d.called:
                    d.callback(None)

    # -- RedisLog ------------------------------------------------------------------------
    def _write(self, message: str, twistd: bool = True) -> None:
        if twistd:
            _log.info("{message}", message=message)
        for log in self.logs:
            log.write(message)

    def report(self, message: str) -> None:
        """Write ``message`` to the RedisLogs and twistd's log."""
        self._write(message)

    def note(self, message: str, topic=None, key=None, twistd: bool = True) -> None:
        """Write a problem report, each ``topic`` (default: the text) at most once per
        ``repeat_interval`` until a batch (for ``key``, or any batch when ``key`` is
        None) succeeds again: a dead or hanging server is retried every couple of
        seconds, a refused key every 2 s, and neither may flood the RedisLog.  With
        ``twistd=False`` only the RedisLogs get it (connection news reaches twistd's log
        through :attr:`availability`)."""
        now = self.reactor.seconds()
        if topic is None:
            topic = message
        entry = self._recent.get(topic)
        if entry is not None and now - entry[0] < self.repeat_interval:
            entry[1] += 1
            return
        self._recent[topic] = [now, 0, key]
        if entry is not None and entry[1]:
            message = "%s (%d more since the last report)" % (message, entry[1])
        self._write(message, twistd)

    _error = note

    def _drop(self, n: int, reason: str, code: str) -> None:
        self.dropped += n
        self._count_drop(n, code)
        self._drops[reason] = self._drops.get(reason, 0) + n
        if self._drop_call is None and not self._stopped:
            self._drop_call = self.reactor.callLater(self.drop_report_interval, self._reportDrops)
        elif self._stopped:
            self._reportDrops()

    def _count_drop(self, n: int, code: str) -> None:
        self.dropped_by_reason[code] = self.dropped_by_reason.get(code, 0) + n

    def _reportDrops(self):
        if self._drop_call is not None and self._drop_call.active():
            self._drop_call.cancel()
        self._drop_call = None
        drops, self._drops = self._drops, {}
        for reason, n in drops.items():
            self._write("dropped %d record%s: %s" % (n, "" if n == 1 else "s", reason))


def _text(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace") if isinstance(key, bytes) else str(key)


class SinkRegistry(service.MultiService):
    """One :class:`RedisSink` per distinct target, as children of this MultiService.

    Servers whose ``RedisTarget`` compare equal share one sink (and one pool); their
    RedisLogs are all told about it.
    """

    def __init__(self, reactor=None):
        service.MultiService.__init__(self)
        self.reactor = reactor
        self._sinks: Dict[RedisTarget, RedisSink] = {}

    def get(self, target: RedisTarget, logs: Iterable = ()) -> RedisSink:
        logs = list(logs)
        sink = self._sinks.get(target)
        if sink is None:
            sink = RedisSink(target, logs, reactor=self.reactor)
            self._sinks[target] = sink
            sink.use_spool = True
            sink.setServiceParent(self)
        else:
            sink.add_logs(logs)
        return sink

    def sinks(self) -> List[RedisSink]:
        return list(self._sinks.values())

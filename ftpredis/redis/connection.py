# -*- test-case-name: tests.test_sink -*-
"""The sink's connection to Redis: txredisapi's protocol and factory as the sink uses them.

Owns the handshake (AUTH, SELECT, and ``ROLE`` under RedisSentinel) bounded by the
connect timeout, a factory that keeps trying after AUTH/SELECT failures (txredisapi #146)
with a short back-off, and the endpoint wrapper that reports each connection attempt's
outcome to the sink's RedisLog.  :mod:`ftpredis.redis.sink` owns what goes over it.
"""


import txredisapi
from twisted.internet import defer
from twisted.internet.interfaces import IHandshakeListener, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ftpredis._compat.txredisapi import FastEncoding

_log = Logger(namespace="ftpredis.redis.sink")


class _HandshakeTimeout(Exception):
    pass


class _NotRedis(Exception):
    pass


@implementer(IHandshakeListener)
class _SinkProtocol(FastEncoding, txredisapi.RedisProtocol):
    """RedisProtocol that remembers why its connection ended (txredisapi never says) and,
    over TLS, starts AUTH/SELECT and counts as connected only once the handshake and the
    certificate check succeeded; otherwise a refused certificate would look like a
    working connection that is lost at once.

    It also counts as connected only after a first reply (``PING``, after AUTH/SELECT):
    with TLS 1.3 a server that refuses our client certificate says so only after the
    client finished its handshake, and a server at ``maxclients`` closes after accepting.
    Until then the pool slot keeps its back-off (txredisapi resets it when a connection
    becomes usable, which made such servers a 10-attempts-a-second loop)."""

    lostReason = None
    abortedBySink = False
    tls = False
    handshakeTimeout = 1.0

    probeTimeout = 1.0
    _handshakeTimer = None
    _handshakeTimedOut = False
    _probed = False
    _probeTimedOut = False
    _notRedis = False
    clock = None

    def whenConnected(self):
        if self._probed:
            return defer.succeed(self)
        d = defer.Deferred()
        self.__dict__.setdefault("_probeWaiters", []).append(d)
        return d

    def _start(self):
        d = defer.maybeDeferred(txredisapi.RedisProtocol.connectionMade, self)
        d.addCallback(self._probe)
        d.addErrback(lambda f: _log.failure("Redis connection set-up failed", f))

    def _probe(self, _ignored):
        if not self._ready:
            return None         # AUTH/SELECT failed; txredisapi closes the connection
        d = defer.maybeDeferred(self.execute_command, "PING")
        d.addTimeout(self.probeTimeout, self.clock)

        def answered(reply):
            self._probed = True
            waiters, self.__dict__["_probeWaiters"] = self.__dict__.get("_probeWaiters", []), []
            for w in waiters:
                w.callback(self)

        def failed(f):
            if f.check(txredisapi.ResponseError):
                return answered(None)   # an error reply is a reply (an ACL without +ping)
            if self.connected:
                if f.check(defer.TimeoutError, txredisapi.TimeoutError):
                    self._probeTimedOut = True
                self.abortedBySink = True
                self.transport.abortConnection()
        return d.addCallbacks(answered, failed)

    def connectionMade(self):
        try:
            self.transport.setTcpKeepAlive(1)
        except Exception:
            pass            # UNIX sockets and TLS wrappers may not offer it; not essential
        if self.tls:
            # the endpoint's connect timeout ends with the TCP connection; a peer that
            # never finishes the handshake needs its own bound
            self._handshakeTimer = self.callLater(self.handshakeTimeout, self._handshakeExpired)
            return None     # handshakeCompleted() goes on
        self._start()

    def dataReceived(self, data, unpause=False):
        try:
            return super().dataReceived(data, unpause)
        except UnicodeDecodeError:
            # txredisapi decodes every reply line as UTF-8 and lets the error out of
            # dataReceived: a traceback in twistd's log for each attempt at a peer that
            # is not Redis.  The connection is dropped either way; say why instead.
            self._notRedis = True
            self.transport.abortConnection()
            return None

    def _handshakeExpired(self):
        self._handshakeTimer = None
        self._handshakeTimedOut = True
        self.transport.abortConnection()

    def handshakeCompleted(self):
        if self._handshakeTimer is not None:
            self._handshakeTimer.cancel()
            self._handshakeTimer = None
        if self.tls:
            self._start()

    def connectionLost(self, why):
        if self._handshakeTimer is not None:
            self._handshakeTimer.cancel()
            self._handshakeTimer = None
        if self._handshakeTimedOut:
            why = Failure(_HandshakeTimeout("TLS handshake timed out"))
        elif self._probeTimedOut:
            why = Failure(_HandshakeTimeout("no reply to PING within %gs" % self.probeTimeout))
        elif self._notRedis:
            why = Failure(_NotRedis("a reply that is not Redis's protocol (invalid UTF-8)"))
        self.lostReason = why
        was_ready = self._probed
        try:
            txredisapi.RedisProtocol.connectionLost(self, why)
        finally:
            if not was_ready:
                self.factory.handshakeLost(self, why)


class _SinkFactory(txredisapi.RedisFactory):
    """A txredisapi pool that never gives up and tells the sink when connections come and go.

    ``stopTrying`` is what txredisapi 1.6 calls when AUTH or SELECT fails or times out; it
    would stop the pool forever (#146).  The connection is dropped anyway, so doing
    nothing lets ClientService retry with our back-off.  We stop it with ``disconnect()``.
    """

    protocol = _SinkProtocol
    initialDelay = 0.1
    maxDelay = 2.0

    def __init__(self, sink, poolsize: int):
        t = sink.target
        txredisapi.RedisFactory.__init__(
            self, sink.address, t.db, poolsize, isLazy=True,
            password=t.password, username=t.username if t.password is not None else None,
            replyTimeout=sink.io_timeout, convertNumbers=False)
        self.sink = sink
        self._handshake_error_reported = False
        # nobody waits on this lazy pool's "all connected" Deferred; an AUTH error would
        # otherwise end up as an unhandled error in Deferred
        self.deferred.addErrback(lambda f: None)

    def stopTrying(self):
        return defer.succeed(None)

    def buildProtocol(self, addr):
        p = txredisapi.RedisFactory.buildProtocol(self, addr)
        p.callLater = self.sink.reactor.callLater
        p.clock = self.sink.reactor
        p.tls = bool(self.sink.target.ssl)
        p.handshakeTimeout = self.sink.connect_timeout + self.sink.io_timeout
        p.probeTimeout = self.sink.io_timeout
        return p

    def connectionError(self, why):
        # AUTH / SELECT failed ("Redis error: could not auth: WRONGPASS ...")
        self._handshake_error_reported = True
        self.sink.connectFailed(why)
        txredisapi.RedisFactory.connectionError(self, why)

    def handshakeLost(self, protocol, why):
        # a connection that closed before it became usable: TLS verification, a server
        # closing at once (maxclients), an AUTH error already reported above
        if self._handshake_error_reported:
            self._handshake_error_reported = False
            return
        if not self.disconnectCalled:
            self.sink.connectFailed(why)

    def addConnection(self, conn):
        if (self.sink.sentinel is not None and not self.disconnectCalled and conn.connected
                and not getattr(conn, "roleChecked", False)):
            # a Sentinel's answer may be stale: write only to a confirmed master
            d = self.sink.checkRole(conn)
            d.addCallback(lambda ok: self.addConnection(conn) if ok else None)
            d.addErrback(lambda f: _log.failure("ROLE check failed", f))
            return
        txredisapi.RedisFactory.addConnection(self, conn)
        if conn in self.pool:
            self._handshake_error_reported = False
            self.sink.connectionReady(conn)

    def delConnection(self, conn):
        txredisapi.RedisFactory.delConnection(self, conn)
        self.sink.connectionGone(conn)


@implementer(IStreamClientEndpoint)
class _ReportingEndpoint:
    """Builds the real endpoint for every attempt and reports failed attempts to the sink.

    Building per attempt means a TLS context that cannot be built (missing CA file...) is
    a failed connection attempt, logged and retried with back-off, and fixed files are
    picked up without a restart; never a plaintext connection.
    """

    def __init__(self, sink):
        self.sink = sink

    def connect(self, protocolFactory):
        try:
            endpoint = self.sink.makeEndpoint()
        except Exception:
            f = Failure()
            self.sink.connectFailed(f, "cannot set up the connection: ")
            return defer.fail(f)
        d = endpoint.connect(protocolFactory)

        def failed(f):
            if not f.check(defer.CancelledError):
                self.sink.connectFailed(f)
            return f
        return d.addErrback(failed)

# -*- test-case-name: tests.test_sentinel -*-
"""RedisSentinel support for the Redis sink: finding the master and following failovers.

This module owns what ``RedisSentinel host[:port]... [master NAME]`` means at run time:

* :meth:`SentinelMonitor.discover`: ask the sentinels **in the given order**, first one
  that answers wins (doc/decisions.rst, "RedisSentinel order"), with ``SENTINEL
  get-master-addr-by-name NAME`` (or, without a name, the first master ``SENTINEL
  masters`` lists).  Every sentinel query is
  a short connection bounded by the connect and io timeouts, over TLS when ``ssl:true``.
* :class:`SentinelMasterEndpoint`: the sink's endpoint in Sentinel mode; every connection
  attempt (first, and after any loss) discovers the master again and connects to it with
  the sink's own rules (connect timeout, verified TLS).  The sink then confirms ``ROLE``
  says ``master`` before it writes anything.
* a subscription to ``+switch-master`` on the first sentinel that answers (the next one
  when it goes away), PINGed like the data connections: on a switch the sink drops its
  connections to the old master at once and connects to the announced one.

Why not txredisapi's ``Sentinel``: it ignores ``+switch-master`` (measured: it kept
writing to the demoted master and lost acknowledged writes), cannot do TLS or a connect
timeout on the data connection, and its discovery waits 10 s for a healthy answer.  The
connections themselves are still txredisapi protocols.
"""

from __future__ import annotations
from ftpredis.redis.errors import describe_reason

from typing import List, Optional, Tuple

import txredisapi
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer, protocol
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import Logger
from zope.interface import implementer

_log = Logger(namespace="ftpredis.redis.sentinel")

Address = Tuple[str, int]


class SentinelError(Exception):
    """No sentinel could tell us the master (the text says why, per sentinel)."""


def format_address(addr: Address) -> str:
    host, port = addr
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class _QueryProtocol(txredisapi.RedisProtocol):
    """A one-shot connection to a sentinel: run a few commands, then hang up."""


class _SubscriberProtocol(txredisapi.SubscriberProtocol):
    """Listens for ``+switch-master`` and tells the monitor."""

    monitor: "SentinelMonitor"
    sentinel: Address

    def connectionMade(self):
        txredisapi.SubscriberProtocol.connectionMade(self)
        d = self.subscribe("+switch-master")
        d.addCallbacks(lambda _: self.monitor.subscribed(self),
                       lambda f: self.transport.abortConnection())

    def messageReceived(self, pattern, channel, message):
        if _text(channel) == "+switch-master":
            self.monitor.switchMessage(_text(message), self.sentinel)

    def connectionLost(self, why):
        txredisapi.SubscriberProtocol.connectionLost(self, why)
        self.monitor.unsubscribed(self, why)


def _givingUpOnCancel(attempt) -> defer.Deferred:
    """``attempt(given_up)``: a connection attempt that tries addresses in turn, as a
    Deferred whose cancel fails it at once and stops it trying any further address.

    ClientService (ours, and each slot of txredisapi's pool) cancels an attempt when it
    is stopped and counts on the attempt failing right then: it is "stopped" from that
    moment, and a connection made after it is one it never closes (Twisted 24.7 raised
    NoTransition when such a connection was lost).  An inlineCallbacks loop goes on to
    the next address after the error of the one it was waiting on, and that error does
    not always say it was cancelled (HostnameEndpoint turns a cancel during name
    resolution into DNSLookupError): hence the flag ``attempt`` checks on every error.
    """
    given_up = []
    inner = attempt(given_up)

    def cancel(_):
        given_up.append(True)
        inner.cancel()
    outer = defer.Deferred(cancel)
    inner.chainDeferred(outer)
    return outer


@implementer(IStreamClientEndpoint)
class _InOrderEndpoint:
    """Connects to the first sentinel that accepts a connection, in the configured order."""

    def __init__(self, monitor: "SentinelMonitor"):
        self.monitor = monitor

    def connect(self, protocolFactory):
        return _givingUpOnCancel(lambda given_up: self._inOrder(protocolFactory, given_up))

    @defer.inlineCallbacks
    def _inOrder(self, protocolFactory, given_up):
        errors = []
        for sentinel in self.monitor.sentinels:
            try:
                endpoint = self.monitor.endpoint(sentinel)
                proto = yield endpoint.connect(_AddressedFactory(protocolFactory, sentinel))
            except Exception as e:
                if given_up:
                    raise defer.CancelledError()
                errors.append("%s: %s" % (format_address(sentinel), self.monitor.describe(e)))
                continue
            return proto
        raise SentinelError("no sentinel reachable (%s)" % "; ".join(errors))


class _AddressedFactory:
    """Wraps a protocol factory to tell each protocol whom it is connected to."""

    def __init__(self, factory, address: Address, attribute: str = "sentinel"):
        self._factory = factory
        self._address = address
        self._attribute = attribute

    def buildProtocol(self, addr):
        p = self._factory.buildProtocol(addr)
        inner = p
        # through ClientService's proxy (and any like it) to the Redis protocol itself
        while inner is not None and "_protocol" in vars(inner):
            inner = vars(inner)["_protocol"]
        if inner is not None:
            setattr(inner, self._attribute, self._address)
        return p

    def __getattr__(self, name):
        return getattr(self._factory, name)


@implementer(IStreamClientEndpoint)
class SentinelMasterEndpoint:
    """Per attempt: discover the master, then connect to it as to a RedisServer.

    The protocol gets ``masterAddress`` set, so the sink knows which master a connection
    (and what it acknowledged) belongs to.
    """

    def __init__(self, monitor: "SentinelMonitor"):
        self.monitor = monitor

    def connect(self, protocolFactory):
        def attempt(given_up):
            d = self.monitor.discover(given_up)

            def connect(addr):
                endpoint = self.monitor.endpoint(addr, tls_host=addr[0])
                return endpoint.connect(_AddressedFactory(protocolFactory, addr,
                                                          "masterAddress"))
            return d.addCallback(connect)
        return _givingUpOnCancel(attempt)


class SentinelMonitor:
    """Discovery and failover following for one sink (``sink.target.sentinels``).

    The sink calls :meth:`start` when it starts connecting, :meth:`stop` when it stops,
    :meth:`discover` (through :class:`SentinelMasterEndpoint`) for every connection
    attempt, and reads :attr:`expected`: the master a new connection must be to.  The
    monitor calls ``sink.masterSwitched(addr, why)`` when a sentinel announces a new
    master (or answers differently after the subscription came back).
    """

    def __init__(self, sink):
        self.sink = sink
        t = sink.target
        self.sentinels: List[Address] = list(t.sentinels)
        self.master_name: Optional[str] = t.master_name
        self.fallback: Optional[Address] = (t.host, t.port) if t.host else None
        self.reactor = sink.reactor
        #: master address of the last discovery or +switch-master; connections to any
        #: other address are refused by the sink
        self.expected: Optional[Address] = None
        #: announced by +switch-master: the next attempt connects there without asking
        self.announced: Optional[Address] = None
        self.answered_by: Optional[Address] = None
        self._subscriber: Optional[_SubscriberProtocol] = None
        self._service: Optional[ClientService] = None
        self._ping = None

    @property
    def label(self) -> str:
        return "master '%s' via RedisSentinel" % (self.master_name or "?",)

    def describe(self, reason) -> str:
        return describe_reason(reason)

    def endpoint(self, addr: Address, tls_host: Optional[str] = None):
        """A client endpoint to ``addr`` with the sink's connect timeout and TLS rules."""
        host, port = addr
        endpoint = HostnameEndpoint(self.reactor, host, port, timeout=self.sink.connect_timeout)
        if self.sink.target.ssl:
            endpoint = wrapClientTLS(self.sink.tlsOptions(tls_host or host), endpoint)
        return endpoint

    # -- discovery -------------------------------------------------------------------
    @defer.inlineCallbacks
    def discover(self, given_up=()):
        """The master's ``(host, port)``: the address a ``+switch-master`` announced if
        there is one, else the first sentinel's answer, in order; else the RedisServer
        address when one is configured (as ProFTPD does); else :class:`SentinelError`.
        Once ``given_up`` is true (:func:`_givingUpOnCancel`), no further sentinel is
        asked."""
        if self.announced is not None:
            addr, self.announced = self.announced, None
            self.expected = addr
            return addr
        errors = []
        for sentinel in self.sentinels:
            try:
                addr = yield self.ask(sentinel)
            except Exception as e:
                if given_up:
                    raise defer.CancelledError()
                errors.append("%s: %s" % (format_address(sentinel), self.describe(e)))
                continue
            self.answered_by = sentinel
            self.expected = addr
            return addr
        text = "; ".join(errors)
        if self.fallback is not None:
            self.sink.note("RedisSentinel: no sentinel answered (%s); using RedisServer %s"
                            % (text, format_address(self.fallback)), topic="sentinel-fallback")
            self.expected = self.fallback
            return self.fallback
        raise SentinelError("no sentinel answered for %s (%s)"
                            % ("master '%s'" % self.master_name if self.master_name
                               else "any master", text))

    @defer.inlineCallbacks
    def ask(self, sentinel: Address):
        """Ask one sentinel for the master's address (one short connection)."""
        io = self.sink.io_timeout
        proto = _QueryProtocol(replyTimeout=io, convertNumbers=False)
        proto.callLater = self.reactor.callLater
        yield connectProtocol(self.endpoint(sentinel), proto)
        try:
            name = self.master_name
            if name is None:
                masters = yield self._command(proto, "SENTINEL", "MASTERS")
                name = _first_master_name(masters)
                if name is None:
                    raise SentinelError("it monitors no master")
                self.master_name = name
            reply = yield self._command(proto, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
            if not reply:
                raise SentinelError("it knows no master '%s'" % (name,))
            if isinstance(reply, Exception):
                raise reply
            return (_text(reply[0]), int(reply[1]))
        finally:
            proto.transport.loseConnection()

    def _command(self, proto, *args):
        d = defer.maybeDeferred(proto.execute_command, *args)
        # txredisapi's replyTimeout does not cover a TLS handshake that never ends
        d.addTimeout(self.sink.io_timeout + self.sink.connect_timeout, self.reactor)

        def check(reply):
            if isinstance(reply, Exception):
                raise reply
            return reply
        return d.addCallback(check)

    # -- +switch-master --------------------------------------------------------------
    def start(self):
        if self._service is not None:
            return
        factory = protocol.Factory()
        factory.buildProtocol = lambda addr: self._buildSubscriber()
        self._service = ClientService(
            _InOrderEndpoint(self), factory,
            retryPolicy=backoffPolicy(self.sink.retry_initial_delay,
                                      self.sink.retry_max_delay),
            clock=self.reactor)
        self._service.startService()

    def _buildSubscriber(self):
        p = _SubscriberProtocol(replyTimeout=self.sink.io_timeout, convertNumbers=False)
        p.callLater = self.reactor.callLater
        p.monitor = self
        return p

    def stop(self):
        service, self._service = self._service, None
        self._subscriber = None
        if service is None:
            return defer.succeed(None)
        return service.stopService()

    def subscribed(self, proto):
        if self._service is None:
            proto.transport.loseConnection()
            return
        self._subscriber = proto
        self.sink.note("RedisSentinel: watching for failovers of %s on sentinel %s"
                        % (self.master_name or "any master", format_address(proto.sentinel)),
                        topic=("sentinel-watch", proto.sentinel))
        # a switch may have happened while nobody listened: ask again
        d = self.ask(proto.sentinel)

        def compare(addr):
            if self.expected is not None and addr != self.expected:
                self.sink.masterSwitched(addr, "sentinel %s now names %s"
                                          % (format_address(proto.sentinel),
                                             format_address(addr)))
        d.addCallbacks(compare, lambda f: None)

    def unsubscribed(self, proto, why):
        if self._subscriber is proto:
            self._subscriber = None
            if self._service is not None:
                self.sink.note("RedisSentinel: lost the subscription on sentinel %s: %s"
                                % (format_address(proto.sentinel), self.describe(why)),
                                topic=("sentinel-lost", proto.sentinel))

    def switchMessage(self, message: str, sentinel: Address):
        # "<name> <old-ip> <old-port> <new-ip> <new-port>"
        words = message.split()
        if len(words) != 5:
            return
        name, _old_ip, _old_port, new_ip, new_port = words
        if self.master_name is not None and name != self.master_name:
            return
        try:
            addr = (new_ip, int(new_port))
        except ValueError:
            return
        self.announced = addr
        self.expected = addr
        self.sink.masterSwitched(addr, "sentinel %s announced +switch-master %s"
                                  % (format_address(sentinel), message))

    def ping(self):
        """Check the subscription is alive (the sink's periodic PING calls this)."""
        proto = self._subscriber
        if proto is None or not proto.connected:
            return
        d = defer.maybeDeferred(proto.ping)
        d.addTimeout(self.sink.io_timeout, self.reactor)

        def failed(f):
            if proto.connected:
                proto.transport.abortConnection()
        d.addErrback(failed)


def _first_master_name(masters) -> Optional[str]:
    """The ``name`` field of the first entry of ``SENTINEL MASTERS`` (a flat field/value
    list per master; Redis puts ``name`` first, we look it up anyway)."""
    if not isinstance(masters, list) or not masters:
        return None
    first = masters[0]
    if isinstance(first, dict):
        return first.get("name")
    if isinstance(first, list):
        fields = [_text(x) for x in first]
        for i in range(0, len(fields) - 1, 2):
            if fields[i] == "name":
                return fields[i + 1]
    return None


def role_of(reply) -> Optional[str]:
    """``"master"``/``"slave"``/``"sentinel"`` from a ``ROLE`` reply, None if unreadable."""
    if isinstance(reply, list) and reply:
        return _text(reply[0])
    return None


def replication_offsets(reply):
    """``(master_offset, [replica ack offsets])`` from a master's ``ROLE`` reply."""
    try:
        offset = int(reply[1])
        acks = [int(r[2]) for r in reply[2]]
    except (IndexError, TypeError, ValueError):
        return None, []
    return offset, acks


__all__ = ["SentinelMonitor", "SentinelMasterEndpoint", "SentinelError", "role_of",
           "replication_offsets", "format_address"]

# -*- test-case-name: tests.test_proxy -*-
"""The PROXY protocol layer of a listening socket: :class:`ProxyProtocolFactory` wraps
any server factory (FTP's now, SFTP's later) so that each connection's header is read
first, and :class:`ProxyProtocolWrapper` is the connection as the wrapped protocol
sees it afterwards.

This module owns the order of things on a proxied connection, as mod_proxy_protocol
keeps it: nothing reaches the wrapped protocol (no greeting goes out, no session
starts) until a complete, valid header has been read within ``ProxyProtocolTimeout``;
a bad, oversized or slow header closes the connection and says why in the log; after
it, ``getPeer()`` is the proxied client and ``getHost()`` the server's own address
(the proxied destination only when UseProxiedServerAddress picked another server by
it), so every reader of the transport's addresses sees the client's.  Bytes after the
header (a pipelined command, a TLS ClientHello) go to the wrapped protocol, and TLS
started later wraps the TCP connection under this layer (ftpredis.tls.ftps).
"""

from __future__ import annotations

from typing import Callable, Optional

from twisted.logger import Logger
from twisted.protocols import policies
from zope.interface import directlyProvides, providedBy

from ftpredis.proxy.header import HeaderError, HeaderReader, Proxied

log = Logger(namespace="ftpredis.proxy")


class ProxyProtocolWrapper(policies.ProtocolWrapper):
    """One connection: reads the header, then relays to the protocol it builds."""

    proxied: Optional[Proxied] = None
    _timer = None
    _host = None            # the proxied destination, when it chose the server

    def __init__(self, factory: "ProxyProtocolFactory"):
        policies.ProtocolWrapper.__init__(self, factory, None)
        self._reader = HeaderReader(factory.version)

    def logPrefix(self):
        return "ftpredis (PROXY)"

    def makeConnection(self, transport):
        # ProtocolWrapper.makeConnection less its last step: the wrapped protocol is
        # built and connected once the header is read.
        directlyProvides(self, providedBy(transport))
        policies.Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        timeout = self.factory.timeout
        if timeout:
            self._timer = self.factory.reactor.callLater(timeout, self._timedOut)

    def _client(self) -> str:
        peer = self.transport.getPeer()
        return "%s:%s" % (getattr(peer, "host", peer), getattr(peer, "port", ""))

    def _refuse(self, why: str) -> None:
        log.warn("{client}: PROXY protocol: {why}; connection closed", client=self._client(),
                 why=why)
        self._cancelTimer()
        self.disconnecting = 1
        self.transport.abortConnection()

    def _timedOut(self) -> None:
        self._timer = None
        t = self.factory.timeout
        self._refuse("no complete header within ProxyProtocolTimeout (%d %s)"
                     % (t, "sec" if t == 1 else "secs"))

    def _cancelTimer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def dataReceived(self, data):
        proto = self.wrappedProtocol
        if proto is not None:
            proto.dataReceived(data)
            return
        if self.disconnecting:
            return
        try:
            done = self._reader.feed(data)
        except HeaderError as e:
            self._refuse(str(e))
            return
        if done is None:
            return
        self._cancelTimer()
        proxied, rest = done
        self._connect(proxied)
        if rest and self.wrappedProtocol is not None and not self.disconnecting:
            self.wrappedProtocol.dataReceived(rest)

    def _connect(self, proxied: Proxied) -> None:
        factory = self.factory
        if not factory.ignore:
            self.proxied = proxied
        wrapped = factory.wrappedFactory
        if (self.proxied is not None and self.proxied.destination is not None
                and factory.route is not None):
            chosen = factory.route(self.proxied.destination)
            if chosen is not None and chosen is not wrapped:
                log.info("{client}: changing to another server due to the PROXY "
                         "protocol's destination {dest}", client=self._client(),
                         dest=self.proxied.destination.host)
                wrapped, self._host = chosen, self.proxied.destination
        proto = wrapped.buildProtocol(self.getPeer())
        if proto is None:
            self.disconnecting = 1
            self.transport.loseConnection()
            return
        self.wrappedProtocol = proto
        proto.makeConnection(self)

    # -- the addresses the wrapped protocol sees ------------------------------------------
    def getPeer(self):
        p = self.proxied
        if p is not None and p.source is not None:
            return p.source
        return self.transport.getPeer()

    def getHost(self):
        if self._host is not None:
            return self._host
        return self.transport.getHost()

    @property
    def proxy_notes(self) -> dict:
        """mod_proxy_protocol's session notes from the header's TLVs (for %{note:...})."""
        p = self.proxied
        return dict(p.notes) if p is not None else {}

    def connectionLost(self, reason):
        self._cancelTimer()
        if self.wrappedProtocol is None:
            self.factory.unregisterProtocol(self)
            if not self.disconnecting:
                log.info("{client}: PROXY protocol: connection closed before a complete "
                         "header", client=self._client())
            return
        policies.ProtocolWrapper.connectionLost(self, reason)


class ProxyProtocolFactory(policies.WrappingFactory):
    """Wraps ``wrappedFactory``: every connection starts with a PROXY header of
    ``version`` (1 or 2) read within ``timeout`` seconds (0: no limit).

    ``route(destination)``, when given, returns the factory that serves the header's
    destination address (UseProxiedServerAddress), or None to keep ``wrappedFactory``.
    ``ignore`` (ProxyProtocolIgnore): the header is read and its addresses unused.
    """

    protocol = ProxyProtocolWrapper
    noisy = False

    def __init__(self, wrappedFactory, version: int = 1, timeout: int = 3,
                 reactor=None, route: Optional[Callable] = None, ignore: bool = False):
        policies.WrappingFactory.__init__(self, wrappedFactory)
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.version = version
        self.timeout = timeout
        self.route = route
        self.ignore = ignore

    def buildProtocol(self, addr):
        return self.protocol(self)

    def pending(self) -> int:
        """Connections still waiting for their header: open connections that the
        wrapped factories do not know of yet (MaxInstances counts them, as ProFTPD
        counts the process that reads the header)."""
        return sum(1 for p in list(self.protocols) if p.wrappedProtocol is None)

    @classmethod
    def for_server(cls, server, wrappedFactory, reactor=None,
                   route: Optional[Callable] = None) -> Optional["ProxyProtocolFactory"]:
        """The layer ``server``'s ProxyProtocol* settings ask for, or None when its
        ProxyProtocolEngine is off."""
        if not getattr(server, "proxy_protocol_engine", False):
            return None
        use_dest = "UseProxiedServerAddress" in server.proxy_protocol_options
        return cls(wrappedFactory, version=server.proxy_protocol_version,
                   timeout=server.proxy_protocol_timeout, reactor=reactor,
                   route=route if use_dest else None, ignore=server.proxy_protocol_ignore)

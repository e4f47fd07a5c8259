# -*- test-case-name: tests.test_perf_features -*-
"""Passive-mode listening ports: subclasses of Twisted's ``tcp.Port`` that override its
private methods.

Twisted (24.7 to 26.10) has no public way to bind a listening port to a port number we
pick, to keep its start and stop out of the log, or to accept only when a transfer waits
(one PASV = one port; a session reuses it).  So these classes override ``tcp.Port``'s
private ``_bind``, ``_buildAddr``, ``_logConnectionLostMsg`` and set
``_realPortNumber``; the names are listed in ``PRIVATE_NAMES`` and checked by
:func:`ftpredis._compat.verify`, and ``tests/test_compat_tcp.py`` checks a live port.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import struct
import termios

from twisted.internet import defer, tcp
from twisted.logger import Logger

from ftpredis._compat import CompatError
from ftpredis._compat.twisted_tcp import raw_accept

TESTED_WITH = {"Twisted": ("24.7.0", "26.10.0")}

PRIVATE_NAMES = (
    ("twisted.internet.tcp", "Port._buildAddr"),
    ("twisted.internet.tcp", "Port._logConnectionLostMsg"),
    ("twisted.internet.tcp", "Port._realPortNumber"),
)

_log = Logger(namespace="ftpredis.ftp.fastpath")
_ONE = struct.pack("i", 1)


def verify_live(port) -> None:
    """Raise :class:`CompatError` unless a listening ``port`` reports its number where
    the overrides put it."""
    if getattr(port, "_realPortNumber", None) != port.getHost().port:
        raise CompatError("twisted.internet.tcp.Port._realPortNumber no longer holds the "
                          "listening port's number; see ftpredis/_compat/twisted_ports.py")



class LeanAcceptPort:
    """A ``tcp.Port`` mixin (ftpredis.app.workers.ControlPort): its own accept loop, which
    builds the address with ``tcp.Port``'s private ``_buildAddr`` and numbers the session
    as Twisted's loop does; the rest of the loop is public socket work."""

    def doRead(self):
        """``tcp.Port.doRead`` for the usual case, without its log-buffering context, its
        generator and ``socket.accept``'s Python wrapper (a tenth of a login-churn
        session's accept).  Any failure to accept but "none waiting" (EMFILE, EPERM
        from netfilter...) is handed to Twisted's own loop, which retries the accept and
        recovers as it always has."""
        accepted = 0
        try:
            for _ in range(self.numberAccepts):
                try:
                    fd, addr = raw_accept(self.socket)
                except BlockingIOError:
                    break
                except OSError:
                    return tcp.Port.doRead(self)
                accepted += 1
                if len(addr) == 4:
                    # IPv6: the scope id in the host, as Twisted's loop does.
                    host = socket.getnameinfo(addr, socket.NI_NUMERICHOST
                                              | socket.NI_NUMERICSERV)
                    addr = (host[0],) + tuple(addr[1:])
                skt = socket.socket(self.addressFamily, socket.SOCK_STREAM, 0, fd)
                proto = self.factory.buildProtocol(self._buildAddr(addr))
                if proto is None:
                    skt.close()
                    continue
                s = self.sessionno
                self.sessionno = s + 1
                proto.makeConnection(self.transport(skt, proto, addr, self, s, self.reactor))
        except BaseException:
            _log.failure("accepting a control connection")
        # Twisted's scaling of the accept batch.
        if accepted == self.numberAccepts:
            self.numberAccepts += 20
        else:
            self.numberAccepts = max(1, accepted)


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        if 1024 <= lo < hi <= 65535:
            return lo, hi
    except (OSError, ValueError):
        pass
    return 32768, 60999


#: Where a PASV port is picked when no PassivePorts range is configured.
EPHEMERAL = _ephemeral_range()
#: Random ports tried before letting the kernel choose.
PICK_TRIES = 8
_randint = random.Random().randint


class QuietPort(tcp.Port):
    """A listening port that does not log its start and stop (one PASV = one port).

    For port 0 it binds a random port of the ephemeral range itself: the kernel's own
    choice (``bind`` to port 0) scans for a port without TIME_WAIT connections, and the
    many-small-files workload leaves thousands of them (each data connection the server
    closes), which made that ``bind`` cost ~300 µs against ~6 µs for a named port.
    SO_REUSEADDR (Twisted's default for listening ports) lets a named port be taken
    while only TIME_WAIT connections remain on it; a port really in use answers
    EADDRINUSE and the next random one is tried.
    """

    backlog = 1

    def _open(self, port):
        skt = self.createInternetSocket()
        try:
            skt.bind((self.interface, port))
            skt.listen(self.backlog)
        except BaseException:
            skt.close()
            raise
        return skt

    def startListening(self):
        self._bind()
        self.startReading()

    def _bind(self):
        skt = None
        number = 0
        if self.port == 0:
            lo, hi = EPHEMERAL
            for _ in range(PICK_TRIES):
                number = _randint(lo, hi)
                try:
                    skt = self._open(number)
                    break
                except OSError:
                    continue
        if skt is None:
            try:
                skt = self._open(self.port)
            except OSError as le:
                from twisted.internet.error import CannotListenError
                raise CannotListenError(self.interface, self.port, le)
            number = self.port or skt.getsockname()[1]
        self._realPortNumber = number
        self.factory.doStart()
        self.connected = True
        self.socket = skt
        self.fileno = self.socket.fileno
        self.numberAccepts = 1      # one data connection per PASV: no accept() that answers EAGAIN

    def _logConnectionLostMsg(self):
        pass


class LazyPort(QuietPort):
    """A PASV port that the reactor watches only once a transfer command waits on it.

    Clients connect as soon as they read the 227 and send the transfer command after,
    so by then the connection is nearly always in the accept queue: :meth:`accept_raw`
    takes it without the reactor, and a port nobody waited on closes at once.  That
    saves two epoll registrations, a wake-up and a deferred close per transfer.
    Connections from another host than the control peer are closed unread, as
    ``_PassiveFactory.buildProtocol`` does on the watched path.
    """

    backlog = 4          # stray connections wait unread until the transfer command
    watching = False

    def startListening(self):
        self._bind()

    @property
    def reusable(self) -> bool:
        """Open and never watched: it can serve the session's next PASV."""
        return self.connected and not self.watching and not self.disconnecting

    def reuse(self, factory, peer: str) -> int:
        """Serve another PASV: close what waits in the queue (made before this PASV was
        answered, so nobody's transfer), take ``factory``; returns the connections closed."""
        closed = 0
        while True:
            try:
                fd, _ = raw_accept(self.socket)
            except OSError:
                break
            os.close(fd)
            closed += 1
        self.factory = factory
        factory.doStart()
        return closed

    def watch(self):
        """Let the reactor accept from now on (a transfer waits on the port)."""
        if not self.watching and self.connected:
            self.watching = True
            self.startReading()

    def accept_raw(self, peer: str):
        """``(file descriptor, address)`` of a waiting connection from ``peer`` (from
        any host when None; made non-blocking), or None.  A bare descriptor: a socket object would cost a
        getsockname and its construction, for a connection that often lives for one
        sendfile."""
        while self.connected:
            try:
                fd, addr = raw_accept(self.socket)
            except OSError:
                return None         # EAGAIN: not connected yet; EMFILE: the watched path reports
            if peer is not None and plain_host(addr[0]) != peer:
                _log.warn("refused passive data connection from {host} (control peer "
                          "{peer})", host=addr[0], peer=peer)
                os.close(fd)
                continue
            try:
                fcntl.ioctl(fd, termios.FIONBIO, _ONE)
            except OSError:
                os.close(fd)
                return None
            return fd, addr
        return None

    def adopt(self, fd: int, addr):
        """Give an accepted descriptor its protocol and transport, as ``Port.doRead``
        does; None (and the descriptor closed) when the factory refuses it."""
        skt = socket.socket(self.addressFamily, socket.SOCK_STREAM, fileno=fd)
        protocol = self.factory.buildProtocol(self._buildAddr(addr))
        if protocol is None:
            skt.close()
            return None
        s = self.sessionno
        self.sessionno = s + 1
        protocol.makeConnection(self.transport(skt, protocol, addr, self, s, self.reactor))
        return protocol

    def accept_now(self, peer: str):
        """Adopt a waiting connection, if there is one (the factory sees it connect)."""
        got = self.accept_raw(peer)
        if got is not None:
            self.adopt(*got)

    def loseConnection(self, connDone=None):
        if self.watching or not self.connected:
            if connDone is None:
                return QuietPort.loseConnection(self)
            return QuietPort.loseConnection(self, connDone)
        # Never in the reactor: close now rather than in a later iteration.
        self.disconnecting = True
        self.connected = False
        self._realPortNumber = None
        try:
            self.socket.close()
        finally:
            del self.socket
            del self.fileno
            try:
                self.factory.doStop()
            finally:
                self.disconnecting = False
        return defer.succeed(None)

    stopListening = loseConnection


def plain_host(host: str) -> str:
    return host[7:] if host.startswith("::ffff:") and "." in host else host


class QuietPort6(QuietPort):
    addressFamily = socket.AF_INET6

    def startListening(self):
        # IPv6 needs scope resolution: the ordinary path (rare; logging is acceptable).
        tcp.Port.startListening(self)


def listen_quiet(reactor):
    """A ``listenTCP``-compatible callable for the passive data ports of one reactor."""

    def listen(port, factory, backlog=None, interface=""):
        if ":" in interface:
            p = QuietPort6(port, factory, backlog or 1, interface, reactor)
        else:
            p = LazyPort(port, factory, backlog or LazyPort.backlog, interface, reactor)
        p.startListening()
        return p

    from twisted.internet.posixbase import PosixReactorBase
    if not isinstance(reactor, PosixReactorBase):
        return reactor.listenTCP      # a test's fake reactor: keep its own
    return listen

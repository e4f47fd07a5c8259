# -*- test-case-name: tests.test_perf_features -*-
"""The hot paths of the FTP server, kept out of :mod:`ftpredis.protocol`.

Owns three mechanisms, each chosen from a profile of the benchmark workloads
(``bench/ftpredis_bench.py``), each falling back to Twisted's ordinary path whenever its
preconditions do not hold:

* :class:`RetrSender`: binary RETR over plain TCP with ``os.sendfile`` (the file's pages go
  from the page cache to the socket without passing through Python), driven by the
  reactor's writability through Twisted's pull-producer protocol.  ASCII transfers and
  TLS data connections use the ordinary producer (``fallback``).
* :func:`write_now`: a control reply is sent with one ``send()`` at once when nothing is
  queued on the connection, instead of waiting for the next reactor turn (which costs an
  ``epoll_ctl`` to watch for writability, a wake-up and another ``epoll_ctl``).  That is
  most of a NOOP round trip's latency.
* :func:`listen_quiet`: PASV/EPSV listening sockets that do not write "starting on" /
  "Port Closed" lines to the twistd log (two log lines per small file cost ~10% of the
  CPU of the many-small-files workload).
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Optional

from twisted.internet import defer, tcp
from twisted.internet.interfaces import IPullProducer
from twisted.protocols.policies import ProtocolWrapper
from zope.interface import implementer

#: bytes per sendfile() call; the kernel sends what fits in the socket buffer anyway.
SENDFILE_CHUNK = 4 * 1024 * 1024


def plain_tcp(transport) -> Optional[tcp.Connection]:
    """The underlying :class:`tcp.Connection` when ``transport`` is plain TCP (through any
    :class:`ProtocolWrapper`), or None (TLS, UNIX, a test's fake transport)."""
    t = transport
    while isinstance(t, ProtocolWrapper):
        t = t.transport
    if not isinstance(t, tcp.Connection) or getattr(t, "TLS", False):
        return None
    return t


# ------------------------------------------------------------------------ control replies

def write_now(transport, data: bytes) -> None:
    """``transport.write(data)``, but sent immediately when the connection has nothing
    queued (order is kept: anything already buffered means the ordinary path)."""
    t = plain_tcp(transport)
    if (t is None or t.dataBuffer or t._tempDataBuffer or t.producer is not None
            or not t.connected or t.disconnecting):
        transport.write(data)
        return
    try:
        n = t.socket.send(data)
    except (BlockingIOError, InterruptedError):
        n = 0
    except OSError:
        # Let Twisted see (and report) the broken connection its usual way.
        transport.write(data)
        return
    if n < len(data):
        transport.write(data[n:])


# ------------------------------------------------------------------------ PASV listening

class QuietPort(tcp.Port):
    """A listening port that does not log its start and stop (one PASV = one port)."""

    backlog = 1

    def startListening(self):
        try:
            skt = self.createInternetSocket()
            skt.bind((self.interface, self.port))
        except OSError as le:
            try:
                skt.close()
            except Exception:
                pass
            from twisted.internet.error import CannotListenError
            raise CannotListenError(self.interface, self.port, le)
        skt.listen(self.backlog)
        self._realPortNumber = skt.getsockname()[1]
        self.factory.doStart()
        self.connected = True
        self.socket = skt
        self.fileno = self.socket.fileno
        self.numberAccepts = 4
        self.startReading()

    def _logConnectionLostMsg(self):
        pass


class QuietPort6(QuietPort):
    addressFamily = socket.AF_INET6

    def startListening(self):
        # IPv6 needs scope resolution: the ordinary path (rare; logging is acceptable).
        tcp.Port.startListening(self)


def listen_quiet(reactor):
    """A ``listenTCP``-compatible callable for the passive data ports of one reactor."""

    def listen(port, factory, backlog=1, interface=""):
        if ":" in interface:
            p = QuietPort6(port, factory, backlog, interface, reactor)
        else:
            p = QuietPort(port, factory, backlog, interface, reactor)
        p.startListening()
        return p

    from twisted.internet.posixbase import PosixReactorBase
    if not isinstance(reactor, PosixReactorBase):
        return reactor.listenTCP      # a test's fake reactor: keep its own
    return listen


# ------------------------------------------------------------------------ RETR

@implementer(IPullProducer)
class _SendfileProducer:
    """Sends ``fileobj`` from its current position to a plain TCP transport with
    ``os.sendfile``, as much as the socket takes at each writability."""

    def __init__(self, fileobj, conn, t: tcp.Connection, counter):
        self.f = fileobj
        self.conn = conn
        self.t = t
        self.counter = counter
        self.offset = fileobj.tell()
        try:
            self.left = max(0, os.fstat(fileobj.fileno()).st_size - self.offset)
        except OSError:
            self.left = None
        self.deferred = defer.Deferred()
        self._done = False

    def start(self):
        self.t.registerProducer(self, False)    # calls resumeProducing() at once
        return self.deferred

    def resumeProducing(self):
        if self._done:
            return
        t = self.t
        out, infd = t.socket.fileno(), self.f.fileno()
        while True:
            want = SENDFILE_CHUNK if self.left is None else min(SENDFILE_CHUNK, self.left)
            if want <= 0:
                n = 0
            else:
                try:
                    n = os.sendfile(out, infd, self.offset, want)
                except (BlockingIOError, InterruptedError):
                    # Socket buffer full: Twisted calls us again when it is writable.
                    t.startWriting()
                    return
                except OSError as e:
                    self._finish(e)
                    return
            if n == 0:
                if self.left is not None and self.left > 0:
                    # The file shrank under us: what is there has been sent.
                    pass
                self._finish(None)
                return
            self.offset += n
            if self.left is not None:
                self.left -= n
            self.counter(n)

    def stopProducing(self):
        # The connection went away (client closed, ABOR, server stopping).
        self._finish(ConnectionError(errno.ECONNRESET, "data connection lost"),
                     unregister=False)

    def pauseProducing(self):
        pass

    def _finish(self, error, unregister=True):
        if self._done:
            return
        self._done = True
        try:
            # Keep the file position meaningful for whoever looks at it afterwards.
            self.f.seek(self.offset)
        except (OSError, ValueError):
            pass
        if unregister and self.t.producer is self:
            self.t.unregisterProducer()
        if error is None:
            self.deferred.callback(None)
        else:
            self.deferred.errback(error)


class RetrSender:
    """The RETR sender: sendfile for binary mode on plain TCP, ``fallback`` otherwise.

    ``fallback(ascii=...)`` builds the ordinary producer (``send(fileobj, consumer)``
    returning a Deferred, ``count`` the file bytes sent).  ``count`` here is the same.
    """

    enabled = True

    def __init__(self, ascii: bool, fallback):
        self.ascii = ascii
        self._fallback_cls = fallback
        self._fallback = None
        self._count = 0
        self.used_sendfile = False

    @property
    def count(self) -> int:
        if self._fallback is not None:
            return self._fallback.count
        return self._count

    def send(self, fileobj, conn) -> defer.Deferred:
        t = plain_tcp(getattr(conn, "transport", None))
        if self.ascii or t is None or not self.enabled or not _has_fileno(fileobj):
            self._fallback = self._fallback_cls(ascii=self.ascii)
            return self._fallback.send(fileobj, conn)
        self.used_sendfile = True
        pi = getattr(conn, "pi", None)

        def counted(n):
            self._count += n
            if pi is not None:
                pi.bytes_out += n
                pi.data_bytes += n
        return _SendfileProducer(fileobj, conn, t, counted).start()


def _has_fileno(f) -> bool:
    try:
        f.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False

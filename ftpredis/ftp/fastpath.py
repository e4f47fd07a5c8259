# -*- test-case-name: tests.test_perf_features -*-
"""The hot paths of the FTP server, kept out of :mod:`ftpredis.ftp.protocol`.

Owns four mechanisms, each chosen from a profile of the benchmark workloads
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
  CPU of the many-small-files workload), on a port picked at random rather than by the
  kernel (see :class:`QuietPort`).
* :class:`SpliceReceiver`: binary STOR over plain TCP moved socket -> pipe -> file with
  ``os.splice`` (socket -> pipe in the reactor thread, never blocking; pipe -> file, which
  can block on a slow disk, in a pool thread), instead of ``recv`` into bytes objects
  written by a pool thread.  ASCII and TLS uploads use the ordinary receiver
  (``fallback``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from typing import Optional

from twisted.internet import defer, main, tcp
from twisted.internet.interfaces import IPullProducer
from twisted.logger import Logger
from twisted.python import failure
from twisted.protocols.policies import ProtocolWrapper
from zope.interface import implementer

from ftpredis._compat.twisted_tcp import has_queued, send_now
from ftpredis.ftp.diskpool import pool_for

_log = Logger()

#: bytes per sendfile() call; the kernel sends what fits in the socket buffer anyway.
SENDFILE_CHUNK = 4 * 1024 * 1024


def tcp_under(transport) -> Optional[tcp.Connection]:
    """The :class:`tcp.Connection` under ``transport`` (through any
    :class:`ProtocolWrapper`), TLS or not, or None (UNIX, a test's fake transport).
    What it finds stays the same for the life of ``transport``: a control connection
    looks it up once (``ftpredis.ftp.dispatch``), and :func:`send_now` checks TLS on
    each write."""
    t = transport
    while isinstance(t, ProtocolWrapper):
        t = t.transport
    return t if isinstance(t, tcp.Connection) else None


def plain_tcp(transport) -> Optional[tcp.Connection]:
    """The underlying :class:`tcp.Connection` when ``transport`` is plain TCP (through any
    :class:`ProtocolWrapper`), or None (TLS, UNIX, a test's fake transport)."""
    t = tcp_under(transport)
    if t is None or getattr(t, "TLS", False):
        return None
    return t


def as_oserror(f: failure.Failure) -> OSError:
    """The OSError a failed upload step reports (EIO for anything that is not one)."""
    return f.value if isinstance(f.value, OSError) else OSError(errno.EIO, str(f.value))


# ------------------------------------------------------------------------ control replies

_MSG_MORE = getattr(socket, "MSG_MORE", 0)


def write_now(transport, data: bytes, closing: bool = False) -> None:
    """``transport.write(data)``, but sent immediately when the connection has nothing
    queued (order is kept: anything already buffered means the ordinary path).

    ``closing``: the caller closes the connection with :func:`close_now` right after
    (QUIT's 221).  The bytes are then handed to the kernel with ``MSG_MORE``, so that the
    FIN of the close goes out in the same segment: one loopback segment and one wake-up
    of the client less per session.  The close pushes them out whatever happens (a close
    that has to wait goes through Twisted's shutdown, which sends the FIN too)."""
    send_or_write(plain_tcp(transport), transport, data, closing)


def send_or_write(t: Optional[tcp.Connection], transport, data: bytes,
                  closing: bool = False) -> None:
    """:func:`write_now` with the connection under ``transport`` found already
    (:func:`tcp_under`; None: the ordinary write)."""
    n = -1 if t is None else send_now(t, data, _MSG_MORE if closing else 0)
    if n < 0:
        transport.write(data)
    elif n < len(data):
        transport.write(data[n:])


def close_now(transport) -> None:
    """``transport.loseConnection()``; when nothing is left to send on plain TCP, the
    connection is closed at once instead of on the reactor's next turn (which first
    watches the socket for writability only to find nothing to write: an epoll_ctl, a
    wake-up and a doWrite per session end), and the protocol's connectionLost runs now."""
    t = plain_tcp(transport)
    if (t is None or has_queued(t) or t.producer is not None
            or not t.connected or t.disconnecting):
        transport.loseConnection()
        return
    t.disconnecting = True
    reason = failure.Failure(main.CONNECTION_DONE)
    # Failure computes its parents (a qual() of each class of the MRO) when first asked:
    # tcp.Connection asks at every close.  They are the same for every session.
    reason.parents = list(_DONE_PARENTS)
    t.connectionLost(reason)


_DONE_PARENTS = tuple(failure.Failure(main.CONNECTION_DONE).parents)


# ------------------------------------------------------------------------ PASV listening
# The listening ports override private methods of Twisted's tcp.Port: they live in
# ftpredis._compat.twisted_ports.
from ftpredis._compat.twisted_ports import (  # noqa: E402,F401  (re-exported)
    EPHEMERAL, PICK_TRIES, LazyPort, QuietPort, QuietPort6, listen_quiet)


# ------------------------------------------------------------------------ RETR

@implementer(IPullProducer)
class _SendfileProducer:
    """Sends ``fileobj`` from its current position to a plain TCP transport with
    ``os.sendfile``, in a disk pool thread that owns the transfer until it ends.

    The file's pages are read by ``sendfile``: on a network file system, or a cold
    local disk, that may wait, and it must not wait in the reactor thread.  The worker
    sends what the socket takes, then waits in ``poll()`` (without the GIL) for room,
    as ProFTPD's process waits in its blocking ``sendfile``; the reactor is not woken
    for each socket-buffer's worth.  It works on a duplicate of the socket descriptor,
    so the reactor closing the connection (ABOR, a timeout, the client gone) can never
    leave it writing to a reused descriptor number; :meth:`stopProducing` wakes it
    through a pipe.
    """

    #: How long the worker waits for room before it looks again (it is woken at once
    #: when stopped).
    WAIT_MS = 1000

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
        self._running = False
        self._stop_error = None
        self._wake = None

    def start(self):
        self.t.registerProducer(self, False)    # calls resumeProducing() at once
        return self.deferred

    def resumeProducing(self):
        if self._done or self._running:
            return
        self._running = True
        try:
            out = os.dup(self.t.socket.fileno())
            self._wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            self._running = False
            self._finish(e)
            return
        pool_for().run(self._pump, out, self.f.fileno(), self.offset, self.left,
                       self._wake[0]).addBoth(self._pumped)

    def _pump(self, out: int, infd: int, offset: int, left, wake: int):
        """In a worker: sendfile until done, failed or stopped; ``(bytes, error)``."""
        import select
        sent = 0
        poller = select.poll()
        poller.register(out, select.POLLOUT)
        poller.register(wake, select.POLLIN)
        try:
            while self._stop_error is None:
                want = SENDFILE_CHUNK if left is None else min(SENDFILE_CHUNK, left - sent)
                if want <= 0:
                    return sent, None
                try:
                    n = os.sendfile(out, infd, offset + sent, want)
                except (BlockingIOError, InterruptedError):
                    poller.poll(self.WAIT_MS)
                    continue
                except OSError as e:
                    return sent, e
                if n == 0:
                    return sent, None       # the file shrank: what is there has been sent
                sent += n
            return sent, self._stop_error
        finally:
            os.close(out)

    def _pumped(self, result):
        self._running = False
        for fd in self._wake or ():
            os.close(fd)
        self._wake = None
        if isinstance(result, failure.Failure):
            sent, error = 0, result.value
        else:
            sent, error = result
        self.offset += sent
        if self.left is not None:
            self.left -= sent
        if sent:
            self.counter(sent)
        self._finish(error)

    def stopProducing(self):
        # The connection went away (client closed, ABOR, server stopping).
        error = ConnectionError(errno.ECONNRESET, "data connection lost")
        if self._running:
            self._stop_error = error
            try:
                os.write(self._wake[1], b"x")
            except OSError:
                pass
            self._unregister = False
            return
        self._finish(error, unregister=False)

    def pauseProducing(self):
        pass

    _unregister = True

    def _finish(self, error, unregister=None):
        if self._done:
            return
        self._done = True
        if unregister is None:
            unregister = self._unregister
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


def sendfile_now(out: int, infd: int, offset: int, left: int):
    """Send ``left`` bytes of ``infd`` from ``offset`` to the non-blocking socket ``out``
    until done or the socket is full: ``(bytes sent, None)``, or ``(bytes sent, OSError)``."""
    sent = 0
    while sent < left:
        try:
            n = os.sendfile(out, infd, offset + sent, min(SENDFILE_CHUNK, left - sent))
        except (BlockingIOError, InterruptedError):
            return sent, None
        except OSError as e:
            return sent, e
        if n == 0:
            # The file shrank under us: what is there has been sent.
            left = sent
            break
        sent += n
    return sent, None


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


# ------------------------------------------------------------------------ STOR

def socket_to_file(sfd: int, r: int, w: int, fd: int, limit: int, chunk: int, ended):
    """Moves an upload from the socket ``sfd`` to the file ``fd`` through the pipe
    ``r``/``w`` with ``splice``, while the socket has data, until about ``limit`` bytes
    are moved, it says EOF or fails, or ``ended()`` says stop.  Returns ``(bytes moved,
    socket state)``: None (no data for now), "eof" or the OSError.

    Runs in a pool thread and owns the transfer meanwhile (the reactor does not read the
    socket), so the bytes cross no thread boundary and a megabyte costs two splices: the
    earlier design, socket -> pipe in the reactor and pipe -> file in a pool thread, cost
    two thread wake-ups per pipeful and ran at 500-650 MiB/s when the CPUs had been idle
    (1750-1950 now).  It returns as soon as the socket has nothing (the reactor waits for
    more): waiting here in poll() instead halved that figure.  It may block on the disk
    (dirty-page writeback, a throttled or network file system) without stalling other
    sessions.  The pipe is empty when it returns."""
    done = 0
    state = None
    sock_flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
    while done < limit and not ended():
        try:
            n = os.splice(sfd, w, chunk, flags=sock_flags)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as e:
            state = e
            break
        if n == 0:
            state = "eof"
            break
        left = n
        while left:
            m = os.splice(r, fd, left, flags=os.SPLICE_F_MOVE)
            if m <= 0:
                raise OSError(errno.EIO, "short write")
            left -= m
        done += n
    return done, state


class SpliceReceiver:
    """Binary STOR on plain TCP: socket -> pipe -> file with ``splice``, in a pool thread.

    The upload's bytes never become Python objects (the ordinary path makes a bytes
    object per ``recv``, joins them and hands them to a pool thread to ``write``: two
    copies and a thread hop per megabyte).  When the socket becomes readable, the
    reactor stops reading it and hands the transfer to a pool thread
    (:func:`socket_to_file`), which moves what there is until the socket has nothing
    more for now, ``BATCH`` bytes are moved, or the upload ends; then the reactor reads
    again (and sees EOF or the error the ordinary way: its own ``doRead``, an instance
    attribute shadowing :meth:`tcp.Connection.doRead`).  One hop at a time, so the order
    is kept.  The thread reads a duplicate of the socket's descriptor: the reactor may
    close the connection (ABOR, TimeoutStalled, shutdown) while a hop runs, and the hop
    then stops after its current chunk.  The same interface as the ordinary receiver
    (``count``, ``error``, ``finish()``, ``drained()``).
    """

    CHUNK = 1 << 20
    #: bytes one pool-thread hop moves at most.
    BATCH = 16 << 20

    def __init__(self, fileobj, conn, t: tcp.Connection, on_error):
        self.fd = fileobj.fileno()
        self.conn = conn
        self.t = t
        self.count = 0
        self.error: Optional[OSError] = None
        self._on_error = on_error
        self._writing = False       # a hop is in the thread pool
        self._finishing = False
        self._waiters: list = []
        self._r, self._w = os.pipe2(os.O_CLOEXEC)
        try:
            fcntl.fcntl(self._w, getattr(fcntl, "F_SETPIPE_SZ", 1031), self.CHUNK)
        except OSError:
            pass        # the default 64 KiB pipe: more splices, same result
        self._sfd = os.dup(t.socket.fileno())
        t.doRead = self.doRead

    def doRead(self):
        if self.error is not None:
            self.t.pauseProducing()         # the upload failed: the abort closes it
            return None
        if self._writing:
            return None
        # EOF or an error the last hop saw (or one that came since) is the reactor's to
        # report (a reset is reported once: the next read would say EOF); data goes to
        # the pool thread.
        if self._state is not None:
            return main.CONNECTION_DONE if self._state == "eof" else main.CONNECTION_LOST
        try:
            n = os.splice(self._sfd, self._w, self.CHUNK,
                          flags=os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return main.CONNECTION_LOST
        if n == 0:
            return main.CONNECTION_DONE
        self._hop(n)
        return None

    def _ended(self) -> bool:
        # Read by the pool thread: plain attribute reads, no lock needed.
        return self._finishing or self.error is not None

    def _hop(self, first: int):
        """Hands the transfer to a pool thread (``first`` bytes already in the pipe)."""
        self._writing = True
        self.t.pauseProducing()
        pool_for().run(self._run, first).addCallbacks(self._hopped, self._hopFailed)

    def _run(self, first: int):
        left = first
        while left:
            m = os.splice(self._r, self.fd, left, flags=os.SPLICE_F_MOVE)
            if m <= 0:
                raise OSError(errno.EIO, "short write")
            left -= m
        moved, state = socket_to_file(self._sfd, self._r, self._w, self.fd, self.BATCH,
                                      self.CHUNK, self._ended)
        return first + moved, state

    _state = None           # how the last hop found the socket: "eof", an OSError

    def _hopped(self, result):
        n, self._state = result
        self._writing = False
        self.count += n
        pi = self.conn.pi
        pi.bytes_in += n
        pi.data_bytes += n
        if n:
            pi.touch_stall()
        if not self._finishing:
            # EOF and errors: the reactor's next read reports them.
            self.t.resumeProducing()
        self._idle()

    def _hopFailed(self, f):
        self._writing = False
        e = as_oserror(f)
        self.error = e
        self._on_error(e)
        self._idle()

    def _idle(self):
        waiters, self._waiters = self._waiters, []
        if self._finishing:
            self._close()
        for d in waiters:
            d.callback(None)

    def __call__(self, data: bytes):
        # Only if bytes reached Python another way (they should not): written inline.
        if self.error is not None:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
            self.count += len(data)
        except OSError as e:
            self.error = e
            self._on_error(e)

    def finish(self):
        self._finishing = True
        if not self._writing:
            self._close()

    def _close(self):
        for fd in (self._r, self._w, self._sfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._r = self._w = self._sfd = None

    def drained(self) -> defer.Deferred:
        """Fires once every byte received so far is in the file (or a write failed)."""
        if not self._writing:
            return defer.succeed(None)
        d = defer.Deferred()
        self._waiters.append(d)
        return d


def store_receiver(fileobj, conn, ascii: bool, on_error, fallback):
    """The STOR sink: :class:`SpliceReceiver` for binary uploads over plain TCP,
    ``fallback()`` (the ordinary receiver) otherwise."""
    t = plain_tcp(getattr(conn, "transport", None))
    if ascii or t is None or not SpliceReceiver.enabled or not _has_fileno(fileobj):
        return fallback()
    return SpliceReceiver(fileobj, conn, t, on_error)


SpliceReceiver.enabled = hasattr(os, "splice")

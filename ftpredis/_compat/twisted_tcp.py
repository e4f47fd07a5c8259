# -*- test-case-name: tests.test_compat_tcp -*-
"""Twisted's TCP write buffer and the socket module's raw accept, as the fast paths use them.

``ftpredis.ftp.fastpath`` sends a control reply straight to the socket, and closes a
finished session at once, only when the connection has nothing queued; Twisted keeps
queued bytes in two places, the public ``dataBuffer`` and the private list
``_tempDataBuffer``.  Reading only the first would let a reply overtake queued bytes.
:func:`send_now` reads both, and the connection's ``TLS`` mark (set by ``startTLS``,
undone by CCC: ``ftpredis._compat.twisted_tls``), on every control reply.
Passive ports accept with ``socket.socket._accept()``, which returns a bare descriptor:
building a socket object costs a getsockname for a connection that often lives for one
sendfile.

Both names are checked: :func:`verify_live` on a real connection, and the
``socket._accept`` attribute by :func:`ftpredis._compat.verify`.  Should Twisted drop
``_tempDataBuffer``, :func:`has_queued` would raise :class:`CompatError` on first use
(the test suite calls :func:`verify_live` on a real connection, so an upgrade fails there
first), never silently report an empty queue.
"""

from __future__ import annotations

from ftpredis._compat import CompatError

TESTED_WITH = {"Twisted": ("24.7.0", "26.10.0")}

PRIVATE_NAMES = (
    ("socket", "socket._accept"),
)

_TEMP = "_tempDataBuffer"


def verify_live(connection) -> None:
    """Raise :class:`CompatError` unless ``connection`` (a ``tcp.Connection``) keeps its
    second write buffer where :func:`has_queued` looks, and its TLS mark where
    :func:`send_now` looks."""
    if not isinstance(getattr(connection, _TEMP, None), list):
        raise CompatError("twisted.internet.abstract.FileDescriptor._tempDataBuffer is "
                          "gone or not a list: Twisted's write buffering changed; see "
                          "ftpredis/_compat/twisted_tcp.py")
    if not isinstance(getattr(connection, "TLS", None), bool):
        raise CompatError("twisted.internet.tcp.Connection.TLS (startTLS's mark) is gone "
                          "or not a bool: see ftpredis/_compat/twisted_tcp.py")


def has_queued(connection) -> bool:
    """True when ``connection`` (a plain ``tcp.Connection``) has bytes waiting to be
    written, in either of Twisted's two buffers."""
    try:
        return bool(connection.dataBuffer or connection._tempDataBuffer)
    except AttributeError:
        verify_live(connection)
        raise


def send_now(connection, data: bytes, flags: int = 0) -> int:
    """Send ``data`` on ``connection`` (a ``tcp.Connection``) with one ``send()`` when
    Twisted has nothing in its way: nothing queued (:func:`has_queued`), no producer,
    connected, not closing, not under TLS.  The number of bytes the kernel took (0 when
    its buffer is full), or -1 when the caller must write ``data`` the ordinary way
    (including a send that failed: Twisted then sees and reports the broken connection
    its usual way).  What was not sent is the caller's to write after it, in order.

    One call for the checks a control reply makes on every write: the reply path's
    hottest few lines (``ftpredis.ftp.dispatch``)."""
    try:
        if (connection.dataBuffer or connection._tempDataBuffer
                or connection.producer is not None or not connection.connected
                or connection.disconnecting or connection.TLS):
            return -1
    except AttributeError:
        verify_live(connection)
        raise
    try:
        return connection.socket.send(data, flags)
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError:
        return -1


def raw_accept(sock):
    """``(descriptor, address)`` of a waiting connection on listening socket ``sock``,
    without building a socket object; OSError (EAGAIN...) as ``accept`` raises it."""
    return sock._accept()

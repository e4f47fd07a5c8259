# -*- test-case-name: tests.test_compat_tcp -*-
"""Twisted's TCP write buffer and the socket module's raw accept, as the fast paths use them.

``ftpredis.ftp.fastpath`` sends a control reply straight to the socket, and closes a
finished session at once, only when the connection has nothing queued; Twisted keeps
queued bytes in two places, the public ``dataBuffer`` and the private list
``_tempDataBuffer``.  Reading only the first would let a reply overtake queued bytes.
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
    second write buffer where :func:`has_queued` looks."""
    if not isinstance(getattr(connection, _TEMP, None), list):
        raise CompatError("twisted.internet.abstract.FileDescriptor._tempDataBuffer is "
                          "gone or not a list: Twisted's write buffering changed; see "
                          "ftpredis/_compat/twisted_tcp.py")


def has_queued(connection) -> bool:
    """True when ``connection`` (a plain ``tcp.Connection``) has bytes waiting to be
    written, in either of Twisted's two buffers."""
    try:
        return bool(connection.dataBuffer or connection._tempDataBuffer)
    except AttributeError:
        verify_live(connection)
        raise


def raw_accept(sock):
    """``(descriptor, address)`` of a waiting connection on listening socket ``sock``,
    without building a socket object; OSError (EAGAIN...) as ``accept`` raises it."""
    return sock._accept()

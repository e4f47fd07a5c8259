# -*- test-case-name: tests.test_compat_tls -*-
"""Twisted's TLS internals: starting TLS as the server on any TCP connection, and
taking TLS off a control connection again (CCC).

Twisted's ``startTLS`` (``twisted.internet._newtls``) puts a ``BufferingTLSTransport``
(``twisted.protocols.tls``) between the TCP connection and its protocol and marks the
connection as TLS; it has no way back.  FTPS needs two things it does not offer:

- an active-mode data connection is a TCP *client* that must be the TLS *server* (and
  after SSCN ON a passive one a TCP server that must be the TLS client): ``normal`` is
  chosen from the connection's private ``_tlsClientDefault``;
- CCC (RFC 4217 section 6) puts the control connection back in clear text: the layer's
  pending writes are flushed through TLS (its private ``_aggregator``), the layer must
  be the one running our ``SSL.Connection`` (its private ``_tlsConnection``), and what
  ``startTLS`` set on the TCP connection (``TLS``, ``getHandle``, ``getPeerCertificate``,
  ``ISSLTransport``) is undone by hand.

Undoing ``startTLS`` wrongly could send a reply in clear that the client reads as TLS,
or TLS it reads as clear text.  So :func:`clearable` checks every one of those internals
before CCC is accepted (the caller refuses CCC when it gives a reason) and
:func:`take_back` checks them again before changing anything; neither ever guesses.

One more thing the layer hides: whether the peer's close_notify came before the TCP
connection ended.  The layer's ``connectionLost`` hands OpenSSL the end of the stream
and reads on; with ``OP_IGNORE_UNEXPECTED_EOF`` OpenSSL then marks the connection as
shut down by the peer (``RECEIVED_SHUTDOWN``) exactly as a close_notify would, so after
a reset in the middle of an upload it says the stream was complete.
:func:`before_tcp_lost` gives the caller the moment just before, when that mark can
only come from a real close_notify.

And one thing the reactor skips: reading what came before a reset when it meets the
reset elsewhere (a failed send, a hang-up while reading is paused).
:func:`read_rest_at_loss` reads it then, so a close_notify that did come is not lost.
"""

from __future__ import annotations

import socket
from typing import Callable, Optional

from twisted.internet import error
from twisted.internet.interfaces import ISSLTransport
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from zope.interface import directlyProvidedBy, noLongerProvides

from ftpredis._compat import CompatError

TESTED_WITH = {"Twisted": ("24.7.0", "26.10.0")}

PRIVATE_NAMES = (
    # Which side of startTLS a TCP connection takes by default.
    ("twisted.internet.tcp", "Server._tlsClientDefault"),
    ("twisted.internet.tcp", "Client._tlsClientDefault"),
    # What take_back() undoes (_newtls.startTLS sets it; ConnectionMixin reads it).
    ("twisted.internet._newtls", "startTLS"),
    ("twisted.internet._newtls", "ConnectionMixin.TLS"),
    # What the layer's pending writes wait in (BufferingTLSTransport._aggregator).
    ("twisted.protocols.tls", "_AggregateSmallWrites.flush"),
)

#: Instance attributes of the layer startTLS installs (checked by verify_live).
_LAYER_ATTRIBUTES = ("_tlsConnection", "_aggregator")
#: What startTLS sets on the TCP connection's instance dict.
_TCP_METHODS = ("getHandle", "getPeerCertificate")

_log = Logger(namespace="ftpredis.tls.ftps")


def start_server_tls(tcp, creator, protocol, tls_client: bool = False) -> None:
    """Run ``protocol`` under a server-side TLS layer on the TCP connection ``tcp``,
    whichever side opened the TCP connection (with ``tls_client``, a client-side one:
    SSCN ON's data connections).

    ``startTLS`` wraps the connection's current ``protocol`` attribute, so ``protocol``
    is put there first; ``creator`` provides ``IOpenSSLServerConnectionCreator`` (and
    ``IOpenSSLClientConnectionCreator`` with ``tls_client``).
    Raises :class:`CompatError` when Twisted's startTLS is not the expected one; the
    caller should then abort the connection.
    """
    tcp.protocol = protocol
    try:
        client_default = tcp._tlsClientDefault
    except AttributeError:
        raise CompatError("%s._tlsClientDefault is gone: Twisted's startTLS changed; "
                          "see ftpredis/_compat" % type(tcp).__qualname__) from None
    tcp.startTLS(creator, normal=client_default == tls_client)
    if getattr(tcp.protocol, "wrappedProtocol", None) is not protocol:
        raise CompatError("startTLS no longer wraps the transport's protocol: Twisted's "
                          "startTLS changed; see ftpredis/_compat")


def verify_live(layer) -> None:
    """Raise :class:`CompatError` unless ``layer`` (the protocol ``startTLS`` put on a
    TCP connection) has the instance attributes :func:`take_back` relies on."""
    attributes = vars(layer) if hasattr(layer, "__dict__") else {}
    for name in _LAYER_ATTRIBUTES:
        if name not in attributes:
            raise CompatError("%s.%s is gone: Twisted's TLS layer changed; see "
                              "ftpredis/_compat" % (type(layer).__qualname__, name))
    if not callable(getattr(attributes["_aggregator"], "flush", None)):
        raise CompatError("%s._aggregator.flush is gone: Twisted's TLS layer changed; "
                          "see ftpredis/_compat" % type(layer).__qualname__)
    if not hasattr(layer, "wrappedProtocol"):
        raise CompatError("%s.wrappedProtocol is gone" % type(layer).__qualname__)


def clearable(tcp, conn) -> Optional[str]:
    """None when :func:`take_back` can take TLS off ``tcp`` (whose TLS layer runs the
    ``SSL.Connection`` ``conn``); otherwise why not."""
    if conn is None:
        return "no TLS connection on the control channel"
    if getattr(tcp, "TLS", None) is not True:
        return "the TCP connection is not marked TLS (Twisted's startTLS changed?)"
    layer = getattr(tcp, "protocol", None)
    try:
        verify_live(layer)
    except CompatError as e:
        return str(e)
    if layer._tlsConnection is not conn:
        return "the TLS layer on the connection is not the one AUTH started"
    attributes = vars(tcp) if hasattr(tcp, "__dict__") else {}
    missing = [name for name in _TCP_METHODS if name not in attributes]
    if missing:
        return "startTLS did not set %s on the connection (Twisted changed?)" % (
            ", ".join(missing))
    if ISSLTransport not in directlyProvidedBy(tcp):
        return "startTLS did not mark the connection ISSLTransport (Twisted changed?)"
    return None


def take_back(tcp, conn):
    """Undo ``startTLS`` on ``tcp``: the TLS layer's pending writes go out under TLS,
    then ``tcp`` is a clear-text transport again.

    Returns the protocol the TLS layer wrapped; the caller must make it (or a protocol
    of its own) ``tcp.protocol`` before returning to the reactor: until then the TLS
    layer is still there to receive.  The TLS connection itself is left as it is (no
    close_notify is sent here).  Raises :class:`CompatError`, having changed nothing,
    when :func:`clearable` finds a reason.
    """
    why = clearable(tcp, conn)
    if why is not None:
        raise CompatError("cannot take TLS off the connection: %s" % why)
    layer = tcp.protocol
    layer._aggregator.flush()
    tcp.TLS = False
    for name in _TCP_METHODS:
        vars(tcp).pop(name, None)
    noLongerProvides(tcp, ISSLTransport)
    return layer.wrappedProtocol


def before_tcp_lost(tcp, call: Callable[[], None]) -> None:
    """Run ``call()`` when the TCP connection ``tcp`` (under a TLS layer ``startTLS``
    put there) is lost, before the layer hears of it and feeds OpenSSL the end of the
    stream (see the module's docstring).  The layer's ``connectionLost`` is shadowed by
    an instance attribute, as :mod:`ftpredis._compat.twisted_tls_bulk` does with its
    ``dataReceived``.

    Raises :class:`CompatError`, having changed nothing, when ``tcp.protocol`` is not
    Twisted's TLS layer."""
    layer = getattr(tcp, "protocol", None)
    if not isinstance(layer, TLSMemoryBIOProtocol) or "connectionLost" in vars(layer):
        raise CompatError("the protocol on the connection is not Twisted's TLS layer "
                          "(%s); see ftpredis/_compat/twisted_tls.py"
                          % type(layer).__qualname__)
    _first(layer, lambda reason: call())


def read_rest_at_loss(tcp, wanted: Callable[[], bool]) -> None:
    """When the TCP connection ``tcp`` (under a TLS layer ``startTLS`` put there) is
    lost to an error, first hand the layer what the kernel still holds for the socket,
    for as long as ``wanted()`` says so.

    Twisted ends a connection at the first error it meets, without reading on: a
    ``send`` that fails with ECONNRESET (the layer's pending write, a TLS 1.3 session
    ticket, going out in the same reactor turn as a read that came just before the
    peer's close_notify), or a hang-up reported while reading is paused.  Linux still
    returns the bytes that came before a reset (then the error), so the peer's last
    records and its close_notify may be lying there unread; a stream ended with
    close_notify would then be judged cut (426), as it never is by mod_tls, which reads
    until the error.  Not after a loss of our own making (``abortConnection``: ABOR,
    timeouts) nor after an end the reactor read itself (FIN).  At most the socket's
    receive buffer is read (a paused reader included: these are the last bytes there
    will be), in the connection's ``bufferSize`` pieces, and the layer decrypts them
    as if they were read the ordinary way: the protocol gets them before it hears of
    the loss.  The TCP connection's ``connectionLost`` is shadowed by an instance
    attribute: the reactor and ``abortConnection`` look it up on the instance.

    Raises :class:`CompatError`, having changed nothing, when ``tcp`` is not a TCP
    connection under Twisted's TLS layer with its socket where this reads it."""
    layer = getattr(tcp, "protocol", None)
    sock = getattr(tcp, "socket", None)
    if not isinstance(layer, TLSMemoryBIOProtocol) or "connectionLost" in vars(tcp) \
            or not callable(getattr(sock, "recv", None)):
        raise CompatError("%s is not a TCP connection under Twisted's TLS layer with "
                          "its socket in .socket; see ftpredis/_compat/twisted_tls.py"
                          % type(tcp).__qualname__)
    def read_rest(reason):
        if reason.check(error.ConnectionLost) and not reason.check(error.ConnectionAborted):
            _read_rest(tcp, layer, wanted)
    _first(tcp, read_rest)


def _first(obj, before: Callable) -> None:
    """Have ``obj.connectionLost(reason)`` run ``before(reason)`` first, always followed
    by the method it had (an instance attribute shadows it: callers look it up on the
    instance)."""
    ordinary = obj.connectionLost

    def connectionLost(reason):
        try:
            before(reason)
        finally:
            ordinary(reason)
    obj.connectionLost = connectionLost


def _read_rest(tcp, layer, wanted: Callable[[], bool]) -> None:
    sock = getattr(tcp, "socket", None)
    if sock is None or sock.fileno() == -1:
        return                  # closed already (lost twice)
    try:
        left = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except OSError:
        return
    size = max(int(getattr(tcp, "bufferSize", 0) or 0), 1 << 16)
    while left > 0 and tcp.protocol is layer and wanted():
        try:
            data = sock.recv(min(size, left))
        except OSError:         # nothing more (EAGAIN), or the reset itself
            return
        if not data:
            return
        left -= len(data)
        try:
            layer.dataReceived(data)
        except Exception:
            # As the reactor does with an exception from a protocol: logged, and
            # the connection is lost all the same.
            _log.failure("TLS: reading what came before a reset failed")
            return

# -*- test-case-name: tests.test_compat_tls -*-
"""Bulk writes and reads through Twisted's TLS layer: the FTPS data connection's paths.

Twisted's ``TLSMemoryBIOProtocol._write`` cuts what it is given into 16 KiB slices
and, for each, calls ``SSL_write``, reads the send BIO into a new bytes object and
writes that to the TCP transport: per MiB, 64 slices copied, 64 BIO reads (each
copying twice) and 64 transport writes, most of the CPU of an FTPS download
(``bench/ftps_bench.py``).  :func:`bulk_writer` returns a write function that
encrypts 256 KiB at a time with one ``SSL_write``
(:func:`ftpredis._compat.openssl.whole_writes`; OpenSSL still makes 16 KiB records)
and moves the records to the socket (or, when Twisted holds bytes for it already, to
the TCP transport) with few BIO reads, into one buffer kept for the transfer.

It reads the layer's private state to keep Twisted's semantics: it runs only after the
handshake, with nothing waiting in the layer's own buffer (``_appSendBuffer``) or its
small-write aggregator (``_aggregator``, flushed first), on a connection not lost
(``_lostTLSConnection``) nor closing without a producer; anything else goes through
the layer's ordinary ``write``.  When OpenSSL asks to read first (a renegotiation) the
rest is handed to the layer's ``_bufferedWrite``, and on an error to its
``_tlsShutdownFinished``, as its ``_write`` does.  :func:`verify_live` checks every
instance attribute on a real layer; a layer without them gets no bulk writer (the
caller keeps the ordinary path).

The receive side is the same story: for each TCP read (up to 1 MiB on a data
connection) Twisted's ``_flushReceiveBIO`` hands every 16 KiB record to the protocol
on its own.  :func:`bulk_reader` makes the layer's ``dataReceived`` (an instance
attribute shadowing the method, as Twisted's own ``BufferingTLSTransport`` does with
``write``) decrypt every record the read completed into one buffer kept for the
transfer (:func:`ftpredis._compat.openssl.ssl_reader`) and deliver them as one string; on
anything but "no more records for now" (the peer's close_notify, an error) it delivers
what it has and lets Twisted's ``_flushReceiveBIO`` meet the same condition again and
handle it its own way.
"""

from __future__ import annotations

from typing import Callable, Optional

from OpenSSL import SSL
from twisted.python.failure import Failure

from ftpredis._compat import CompatError, openssl as _openssl
from ftpredis._compat.twisted_tcp import has_queued

TESTED_WITH = {"Twisted": ("24.7.0", "26.10.0"), "pyOpenSSL": ("23.0.0", "26.4.0")}

PRIVATE_NAMES = (
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._bufferedWrite"),
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._tlsShutdownFinished"),
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._handshakeDone"),
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._lostTLSConnection"),
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._producer"),
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._aborted"),
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._flushReceiveBIO"),
    ("twisted.protocols.tls", "TLSMemoryBIOProtocol._flushSendBIO"),
    ("twisted.protocols.tls", "_AggregateSmallWrites.flush"),
)

#: Instance attributes set by the layer's constructor and makeConnection.
_LAYER_ATTRIBUTES = ("_tlsConnection", "_appSendBuffer", "_aggregator")


def verify_live(layer) -> None:
    """Raise :class:`CompatError` unless ``layer`` (the protocol ``startTLS`` put on a TCP
    connection) has the private state :func:`bulk_writer` reads."""
    attributes = vars(layer) if hasattr(layer, "__dict__") else {}
    for name in _LAYER_ATTRIBUTES:
        if name not in attributes:
            raise CompatError("%s.%s is gone: Twisted's TLS layer changed; see "
                              "ftpredis/_compat/twisted_tls_bulk.py"
                              % (type(layer).__qualname__, name))
    if not isinstance(attributes["_appSendBuffer"], list):
        raise CompatError("%s._appSendBuffer is not a list: Twisted's TLS layer changed"
                          % type(layer).__qualname__)
    if not isinstance(attributes["_tlsConnection"], SSL.Connection):
        raise CompatError("%s._tlsConnection is not an OpenSSL.SSL.Connection"
                          % type(layer).__qualname__)
    for name in ("_bufferedWrite", "_tlsShutdownFinished", "_flushReceiveBIO",
                 "_flushSendBIO", "wrappedProtocol", "transport"):
        if getattr(layer, name, None) is None:
            raise CompatError("%s.%s is gone: Twisted's TLS layer changed"
                              % (type(layer).__qualname__, name))
    if not callable(getattr(attributes["_aggregator"], "flush", None)):
        raise CompatError("%s._aggregator.flush is gone: Twisted's TLS layer changed"
                          % type(layer).__qualname__)


def _drain(conn: SSL.Connection, out, hint: int) -> None:
    """Move every byte OpenSSL has put in the send BIO to ``out`` (the TCP transport
    under the layer), in one write."""
    chunks = []
    size = hint + (hint >> 5) + 16384       # room for the records' headers and tags
    while True:
        try:
            chunks.append(conn.bio_read(size))
        except SSL.WantReadError:
            break
    if chunks:
        out.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))


#: Application bytes encrypted before their records are sent: small enough for the
#: records to be sent from a buffer still in the CPU's cache.
_PIECE = 256 * 1024
#: Writes shorter than this (a listing's lines) take Twisted's path, which gathers
#: them.
_SMALL = 1 << 16
#: Room for one piece's records (headers, tags, padding).
_PIECE_OUT = _PIECE + (_PIECE >> 5) + 16384


def bulk_writer(tcp) -> Optional[Callable[[bytes], None]]:
    """A function writing application bytes on the TLS connection ``tcp`` (a TCP
    connection ``startTLS`` was called on) as :meth:`tcp.write` would, in bulk; None
    when the TLS layer is not the one this module knows.

    While Twisted holds nothing to send on ``tcp``, the records go straight from one
    buffer, kept for the connection (:func:`ftpredis._compat.openssl.bio_reader`), to
    the socket; what the socket does not take (and everything after it, until
    Twisted's buffer is empty again) is written to the transport for Twisted to send,
    so its flow control (pausing the producer) works as ever."""
    layer = getattr(tcp, "protocol", None)
    try:
        verify_live(layer)
        has_queued(tcp)
        buffer, bio_read = _openssl.bio_reader(layer._tlsConnection, _PIECE_OUT)
        _openssl.whole_writes(layer._tlsConnection)
    except (CompatError, AttributeError):
        return None
    conn = layer._tlsConnection
    out = layer.transport
    sock = tcp.socket
    view_out = memoryview(buffer)

    def send_direct() -> bool:
        """The records in the send BIO to the socket; False once the socket is full
        (or failed: Twisted then meets the error itself and reports it)."""
        while True:
            k = bio_read()
            if not k:
                return True
            try:
                m = sock.send(view_out[:k])
            except OSError:         # full (EAGAIN), or broken: Twisted's to find out
                m = 0
            if m < k:
                out.write(bytes(view_out[m:k]))
                return False

    def write(data) -> None:
        if (len(data) < _SMALL or tcp.protocol is not layer or not layer._handshakeDone
                or layer._lostTLSConnection or layer._appSendBuffer
                or (layer.disconnecting and layer._producer is None)):
            tcp.write(data)         # Twisted's own path, whatever it then does
            return
        layer._aggregator.flush()   # anything written before goes first
        direct = not has_queued(tcp) and tcp.connected and not tcp.disconnecting
        view = memoryview(data)
        n = len(view)
        pos = 0
        send = conn.send
        try:
            while pos < n:
                end = min(n, pos + _PIECE)
                while pos < end:
                    pos += send(view[pos:end])
                if direct:
                    direct = send_direct()
        except SSL.WantReadError:
            _drain(conn, out, pos)
            layer._bufferedWrite(bytes(view[pos:]))
            return
        except SSL.Error:
            layer._tlsShutdownFinished(Failure())
            return
        _drain(conn, out, n)

    return write


#: Plaintext bytes decrypted before they are delivered (a TCP read of a data
#: connection is at most 1 MiB, ``ftpredis.ftp.datachannel``).
_DELIVER = 1 << 20
#: Room for one more record's plaintext at the end of the buffer.
_RECORD = 1 << 14


def bulk_reader(tcp) -> bool:
    """Make the TLS layer on ``tcp`` deliver each TCP read's records as one string;
    False (nothing changed) when the layer is not the one this module knows."""
    layer = getattr(tcp, "protocol", None)
    try:
        verify_live(layer)
        buffer, ssl_read = _openssl.ssl_reader(layer._tlsConnection, _DELIVER + _RECORD)
    except CompatError:
        return False
    conn = layer._tlsConnection
    ordinary = layer.dataReceived
    view = memoryview(buffer)

    def dataReceived(data) -> None:
        if (tcp.protocol is not layer or not layer._handshakeDone or layer._aborted
                or layer._lostTLSConnection or layer._appSendBuffer):
            ordinary(data)
            return
        conn.bio_write(data)
        pos = 0
        while True:
            n = ssl_read(pos, _RECORD)
            if n > 0:
                pos += n
                if pos < _DELIVER:
                    continue
            if pos and not layer._aborted:
                layer.wrappedProtocol.dataReceived(bytes(view[:pos]))
            pos = 0
            if n > 0:
                if tcp.protocol is not layer or layer._lostTLSConnection:
                    return      # the protocol ended the connection meanwhile
                continue
            break
        if n == 0:
            layer._flushSendBIO()       # anything OpenSSL wants to answer
        elif not layer._lostTLSConnection:
            layer._flushReceiveBIO()    # close_notify or an error: Twisted's to handle

    layer.dataReceived = dataReceived
    return True

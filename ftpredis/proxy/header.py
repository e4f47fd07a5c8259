# -*- test-case-name: tests.test_proxy -*-
"""One PROXY protocol header, read incrementally: :class:`HeaderReader`.

This module owns what a header may look like before the connection is trusted with it:
the version the server expects (mod_proxy_protocol reads only the configured one), the
size limits (107 bytes for a version 1 line, as the protocol specifies; ``MAX_V2``
for a version 2 header with its TLVs), the addresses (well-formed, of the family the
header says, source and destination not identical) and the version 2 TLVs that
mod_proxy_protocol turns into session notes.  The parsing of the fields themselves is
Twisted's (through :mod:`ftpredis._compat.twisted_haproxy`).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from twisted.internet.address import IPv4Address, IPv6Address

from ftpredis._compat import twisted_haproxy as _tx

#: The longest version 1 header, CRLF included (the protocol's own limit).
MAX_V1 = 107
#: The longest version 2 header accepted (16 bytes, addresses, TLVs): HAProxy's own
#: headers are far shorter; a longer one is refused as oversized.
MAX_V2 = 4096

_V1_PREFIX = b"PROXY "
_V2_SIG = _tx.V2_SIGNATURE

# Address lengths of version 2's families (high nibble of byte 13).
_V2_ADDRESS_LENGTH = {0x10: 12, 0x20: 36, 0x30: 216}

# Version 2 TLV types (the protocol's PP2_TYPE_*) -> mod_proxy_protocol's note names.
_TLV_NOTES = {0x01: "mod_proxy_protocol.alpn", 0x02: "mod_proxy_protocol.authority",
              0x05: "mod_proxy_protocol.unique-id"}
_TLV_SSL = 0x20
_SSL_NOTES = {0x21: "mod_proxy_protocol.tls.version",
              0x22: "mod_proxy_protocol.tls.common-name",
              0x23: "mod_proxy_protocol.tls.cipher",
              0x24: "mod_proxy_protocol.tls.signature-algo",
              0x25: "mod_proxy_protocol.tls.key-algo"}
_TLV_AWS, _AWS_VPCE = 0xEA, 0x01
_TLV_AZURE, _AZURE_LINKID = 0xEE, 0x01


class HeaderError(Exception):
    """The header is not one the server accepts; the text says why, for the log."""


@dataclass(frozen=True)
class Proxied:
    """What a header said.  ``source``/``destination`` are Twisted addresses, or None
    when the header carries none (v1 UNKNOWN, v2 LOCAL or an unspecified family): the
    connection's own addresses then stand."""
    version: int
    source: Optional[object] = None
    destination: Optional[object] = None
    notes: Dict[str, str] = field(default_factory=dict)


def _tls_handshake(data: bytes) -> bool:
    # The common mistake mod_proxy_protocol names in its log: TLS where PROXY belongs.
    return len(data) >= 3 and data[0] == 22 and data[1] == 3 and data[2] in (0, 1, 2, 3, 4)


class HeaderReader:
    """Feed it the connection's first bytes: :meth:`feed` returns None until the header
    is complete, then ``(Proxied, bytes after the header)``; raises :class:`HeaderError`
    as soon as the bytes cannot start a valid header."""

    def __init__(self, version: int):
        if version not in (1, 2):
            raise ValueError("PROXY protocol version %r" % (version,))
        self.version = version
        self._buf = b""

    def feed(self, data: bytes) -> Optional[Tuple[Proxied, bytes]]:
        buf = self._buf = self._buf + data
        if self.version == 1:
            return self._feed_v1(buf)
        return self._feed_v2(buf)

    # -- version 1 ----------------------------------------------------------------------
    def _feed_v1(self, buf: bytes):
        head = buf[:len(_V1_PREFIX)]
        if head != _V1_PREFIX[:len(head)]:
            if _V2_SIG.startswith(buf[:len(_V2_SIG)]):
                raise HeaderError("a PROXY protocol V2 header where V1 is expected "
                                  "(ProxyProtocolVersion haproxyV1)")
            if _tls_handshake(buf):
                raise HeaderError("TLS handshake bytes instead of a PROXY header")
            raise HeaderError("no PROXY protocol V1 header")
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) >= MAX_V1:
                raise HeaderError("PROXY V1 header longer than %d bytes" % MAX_V1)
            return None
        if end + 2 > MAX_V1:
            raise HeaderError("PROXY V1 header longer than %d bytes" % MAX_V1)
        line, rest = buf[:end], buf[end + 2:]
        self._buf = b""
        if line == b"PROXY UNKNOWN" or line.startswith(b"PROXY UNKNOWN "):
            # The proxy cannot name the client (the protocol allows the bare form,
            # which Twisted's parser refuses): the connection's own addresses stand.
            return Proxied(1), rest
        try:
            line.decode("ascii")
            info = _tx.parse_v1(line)
        except (_tx.InvalidProxyHeader, UnicodeDecodeError, ValueError) as e:
            raise HeaderError("malformed PROXY V1 header (%s)" % (type(e).__name__,))
        proto = line.split(b" ")[1] if line.count(b" ") >= 1 else b""
        if info.source is not None:
            want = IPv4Address if proto == b"TCP4" else IPv6Address
            if line.count(b" ") != 5:
                raise HeaderError("malformed PROXY V1 header (field count)")
            for port in line.split(b" ")[4:]:
                if not port.isdigit() or int(port) > 65535 or (len(port) > 1 and
                                                                port[:1] == b"0"):
                    raise HeaderError("malformed PROXY V1 header (port)")
            return Proxied(1, *_check(info, want)), rest
        return Proxied(1), rest

    # -- version 2 ----------------------------------------------------------------------
    def _feed_v2(self, buf: bytes):
        n = min(len(buf), len(_V2_SIG))
        if buf[:n] != _V2_SIG[:n]:
            if _V1_PREFIX.startswith(buf[:len(_V1_PREFIX)]):
                raise HeaderError("a PROXY protocol V1 header where V2 is expected "
                                  "(ProxyProtocolVersion haproxyV2)")
            if _tls_handshake(buf):
                raise HeaderError("TLS handshake bytes instead of a PROXY header")
            raise HeaderError("invalid PROXY protocol V2 signature")
        if len(buf) < 16:
            return None
        if buf[12] & 0xF0 != 0x20:
            raise HeaderError("PROXY V2 version %#x is not 2" % (buf[12] >> 4,))
        size = 16 + struct.unpack("!H", buf[14:16])[0]
        if size > MAX_V2:
            raise HeaderError("PROXY V2 header of %d bytes (more than %d)" % (size, MAX_V2))
        if len(buf) < size:
            return None
        header, rest = buf[:size], buf[size:]
        self._buf = b""
        command, family = header[12] & 0x0F, header[13] & 0xF0
        if command not in (0, 1):
            raise HeaderError("PROXY V2 command %#x is neither LOCAL nor PROXY" % command)
        addr_len = _V2_ADDRESS_LENGTH.get(family, 0) if command == 1 else 0
        if 16 + addr_len > size:
            raise HeaderError("PROXY V2 header too short for its addresses")
        try:
            info = _tx.parse_v2(header)
        except (_tx.InvalidProxyHeader, struct.error, KeyError, ValueError) as e:
            raise HeaderError("malformed PROXY V2 header (%s)" % (type(e).__name__,))
        if info.source is not None and not isinstance(info.source,
                                                      (IPv4Address, IPv6Address)):
            # UNIX sockets: no client address to use; mod_proxy_protocol keeps the
            # connection's own, as for LOCAL.
            info_source = info_destination = None
        else:
            info_source = info_destination = None
            if info.source is not None:
                info_source, info_destination = _check(
                    info, IPv4Address if family == 0x10 else IPv6Address)
        notes = _tlv_notes(header[16 + addr_len:])
        return Proxied(2, info_source, info_destination, notes), rest


def _check(info, want):
    """``(source, destination)`` of ``info``, IPv6 in its short form; refuses what
    Twisted's parsers take as it comes: malformed addresses, ones of the other family,
    and identical source and destination (mod_proxy_protocol: "the remote client is
    lying to us")."""
    out = []
    for a in (info.source, info.destination):
        if not isinstance(a, want):
            raise HeaderError("PROXY header addresses of the wrong family")
        try:
            ip = ipaddress.ip_address(a.host)
        except ValueError:
            raise HeaderError("PROXY header address '%s' is not an IP address"
                              % (a.host[:64],))
        if (ip.version == 4) != (want is IPv4Address):
            raise HeaderError("PROXY header address '%s' is not of the family the "
                              "header names" % (a.host,))
        if not 0 <= a.port <= 65535:
            raise HeaderError("PROXY header port %d out of range" % (a.port,))
        out.append(want("TCP", str(ip), a.port))
    source, destination = out
    if (source.host, source.port) == (destination.host, destination.port):
        raise HeaderError("PROXY header source and destination are identical (%s#%d)"
                          % (source.host, source.port))
    return source, destination


def _tlvs(data: bytes):
    """``(type, value)`` of each TLV in ``data``; a truncated TLV ends the list (the
    addresses were complete, so the header is still used, as mod_proxy_protocol does)."""
    i = 0
    while i + 3 <= len(data):
        kind, length = data[i], struct.unpack("!H", data[i + 1:i + 3])[0]
        value = data[i + 3:i + 3 + length]
        if len(value) < length:
            return
        yield kind, value
        i += 3 + length


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _tlv_notes(data: bytes) -> Dict[str, str]:
    notes: Dict[str, str] = {}
    for kind, value in _tlvs(data):
        name = _TLV_NOTES.get(kind)
        if name is not None:
            notes[name] = _text(value)
        elif kind == _TLV_SSL and len(value) >= 5:
            # client (1 byte), verify (4 bytes), then sub-TLVs.
            for sub, sub_value in _tlvs(value[5:]):
                if sub in _SSL_NOTES:
                    notes[_SSL_NOTES[sub]] = _text(sub_value)
        elif kind == _TLV_AWS and value[:1] == bytes((_AWS_VPCE,)):
            notes["mod_proxy_protocol.aws.vpc-endpoint-id"] = _text(value[1:])
        elif kind == _TLV_AZURE and value[:1] == bytes((_AZURE_LINKID,)) \
                and len(value) == 5:
            notes["mod_proxy_protocol.azure.private-endpoint-linkid"] = str(
                struct.unpack("<I", value[1:5])[0])
    return notes

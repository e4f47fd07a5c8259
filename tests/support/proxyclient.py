# -*- test-case-name: tests.test_proxy -*-
"""PROXY protocol headers as HAProxy sends them, and ftplib clients that send one first
(tests/test_proxy.py, tests/test_haproxy.py)."""

from __future__ import annotations

import ftplib
import ipaddress
import socket
import ssl
import struct

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, dst, sport=40000, dport=21) -> bytes:
    proto = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!BH", kind, len(value)) + value


def v2(src, dst, sport=40000, dport=21, tlvs=b"", command=1) -> bytes:
    """A version 2 header (PROXY command, TCP over IPv4/IPv6) with ``tlvs`` appended."""
    if command == 0:
        return V2_SIG + bytes((0x20, 0x00)) + struct.pack("!H", len(tlvs)) + tlvs
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    fam = 0x11 if a.version == 4 else 0x21
    body = a.packed + b.packed + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIG + bytes((0x21, fam)) + struct.pack("!H", len(body)) + body


def ssl_tlv(version: str, cipher: str) -> bytes:
    """PP2_TYPE_SSL: client connected over TLS, certificate verified, with sub-TLVs."""
    subs = tlv(0x21, version.encode()) + tlv(0x23, cipher.encode())
    return tlv(0x20, bytes((0x01,)) + struct.pack("!I", 0) + subs)


class _Proxied:
    header = b""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        self.sock = socket.create_connection((self.host, self.port), self.timeout,
                                             source_address=source_address)
        self.sock.sendall(self.header)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


class ProxiedFTP(_Proxied, ftplib.FTP):
    """ftplib.FTP sending ``header`` before anything else."""

    def __init__(self, header: bytes, **kw):
        self.header = header
        ftplib.FTP.__init__(self, **kw)


class ProxiedFTP_TLS(_Proxied, ftplib.FTP_TLS):
    """ftplib.FTP_TLS (explicit: AUTH TLS) sending ``header`` first, resuming the
    control connection's TLS session on data connections as curl and lftp do."""

    def __init__(self, header: bytes, cafile: str, **kw):
        self.header = header
        ctx = ssl.create_default_context(cafile=cafile)
        ftplib.FTP_TLS.__init__(self, context=ctx, **kw)

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


def raw(port, data: bytes, host="127.0.0.1", timeout=5.0, source=None):
    """Send ``data`` on a fresh connection; everything the server sends until it closes
    (or ``timeout``), and whether it closed."""
    s = socket.create_connection((host, port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        if data:
            try:
                s.sendall(data)
            except (ConnectionResetError, BrokenPipeError):
                return b"", True
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
    finally:
        s.close()

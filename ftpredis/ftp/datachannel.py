# -*- test-case-name: tests.test_protocol -*-
"""Data connections: the connection itself (counting bytes for the session), the passive
listener that accepts only the control peer, the active connector, PASV/EPSV/PORT/EPRT,
and the spare passive port a session keeps for its next PASV."""

from __future__ import annotations

import ipaddress
import random
import socket
from typing import Callable, Optional

from twisted.internet import defer, error as ierror, interfaces, protocol
from twisted.protocols.policies import ProtocolWrapper
from twisted.python import failure

from ftpredis.tls import ftps as _tls
from ftpredis.ftp import fastpath as _fastpath
from ftpredis.ftp.replies import R
from ftpredis.ftp.common import _plain_host, log
from ftpredis.records.events import command_words


def _c_number(text: str, i: int):
    """The number C's strto* functions read at ``text[i]``: blanks skipped, one sign,
    ASCII decimal digits.  ``(negative, magnitude, index after it)``, or None without
    digits."""
    n = len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    neg = i < n and text[i] == "-"
    if i < n and text[i] in "+-":
        i += 1
    j = i
    while j < n and "0" <= text[j] <= "9":
        j += 1
    if j == i:
        return None
    return neg, int(text[i:j]), j


def _scan_u(text: str, i: int):
    """sscanf's ``%u`` at ``text[i]``, as glibc reads it: the value strtoul gives (a minus
    negates modulo 2**64; beyond 2**64-1 it is 2**64-1) cut to 32 bits.  ``(value, index
    after it)``, or None."""
    found = _c_number(text, i)
    if found is None:
        return None
    neg, v, j = found
    v = min(v, 2 ** 64 - 1)
    if neg:
        v = -v % 2 ** 64
    return v & 0xFFFFFFFF, j


def _strtol(text: str):
    """C's ``strtol(text, &end, 10)`` (glibc, 64-bit long): ``(value, end)``, end 0 when
    no digits were read."""
    found = _c_number(text, 0)
    if found is None:
        return 0, 0
    neg, v, j = found
    v = max(-v, -2 ** 63) if neg else min(v, 2 ** 63 - 1)
    return v, j


def _c_int(v: int) -> int:
    """A C long stored in an int (two's complement, 32 bits): atoi's result."""
    v &= 0xFFFFFFFF
    return v - 2 ** 32 if v >= 2 ** 31 else v


def _skip_digits(text: str, i: int) -> int:
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    return i


def _canonical(host: str) -> str:
    """An address in the form the control connection's peer has (IPv4-mapped IPv6 as
    IPv4), so that "0::ffff:127.0.0.1" is the client 127.0.0.1."""
    try:
        a = ipaddress.ip_address(host)
    except ValueError:
        return host
    if a.version == 6 and a.ipv4_mapped is not None:
        return str(a.ipv4_mapped)
    return str(a)


def _port_numbers(word: str):
    """The six numbers of PORT's ``h1,h2,h3,h4,p1,p2`` as ProFTPD 1.3.8 reads them
    (``sscanf("%u,%u,%u,%u,%u,%u")``): whatever follows the sixth is ignored, so seven or
    eight numbers, or "6x", pass (measured); None when six are not there."""
    nums, i = [], 0
    for k in range(6):
        if k:
            if word[i:i + 1] != ",":
                return None
            i += 1
        got = _scan_u(word, i)
        if got is None:
            return None
        v, i = got
        nums.append(v)
    return nums


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                    "192.168.0.0/16"))


def _rfc1918(host: str) -> bool:
    try:
        a = ipaddress.ip_address(_plain_host(host))
    except ValueError:
        return False
    return a.version == 4 and any(a in net for net in _RFC1918)


class _DataConnection(protocol.Protocol):
    """One data connection; counts raw bytes into the session counters of ``pi`` (the
    FTPRedisProtocol)."""

    def __init__(self, pi):
        self.pi = pi
        self.sink: Optional[Callable[[bytes], None]] = None
        self.closed: defer.Deferred = defer.Deferred()
        self.connected_d: defer.Deferred = defer.Deferred()
        self.lost = False

    def connectionMade(self):
        # Nothing may be read before a sink exists: no unbounded buffering.
        self.transport.pauseProducing()
        if hasattr(self.transport, "bufferSize"):
            # STOR: fewer, larger reads (Twisted's default is 64 KiB per recv).
            self.transport.bufferSize = 1 << 20
        d, self.connected_d = self.connected_d, None
        if d is not None:
            d.callback(self)

    def setSink(self, sink):
        self.sink = sink
        self.transport.resumeProducing()

    def dataReceived(self, data):
        self.pi.touch_stall()
        self.pi.bytes_in += len(data)
        self.pi.data_bytes += len(data)
        if self.sink is not None:
            self.sink(data)

    _tls_write = None

    def write(self, data):
        self.pi.touch_stall()
        self.pi.bytes_out += len(data)
        self.pi.data_bytes += len(data)
        w = self._tls_write
        if w is None:
            if not getattr(self.transport, "TLS", False):
                self.transport.write(data)
                return
            # PROT P: TLS started before the first write, for the whole connection.
            w = self._tls_write = _tls.data_writer(self.transport)
        w(data)

    def registerProducer(self, producer, streaming):
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self):
        self.transport.unregisterProducer()

    reason = None

    def connectionLost(self, reason):
        self.lost = True
        if not reason.check(ierror.ConnectionDone) and _tls.peer_closed(self.transport):
            # The client's close_notify came before the reset: the transfer is complete
            # (under load, ~1 in 3 curl FTPS uploads were answered 426 otherwise).
            reason = failure.Failure(ierror.ConnectionDone("TLS close_notify received"))
        self.reason = reason
        d, self.closed = self.closed, None
        if d is not None:
            d.callback(None)          # a Failure would be taken as an error

    def waitClosed(self) -> defer.Deferred:
        """Fires with the exception that ended the connection (ConnectionDone when clean)."""
        value = lambda _=None: self.reason.value if self.reason is not None else None
        if self.closed is None:
            return defer.succeed(value())
        return self.closed.addCallback(value)


class _PassiveFactory(protocol.ServerFactory):
    """Accepts exactly one data connection, and only from the control peer's address
    (from any, with ``peer`` None: AllowForeignAddress)."""

    noisy = False

    port = None             # the listening port, once bound

    def __init__(self, pi, peer: str):
        self.pi = pi
        self.peer = peer
        self.conn: Optional[_DataConnection] = None

    def buildProtocol(self, addr):
        if self.conn is not None:
            return None
        if self.peer is not None and _plain_host(addr.host) != self.peer:
            log.warn("refused passive data connection from {host} (control peer {peer})",
                     host=addr.host, peer=self.peer)
            return None
        self.conn = _DataConnection(self.pi)
        self.conn.connected_d.addCallback(self._connected)
        return self.conn

    _ready = False
    waiters: list

    def _connected(self, conn):
        self._ready = True
        waiters, self.waiters = getattr(self, "waiters", []), []
        for d, call in waiters:
            if call.active():
                call.cancel()
            d.callback(conn)

    def wait(self, reactor, timeout) -> defer.Deferred:
        """Fires with the connection, or fails with 425 after ``timeout`` seconds."""
        if self._ready:
            return defer.succeed(self.conn)
        port = self.port
        if isinstance(port, _fastpath.LazyPort):
            port.accept_now(self.peer)          # usually connected already
            if self._ready:
                return defer.succeed(self.conn)
            port.watch()
        d = defer.Deferred()

        def expire():
            self.waiters = [w for w in self.waiters if w[0] is not d]
            d.errback(R("no_data", "Connection timed out"))
        if not hasattr(self, "waiters"):
            self.waiters = []
        self.waiters.append((d, reactor.callLater(timeout, expire)))
        return d

    def cancel(self):
        waiters, self.waiters = getattr(self, "waiters", []), []
        for d, call in waiters:
            if call.active():
                call.cancel()
            d.errback(R("no_data", "Connection closed"))


class _ActiveFactory(protocol.ClientFactory):
    noisy = False

    def __init__(self, pi):
        self.pi = pi
        self.conn = _DataConnection(pi)
        self.failed: defer.Deferred = defer.Deferred()

    def buildProtocol(self, addr):
        return self.conn

    def clientConnectionFailed(self, connector, reason):
        d, self.failed = self.failed, None
        if d is not None:
            d.callback(reason)


class DataChannelMixin:
    """Setting up and tearing down the data connection."""

    @property
    def data_peer(self):
        """The address a passive data connection must come from, or None for any: with
        AllowForeignAddress on, as ProFTPD (behind a PROXY protocol proxy, data
        connections come from the proxy, not from the session's client)."""
        return None if self.server.allow_foreign_address else self.peer_host

    @property
    def waiting_for_data(self) -> bool:
        """A transfer command waits for the client's passive data connection."""
        return bool(getattr(self._data_factory, "waiters", None))

    # -- data connection set-up -----------------------------------------------------------
    def cleanupDTP(self, keep: bool = False):
        """Stop listening, stop connecting, and close an established data connection.

        With ``keep``, a passive port the reactor never watched is kept for the
        session's next PASV (see :meth:`_keepPort`); otherwise a kept one closes too."""
        port, self._data_port = self._data_port, None
        fac, self._data_factory = self._data_factory, None
        self._data_kind = None
        if keep:
            if self._spare_port is None and self._keepPort(port):
                port = None
        else:
            self.drop_spare()
        if port is None:
            pass                # (no zope interface checks on the common path)
        elif interfaces.IListeningPort.providedBy(port):
            port.stopListening()
        elif interfaces.IConnector.providedBy(port):
            port.disconnect()
        if isinstance(fac, _PassiveFactory):
            fac.cancel()
        conn = getattr(fac, "conn", None)
        if conn is not None and conn.transport is not None and not conn.lost:
            conn.transport.abortConnection()
        xfer, self._transfer_conn = self._transfer_conn, None
        if xfer is not None and xfer.transport is not None and not xfer.lost:
            xfer.transport.abortConnection()

    _listen_host = None     # the control connection's local address (PASV listens there)
    _spare_port = None      # a passive port kept for the next PASV (_keepPort)

    def _keepPort(self, port) -> bool:
        """Keep a passive port whose transfer is over for the session's next PASV: the
        many-files case then binds one port per session instead of one per file.  Only
        without PassivePorts (a configured range is shared by every session) and for
        at most ``SPARE_SECONDS`` (the factory closes older ones)."""
        if (not isinstance(port, _fastpath.LazyPort) or not port.reusable
                or self.server.passive_ports or self.disconnected):
            # (Even a one-port PassivePorts range is shared: keeping it would refuse the
            # other sessions' PASV for those seconds.)
            return False
        self._spare_port = port
        self.factory.keepSpare(self)
        return True

    def drop_spare(self):
        """Close the passive port kept for the next PASV, if any (also the factory's sweep)."""
        port, self._spare_port = self._spare_port, None
        if port is not None:
            self.factory.forgetSpare(self)
            port.stopListening()

    def _listenPassive(self) -> int:
        self.cleanupDTP(keep=True)
        fac = _PassiveFactory(self, self.data_peer)
        port, self._spare_port = self._spare_port, None
        if port is not None:
            self.factory.forgetSpare(self)
            port.reuse(fac, fac.peer)
            return self._passiveReady(port, fac)
        ports = list(self.passivePortRange)
        if len(ports) > 1:
            start = random.randrange(len(ports))
            ports = ports[start:] + ports[:start]
        host = self._listen_host
        if host is None:
            # The socket's own address: behind a proxy (ftpredis.proxy) the transport's
            # getHost() may be the proxied destination, which is not ours to bind.
            t = self.transport
            while isinstance(t, ProtocolWrapper):
                t = t.transport
            host = self._listen_host = t.getHost().host
        for n in ports:
            try:
                port = self.listenFactory(n, fac, interface=host)
                break
            except ierror.CannotListenError:
                continue
        else:
            raise R("no_data", "No available ports")   # (ours)
        return self._passiveReady(port, fac)

    def _passiveReady(self, port, fac) -> int:
        self._data_kind, self._data_port, self._data_factory = "pasv", port, fac
        fac.port = port
        # QuietPort knows its number; asking the socket again is one getsockname more.
        self._transfer_port = getattr(port, "_realPortNumber", None) or port.getHost().port
        return self._transfer_port

    def cmd_PASV(self, cmd):
        self._dataPortField(cmd)
        if self.client_state.epsv_all:
            raise R("epsv_all_in_effect", "PASV")
        port = self._listenPassive()
        cmd.fields["transfer_port"] = port
        host = self.server.masquerade_address or self.local_host
        if ":" in host:
            host = "0.0.0.0"   # PASV cannot carry IPv6; clients use the control address
        return R("pasv", ",".join(host.split(".") + [str(port >> 8), str(port & 255)]))

    def _protocolRefused(self):
        return R("epsv_proto" if getattr(self.server, "use_ipv6", True) else "epsv_proto_v4")

    def _family(self, family: int) -> None:
        """ProFTPD's test of a network protocol number: 1, or 2 unless UseIPv6 off."""
        if family != 1 and not (family == 2 and getattr(self.server, "use_ipv6", True)):
            raise self._protocolRefused()

    def cmd_EPSV(self, cmd):
        self._dataPortField(cmd)
        words = command_words(cmd.arg)
        # one parameter or none: ProFTPD ignores two or more
        arg = words[0] if len(words) == 1 else None
        if arg is not None and arg.isascii() and arg.lower() == "all":
            self.client_state.epsv_all = True
            return R("epsv_all")
        if arg is not None:
            # strtol: "01", "+1" are 1; anything after the digits is refused
            family, end = _strtol(arg)
            if end < len(arg):
                raise R("epsv_unknown", cmd.verb)
            self._family(_c_int(family))
        else:
            self._family(2 if ":" in self.local_host else 1)
        port = self._listenPassive()
        cmd.fields["transfer_port"] = port
        return R("epsv", port)

    def _dataPortField(self, cmd) -> None:
        """%{transfer-port} of PASV, EPSV, PORT and EPRT, whatever their reply: the data
        port in effect, ProFTPD's session.data_port (the client's port - 1 until one is
        set), which a successful command then replaces."""
        port = self._transfer_port
        if not port and self.session is not None:
            port = self.session.remote_port - 1
        if port:
            cmd.fields["transfer_port"] = port

    def _setActive(self, cmd, host: str, port: int):
        local = self.server.masquerade_address or self.local_host
        peer = self.peer_host
        if ":" not in peer and not _rfc1918(local) and not _rfc1918(peer) and _rfc1918(host):
            # As ProFTPD: a private address from a client that is not on a private
            # network itself is behind NAT; its data connection comes from its own
            # public address.
            host = peer
        host = _canonical(host)
        foreign = host != peer
        if (foreign and not self.server.allow_foreign_address) or port < 1024:
            # AllowForeignAddress off, and never a bounce to a privileged port (RFC 2577).
            raise R("port_illegal", cmd.verb)
        self.cleanupDTP()
        self._data_kind = "port"
        self._active_addr = (host, port)
        self._transfer_port = port
        cmd.fields["transfer_port"] = port
        return R("port_ok", cmd.verb)

    def cmd_PORT(self, cmd):
        self._dataPortField(cmd)
        if self.client_state.epsv_all:
            raise R("epsv_all_in_effect", "PORT")
        words = command_words(cmd.arg)
        if len(words) != 1:
            raise R("invalid_params")       # ProFTPD 1.3.8 (measured)
        nums = _port_numbers(words[0])
        if (nums is None or max(nums) > 255 or not any(nums[:4])
                or not any(nums[4:])):
            raise R("port_syntax", "PORT")
        return self._setActive(cmd, ".".join(map(str, nums[:4])), nums[4] * 256 + nums[5])

    def cmd_EPRT(self, cmd):
        self._dataPortField(cmd)
        if self.client_state.epsv_all:
            raise R("epsv_all_in_effect", "EPRT")
        words = command_words(cmd.arg)
        if len(words) != 1:
            raise R("invalid_params")       # ProFTPD 1.3.8 (measured)
        # <d>proto<d>address<d>port<d>, read as ProFTPD 1.3.8 reads it (measured): each
        # number with atoi() (so "01" is 1, and beyond 32 bits or 16 for the port it
        # wraps), then only digits up to the next delimiter; what follows the last
        # delimiter is ignored.
        word = words[0]
        delim, rest = word[:1], word[1:]
        family = _c_int(_strtol(rest)[0])
        self._family(family)
        i = _skip_digits(rest, 0)
        if rest[i:i + 1] != delim:
            raise R("port_syntax", "EPRT")
        rest = rest[i + 1:]
        j = rest.find(delim)
        if j < 0:
            raise R("port_syntax", "EPRT")
        host, rest = rest[:j], rest[j + 1:]
        try:
            socket.inet_pton(socket.AF_INET if family == 1 else socket.AF_INET6, host)
        except (OSError, ValueError):
            raise R("port_syntax", "EPRT")
        port = _c_int(_strtol(rest)[0]) & 0xFFFF
        if rest[_skip_digits(rest, 0):][:1] != delim:
            raise R("port_syntax", "EPRT")
        return self._setActive(cmd, host, port)

    def _openData(self) -> defer.Deferred:
        """The data connection for the transfer command in progress (fires _DataConnection)."""
        kind = self._data_kind
        if kind == "pasv":
            return self._data_factory.wait(self.factory.reactor, self.dtpTimeout)
        if kind == "port":
            host, port = self._active_addr
            fac = _ActiveFactory(self)
            self._data_factory = fac
            self._data_port = self.factory.reactor.connectTCP(host, port, fac,
                                                              timeout=self.dtpTimeout)
            d = defer.Deferred()
            fac.conn.connected_d.addCallback(lambda c: d.called or d.callback(c))

            def failed(reason):
                if not d.called:
                    d.errback(R("no_data", reason.getErrorMessage().split(": ")[-1].rstrip(".")
                                if not reason.check(ierror.ConnectionRefusedError)
                                else "Connection refused"))
            # clientConnectionFailed fires it with a Failure: that runs errbacks.
            fac.failed.addBoth(failed)
            return d
        return defer.fail(R("no_data", "No PORT or PASV command given"))    # (ours)

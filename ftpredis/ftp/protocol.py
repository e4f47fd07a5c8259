# -*- test-case-name: tests.test_protocol -*-
"""The FTP server's control connection: :class:`FTPRedisProtocol`, one per session.

The FTP server as a whole owns what a client sees of ftpredis (ProFTPD 1.3.8's reply texts,
collected in :data:`~ftpredis.ftp.replies.REPLIES`) and the
:class:`~ftpredis.records.events.Event` each command produces.  It keeps Twisted's
:class:`~twisted.protocols.ftp.FTP` and :class:`~twisted.protocols.ftp.FTPFactory` as base
classes (timeouts, connection limit, factory plumbing) but replaces the command dispatch,
the data-connection handling and every command, because the stock ones are unsafe (PORT
bounce, PASV theft, symlink escapes), block the control channel on PASV and mishandle
ASCII and UTF-8 (see the research notes, section A.11).

This module owns the session's lifecycle (connection, timeouts, end) and composes the
protocol from one mixin per idea: :mod:`~ftpredis.ftp.dispatch` (input, dispatch,
replies), :mod:`~ftpredis.ftp.login`, :mod:`~ftpredis.ftp.info`, :mod:`~ftpredis.ftp.files`,
:mod:`~ftpredis.ftp.listings`, :mod:`~ftpredis.ftp.transfers`,
:mod:`~ftpredis.ftp.datachannel` and :mod:`~ftpredis.ftp.recording` (the only place
events are built).  The factory is :mod:`ftpredis.ftp.factory`.

Ordering rule copied from ProFTPD: a command's event is taken after its final reply is
known and before that reply is written (so %O does not count it); the record is routed,
formatted and queued just after the reply is written, in the same call, so the client never
waits for it and records keep the session's order.
"""
from __future__ import annotations

import itertools
import os
import time
from collections import deque
from typing import Optional

from twisted.internet import defer
from twisted.protocols import ftp
from zope.interface import implementer

from ftpredis import __version__
from ftpredis.records.events import Session
from ftpredis.records.identity import session_counter, unique_id
from ftpredis.ftp.filesystem import SessionFS
from ftpredis.ftp import limits
from ftpredis.ftp.replies import REPLIES, R, Reply
from ftpredis.ftp.common import _Command, _plain_host, log
from ftpredis.ftp.datachannel import (DataChannelMixin, _ActiveFactory, _DataConnection,
                                      _PassiveFactory)
from ftpredis.ftp.dispatch import DispatchMixin
from ftpredis.ftp.files import FilesMixin
from ftpredis.ftp.interfaces import IPolicySession
from ftpredis.ftp.info import InfoMixin
from ftpredis.ftp.listings import ListingsMixin
from ftpredis.ftp.login import LoginMixin
from ftpredis.ftp.session import SessionState
from ftpredis.ftp.recording import LoggingMixin
from ftpredis.ftp.transfers import TransfersMixin, _RangeReader, _Receiver, _Sender


_session_ids = itertools.count(1)


class _PID:
    """os.getpid(), a system call, read once per process (%P of every session)."""
    pid = os.getpid()


os.register_at_fork(after_in_child=lambda: setattr(_PID, "pid", os.getpid()))


def _banner(factory, server, local_host: str) -> bytes:
    """The greeting's line for a connection to ``local_host``: the same bytes for every
    session of the server, so made once per local address (a Reply, its formatting and
    encoding less per session)."""
    cached = getattr(factory, "banner_lines", None)
    if cached is None or cached[0] is not server:
        cached = factory.banner_lines = (server, {})
    line = cached[1].get(local_host)
    if line is None:
        on, text = server.server_ident
        if not on:
            r = R("banner_off", local_host)
        elif text:
            r = Reply(220, text)
        else:
            r = R("banner", server.server_name, local_host)
        line = ("%d %s" % (r.code, r.text)).encode("utf-8", "surrogateescape")
        if len(cached[1]) < 64:         # one per address the server is reached at
            cached[1][local_host] = line
    return line


@implementer(IPolicySession)
class FTPRedisProtocol(DispatchMixin, LoginMixin, InfoMixin, FilesMixin, ListingsMixin,
                      TransfersMixin, DataChannelMixin, LoggingMixin, ftp.FTP):
    """One control connection; to the factory's policy (mod_ban) an
    :class:`~ftpredis.ftp.interfaces.IPolicySession`."""

    MAX_LINE = 4096             # ProFTPD accepts 4090-byte lines and chokes beyond 4096
    MAX_QUEUED = 64             # pipelined commands held before we stop reading
    dtpTimeout = 10

    fs: Optional[SessionFS] = None
    disconnected = False

    # A session's starting state: class attributes, not ~20 assignments per connection.
    hostAddress = None      # the local address, when the listener looked it up already
    peerAddress = None      # the client's, when the listener has it already
    _buf = b""
    _discarding = False
    _busy = False
    _looping = False
    _paused = False
    _logout = None
    _data_kind = None       # "pasv" or "port"
    _data_port = None       # IListeningPort or IConnector
    _data_factory = None
    _transfer_port = None   # %{transfer-port}
    _current: Optional[_Command] = None
    _transfer_conn: Optional[_DataConnection] = None
    ftps = None             # the session's FTPS state (ftpredis.tls.ftps.SessionTLS)
    connection_class = None     # ProFTPD's <Class> of the client (ftpredis.ftp.limits)
    proxy_notes: dict = {}      # mod_proxy_protocol's notes (ftpredis.proxy), never changed

    # -- connection ---------------------------------------------------------------------
    def connectionMade(self):
        self.client_state = SessionState()
        s = self.server = self.factory.server
        self.MAX_LINE = getattr(s, "command_buffer_size", self.MAX_LINE)
        transport = self.transport
        if not getattr(getattr(transport, "server", None), "control_options", False):
            # Not inherited from the listening socket (ftpredis.app.workers.ControlPort).
            try:
                transport.setTcpNoDelay(True)
            except Exception:
                pass
            try:
                # Clients send ABOR's Telnet Synch as urgent data; read it in line.
                import socket as _socket
                transport.getHandle().setsockopt(_socket.SOL_SOCKET,
                                                 _socket.SO_OOBINLINE, 1)
            except Exception:
                pass
        self.factory.instances[self] = None
        # The other per-session state starts as the class attributes below say.
        self._queue: deque = deque()

        peer = self.peerAddress
        if peer is None:
            peer = transport.getPeer()
        host = self.hostAddress
        if host is None:
            host = transport.getHost()
        # Behind ProxyProtocolEngine the transport is ftpredis.proxy's layer: its
        # getPeer() is the proxied client, the one address everything below uses.
        self.peer_host = peer_host = _plain_host(peer.host)
        notes = getattr(transport, "proxy_notes", None)
        if notes:
            self.proxy_notes = notes
        self.local_host = local_host = _plain_host(host.host)
        if s.classes:
            self.connection_class = limits.class_of(s, peer_host)
        if not limits.connect_allowed(s, peer_host):
            # ProFTPD's src/main.c refuses before any module sees the session: no banner,
            # no record, one SystemLog line.  peer_host is the proxied client's address
            # (doc/decisions.rst, "Allow/Deny behind the PROXY protocol").
            limits.report_denied_connection(self.factory, peer_host, local_host)
            transport.loseConnection()
            return
        self.session = Session.adopt({
            "remote_ip": peer_host, "remote_port": peer.port, "remote_dns": peer_host,
            "local_ip": local_host, "server_dns": local_host,
            "server_ip": s.addresses[0] if s.addresses else local_host,
            "local_port": s.port, "server_name": s.server_name,
            "server_version": __version__, "pid": _PID.pid, "session_id": next(_session_ids),
            "unique_id": unique_id(peer_host, time.time(), _PID.pid)
            if getattr(s, "unique_id_engine", True) else None,
            "seq": session_counter()})
        clock = self.factory.reactor
        now = clock.seconds()
        due = None
        if self.timeOut is not None:
            self._idle_from = now
            due = now + self.timeOut
        if s.timeout_login:
            self._login_due = login = now + s.timeout_login
            if due is None or login < due:
                due = login
        if due is not None:
            self._deadline_call = clock.callLater(due - now, self._deadlinesDue)
        self.logConnect()
        policy = self.factory.policy
        if policy is not None and policy.on_connect(self):
            return                      # banned host/class: refused before the banner
        if getattr(s, "max_connections_per_host", None) and self._overConnectionsPerHost():
            return
        self.sendLine(_banner(self.factory, s, local_host))

    counted = False         # in the factory's logged_in (MaxClients): set at login

    def connectionLost(self, reason):
        self.disconnected = True
        if self.counted:
            self.counted = False
            self.factory.logged_in -= 1
        self.factory.instances.pop(self, None)
        self._idle_from = self._login_due = self._notransfer_due = None
        call = self._deadline_call
        if call is not None:
            self._deadline_call = None
            if call.active():
                call.cancel()
        if self._stall_timer is not None:
            self._cancelTimer("_stall_timer")
        self.cleanupDTP()
        if self._busy:
            # The command in flight (a transfer, a login) finishes first and is logged
            # before the session end.
            self._exit_pending = True
        else:
            self._endSession()

    _exit_pending = False

    def _endSession(self):
        self._exit_pending = False
        self.logExit()
        if self.fs is not None:
            self.fs.close()
        logout, self._logout = self._logout, None
        if logout is not None:
            try:
                logout()
            except Exception:
                log.failure("realm logout failed")

    # -- timers -------------------------------------------------------------------------
    # TimeoutIdle, TimeoutLogin and TimeoutNoTransfer are deadlines of the session, served
    # by one DelayedCall armed at the earliest.  A command only records its time (no
    # DelayedCall.reset per command), and login moves TimeoutLogin's deadline to
    # TimeoutNoTransfer's without a callLater or a cancel: a deadline that moved later is
    # found so when the call fires, and the call re-arms itself for it.  Only a deadline
    # moved earlier than the armed time resets the call.
    _idle_from = None       # TimeoutIdle counts from here (None: not counting)
    _login_due = None       # TimeoutLogin's deadline (None: logged in, or none)
    _notransfer_due = None  # TimeoutNoTransfer's deadline (None: none running)
    _deadline_call = None   # the DelayedCall, armed at the earliest deadline or sooner
    _stall_timer = None     # TimeoutStalled, during a transfer: a DelayedCall of its own

    #: The attribute of each deadline, by the timer names the rest of the protocol uses.
    _DEADLINES = {"_login_timer": "_login_due", "_notransfer_timer": "_notransfer_due"}

    def _arm(self, due: float, now: float) -> None:
        """Make sure the DelayedCall fires no later than ``due``."""
        call = self._deadline_call
        if call is None:
            self._deadline_call = self.factory.reactor.callLater(due - now,
                                                                 self._deadlinesDue)
        elif due < call.getTime():
            call.reset(due - now)

    def _deadlinesDue(self) -> None:
        """The DelayedCall fired: the deadlines passed time out, in their order (as their
        own DelayedCalls would have in one reactor turn); the call is armed again for
        the earliest one left."""
        self._deadline_call = None
        now = self.factory.reactor.seconds()
        while not self.disconnected:
            idle = self._idle_from
            idle = idle + self.timeOut if idle is not None and self.timeOut else None
            nxt, which = idle, 0
            login = self._login_due
            if login is not None and (nxt is None or login < nxt):
                nxt, which = login, 1
            notransfer = self._notransfer_due
            if notransfer is not None and (nxt is None or notransfer < nxt):
                nxt, which = notransfer, 2
            if nxt is None:
                return
            if nxt > now:
                self._arm(nxt, now)
                return
            if which == 0:
                self._idle_from = None
                self.timeoutConnection()
            elif which == 1:
                self._login_due = None
                n = self.server.timeout_login
                self._policyTimeout("login_timeout", "TimeoutLogin", n)
            else:
                self._notransfer_due = None
                n = self.server.timeout_no_transfer
                self._policyTimeout("notransfer_timeout", "TimeoutNoTransfer", n)

    def setTimeout(self, period):
        """TimeoutIdle counts ``period`` seconds from now (None: stops counting);
        TimeoutMixin's contract, on the session's one DelayedCall."""
        prev = self.timeOut
        self.timeOut = period
        if period is None:
            self._idle_from = None
        else:
            self._idle_from = now = self.factory.reactor.seconds()
            self._arm(now + period, now)
        return prev

    def resetTimeout(self):
        """Activity: TimeoutIdle counts from now (when it counts at all)."""
        if self._idle_from is not None:
            self._idle_from = self.factory.reactor.seconds()

    def _cancelTimer(self, name: str) -> None:
        deadline = self._DEADLINES.get(name)
        if deadline is not None:
            setattr(self, deadline, None)   # the DelayedCall finds nothing due and re-arms
            return
        t = getattr(self, name, None)
        setattr(self, name, None)
        if t is not None and t.active():
            t.cancel()

    def _startNoTransferTimer(self) -> None:
        n = self.server.timeout_no_transfer
        if n and not self.disconnected:
            now = self.factory.reactor.seconds()
            self._notransfer_due = now + n
            self._arm(now + n, now)
        else:
            self._notransfer_due = None

    def _policyTimeout(self, reply: str, event: str, seconds: int) -> None:
        """TimeoutLogin / TimeoutNoTransfer: 421, then close (ProFTPD's texts)."""
        if self.disconnected:
            return
        self.end_reason = "Timeout exceeded: " + event
        self.sendReply(R(reply, seconds))
        self.policy_event(event)
        self.transport.loseConnection()

    def touch_stall(self) -> None:
        """Bytes moved on the data connection: TimeoutStalled starts over."""
        t = self._stall_timer
        if t is not None and t.active():
            t.reset(self.server.timeout_stalled)

    def _stalled(self) -> None:
        """TimeoutStalled: no byte moved on the data connection.  ProFTPD 1.3.8 ends the
        session there and then, without a word to the client (measured): the transfer
        fails (426, logged with the session's end reason), then the session ends."""
        self._stall_timer = None
        self._stall_fired = True
        self.end_reason = "Timeout exceeded: TimeoutStalled during data transfer"
        # Nothing more is written to the client: its transfer's 426 is only logged.
        self.disconnected = True
        conn = self._transfer_conn
        if conn is not None and conn.transport is not None and not conn.lost:
            conn.transport.abortConnection()
        if self.transport is not None:
            self.transport.loseConnection()

    def timeoutConnection(self):
        self.end_reason = "Timeout exceeded: TimeoutIdle"
        self.sendReply(R("idle_timeout", self.timeOut))
        self.policy_event("TimeoutIdle")
        self.transport.loseConnection()

    _draining = False

    def stopSession(self, now=False) -> defer.Deferred:
        """The server is stopping (SIGTERM, owned by ftpredis.app.service): reply 421 and close
        once the command in flight (a transfer) has finished and been logged, or at once
        with ``now`` (a transfer in flight is cut short and logged as failed).  Commands
        pipelined behind it are not run.  Fires once the DISCONNECT event is emitted."""
        d = self.whenEnded()
        if self._busy and not now:
            self._draining = True
        elif not self.disconnected and self.transport is not None:
            self._draining = False
            self.end_reason = "Server shutting down"
            self.sendReply(Reply(421, "Server shutting down: closing control connection"))
            self.transport.loseConnection()
        return d

    def shutdown(self):
        """The server is stopping: log the end now and close."""
        self.end_reason = "Server shutting down"
        self.logExit()
        self.transport.loseConnection()

    # -- as the policy (mod_ban) sees the session: IPolicySession ---------------------
    @property
    def user(self) -> Optional[str]:
        """The name logged in as, or the USER name awaiting its PASS."""
        return self.avatar.name if self.avatar is not None else self.client_state.user

    def end_session(self, reason: str, reply: Optional[str] = None) -> None:
        """End the session for a policy: ``530 <reply>`` first when there is a reply text,
        which the DISCONNECT record then carries too (ftpredis.ftp.recording)."""
        self.end_reason = reason
        self.disconnect_details = None      # a ban has none (mod_ban passes NULL)
        self.refuse_exit(reply)
        if reply is not None:
            self.sendLine("530 %s" % (reply,))
        self.transport.loseConnection()

    def policy_event(self, event: str, user: Optional[str] = None) -> bool:
        """Report ``event`` (a BanOnEvent name) to the policy; True when it is ending
        the session."""
        policy = self.factory.policy
        if policy is None:
            return False
        return policy.on_event(self, event, user=user)


# Names this module had before the split, for importers (the factory: ftpredis.ftp.factory).
__all__ = ["FTPRedisProtocol", "LoggingMixin", "_DataConnection", "_PassiveFactory",
           "_ActiveFactory", "_Sender", "_Receiver", "_RangeReader", "_Command", "REPLIES"]

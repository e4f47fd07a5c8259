# -*- test-case-name: tests.test_protocol -*-
"""The FTP server: control connection, data connections, and the events they log.

This module owns what a client sees of ftpredis (ProFTPD 1.3.8's reply texts, collected in
:data:`REPLIES`) and the :class:`~ftpredis.records.events.Event` each command produces.  It keeps
Twisted's :class:`~twisted.protocols.ftp.FTP` and :class:`~twisted.protocols.ftp.FTPFactory`
as base classes (timeouts, connection limit, factory plumbing) but replaces the command
dispatch, the data-connection handling and every command, because the stock ones are
unsafe (PORT bounce, PASV theft, symlink escapes), block the control channel on PASV and
mishandle ASCII and UTF-8 (see the research notes, section A.11).

Ordering rule copied from ProFTPD: a command's event is taken after its final reply is
known and before that reply is written (so %O does not count it); the record is routed,
formatted and queued just after the reply is written, in the same call, so the client never
waits for it and records keep the session's order.
"""

from __future__ import annotations

import calendar
import errno
import grp
import itertools
import os
import posixpath
import random
import re
import stat as statmod
import string
import tempfile
import time
from collections import deque
from typing import Callable, List, Optional, Sequence

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin, UnhandledCredentials
from twisted.internet import defer, error as ierror, interfaces, protocol, task
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.protocols import basic, ftp
from twisted.python import failure
from zope.interface import implementer

from ftpredis import __version__
from ftpredis.ban import bans as _ban
from ftpredis.tls import ftps as _tls
from ftpredis.ftp import fastpath as _fastpath
from ftpredis.auth.portal import AnonymousLogin, IFTPRedisAvatar, anonymous_section
from ftpredis.records.events import (COMMAND, CONNECT, DISCONNECT, Event, Session, command_fields,
                             path_tail)
from ftpredis.ftp.filesystem import FSError, JailedFS
from ftpredis.ftp.replies import REPLIES, R, Reply

log = Logger()

# Commands a client may send before logging in (ProFTPD 1.3.8, measured).
PRE_LOGIN = frozenset({"USER", "PASS", "QUIT", "FEAT", "HELP", "SYST", "NOOP", "OPTS",
                       "CLNT", "ABOR", "HOST", "LANG", "AUTH", "PBSZ", "PROT"})
ALIASES = {"XCWD": "CWD", "XCUP": "CDUP", "XPWD": "PWD", "XMKD": "MKD", "XRMD": "RMD"}
#: RFC 3659 MLST facts, in ProFTPD's order; all are on by default.
MLST_FACTS = ("modify", "perm", "size", "type", "unique", "UNIX.group", "UNIX.groupname",
              "UNIX.mode", "UNIX.owner", "UNIX.ownername")
# ProFTPD 1.3.8's list (LANG: mod_lang with only the C.UTF-8 locale, as on Debian).
FEATURES = ("CLNT", "CSID", "EPRT", "EPSV", "HOST", "LANG C.UTF-8*", "MDTM",
            "MFF modify;UNIX.group;UNIX.mode;", "MFMT",
            "MLST " + "".join(f + "*;" for f in MLST_FACTS),
            "RANG STREAM", "REST STREAM", "SIZE", "TVFS", "UTF8")
# ProFTPD's HELP list; "*" marks commands recognised but not implemented (502).  mod_facts
# registers no HELP text (HELP MFMT/MFF: 502), and a last row shorter than eight would not
# be printed (src/help.c): the list is exactly seven rows.
HELP_COMMANDS = ("CWD XCWD CDUP XCUP SMNT* QUIT PORT PASV EPRT EPSV ALLO RNFR RNTO DELE MDTM "
                 "RMD XRMD MKD XMKD PWD XPWD SIZE SYST HELP NOOP FEAT OPTS HOST CLNT AUTH* "
                 "CCC* CONF* ENC* MIC* PBSZ* PROT* TYPE STRU MODE RETR STOR STOU APPE REST "
                 "ABOR RANG USER PASS ACCT* REIN* LIST NLST STAT SITE MLSD MLST").split()
#: With TLSEngine on these lose their "*" (as with mod_tls, whose HELP stars CCC though it works).
HELP_TLS = frozenset({"AUTH", "PBSZ", "PROT"})
#: SITE HELP's list and syntax lines (mod_site).
SITE_COMMANDS = ("HELP", "CHGRP", "CHMOD")
SITE_HELP_SYNTAX = {"HELP": "SITE HELP [<sp> site-command]",
                    "CHGRP": "SITE CHGRP <sp> group <sp> pathname",
                    "CHMOD": "SITE CHMOD <sp> mode <sp> pathname"}
#: Recognised, answered 502 (ProFTPD's "* =>'s unimplemented").
UNIMPLEMENTED = frozenset({"SMNT", "ACCT", "REIN"})
HELP_SYNTAX = {
    "USER": "USER <sp> username", "PASS": "PASS <sp> password", "CWD": "CWD <sp> pathname",
    "CDUP": "CDUP", "QUIT": "QUIT", "PORT": "PORT <sp> h1,h2,h3,h4,p1,p2",
    "PASV": "PASV", "EPRT": "EPRT <sp> |proto|addr|port|", "EPSV": "EPSV [ <sp> proto ]",
    "TYPE": "TYPE <sp> type-code (A, I, L 8)", "STRU": "STRU <sp> structure-code (F)",
    "MODE": "MODE <sp> mode-code (S)", "RETR": "RETR <sp> pathname",
    "STOR": "STOR <sp> pathname", "STOU": "STOU", "APPE": "APPE <sp> pathname",
    "ALLO": "ALLO <sp> size", "REST": "REST <sp> byte-count",
    "RNFR": "RNFR <sp> pathname", "RNTO": "RNTO <sp> pathname", "ABOR": "ABOR",
    "DELE": "DELE <sp> pathname", "RMD": "RMD <sp> pathname", "MKD": "MKD <sp> pathname",
    "PWD": "PWD", "LIST": "LIST [ <sp> pathname ]", "NLST": "NLST [ <sp> (pathname) ]",
    "SITE": "SITE <sp> string", "SYST": "SYST", "STAT": "STAT [ <sp> pathname ]",
    "HELP": "HELP [ <sp> <string> ]", "NOOP": "NOOP", "FEAT": "FEAT",
    "OPTS": "OPTS <sp> command [ <sp> options ]", "SIZE": "SIZE <sp> pathname",
    "MDTM": "MDTM <sp> pathname", "MLSD": "MLSD [ <sp> pathname ]",
    "MLST": "MLST [ <sp> pathname ]",
    "HOST": "HOST <sp> hostname", "CLNT": "CLNT <cp> client-info",
    "RANG": "RANG <sp> start-point <sp> end-point",
    "XCWD": "XCWD <sp> pathname", "XCUP": "XCUP", "XPWD": "XPWD",
    "XMKD": "XMKD <sp> pathname", "XRMD": "XRMD <sp> pathname",
    # mod_tls registers these whether or not TLSEngine is on.
    "AUTH": "AUTH <sp> base64-data", "PBSZ": "PBSZ <sp> protection buffer size",
    "PROT": "PROT <sp> protection code", "CCC": "CCC (clears protection level)",
}
#: Commands whose <Limit> check uses their path argument, and the refusal each gives
#: (ProFTPD 1.3.8, measured: "Operation not permitted" for most, "Permission denied"
#: for MKD/RMD/SITE CHMOD, CWD answers as if the directory did not exist).
LIMIT_PATH_COMMANDS = {
    "RETR": "limit_denied", "STOR": "limit_denied", "APPE": "limit_denied",
    "STOU": "limit_denied", "DELE": "limit_denied", "RNFR": "limit_denied",
    "RNTO": "limit_denied", "SIZE": "limit_denied", "MDTM": "limit_denied",
    "MFMT": "limit_denied", "MFF": "limit_denied", "MLST": "limit_denied", "STAT": "limit_denied",
    "LIST": "limit_denied", "NLST": "limit_denied", "MLSD": "limit_denied",
    "MKD": "limit_denied_dirs", "RMD": "limit_denied_dirs",
    "CWD": "limit_denied_cwd", "CDUP": "limit_denied_cwd", "PWD": "limit_denied",
}

_session_ids = itertools.count(1)


class _PID:
    """os.getpid(), a system call, read once per process (%P of every session)."""
    pid = os.getpid()


os.register_at_fork(after_in_child=lambda: setattr(_PID, "pid", os.getpid()))


def _raise(exc):
    raise exc


def _unix_type(mode: int) -> str:
    for test, name in ((statmod.S_ISLNK, "symlink"), (statmod.S_ISFIFO, "fifo"),
                       (statmod.S_ISSOCK, "socket"), (statmod.S_ISCHR, "chardev"),
                       (statmod.S_ISBLK, "blockdev")):
        if test(mode):
            return name
    return "unknown"


def _atoi(text: str) -> int:
    m = re.match(r"[ \t\n\v\f\r]*[+-]?[0-9]+", text)
    return int(m.group(0)) if m else 0


def _facts_mtime(ts: str) -> Optional[int]:
    """An MFF ``modify`` timestamp as mod_facts reads it (atoi per field, its ranges,
    the seconds field running to the end); None where it answers EINVAL."""
    y, mo, d, h, mi, s = (_atoi(ts[0:4]), _atoi(ts[4:6]), _atoi(ts[6:8]), _atoi(ts[8:10]),
                          _atoi(ts[10:12]), _atoi(ts[12:]))
    if y < 1970 or not (1 <= mo <= 12 and 1 <= d <= 31 and 0 <= h <= 24 and 0 <= mi <= 60
                        and 0 <= s <= 61):
        return None
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def _strip_telnet(line: bytes) -> bytes:
    """Drop the Telnet IP/Synch (IAC IP, IAC DM; DM alone when IAC went out-of-band)
    that clients put before ABOR (RFC 959 4.1.3)."""
    while line[:1] in (b"\xff", b"\xf2", b"\xf4"):
        if line[:1] == b"\xff" and line[1:2] not in (b"\xf4", b"\xf2", b"\xff"):
            break
        line = line[2:] if line[:1] == b"\xff" else line[1:]
    return line


def _read_display(path: str, variables: dict) -> List[str]:
    """DisplayLogin's lines, with ProFTPD's %U %u %L %R %T %% filled in (blocking)."""
    try:
        with open(path, "rb") as f:
            text = f.read(64 * 1024).decode("utf-8", "replace")
    except OSError as e:
        log.warn("DisplayLogin {path}: {err}", path=path, err=e.strerror)
        return []
    lines = []
    for line in text.splitlines():
        for k, v in variables.items():
            line = line.replace(k, v)
        lines.append(line.replace("\r", "").replace("\x00", ""))
    return lines


class _PolicyRefusal(Exception):
    """A login refused by policy (MaxClientsPerHost): not a failed login attempt."""

    def __init__(self, reply):
        Exception.__init__(self, reply)
        self.reply = reply


def _max_text(setting, default: str) -> str:
    """The refusal text of a ``Max... N ["message"]`` setting; %m is N."""
    n, message = setting
    return (message or default).replace("%m", str(n))


def _unsent(reply):
    """``reply`` logged for its command but not written: a ban already ended the session."""
    reply.sent = True
    return reply


def _plain_host(host: str) -> str:
    """An IPv4-mapped IPv6 address as plain IPv4 (ProFTPD logs 127.0.0.1)."""
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    return host


def _quote(path: str) -> str:
    return path.replace('"', '""')


class _Command:
    """One command in flight: what the client sent and what the handler found out."""

    __slots__ = ("verb", "arg", "start", "fields", "after")

    def __init__(self, verb: str, arg: Optional[str]):
        self.verb = verb
        self.arg = arg
        self.start = time.time()
        self.fields: dict = {}
        self.after: Optional[Callable[[], None]] = None


# ---------------------------------------------------------------------------------------
# Data connections

class _DataConnection(protocol.Protocol):
    """One data connection; counts raw bytes into the session counters."""

    def __init__(self, pi: "FTPRedisProtocol"):
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
        self.pi._touchStall()
        self.pi.bytes_in += len(data)
        self.pi.data_bytes += len(data)
        if self.sink is not None:
            self.sink(data)

    def write(self, data):
        self.pi._touchStall()
        self.pi.bytes_out += len(data)
        self.pi.data_bytes += len(data)
        self.transport.write(data)

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
    """Accepts exactly one data connection, and only from the control peer's address."""

    noisy = False

    port = None             # the listening port, once bound

    def __init__(self, pi: "FTPRedisProtocol", peer: str):
        self.pi = pi
        self.peer = peer
        self.conn: Optional[_DataConnection] = None

    def buildProtocol(self, addr):
        if self.conn is not None:
            return None
        if _plain_host(addr.host) != self.peer:
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


class _RangeReader:
    """A file that ends after ``length`` bytes (RANG).  It has no ``fileno``, so RETR
    takes the ordinary reader rather than sendfile, which would send to the end."""

    def __init__(self, fileobj, length: int):
        self._f = fileobj
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        data = self._f.read(size) if size else b""
        self._left -= len(data)
        return data

    def close(self):
        self._f.close()


@implementer(interfaces.IPushProducer)
class _Sender:
    """RETR producer: large chunks, optional LF -> CRLF, counts file bytes.

    Reads happen in the reactor's thread pool, one at a time, so a slow disk stalls
    only this transfer; the data connection's flow control pauses the reads.
    """

    CHUNK_SIZE = 256 * 1024

    def __init__(self, ascii: bool):
        self.ascii = ascii
        self.count = 0
        self._cr = False
        self._d: Optional[defer.Deferred] = None
        self._paused = False
        self._reading = False

    def transform(self, data: bytes) -> bytes:
        self.count += len(data)
        if not self.ascii:
            return data
        out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._cr and data.startswith(b"\n"):
            out = out[1:]                # the CR went out with the previous chunk
        self._cr = data.endswith(b"\r")
        return out

    def send(self, fileobj, consumer) -> defer.Deferred:
        self._f = fileobj
        self._consumer = consumer
        self._d = defer.Deferred()
        consumer.registerProducer(self, True)
        self._read()
        return self._d

    def _read(self):
        if self._reading or self._paused or self._d is None:
            return
        self._reading = True
        deferToThread(self._f.read, self.CHUNK_SIZE).addCallbacks(self._got, self._failed)

    def _got(self, data: bytes):
        self._reading = False
        if self._d is None:
            return
        if not data:
            self._consumer.unregisterProducer()
            d, self._d = self._d, None
            d.callback(None)
            return
        self._consumer.write(self.transform(data))
        self._read()

    def _failed(self, f):
        self._reading = False
        d, self._d = self._d, None
        if d is not None:
            self._consumer.unregisterProducer()
            d.errback(f)

    def pauseProducing(self):
        self._paused = True

    def resumeProducing(self):
        self._paused = False
        self._read()

    def stopProducing(self):
        d, self._d = self._d, None
        if d is not None:
            d.errback(ierror.ConnectionLost("consumer stopped the transfer"))


class _Receiver:
    """STOR sink: optional CRLF -> LF, counts file bytes, stops the upload on a write error.

    Writes run in the reactor's thread pool, one at a time and in order; while more than
    ``HIGH_WATER`` bytes wait, the data connection is paused (no unbounded buffering).
    """

    HIGH_WATER = 4 * 1024 * 1024

    def __init__(self, fileobj, ascii: bool, on_error: Callable[[OSError], None],
                 transport=None):
        self.f = fileobj
        self.ascii = ascii
        self.count = 0
        self.error: Optional[OSError] = None
        self._cr = False
        self._on_error = on_error
        self._transport = transport
        self._pending: list = []
        self._pending_len = 0
        self._writing = False
        self._paused = False
        self._waiters: list = []

    def __call__(self, data: bytes):
        if self.error is not None:
            return
        if self.ascii:
            if self._cr:
                data = b"\r" + data
            self._cr = data.endswith(b"\r")
            if self._cr:
                data = data[:-1]
            data = data.replace(b"\r\n", b"\n")
        self._write(data)

    def finish(self):
        if self._cr and self.error is None:
            self._write(b"\r")
        self._cr = False

    def _write(self, data):
        if not data or self.error is not None:
            return
        self._pending.append(data)
        self._pending_len += len(data)
        if not self._writing:
            self._flush()
        if self._pending_len > self.HIGH_WATER and self._transport is not None \
                and not self._paused:
            self._paused = True
            self._transport.pauseProducing()

    def _flush(self):
        chunk = b"".join(self._pending)
        self._pending, self._pending_len = [], 0
        self._writing = True
        deferToThread(self.f.write, chunk).addCallbacks(
            self._wrote, self._failed, callbackArgs=(len(chunk),))

    def _wrote(self, _, n):
        self._writing = False
        self.count += n
        if self._pending and self.error is None:
            self._flush()
        else:
            if self._paused:
                self._paused = False
                try:
                    self._transport.resumeProducing()
                except Exception:
                    pass
            self._wake()

    def _failed(self, f):
        self._writing = False
        self._pending, self._pending_len = [], 0
        e = _fastpath.as_oserror(f)
        self.error = e
        self._on_error(e)
        self._wake()

    def _wake(self):
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)

    def drained(self) -> defer.Deferred:
        """Fires once every byte received so far is written (or a write failed)."""
        if not self._writing and not self._pending:
            return defer.succeed(None)
        d = defer.Deferred()
        self._waiters.append(d)
        return d


# ---------------------------------------------------------------------------------------
# Logging

class LoggingMixin:
    """Builds and emits the session's events: CONNECT, one per command, EXIT (once)."""

    bytes_in = 0
    bytes_out = 0
    data_bytes = 0              # ProFTPD's session.total_bytes (STAT)
    session: Optional[Session] = None
    avatar = None
    original_user: Optional[str] = None
    config_path: Optional[str] = None
    end_reason: Optional[str] = None
    _exit_logged = False
    protocol_name = "ftp"       # %{protocol}: "ftps" once AUTH TLS succeeded (ftpredis.tls.ftps)

    def _emit(self, event: Event) -> None:
        try:
            self.factory.emit(event)
        except Exception:
            log.failure("emit failed for {verb}", verb=event.verb)

    # The parts of every event that change only at login, USER, RNFR/RNTO: worked out
    # once per change rather than per command (shared, never modified: _base copies).
    _who_cache = None
    _notes_cache = None

    def _who(self) -> dict:
        a = self.avatar
        cached = self._who_cache
        if cached is not None and cached[0] is a:
            return cached[1]
        if a is None:
            who = {"user": None, "group": None, "uid": os.geteuid(), "gid": os.getegid(),
                   "logged_in": False, "anonymous": False}
        else:
            who = {"user": a.name, "group": a.group, "uid": a.uid, "gid": a.gid,
                   "logged_in": True, "anonymous": bool(a.anonymous),
                   "anon_password": getattr(a, "anon_password", None) if a.anonymous
                   else None}
        self._who_cache = (a, who)
        return who

    def _base(self, kind: str, now: float, start: float) -> dict:
        cwd = self.fs.cwd if self.fs is not None else "/"
        fields = {"kind": kind, "session": self.session, "time": now,
                  "original_user": self.original_user, "config_path": self.config_path,
                  "cwd": cwd, "dir_name": cwd,
                  "session_bytes_rcvd": self.bytes_in, "session_bytes_sent": self.bytes_out,
                  "response_millis": int((now - start) * 1000),
                  "protocol": self.protocol_name}
        fields.update(self._who())
        notes = self._sessionNotes()
        if notes:
            fields["notes"] = notes
        return fields

    def _sessionNotes(self) -> dict:
        """ProFTPD's session notes that %{note:NAME} can read (spec 3.3)."""
        key = (self.original_user, self.avatar, getattr(self, "_rnfr", None))
        cached = self._notes_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        notes = self._notesNow()
        self._notes_cache = (key, notes)
        return notes

    def _notesNow(self) -> dict:
        notes = {}
        if self.original_user is not None:
            notes["mod_auth.orig-user"] = self.original_user
        a = self.avatar
        if a is not None and a.anonymous and getattr(a, "anon_password", None) is not None:
            notes["mod_auth.anon-passwd"] = a.anon_password
        rnfr = getattr(self, "_rnfr", None)
        if rnfr is not None:
            notes["mod_core.rnfr-path"] = rnfr[0]
        return notes

    def logConnect(self) -> None:
        now = time.time()
        self._emit(Event.adopt(self._base(CONNECT, now, now)))

    def logCommand(self, cmd: _Command, reply: Reply) -> None:
        self._emit(self._commandEvent(cmd, reply))

    def _commandEvent(self, cmd: _Command, reply: Reply) -> Event:
        """The command's event, its values (%O/%I included) taken now."""
        now = time.time()
        fields = self._base(COMMAND, now, cmd.start)
        fields.update(command_fields(cmd.verb, cmd.arg))
        fields["verb"] = cmd.verb
        fields["response_code"] = reply.code
        fields["response_msg"] = reply.text
        fields.update(cmd.fields)
        if "notes" in cmd.fields:
            # Command notes first, then the session's (Jot's lookup order).
            fields["notes"] = dict(self._sessionNotes(), **cmd.fields["notes"])
        if "config_path" in cmd.fields and cmd.fields["config_path"] is not None:
            self.config_path = cmd.fields["config_path"]
        return Event.adopt(fields)

    def logExit(self) -> None:
        if self._exit_logged or self.session is None:
            return
        self._exit_logged = True
        now = time.time()
        fields = self._base(DISCONNECT, now, now)
        fields.update(verb="EXIT", command="EXIT",
                      session_end_reason=self.end_reason or "Read EOF from client")
        self._emit(Event.adopt(fields))
        waiters, self._end_waiters = self._end_waiters, None
        for d in waiters or ():
            d.callback(None)

    _end_waiters = None

    def whenEnded(self) -> defer.Deferred:
        """Fires once this session's DISCONNECT event has been emitted (service shutdown)."""
        if self._exit_logged:
            return defer.succeed(None)
        if self._end_waiters is None:
            self._end_waiters = []
        d = defer.Deferred()
        self._end_waiters.append(d)
        return d


# ---------------------------------------------------------------------------------------
# The protocol

class FTPRedisProtocol(LoggingMixin, ftp.FTP):
    """One control connection."""

    MAX_LINE = 4096             # ProFTPD accepts 4090-byte lines and chokes beyond 4096
    MAX_QUEUED = 64             # pipelined commands held before we stop reading
    dtpTimeout = 10

    fs: Optional[JailedFS] = None
    disconnected = False

    # A session's starting state: class attributes, not ~20 assignments per connection.
    hostAddress = None      # the local address, when the listener looked it up already
    _buf = b""
    _discarding = False
    _busy = False
    _looping = False
    _paused = False
    _user: Optional[str] = None
    _login_failures = 0
    _logout = None
    binary = False          # ProFTPD starts in ASCII (RFC 959 default)
    _rest = 0
    _rnfr = None            # (virtual, real) after a successful RNFR
    _epsv_all = False
    _data_kind = None       # "pasv" or "port"
    _data_port = None       # IListeningPort or IConnector
    _data_factory = None
    _transfer_port = None   # %{transfer-port}
    _current: Optional[_Command] = None
    _transfer_conn: Optional[_DataConnection] = None

    # -- connection ---------------------------------------------------------------------
    def connectionMade(self):
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

        peer = transport.getPeer()
        host = self.hostAddress
        if host is None:
            host = transport.getHost()
        self.peer_host = peer_host = _plain_host(peer.host)
        self.local_host = local_host = _plain_host(host.host)
        self.session = Session.adopt({
            "remote_ip": peer_host, "remote_port": peer.port, "remote_dns": peer_host,
            "local_ip": local_host, "server_dns": local_host,
            "server_ip": s.addresses[0] if s.addresses else local_host,
            "local_port": s.port, "server_name": s.server_name,
            "server_version": __version__, "pid": _PID.pid, "session_id": next(_session_ids)})
        self.setTimeout(self.timeOut)
        if s.timeout_login:
            self._login_timer = self.factory.reactor.callLater(
                s.timeout_login, self._policyTimeout, "login_timeout", "TimeoutLogin",
                s.timeout_login)
        self.logConnect()
        if _ban.hook(self, "on_connect"):
            return                      # banned host/class: refused before the banner
        if getattr(s, "max_connections_per_host", None) and self._overConnectionsPerHost():
            return
        on, text = s.server_ident
        if not on:
            self.sendReply(R("banner_off", self.local_host))
        elif text:
            self.sendReply(Reply(220, text))
        else:
            self.sendReply(R("banner", s.server_name, self.local_host))

    counted = False         # in the factory's connectionCount (MaxClients)

    def connectionLost(self, reason):
        self.disconnected = True
        if self.counted:
            self.counted = False
            self.factory.connectionCount -= 1
        self.factory.instances.pop(self, None)
        self.setTimeout(None)
        for name in ("_login_timer", "_notransfer_timer", "_stall_timer"):
            self._cancelTimer(name)
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
        logout, self._logout = self._logout, None
        if logout is not None:
            try:
                logout()
            except Exception:
                log.failure("realm logout failed")

    _login_timer = _notransfer_timer = _stall_timer = None
    _anon_config = None

    def _cancelTimer(self, name: str) -> None:
        t = getattr(self, name, None)
        setattr(self, name, None)
        if t is not None and t.active():
            t.cancel()

    def _startNoTransferTimer(self) -> None:
        n = self.server.timeout_no_transfer
        t = self._notransfer_timer
        if t is not None and t.active() and n and not self.disconnected:
            t.reset(n)          # cheaper than a new DelayedCall per transfer
            return
        self._cancelTimer("_notransfer_timer")
        if n and not self.disconnected:
            self._notransfer_timer = self.factory.reactor.callLater(
                n, self._policyTimeout, "notransfer_timeout", "TimeoutNoTransfer", n)

    def _policyTimeout(self, reply: str, event: str, seconds: int) -> None:
        """TimeoutLogin / TimeoutNoTransfer: 421, then close (ProFTPD's texts)."""
        if self.disconnected:
            return
        self.end_reason = "Timeout exceeded: " + event
        self.sendReply(R(reply, seconds))
        _ban.hook(self, "on_event", event)
        self.transport.loseConnection()

    def _touchStall(self) -> None:
        t = self._stall_timer
        if t is not None and t.active():
            t.reset(self.server.timeout_stalled)

    def _stalled(self) -> None:
        """TimeoutStalled: no byte moved on the data connection; abort the transfer."""
        self._stall_timer = None
        self._stall_fired = True
        conn = self._transfer_conn
        if conn is not None and conn.transport is not None and not conn.lost:
            conn.transport.abortConnection()

    def timeoutConnection(self):
        self.end_reason = "Timeout exceeded: TimeoutIdle"
        self.sendReply(R("idle_timeout", self.timeOut))
        _ban.hook(self, "on_event", "TimeoutIdle")
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

    # -- output ---------------------------------------------------------------------------
    _held = None            # a reply line written with the next one (_holdLine)

    def sendLine(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogateescape")
        if self.disconnected or self.transport is None:
            return
        self.bytes_out += len(line) + 2
        held = self._held
        if held is not None:
            self._held = None
            _fastpath.write_now(self.transport, held + line + b"\r\n")
            return
        _fastpath.write_now(self.transport, line + b"\r\n")

    def _holdLine(self, line: str) -> None:
        """Count ``line`` as sent now (%O) but write it with the next line (or
        :meth:`_flushHeld`): one segment and one wake-up of the client instead of two."""
        if self.disconnected or self.transport is None:
            return
        data = line.encode("utf-8", "surrogateescape")
        self.bytes_out += len(data) + 2
        self._held = (self._held or b"") + data + b"\r\n"

    def _flushHeld(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self.disconnected and self.transport is not None:
            _fastpath.write_now(self.transport, held)

    def sendReply(self, reply: Reply):
        if reply.lines:
            self.sendLine("%d-%s" % (reply.code, reply.lines[0]))
            for line in reply.lines[1:]:
                self.sendLine(" " + line)
        self.sendLine("%d %s" % (reply.code, reply.text))

    def reply(self, key, *args):
        # Twisted's key-based replies are not used; keep the name working for subclasses.
        self.sendLine(ftp.RESPONSE[key] % args)

    # -- input ----------------------------------------------------------------------------
    def dataReceived(self, data):
        self.bytes_in += len(data)
        buf = self._buf + data
        while True:
            i = buf.find(b"\n")
            if i < 0:
                if len(buf) > self.MAX_LINE:
                    if not self._discarding:
                        self._queue.append(None)        # "too long" marker
                    self._discarding = True
                    buf = b""
                break
            line, buf = buf[:i], buf[i + 1:]
            if self._discarding:
                self._discarding = False
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.MAX_LINE:
                self._queue.append(None)
                continue
            if self._busy and self._abortable() and _strip_telnet(line).upper() == b"ABOR":
                self._abortTransfer(line)
                continue
            self._queue.append(line)
        self._buf = buf
        if len(self._queue) > self.MAX_QUEUED and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        self._next()

    def lineReceived(self, line):
        self._queue.append(line)
        self._next()

    _aborting = False
    _TRANSFER_VERBS = frozenset({"RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"})

    def _abortable(self) -> bool:
        cur = self._current
        return cur is not None and cur.verb in self._TRANSFER_VERBS

    def _abortTransfer(self, line: bytes) -> None:
        """ABOR read while a transfer runs: cut the data connection now (its command
        answers 426) and run ABOR next (226), ahead of anything pipelined."""
        self._aborting = True
        self._queue.appendleft(line)
        xfer = self._transfer_conn
        if xfer is not None and xfer.transport is not None and not xfer.lost:
            xfer.transport.abortConnection()
        elif isinstance(self._data_factory, _PassiveFactory):
            self._data_factory.cancel()         # still waiting for the data connection
        elif self._data_kind == "port" and self._data_port is not None:
            self.cleanupDTP()

    def _next(self):
        if self._looping:
            return
        self._looping = True
        try:
            # Nothing pipelined behind a command that closed the session (QUIT, a
            # refusal) is run: ProFTPD's session has ended by then.
            while (not self._busy and self._queue and not self.disconnected
                   and not getattr(self.transport, "disconnecting", False)):
                line = self._queue.popleft()
                self._busy = True
                d = self._handleLine(line)
                if d is None:
                    self._commandDone(None)
                else:
                    d.addBoth(self._commandDone)
        finally:
            self._looping = False
        if self._paused and len(self._queue) <= self.MAX_QUEUED // 2 and not self.disconnected:
            self._paused = False
            self.transport.resumeProducing()

    def _commandDone(self, _):
        self._busy = False
        self._current = None
        if self._exit_pending:
            self._endSession()
            return
        if self._draining:
            self.stopSession()
            return
        if not self._looping:
            self._next()

    def _handleLine(self, line: Optional[bytes]) -> Optional[defer.Deferred]:
        """Run one command line; None when it finished synchronously (most commands:
        no Deferred is built for them), else a Deferred that fires when it has."""
        self.resetTimeout()
        if line is None:
            self.sendReply(R("line_too_long"))
            return None
        if b"\x00" in line:
            self.sendReply(R("nul_in_line"))
            return None
        text = _strip_telnet(line).decode("utf-8", "surrogateescape")
        verb, sep, arg = text.partition(" ")
        verb = verb.strip().upper()
        if not verb:
            return None
        cmd = _Command(verb, arg if sep and arg != "" else None)
        self._current = cmd
        try:
            result = self._dispatch(cmd)
        except Reply as r:
            result = r
        except BaseException:
            result = failure.Failure()
        if isinstance(result, defer.Deferred):
            result.addCallbacks(self._finish, self._failed, callbackArgs=(cmd,),
                                errbackArgs=(cmd,))
            result.addErrback(lambda f: log.failure("finishing {verb}", f, verb=cmd.verb))
            return result
        try:
            if isinstance(result, failure.Failure):
                self._failed(result, cmd)
            else:
                self._finish(result, cmd)
        except BaseException:
            log.failure("finishing {verb}", failure.Failure(), verb=cmd.verb)
        return None

    #: (class, verb) -> the class's cmd_ function, looked up once.
    _handlers: dict = {}

    def _dispatch(self, cmd: _Command):
        verb = cmd.verb
        base = ALIASES.get(verb, verb)
        key = (type(self), base)
        try:
            fn = self._handlers[key]
        except KeyError:
            fn = getattr(type(self), "cmd_" + base, None)
            if fn is not None:
                # Only real commands: a client's made-up verbs must not grow the table.
                self._handlers[key] = fn
        handler = None if fn is None else fn.__get__(self)
        _ban.hook(self, "on_command", verb, handler is not None)
        _tls.precheck(self, base)       # TLSRequired
        if handler is None:
            if base in UNIMPLEMENTED:
                if self.avatar is None:
                    raise R("please_login")
                raise R("not_implemented", verb)
            raise R("not_understood", verb)
        if self.avatar is None and base not in PRE_LOGIN:
            raise R("please_login")
        if self.avatar is not None and self._limited:
            self._checkLimit(cmd, base)
        if self._rnfr is not None and base not in ("RNTO", "RNFR"):
            # ProFTPD keeps the RNFR path (and a transfer context) until RNTO.
            cmd.fields.setdefault("transfer_path", self._rnfr[0])
            cmd.fields.setdefault("bytes_sent", 0)
        return handler(cmd)

    _limited = False        # set at login when the server has <Limit>s or is anonymous

    def _limitTarget(self, cmd: _Command, base: str):
        """``(limit verb, client path for the message, real path)`` of a command."""
        arg = cmd.arg
        if base == "SITE":
            words = (arg or "").split(None, 2)
            if len(words) == 3 and words[0].upper() == "CHMOD":
                return "SITE_CHMOD", arg[arg.upper().find("CHMOD"):], words[2]
            if len(words) == 3 and words[0].upper() == "CHGRP":
                # No SITE_CHGRP <Limit> name yet: SITE_CHMOD's (a WRITE command) stands in,
                # so an <Anonymous> session stays read-only.
                return "SITE_CHMOD", arg[arg.upper().find("CHGRP"):], words[2]
            return None, None, None
        if base == "MFF":
            # Likewise MFMT's <Limit> (WRITE) for MFF, which changes the same facts and more.
            words = (arg or "").split(" ", 1)
            return "MFMT", words[1] if len(words) == 2 else None, \
                words[1] if len(words) == 2 else None
        if base == "MFMT":
            words = (arg or "").split(" ", 1)
            return base, words[1] if len(words) == 2 else None, \
                words[1] if len(words) == 2 else None
        if base in ("LIST", "NLST", "STAT") and arg:
            words = arg.split(" ")
            while words and words[0].startswith("-") and len(words[0]) > 1:
                words.pop(0)
            arg = " ".join(words) or None
        if base == "CDUP":
            return base, "..", ".."
        if base == "STOU":
            return base, ".", "."
        return base, arg, arg

    def _checkLimit(self, cmd: _Command, base: str) -> None:
        from ftpredis.ftp import limits
        verb, shown, path = self._limitTarget(cmd, base)
        if verb is None:
            return
        real = None
        if base in LIMIT_PATH_COMMANDS or verb == "SITE_CHMOD":
            real = self.fs.chroot_join(self.fs.virtual(path))
        a = self.avatar
        anon = self._anon_config
        groups = (a.group,) if a.group else ()
        ok = limits.decision(self.server, anon, verb, real, a.name, groups)
        if ok is None and a.anonymous and limits.is_write(verb):
            ok = False      # <Anonymous> is read-only unless a <Limit> allows writing
        if ok is False:
            key = LIMIT_PATH_COMMANDS.get(base, "limit_denied")
            if verb == "SITE_CHMOD":
                reply = R("limit_denied_dirs", shown)
            elif base in ("LIST", "NLST", "MLSD", "STAT"):
                reply = Reply(450, REPLIES[key][1] % (shown or "."))
            else:
                reply = R(key, shown if shown is not None else base)
            if base in self._TRANSFER_VERBS:
                self._xferStart(cmd)
                self._xferFailed(cmd, reply)
            raise reply

    def _finish(self, reply, cmd: _Command):
        if not isinstance(reply, Reply):
            reply = R("internal")
        if cmd.verb == "QUIT" or (self.avatar is None and reply.code == 530
                                  and reply.text == REPLIES["please_login"][1]):
            # ProFTPD flushes 221, and the 530 refusing a command before login, before
            # its log handlers run: they count in %O (measured).
            self.sendReply(reply)
            self.logCommand(cmd, reply)
            if cmd.after is not None:
                cmd.after()
            return
        # The event is taken before the reply is written (its %O does not count the
        # reply, as in ProFTPD), but routed, formatted and queued only once the reply is
        # on its way: the client does not wait for the formatting.
        event = self._commandEvent(cmd, reply)
        if not getattr(reply, "sent", False):     # AUTH TLS's 234 went out before the handshake
            self.sendReply(reply)
        self._emit(event)
        if cmd.after is not None:
            cmd.after()

    def _failed(self, f: failure.Failure, cmd: _Command):
        if f.check(Reply):
            reply = f.value
        elif f.check(FSError):
            code = 450 if cmd.verb in ("LIST", "NLST") else 550
            reply = Reply(code, f.value.text)
        else:
            log.failure("unexpected error in {verb}", f, verb=cmd.verb)
            transfer = cmd.verb in ("RETR", "STOR", "APPE", "STOU", "LIST", "NLST")
            reply = R("local_error" if transfer else "internal")
            if transfer:
                self._xferFailed(cmd, reply)
        self._finish(reply, cmd)

    # -- helpers --------------------------------------------------------------------------
    def _need(self, cmd: _Command) -> str:
        if cmd.arg is None:
            raise R("invalid_params")
        return cmd.arg

    def _pathFields(self, cmd: _Command, vpath: str, *, dir_cmd=False, xfer=False):
        """%f, %F, %{basename}, %d, %D for a command acting on one path argument."""
        f = cmd.fields
        real = self.fs.chroot_join(vpath)
        f["file"] = real
        f["basename"] = path_tail(cmd.arg or "")
        f["config_path"] = self.fs.real_of(vpath)
        if xfer:
            f["transfer_path"] = vpath
        if dir_cmd:
            f["dir_name"] = path_tail(cmd.arg or "")
            f["dir_path"] = real
        return real

    def _owner_names(self):
        # Once per server (its config is immutable), not per login: an AuthUserFile of
        # thousands of users made this a dict of thousands per login.
        found = getattr(self.factory, "_owner_names", None)
        if found is None:
            s = self.server
            if s.auth_users:
                found = ({u.uid: u.name for u in s.auth_users}, dict(s.auth_groups), False)
            else:
                found = ({}, dict(s.auth_groups), True)
            self.factory._owner_names = found
        return found

    # -- login ----------------------------------------------------------------------------
    def _is_anonymous_name(self, name: str) -> bool:
        for anon in self.server.anonymous:
            if name == anon.user or name in dict(anon.user_aliases):
                return True
        return False

    def _is_root_name(self, name: str) -> bool:
        names = getattr(self.factory, "_root_names", None)
        if names is None:       # once per server, not a scan of every user per login
            names = self.factory._root_names = frozenset(
                u.name for u in self.server.auth_users if u.uid == 0)
        return name in names

    def _policyRefusal(self, cmd, event: str, user: str, reply: Reply):
        """Refuse a login by policy (the reply, then the session closes).

        ProFTPD signals ``event`` (mod_ban's BanOnEvent) before its reply; when that ban
        ends the session the reply is never sent.
        """
        if _ban.hook(self, "on_event", event, user=user):
            raise _PolicyRefusal(_unsent(reply))

        def close():
            self.end_reason = "Configured policy"
            self.transport.loseConnection()
        cmd.after = close
        raise _PolicyRefusal(reply)

    def _overConnectionsPerHost(self) -> bool:
        """MaxConnectionsPerHost, before the banner: True when refused (closing)."""
        limit = self.server.max_connections_per_host
        n = sum(1 for p in self.factory.instances if p.peer_host == self.peer_host)
        if n <= limit[0]:
            return False
        if _ban.hook(self, "on_event", "MaxConnectionsPerHost"):
            return True
        self.end_reason = "Configured policy"
        self.sendLine("530 " + _max_text(limit, "Sorry, the maximum number of connections "
                                         "(%m) for your host are already connected."))
        self.transport.loseConnection()
        return True

    def cmd_USER(self, cmd):
        name = self._need(cmd)
        if self.avatar is not None:
            if name == self.original_user:
                return R("logged_in", name)
            raise R("reauth")
        _ban.hook(self, "check_user", name)
        self._user = name
        self.original_user = name
        if self._is_anonymous_name(name):
            return R("anon_user_ok")
        # ProFTPD's reply names only the first word of the argument (argv[1]).
        return R("user_ok", (name.split(" ", 1)[0].split("\t", 1)[0]) or name)

    def cmd_PASS(self, cmd):
        if self.avatar is not None:
            raise R("already_logged_in")
        if self._user is None:
            raise R("pass_first_user")
        user, self._user = self._user, None
        anon_found = anonymous_section(self.server, user)
        if anon_found is None and self._is_root_name(user):
            # ProFTPD's mod_auth signals a uid 0 login before any password check, even
            # with RootLogin on; a ban it triggers ends the session unanswered.
            if _ban.hook(self, "on_event", "RootLogin", user=user):
                return _unsent(R("login_incorrect"))
        if anon_found is not None:
            creds = AnonymousLogin(user, cmd.arg or "")
        else:
            creds = UsernamePassword(user, cmd.arg or "")
        def ok(result):
            from ftpredis.ftp import limits
            _, avatar, logout = result
            if self.disconnected:
                logout()
                raise R("login_incorrect")
            anon_cfg = anon_found[1] if (avatar.anonymous and anon_found) else None
            per_host = self.server.max_clients_per_host
            if per_host is not None:
                n = sum(1 for p in self.factory.instances if p.peer_host == self.peer_host)
                if n > per_host:
                    logout()
                    self._policyRefusal(cmd, "MaxClientsPerHost", user,
                                        R("max_per_host", per_host))
            per_user = getattr(self.server, "max_clients_per_user", None)
            if per_user is not None:
                n = sum(1 for p in self.factory.instances if p is not self
                        and p.avatar is not None and p.avatar.name == avatar.name)
                if n >= per_user[0]:
                    logout()
                    self._policyRefusal(cmd, "MaxClientsPerUser", user, Reply(
                        530, _max_text(per_user, "Sorry, the maximum number of clients "
                                       "(%m) for this user are already connected.")))
            groups = (avatar.group,) if avatar.group else ()
            if limits.decision(self.server, anon_cfg, "LOGIN", None, avatar.name,
                               groups) is False:
                logout()
                raise UnauthorizedLogin("<Limit LOGIN> denies %r" % (avatar.name,))
            self.avatar = avatar
            self._logout = logout
            self._anon_config = anon_cfg
            self._limited = avatar.anonymous or limits.has_limits(self.server)
            self._cancelTimer("_login_timer")
            self._startNoTransferTimer()
            names, groups, system = self._owner_names()
            self.fs = JailedFS(avatar.root, avatar.cwd, umask=self.server.umask,
                               user_names=names, group_names=groups, use_system_names=system,
                               root_is_real=True)
            self.fs.hide = lambda real_dir: limits.hide_pattern(self.server, anon_cfg,
                                                               real_dir)
            self.config_path = self.fs.real_of(self.fs.cwd)
            if avatar.anonymous:
                r = R("anon_logged_in")
            else:
                r = R("logged_in", user)
            display = (anon_cfg.display_login if anon_cfg is not None
                       and anon_cfg.display_login else self.server.display_login)
            if display:
                return deferToThread(_read_display, display, {
                    "%U": user, "%u": avatar.name, "%L": self.local_host,
                    "%R": self.peer_host, "%T": time.ctime(), "%%": "%"}).addCallback(
                    lambda lines: Reply(r.code, r.text, lines))
            return r

        def bad(f):
            if f.check(_PolicyRefusal):
                return f.value.reply
            if f.check(Reply):
                return f
            if (getattr(f.value, "reason", None) == "anon-reject-passwords" and
                    _ban.hook(self, "on_event", "AnonRejectPasswords", user=user)):
                return _unsent(R("login_incorrect"))
            if not f.check(UnauthorizedLogin, UnhandledCredentials):
                log.failure("login of {user!r} failed", f, user=user)
            self._login_failures += 1
            limit = self._login_failures >= self.server.max_login_attempts

            def after():
                # ProFTPD forgets the USER name after a failed PASS (not on its record).
                self.original_user = None
                if not cmd.arg:
                    _ban.hook(self, "on_event", "EmptyPassword", user=user)
                if limit:
                    self.end_reason = "Configured policy"
                    _ban.hook(self, "on_event", "MaxLoginAttempts", user=user)
                    _ban.hook(self, "on_event", "MaxLoginAttemptsFromUser", user=user)
                    self.transport.loseConnection()
            cmd.after = after
            # A delay before every refusal makes password guessing slow (mod_delay).
            delay = self.factory.loginFailureDelay
            if delay:
                return task.deferLater(self.factory.reactor, delay, _raise,
                                       R("login_incorrect"))
            raise R("login_incorrect")

        login_now = getattr(self.portal, "login_now", None)
        result = login_now(creds) if login_now is not None else None
        if result is not None:
            # No hashing to wait for: the same callbacks, without the Deferreds.
            try:
                return ok(result)
            except BaseException:
                return bad(failure.Failure())
        d = defer.maybeDeferred(self.portal.login, creds, None, IFTPRedisAvatar)
        d.addCallback(ok)
        d.addErrback(bad)
        return d

    def cmd_QUIT(self, cmd):
        def close():
            self.end_reason = "Quit"
            _fastpath.close_now(self.transport)
        cmd.after = close
        return R("goodbye")

    # -- simple commands ------------------------------------------------------------------
    def cmd_NOOP(self, cmd):
        return R("noop")

    def cmd_SYST(self, cmd):
        return R("syst")

    def cmd_CLNT(self, cmd):
        return R("clnt")

    def cmd_CSID(self, cmd):
        # ProFTPD's format, ftpredis's own identity; the client's facts are not used.
        return R("csid", "ftpredis", __version__)

    def cmd_ALLO(self, cmd):
        return R("allo")

    def cmd_ABOR(self, cmd):
        self._aborting = False
        self.cleanupDTP()
        return R("abor")

    def cmd_FEAT(self, cmd):
        return Reply(211, "End", ["Features:"] + sorted(list(FEATURES) + _tls.features(self)))

    # -- FTPS (RFC 4217; ftpredis.tls.ftps) ---------------------------------------------------
    def cmd_AUTH(self, cmd):
        return _tls.cmd_auth(self, cmd)

    def cmd_PBSZ(self, cmd):
        return _tls.cmd_pbsz(self, cmd)

    def cmd_PROT(self, cmd):
        return _tls.cmd_prot(self, cmd)

    def cmd_CCC(self, cmd):
        return _tls.cmd_ccc(self, cmd)

    def cmd_HELP(self, cmd):
        if cmd.arg is not None:
            word = cmd.arg.split()[0].upper() if cmd.arg.split() else ""
            if word == "SITE":
                # ProFTPD hands "HELP SITE ..." to SITE HELP with the words it has.
                if len(cmd.arg.split()) > 1:
                    raise R("help_unknown", "SITE " + cmd.arg)
                return Reply(214, SITE_COMMANDS[-1], SITE_COMMANDS[:-1])
            if word in HELP_SYNTAX:
                return R("help_syntax", HELP_SYNTAX[word])
            raise R("help_unknown", word or cmd.arg)
        lines = ["The following commands are recognized (* =>'s unimplemented):"]
        cmds = HELP_COMMANDS
        if _tls.state(self) is not None:
            cmds = [c.rstrip("*") if c.rstrip("*") in HELP_TLS else c for c in cmds]
        for i in range(0, len(cmds) - len(cmds) % 8, 8):
            lines.append("".join("%-8s" % c for c in cmds[i:i + 8]))
        r = R("help_end", self.local_host)
        return Reply(r.code, r.text, lines)

    def cmd_OPTS(self, cmd):
        arg = self._need(cmd)
        words = arg.split()
        if words and words[0].upper() == "MLST":
            if len(words) == 1:
                return Reply(200, "MLST OPTS")
            canon = {f.lower(): f for f in MLST_FACTS}
            asked = [canon[f.lower()] for f in words[1].split(";") if f.lower() in canon]
            self._mlst_facts = tuple(f for f in MLST_FACTS if f in asked)
            # The reply echoes the request's order; listings keep ProFTPD's fact order.
            return R("mlst_opts", "".join(f + ";" for f in dict.fromkeys(asked)))
        if words and words[0].upper() == "UTF8":
            if len(words) == 2 and words[1].upper() in ("ON", "OFF"):
                return R("utf8", words[1].lower())
            raise R("invalid_params")
        raise R("opts_bad", words[0].upper() if words else arg)

    def cmd_TYPE(self, cmd):
        if cmd.arg is None:
            raise R("quoted_not_understood", "TYPE")
        words = cmd.arg.upper().split()
        t = words[0] if words else ""
        if t == "A" and (len(words) == 1 or words[1] == "N"):
            self.binary = False
            return R("type_ok", "A")
        if t == "I" and len(words) == 1:
            self.binary = True
            return R("type_ok", "I")
        if t == "L" and len(words) == 2 and words[1] == "8":
            self.binary = True
            return R("type_ok", "L")
        raise R("type_bad", cmd.arg)

    def cmd_MODE(self, cmd):
        if cmd.arg is None:
            raise R("quoted_not_understood_501", "MODE")
        if cmd.arg.upper() == "S":
            return R("mode_ok", "S")
        raise R("mode_bad", cmd.arg)

    def cmd_STRU(self, cmd):
        if cmd.arg is None:
            raise R("quoted_not_understood_501", "STRU")
        if cmd.arg.upper() == "F":
            return R("stru_ok", "F")
        raise R("stru_bad", cmd.arg)

    def cmd_REST(self, cmd):
        if cmd.arg is None:
            raise R("quoted_not_understood", "REST")
        try:
            offset = int(cmd.arg)
            if offset < 0 or not cmd.arg.strip().isdigit():
                raise ValueError
        except ValueError:
            raise R("rest_bad")
        if not self.binary and offset:
            raise R("rest_ascii")
        self._rest = offset
        self._rang = None           # REST and RANG replace each other (ProFTPD)
        return R("rest_ok", offset)

    #: ``(start, length)`` after a RANG, until the next RETR/STOR/APPE/STOU takes it.
    _rang: Optional[tuple] = None

    def cmd_RANG(self, cmd):
        """RANG (draft-bryan-ftp-range): the next transfer covers bytes start..end."""
        words = cmd.arg.split() if cmd.arg else []
        if len(words) != 2:
            raise R("quoted_not_understood", " ".join([cmd.verb] + words))
        try:
            start, end = (int(w) for w in words)
            if not all(w.lstrip("+").isdigit() and w[:1] != "-" for w in words):
                raise ValueError
        except ValueError:
            raise R("rang_bad")
        if start > end:
            self._rang = None
            if (start, end) == (1, 0):
                return R("rang_reset")
            raise R("rang_order")
        if not self.binary:
            raise R("rang_ascii", cmd.verb)
        length = end - start + 1
        self._rang = (start, length)
        self._rest = 0
        return R("rang_ok", length, "bytes" if length != 1 else "byte", start)

    def cmd_STAT(self, cmd):
        if cmd.arg is None:
            s = self.server
            lines = ["Status of '%s'" % s.server_name,
                     "Connected from %s (%s)" % (self.peer_host, self.peer_host),
                     "Logged in as %s" % self.avatar.name,
                     "TYPE: %s, STRUcture: File, Mode: Stream"
                     % ("BINARY" if self.binary else "ASCII")]
            if self.data_bytes:
                lines.append("Total bytes transferred for session: %d" % self.data_bytes)
            lines.append("No data connection")
            r = R("stat_end")
            return Reply(r.code, r.text, lines)
        fs, arg = self.fs, cmd.arg

        def gather():
            vpath, real = fs.resolve(arg)
            st = fs._call(arg, os.stat, real)
            if statmod.S_ISDIR(st.st_mode):
                lines = [fs.format_long(".", st)]
                try:
                    lines.append(fs.format_long("..", os.stat(os.path.dirname(real)
                                                              if real != fs.root else real)))
                    lines += fs.listing(real, long=True)
                except OSError as e:
                    raise FSError(e.errno, arg) from None
                return 212, lines
            return 213, [fs.format_long(path_tail(vpath), os.lstat(real))]

        def done(result):
            code, lines = result
            return Reply(code, "End of status", ["Status of %s:" % arg] + lines)

        def failed(f):
            f.trap(FSError)
            raise Reply(450, f.value.text)
        return deferToThread(gather).addCallbacks(done, failed)

    # -- RFC 3659 -------------------------------------------------------------------------
    _mlst_facts = MLST_FACTS

    def _facts(self, st, real: str, kind: Optional[str] = None) -> str:
        """One MLST/MLSD fact string, as ProFTPD 1.3.8 writes it."""
        is_dir = statmod.S_ISDIR(st.st_mode)
        out = []
        for fact in self._mlst_facts:
            if fact == "modify":
                v = time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime))
            elif fact == "perm":
                parent_w = os.access(os.path.dirname(real) or "/", os.W_OK)
                w = os.access(real, os.W_OK)
                if is_dir:
                    v = ("f" if parent_w else "") + ("l" if os.access(real, os.R_OK) else "") \
                        + ("c" if w else "") + ("d" if parent_w else "") \
                        + ("mp" if w else "") + ("e" if os.access(real, os.X_OK) else "")
                else:
                    v = ("a" if w else "") + ("df" if parent_w else "") \
                        + ("r" if os.access(real, os.R_OK) else "") + ("w" if w else "")
            elif fact == "size":
                if is_dir:
                    continue
                v = str(st.st_size)
            elif fact == "type":
                v = kind or ("dir" if is_dir else "file" if statmod.S_ISREG(st.st_mode)
                             else "OS.unix=" + _unix_type(st.st_mode))
            elif fact == "unique":
                v = "%XU%X" % (st.st_dev, st.st_ino)
            elif fact == "UNIX.group":
                v = str(st.st_gid)
            elif fact == "UNIX.groupname":
                v = self.fs._group(st.st_gid)
            elif fact == "UNIX.mode":
                v = "%04o" % statmod.S_IMODE(st.st_mode)
            elif fact == "UNIX.owner":
                v = str(st.st_uid)
            else:
                v = self.fs._owner(st.st_uid)
            out.append("%s=%s;" % (fact, v))
        return "".join(out)

    def cmd_MLST(self, cmd):
        fs, arg = self.fs, cmd.arg
        vpath = fs.virtual(arg)
        self._pathFields(cmd, vpath)

        def gather():
            try:
                _, real = fs.resolve(arg, arg or vpath)
                st = os.stat(real)
            except (FSError, OSError):
                raise R("mlst_cannot", arg if arg is not None else vpath)
            return self._facts(st, real) + " " + vpath

        def done(line):
            r = R("mlst_end")
            start = REPLIES["mlst_start"][1] % (arg if arg is not None else vpath)
            return Reply(r.code, r.text, [start, line])
        return deferToThread(gather).addCallback(done)

    def cmd_MLSD(self, cmd):
        self._xferStart(cmd)
        fs, arg = self.fs, cmd.arg
        vpath = fs.virtual(arg)
        real = fs.chroot_join(vpath)
        f = cmd.fields
        f["dir_name"] = f["basename"] = path_tail(arg or "")
        f["file"] = real
        f["dir_path"] = real if arg else real.rstrip("/") + "/"
        f["config_path"] = fs.real_of(vpath)

        def gather():
            _, r = fs.resolve(arg, arg or vpath)
            st = fs._call(arg or vpath, os.stat, r)
            if not statmod.S_ISDIR(st.st_mode):
                raise R("mlsd_not_dir", arg or vpath)
            lines = []
            try:
                for name, est in fs.list_entries(r, show_hidden=True):
                    if est is None:
                        continue
                    p = os.path.join(r, name)
                    if statmod.S_ISLNK(est.st_mode):
                        try:
                            est = os.stat(p)
                            _, _ = fs.resolve(posixpath.join(vpath, name))
                        except (OSError, FSError):
                            continue        # dangling, or pointing out of the jail
                    lines.append(self._facts(est, p) + " " + name)
                lines.append(self._facts(st, r, "cdir") + " .")
                parent = os.path.dirname(r) if r != fs.root else r
                lines.append(self._facts(os.stat(parent), parent, "pdir") + " ..")
            except OSError as e:
                raise FSError(e.errno, arg or vpath) from None
            return "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogateescape")

        @defer.inlineCallbacks
        def send(conn, data):
            conn.write(data)
            conn.transport.loseConnection()
            yield conn.waitClosed()
            f["bytes_sent"] = len(data)
            return R("xfer_ok")

        def failed(fail):
            if fail.check(FSError):
                fail = failure.Failure(Reply(550, fail.value.text))
            self._xferFailed(cmd, fail.value)
            return fail
        d = deferToThread(gather)
        d.addErrback(failed)
        opening = REPLIES["opening"][1] % ("ASCII", "MLSD")
        d.addCallback(lambda data: self._withData(cmd, opening, lambda c: send(c, data)))
        return d

    def cmd_MFMT(self, cmd):
        arg = self._need(cmd)
        stamp, sep, path = arg.partition(" ")
        if not sep or not path:
            raise R("invalid_params")
        vpath = self.fs.virtual(path)
        self._pathFields(cmd, vpath)
        try:
            if not (len(stamp) == 14 and stamp.isdigit()) and not (
                    len(stamp) > 15 and stamp[14] == "." and stamp[:14].isdigit()):
                raise ValueError
            import calendar
            when = calendar.timegm(time.strptime(stamp[:14], "%Y%m%d%H%M%S"))
        except ValueError:
            raise R("mfmt_bad", stamp)
        _, real = self.fs.resolve(path)
        st = self.fs._call(path, os.stat, real)
        self.fs._call(path, os.utime, real, (st.st_atime, when))
        return R("mfmt_ok", stamp[:14], path)

    def cmd_HOST(self, cmd):
        st = _tls.state(self)
        if self.avatar is not None or (st is not None and st.used):
            # After AUTH the TLS handshake has already settled which server this is.
            raise R("bad_sequence")
        if cmd.arg is None:
            raise R("quoted_not_understood", "HOST")
        name = cmd.arg.strip()
        bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        known = {self.local_host, self.server.server_name, "localhost"}
        known.update(self.server.addresses)
        if bare not in known:
            raise R("host_unknown", name)
        return R("host_ok")

    def cmd_LANG(self, cmd):
        if cmd.arg is None or cmd.arg.strip().upper() in ("C", "C.UTF-8"):
            return R("lang_ok")
        raise R("lang_bad", cmd.arg.strip())

    # -- directories ----------------------------------------------------------------------
    def cmd_PWD(self, cmd):
        cwd = self.fs.cwd
        cmd.fields.update(file=self.fs.chroot_join(cwd), basename=path_tail(cwd))
        return R("pwd", _quote(cwd))

    def cmd_CWD(self, cmd):
        arg = self._need(cmd)
        return self._chdir(cmd, arg)

    def cmd_CDUP(self, cmd):
        return self._chdir(cmd, "..")

    def _chdir(self, cmd, path):
        f = cmd.fields
        f["dir_name"] = path_tail(cmd.arg or "")
        target = self.fs.virtual(path)
        f["dir_path"] = f["file"] = self.fs.chroot_join(target)
        f["config_path"] = self.fs.real_of(target)
        new = self.fs.chdir(path, cmd.arg or path)
        f["dir_path"] = f["file"] = self.fs.chroot_join(new)
        f["basename"] = path_tail(new)
        return R("cmd_ok", cmd.verb)

    def cmd_MKD(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, dir_cmd=True, xfer=True)
        self.fs.mkdir(arg, umask_for=self._umask)
        return R("mkd_ok", _quote(vpath))

    def cmd_RMD(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, dir_cmd=True, xfer=True)
        self.fs.rmdir(arg)
        return R("cmd_ok", cmd.verb)

    def cmd_DELE(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, xfer=True)
        cmd.fields["bytes_sent"] = 0
        size = self.fs.unlink(arg)
        cmd.fields["bytes_sent"] = size
        return R("cmd_ok", cmd.verb)

    def cmd_RNFR(self, cmd):
        arg = self._need(cmd)
        self._rnfr = None
        vpath, real = self.fs.resolve(arg)
        self._pathFields(cmd, vpath)
        self.fs._call(arg, os.lstat, real)
        self._rnfr = (vpath, real)
        cmd.fields.update(transfer_path=vpath, bytes_sent=0)
        return R("rnfr_ok")

    def cmd_RNTO(self, cmd):
        arg = self._need(cmd)
        if self._rnfr is None:
            raise R("bad_sequence")
        (src_v, src_real), self._rnfr = self._rnfr, None
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, xfer=True)
        cmd.fields.update(rename_from=src_v, bytes_sent=0,
                          notes={"mod_core.rnfr-path": src_v})
        self.fs.rename(src_real, arg)
        return R("rnto_ok")

    def cmd_SIZE(self, cmd):
        arg = self._need(cmd)
        if not self.binary:
            raise R("size_ascii")
        st = self.fs.stat(arg)
        if not statmod.S_ISREG(st.st_mode):
            raise R("not_regular", arg)
        return R("stat213", str(st.st_size))

    def cmd_MDTM(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath)
        st = self.fs.stat(arg)
        if not statmod.S_ISREG(st.st_mode):
            raise R("not_plain", arg)
        return R("stat213", time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime)))

    def cmd_SITE(self, cmd):
        if cmd.arg is None:
            raise R("site_noarg")
        words = cmd.arg.split()
        sub = words[0].upper() if words else ""
        if sub == "HELP":
            lines = ["The following SITE commands are recognized (* =>'s unimplemented)"]
            if len(words) > 1:
                syntax = SITE_HELP_SYNTAX.get(words[1].upper())
                if syntax is None:
                    raise R("help_unknown", "SITE HELP " + words[1])
                lines.append("Syntax: " + syntax)
            else:
                lines += SITE_COMMANDS
            return Reply(214, "Direct comments to root@%s" % self.local_host, lines)
        if sub == "CHGRP":
            return self._siteChgrp(cmd)
        if sub == "CHMOD":
            if len(words) < 3:
                raise Reply(500, REPLIES["site_chmod_noarg"][1], ["'SITE CHMOD' not understood"])
            path = " ".join(words[2:])
            vpath = self.fs.virtual(path)
            cmd.fields.update(file=self.fs.chroot_join(vpath), basename=path,
                              config_path=self.fs.real_of(vpath))
            try:
                mode = int(words[1], 8)
                if mode > 0o7777:
                    raise ValueError
            except ValueError:
                raise R("chmod_bad_mode", words[1])
            self.fs.chmod(path, mode)
            return R("chmod_ok")
        raise R("site_bad", sub)

    # -- changing a file's group and mode (SITE CHGRP, MFF) ------------------------------
    def _gidOfName(self, name: str) -> Optional[int]:
        """A group name as ProFTPD's auth modules see it (AuthGroupFile, else the system)."""
        for gid, n in self.server.auth_groups.items():
            if n == name:
                return gid
        if not self.server.auth_users:
            try:
                return grp.getgrnam(name).gr_gid
            except (KeyError, UnicodeError):
                pass
        return None

    def _changeGroup(self, path: str, group: str) -> None:
        """chown(path, -1, group) for the logged-in user; raises FSError (errno) on refusal.

        ``group`` is read as C's strtoul would (ProFTPD's), a name if anything is left
        over.  The server is one process, often root: the kernel's own rule for a user
        is applied first -- the file must be the user's (or the server's own upload) and
        the group one of the user's -- so that no session can hand a file to any group.
        """
        m = re.match(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)", group)
        if not m.group(2):
            if group:
                gid = self._gidOfName(group)
                if gid is None:
                    raise FSError(errno.EINVAL, path)
            else:
                gid = 0
        elif m.end() < len(group):
            gid = self._gidOfName(group)
            if gid is None:
                raise FSError(errno.EINVAL, path)
        else:
            n = int(m.group(2))
            n = (1 << 64) - 1 if n >= 1 << 64 else n
            gid = ((-n if m.group(1) == "-" else n) % (1 << 64)) & 0xFFFFFFFF
        _, real = self.fs.resolve(path)
        st = self.fs._call(path, os.stat, real)
        if gid == 0xFFFFFFFF:
            return                          # (gid_t) -1: chown changes nothing
        a = self.avatar
        allowed = {a.gid}
        if not self.server.auth_users and not a.anonymous:
            try:
                allowed.update(os.getgrouplist(a.name, a.gid))
            except (KeyError, OSError, UnicodeError):
                pass
        if gid not in allowed or st.st_uid not in (a.uid, os.geteuid()):
            raise FSError(errno.EPERM, path)
        self.fs._call(path, os.chown, real, -1, gid)

    def _siteChgrp(self, cmd):
        words = cmd.arg.split()
        if len(words) < 3:
            raise Reply(500, REPLIES["site_chmod_noarg"][1],
                        ["'SITE %s' not understood" % " ".join(["CHGRP"] + words[1:])])
        # The path keeps its inner spaces, not the ones around it (ProFTPD, measured).
        path = re.match(r"\s*\S+\s+\S+\s+(.*?)\s*$", cmd.arg).group(1)
        base = self.fs.chroot_join(self.fs.cwd)
        if path.startswith("/"):
            base = base.rstrip("/")
        elif not base.endswith("/"):
            base += "/"
        cmd.fields.update(file=base + path, basename=path,
                          config_path=self.fs.real_of(self.fs.virtual(path)))
        try:
            self._changeGroup(path, words[1])
        except FSError as e:
            raise Reply(550, e.text)
        return R("chgrp_ok")

    def cmd_MFF(self, cmd):
        """MFF (RFC 3659's draft sibling): set modify, UNIX.group, UNIX.mode in order.

        A faithful copy of mod_facts: the facts string is parsed in place as C does, so
        the texts (including which part of it an error names) are ProFTPD's; facts set
        before a failing one stay set.
        """
        words = cmd.arg.split() if cmd.arg else []
        if len(words) < 2:
            raise R("invalid_params")
        facts, _, path = cmd.arg.partition(" ")
        buf = list(facts) + ["\0"]

        def cstr(i):
            return "".join(buf[i:buf.index("\0", i)])

        def fail(e: FSError):
            return Reply(550 if e.errno == errno.ENOENT else 501, "%s: %s" % (path, e.message))

        start, semi = 0, facts.find(";")
        if semi < 0:
            raise Reply(550, "%s: %s" % (facts, os.strerror(errno.EINVAL)))
        while semi >= 0:
            buf[semi] = "\0"
            fact = cstr(start)
            name = fact.lower()
            eq = fact.find("=")
            if name.startswith("modify"):
                if eq < 0:
                    raise Reply(501, "%s: %s" % (cstr(0), os.strerror(errno.EINVAL)))
                ts = start + eq + 1
                if len(cstr(ts)) < 14:
                    raise Reply(501, "%s: %s" % (cstr(ts), os.strerror(errno.EINVAL)))
                dot = cstr(ts).find(".")
                if dot >= 0:
                    buf[ts + dot] = "\0"        # stays cut: the 213 text shows it too
                try:
                    when = _facts_mtime(cstr(ts))
                    if when is None:
                        raise FSError(errno.EINVAL, path)
                    _, real = self.fs.resolve(path)
                    self.fs._call(path, os.utime, real, (when, when))
                except FSError as e:
                    raise fail(e)
            elif name.startswith("unix.group"):
                if eq < 0:
                    buf[semi] = ";"
                    raise Reply(501, "%s: %s" % (cstr(0), os.strerror(errno.EINVAL)))
                try:
                    self._changeGroup(path, fact[eq + 1:])
                except FSError as e:
                    raise fail(e)
            elif name.startswith("unix.mode"):
                if eq < 0:
                    buf[semi] = ";"
                    # mod_facts reports whatever errno was left over: ENOENT, in practice.
                    raise Reply(501, "%s: %s" % (cstr(0), os.strerror(errno.ENOENT)))
                text = fact[eq + 1:]
                m = re.match(r"[ \t\n\v\f\r]*([+-]?)([0-7]*)", text)
                if m.end() < len(text) and m.group(2) or (not m.group(2) and text):
                    raise fail(FSError(errno.EINVAL, path))
                n = int(m.group(2) or "0", 8)
                n = ((1 << 64) - 1 if n >= 1 << 64 else n)
                mode = ((-n if m.group(1) == "-" else n) % (1 << 64)) & 0o7777
                try:
                    self.fs.chmod(path, mode)
                except FSError as e:
                    raise fail(e)
            else:
                raise R("mff_cannot", fact)
            buf[semi] = ";"
            start = semi + 1
            nxt = cstr(start).find(";")
            semi = start + nxt if nxt >= 0 else -1
        return R("mff_ok", cstr(0), path)

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
            self._dropSpare()
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

    def _dropSpare(self):
        port, self._spare_port = self._spare_port, None
        if port is not None:
            self.factory.forgetSpare(self)
            port.stopListening()

    def _listenPassive(self) -> int:
        self.cleanupDTP(keep=True)
        fac = _PassiveFactory(self, self.peer_host)
        port, self._spare_port = self._spare_port, None
        if port is not None:
            self.factory.forgetSpare(self)
            port.reuse(fac, self.peer_host)
            return self._passiveReady(port, fac)
        ports = list(self.passivePortRange)
        if len(ports) > 1:
            start = random.randrange(len(ports))
            ports = ports[start:] + ports[:start]
        host = self._listen_host
        if host is None:
            host = self._listen_host = self.transport.getHost().host
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
        if self._epsv_all:
            raise R("epsv_all_in_effect", "PASV")
        port = self._listenPassive()
        cmd.fields["transfer_port"] = port
        host = self.server.masquerade_address or self.local_host
        if ":" in host:
            host = "0.0.0.0"   # PASV cannot carry IPv6; clients use the control address
        return R("pasv", ",".join(host.split(".") + [str(port >> 8), str(port & 255)]))

    def cmd_EPSV(self, cmd):
        if cmd.arg is not None:
            if cmd.arg.upper() == "ALL":
                self._epsv_all = True
                return R("epsv_all")
            if cmd.arg not in ("1", "2"):
                raise R("epsv_proto")
        port = self._listenPassive()
        cmd.fields["transfer_port"] = port
        return R("epsv", port)

    def _setActive(self, cmd, host: str, port: int):
        foreign = _plain_host(host) != self.peer_host
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
        if self._epsv_all:
            raise R("epsv_all_in_effect", "PORT")
        try:
            nums = [int(x) for x in (cmd.arg or "").split(",")]
            if len(nums) != 6 or not all(0 <= x <= 255 for x in nums):
                raise ValueError
        except ValueError:
            raise R("port_syntax", "PORT")
        return self._setActive(cmd, ".".join(map(str, nums[:4])), nums[4] * 256 + nums[5])

    def cmd_EPRT(self, cmd):
        if self._epsv_all:
            raise R("epsv_all_in_effect", "EPRT")
        arg = cmd.arg or ""
        try:
            d = arg[0]
            parts = arg.split(d)
            if len(parts) != 5 or parts[1] not in ("1", "2"):
                raise ValueError
            host, port = parts[2], int(parts[3])
            if not 0 < port < 65536:
                raise ValueError
        except (ValueError, IndexError):
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
            fac.failed.addCallback(failed)
            return d
        return defer.fail(R("no_data", "No PORT or PASV command given"))    # (ours)

    # -- transfers ------------------------------------------------------------------------
    def _typeName(self):
        return "BINARY" if self.binary else "ASCII"

    def _xferStart(self, cmd):
        cmd.fields.update(transfer_type="binary" if self.binary else "ASCII",
                          file_modified=False)
        if self._transfer_port:
            cmd.fields["transfer_port"] = self._transfer_port

    def _xferFailed(self, cmd, reply: Reply):
        cmd.fields["transfer_status"] = "failed"
        text = reply.text
        i = text.find(". ")
        cmd.fields["transfer_failure"] = text[i + 2:] if i >= 0 else text

    def _xferDone(self, cmd, t0: float):
        cmd.fields["transfer_status"] = "success"
        cmd.fields["transfer_millis"] = int((time.time() - t0) * 1000)

    @defer.inlineCallbacks
    def _withData(self, cmd, opening: str, body, conn=None, t0=None):
        """Open the data connection, send 150, run ``body(conn)``; returns the final Reply.

        With ``conn`` and ``t0`` the connection is open and the 150 sent already (a RETR
        that :meth:`_retrNow` could not finish at once)."""
        self.setTimeout(None)
        try:
            if conn is None:
                try:
                    conn = yield self._openData()
                except Reply as r:
                    self._xferFailed(cmd, r)
                    self.cleanupDTP()
                    raise
            self._transfer_conn = conn
            self._cancelTimer("_notransfer_timer")
            if self.server.timeout_stalled:
                self._stall_timer = self.factory.reactor.callLater(
                    self.server.timeout_stalled, self._stalled)
            if t0 is None:
                t0 = time.time()
                self.sendLine("150 " + opening)
            try:
                reply = yield _tls.run_data(self, conn, body)     # PROT P: TLS first
            finally:
                self._transfer_conn = None
                self._cancelTimer("_stall_timer")
                self._startNoTransferTimer()
                self.cleanupDTP(keep=True)
            if self._aborting and reply.code >= 400:
                # ABOR arrived during the transfer: ProFTPD's 426, then ABOR's own 226.
                reply = R("xfer_aborted")
            if reply.code < 300:
                self._xferDone(cmd, t0)
            else:
                self._xferFailed(cmd, reply)
                if self._aborting:
                    cmd.fields["transfer_failure"] = "aborted"
            return reply
        finally:
            if not self.disconnected:
                self.setTimeout(self.timeOut)

    def cmd_RETR(self, cmd):
        arg = self._need(cmd)
        self._xferStart(cmd)
        offset, self._rest = self._rest, 0
        rang, self._rang = self._rang, None
        if (offset or rang) and not self.factory.allowRetrieveRestart:
            r = R("restart_denied", arg)
            self._xferFailed(cmd, r)
            raise r
        length = None
        if rang is not None:
            offset, length = rang
        fd = None
        try:
            vpath, real, fd, st = self.fs.open_read(arg)
            if not statmod.S_ISREG(st.st_mode):
                raise R("not_regular_xfer", arg)
            if offset and (offset > st.st_size or offset + (length or 0) > st.st_size):
                # ProFTPD refuses after its PRE_CMD stage has set %f.
                self._pathFields(cmd, vpath, xfer=True)
                if offset > st.st_size:
                    raise R("offset_invalid", "RANG" if rang else "REST", arg)
                raise R("rang_invalid", arg)
            if length is not None:
                # A range from 0 may run past the end: ProFTPD sends what there is.
                length = min(length, st.st_size - offset)
        except FSError as e:
            r = Reply(550, e.text)
            self._xferFailed(cmd, r)
            raise r
        except Reply as r:
            if fd is not None:
                os.close(fd)
            self._xferFailed(cmd, r)
            raise
        self._pathFields(cmd, vpath, xfer=True)
        cmd.fields["basename"] = path_tail(vpath)
        cmd.fields["notes"] = {"mod_xfer.retr-path": vpath}
        opening = REPLIES["opening_size"][1] % (
            self._typeName(), arg, st.st_size - offset if length is None else length)
        conn = t0 = None
        start = offset
        sent_at_once = 0
        if self.binary and length is None and self._data_kind == "pasv":
            try:
                now = self._retrNow(cmd, fd, offset, st.st_size, opening)
            except BaseException:
                os.close(fd)
                raise
            if isinstance(now, Reply):
                return now
            if now is not None:
                conn, t0, sent_at_once = now
                start = offset + sent_at_once
        sender = _fastpath.RetrSender(ascii=not self.binary, fallback=_Sender)

        @defer.inlineCallbacks
        def body(conn):
            try:
                yield sender.send(fobj, conn)
            except Exception:
                return R("xfer_aborted")
            finally:
                fobj.close()
                cmd.fields["bytes_sent"] = sent_at_once + sender.count
            conn.transport.loseConnection()
            reason = yield conn.waitClosed()
            cmd.fields["file_offset"] = offset
            cmd.fields["file_size"] = st.st_size
            return R("xfer_ok")

        # unbuffered: sendfile, or 256 KiB reads (ASCII, TLS)
        fobj = open(fd, "rb", buffering=0)
        if start:
            fobj.seek(start)
        if length is not None:
            fobj = _RangeReader(fobj, length)
        d = self._withData(cmd, opening, body, conn, t0)
        d.addErrback(lambda f: (fobj.close(), f)[1])
        return d

    def _retrNow(self, cmd, fd: int, offset: int, size: int, opening: str):
        """A binary RETR over a plain passive connection that is already there, sent
        without the reactor: 150, sendfile until done, close, and the final Reply (the
        small-file case, in one pass).  ``(conn, t0, bytes sent)`` when the socket
        filled up first (the rest goes the ordinary way on that connection), None when
        this path does not apply."""
        port = self._data_port
        if (not isinstance(port, _fastpath.LazyPort) or not _fastpath.RetrSender.enabled
                or _tls.state(self) is not None or _fastpath.plain_tcp(self.transport) is None):
            return None
        got = port.accept_raw(self.peer_host)
        if got is None:
            return None
        sfd, addr = got
        # (TimeoutNoTransfer: no reactor turn before the transfer ends; restarted below.)
        t0 = time.time()
        # The 150 goes out with the final reply, in one segment, when the file is sent
        # at once: the client has its data connection already, and reads the data (in
        # its socket buffer) after the 150 whenever that comes.
        self._holdLine("150 " + opening)
        sent, error = _fastpath.sendfile_now(sfd, fd, offset, size - offset)
        self.bytes_out += sent
        self.data_bytes += sent
        if error is None and sent < size - offset:
            self._flushHeld()
            conn = port.adopt(sfd, addr)
            if conn is not None:
                return conn, t0, sent
            error = "refused"
        else:
            os.close(sfd)
        os.close(fd)
        cmd.fields["bytes_sent"] = sent
        self._startNoTransferTimer()
        self.cleanupDTP(keep=True)
        if error is not None:
            reply = R("xfer_aborted")
            self._xferFailed(cmd, reply)
            return reply
        cmd.fields["file_offset"] = offset
        cmd.fields["file_size"] = size
        self._xferDone(cmd, t0)
        return R("xfer_ok")

    def cmd_STOR(self, cmd):
        return self._store(cmd, append=False)

    def cmd_APPE(self, cmd):
        return self._store(cmd, append=True)

    def cmd_STOU(self, cmd):
        return self._store(cmd, append=False, unique=True)

    def _store(self, cmd, append: bool, unique: bool = False):
        self._xferStart(cmd)
        offset, self._rest = self._rest, 0
        rang, self._rang = self._rang, None
        fs = self.fs
        tmp = None
        try:
            if unique:
                while True:
                    name = "ftp" + "".join(random.choice(string.ascii_letters + string.digits)
                                           for _ in range(6))
                    vpath, real = fs.resolve(name)
                    umode = 0o666 & ~self._umask(real)
                    try:
                        os.close(os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, umode))
                        break
                    except FileExistsError:
                        continue
                    except OSError as e:
                        raise FSError(e.errno, name) from None
                arg = name
                existed = False
            else:
                arg = self._need(cmd)
                vpath, real = fs.resolve(arg)
                umode = 0o666 & ~self._umask(real)
                try:
                    st = os.stat(real)
                    existed = True
                    if not statmod.S_ISREG(st.st_mode):
                        raise R("not_regular_xfer", arg)
                except FileNotFoundError:
                    existed = False
                except OSError as e:
                    raise FSError(e.errno, arg) from None
                if rang is not None and not append:
                    # Only RANG's refusals (ProFTPD: 451 for an existing file; a new one
                    # is opened, then refused, being shorter than the start).
                    if existed and not self.factory.allowStoreRestart:
                        raise R("restart_denied", arg)
                    if rang[0] > (st.st_size if existed else 0):
                        self._pathFields(cmd, vpath, xfer=True)
                        raise R("offset_invalid", "RANG", arg)
                    offset = rang[0]
                restart = append or offset > 0
                if restart and not self.factory.allowStoreRestart:
                    raise R("restart_denied", arg)
                if existed and not restart and not self._allowOverwrite(real):
                    raise R("overwrite_denied", arg)
            if append or offset > 0:
                fd = fs._call(arg, os.open, real, os.O_WRONLY | os.O_CREAT, umode)
                start = os.lseek(fd, 0, os.SEEK_END) if append else os.lseek(fd, offset, os.SEEK_SET)
                if not append:
                    os.ftruncate(fd, offset)
                fobj = os.fdopen(fd, "wb")
            else:
                # A failed upload must never look like a complete file: write beside the
                # target and rename over it on success.
                start = 0
                try:
                    fd, tmp = tempfile.mkstemp(prefix=".ftpredis-", suffix=".part",
                                               dir=os.path.dirname(real))
                except OSError as e:
                    raise FSError(e.errno, arg) from None
                os.fchmod(fd, umode)
                fobj = os.fdopen(fd, "wb")
        except FSError as e:
            r = Reply(550, e.text)
            self._xferFailed(cmd, r)
            raise r
        except Reply as r:
            self._xferFailed(cmd, r)
            raise
        cmd.fields["file_modified"] = existed
        cmd.fields["notes"] = {"mod_xfer.store-path": vpath}
        if existed:
            cmd.fields["notes"]["mod_xfer.file-modified"] = "true"

        def discard():
            try:
                fobj.close()
            except OSError:
                pass
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            if unique and tmp is not None:
                try:
                    os.unlink(real)
                except OSError:
                    pass

        @defer.inlineCallbacks
        def body(conn):
            abort = lambda e: conn.transport.abortConnection()
            recv = _fastpath.store_receiver(
                fobj, conn, ascii=not self.binary, on_error=abort,
                fallback=lambda: _Receiver(fobj, ascii=not self.binary, on_error=abort,
                                           transport=conn.transport))
            conn.setSink(recv)
            reason = yield conn.waitClosed()
            recv.finish()
            yield recv.drained()
            cmd.fields["bytes_sent"] = recv.count
            if recv.error is not None:
                discard()
                return Reply(451 if recv.error.errno != errno.ENOSPC else 552,
                             "%s: %s" % (arg, os.strerror(recv.error.errno)))
            if not isinstance(reason, ierror.ConnectionDone) or self.disconnected:
                discard()
                return R("xfer_aborted")
            try:
                fobj.close()
                if tmp is not None:
                    os.replace(tmp, real)
                size = os.stat(real).st_size
            except OSError as e:
                discard()
                return Reply(550, "%s: %s" % (arg, os.strerror(e.errno)))
            self._pathFields(cmd, vpath, xfer=True)
            cmd.fields.update(basename=path_tail(vpath), file_offset=start, file_size=size)
            return R("xfer_ok")

        if unique:
            opening = REPLIES["stou_opening"][1] % arg
        else:
            opening = REPLIES["opening"][1] % (self._typeName(), arg)
        d = self._withData(cmd, opening, body)

        def failed(f):
            discard()
            return f
        d.addErrback(failed)
        return d

    def _dirSetting(self, real: str, attr: str, default):
        """A <Directory> setting for a real path: the deepest <Directory> setting it wins."""
        value, best = default, -1
        for dcfg in self.server.directories:
            v = getattr(dcfg, attr)
            if v is None:
                continue
            p = dcfg.path.rstrip("*").rstrip("/")
            if (real == p or real.startswith(p + "/")) and len(p) > best:
                best, value = len(p), v
        return value

    def _allowOverwrite(self, real: str) -> bool:
        return self._dirSetting(real, "allow_overwrite", self.server.allow_overwrite)

    def _umask(self, real: str) -> int:
        return self._dirSetting(real, "umask", self.server.umask)

    def cmd_LIST(self, cmd):
        return self._list(cmd, long=True)

    def cmd_NLST(self, cmd):
        return self._list(cmd, long=False)

    def _list(self, cmd, long: bool):
        self._xferStart(cmd)
        opts, path = "", cmd.arg
        if path is not None:
            words = path.split(" ")
            while words and words[0].startswith("-") and len(words[0]) > 1:
                opts += words.pop(0)[1:]
            path = " ".join(words) or None
        fs = self.fs
        vpath = fs.virtual(path)
        real = fs.chroot_join(vpath)
        f = cmd.fields
        f["dir_name"] = f["basename"] = path_tail(cmd.arg or "")
        f["file"] = real
        f["dir_path"] = real if cmd.arg else real.rstrip("/") + "/"
        f["config_path"] = fs.real_of(vpath)
        display = path if path is not None else ""
        prefix = ""
        if not long and path:
            prefix = path.rstrip("/") + "/"

        def gather():
            if fs.has_glob(path) and not os.path.lexists(fs.real_of(vpath)):
                try:
                    matches = fs.glob(path)
                    if long:
                        return [fs.format_long(shown, os.lstat(r)) for shown, r in matches]
                except OSError as e:
                    raise FSError(e.errno, display) from None
                return [shown for shown, _ in matches]
            _, r = fs.resolve(path, display or vpath)
            try:
                if not long and not statmod.S_ISDIR(os.stat(r).st_mode):
                    return [path]
                return fs.listing(r, long=long, show_hidden="a" in opts or "A" in opts,
                                  prefix=prefix)
            except OSError as e:
                raise FSError(e.errno, display or vpath) from None

        def to_bytes(lines):
            return "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogateescape")

        @defer.inlineCallbacks
        def send(conn, data):
            conn.write(data)
            conn.transport.loseConnection()
            yield conn.waitClosed()
            f["bytes_sent"] = len(data)
            return R("xfer_ok")

        opening = REPLIES["opening"][1] % (self._typeName(), "file list")

        def failed_listing(fail):
            fail.trap(FSError)
            r = Reply(450, fail.value.text)
            self._xferFailed(cmd, r)
            raise r

        if long:
            @defer.inlineCallbacks
            def body(conn):
                try:
                    lines = yield deferToThread(gather)
                except FSError as e:
                    return Reply(450, e.text)
                return (yield send(conn, to_bytes(lines)))
            return self._withData(cmd, opening, body)

        d = deferToThread(gather)
        d.addErrback(failed_listing)
        d.addCallback(lambda lines: self._withData(
            cmd, opening, lambda conn: send(conn, to_bytes(lines))))
        return d


class FTPRedisFactory(ftp.FTPFactory):
    """Listens for one :class:`~ftpredis.config.model.ServerConfig`."""

    protocol = FTPRedisProtocol
    allowAnonymous = False

    def __init__(self, server, portal, emit: Callable[[Event], None], reactor=None):
        ftp.FTPFactory.__init__(self, portal)
        # The open sessions, in connection order: a dict rather than Twisted's list, so
        # that a session ending with 10,000 others open is not a list scan.
        self.instances = {}
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self._listen_quiet = _fastpath.listen_quiet(reactor)   # PASV ports, not logged
        self.server = server
        self.emit = emit
        self.timeOut = server.timeout_idle or None
        if server.passive_ports:
            lo, hi = server.passive_ports
            self.passivePortRange = range(lo, hi + 1)
        self.connectionLimit = server.max_clients
        # ProFTPD's AllowStoreRestart (off by default) gates APPE and REST+STOR; the
        # config model has no field for it yet.
        self.allowStoreRestart = bool(getattr(server, "allow_store_restart", False))
        self.allowRetrieveRestart = server.allow_retrieve_restart
        # Seconds before a failed login is answered (ProFTPD's mod_delay does similar).
        self.loginFailureDelay = 0.25
        self.tls = _tls.ServerTLS.build(server, reactor)     # None unless TLSEngine on

    def buildProtocol(self, addr):
        if self.connectionLimit is not None and self.connectionCount >= self.connectionLimit:
            return ftp.FTPFactory.buildProtocol(self, addr)    # the overflow protocol's 421
        # Not wrapped in a ProtocolWrapper as LimitTotalConnectionsFactory does, only to
        # count connections: that is two more calls on every read and write of the session.
        p = self.protocol()
        p.factory = self
        p.portal = self.portal
        p.timeOut = self.timeOut
        p.passivePortRange = self.passivePortRange
        p.listenFactory = self._listen_quiet
        p.counted = True
        self.connectionCount += 1
        return p

    #: How long a session keeps a passive port after its transfer (for its next PASV).
    SPARE_SECONDS = 2.0
    _sweep = None

    def keepSpare(self, pi) -> None:
        spares = self.__dict__.setdefault("_spares", {})
        spares[pi] = self.reactor.seconds()
        if self._sweep is None:
            self._sweep = self.reactor.callLater(self.SPARE_SECONDS, self._sweepSpares)

    def forgetSpare(self, pi) -> None:
        spares = self.__dict__.get("_spares", {})
        spares.pop(pi, None)
        # Not on every PASV (that would be a timer per file): when a session ends.
        if not spares and pi.disconnected:
            self._stopSweep()

    def _stopSweep(self) -> None:
        sweep, self._sweep = self._sweep, None
        if sweep is not None and sweep.active():
            sweep.cancel()

    def _sweepSpares(self) -> None:
        self._sweep = None
        spares = self.__dict__.get("_spares", {})
        cutoff = self.reactor.seconds() - self.SPARE_SECONDS
        for pi, kept in list(spares.items()):
            if kept <= cutoff:
                pi._dropSpare()
        if spares:
            self._sweep = self.reactor.callLater(self.SPARE_SECONDS, self._sweepSpares)

    def stopFactory(self):
        for pi in list(self.__dict__.get("_spares", {})):
            pi._dropSpare()
        self._stopSweep()
        ftp.FTPFactory.stopFactory(self)

    def closeAllSessions(self):
        """End every open session ("Server shutting down"), logging each DISCONNECT.

        Not done in stopFactory: the listening port also closes on a reload, and sessions
        open then finish on their old settings.
        """
        for p in list(self.instances):
            p.shutdown()

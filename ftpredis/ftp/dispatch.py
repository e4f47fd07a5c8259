# -*- test-case-name: tests.test_protocol -*-
"""The control channel's input and output: line reading (Telnet IP/Synch stripped, over-long
lines refused), the queue of pipelined commands, dispatch to the ``cmd_`` handlers with the
pre-login and <Limit> checks, and writing the replies (each command's event is taken just
before its reply is written; see :mod:`ftpredis.ftp.protocol`)."""

from __future__ import annotations

import re
from typing import Optional

from twisted.internet import defer
from ftpredis.ftp import limits
from twisted.protocols import ftp
from twisted.python import failure

from ftpredis.tls import ftps as _tls
from ftpredis.ftp import fastpath as _fastpath
from ftpredis.records.events import path_tail, site_path, site_words
from ftpredis.ftp.filesystem import FSError
from ftpredis.ftp.replies import REPLIES, R, Reply
from ftpredis.ftp.common import (ALIASES, LIMIT_PATH_COMMANDS, PRE_LOGIN, UNIMPLEMENTED, _Command,
                                 blank, log)
from ftpredis.ftp.datachannel import _PassiveFactory


_TELNET_FIRST = frozenset((b"\xff", b"\xf2", b"\xf4"))

_BLANK_FIRST = frozenset((b" ", b"\t", b"\v", b"\f", b"\r"))
# What may follow an RNFR before its RNTO (mod_core's core_pre_any), and what more once
# the session speaks TLS (RFC 2228's commands).
_AFTER_RNFR = frozenset({"RNTO", "HELP", "NOOP", "QUIT", "STAT"})
_AFTER_RNFR_TLS = frozenset({"CCC", "CONF", "ENC", "MIC", "PBSZ", "PROT"})
# Commands whose %f is their path argument as written after the current directory
# (ftpredis.ftp.files), the listings' with their options (ftpredis.ftp.listings).
_WRITTEN_PATH = frozenset({"MKD", "RMD", "DELE", "RNTO", "MDTM", "MFMT", "SITE"})
_LISTINGS = frozenset({"LIST", "NLST", "MLSD"})

_VERB_END = re.compile("[\t\v\f\r]").search

# After IAC: WILL, WONT, DO, DONT take one more byte (the option), IP and DM none.
_TELNET_OPTION = frozenset(b"\xfb\xfc\xfd\xfe")
_TELNET_SIGNAL = frozenset(b"\xf4\xf2")


def _strip_telnet(line: bytes) -> bytes:
    """Drop Telnet commands wherever they stand, as ProFTPD 1.3.8 reads its control
    connection (measured): IAC IP and IAC DM (which clients put before ABOR, RFC 959
    4.1.3), IAC WILL/WONT/DO/DONT with their option byte; IAC IAC is one 0xFF byte; IAC
    before any other byte (IAC NOP too) is kept as it came.  A DM or IP byte at the start
    without its IAC is dropped too: the IAC went out-of-band (urgent data) and the
    line has only the rest."""
    if b"\xff" in line:
        line = _telnet_commands(line)
    while line[:1] in (b"\xf2", b"\xf4"):
        line = line[1:]
    return line


def _telnet_commands(line: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c != 0xFF or i + 1 == n:
            out.append(c)
            i += 1
            continue
        nxt = line[i + 1]
        if nxt in _TELNET_SIGNAL:
            i += 2
        elif nxt in _TELNET_OPTION:
            i += 3
        elif nxt == 0xFF:
            out.append(0xFF)
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


class DispatchMixin:
    """Reads command lines, runs them in order, and writes the replies."""

    # -- output ---------------------------------------------------------------------------
    _held = None            # a reply line written with the next one (_holdLine)
    _closing = False        # the next line is the last before close_now (QUIT's 221)

    _tcp_of = None          # the transport _tcp was found under (fastpath.tcp_under)
    _tcp = None

    def sendLine(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogateescape")
        self._sendData(line + b"\r\n")

    def _sendData(self, data: bytes) -> None:
        """Write ``data``, one or more whole lines with their CRLF, counted in %O."""
        transport = self.transport
        if self.disconnected or transport is None:
            return
        self.bytes_out += len(data)
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        # fastpath.write_now, with the TCP connection under the transport looked up once
        # per transport instead of once per reply (a PROXY wrapper, a test's fake).
        if transport is not self._tcp_of:
            self._tcp_of = transport
            self._tcp = _fastpath.tcp_under(transport)
        _fastpath.send_or_write(self._tcp, transport, data, self._closing)

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
        wire = reply.wire
        if wire is None:
            wire = ("%d %s\r\n" % (reply.code, reply.text)).encode("utf-8", "surrogateescape")
        self._sendData(wire)

    def reply(self, key, *args):
        # Twisted's key-based replies are not used; keep the name working for subclasses.
        self.sendLine(ftp.RESPONSE[key] % args)

    # -- input ----------------------------------------------------------------------------
    #: The reactor may read for this protocol without Twisted's doRead (see
    #: ftpredis._compat.twisted_reactor): dataReceived never returns a value.
    lean_read = True

    def dataReceived(self, data):
        self.bytes_in += len(data)
        # Most reads are one whole command line while nothing else is read, queued or
        # running: run it without the queue (what _next would do with a one-line queue).
        i = data.find(b"\n")
        if (i == len(data) - 1 and not self._buf and not self._busy and not self._queue
                and not self._looping and not self._discarding and not self._paused):
            line = data[:-2] if data[-2:-1] == b"\r" else data[:-1]
            if (len(line) <= self.MAX_LINE and not self.disconnected
                    and not getattr(self.transport, "disconnecting", False)):
                self._looping = True
                try:
                    self._runLine(line)
                finally:
                    self._looping = False
                if self._queue:
                    self._next()
                return
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

    def discard_pending_input(self) -> None:
        """Forget every line read but not yet run, and any partial line (AUTH TLS: what
        came in clear after it must not be taken as a command)."""
        self._queue.clear()
        self._buf = b""

    def lineReceived(self, line):
        self._queue.append(line)
        self._next()

    _TRANSFER_VERBS = frozenset({"RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"})

    @property
    def current_verb(self):
        """The command word being served (``"RETR"``), or None between commands; the
        metrics' in-progress gauges count these when scraped (ftpredis.metrics)."""
        cur = self._current
        return cur.verb if cur is not None else None

    def _abortable(self) -> bool:
        cur = self._current
        return cur is not None and cur.verb in self._TRANSFER_VERBS

    def _abortTransfer(self, line: bytes) -> None:
        """ABOR read while a transfer runs: cut the data connection now (its command
        answers 426) and run ABOR next (226), ahead of anything pipelined."""
        self.client_state.aborting = True
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
                self._runLine(self._queue.popleft())
        finally:
            self._looping = False
        if self._paused and len(self._queue) <= self.MAX_QUEUED // 2 and not self.disconnected:
            self._paused = False
            self.transport.resumeProducing()

    def _runLine(self, line: Optional[bytes]) -> None:
        """Run one line; the next one only once it has finished (_commandDone)."""
        self._busy = True
        d = self._handleLine(line)
        if d is None:
            self._commandDone(None)
        else:
            d.addBoth(self._commandDone)

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
        if b"\xff" in line or line[:1] in _TELNET_FIRST:
            line = _strip_telnet(line)
        if b"\x00" in line:
            # ProFTPD's parser reads C strings: the line ends at a NUL (measured).
            line = line[:line.find(b"\x00")]
        if not line or line[:1] in _BLANK_FIRST:
            # An empty line, or one starting with a blank: ProFTPD answers this and
            # logs nothing (measured).
            self.sendReply(R("no_command"))
            return None
        text = line.decode("utf-8", "surrogateescape")
        verb, sep, arg = text.partition(" ")
        if not verb.isalpha():
            # ProFTPD ends the command word at any blank: "TYPE<TAB>I" is TYPE with "I"
            # (measured); the argument starts after that one blank.
            m = _VERB_END(verb)
            if m is not None:
                cut = m.start()
                verb, sep, arg = text[:cut], text[cut], text[cut + 1:]
        verb = verb.strip().upper()
        if not verb:
            self.sendReply(R("no_command"))
            return None
        cmd = _Command(verb, arg if sep and arg != "" else None)
        self._current = cmd
        try:
            result = self._dispatch(cmd)
        except Reply as r:
            result = r
        except BaseException:
            result = failure.Failure()
        # A Reply first: isinstance(x, Deferred) goes through ABCMeta (Deferred is an
        # Awaitable), the slowest check of the path, for the few commands that wait.
        if not isinstance(result, Reply) and isinstance(result, defer.Deferred):
            result.addCallbacks(self._finish, self._failed, callbackArgs=(cmd,),
                                errbackArgs=(cmd,))
            result.addErrback(lambda f: log.failure("finishing {verb}", f, verb=cmd.verb))
            return result
        try:
            if isinstance(result, Reply) or not isinstance(result, failure.Failure):
                self._finish(result, cmd)
            else:
                self._failed(result, cmd)
        except BaseException:
            log.failure("finishing {verb}", failure.Failure(), verb=cmd.verb)
        return None

    #: (class, verb) -> (the class's cmd_ function, the verb it is an alias of), looked
    #: up once.
    _handlers: dict = {}

    def _dispatch(self, cmd: _Command):
        verb = cmd.verb
        try:
            fn, base = self._handlers[type(self), verb]
        except KeyError:
            base = ALIASES.get(verb, verb)
            fn = getattr(type(self), "cmd_" + base, None)
            if fn is not None:
                # Only real commands: a client's made-up verbs must not grow the table.
                self._handlers[type(self), verb] = fn, base
        policy = self.factory.policy
        if policy is not None:
            policy.on_command(self, verb, fn is not None)
        if self.ftps is not None or getattr(self.factory, "tls", None) is not None:
            _tls.precheck(self, base)   # TLSRequired
        state = self.client_state
        server = self.server
        if cmd.arg is not None and (server.deny_filter is not None or
                                    server.allow_filter is not None or
                                    state.anon_config is not None):
            self._filterArgument(cmd, base)
        if state.rnfr is not None and base != "RNTO":
            # ProFTPD keeps the RNFR path (and a transfer context) until RNTO, and
            # refuses all but a few commands meanwhile (mod_core's core_pre_any, its
            # Bug#3829; measured: even a second RNFR, or a command it does not know).
            cmd.fields.update(self._rnfrFields())
            if base not in _AFTER_RNFR and not (
                    base in _AFTER_RNFR_TLS and self.protocol_name == "ftps"):
                raise R("rnfr_sequence")
        if fn is None:
            if base in UNIMPLEMENTED:
                if self.avatar is None and base not in PRE_LOGIN:
                    raise R("please_login")
                raise R("not_implemented", verb)
            raise R("not_understood", verb)
        if self.avatar is None and base not in PRE_LOGIN:
            raise R("please_login")
        if self.avatar is not None and state.limited:
            self._checkLimit(cmd, base)
        return fn(self, cmd)

    def _filterArgument(self, cmd: _Command, base: str) -> None:
        """AllowFilter and DenyFilter (mod_core's regex_filters): every command's argument
        but PASS's, before anything else looks at the command; an <Anonymous> block's
        own filters for its sessions."""
        if base == "PASS":
            return
        server, anon = self.server, self.client_state.anon_config
        allow = (anon.allow_filter if anon is not None else None) or server.allow_filter
        deny = (anon.deny_filter if anon is not None else None) or server.deny_filter
        arg = cmd.arg
        if (allow is not None and allow.search(arg) is None) or (
                deny is not None and deny.search(arg) is not None):
            if self.fs is not None:
                # The record's %f as ProFTPD's Jot makes it from the refused command
                # (measured for CWD, NLST, MKD, RNTO, SITE CHMOD).
                if base in ("CWD", "CDUP"):
                    self._chdirFields(cmd, self.fs.cwd)
                elif base in _LISTINGS or base in _WRITTEN_PATH:
                    path = arg if base in _LISTINGS else self._limitTarget(cmd, base)[2]
                    if path:
                        cmd.fields["file"] = self._listedPath(path)
            raise R("forbidden_argument", arg)

    def _rnfrFields(self) -> dict:
        """What every record carries while an RNFR waits for its RNTO."""
        vpath = self.client_state.rnfr[0]
        return {"file": self.fs.chroot_join(vpath), "transfer_path": vpath,
                "basename": path_tail(vpath), "bytes_sent": 0}

    def _limitTarget(self, cmd: _Command, base: str):
        """``(limit verb, client path for the message, real path)`` of a command."""
        arg = cmd.arg
        if base == "SITE":
            words = site_words(arg)
            if len(words) >= 3 and words[0].upper() == "CHMOD":
                return "SITE_CHMOD", arg[arg.upper().find("CHMOD"):], site_path(words)
            if len(words) >= 3 and words[0].upper() == "CHGRP":
                # No SITE_CHGRP <Limit> name yet: SITE_CHMOD's (a WRITE command) stands in,
                # so an <Anonymous> session stays read-only.
                return "SITE_CHMOD", arg[arg.upper().find("CHGRP"):], site_path(words)
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
        verb, shown, path = self._limitTarget(cmd, base)
        if verb is None:
            return
        real = None
        if base in LIMIT_PATH_COMMANDS or verb == "SITE_CHMOD":
            real = self.fs.chroot_join(self.fs.virtual(path))
        a = self.avatar
        anon = self.client_state.anon_config
        groups = (a.group,) if a.group else ()
        ok = limits.decision(self.server, anon, verb, real, a.name, groups,
                             addr=self.peer_host)
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
            if self.factory.record_before_reply:
                # RedisSpool: counted as sent, recorded (spooled), then sent
                for line in ["%d-%s" % (reply.code, reply.lines[0])] if reply.lines else []:
                    self._holdLine(line)
                for line in reply.lines[1:]:
                    self._holdLine(" " + line)
                self._holdLine("%d %s" % (reply.code, reply.text))
                self.logCommand(cmd, reply)
                self._flushHeld()
            else:
                self.sendReply(reply)
                self.logCommand(cmd, reply)
            if cmd.after is not None:
                cmd.after()
            return
        # The event is taken before the reply is written (its %O does not count the
        # reply, as in ProFTPD), but routed, formatted and queued only once the reply is
        # on its way: the client does not wait for the formatting.
        # With a RedisSpool the record is on disk before the reply leaves instead
        # (ftpredis.redis.spool): a crash right after the reply loses nothing.
        event = self._commandEvent(cmd, reply)
        first = self.factory.record_before_reply
        if first:
            self._emit(event)
        if not reply.sent:      # AUTH TLS's 234 went out before the handshake
            self.sendReply(reply)
        if not first:
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
        arg = cmd.arg
        if blank(arg):      # "MKD <TAB>" must not make a directory named TAB
            raise R("invalid_params")
        return arg

    def _pathFields(self, cmd: _Command, vpath: str, *, dir_cmd=False, xfer=False,
                    written: Optional[str] = None):
        """%f, %F, %{basename}, %d, %D for a command acting on one path argument;
        ``written``: the path as the client wrote it, which %f and %D then show as
        ProFTPD does for MKD, RMD, DELE, RNTO, MDTM, MFMT (after the current directory,
        "./", "../", "//" and a trailing slash kept; measured)."""
        f = cmd.fields
        if written is not None and written[:2] != "~/":
            real = self._listedPath(written)
        else:
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

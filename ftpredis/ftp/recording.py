# -*- test-case-name: tests.test_protocol -*-
"""The one seam where a session's :class:`~ftpredis.records.events.Event` objects are built and
leave the FTP code: CONNECT, one per command, DISCONNECT (once).  Command code fills in
``cmd.fields``; only this mixin turns them into events and hands them to the factory."""

from __future__ import annotations

import os
import time
from typing import Optional

from twisted.internet import defer

from ftpredis.records.events import (
    COMMAND, CONNECT, DISCONNECT, EVENT_FIELDS, Event, Session, command_fields,
)
from ftpredis.ftp.replies import Reply
from ftpredis.ftp.common import _Command, log


class LoggingMixin:
    """Builds and emits the session's events: CONNECT, one per command, EXIT (once)."""

    bytes_in = 0
    bytes_out = 0
    data_bytes = 0              # ProFTPD's session.total_bytes (STAT)
    session: Optional[Session] = None
    avatar = None
    # The account whose login a policy (MaxClients, MaxClientsPerHost, ...) refused after
    # its password was checked: ProFTPD has taken on its user, group, uid and gid by then,
    # so the refused PASS and the session's end carry them (%u %g %{uid} %{gid}).
    refused_as = None
    original_user: Optional[str] = None
    config_path: Optional[str] = None
    end_reason: Optional[str] = None
    disconnect_details: Optional[str] = None    # "Denied by MaxClients" (the metrics)
    _exit_logged = False
    _exit_reply: Optional[str] = None     # a policy's 530 text (refuse_exit)
    protocol_name = "ftp"       # %{protocol}: "ftps" once AUTH TLS succeeded (ftpredis.tls.ftps)

    def _emit(self, event: Event) -> None:
        try:
            self.factory.emit(event)
        except Exception:
            log.failure("emit failed for {verb}", verb=event.verb)

    # What every event of the session carries that changes only at connect, USER, login
    # (or its refusal), a new <Directory>, RNFR/RNTO, AUTH TLS: worked out once per
    # change (_fixed_key says for what) and copied into each event (shared, never
    # modified: the copy is the event's).
    _fixed_key = None
    _fixed = None

    def _fixedFields(self) -> dict:
        key = (self.session, self.avatar, self.refused_as, self.original_user,
               self.config_path, self.protocol_name, self.connection_class,
               self.client_state.rnfr)
        if key == self._fixed_key:
            return self._fixed
        fields = {"session": self.session, "original_user": self.original_user,
                  "config_path": self.config_path, "protocol": self.protocol_name}
        fields.update(self._who())
        if self.connection_class is not None:      # <Class> (ftpredis.ftp.limits)
            fields["connection_class"] = self.connection_class
        fields["notes"] = self._notesNow()
        self._fixed_key, self._fixed = key, fields
        return fields

    _nobody = None      # _who before login: the server's own ids, asked once a session

    def _who(self) -> dict:
        a = self.avatar
        if a is None:
            a = self.refused_as
        if a is None:
            who = self._nobody
            if who is None:
                who = self._nobody = {"user": None, "group": None, "uid": os.geteuid(),
                                      "gid": os.getegid(), "logged_in": False,
                                      "anonymous": False}
            return who
        return {"user": a.name, "group": a.group, "uid": a.uid, "gid": a.gid,
                "logged_in": a is self.avatar, "anonymous": bool(a.anonymous),
                "anon_password": getattr(a, "anon_password", None) if a.anonymous else None}

    def _base(self, kind: str, now: float, start: float) -> dict:
        """A new event's fields (names all Event fields: see :meth:`_commandEvent`)."""
        fields = self._fixedFields().copy()
        cwd = self.fs.cwd if self.fs is not None else "/"
        fields["kind"] = kind
        fields["time"] = now
        fields["cwd"] = fields["dir_name"] = cwd
        fields["session_bytes_rcvd"] = self.bytes_in
        fields["session_bytes_sent"] = self.bytes_out
        fields["response_millis"] = int((now - start) * 1000)
        return fields

    def _sessionNotes(self) -> dict:
        """ProFTPD's session notes that %{note:NAME} can read (doc/records.rst,
        "Variables")."""
        return self._fixedFields()["notes"]

    def _notesNow(self) -> dict:
        notes = dict(self.proxy_notes)
        if self.original_user is not None:
            notes["mod_auth.orig-user"] = self.original_user
        a = self.avatar
        if a is not None and a.anonymous and getattr(a, "anon_password", None) is not None:
            notes["mod_auth.anon-passwd"] = a.anon_password
        rnfr = self.client_state.rnfr
        if rnfr is not None:
            notes["mod_core.rnfr-path"] = rnfr[0]
        return notes

    def logConnect(self) -> None:
        now = time.time()
        self._emit(Event.own(self._base(CONNECT, now, now)))

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
        if cmd.verb == "ABOR":
            # Jot gives ABOR a %{transfer-status} of its own, from its reply (src/jot.c;
            # measured: "226 Abort successful" logs "cancelled", with or without a
            # transfer to abort).
            code = reply.code
            fields["transfer_status"] = ("cancelled" if 200 <= code < 300 else
                                         "timeout" if 100 <= code < 200 else "failed")
        more = cmd.fields
        if more:
            # The names set here and in _base are Event fields as written; only the
            # command code's need Event.adopt's check.
            if not more.keys() <= EVENT_FIELDS:
                return Event.adopt(dict(fields, **more))    # raises, naming them
            fields.update(more)
            if "notes" in more:
                # Command notes first, then the session's (Jot's lookup order).
                fields["notes"] = dict(self._sessionNotes(), **more["notes"])
            if "config_path" in more and more["config_path"] is not None:
                self.config_path = more["config_path"]
        return Event.own(fields)

    def logExit(self) -> None:
        if self._exit_logged or self.session is None:
            return
        self._exit_logged = True
        now = time.time()
        fields = self._base(DISCONNECT, now, now)
        fields["verb"] = fields["command"] = "EXIT"
        fields["session_end_reason"] = self.end_reason or "Read EOF from client"
        fields["disconnect_details"] = self.disconnect_details
        if self.client_state.rnfr is not None and self.fs is not None:
            fields.update(self._rnfrFields())   # an RNFR still waiting (measured)
        if self._exit_reply is not None:
            fields["response_code"] = 530
            fields["response_msg"] = self._exit_reply
        self._emit(Event.own(fields))
        waiters, self._end_waiters = self._end_waiters, None
        for d in waiters or ():
            d.callback(None)

    def refuse_exit(self, reply: Optional[str]) -> None:
        """The session is being ended with ``530 <reply>`` (a ban): its DISCONNECT record
        carries that response; None records none (a silent close)."""
        self._exit_reply = reply

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

# -*- test-case-name: tests.test_sftp -*-
"""An SSH session's records: the events mod_sftp and mod_redis 1.3.8 write.

This module owns :class:`SSHRecorder`, the one place an SSH session's
:class:`~ftpredis.records.events.Event` objects are built (CONNECT, one per logged
request under the FTP command name mod_sftp gives it, EXIT once), and the texts and
rules doc/sftp-records.rst describes: which request logs what, ``%{protocol}``
(``ssh2`` until the SFTP subsystem starts and after it ends, ``sftp`` inside),
``%{transfer-status}``/``%{transfer-failure}``.  The events go into the same flow as
FTP's (the factory's ``emit``), so RedisLogOnCommand/RedisLogOnEvent and every LogFormat
variable work unchanged.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Optional

from ftpredis import __version__
from ftpredis.records.events import (COMMAND, CONNECT, DISCONNECT, Event, Session,
                                     TRANSFER_COMMANDS, path_tail)

# FTP sessions number theirs from 1 (ftpredis.ftp.protocol); the sink keeps order per
# session id, so SSH sessions count in a range of their own.
_session_ids = itertools.count(1 << 40)

USER_OK = "Password required for %s"
LOGGED_IN = "User %s logged in"
LOGIN_INCORRECT = "Login incorrect."
TRANSFER_COMPLETE = "Transfer complete"
RNFR_OK = "File or directory exists, ready for destination name"
RNTO_OK = "Rename successful"
DELE_OK = "DELE command successful"


def transfer_failure(code: Optional[int], text: Optional[str]) -> Optional[str]:
    """mod_redis's %{transfer-failure} from the last response (doc/sftp-records.rst)."""
    if code is None:
        return "unknown"
    if str(code)[:1] in ("1", "2"):
        return None
    text = text or ""
    i = text.find(".")
    return text[i + 2:] if i >= 0 else text


def plain_host(host: str) -> str:
    return host[7:] if host.startswith("::ffff:") and "." in host else host


class SSHRecorder:
    """Builds and emits one SSH session's events."""

    protocol = "ssh2"
    avatar = None                   # ftpredis.auth.portal.Avatar once logged in
    original_user: Optional[str] = None
    fs = None                       # ftpredis.ftp.filesystem.SessionFS once logged in
    bytes_in = 0
    bytes_out = 0
    end_reason: Optional[str] = None
    # The file handle opened last and not yet closed (ftpredis.sftp.subsystem): EXIT
    # carries its path and bytes, as ProFTPD's session.xfer.
    current_transfer = None
    _ended = False
    _sftp_version: Optional[int] = None     # settled, not yet on an event

    def sftp_negotiated(self, version: int) -> None:
        """The SFTP subsystem settled ``version``: the next event carries it."""
        self._sftp_version = version

    def __init__(self, server, emit, peer, host):
        self.server = server
        self._emit = emit
        self.peer_host = peer_host = plain_host(peer.host)
        self.local_host = local_host = plain_host(host.host)
        self.session = Session.adopt({
            "remote_ip": peer_host, "remote_port": peer.port, "remote_dns": peer_host,
            "local_ip": local_host, "server_dns": local_host,
            "server_ip": server.addresses[0] if server.addresses else local_host,
            "local_port": server.port, "server_name": server.server_name,
            "server_version": __version__, "pid": os.getpid(),
            "session_id": next(_session_ids)})

    # -- building ---------------------------------------------------------------------
    def _base(self, kind: str, now: float, start: float) -> dict:
        a = self.avatar
        cwd = self.fs.cwd if self.fs is not None else "/"
        fields = {"kind": kind, "session": self.session, "time": now,
                  "original_user": self.original_user, "cwd": cwd, "dir_name": cwd,
                  "session_bytes_rcvd": self.bytes_in, "session_bytes_sent": self.bytes_out,
                  "response_millis": int((now - start) * 1000), "protocol": self.protocol}
        if self._sftp_version is not None:
            fields["sftp_version"], self._sftp_version = self._sftp_version, None
        if a is None:
            fields.update(uid=os.geteuid(), gid=os.getegid())
        else:
            fields.update(user=a.name, group=a.group, uid=a.uid, gid=a.gid, logged_in=True)
        if self.original_user is not None:
            fields["notes"] = {"mod_auth.orig-user": self.original_user}
        return fields

    def emit(self, event: Event) -> None:
        try:
            self._emit(event)
        except Exception:
            from twisted.logger import Logger
            Logger().failure("emit failed for {verb}", verb=event.verb)

    def connect(self) -> None:
        now = time.time()
        self.emit(Event.adopt(self._base(CONNECT, now, now)))

    def command(self, verb: str, params: Optional[str], code: Optional[int] = None,
                text: Optional[str] = None, start: Optional[float] = None,
                **fields) -> None:
        """One request's record, under the FTP command name ``verb``."""
        now = time.time()
        f = self._base(COMMAND, now, start if start is not None else now)
        hidden = verb == "PASS"
        f.update(verb=verb, command=verb,
                 raw_command=verb + " " + ("(hidden)" if hidden else params)
                 if params else verb,
                 command_params="(hidden)" if hidden else (params or None),
                 response_code=code, response_msg=text)
        if verb in TRANSFER_COMMANDS:
            f.setdefault("transfer_type", "binary")
            f["transfer_failure"] = transfer_failure(code, text)
        f.update(fields)
        if self._ended:
            # A transfer logged as the session ends (after its EXIT) carries the end.
            f["session_end_reason"] = self.end_reason or "Read EOF from client"
        self.emit(Event.adopt(f))

    def path_fields(self, vpath: str, real: str, directory: bool = False) -> dict:
        """The path variables of a request on ``vpath`` (doc/sftp-records.rst)."""
        f = {"transfer_path": vpath, "file": real, "basename": path_tail(vpath),
             "config_path": real}
        if directory:
            f.update(dir_path=real, dir_name=path_tail(vpath))
        return f

    def exit(self) -> None:
        if self._ended:
            return
        self._ended = True
        now = time.time()
        f = self._base(DISCONNECT, now, now)
        f.update(verb="EXIT", command="EXIT",
                 session_end_reason=self.end_reason or "Read EOF from client")
        if self.current_transfer is not None:
            f.update(self.current_transfer.exit_fields())
        self.emit(Event.adopt(f))

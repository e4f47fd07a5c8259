# -*- test-case-name: tests.test_systemlog -*-
"""``SystemLog FILE``: ProFTPD's session log, for the tools that read it (fail2ban).

This module owns the file and its lines.  It subscribes to each server's event flow and
writes, in ProFTPD 1.3.8's format::

    2026-12-04 05:26:46,347 vm ftpredis[1567] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER bob (Login failed): Incorrect password

host name, ``ftpredis[PID]`` where ProFTPD writes ``proftpd[PID]``, the server's address,
the client's name and address, then the message: ``FTP session opened.``, ``FTP session
closed.`` (``SSH2 session ...`` for an SFTP session, as ProFTPD names mod_sftp's),
and what the login code put in the event's ``system_log`` (a login, each refusal
with ProFTPD's words, ``Maximum login attempts (N) exceeded``).  Lines without a
session (start, stop) have only ``HOST ftpredis[PID] SERVER: MESSAGE``.

Debian's fail2ban ``proftpd`` filter matches these lines once told the daemon's name:
``filter = proftpd[_daemon=ftpredis]`` in the jail.

The file is opened with the checks ProFTPD makes of every log file (the RedisLog ones);
a line is appended with one ``write`` (O_APPEND), like ProFTPD's.
"""

from __future__ import annotations

import os
import socket

from ftpredis.records.events import CONNECT, DISCONNECT
from ftpredis.redis.redislog import RedisLog, format_time


class SystemLog(RedisLog):
    """An open SystemLog; call it with an event (an EventFlow subscriber)."""

    def __init__(self, path: str, allow_symlinks: bool = False, **kw):
        self.host = socket.gethostname().split(".")[0]
        RedisLog.__init__(self, path, allow_symlinks, **kw)

    def __repr__(self):
        return "<SystemLog %r%s>" % (self.path, " (%s)" % self.error if self.error else "")

    def format_line(self, message: str, server: str = "", client: str = "") -> bytes:
        message = str(message).replace("\r", "\\r").replace("\n", "\\n")
        where = server + (" (%s)" % client if client else "")
        line = "%s %s ftpredis[%d] %s: %s\n" % (format_time(self._clock()), self.host,
                                                os.getpid(), where, message)
        return line.encode("utf-8", "backslashreplace")

    def say(self, message: str, server: str = "", client: str = "") -> None:
        """Append one line (never raises)."""
        fd = self.fileno()
        if fd is None:
            return
        try:
            os.write(fd, self.format_line(message, server, client))
        except OSError:
            pass

    def __call__(self, event) -> None:
        s = event.session
        if s is None:
            return
        server = s.server_dns or s.local_ip
        client = "%s[%s]" % (s.remote_dns, s.remote_ip)
        if event.kind == CONNECT:
            self.say("%s session opened." % (_name(event),), server, client)
            return
        for line in event.system_log:
            self.say(line, server, client)
        if event.kind == DISCONNECT:
            self.say("%s session closed." % (_name(event),), server, client)


def _name(event) -> str:
    """ProFTPD's name of the session's protocol in these lines (its
    pr_session_get_protocol(PR_SESS_PROTO_FL_LOGOUT)): "SSH2" for an SSH session
    (ftpredis.sftp), "FTP" for FTP and FTPS."""
    return "SSH2" if event.protocol in ("ssh2", "sftp", "scp") else "FTP"

# -*- test-case-name: tests.test_metrics -*-
"""The event subscriber: how each FTP event moves mod_prometheus's metrics.

This module owns *when* a metric moves.  :class:`MetricsSubscriber` is subscribed to
every server's :class:`~ftpredis.records.flow.EventFlow` (ftpredis.app.service) and
reads only the events (:mod:`ftpredis.records.events`); it never looks at a session.
The moments are mod_prometheus 0.2's (its command and event handlers), translated to
events, which are emitted when a command has been answered:

- CONNECT: ``connection_total`` and ``connection_count`` up;
- the first USER: ``login_count`` up (a login in progress); a refused USER:
  ``login_error_total``;
- PASS answered 2xx: ``login_total``, ``auth_total{method=password|anonymous}``,
  ``login_delay_seconds`` (since the connect), ``login_count`` down; refused:
  ``login_error_total``, and ``auth_error_total{reason}`` when credentials were checked;
- LIST, NLST, MLSD, MLST: ``directory_list_total`` or ``directory_list_error_total``;
  RETR: ``file_download_total`` (and ``_bytes``) or ``file_download_error_total``;
  STOR: the same for uploads;
- AUTH TLS answered: ``tls_protocol_total{version}`` once the handshake is done (mod_
  prometheus counts at AUTH's LOG_CMD, with mod_tls's TLS_PROTOCOL note); its handshake
  failed: ``handshake_error_total{connection="ctrl", protocol="ftps"}``; a PROT P data
  connection's handshake failed: ``handshake_error_total{connection="data"}``;
- a transfer cut by TimeoutStalled: ``timeout_total{reason="TimeoutStalled"}``;
- DISCONNECT: ``connection_count`` down, ``connection_duration_seconds``; a login begun
  but not completed: ``login_count`` down, and ``auth_error_total{reason="incomplete"}``
  when no PASS came; ``timeout_total{reason}`` when a Timeout* ended the session; a
  session refused by policy (``%E`` Banned, Configured policy, Module-specific policy,
  Session initialized failed: mod_prometheus's disconnect reasons):
  ``connection_refused_total{reason}``, the reason being ProFTPD's disconnect details
  ("Denied by MaxClients"; empty for a ban, which has none).

A reply below 400 is success (ProFTPD's LOG_CMD), 4xx and 5xx failure (LOG_CMD_ERR).
Gauges go down under the label they went up with, so a session that moved from ftp to
ftps (AUTH TLS) does not leave one gauge high and another negative.
"""

from __future__ import annotations

from ftpredis.records.events import COMMAND, CONNECT, DISCONNECT

_LISTINGS = frozenset({"LIST", "NLST", "MLSD", "MLST"})
#: LoginRefused.reason -> mod_prometheus's auth_error reason (ftpredis.auth.portal).
_AUTH_REASONS = {"unknown-user": "unknown user", "bad-password": "bad password"}
_TIMEOUT_PREFIX = "Timeout exceeded: "
#: ProFTPD's disconnect reasons (%E) that mod_prometheus counts as refused connections.
_REFUSED = ("Banned", "Configured policy", "Module-specific policy",
            "Session initialized failed")


class _Session:
    __slots__ = ("protocol", "start", "saw_user", "saw_pass", "logged_in")

    def __init__(self, protocol: str, start: float):
        self.protocol = protocol
        self.start = start
        self.saw_user = False
        self.saw_pass = False
        self.logged_in = False


class MetricsSubscriber:
    """An EventFlow subscriber moving a :class:`~ftpredis.metrics.registry.ProftpdMetrics`.

    One instance serves every server of the process: sessions are told apart by their
    ``session_id``, unique per process.
    """

    def __init__(self, metrics):
        self.metrics = metrics
        self._sessions = {}

    def refused_before_session(self, details: str, protocol: str = "ftp") -> None:
        """A connection refused before it became a session (no event: ``<Limit LOGIN>``
        by address, as ProFTPD's src/main.c refuses it); mod_prometheus counts it in
        connection_refused only."""
        self.metrics.connection_refused.inc((details, protocol))

    def __call__(self, event) -> None:
        kind = event.kind
        if event.sftp_version is not None:
            self.metrics.sftp_protocol.inc((str(event.sftp_version), event.protocol))
        if kind == COMMAND:
            self._command(event)
        elif kind == CONNECT:
            self._connect(event)
        elif kind == DISCONNECT:
            self._disconnect(event)

    def _connect(self, event) -> None:
        m = self.metrics
        key = (event.protocol,)
        m.connection.inc(key)
        m.connection_count.inc(key)
        self._sessions[event.session.session_id] = _Session(event.protocol, event.time)

    def _command(self, event) -> None:
        verb = event.verb
        m = self.metrics
        key = (event.protocol,)
        code = event.response_code
        if code is not None:
            ok = code < 400
        else:
            # mod_sftp logs a listing or a transfer with no response code; mod_prometheus
            # tells success from failure by the log phase, which the status stands for.
            ok = event.transfer_status == "success"
        if event.handshake_failed is not None:
            protocol = "ftps" if event.handshake_failed == "ctrl" else event.protocol
            m.handshake_error.inc((event.handshake_failed, protocol))
        if event.timeout is not None:
            m.timeout.inc((event.timeout,) + key)
        if verb in _LISTINGS:
            (m.directory_list if ok else m.directory_list_error).inc(key)
        elif verb == "RETR":
            if ok:
                m.file_download.inc(key)
                m.file_download_bytes.observe(key, event.bytes_sent or 0)
            else:
                m.file_download_error.inc(key)
        elif verb == "STOR":
            if ok:
                m.file_upload.inc(key)
                m.file_upload_bytes.observe(key, event.bytes_sent or 0)
            else:
                m.file_upload_error.inc(key)
        elif verb == "USER":
            s = self._sessions.get(event.session.session_id)
            if s is not None and not s.saw_user and not s.logged_in:
                s.saw_user = True
                m.login_count.inc((s.protocol,))
            if not ok:
                m.login_error.inc(key)
        elif verb == "PASS":
            self._pass(event, key, ok)
        elif verb == "AUTH" and ok and event.tls_version is not None:
            m.tls_protocol.inc((event.tls_version,) + key)

    def _pass(self, event, key, ok) -> None:
        m = self.metrics
        s = self._sessions.get(event.session.session_id)
        if s is not None and s.saw_user:
            s.saw_pass = True
        if not ok:
            m.login_error.inc(key)
            reason = event.auth_failure
            if reason is not None:
                m.auth_error.inc((_AUTH_REASONS.get(reason, ""),) + key)
            return
        if s is None or s.logged_in:
            return
        s.logged_in = True
        method = event.auth_method or ("anonymous" if event.anonymous else "password")
        m.auth.inc((method,) + key)
        m.login.inc(key)
        m.login_delay.observe(key, max(0.0, event.time - s.start))
        if s.saw_user:
            m.login_count.inc((s.protocol,), -1)

    def _disconnect(self, event) -> None:
        m = self.metrics
        s = self._sessions.pop(event.session.session_id, None)
        if s is None:
            return
        key = (event.protocol,)
        if s.saw_user and not s.logged_in:
            m.login_count.inc((s.protocol,), -1)
            if not s.saw_pass:
                m.auth_error.inc(("incomplete",) + key)
        m.connection_count.inc((s.protocol,), -1)
        m.connection_duration.observe(key, max(0.0, event.time - s.start))
        reason = event.session_end_reason
        if reason is None:
            return
        if reason.startswith(_TIMEOUT_PREFIX):
            m.timeout.inc((reason[len(_TIMEOUT_PREFIX):],) + key)
        elif reason.startswith(_REFUSED):
            details = event.disconnect_details
            if details is None and ": " in reason:
                details = reason.split(": ", 1)[1]
            m.connection_refused.inc((details or "",) + key)

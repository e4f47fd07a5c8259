# -*- test-case-name: tests.test_conformance_ftps -*-
"""FTPS sessions (mod_tls), registered in :data:`tests.support.scenarios.SCENARIOS`
(names ``ftps_*``): SSCN and the data connections it turns around, and data-connection
handshakes that fail.

Both servers get the same certificates (``{base}/pki/``, made by
:class:`tests.support.ftpsite.Site` from :func:`tests.support.ftps.make_pki`).
``tools/compare_proftpd.py ftps_x -v`` runs one against ftpredis and ProFTPD 1.3.8 +
mod_redis side by side; tests/test_conformance_ftps.py holds what ProFTPD answered and
logged.
"""

from __future__ import annotations

import ftplib
import os
import ssl

from tests.support.ftpsite import PASSWORD, USER, RecordingFTP
from tests.support.scenarios import REDIS, braces, scenario

TLS = """\
LoadModule mod_tls.c
TLSEngine on
TLSRSACertificateFile {base}/pki/rsa-cert.pem
TLSRSACertificateKeyFile {base}/pki/rsa-key.pem
TLSCACertificateFile {base}/pki/ca.pem
TLSLog {base}/tls.log
"""

BODY = REDIS + TLS + braces(
    'LogFormat h "%m %r %s %S %f %b %{protocol} %{transfer-status} %{transfer-failure}"\n'
    'RedisLogOnEvent ALL h\n')
FILES = {"a.txt": b"a" * 1000}


class RecordingFTPS(RecordingFTP, ftplib.FTP_TLS):
    """ftplib.FTP_TLS with the transcript of :class:`RecordingFTP`, resuming the
    control connection's TLS session on data connections (as curl and lftp do, and as
    both servers require by default)."""

    def __init__(self, transcript: list):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.context = context
        self._prot_p = False
        RecordingFTP.__init__(self, transcript)

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname="127.0.0.1",
                                            session=self.sock.session)
        return conn, size


def tls_connect(ctx, login=True) -> RecordingFTPS:
    """An FTPS session: AUTH TLS, then (``login``) USER/PASS, PBSZ 0 and PROT P."""
    ftp = RecordingFTPS(ctx.transcript)
    ftp.connect("127.0.0.1", ctx.port, timeout=10)
    ftp.auth()
    if login:
        ftp.login(USER, PASSWORD)
        ftp.prot_p()
    return ftp


def send(ftp, line: str) -> str:
    try:
        return ftp.sendcmd(line)
    except ftplib.all_errors as e:
        return str(e)


def _server_side(ctx, ftp, cmd):
    """``cmd``'s data connection with the client as the TLS server (SSCN ON): the
    server is the one that starts the handshake."""
    conn, _ = ftplib.FTP.ntransfercmd(ftp, cmd)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki = os.path.join(ctx.site.base, "pki")
    context.load_cert_chain(os.path.join(pki, "rsa-cert.pem"),
                            os.path.join(pki, "rsa-key.pem"))
    return context.wrap_socket(conn, server_side=True)


@scenario("ftps_sscn", BODY, files=FILES)
def ftps_sscn(ctx):
    """SSCN before AUTH, before login, its query and its ON/OFF and bad arguments; with
    SSCN ON a download and an upload whose data connection the server opens as the TLS
    client, and a listing, which stays the TLS server; SSCN OFF again."""
    ftp = ctx.connect()
    send(ftp, "SSCN")
    ftp.quit()
    ftp = tls_connect(ctx, login=False)
    send(ftp, "SSCN")
    ftp.login(USER, PASSWORD)
    ftp.prot_p()
    for line in ("SSCN", "SSCN ON", "SSCN", "SSCN on", "SSCN ON OFF", "SSCN foo",
                 "SSCN OFF", "SSCN", "SSCN ON"):
        send(ftp, line)
    ftp.voidcmd("TYPE I")
    conn = _server_side(ctx, ftp, "RETR a.txt")
    got = b""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        got += data
    conn.close()
    ftp.voidresp()
    ctx.transcript.append("# got %d bytes" % len(got))
    conn = _server_side(ctx, ftp, "STOR up.txt")
    conn.sendall(b"u" * 500)
    conn.unwrap().close()
    ftp.voidresp()
    ftp.nlst()                       # the server is the TLS server for listings
    send(ftp, "SSCN OFF")
    ftp.retrbinary("RETR a.txt", lambda b: None)
    ftp.quit()


def _garbage(ctx, ftp, cmd):
    """``cmd`` whose data connection answers the TLS handshake with an HTTP request."""
    try:
        conn, _ = ftplib.FTP.ntransfercmd(ftp, cmd)
    except ftplib.all_errors:
        return              # refused before any data connection: in the transcript
    conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
    conn.settimeout(10)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass                # an alert and a close, or a reset: either will do
    conn.close()
    try:
        ftp.voidresp()
    except ftplib.all_errors:
        pass                # the 425: in the transcript


@scenario("ftps_data_handshake", BODY, files=FILES)
def ftps_data_handshake(ctx):
    """Transfers and listings whose data connection does not speak TLS: 425, logged
    with %b 0; then one whose handshake does not resume the control session."""
    ftp = tls_connect(ctx)
    ftp.voidcmd("TYPE I")
    for cmd in ("RETR a.txt", "STOR up.txt", "LIST", "NLST", "MLSD"):
        _garbage(ctx, ftp, cmd)
    conn, _ = ftplib.FTP.ntransfercmd(ftp, "RETR a.txt")
    try:
        conn = ftp.context.wrap_socket(conn, server_hostname="127.0.0.1")
        conn.recv(65536)
    except OSError:
        pass                # refused after the handshake (ssl.SSLError is an OSError)
    conn.close()
    try:
        ftp.voidresp()
    except ftplib.all_errors:
        pass
    ftp.quit()

# -*- test-case-name: tests.test_conformance_abort -*-
"""ABOR and lost data connections, registered in :data:`tests.support.scenarios.SCENARIOS`
(names ``abort_*``): ABOR with nothing to abort, and uploads and downloads whose data
connection the client resets.

``tools/compare_proftpd.py abort_x -v`` runs one against ftpredis and ProFTPD 1.3.8 +
mod_redis side by side; tests/test_conformance_abort.py holds what ProFTPD answered and
logged.  Only what both servers do the same way every time is scripted here: an ABOR
racing a reset (which of the two the server sees first) is not.
"""

from __future__ import annotations

import socket
import struct

from tests.support.scenarios import REDIS, braces, scenario

BODY = REDIS + braces('LogFormat h "%m %r %s %S %{transfer-status} %{transfer-failure}"\n'
                      'RedisLogOnEvent ALL h\n')
# Larger than any socket buffer between the two: the download is still being written
# when the client resets it.
FILES = {"big.bin": b"z" * (8 << 20), "a.txt": b"a" * 10}


def reset(conn):
    """Close ``conn`` with an RST (SO_LINGER 0)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def answer(ctx, ftp):
    """The final reply of a transfer, whatever its code, into the transcript."""
    try:
        ftp.voidresp()
    except Exception as e:          # 426: recorded by RecordingFTP already
        ctx.transcript.append("# " + str(e).split(" ", 1)[0])


def reset_upload_and_download(ctx, read: int):
    """A session whose upload, then download (after ``read`` bytes of it), the client
    resets."""
    ftp = ctx.connect()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR up.bin")
    conn.sendall(b"y" * 100000)
    reset(conn)
    answer(ctx, ftp)
    conn = ftp.transfercmd("RETR big.bin")
    got = 0
    while got < read:
        got += len(conn.recv(65536))
    reset(conn)
    answer(ctx, ftp)
    ftp.quit()


@scenario("abort_idle", BODY, files=FILES)
def abort_idle(ctx):
    """ABOR with no transfer, and right after one: 226, %{transfer-status} "cancelled"."""
    ftp = ctx.connect()
    ftp.sendcmd("ABOR")
    ftp.voidcmd("TYPE I")
    ftp.retrbinary("RETR a.txt", lambda b: None)
    ftp.sendcmd("ABOR")
    ftp.quit()


@scenario("abort_reset", BODY, files=FILES)
def abort_reset(ctx):
    """An upload and a download whose data connection the client resets: 426 without
    ProFTPD's period of the ABOR reply, "failed", "Data connection closed"."""
    reset_upload_and_download(ctx, 65536)


FIELDS = REDIS + braces('LogFormat h "%m %r %s %f %F %{basename} %{file-offset} '
                        '%{transfer-status}"\nRedisLogOnCommand RETR,STOR h\n')


@scenario("abort_fields", FIELDS, files=FILES)
def abort_fields(ctx):
    """The paths and offset of an upload and a download reset by the client: known
    from the start of the transfer, logged with its 426."""
    reset_upload_and_download(ctx, 1)


REFUSED = REDIS + braces('LogFormat h "%m %r %s %S %f %F %b %{file-offset} '
                         '%{transfer-status}"\nRedisLogOnCommand RETR,STOR,LIST,NLST,MLSD h\n')


@scenario("abort_refused", REFUSED, files=FILES)
def abort_refused(ctx):
    """Transfers whose PORT names a port nothing listens on: 425 at once, logged with
    %b 0 (and an upload's paths)."""
    ftp = ctx.connect()
    ftp.voidcmd("TYPE I")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for command in ("RETR a.txt", "STOR up.txt", "LIST", "NLST", "MLSD"):
        ftp.sendcmd("PORT 127,0,0,1,%d,%d" % (port >> 8, port & 255))
        try:
            ftp.sendcmd(command)
        except Exception as e:
            ctx.transcript.append("# " + str(e).split(" ", 1)[0])
    ftp.quit()


STALLED = REDIS + braces('LogFormat h "%m %r %s %S %E %{transfer-status} %{transfer-failure}"\n'
                         'RedisLogOnEvent ALL h\nTimeoutStalled 1\n')


@scenario("abort_stalled", STALLED, files=FILES)
def abort_stalled(ctx):
    """A download the client stops reading: TimeoutStalled ends the session without a
    reply; the transfer's record (426) and EXIT's carry the reason."""
    ftp = ctx.connect()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    conn.recv(1000)
    ftp.sock.settimeout(30)
    try:
        while True:          # the server closes the control connection
            data = ftp.sock.recv(4096)
            if not data:
                break
            ctx.transcript.append("< " + data.decode("utf-8", "replace").strip())
    except OSError as e:
        ctx.transcript.append("# " + type(e).__name__)
    conn.close()

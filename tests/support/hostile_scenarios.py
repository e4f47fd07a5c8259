# -*- test-case-name: tests.test_conformance_hostile -*-
"""Hostile and odd command lines, registered in :data:`tests.support.scenarios.SCENARIOS`
(names ``hostile_*``): malformed TYPE/STRU/MODE/REST, transfers without a name, blank
listing arguments, Telnet commands and NUL bytes inside a line, empty lines.

``tools/compare_proftpd.py hostile_x -v`` runs one against ftpredis and ProFTPD 1.3.8 +
mod_redis side by side; tests/test_conformance_hostile.py holds what ProFTPD answered and
logged.  Each script sends its lines one by one and records every reply, failures
included, in the transcript.
"""

from __future__ import annotations

import ftplib
import io
import os

from tests.support.scenarios import REDIS, braces, scenario

# The reply and the record of every command: what fail2ban/SIEM rules match.
BODY = REDIS + braces('LogFormat h "%m %r %J %s %S %f %{transfer-status} '
                      '%{transfer-failure}"\nRedisLogOnEvent ALL h\n')
FILES = {"pub/a.txt": b"a" * 50, "b.txt": b"bb"}


def send(ftp, line: str) -> str:
    """Send ``line`` (surrogate escapes stand for raw bytes) and read the reply, whatever
    its code."""
    try:
        return ftp.sendcmd(line)
    except ftplib.all_errors as e:
        return str(e)


def listing(ftp, line: str):
    lines = []
    try:
        ftp.retrlines(line, lines.append)
    except ftplib.all_errors as e:
        return str(e)
    return lines


@scenario("hostile_type", BODY, files=FILES)
def hostile_type(ctx):
    """TYPE, STRU and MODE with odd arguments; SIZE shows which TYPE took effect."""
    ftp = ctx.connect()
    for line in ("TYPE L 7", "SIZE b.txt", "TYPE i", "SIZE b.txt", "TYPE A X", "SIZE b.txt",
                 "TYPE I X", "SIZE b.txt", "TYPE L", "TYPE L 9", "TYPE A X Y", "TYPE IX",
                 "TYPE  a", "TYPE l 8", "SIZE b.txt",
                 "STRU X", "STRU R", "STRU P", "STRU f", "STRU FF", "STRU F X", "STRU \t",
                 "STRU rr",
                 "MODE X", "MODE B", "MODE C", "MODE s", "MODE SS", "MODE S X", "MODE bx",
                 "MODE \u00e9"):
        send(ftp, line)
    ftp.quit()


# With the data port: ProFTPD logs its default one (the client's port - 1) before any
# PORT or PASV.
XFER_BODY = REDIS + braces('LogFormat h "%m %r %J %s %S %f %{transfer-status} '
                           '%{transfer-failure} %{transfer-port} %{remote-port}"\nRedisLogOnEvent ALL h\n')


@scenario("hostile_noarg", XFER_BODY, files=FILES)
def hostile_noarg(ctx):
    """RETR, STOR and APPE without a name, or with blanks only."""
    ftp = ctx.connect()
    for line in ("RETR", "STOR", "APPE", "RETR  ", "STOR \t", "APPE  "):
        send(ftp, line)
    ftp.quit()


@scenario("hostile_rest", BODY, files=FILES)
def hostile_rest(ctx):
    """REST with a sign, blanks, several words, hex, fullwidth digits."""
    ftp = ctx.connect()
    for line in ("REST +5", "REST 5 ", "REST ++5", "REST +-5", "REST -1", "REST 0x10",
                 "REST 5 6", "REST \uff15", "REST \t5", "REST 0", "TYPE I", "REST +5",
                 "REST 010"):
        send(ftp, line)
    ftp.quit()


@scenario("hostile_listing", BODY, files=FILES)
def hostile_listing(ctx):
    """NLST and MLSD with blanks only as argument."""
    ftp = ctx.connect()
    for line in ("NLST  ", "NLST \t", "MLSD  "):
        got = listing(ftp, line)
        if isinstance(got, list):
            # MLSD's facts carry mtimes and inode numbers: the names are the outcome
            got = sorted(x.rsplit(" ", 1)[-1].rsplit(";", 1)[-1] for x in got)
        ctx.transcript.append("# %s" % (got,))
    ftp.quit()


@scenario("hostile_telnet", BODY, files=FILES)
def hostile_telnet(ctx):
    """Telnet IAC sequences anywhere in a line."""
    ftp = ctx.connect()
    for line in ("NO\udcff\udcf4OP", "NOOP\udcff\udcf2", "CWD pu\udcff\udcf4b", "PWD",
                 "CDUP", "\udcff\udcf4\udcff\udcf2NOOP", "NO\udcff\udcffOP",
                 "NO\udcff\udcf1OP", "NO\udcffxOP", "NOOP\udcff",
                 "\udcff\udcff\udcff\udcf4NOOP"):
        send(ftp, line)
    ftp.quit()


@scenario("hostile_nul", BODY, files=FILES)
def hostile_nul(ctx):
    """NUL bytes in a line, empty lines and lines starting with a blank."""
    ftp = ctx.connect(user=None)
    send(ftp, "")
    ftp.sendcmd("USER ftpuser")
    ftp.sendcmd("PASS ftppass")
    for line in ("NOOP\x00junk", "CWD pub\x00xyz", "PWD", "CDUP", "\x00NOOP", "NO\x00OP",
                 "NOOP \x00", "", "  NOOP", "\tNOOP", "NOOP"):
        send(ftp, line)
    ftp.quit()


FS_BODY = REDIS + braces('LogFormat h "%m %r %s %S %f %F %d %D %{basename} %b"\n'
                         'RedisLogOnEvent ALL h\n')


@scenario("hostile_fs", FS_BODY, files=FILES)
def hostile_fs(ctx):
    """MKD with "*" in the name; DELE of a symbolic link that points out of the jail."""
    outside = os.path.join(ctx.site.base, "outside.txt")
    with open(outside, "wb") as f:
        f.write(b"not yours\n")
    os.symlink(outside, os.path.join(ctx.home, "outlink"))
    ftp = ctx.connect()
    for line in ("MKD a*b", "XMKD c*", "MKD pub/x*", "MKD d?e", "RMD a*b", "DELE outlink",
                 "DELE outlink"):
        send(ftp, line)
    ftp.quit()
    ctx.transcript.append("# outside.txt %s" % ("kept" if os.path.exists(outside) else "gone"))


@scenario("hostile_tilde", FS_BODY, files=FILES)
def hostile_tilde(ctx):
    """Paths starting with "~/" (the home, "/" in the DefaultRoot ~ jail), "~" alone and
    "~user" (not resolved), in the commands that take a path, listings aside."""
    ftp = ctx.connect()
    for line in ("TYPE I", "CWD ~/", "PWD", "CWD pub", "SIZE ~/b.txt", "MDTM ~/b.txt",
                 "CWD ~/pub", "PWD", "CDUP", "SIZE ~/pub/a.txt", "MKD ~/d1", "RMD ~/d1",
                 "RNFR ~/b.txt", "RNTO ~/c.txt", "RNFR ~/c.txt", "RNTO b.txt",
                 "DELE ~/nosuch", "SITE CHMOD 600 ~/b.txt", "SIZE ~", "SIZE ~ftpuser/b.txt",
                 "CWD ~", "PWD", "SIZE pub/~/a.txt"):
        send(ftp, line)
    ftp.storbinary("STOR ~/new.txt", io.BytesIO(b"new\n"))
    ftp.retrbinary("RETR ~/pub/a.txt", lambda data: None)
    send(ftp, "DELE ~/new.txt")
    ftp.quit()


@scenario("hostile_paths", FS_BODY, files=FILES)
def hostile_paths(ctx):
    """CWD to the top of the jail in several spellings, CDUP there; SITE CHMOD paths with
    "..", a trailing slash, a leading slash."""
    ftp = ctx.connect()
    for line in ("CWD pub", "CWD ..", "CWD pub", "CWD /pub/..", "CWD .", "CWD /", "CWD //",
                 "CWD pub", "CDUP", "XCWD pub", "XCWD ../", "CDUP",
                 "SITE CHMOD 644 pub/../b.txt", "SITE CHMOD 755 pub/", "SITE CHMOD 644 /b.txt",
                 "SITE CHMOD 644 b.txt"):
        send(ftp, line)
    ftp.quit()

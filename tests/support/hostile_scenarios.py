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
import socket

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


def _nlst_through(ctx, ftp, line):
    """An NLST whose data connection comes to a port this script listens on, named by
    ``line`` (``{port}`` or ``{p1}``/``{p2}`` filled in, masked in the records)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        verb, arg = line.split(" ", 1)
        sent = arg.format(port=port, p1=port >> 8, p2=port & 255)
        ctx.volatile(sent, arg.format(port="<PORT>", p1="<P1>", p2="<P2>"))
        send(ftp, verb + " " + sent)
        at = ctx.transcript.index("> %s %s" % (verb, sent))
        ctx.transcript[at] = "> %s %s" % (verb, arg.format(port="<PORT>", p1="<P1>",
                                                            p2="<P2>"))
        ftp.putcmd("NLST")
        try:
            ftp.getresp()
        except ftplib.all_errors:
            return      # no data connection (the transcript has the reply)
        conn, _ = listener.accept()
        with conn:
            names = conn.makefile("rb").read().split()
        ctx.transcript.append("# %s" % sorted(n.decode() for n in names))
        ftp.getresp()


@scenario("hostile_port", XFER_BODY, files=FILES)
def hostile_port(ctx):
    """PORT with 5, 7 or 8 numbers, numbers out of range, signs, leading zeros, blanks,
    a trailing comma or word, quotes, a private address (taken as the client's own);
    then an NLST through a PORT naming 10.0.0.1."""
    ftp = ctx.connect()
    for line in ("PORT 127,0,0,1,100,1", "PORT 127,0,0,1,100,2,7", "PORT 127,0,0,1,100",
                 "PORT 127,0,0,1,100,3,7,8", "PORT 127,0,0,1,100,4,junk",
                 "PORT 127,0,0,1,100,5,", "PORT 127,0,0,1,100,6x", "PORT 127,0,0,1,256,1",
                 "PORT 127,0,0,1,100,256", "PORT 127,0,0,256,100,1", "PORT 127,0,0,1,0,0",
                 "PORT 0,0,0,0,100,1", "PORT 127,0,0,1,3,255", "PORT 127,0,0,2,100,1",
                 "PORT 127,000,000,001,0100,007", "PORT 127,0,0,1,+100,8",
                 "PORT 127,0,0,1,-100,9", "PORT 127, 0,0,1,100,10", "PORT 127 ,0,0,1,100,11",
                 "PORT 127,0,0,1,100,12 ", "PORT  127,0,0,1,100,13", "PORT 127,0,0,1,100,14\t",
                 "PORT \"127,0,0,1,100,15\"", "PORT 127,0,0,1,4294967396,16",
                 "PORT 127,0,0,1,-4294967196,22", "PORT 127,0,0,1,99999999999999999999999,1",
                 "PORT 127.0.0.1,100,17", "PORT 127,0,0,1,100,\uff11",
                 "PORT 192,168,1,1,100,18", "PORT 127,0,0,1,0x64,19", "PORT ,127,0,0,1,100,20",
                 "PORT 127,,0,0,1,100,21"):
        send(ftp, line)
    _nlst_through(ctx, ftp, "PORT 10,0,0,1,{p1},{p2}")
    ftp.quit()


EPRT_LINES = (
    "EPRT |1|127.0.0.1|25700|", "EPRT |3|127.0.0.1|25701|", "EPRT |2|::1|25702|",
    "EPRT |2|::ffff:127.0.0.1|25703|", "EPRT |0|127.0.0.1|25704|",
    "EPRT |x|127.0.0.1|25705|", "EPRT ||127.0.0.1|25706|", "EPRT |01|127.0.0.1|25707|",
    "EPRT |+1|127.0.0.1|25708|", "EPRT |1x|127.0.0.1|25709|", "EPRT |1|127.0.0.1|25710",
    "EPRT |1|127.0.0.1|", "EPRT |1|127.0.0.1||", "EPRT |1|127.0.0.1", "EPRT |1|",
    "EPRT |1", "EPRT |", "EPRT x", "EPRT !1!127.0.0.1!25711!", "EPRT 1127.0.0.1125712",
    "EPRT |1|127.0.0.1|25713|junk", "EPRT |1|127.0.0.1|65536|", "EPRT |1|127.0.0.1|91072|",
    "EPRT |1|127.0.0.1|99999999999|", "EPRT |1|127.0.0.1|-1|", "EPRT |1|127.0.0.1|+25714|",
    "EPRT |1|127.0.0.1| 25715|", "EPRT |1|127.0.0.1|1023|", "EPRT |1|127.0.0.2|25716|",
    "EPRT |1|10.0.0.1|25717|", "EPRT |1|127.0.0.01|25718|", "EPRT |1|::ffff:127.0.0.1|25719|",
    "EPRT |1|localhost|25720|", "EPRT |1|127.1|25721|", "EPRT |1|127.0.0.1|025722|",
    "EPRT |1|127.0.0.1|25723| ", "EPRT |1|127.0.0.1|25724| x", "EPRT \"|1|127.0.0.1|25725|\"",
    "EPRT |1|127.0.0.1|25726|x|", "EPRT |1|127.0.0.1|\uff12|", "EPRT |\uff11|127.0.0.1|25727|",
    "EPRT |-1|127.0.0.1|25728|", "EPRT |4294967297|127.0.0.1|25729|",
    "EPSV 3", "EPSV 2", "EPSV x", "EPSV 01", "EPSV +1", "EPSV 1 2", "EPSV",
)


@scenario("hostile_eprt", XFER_BODY + "UseIPv6 off\n", files=FILES)
def hostile_eprt(ctx):
    """EPRT with protocols 0, 2, 3, none, signs and letters, other delimiters, a missing
    or extra field, ports out of range, addresses ProFTPD's inet_pton refuses; EPSV's
    protocols; UseIPv6 off."""
    ftp = ctx.connect()
    for line in EPRT_LINES:
        send(ftp, line)
    _nlst_through(ctx, ftp, "EPRT !1!127.0.0.1!{port}!x")
    ftp.quit()


@scenario("hostile_eprt6", XFER_BODY + "UseIPv6 on\n", files=FILES)
def hostile_eprt6(ctx):
    """hostile_eprt with UseIPv6 on (ProFTPD's default)."""
    hostile_eprt(ctx)


@scenario("hostile_eprt_mapped", XFER_BODY + "UseIPv6 on\n", files=FILES, excuses=[
    (r"response_code: ftpredis 226, proftpd 425|response_msg: ftpredis \"Transfer complete"
     r"|transfer_status: ftpredis \"success|missing transfer_failure=",
     "README, Differences: EPRT |2| with an IPv4-mapped address works (ProFTPD 1.3.8 "
     "answers 425 'Address family not supported by protocol')")])
def hostile_eprt_mapped(ctx):
    """An NLST through EPRT |2| naming the client by its IPv4-mapped IPv6 address, which
    ProFTPD accepts (200) and then fails to connect to (425)."""
    ftp = ctx.connect()
    _nlst_through(ctx, ftp, "EPRT |2|::ffff:127.0.0.1|{port}|")
    ftp.quit()


@scenario("hostile_dele_dir", FS_BODY, files=dict(FILES, **{"emptydir/.keep": b""}))
def hostile_dele_dir(ctx):
    """DELE of a directory (full, empty, the top, one just made): 550 "Is a directory",
    %b the directory's size (st_size, which depends on the file system: masked)."""
    probe = os.path.join(ctx.home, "probe")
    os.mkdir(probe)         # the size of the empty directory MKD will make
    for d in ("pub", "emptydir", ".", "probe"):
        size = os.stat(os.path.join(ctx.home, d)).st_size
        ctx.volatile('"bytes_sent":%d}' % size, '"bytes_sent":"<DIR_SIZE>"}')
    os.rmdir(probe)
    ftp = ctx.connect()
    for line in ("DELE pub", "DELE emptydir", "DELE /", "DELE d2", "MKD d2", "DELE d2",
                 "RMD d2"):
        send(ftp, line)
    ftp.quit()


def _blank_lines():
    """Each command with two blanks, a TAB, a blank and a TAB before its argument, and
    two blanks after it."""
    out = []
    for verb, arg in (("PROT", "P"), ("PBSZ", "0"), ("TYPE", "I"), ("MODE", "S"),
                      ("STRU", "F"), ("REST", "0"), ("PORT", "127,0,0,1,100,1"),
                      ("EPRT", "|1|127.0.0.1|25700|"), ("EPSV", "1"), ("MDTM", "b.txt"),
                      ("SIZE", "b.txt"), ("MKD", "newdir")):
        out += [verb + "  " + arg, verb + "\t" + arg, verb + " \t" + arg, verb + " " + arg + "  "]
    return tuple(out) + ("CWD\tpub", "PWD", "XCWD\t/", "PWD")


@scenario("hostile_blanks", FS_BODY, files=FILES)
def hostile_blanks(ctx):
    """Several blanks or a TAB between a command and its argument, blanks after it: a
    TAB ends the command word as a blank does, and what follows that one blank is the
    argument (so a path keeps its other blanks)."""
    ftp = ctx.connect()
    for line in _blank_lines():
        send(ftp, line)
    ftp.quit()

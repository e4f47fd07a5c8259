# -*- test-case-name: tests.test_conformance_listing -*-
"""LIST, NLST and STAT with ls options and globs, as ProFTPD 1.3.8's mod_ls answers
them, registered in :data:`tests.support.scenarios.SCENARIOS` (names ``listing_*``).

``tools/compare_proftpd.py listing_options -v`` runs it against ftpredis and ProFTPD
1.3.8 + mod_redis side by side; tests/test_conformance_listing.py holds what ProFTPD
answered, sent and logged.
"""

from __future__ import annotations

import ftplib
import re

from tests.support.scenarios import REDIS, braces, scenario

BODY = REDIS + braces('LogFormat h "%m %r %s %S %f %d %{basename} %b %{transfer-status}"\n'
                      'RedisLogOnEvent ALL h\n')
FILES = {"pub/a.txt": b"a\nb\nc\n" * 10, "b.txt": b"bb", "pub/c.log": b"x",
         "cr.txt": b"x\ry\r", "sub/d/e.txt": b"e", ".hid": b"h"}

#: What real clients send: options alone, options with a path, globs.
NLSTS = ("NLST -a", "NLST nosuch*", "NLST */*.txt", "NLST sub/*", "NLST -1 pub",
         "NLST -a pub")
LISTS = ("LIST -a", "LIST -la pub", "LIST -R", "LIST -lR sub", "LIST -d pub", "LIST -1",
         "LIST -F", "LIST -1F", "LIST */*.txt")


def _dated(line: str) -> str:
    """Times of entries written during the run ("Dec  4 20:35") masked."""
    return re.sub(r"\w{3} +\d+ +\d\d:\d\d", "<DATE>", line)


@scenario("listing_options", BODY, files=FILES)
def listing_options(ctx):
    """ls options and globs in LIST, NLST and STAT; the listings' lines in the
    transcript (# lines), entries changed during the run with their dates masked."""
    ftp = ctx.connect()
    for line in NLSTS + LISTS:
        out = []
        try:
            ftp.retrlines(line, out.append)
        except ftplib.all_errors as e:
            ctx.transcript.append("# " + str(e))
        if line.startswith("NLST"):
            out.sort()      # mod_ls sends NLST in readdir(3) order, the file system's
        ctx.transcript.append("# %s: %d lines" % (line, len(out)))
        ctx.transcript.extend("#   " + _dated(o) for o in out)
    try:
        ctx.transcript.append("# " + _dated(ftp.sendcmd("STAT -la")).replace("\n", "|"))
    except ftplib.all_errors as e:
        ctx.transcript.append("# " + str(e))
    ftp.quit()


#: Arguments mod_ls finds nothing for: globs matching nothing (also under a missing
#: directory or a file), names that do not exist, unknown option words.
ODD = ("LIST nosuch*", "LIST sub/nosuch*", "LIST -l nosuch*", "NLST sub/nosuch*",
       "LIST +t", "LIST -Z", "NLST +t", "LIST nosuch", "LIST -l nosuch", "NLST nosuch",
       "LIST ./nosuch*", "LIST nodir/nosuch*", "NLST nodir/nosuch*",
       "LIST -a sub/.nosuch*", "LIST b.txt/x*")


_WHY = ("doc/decisions.rst: LIST of a missing name logs the 450 it answers (1.3.8 "
        "answers 450 and logs 226)")


#: compare_proftpd's excuses for that decided record (other scenarios list such names too)
MISSING_NAME = [
    (r"response_code: ftpredis 450, proftpd 226", _WHY),
    (r'response_msg: ftpredis "[^"]*: No such file or directory", proftpd "Transfer '
     r'complete"', _WHY),
    (r"missing bytes_sent=0", _WHY),
    (r'transfer_status: ftpredis "failed", proftpd "success"', _WHY)]


@scenario("listing_nothing", BODY, files=FILES, excuses=MISSING_NAME)
def listing_nothing(ctx):
    """Globs that match nothing and option words mod_ls does not know, in LIST, NLST
    and STAT."""
    ftp = ctx.connect()
    for line in ODD:
        out = []
        try:
            ctx.transcript.append("# " + ftp.retrlines(line, out.append))
        except ftplib.all_errors as e:
            ctx.transcript.append("# " + str(e))
        ctx.transcript.append("# %s: %d lines" % (line, len(out)))
        ctx.transcript.extend("#   " + _dated(o) for o in out)
    for line in ("STAT nosuch*", "STAT +t", "STAT sub/nosuch*"):
        try:
            ctx.transcript.append("# " + ftp.sendcmd(line).replace("\n", "|"))
        except ftplib.all_errors as e:
            ctx.transcript.append("# " + str(e))
    ftp.quit()

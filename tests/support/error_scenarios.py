# -*- test-case-name: tests.test_conformance_errors -*-
"""Commands that fail, and how ProFTPD 1.3.8 words and logs them, registered in
:data:`tests.support.scenarios.SCENARIOS` (names ``errors_*``): CWD, RNFR and RNTO that
fail, SITE CHMOD's numeric and symbolic modes, HOST and ALLO with the wrong words.

``tools/compare_proftpd.py errors_x -v`` runs one against ftpredis and ProFTPD 1.3.8 +
mod_redis side by side; tests/test_conformance_errors.py holds what ProFTPD answered and
logged.
"""

from __future__ import annotations

import ftplib
import io
import re

from tests.support.scenarios import REDIS, braces, scenario

BODY = REDIS + braces('LogFormat h "%m %r %s %S %f %F %d %D %{basename} %w %b"\n'
                      'RedisLogOnEvent ALL h\n')
FILES = {"pub/a.txt": b"a" * 50, "b.txt": b"bb", "full/x": b"x", "d2/.keep": b"",
         "bb": b"bb", "empty": b""}

# SITE CHMOD modes, each applied to a file of mode 0640 under Umask 027: numbers in
# octal or hex, symbolic clauses, and what mod_site refuses.
MODES = ("644", "0x1ff", "10000", "u+x", "ug+x", "go-r", "a=rw", "=rw", "+x", "+t", "o+g",
         "g=u", "u+X", "u+x,g+x", "ux", "z+x", "+", "+-x", "7777", "1777", "00644", "0o644",
         "644x", "1e3")


def send(ftp, line: str) -> str:
    try:
        return ftp.sendcmd(line)
    except ftplib.all_errors as e:
        return str(e)


@scenario("errors_paths", BODY, files=FILES)
def errors_paths(ctx):
    """CWD that fails (from a subdirectory), RNFR of what is missing, RNTO without
    RNFR, RNTO onto a directory, a non-empty directory, a file."""
    ftp = ctx.connect()
    for line in ("CWD pub", "CWD nosuch", "CWD ../b.txt", "CWD ../nodir/x", "CDUP",
                 "RNFR nosuch", "RNFR pub/nosuch", "RNFR nodir/x", "RNTO c.txt",
                 "RNFR b.txt", "RNTO pub", "RNFR d2", "RNTO b.txt", "RNFR d2", "RNTO full"):
        send(ftp, line)
    ftp.quit()


@scenario("errors_chmod", BODY + "Umask 027\n", files=FILES)
def errors_chmod(ctx):
    """SITE CHMOD with each of MODES on a 0640 file, its mode after (MLST's UNIX.mode),
    and on a missing file with a bad mode (the path is looked at first)."""
    ftp = ctx.connect()
    for mode in MODES:
        ftp.sendcmd("SITE CHMOD 640 b.txt")
        send(ftp, "SITE CHMOD %s b.txt" % mode)
        ctx.transcript.append("# mode %s" % re.search(
            r"UNIX\.mode=(\d+);", ftp.sendcmd("MLST b.txt")).group(1))
    send(ftp, "SITE CHMOD 999 nosuch")
    ftp.quit()


@scenario("errors_args", BODY, files=FILES)
def errors_args(ctx):
    """HOST after login with none, one and two words; ALLO with a size, RFC 959's
    "size R size", no word, two words, and sizes strtoull takes or refuses."""
    ftp = ctx.connect()
    for line in ("HOST", "HOST foo", "HOST foo bar", "ALLO", "ALLO 10", "ALLO abc",
                 "ALLO 10 R 5", "ALLO 1 2", "ALLO -1", "ALLO +5", "ALLO 5x", "ALLO abc R 5"):
        send(ftp, line)
    ftp.quit()


def transfer(ctx, ftp, line, data=None):
    """A download (``data`` None) or an upload, its error into the transcript."""
    try:
        if data is None:
            ftp.retrbinary(line, lambda b: None)
        else:
            ftp.storbinary(line, io.BytesIO(data))
    except ftplib.all_errors as e:
        ctx.transcript.append("# " + str(e))


@scenario("errors_transfers", BODY, files=FILES)
def errors_transfers(ctx):
    """Transfers that fail before any data (a directory, a missing file or directory),
    MFMT of a directory, and the 150's size: "1 byte", none for an empty file or a REST
    at the end, REST past the end."""
    ftp = ctx.connect()
    send(ftp, "MFMT 20200101000000 pub")
    transfer(ctx, ftp, "RETR pub")
    transfer(ctx, ftp, "RETR nosuch")
    transfer(ctx, ftp, "RETR nodir/x")
    transfer(ctx, ftp, "STOR pub", b"x")
    transfer(ctx, ftp, "STOR nodir/x", b"x")
    transfer(ctx, ftp, "APPE pub", b"x")
    transfer(ctx, ftp, "MLSD nosuch")
    transfer(ctx, ftp, "RETR empty")
    for rest in ("1", "2", "100"):
        send(ftp, "REST " + rest)
        transfer(ctx, ftp, "RETR bb")
    ftp.quit()


@scenario("errors_prelogin", BODY, files=FILES)
def errors_prelogin(ctx):
    """Before login: what ProFTPD's command tables let through (TYPE, SITE HELP, ACCT
    and REIN answered 502) and what they refuse with 530 (ABOR, SMNT, PASV...); USER
    without a name."""
    ftp = ctx.connect(user=None)
    for line in ("ABOR", "SITE HELP", "SITE", "SITE FOO", "LANG", "ACCT x", "REIN",
                 "SMNT x", "CSID", "RANG 1 2", "TYPE A", "TYPE X", "TYPE", "STRU F",
                 "MODE S", "ALLO 5", "REST 5", "EPSV", "PORT 127,0,0,1,10,10", "CLNT x",
                 "USER", "PASS", "USER ftpuser", "ACCT x", "REIN", "PASS ftppass", "REIN",
                 "ACCT x"):
        send(ftp, line)
    ftp.quit()


@scenario("errors_rnfr", BODY, files=FILES)
def errors_rnfr(ctx):
    """Commands between RNFR and RNTO: HELP, NOOP, STAT (and QUIT) are answered, every
    other one, a second RNFR and an unknown command included, is 501 "Bad sequence of
    commands"; each record carries the waiting RNFR's path; RNTO without a name uses
    the RNFR up; a failed RNTO too."""
    ftp = ctx.connect()
    for line in ("RNFR b.txt", "NOOP", "HELP", "STAT", "TYPE I", "RNFR pub", "PWD", "FOO",
                 "PBSZ 0", "RNTO c.txt", "NOOP", "RNFR pub/a.txt", "RNTO nodir/x", "NOOP",
                 "RNFR c.txt", "RNTO", "NOOP", "RNFR c.txt"):
        send(ftp, line)
    ftp.quit()


@scenario("errors_written_paths", BODY, files=FILES)
def errors_written_paths(ctx):
    """%f of MKD, RMD, DELE, RNTO, MDTM and MFMT is the path as written after the current
    directory: "./", "../", "//" and a trailing slash stay."""
    ftp = ctx.connect()
    for line in ("MKD new/", "MKD //new2", "MKD ./new3/", "MKD full/../new4", "RMD new/",
                 "RMD //new2/", "RMD ./new3", "RMD /full/../new4", "MKD ..", "RMD .",
                 "CWD pub", "MDTM ./a.txt", "MDTM ../b.txt", "MFMT 20200101000000 ./a.txt",
                 "RNFR a.txt", "RNTO ../a2.txt", "RNFR ../a2.txt", "RNTO ./a.txt",
                 "DELE ../full//nosuch", "DELE ./nosuch"):
        send(ftp, line)
    ftp.quit()


@scenario("errors_quotes", BODY, files=FILES)
def errors_quotes(ctx):
    """Double quotes in arguments: %r shows the words as ProFTPD's parser splits them (a
    word starting with a quote runs to the next one, quotes dropped, a backslash
    escaping), while the path used and %J keep the quotes."""
    ftp = ctx.connect()
    for line in ('MKD "q"', 'RMD "q"', 'MKD "a\\"b" c', 'MKD x"y"', 'MKD ""',
                 'MDTM "a b"', 'DELE "nosuch x"'):
        send(ftp, line)
    ftp.storbinary('STOR "sp ace.txt"', io.BytesIO(b"x"))
    ftp.quit()


MESSAGES = REDIS + braces('LogFormat h "%m %r %s %S %u"\nRedisLogOnEvent ALL h\n') + r"""
AccessGrantMsg "Welcome %u, %u is in"
AccessDenyMsg "Go away %u"
MaxLoginAttempts 2
<Anonymous {base}/anon>
  User ftpanon
  Group ftpgroup
  UserAlias anonymous ftpanon
  AccessGrantMsg "Anonymous %u: read only"
</Anonymous>
"""


@scenario("errors_messages", MESSAGES, files={"../../anon/pub.txt": b"p\n"},
          users=(("ftpuser", "ftppass"), ("ftpanon", "unused")))
def errors_messages(ctx):
    """AccessGrantMsg and AccessDenyMsg ("%u" the USER name, every one of them): the
    server's for its users, up to MaxLoginAttempts; <Anonymous>'s own for its logins,
    and the server's AccessDenyMsg there too."""
    ftp = ctx.connect(user=None)
    for line in ("USER ftpuser", "PASS bad", "USER nosuch", "PASS bad"):
        send(ftp, line)
    try:
        ftp.quit()
    except Exception:
        pass
    ftp = ctx.connect()
    ftp.quit()
    ftp = ctx.connect(user="anonymous", password="guest@example.com")
    ftp.quit()


FILTERS = REDIS + braces('LogFormat h "%m %r %s %S %f"\nRedisLogOnEvent ALL h\n'
                         'DenyFilter \\*.*/\nAllowFilter "^[a-z0-9 ./_*-]*$" [NC]\n')


@scenario("errors_filters", FILTERS, files=FILES)
def errors_filters(ctx):
    """DenyFilter and AllowFilter (Debian's stock "DenyFilter \\*.*/"): every command's
    argument but PASS's, before login too, unknown commands included."""
    ftp = ctx.connect(user=None)
    for line in ("USER x*.y/z", "USER ftpuser", "PASS ftppass", "CWD *.*/", "NLST *.*/",
                 "CWD pub", "CWD PUB", "MKD a$b", "SIZE ../b.txt", "FOO *.*/", "SITE CHMOD 644 *.x/",
                 "RNFR b.txt", "RNTO c*.d/e", "RNTO c.txt", "HELP a$"):
        send(ftp, line)
    ftp.quit()


@scenario("errors_site", BODY, files=FILES)
def errors_site(ctx):
    """SITE CHGRP and SITE CHMOD with too few words, by name, by number, refused; SITE
    HELP and HELP SITE."""
    ftp = ctx.connect()
    for line in ("SITE CHGRP ftpgroup b.txt", "SITE CHGRP 5001 b.txt",
                 "SITE CHGRP nosuchgroup b.txt", "SITE CHGRP 0 b.txt",
                 "SITE CHGRP ftpgroup nosuch", "SITE CHGRP ftpgroup", "SITE CHGRP",
                 "SITE CHMOD 644", "SITE CHMOD", "SITE HELP CHGRP", "SITE HELP CHMOD",
                 "SITE HELP FOO", "SITE HELP", "HELP SITE", "HELP SITE CHMOD",
                 "SITE chmod 600 b.txt", "site help"):
        send(ftp, line)
    ftp.quit()


@scenario("errors_site_blanks", BODY, files=FILES)
def errors_site_blanks(ctx):
    """SITE with two blanks before or after its sub-command (ProFTPD keeps the blanks of
    a SITE line: an empty word each), a tab, blanks only, a quoted path, blanks at the
    end; SITE HELP's unknown topic as written."""
    ftp = ctx.connect()
    for line in ("SITE  CHMOD 600 b.txt", "SITE   HELP", "SITE  chgrp ftpgroup b.txt",
                 "SITE CHMOD  644 b.txt", "SITE CHMOD 640  b.txt", "SITE\tCHMOD 600 b.txt",
                 "SITE \tHELP", "SITE  ", "SITE HELP  CHMOD", "SITE  FOO", "site help foo",
                 "SITE HELP  ", "SITE HELP ", "SITE CHGRP ftpgroup  b.txt",
                 'SITE CHMOD 644 "b.txt"', "SITE CHMOD 600 b.txt ", "SITE CHMOD 755  ",
                 "SITE CHMOD  bb"):
        send(ftp, line)
    ftp.quit()

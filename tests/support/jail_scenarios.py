# -*- test-case-name: tests.test_conformance_jail -*-
"""Commands that name a path through an admin's symbolic links in a chrooted home,
registered in :data:`tests.support.scenarios.SCENARIOS` (names ``jail_*``): an absolute
link meant for the jail (``/sub``), one out of it (``/etc``), one whose target is the
home's real path on the host, a relative one climbing above the top.  ProFTPD's session
is chroot()ed, so the kernel resolves each one inside the jail.

``tools/compare_proftpd.py jail_links -v`` runs it against ftpredis and ProFTPD 1.3.8 +
mod_redis side by side; tests/test_conformance_jail.py holds what ProFTPD answered and
logged.
"""

from __future__ import annotations

import io
import os

from tests.support.ftpsite import UID, GID
from tests.support.hostile_scenarios import send, listing
from tests.support.listing_scenarios import MISSING_NAME
from tests.support.scenarios import REDIS, braces, scenario

BODY = REDIS + braces('LogFormat h "%m %r %s %S %f %F %d %b"\nRedisLogOnEvent ALL h\n'
                      'AllowOverwrite on\n')
FILES = {"a.txt": b"a" * 30, "sub/x.txt": b"x" * 7, "etc/hostname": b"jailed\n"}


def make_links(ctx, links):
    for name, target in links.items():
        target = target.replace("{home}", ctx.home)
        link = os.path.join(ctx.home, name)
        os.symlink(target, link)
        if os.geteuid() == 0:
            os.lchown(link, UID, GID)


#: name -> target ({home}: the home's real path on the host)
LINKS = {"abs": "/sub", "absf": "/a.txt", "out": "/usr", "outf": "/usr/share/dict",
         "host": "{home}/sub", "rel": "sub", "climb": "../../../../sub", "gone": "/nowhere",
         "ete": "/etc", "relf": "a.txt"}

COMMANDS = (
    "TYPE I", "CWD rel", "PWD", "CWD /", "MDTM rel/x.txt", "MKD rel/made", "RMD rel/made",
    "SITE CHMOD 600 rel/x.txt", "RNFR rel/x.txt", "RNTO rel/w.txt", "RNFR rel/w.txt",
    "RNTO rel/x.txt", "CWD abs", "PWD", "CWD /", "SIZE abs/x.txt", "MDTM absf", "SIZE absf", "MLST abs/x.txt",
    "STAT abs", "SIZE out/bin", "CWD out", "PWD", "MLST out", "SIZE outf", "CWD host",
    "PWD", "CWD /", "SIZE host/x.txt", "SIZE rel/x.txt", "CWD climb", "PWD", "CWD /",
    "SIZE climb/x.txt", "SIZE ete/hostname", "CWD gone", "SIZE gone", "MKD abs/made",
    "RMD abs/made", "MKD out/made", "MKD host/made", "RMD host/made",
    "SITE CHMOD 600 abs/x.txt", "SITE CHMOD 600 out/bin", "MDTM abs/x.txt",
    "STAT gone", "STAT rel", "STAT absf", "MDTM gone", "CWD absf", "CDUP", "CWD abs/..",
    "PWD", "CWD /",
)
#: After the transfers: renames and deletes of and through the links.
CHANGES = ("DELE rel/r.txt", "RNFR abs/x.txt", "RNTO abs/y.txt", "RNFR abs/y.txt", "RNTO x2.txt",
           "RNFR absf", "RNTO absf2", "RNFR out", "RNTO out2", "DELE abs/new.txt",
           "DELE out/nothing", "DELE outf", "RNFR host/x.txt", "RNTO host/z.txt")


#: doc/decisions.rst, "LIST of a missing path": STAT of a link that names nothing
STAT_DANGLING = [
    (r'response_code: ftpredis 450, proftpd 213', "doc/decisions.rst: STAT of a link that "
     "names nothing logs the 450 it answers (1.3.8 answers 450 and logs 213)"),
    (r'response_msg: ftpredis "gone: No such file or directory", proftpd "End of status"',
     "doc/decisions.rst: STAT of a link that names nothing logs the 450 it answers")]


@scenario("jail_links", BODY, files=FILES, excuses=MISSING_NAME + STAT_DANGLING)
def jail_links(ctx):
    """CWD, SIZE, MDTM, MLST, STAT, MKD, RMD, SITE CHMOD, RETR, STOR, APPE, LIST, NLST,
    RNFR/RNTO and DELE through links: absolute into the jail, out of it, to the home's
    host path, relative and climbing above the top, dangling."""
    make_links(ctx, LINKS)
    ftp = ctx.connect()
    for line in COMMANDS:
        send(ftp, line)
    for line in ("RETR rel/x.txt", "RETR abs/x.txt", "RETR absf", "RETR out/share/dict/words",
                 "RETR host/x.txt", "RETR ete/hostname", "RETR gone"):
        try:
            buf = io.BytesIO()
            ftp.retrbinary(line, buf.write)
            ctx.transcript.append("# %s: %d bytes" % (line, len(buf.getvalue())))
        except Exception as e:  # noqa: BLE001 - recorded
            ctx.transcript.append("# %s: %s" % (line, e))
    for line in ("STOR rel/r.txt", "STOR abs/new.txt", "APPE abs/new.txt", "STOR out/new.txt",
                 "STOR host/h.txt", "STOR gone"):
        try:
            ftp.storbinary(line, io.BytesIO(b"data\n"))
            ctx.transcript.append("# %s: stored" % (line,))
        except Exception as e:  # noqa: BLE001 - recorded
            ctx.transcript.append("# %s: %s" % (line, e))
    for line in ("LIST abs", "NLST abs", "LIST out", "NLST host", "LIST climb", "LIST -l abs",
                 "NLST climb", "LIST absf", "LIST relf", "LIST -lL absf", "NLST absf"):
        got = listing(ftp, line)
        ctx.transcript.append("# %s: %s" % (line, got if isinstance(got, str)
                                            else "%d lines" % len(got)))
    for line in CHANGES:
        send(ftp, line)
    ftp.quit()
    from tests.support.facts_scenarios import label_uniques
    ctx.transcript[:] = label_uniques(ctx.transcript)
    for rel in sorted(("sub/x.txt", "sub/y.txt", "x2.txt", "absf2", "out2", "sub/new.txt",
                       "sub/z.txt", "sub/h.txt", "h.txt", "outf", "etc/hostname",
                       "usr/share/dict")):
        path = os.path.join(ctx.home, rel)
        ctx.transcript.append("# on disk %s: %s" % (
            rel, "link" if os.path.islink(path) else "file" if os.path.isfile(path)
            else "missing"))


@scenario("jail_links_noshow", BODY + "ShowSymlinks off\n", files=FILES,
          excuses=MISSING_NAME + STAT_DANGLING)
def jail_links_noshow(ctx):
    """jail_links with ``ShowSymlinks off``: CWD keeps the path as named (PWD shows the
    link's name), listings show what a link leads to, as with -L."""
    jail_links(ctx)

# -*- test-case-name: tests.test_conformance_facts -*-
"""MLST and MLSD facts (RFC 3659) as ProFTPD 1.3.8's mod_facts writes them, registered in
:data:`tests.support.scenarios.SCENARIOS` (names ``facts_*``).

The site is a sweep of files and directories in the modes and ownerships whose ``perm``
fact differs (the user's, another user's, another user's in the user's group), symbolic
links (to a file, a directory, nothing, out of the root, a loop) and names with blanks,
built by :func:`make_tree` as root once the server runs (ProFTPD, running as the user,
reads it as it is): ``facts_sweep`` lists it, ``facts_groups`` again with supplementary
groups from AuthGroupFile, ``facts_opts`` with the facts OPTS MLST selects.
``tools/compare_proftpd.py facts_sweep -v`` runs one against ftpredis and ProFTPD 1.3.8
+ mod_redis side by side; tests/test_conformance_facts.py and
tests/test_conformance_facts_opts.py hold what ProFTPD answered and logged.

``unique`` (device and inode) differs from one run to the next: the scripts replace each
value by a label numbered in order of first appearance (``unique=<U3>;``), which keeps
what can be compared, which entries share one (a link and its target, ``..`` of the
root and the root).
"""

from __future__ import annotations

import ftplib
import os
import re

from tests.support.ftpsite import FIXED_MTIME, GID, UID, USER
from tests.support.scenarios import REDIS, braces, scenario

BODY = REDIS + braces('LogFormat h "%m %r %s %S %f %d %{basename} %{transfer-status}"\n'
                      'RedisLogOnEvent ALL h\n')

#: Another account (no name in AuthUserFile or AuthGroupFile), as uid and gid.
OTHER = UID + 1
#: Who owns an entry: the user, another user, another user with the user's group.
OWNERS = {"u": (UID, GID), "o": (OTHER, OTHER), "g": (OTHER, GID)}
FILE_MODES = (0o000, 0o200, 0o400, 0o500, 0o600, 0o700, 0o755, 0o070, 0o007, 0o666)
DIR_MODES = (0o000, 0o200, 0o400, 0o500, 0o700, 0o755, 0o1777, 0o070, 0o007)
#: name -> target, relative to the home.
LINKS = {"l-file": "f-u-755", "l-file000": "f-u-000", "l-dir": "d-u-755",
         "l-dir000": "d-o-000", "l-chain": "l-file", "l-dangling": "nosuch",
         "l-abs": "/etc/passwd", "l-up": "../../ftpd.group", "l-loop": "l-loop",
         "sub/up": ".."}


def _name(kind: str, owner: str, mode: int) -> str:
    return "%s-%s-%03o" % (kind, owner, mode)


def names():
    """Every entry of the home (not those of sub/ and "sp ace/"), sorted."""
    out = ["a b.txt", "fifo", "sp ace", "sub"] + [n for n in LINKS if "/" not in n]
    for owner in OWNERS:
        out += [_name("f", owner, m) for m in FILE_MODES]
        out += [_name("d", owner, m) for m in DIR_MODES]
    return sorted(out)


def make_tree(home: str):
    """The sweep's entries under ``home``, every time FIXED_MTIME (blocking; as root)."""
    made = []
    for owner, (uid, gid) in OWNERS.items():
        for mode in FILE_MODES:
            p = os.path.join(home, _name("f", owner, mode))
            with open(p, "wb") as f:
                f.write(b"x" * (mode % 97 + 1))
            made.append((p, uid, gid, mode))
        for mode in DIR_MODES:
            p = os.path.join(home, _name("d", owner, mode))
            os.mkdir(p)
            made.append((p, uid, gid, mode))
    for rel, data in (("a b.txt", b"blank\n"), ("sub/x.txt", b"x"),
                      ("sp ace/in ner.txt", b"in ner\n")):
        p = os.path.join(home, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        made.append((p, UID, GID, 0o644))
    for rel in ("sub", "sp ace"):
        made.append((os.path.join(home, rel), UID, GID, 0o755))
    os.mkfifo(os.path.join(home, "fifo"))
    made.append((os.path.join(home, "fifo"), UID, GID, 0o644))
    for p, uid, gid, mode in made:
        os.chown(p, uid, gid)
        os.chmod(p, mode)
    for rel, target in LINKS.items():
        p = os.path.join(home, rel)
        os.symlink(target, p)
        os.lchown(p, UID, GID)
    for p, _, _, _ in made:
        os.utime(p, (FIXED_MTIME, FIXED_MTIME))
    for rel in LINKS:
        os.utime(os.path.join(home, rel), (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    for d in (os.path.join(home, "sub"), os.path.join(home, "sp ace"), home):
        os.utime(d, (FIXED_MTIME, FIXED_MTIME))


_UNIQUE = re.compile(r"unique=([^;]*);")


def label_uniques(lines):
    """``lines`` with each ``unique`` value replaced by ``<U1>``, ``<U2>``... in order of
    first appearance."""
    seen: dict = {}

    def label(m):
        return "unique=<U%d>;" % seen.setdefault(m.group(1), len(seen) + 1)
    return [_UNIQUE.sub(label, line) for line in lines]


def _mlsd(ctx, ftp, line):
    """An MLSD whose lines (sorted: ProFTPD sends them in readdir(3) order) go to the
    transcript as # lines."""
    out = []
    try:
        ftp.retrlines(line, out.append)
    except ftplib.all_errors as e:
        ctx.transcript.append("# " + str(e))
    ctx.transcript.append("# %s: %d lines" % (line, len(out)))
    ctx.transcript.extend("#   " + o for o in sorted(out, key=lambda o: o.split(" ", 1)[-1]))


def _send(ftp, line):
    try:
        ftp.sendcmd(line)
    except ftplib.all_errors:
        pass


@scenario("facts_sweep", BODY)
def facts_sweep(ctx):
    """MLSD and MLST over files and directories of every mode and owner that matters to
    ``perm``, symbolic links, names with blanks; MLSD of what is not a directory."""
    make_tree(ctx.home)
    try:
        ftp = ctx.connect()
        for line in ("MLSD", "MLSD sub", "MLSD sp ace", "MLSD l-dir", "MLSD d-u-1777",
                     "MLSD f-u-755", "MLSD l-file", "MLSD nosuch", "MLSD l-dangling",
                     "MLSD l-abs"):
            _mlsd(ctx, ftp, line)
        for name in names():
            _send(ftp, "MLST " + name)
        for line in ("MLST", "MLST .", "MLST ..", "MLST /", "MLST sub/..", "MLST sub/up",
                     "MLST sp ace/in ner.txt", "MLST /sub/x.txt", "MLST nosuch"):
            _send(ftp, line)
        ftp.cwd("sub")
        # Not "../x": 1.3.8's stat cache cleans "/sub/../x" into "x", relative to the
        # directory it is in (README, "Differences").
        for line in ("MLST", "MLST x.txt", "MLST up", "MLST /l-dir", "MLST up/l-dir"):
            _send(ftp, line)
        ftp.quit()
    finally:
        ctx.transcript[:] = label_uniques(ctx.transcript)


#: README.rst, "Differences": OPTS records carry response_code / response_msg.
OPTS_EXCUSE = ((r"extra response_(code|msg)=",
                "README.rst: OPTS records carry response_code/response_msg like every command"),)


@scenario("facts_opts", BODY, excuses=OPTS_EXCUSE)
def facts_opts(ctx):
    """OPTS MLST: which facts, in which case and order, with or without the last ";",
    repeated, unknown, none; what MLST, MLSD and FEAT show after."""
    make_tree(ctx.home)
    try:
        ftp = ctx.connect()
        for opts in ("type;size;sizd;UNIX.mode;", "Type;PERM;unix.OWNER;unix.ownerNAME;",
                     "type", "type;type;size;", "UNIX.mode;unknown;;modify;", "",
                     "unique;type;", "a; b;", "type;size; x", "media-type;size;"):
            _send(ftp, ("OPTS MLST " + opts).rstrip(" "))
            for line in ("MLST a b.txt", "MLST l-dir", "MLST sub"):
                _send(ftp, line)
            _send(ftp, "FEAT")
        _send(ftp, "OPTS mlst perm; x")
        _mlsd(ctx, ftp, "MLSD sub")
        _send(ftp, "OPTS MLST modify;perm;size;type;unique;UNIX.group;UNIX.groupname;"
                   "UNIX.mode;UNIX.owner;UNIX.ownername;")
        _mlsd(ctx, ftp, "MLSD sub")
        ftp.quit()
    finally:
        ctx.transcript[:] = label_uniques(ctx.transcript)


@scenario("facts_groups", BODY,
          groups=("staff:x:%d:nobody,%s" % (OTHER, USER), "others:x:%d:nobody, %s"
                  % (OTHER + 1, USER)))
def facts_groups(ctx):
    """``perm`` with a supplementary group: AuthGroupFile lists the user as a member of
    the other user's group 5002, whose bits then count as the primary group's do; a
    member list naming " ftpuser" (a blank before) does not count for group 5003."""
    make_tree(ctx.home)
    p = os.path.join(ctx.home, "f-others-070")
    with open(p, "wb") as f:
        f.write(b"others")
    os.chown(p, OTHER, OTHER + 1)
    os.chmod(p, 0o070)
    os.utime(p, (FIXED_MTIME, FIXED_MTIME))
    os.utime(ctx.home, (FIXED_MTIME, FIXED_MTIME))
    try:
        ftp = ctx.connect()
        _mlsd(ctx, ftp, "MLSD")
        for name in ("d-o-070", "f-o-070", "f-o-600", "l-dir000", "f-others-070"):
            _send(ftp, "MLST " + name)
        ftp.quit()
    finally:
        ctx.transcript[:] = label_uniques(ctx.transcript)

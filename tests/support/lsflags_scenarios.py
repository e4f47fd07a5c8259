# -*- test-case-name: tests.test_conformance_lsflags -*-
"""LIST, NLST and STAT with the rest of mod_ls 1.3.8's ls options: ``-n`` numeric ids,
``-h`` human sizes, ``-u``/``-c`` access/change times (shown and sorted by, and kept for
the rest of the session), ``-U`` unsorted (kept too), ``-L`` following links, ``-C``
columns, ``-B`` (nothing with NLS); registered in :data:`tests.support.scenarios.SCENARIOS`
(names ``lsflags_*``).

``tools/compare_proftpd.py lsflags_options -v`` runs it against ftpredis and ProFTPD
1.3.8 + mod_redis side by side; tests/test_conformance_lsflags.py holds what ProFTPD
answered, sent and logged.
"""

from __future__ import annotations

import ftplib
import os
import time

from tests.support.ftpsite import FIXED_MTIME, GID, UID
from tests.support.listing_scenarios import MISSING_NAME, _dated
from tests.support.listoptions_scenarios import LOGGING
from tests.support.scenarios import REDIS, scenario

FILES = {"a.txt": b"a" * 30, "big.bin": b"b" * 1536, "huge.bin": b"h" * 2200000,
         "c.txt": b"c" * 999, "sub/x.txt": b"x" * 7, ".hid": b"h",
         "a-rather-long-file-name.txt": b"l"}
#: (atime, mtime): old enough for mod_ls to write the year; atimes in another order.
TIMES = {"a.txt": (1577836800 + 9 * 86400, 1577836800),
         "big.bin": (1577836800 + 7 * 86400, 1577836800 + 3 * 86400),
         "huge.bin": (1577836800 + 8 * 86400, 1577836800 + 2 * 86400),
         "c.txt": (1577836800 + 86400, 1577836800 + 4 * 86400),
         ".hid": (1577836800, 1577836800),
         "a-rather-long-file-name.txt": (1577836800 + 6 * 86400, 1577836800 + 5 * 86400)}

#: With the links in place.
LINKED = ("LIST -ln", "LIST -lh", "LIST -lnh", "NLST -n", "LIST -lL", "LIST -L",
          "LIST -lL sub", "LIST -LF", "LIST -C", "LIST -CF", "LIST -lC", "LIST -Cl",
          "LIST -Ca", "STAT -C .", "NLST -C", "LIST -lB")
#: Without them (reading a link sets its access time, or not, as the mount says); -c
#: shows change times of the run (masked), so nothing is sorted by them.
TIMED = ("LIST -lt", "LIST -lu", "LIST -l", "LIST -lt", "STAT .", "LIST -ltr",
         "LIST -lc", "LIST -l", "LIST -lu", "LIST -lU", "LIST -lt", "LIST -C", "LIST")
COMMANDS = LINKED + TIMED


def _times(ctx):
    for rel, (atime, mtime) in TIMES.items():
        os.utime(os.path.join(ctx.home, rel), (atime, mtime))
    # Directories read during the run: an access time of now whatever the mount does
    # (relatime leaves one newer than the modification and under a day old alone).
    now = time.time()
    for rel in (".", "sub"):
        os.utime(os.path.join(ctx.home, rel), (now, FIXED_MTIME))


def _run(ctx, ftp, line: str, unsorted: bool) -> None:
    """One listing into the transcript: STAT's reply on one line, else the lines (sorted
    for NLST and when ``unsorted``: mod_ls sends them in readdir(3) order)."""
    verb = line.split(" ", 1)[0]
    try:
        if verb == "STAT":
            ctx.transcript.append("# " + _dated(ftp.sendcmd(line)).replace("\n", "|"))
            return
        out = []
        ftp.retrlines(line, out.append)
    except ftplib.all_errors as e:
        ctx.transcript.append("# " + str(e))
        return
    if verb == "NLST" or unsorted:
        out.sort()
    ctx.transcript.append("# %s: %d lines" % (line, len(out)))
    ctx.transcript.extend("#   " + _dated(o) for o in out)


@scenario("lsflags_options", REDIS + LOGGING, files=FILES)
def lsflags_options(ctx):
    """-n -h -L -C -B, then -u, -c and -U, which stay on for the session."""
    _times(ctx)
    for target, name in (("a.txt", "ln"), ("sub", "lnd")):
        link = os.path.join(ctx.home, name)
        os.symlink(target, link)
        if os.geteuid() == 0:
            os.lchown(link, UID, GID)
        os.utime(link, (1577836800, 1577836800), follow_symlinks=False)
    ftp = ctx.connect()
    unsorted = False
    for i, line in enumerate(COMMANDS):
        if i == len(LINKED):
            os.unlink(os.path.join(ctx.home, "ln"))
            os.unlink(os.path.join(ctx.home, "lnd"))
        unsorted = unsorted or "U" in line
        _run(ctx, ftp, line, unsorted)
    ftp.quit()


#: The client's -c and -U, then ListOptions' -u and +U: ListOptions is read after them.
CONFIGURED = ("LIST -lt", "LIST -lU", "LIST -lc", "LIST -ltc", "STAT .", "NLST -U")


@scenario("lsflags_configured", REDIS + LOGGING + 'ListOptions "-u +U"\n', files=FILES)
def lsflags_configured(ctx):
    """ListOptions "-u +U": access times whatever the client asks, never unsorted."""
    _times(ctx)
    ftp = ctx.connect()
    for line in CONFIGURED:
        _run(ctx, ftp, line, False)
    ftp.quit()


#: name -> what it points to: a directory and a file inside, "." and ".." (mod_ls's
#: is_safe_symlink() drops them), a link out of the jail (nothing there in a
#: chroot) and a dangling one.
LINKS = {"dl": "sub", "fl": "a.txt", "dot": ".", "up": "..", "out": "/etc", "abs": "/sub",
         "gone": "nowhere", "sub/back": "..", "sub/inner": "../c.txt"}
LINK_COMMANDS = ("LIST -l", "LIST -lL", "LIST -LF", "LIST -lF", "LIST -R", "LIST -RL",
                 "LIST -lRL", "LIST -lRLa", "STAT -lRL .", "LIST -lL dl", "LIST -RL dl",
                 "LIST -lL gone", "NLST -L")


def _links(ctx, links):
    for name, target in links.items():
        link = os.path.join(ctx.home, name)
        os.symlink(target, link)
        if os.geteuid() == 0:
            os.lchown(link, UID, GID)
        os.utime(link, (1577836800, 1577836800), follow_symlinks=False)


@scenario("lsflags_links", REDIS + LOGGING, files=FILES, excuses=MISSING_NAME)
def lsflags_links(ctx):
    """-L and -R through symbolic links: to a directory, a file, ".", "..", out of the
    jail, nowhere; -RL goes into a linked directory."""
    _links(ctx, LINKS)
    _times(ctx)     # after the links, which change their directories' times
    ftp = ctx.connect()
    for line in LINK_COMMANDS:
        _run(ctx, ftp, line, False)
    from tests.support.facts_scenarios import _mlsd, label_uniques
    _mlsd(ctx, ftp, "MLSD")     # mod_facts resolves the links in the chroot too
    ftp.quit()
    ctx.transcript[:] = label_uniques(ctx.transcript)


@scenario("lsflags_links_noshow", REDIS + LOGGING + "ShowSymlinks off\n", files=FILES,
          excuses=MISSING_NAME)
def lsflags_links_noshow(ctx):
    """lsflags_links with ``ShowSymlinks off``: every listing as with -L (mod_ls), MLSD
    and MLST by what a link names (mod_facts)."""
    lsflags_links(ctx)


@scenario("lsflags_link_loop", REDIS + LOGGING + 'ListOptions "" maxdepth 4\n',
          files=FILES)
def lsflags_link_loop(ctx):
    """-RL and a link back to its own directory's parent ("../sub"), which
    is_safe_symlink() does not catch: how deep each server goes (maxdepth 4)."""
    _times(ctx)
    _links(ctx, {"sub/again": "../sub", "dl": "sub"})
    ftp = ctx.connect()
    for line in ("LIST -RL", "LIST -lRL", "STAT -RL .", "LIST -lR"):
        _run(ctx, ftp, line, False)
    ftp.quit()


#: Each LIST or NLST, then a STAT: what STAT keeps of the options before it.
CARRY = ("STAT .", "LIST -n", "STAT .", "LIST", "STAT .", "LIST -lh", "STAT .",
         "LIST -L", "STAT .", "NLST -L", "STAT .", "LIST -a", "STAT .", "NLST -n",
         "STAT .", "LIST -lnhL", "STAT sub", "STAT a.txt", "NLST", "STAT .")


@scenario("lsflags_stat_carry", REDIS + LOGGING, files=FILES)
def lsflags_stat_carry(ctx):
    """STAT after LIST/NLST with -n, -h, -L: mod_ls's STAT clears only -C -d -F -R and
    sets -a -l, so it lists with the others the command before it left."""
    _times(ctx)
    _links(ctx, {"dl": "sub", "gone": "nowhere"})
    ftp = ctx.connect()
    for line in CARRY:
        _run(ctx, ftp, line, False)
    ftp.quit()


@scenario("lsflags_link_loop_unbounded", REDIS + LOGGING, files=FILES, excuses=[
    (r'only ftpredis: \{"raw_command":"(LIST -RL|STAT \.)"',
     "doc/decisions.rst, LIST -RL and links back up: 1.3.8's session dies in the loop")])
def lsflags_link_loop_unbounded(ctx):
    """-RL with a link back up ("../sub") and no maxdepth: 1.3.8's session goes round
    until it dies (no reply, no record, the connection closed; observed); ftpredis lists
    the link and does not go into a directory it is already listing (doc/decisions.rst,
    "LIST -RL and links back up")."""
    _times(ctx)
    _links(ctx, {"sub/again": "../sub"})
    ftp = ctx.connect()
    for line in ("LIST -RL", "STAT ."):
        _run(ctx, ftp, line, False)
    ftp.quit()

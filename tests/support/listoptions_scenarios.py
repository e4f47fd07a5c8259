# -*- test-case-name: tests.test_conformance_listoptions -*-
"""LIST, NLST and STAT under mod_ls's ``ListOptions`` (options added to the client's or,
with ``strict``, instead of them; ``+x``; maxfiles, maxdirs, maxdepth; LISTOnly,
NLSTOnly, NoErrorIfAbsent), registered in :data:`tests.support.scenarios.SCENARIOS`
(names ``listopts_*``).

``tools/compare_proftpd.py listopts_a -v`` runs one against ftpredis and ProFTPD 1.3.8
+ mod_redis side by side; tests/test_conformance_listoptions.py holds what ProFTPD
answered, sent and logged.
"""

from __future__ import annotations

import ftplib

from tests.support.listing_scenarios import FILES, _dated
from tests.support.scenarios import REDIS, braces, scenario

#: One record per listing command: what was asked, the reply, the bytes sent.
LOGGING = braces('LogFormat h "%r %s %S %b"\nRedisLogOnCommand LIST,NLST,STAT h\n')

#: Two levels below sub/, two directories in it (maxdepth stops at the first).
DEEP = dict(FILES, **{"sub/d/f/g.txt": b"g", "sub/e/h.txt": b"h"})


def run_listings(ctx, commands):
    """Each command's reply and listing (# lines; NLST's sorted, as mod_ls sends it in
    readdir(3) order); STAT's reply on one line."""
    ftp = ctx.connect()
    for line in commands:
        verb = line.split(" ", 1)[0]
        try:
            if verb == "CWD":
                ftp.sendcmd(line)
                continue
            if verb == "STAT":
                ctx.transcript.append("# " + _dated(ftp.sendcmd(line)).replace("\n", "|"))
                continue
            out = []
            ftp.retrlines(line, out.append)
        except ftplib.all_errors as e:
            ctx.transcript.append("# " + str(e))
            continue
        if verb == "NLST":
            out.sort()
        ctx.transcript.append("# %s: %d lines" % (line, len(out)))
        ctx.transcript.extend("#   " + _dated(o) for o in out)
    ftp.quit()


def _listopts(name, config, commands, files=DEEP, doc=""):
    body = REDIS + LOGGING + config

    def script(ctx):
        run_listings(ctx, commands)
    script.__doc__ = doc
    scenario(name, body, files=files)(script)
    return commands


A = _listopts("listopts_a", 'ListOptions "-a"\n',
              ("NLST", "NLST pub", "LIST", "LIST -1", "LIST -d pub", "STAT ."),
              doc="ListOptions -a: dotfiles, . and .. in every LIST and NLST.")
L = _listopts("listopts_l", 'ListOptions "-l"\n',
              ("LIST -1", "LIST -1F", "NLST", "NLST -1 pub", "NLST pub/a.txt", "STAT ."),
              doc="Debian's ListOptions -l: read after the client's, so LIST -1 is long.")
STRICT = _listopts("listopts_strict", 'ListOptions "-F" strict\n',
                   ("LIST -1", "LIST -a", "LIST -R sub", "NLST -a", "NLST -1 pub", "STAT ."),
                   doc="strict: the client's options are skipped, the configured ones "
                       "apply.")
PLUS = _listopts("listopts_plus", 'ListOptions "-A +l"\n',
                 ("LIST", "LIST -l pub", "NLST", "LIST -a"),
                 doc="+l turns the long format off (LIST names only), -A dotfiles without "
                     ". and ..")
MAXFILES = _listopts("listopts_maxfiles", 'ListOptions "-a" maxfiles 3 SortedNLST\n',
                     ("LIST", "NLST", "NLST pub", "LIST -R", "LIST */*.txt", "NLST */*.txt",
                      "STAT ."),
                     doc="maxfiles 3: LIST shows 3 entries (. and .. count), NLST one more "
                         "(SortedNLST: the first in name order), globs for NLST are not "
                         "counted.")
MAXDIRS = _listopts("listopts_maxdirs", 'ListOptions "-l" maxdirs 2\n',
                    ("LIST -R", "LIST -R sub", "NLST"),
                    doc="maxdirs 2: -R lists two directories, the one asked for first.")
MAXDEPTH1 = _listopts("listopts_maxdepth1", 'ListOptions "-R" maxdepth 1\n',
                      ("LIST", "LIST sub", "STAT ."),
                      doc="-R from the config with maxdepth 1: the first subdirectory's "
                          "head, nothing below.")
MAXDEPTH2 = _listopts("listopts_maxdepth2", 'ListOptions "-l" maxdepth 2\n',
                      ("LIST -R", "LIST -R sub"),
                      doc="maxdepth 2: one level below the listed directory; at the "
                          "limit, the parent lists no further sibling.")
ONLY = _listopts("listopts_only", 'ListOptions "-a" NLSTOnly\nListOptions "-F" LISTOnly\n',
                 ("LIST", "NLST", "STAT ."),
                 doc="NLSTOnly / LISTOnly: each command takes the first ListOptions that "
                     "applies to it, STAT neither.")
ABSENT = _listopts("listopts_absent", 'ListOptions "-l" NoErrorIfAbsent\n',
                   ("LIST nosuch", "NLST nosuch", "NLST nosuch*", "STAT nosuch",
                    "LIST pub"),
                   doc="NoErrorIfAbsent: 226 and nothing listed for a missing path "
                       "(STAT still 450).")
DIRECTORY = _listopts("listopts_dir",
                      '<Directory {home}/pub>\nListOptions "-1"\n</Directory>\n',
                      ("CWD pub", "LIST", "NLST", "CWD ..", "LIST"),
                      doc="ListOptions in a <Directory>: for listings while the current "
                          "directory is in it.")
HIDDEN = _listopts("listopts_hidden",
                   'ListOptions "" maxfiles 3\n<Directory {home}>\nHideFiles ^b\n'
                   '</Directory>\n',
                   ("LIST", "LIST -a", "NLST", "STAT .", "LIST -R", "LIST pub"),
                   doc="HideFiles and maxfiles: LIST counts a hidden entry (not a dotfile "
                       "left out) against maxfiles.")
HIDDEN_DIRS = _listopts("listopts_hidden_dirs",
                        'ListOptions "" maxdirs 2\n<Directory {home}/sub>\nHideFiles ^d$\n'
                        '</Directory>\n',
                        ("LIST -R", "LIST -R sub", "NLST -R", "NLST sub", "STAT sub",
                         "LIST -aR sub"),
                        doc="HideFiles and maxdirs: whether -R counts a hidden directory "
                            "against maxdirs.")
HIDDEN_GLOBS = _listopts("listopts_hidden_globs",
                         'ListOptions "" maxfiles 2 SortedNLST\n<Directory {home}>\n'
                         'HideFiles ^b\n</Directory>\n',
                         ("NLST", "NLST -a", "NLST *", "LIST *", "LIST *.txt", "NLST *.txt",
                          "LIST -a", "STAT *", "LIST -R", "LIST b*", "NLST b*", "LIST -d *",
                          "LIST */*.txt"),
                         doc="HideFiles and maxfiles for NLST and globs: which hidden "
                             "entries count.")
HIDDEN_LIMITS = _listopts("listopts_hidden_limits",
                          'ListOptions "-l" maxfiles 5 maxdirs 2\n<Directory {home}>\n'
                          'HideFiles ^(b|pub)\n</Directory>\n',
                          ("LIST -R", "LIST -aR", "LIST -1", "LIST -C", "NLST", "NLST -a",
                           "STAT .", "LIST -t"),
                          doc="HideFiles with maxfiles and maxdirs: a hidden directory is "
                              "counted as an entry, not as a directory; -C, -1, NLST, STAT.")

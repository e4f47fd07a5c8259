# -*- test-case-name: tests.test_conformance_sorting -*-
"""LIST with mod_ls's sorting options (``-t`` newest first, ``-S`` largest first, ``-r``
reversing either), registered in :data:`tests.support.scenarios.SCENARIOS` (names
``sorting_*``).

``tools/compare_proftpd.py sorting_options -v`` runs it against ftpredis and ProFTPD 1.3.8
+ mod_redis side by side; tests/test_conformance_sorting.py holds what ProFTPD answered,
sent and logged.
"""

from __future__ import annotations

import os

from tests.support.listoptions_scenarios import LOGGING, run_listings
from tests.support.scenarios import REDIS, scenario

#: Sizes and modification times that differ and tie (b.bin and d.txt: same time and size).
FILES = {"a.txt": b"a" * 30, "b.bin": b"b" * 5, "c.txt": b"c" * 30, "d.txt": b"d" * 5,
         "e.log": b"e" * 900, "sub/x.txt": b"x" * 7, "sub/y.txt": b"y" * 70, ".hid": b"h"}
#: Old enough for mod_ls to write the year, so no time of the run shows.
MTIMES = {"a.txt": 1577836800, "b.bin": 1577836800 + 3 * 86400,
          "c.txt": 1577836800 + 2 * 86400, "d.txt": 1577836800 + 3 * 86400,
          "e.log": 1577836800 + 86400, "sub/x.txt": 1577836800 + 86400,
          "sub/y.txt": 1577836800, ".hid": 1577836800 + 5 * 86400}

COMMANDS = ("LIST -lt", "LIST -ltr", "LIST -lS", "LIST -lSr", "LIST -1t", "LIST -1S",
            "LIST -t", "LIST -la -t", "LIST -tS", "LIST -r", "LIST -ltR", "LIST -lS sub",
            "NLST -t")


@scenario("sorting_options", REDIS + LOGGING, files=FILES)
def sorting_options(ctx):
    """-t, -S and -r alone and together in LIST; ties keep their name order."""
    for rel, when in MTIMES.items():
        os.utime(os.path.join(ctx.home, rel), (when, when))
    run_listings(ctx, COMMANDS)

#!/usr/bin/env python3
# -*- test-case-name: tests.test_transcripts -*-
"""Session transcripts of ``lftp`` and ``curl`` against ftpredis and against ProFTPD 1.3.8,
side by side.

The client runs, their normalised dialogues and the exchange-by-exchange matching live in
``tests/support/transcripts.py`` (the test suite runs the ftpredis half); this tool runs
both servers and prints the report.  Without ``proftpd`` (or not as root) it prints a
notice and shows ftpredis's dialogues only.

Usage::

    python3 tools/transcripts.py            # both servers, summary + differing replies
    python3 tools/transcripts.py -v         # also every normalised dialogue
    python3 tools/transcripts.py --ftpredis-only
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.support.ftpsite import proftpd_available  # noqa: E402
from tests.support.transcripts import (  # noqa: E402
    ClientRun, compare_run, run_server)

def _commands_summary(run: ClientRun) -> str:
    seen, out = set(), []
    for c in run.commands():
        verb = c.split(" ", 1)[0].upper()
        if verb not in seen:
            seen.add(verb)
            out.append(verb)
    return " ".join(out)


def report(ours: List[ClientRun], theirs: Optional[List[ClientRun]], verbose=False,
           out=sys.stdout) -> int:
    """Print the side-by-side summary; returns the number of runs that failed."""
    failed = 0
    by_name = {r.name: r for r in theirs or ()}
    for run in ours:
        other = by_name.get(run.name)
        print("== %s: %s" % (run.name, " ".join(run.argv)), file=out)
        print("  commands: %s" % _commands_summary(run), file=out)
        status = "ok" if run.ok else "FAILED (exit %s; %s)" % (
            run.returncode, ", ".join(d for d, ok in run.checks if not ok) or run.stderr.strip()
            .splitlines()[-1:])
        if other is not None:
            status = "ftpredis %s, proftpd %s" % (status, "ok" if other.ok else
                                                 "FAILED (exit %s)" % other.returncode)
            same = run.files == other.files
            status += "; files %s on both servers" % ("identical" if same else "DIFFER")
            if not same:
                for k in sorted(set(run.files) | set(other.files)):
                    if run.files.get(k) != other.files.get(k):
                        status += "\n    %s: ftpredis %s, proftpd %s" % (
                            k, run.files.get(k), other.files.get(k))
        print("  result: %s" % status, file=out)
        failed += not run.ok or (other is not None and not other.ok)
        if verbose:
            for line in run.dialogue:
                print("    [ftpredis] " + line, file=out)
            for line in (other.dialogue if other else ()):
                print("    [proftpd]  " + line, file=out)
        if other is not None:
            diffs = compare_run(run, other)
            print("  replies: %s" % ("identical" if not diffs else "differ:"), file=out)
            for line in diffs:
                print(line, file=out)
    return failed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="print every dialogue")
    ap.add_argument("--ftpredis-only", action="store_true")
    ap.add_argument("--client", choices=("lftp", "curl"), action="append",
                    help="only these clients (default both)")
    args = ap.parse_args(argv)
    which = tuple(args.client or ("lftp", "curl"))
    for tool in ("lftp", "curl"):
        if tool in which and shutil.which(tool) is None:
            print("NOTICE: %s is not installed; skipping its runs" % tool)
            which = tuple(w for w in which if w != tool)
    ours, err = run_server("ftpredis", which)
    if err:
        print("ftpredis session error: %s" % err)
    theirs = None
    if args.ftpredis_only:
        pass
    elif not proftpd_available():
        print("NOTICE: proftpd 1.3.8 is not available (or not running as root): "
              "showing ftpredis only.")
    else:
        theirs, err = run_server("proftpd", which)
        if err:
            print("proftpd session error: %s" % err)
    if theirs is None:
        args.verbose = True
    failed = report(ours, theirs, args.verbose)
    return 1 if failed or err else 0


if __name__ == "__main__":
    sys.exit(main())

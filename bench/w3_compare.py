#!/usr/bin/env python3
"""W3 login churn, side by side in one interleaved run: this checkout, optionally another
checkout (``--baseline DIR``, e.g. main before a change) and optionally pyftpdlib
(``--pyftpdlib PYTHON``, an interpreter that has it: ``python3 -m venv /tmp/peers &&
/tmp/peers/bin/pip install pyftpdlib``) and optionally this checkout with RedisEngine off
(``--unlogged``: what the six records of a session cost)::

    python3 bench/w3_compare.py --baseline /tmp/ftpredis-main --pyftpdlib /tmp/peers/bin/python

Each round runs, for 1 then 16 client threads and for every server in a rotating order,
``--sessions`` sessions of connect, greeting, USER, PASS, PWD, QUIT (ftpredis logs every
command to its private redis-server, ``RedisLogOnEvent ALL``, and the records are
counted); it prints the server's CPU time per session and sessions/s, medians over the
rounds, and the median of the per-round CPU ratios of this checkout to the baseline.
Uses ``bench/ftpredis_bench.py``'s client, stacks and process accounting; only
127.0.0.1; stops exactly the processes it started.  Benchmarks are not tests.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ftpredis_bench as b  # noqa: E402


def start_pyftpdlib(python, root):
    port = b.free_port()
    log = open(os.path.join(os.path.dirname(root), "pyftpdlib.log"), "ab")
    proc = subprocess.Popen([python, "-m", "pyftpdlib", "-i", b.HOST, "-p", str(port), "-w",
                             "-d", root, "-u", b.USER, "-P", b.PASSWORD],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 20
    while True:
        try:
            c = b.Ctl(port, 5)
            c.login()
            c.quit()
            return proc, log, port
        except (OSError, b.FTPError):
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                log.close()
                raise RuntimeError("pyftpdlib did not start (is it installed for %s?)"
                                   % python)
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", metavar="DIR", help="another ftpredis checkout")
    ap.add_argument("--pyftpdlib", metavar="PYTHON", help="a Python with pyftpdlib")
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--client-procs", type=int, default=1,
                    help="spread the 16 client threads over N processes")
    ap.add_argument("--python", default=sys.executable, help="runs ftpredis")
    ap.add_argument("--unlogged", action="store_true",
                    help="also run this checkout with RedisEngine off (ftpredis-unlogged): "
                    "what its records cost")
    ap.add_argument("--directive", action="append", default=[], metavar="LINE",
                    help="a config line added to this checkout's server (repeatable), "
                    "e.g. --directive 'BusyPoll off'")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="ftpredis-w3-")
    root = os.path.join(base, "root")
    os.makedirs(root)
    pwhash = b.sha512_crypt(b.PASSWORD)
    servers, stacks, peer = [], [], None
    try:
        trees = [("ftpredis", b.PROJECT, True)]
        if args.unlogged:
            trees.append(("ftpredis-unlogged", b.PROJECT, False))
        if args.baseline:
            trees.append(("baseline", os.path.abspath(args.baseline), True))
        for name, tree, logged in trees:
            b.PROJECT = tree        # Stack runs twistd from b.PROJECT
            st = b.Stack(name, base, types.SimpleNamespace(
                idle_sessions=0, workers=1, python=args.python,
                directive=args.directive if name.startswith("ftpredis") else []),
                logging=logged)
            stacks.append(st)
            st.start(root, pwhash)
            # (records counted for the logging servers only)
            servers.append((name, st.port, st.server.pid, st if logged else None))
        if args.pyftpdlib:
            peer = start_pyftpdlib(args.pyftpdlib, root)
            servers.append(("pyftpdlib", peer[2], peer[0].pid, None))
        res = {}
        n = args.sessions
        for r in range(args.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for conc in (1, 16):
                for name, port, pid, st in order:
                    if st is not None:
                        st.reset()
                    cpu0, t0 = b.tree_cpu(pid), time.perf_counter()
                    dl = b.Deadline(180)
                    procs = min(args.client_procs, conc)
                    if procs > 1:
                        b._churn_procs(port, n, conc, procs, dl)
                    else:
                        b._churn(port, n, conc, dl)
                    dt = time.perf_counter() - t0
                    lost = (6 * n - st.records(6 * n)) if st is not None else None
                    cpu = b.tree_cpu(pid) - cpu0
                    res.setdefault((name, conc), []).append((cpu / n * 1e6, n / dt, lost))
                    print("round %d W3c%-2d %-9s %5.0f us/session %6.0f sessions/s%s" % (
                        r, conc, name, cpu / n * 1e6, n / dt,
                        "" if lost is None else "  lost %d" % lost), flush=True)
    finally:
        if peer is not None:
            peer[0].send_signal(signal.SIGTERM)
            try:
                peer[0].wait(15)
            except subprocess.TimeoutExpired:
                peer[0].kill()
                peer[0].wait()
            peer[1].close()
        for st in stacks:
            st.stop()
        shutil.rmtree(base, ignore_errors=True)
    print()
    print("| workload | server | CPU us/session | sessions/s | records lost |")
    print("|---|---|---|---|---|")
    for conc in (1, 16):
        for name, *_ in servers:
            v = res[(name, conc)]
            lost = [x[2] for x in v if x[2] is not None]
            print("| W3c%d | %s | %.0f | %.0f | %s |" % (
                conc, name, statistics.median(x[0] for x in v),
                statistics.median(x[1] for x in v), sum(lost) if lost else "-"))
    if args.baseline:
        for conc in (1, 16):
            ratios = [a[0] / z[0] for a, z in zip(res[("ftpredis", conc)],
                                                  res[("baseline", conc)]) if z[0]]
            print("W3c%d: CPU per session of this checkout / baseline, median of rounds: %.2f"
                  % (conc, statistics.median(ratios)))
    return 1 if any(x[2] for v in res.values() for x in v if x[2]) else 0


if __name__ == "__main__":
    sys.exit(main())

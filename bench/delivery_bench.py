#!/usr/bin/env python3
"""Delivery under failures: records lost and duplicated, and the worst FTP reply.

Runs ``twistd -n ftpredis`` from a checkout (``--project``, default this one) against
private redis-servers with ``appendfsync always`` (what Redis acknowledged survives its
own SIGKILL), drives one FTP session sending ``CWD /n<i>`` at ``--rate`` commands a
second (each CWD is logged with its full command line, so every record is known), and
counts what reached Redis::

    python3 bench/delivery_bench.py --scenario redis-kill      # (a) Redis SIGKILLed, restarted
    python3 bench/delivery_bench.py --scenario redis-silent    # Redis SIGSTOPped for 3 s
    python3 bench/delivery_bench.py --scenario failover        # (b) Sentinel: master SIGKILLed
    python3 bench/delivery_bench.py --scenario ftpredis-kill   # (c) ftpredis SIGKILLed, Redis down
    python3 bench/delivery_bench.py --scenario ftpredis-kill --no-spool --project /tmp/main

``lost`` = commands replied to whose record is not in Redis; ``dup`` = records that are
there more than once.  ``worst_ms`` is the slowest CWD reply the client saw.  Only
127.0.0.1 is used; the tool stops exactly the processes it started.  Not a test:
nothing is asserted.
"""

import argparse
import collections
import ftplib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tests.support import e2e  # noqa: E402
from tests.support.redisserver import RedisServer, SentinelServer  # noqa: E402

DURABLE = ("--appendonly", "yes", "--appendfsync", "always")
FAST = ("--repl-diskless-sync-delay", "0", "--shutdown-timeout", "0")

CONF = r"""
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
RedisEngine         on
%(redis)s
%(spool)s
LogFormat           dl "%%r"
RedisLogOnCommand   CWD dl cmds
"""


class Session:
    def __init__(self, port):
        self.ftp = ftplib.FTP(timeout=30)
        self.ftp.connect("127.0.0.1", port)
        self.ftp.login(e2e.USER, e2e.PASSWORD)
        self.sent = []
        self.worst = 0.0

    def run(self, rate, seconds, start=None):
        n = start if start is not None else len(self.sent)
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < seconds:
            due = t0 + i / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            cmd = "CWD /n%d" % (n + i)
            began = time.perf_counter()
            try:
                self.ftp.sendcmd(cmd)
            except ftplib.error_perm:
                pass                # 550: logged all the same
            self.worst = max(self.worst, time.perf_counter() - began)
            self.sent.append(cmd)
            i += 1


def twistd(project, conf, log):
    env = dict(os.environ)
    env["PYTHONPATH"] = project
    return subprocess.Popen(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n",
         "--pidfile=", "--logfile", log, "ftpredis", "--config", conf],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def settled(client, key, want, timeout=60.0):
    """The list once it holds ``want`` records or stopped growing for 3 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            n = client.llen(key)
        except OSError:
            n = -1
        if n != last:
            last, since = n, time.monotonic()
        if n >= want and time.monotonic() - since > 1.0 or time.monotonic() - since > 3.0:
            break
        time.sleep(0.1)
    return [json.loads(v)["raw_command"] for v in client.lrange(key)]


def count(sent, got):
    c = collections.Counter(got)
    lost = sum(1 for cmd in sent if cmd not in c)
    dup = sum(n - 1 for n in c.values() if n > 1)
    return lost, dup


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True,
                    choices=("redis-kill", "redis-silent", "failover", "ftpredis-kill"))
    ap.add_argument("--project", default=os.path.dirname(HERE))
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--no-spool", action="store_true")
    ap.add_argument("--sync", default="everysec")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ftpredis-delivery-")
    servers = []
    procs = []

    def server(*extra, cls=RedisServer, **kw):
        s = cls(*extra, **kw) if cls is SentinelServer else cls(extra)
        servers.append(s)
        return s.start()
    try:
        spool = "" if args.no_spool else ("RedisSpool %s/spool\nRedisSpoolSync %s"
                                          % (work, args.sync))
        port = e2e.free_port()
        if args.scenario == "failover":
            master = server(*(DURABLE + FAST))
            replica = server(*(DURABLE + FAST + ("--replicaof", "127.0.0.1",
                                                 str(master.port))))
            time.sleep(1.0)
            sentinels = [server([("m", "127.0.0.1", master.port, 2)], cls=SentinelServer)
                         for _ in range(3)]
            time.sleep(2.0)
            redis = "RedisSentinel %s master m" % " ".join(
                "127.0.0.1:%d" % s.port for s in sentinels)
        else:
            master = server(*DURABLE)
            redis = "RedisServer 127.0.0.1:%d" % master.port
        conf = e2e.write_site(work, CONF % {"redis": redis, "spool": spool}, port=port)
        log = os.path.join(work, "twistd.log")
        if args.scenario == "ftpredis-kill":
            master.stop()
        procs.append(twistd(args.project, conf, log))
        if not e2e.wait_listening(port, 30):
            raise SystemExit("ftpredis did not start; see " + log)
        s = Session(port)
        if args.scenario == "redis-kill":
            s.run(args.rate, 2.0)
            master.kill()
            s.run(args.rate, 1.0)
            master.start(same_port=True)
            s.run(args.rate, 3.0)
            target = master
        elif args.scenario == "redis-silent":
            s.run(args.rate, 2.0)
            master.pause()          # SIGSTOP: connections stay open, nothing answers
            s.run(args.rate, 3.0)
            master.resume()
            s.run(args.rate, 2.0)
            target = master
        elif args.scenario == "failover":
            s.run(args.rate, 2.0)
            master.kill()
            t0 = time.monotonic()
            while sentinels[0].master_addr("m") != ("127.0.0.1", replica.port):
                s.run(args.rate, 0.2)
                if time.monotonic() - t0 > 60:
                    raise SystemExit("no failover")
            s.run(args.rate, 3.0)
            target = replica
        else:
            s.run(args.rate, 0.9)
            procs[0].send_signal(signal.SIGKILL)   # right after the last reply
            procs[0].wait()
            master.start(same_port=True)
            procs.append(twistd(args.project, conf, log))
            target = master
        try:
            s.ftp.close()
        except Exception:
            pass
        got = settled(target.client(), b"cmds", len(s.sent))
        lost, dup = count(s.sent, got)
        print(json.dumps({"scenario": args.scenario, "project": args.project,
                          "spool": not args.no_spool, "commands": len(s.sent),
                          "records": len(got), "lost": lost, "dup": dup,
                          "worst_ms": round(s.worst * 1000, 1)}))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for s in servers:
            s.cleanup()
        if args.keep or (locals().get("lost") or 0) > 0:
            print("kept " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

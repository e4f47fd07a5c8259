"""The cost of one disk job: ftpredis's DiskPool against Twisted's deferToThread.

    python3 bench/diskpool_bench.py pool 8      # DiskPool, 8 jobs in flight
    python3 bench/diskpool_bench.py twisted 8   # deferToThread
    python3 bench/diskpool_bench.py inline 8    # the call itself, no thread

Runs 20,000 ``os.fstat`` jobs through ftpredis's reactor and prints wall and CPU time
per job (doc/disk.rst has the figures).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ftpredis.app import reactor as _reactor_mod  # noqa: E402

_reactor_mod.install()

from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.threads import deferToThread  # noqa: E402

from ftpredis.ftp.diskpool import pool_for  # noqa: E402

N = 20000


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "pool"
    conc = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    pool = pool_for(reactor)
    fd = os.open("/", os.O_RDONLY)

    def one():
        if mode == "pool":
            return pool.run(os.fstat, fd)
        if mode == "twisted":
            return deferToThread(os.fstat, fd)
        return defer.succeed(os.fstat(fd))

    @defer.inlineCallbacks
    def worker(n):
        for _ in range(n):
            yield one()

    @defer.inlineCallbacks
    def run():
        c0, t0 = time.process_time(), time.perf_counter()
        yield defer.gatherResults([worker(N // conc) for _ in range(conc)])
        c1, t1 = time.process_time(), time.perf_counter()
        print("%s, %d in flight: wall %.1f us/job, CPU %.1f us/job"
              % (mode, conc, (t1 - t0) / N * 1e6, (c1 - c0) / N * 1e6))
        reactor.stop()
    reactor.callWhenRunning(run)
    reactor.run()


if __name__ == "__main__":
    main()

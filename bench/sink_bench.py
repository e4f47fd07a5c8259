# -*- test-case-name: tests.test_sink -*-
"""Benchmark (not a test): how many records/s one RedisSink gets into a private redis-server.

    python3 bench/sink_bench.py [N] [KEYS] [VALUE_BYTES]

Pushes N records (default 200000, about 200-byte JSON each, spread over KEYS keys) as
fast as possible in chunks of 1000 per reactor turn (so the writer runs in between, as
with real FTP traffic), and reports records/s from the first push until Redis
acknowledged the last one, plus the number of RPUSH commands Redis saw.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import reactor, task  # noqa: E402

from ftpredis.config.model import RedisTarget  # noqa: E402
from ftpredis.redis.sink import RedisSink  # noqa: E402
from tests.support.redisserver import RedisServer  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    nkeys = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    server = RedisServer().start()
    try:
        target = RedisTarget(host="127.0.0.1", port=server.port, buffer_size=max(n, 1))
        sink = RedisSink(target)
        sink.startService()
        keys = [b"bench:%d" % i for i in range(nkeys)]
        pad = b"x" * max(0, size - 60)
        state = {"i": 0, "t0": None, "t1": None}

        def pushChunk():
            if state["t0"] is None:
                state["t0"] = time.perf_counter()
            i = state["i"]
            end = min(n, i + 1000)
            for j in range(i, end):
                sink.push(keys[j % nkeys], b'{"command":"STOR","n":%d,"pad":"%s"}' % (j, pad))
            state["i"] = end
            if end >= n:
                loop.stop()

        def check():
            if sink.sent >= n:
                state["t1"] = time.perf_counter()
                checker.stop()
                sink.stopService().addBoth(lambda _: reactor.stop())

        loop = task.LoopingCall(pushChunk)
        loop.clock = reactor
        loop.start(0)
        checker = task.LoopingCall(check)
        checker.start(0.001)
        reactor.run()
        elapsed = state["t1"] - state["t0"]
        client = server.client()
        total = sum(client.llen(k) for k in keys)
        print("records=%d keys=%d value_bytes~%d: %.3f s, %.0f records/s; in Redis: %d; "
              "RPUSH commands: %d; dropped=%d"
              % (n, nkeys, size, elapsed, n / elapsed, total,
                 client.commandstats().get("rpush", 0), sink.dropped))
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()

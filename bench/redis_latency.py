# -*- test-case-name: tests.test_sink_stall -*-
"""Benchmark (not a test): what the Redis side costs.

    python3 bench/redis_latency.py [RECORDS] [NOOPS]

1. Sink throughput: RECORDS (default 200000) ~200-byte JSON records pushed into one
   RedisSink (1000 per reactor turn) against a private redis-server; records/s from the
   first push until Redis acknowledged the last one.
2. FTP command latency: the real ftpredis service in-process (config file, FTP server,
   router, sink; ``RedisLogOnEvent ALL``), an ftplib client in a thread sending NOOPS
   (default 2000) NOOPs on one session; p50/p99/max round trip with Redis
   * healthy:    a private redis-server,
   * down:       a closed port (connection refused),
   * blackholed: a listener that accepts and never answers.

Loopback only; it starts and stops everything it uses, and is bounded in time and count.
"""

import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import defer, protocol, reactor, task, threads  # noqa: E402

from ftpredis.config import load_config  # noqa: E402
from ftpredis.config.model import RedisTarget  # noqa: E402
from ftpredis.app.service import FTPRedisService  # noqa: E402
from ftpredis.redis.sink import RedisSink  # noqa: E402
from tests.support import e2e  # noqa: E402
from tests.support.redisserver import RedisServer  # noqa: E402

CONFIG = r"""
ServerName          "bench"
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
DefaultRoot         ~
RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
RedisLog            {base}/redis.log
LogFormat           every "%m %s %u %a %{{iso8601}} %r"
RedisLogOnEvent     ALL every
"""

LIMIT = 120.0       # seconds, per phase


@defer.inlineCallbacks
def sink_throughput(n):
    server = RedisServer().start()
    try:
        sink = RedisSink(RedisTarget(host="127.0.0.1", port=server.port, buffer_size=n))
        sink.startService()
        pad = b"x" * 140
        t0 = time.perf_counter()
        for start in range(0, n, 1000):
            for j in range(start, min(n, start + 1000)):
                sink.push(b"bench", b'{"command":"STOR","n":%d,"pad":"%s"}' % (j, pad))
            yield task.deferLater(reactor, 0, lambda: None)
        deadline = time.monotonic() + LIMIT
        while sink.sent < n and time.monotonic() < deadline:
            yield task.deferLater(reactor, 0.001, lambda: None)
        elapsed = time.perf_counter() - t0
        rpush = server.client().commandstats().get("rpush", 0)
        llen = server.client().llen(b"bench")
        yield sink.stopService()
        return n / elapsed, elapsed, rpush, llen
    finally:
        server.cleanup()


class _Silent(protocol.Protocol):
    def connectionMade(self):
        self.factory.live.add(self)

    def connectionLost(self, reason):
        self.factory.live.discard(self)


def noops(port, count):
    ftp = e2e.ftp_connect(port)
    times = []
    deadline = time.monotonic() + LIMIT
    for _ in range(count):
        t = time.perf_counter()
        ftp.voidcmd("NOOP")
        times.append(time.perf_counter() - t)
        if time.monotonic() > deadline:
            break
    ftp.quit()
    return times


@defer.inlineCallbacks
def ftp_latency(state, count, base):
    cleanup = []
    if state == "healthy":
        server = RedisServer().start()
        cleanup.append(server.cleanup)
        redis_port = server.port
    elif state == "down":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        redis_port = s.getsockname()[1]
        s.close()
    else:
        f = protocol.ServerFactory()
        f.protocol = _Silent
        f.live = set()
        listener = reactor.listenTCP(0, f, interface="127.0.0.1")
        redis_port = listener.getHost().port
        cleanup.append(lambda: [c.transport.abortConnection() for c in list(f.live)])
        cleanup.append(listener.stopListening)
    try:
        port = e2e.free_port()
        conf = e2e.write_site(os.path.join(base, state), CONFIG, port=port,
                              redis_port=redis_port)
        service = FTPRedisService(load_config(conf))
        service.startService()
        sink = service.sinks.sinks()[0]
        times = yield threads.deferToThread(noops, port, count)
        if state == "healthy":
            deadline = time.monotonic() + 10
            while sink.buffered and time.monotonic() < deadline:
                yield task.deferLater(reactor, 0.01, lambda: None)
        counts = (sink.pushed, sink.sent, sink.buffered, sink.dropped)
        yield service.stopService()
        return times, counts
    finally:
        for c in reversed(cleanup):
            c()


def ms(x):
    return "%.3f ms" % (x * 1000.0)


@defer.inlineCallbacks
def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    import tempfile
    import shutil
    base = tempfile.mkdtemp(prefix="ftpredis-bench-")
    os.chmod(base, 0o755)
    try:
        rate, elapsed, rpush, llen = yield sink_throughput(n)
        print("sink throughput: %d records in %.2f s = %.0f records/s "
              "(%d RPUSH commands, LLEN %d)" % (n, elapsed, rate, rpush, llen))
        for state in ("healthy", "down", "blackholed"):
            times, (pushed, sent, buffered, dropped) = yield ftp_latency(state, count, base)
            times.sort()
            p50 = statistics.median(times)
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print("NOOP latency, Redis %-10s: n=%d p50 %s p99 %s max %s "
                  "(records pushed %d, sent %d, buffered %d, dropped %d)"
                  % (state, len(times), ms(p50), ms(p99), ms(times[-1]),
                     pushed, sent, buffered, dropped))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run():
    d = main()
    d.addErrback(lambda f: f.printTraceback())
    d.addBoth(lambda _: reactor.stop())


if __name__ == "__main__":
    reactor.callWhenRunning(run)
    reactor.run()

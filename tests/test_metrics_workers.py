# -*- test-case-name: tests.test_metrics_workers -*-
"""``ServerWorkers 2`` and the exporter: /metrics reports the whole server.

``twistd ftpredis`` runs as shipped, with a worker process beside the parent; real
ftplib sessions run until SystemLog shows both processes served some (its lines carry
``ftpredis[PID]``), and the counters scraped with curl must equal what all the sessions
did, gauges included.  A worker killed and started again must not take its counts with
it.  Also the merge itself (ftpredis.metrics.merge) on families built by hand.
"""

import io
import os
import re
import signal
import time

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
)
from prometheus_client.registry import CollectorRegistry
from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config import load_config
from ftpredis.metrics.merge import ServerCollector, to_json
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin, free_port
from tests.test_metrics import curl, samples, value

CONF = """\
Port                {port}
DefaultAddress      127.0.0.1
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
AllowOverwrite      on
ServerWorkers       2
SystemLog           {base}/system.log
PrometheusEngine    on
PrometheusExporter  127.0.0.1:%(mport)d
"""

def plain(scrape, name, **labels):
    """A sample without the ``protocol`` label (the process's own families)."""
    return scrape.get((name, tuple(sorted(labels.items()))), 0)


_PID = re.compile(r" ftpredis\[(\d+)\] .*FTP session opened")


def session(port, n):
    ftp = e2e.ftp_connect(port)
    ftp.storbinary("STOR f%d.txt" % n, io.BytesIO(b"x" * (n + 1)))
    got = []
    ftp.retrbinary("RETR f%d.txt" % n, got.append)
    ftp.retrlines("LIST", lambda line: None)
    ftp.quit()
    return len(b"".join(got))


class _WorkersSite:
    """twistd ftpredis with ServerWorkers 2, SystemLog and the exporter."""

    extra = ""

    def setUp(self):
        self.base = os.path.realpath(self.mktemp())
        self.mport = free_port()
        self.conf = e2e.write_site(self.base, CONF % {"mport": self.mport} + self.extra)
        self.port = load_config(self.conf).servers[0].port
        self.url = "http://127.0.0.1:%d/metrics" % self.mport
        self.log = os.path.join(self.base, "twistd.log")
        self.proc = e2e.twistd(["-n", "--pidfile=", "--logfile", self.log, "ftpredis",
                                "--config", self.conf], cwd=self.base)
        self.addCleanup(e2e.stop_process, self.proc)

    def children(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(pid) for pid in f.read().split()]
        except OSError:
            return []

    def pids_served(self):
        try:
            with open(os.path.join(self.base, "system.log")) as f:
                return set(int(m.group(1)) for m in _PID.finditer(f.read()))
        except OSError:
            return set()

    @defer.inlineCallbacks
    def scrape(self):
        status, body = yield e2e.in_thread(curl, self.url)
        self.assertEqual(status, 200, body)
        return samples(body)

    @defer.inlineCallbacks
    def started(self):
        up = yield e2e.wait_for(lambda: e2e.wait_listening(self.mport) and
                                e2e.wait_listening(self.port) and
                                len(self.children()) == 1, timeout=20)
        if not up:
            with open(self.log) as f:
                self.fail("twistd with ServerWorkers 2 did not start:\n" + f.read())
        # wait_listening's probes are connections too: let them end everywhere.
        yield e2e.wait_for(self._idle, timeout=20)
        return (yield self.scrape())

    def _idle(self):
        scrape = samples(curl(self.url)[1])
        return (value(scrape, "proftpd_connection_count") == 0 and
                value(scrape, "proftpd_connection_duration_seconds_count") ==
                value(scrape, "proftpd_connection_total"))


class WorkersTests(_WorkersSite, unittest.TestCase):

    @defer.inlineCallbacks
    def test_the_exporter_reports_every_worker(self):
        before = yield self.started()
        self.assertEqual(plain(before, "ftpredis_worker_processes"), 2)
        self.assertEqual(plain(before, "ftpredis_worker_processes_configured"), 2)
        sizes = 0
        n = 0
        # The kernel spreads connections by a hash of the client's port: go on until
        # both processes served some (SystemLog says which process opened a session).
        while n < 6 or (len(self.pids_served()) < 2 and n < 60):
            sizes += yield e2e.in_thread(session, self.port, n)
            n += 1
        self.assertEqual(self.pids_served(), {self.proc.pid} | set(self.children()))
        # Sessions held open on both processes count in the summed gauge.
        held = []
        self.addCleanup(lambda: [f.close() for f in held])
        while len(held) < 4 or len(self.pids_served()) < 2:
            held.append((yield e2e.in_thread(e2e.ftp_connect, self.port)))
            if len(held) > 40:
                break
        during = yield self.scrape()
        self.assertEqual(value(during, "proftpd_connection_count"), len(held))
        opened = n + len(held)
        for ftp in held:
            yield e2e.in_thread(ftp.quit)
        held = []
        self.assertTrue((yield e2e.wait_for(self._idle, timeout=20)))
        after = yield self.scrape()

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        self.assertEqual(moved("proftpd_connection_total"), opened)
        self.assertEqual(moved("proftpd_login_total"), opened)
        self.assertEqual(moved("proftpd_file_upload_total"), n)
        self.assertEqual(moved("proftpd_file_download_total"), n)
        self.assertEqual(moved("proftpd_directory_list_total"), n)
        self.assertEqual(moved("proftpd_file_upload_bytes_sum"), sizes)
        self.assertEqual(moved("proftpd_file_download_bytes_count"), n)
        self.assertEqual(moved("proftpd_file_download_bytes_bucket", le="+Inf"), n)
        self.assertEqual(moved("proftpd_connection_duration_seconds_count"), opened)
        self.assertEqual(value(after, "proftpd_connection_count"), 0)
        self.assertEqual(value(after, "proftpd_login_count"), 0)
        # Parent-only families appear once.
        info = [k for k in after if k[0] == "proftpd_build_info"]
        self.assertEqual(len(info), 1)
        self.assertEqual(plain(after, "proftpd_build_info", **dict(info[0][1])),
                         1)

    @defer.inlineCallbacks
    def test_a_worker_started_again_keeps_the_totals(self):
        yield self.started()
        n = 0
        while len(self.pids_served()) < 2 and n < 60:
            yield e2e.in_thread(session, self.port, n)
            n += 1
        self.assertEqual(len(self.pids_served()), 2, "the worker never got a session")
        yield e2e.wait_for(self._idle, timeout=20)
        before = yield self.scrape()
        worker = self.children()[0]
        os.kill(worker, signal.SIGKILL)
        self.assertTrue((yield e2e.wait_for(
            lambda: self.children() not in ([], [worker]), timeout=20)),
            "the worker was not started again")
        yield e2e.wait_for(lambda: plain(samples(curl(self.url)[1]),
                                         "ftpredis_worker_processes") == 2,
                           timeout=20)
        after = yield self.scrape()
        for name in ("proftpd_connection_total", "proftpd_login_total",
                     "proftpd_file_upload_total", "proftpd_file_upload_bytes_sum"):
            self.assertEqual(value(after, name), value(before, name), name)
        self.assertEqual(plain(after, "ftpredis_worker_restarts_total"), 1)
        self.assertEqual(plain(after, "ftpredis_worker_processes"), 2)


class _Fixed:
    def __init__(self, *families):
        self.families = families

    def collect(self):
        return list(self.families)


def _process(connections, open_now, durations):
    c = CounterMetricFamily("proftpd_connection", "Number of connections",
                            labels=("protocol",))
    c.add_metric(("ftp",), connections)
    g = GaugeMetricFamily("proftpd_connection_count", "Current count", labels=("protocol",))
    g.add_metric(("ftp",), open_now)
    h = HistogramMetricFamily("proftpd_connection_duration_seconds", "Durations",
                              labels=("protocol",))
    h.add_metric(("ftp",), [("1.0", durations[0]), ("+Inf", durations[1])], durations[2])
    info = GaugeMetricFamily("proftpd_startup_time", "Start", value=123)
    return _Fixed(info, c, g, h)


class MergeTests(unittest.TestCase):

    def test_counters_gauges_and_histograms_add_up(self):
        answers = {1: to_json([_process(5, 1, (2, 5, 7.5))]),
                   2: to_json([_process(3, 2, (1, 3, 4.0))])}
        collector = ServerCollector([_process(1, 0, (1, 1, 0.5))], lambda: answers)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        got = samples(generate_latest(registry).decode())
        self.assertEqual(value(got, "proftpd_connection_total"), 9)
        self.assertEqual(value(got, "proftpd_connection_count"), 3)
        self.assertEqual(value(got, "proftpd_connection_duration_seconds_bucket", le="1.0"), 4)
        self.assertEqual(value(got, "proftpd_connection_duration_seconds_bucket", le="+Inf"),
                         9)
        self.assertEqual(value(got, "proftpd_connection_duration_seconds_sum"), 12.0)
        self.assertEqual(plain(got, "proftpd_startup_time"), 123)
        # A worker that ended leaves its counters and histograms, not its gauges.
        collector.retire(answers.pop(2))
        got = samples(generate_latest(registry).decode())
        self.assertEqual(value(got, "proftpd_connection_total"), 9)
        self.assertEqual(value(got, "proftpd_connection_count"), 1)
        self.assertEqual(value(got, "proftpd_connection_duration_seconds_count"), 9)


class StoppedWorkerTests(_WorkersSite, unittest.TestCase):
    """A worker that does not answer (stopped with SIGSTOP) does not stop the scrape."""

    @defer.inlineCallbacks
    def test_a_silent_worker_counts_with_its_last_answer(self):
        yield self.started()
        n = 0
        while len(self.pids_served()) < 2 and n < 60:
            yield e2e.in_thread(session, self.port, n)
            n += 1
        self.assertEqual(len(self.pids_served()), 2, "the worker never got a session")
        yield e2e.wait_for(self._idle, timeout=20)
        before = yield self.scrape()
        self.assertEqual(value(before, "proftpd_login_total"), n)
        worker = self.children()[0]
        os.kill(worker, signal.SIGSTOP)
        self.addCleanup(os.kill, worker, signal.SIGCONT)
        t0 = time.monotonic()
        during = yield self.scrape()
        waited = time.monotonic() - t0
        os.kill(worker, signal.SIGCONT)
        self.assertEqual(value(during, "proftpd_login_total"), n)
        self.assertEqual(value(during, "proftpd_file_upload_total"), n)
        # The parent waited for the worker no longer than its bound (2 s), with room
        # for a loaded machine; curl's own limit is 10 s.
        self.assertLess(waited, 9)
        after = yield self.scrape()
        self.assertEqual(value(after, "proftpd_login_total"), n)


class WorkersOutageTests(RedisServerMixin, _WorkersSite, unittest.TestCase):
    """A Redis outage seen by both processes: the sinks' numbers are the server's."""

    redis_autostart = False

    def setUp(self):
        self.redis = self.startRedis()
        self.target = (("target", "127.0.0.1:%d" % self.redis.port),)
        self.extra = ("RedisEngine on\nRedisServer 127.0.0.1:%d\n"
                      "LogFormat sessions \"%%a %%E\"\n"
                      "RedisLogOnCommand CONNECT,DISCONNECT sessions\n" % self.redis.port)
        _WorkersSite.setUp(self)

    def sink(self, scrape, name):
        return scrape.get((name, self.target), 0)

    def settled(self, scrape):
        return (self.sink(scrape, "ftpredis_records_waiting") == 0 and
                self.sink(scrape, "ftpredis_records_delivered_total") ==
                self.sink(scrape, "ftpredis_records_accepted_total"))

    @defer.inlineCallbacks
    def until(self, predicate, what, timeout=30):
        ok = yield e2e.wait_for(lambda: predicate(samples(curl(self.url)[1])),
                                timeout=timeout)
        self.assertTrue(ok, "gave up waiting for " + what)
        return (yield self.scrape())

    @defer.inlineCallbacks
    def test_an_outage_shows_in_the_summed_sink_metrics(self):
        yield self.started()
        n = 0
        while n < 4 or (len(self.pids_served()) < 2 and n < 60):
            yield e2e.in_thread(e2e.ftp_connect(self.port).quit)
            n += 1
        self.assertEqual(len(self.pids_served()), 2, "the worker never got a session")
        yield e2e.wait_for(self._idle, timeout=20)
        up = yield self.until(self.settled, "every record delivered")
        client = self.redis.client()
        self.assertEqual(self.sink(up, "ftpredis_records_delivered_total"),
                         client.llen("sessions"))
        self.assertEqual(self.sink(up, "ftpredis_redis_connected"), 2)   # both processes
        accepted = self.sink(up, "ftpredis_records_accepted_total")
        delivered = self.sink(up, "ftpredis_records_delivered_total")

        self.redis.stop()
        yield self.until(lambda s: self.sink(s, "ftpredis_redis_connected") == 0,
                         "both sinks to see Redis gone")
        k = 6
        for _ in range(k):
            yield e2e.in_thread(e2e.ftp_connect(self.port).quit)
        down = yield self.until(
            lambda s: self.sink(s, "ftpredis_records_accepted_total") == accepted + 2 * k,
            "the outage's records")
        self.assertEqual(self.sink(down, "ftpredis_records_waiting"), 2 * k)
        self.assertEqual(self.sink(down, "ftpredis_records_delivered_total"), delivered)

        self.redis.start(same_port=True)        # a fresh, empty redis-server
        # A process with nothing waiting may reconnect after the other has drained.
        back = yield self.until(
            lambda s: self.settled(s) and self.sink(s, "ftpredis_redis_connected") == 2,
            "the waiting records to drain and both sinks to reconnect", timeout=60)
        self.assertEqual(self.sink(back, "ftpredis_records_delivered_total"),
                         accepted + 2 * k)
        self.assertEqual(self.redis.client().llen("sessions"), 2 * k)
        self.assertEqual(self.sink(back, "ftpredis_redis_connected"), 2)


class FreshAnswerTests(unittest.TestCase):
    """A scrape is never answered with numbers a worker made before that scrape asked,
    even after an earlier scrape gave up waiting on the same worker."""

    def test_late_answer_does_not_serve_a_later_scrape(self):
        from twisted.internet.task import Clock

        from ftpredis.metrics.workerlink import WorkerHub
        clock = Clock()
        retired = []
        collector = type("Collector", (), {"retire": lambda self, latest: retired.append(latest)})()
        hub = WorkerHub(clock, collector)
        sent = []
        hub.attach(0, sent.append)
        first = hub.refresh(timeout=2)
        self.assertEqual(len(sent), 1)
        clock.advance(2)                      # the worker is busy: the scrape gives up
        self.assertTrue(first.called)
        second = hub.refresh(timeout=5)
        self.assertEqual(len(sent), 1)        # one question out at a time
        hub.received(0, b'{"made": "before the second scrape"}\n')
        self.assertFalse(second.called)
        self.assertEqual(len(sent), 2)        # asked again at once
        hub.received(0, b'{"made": "after"}\n')
        self.assertTrue(second.called)
        self.assertEqual(hub.answers(), {0: b'{"made": "after"}'})
        # a worker that ends releases whoever waits on it
        third = hub.refresh(timeout=5)
        fourth = hub.refresh(timeout=5)
        self.assertFalse(third.called or fourth.called)
        hub.ended(0)
        self.assertTrue(third.called and fourth.called)
        self.assertEqual(retired, [b'{"made": "after"}'])

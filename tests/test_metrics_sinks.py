# -*- test-case-name: tests.test_metrics_sinks -*-
"""The ``ftpredis_`` sink metrics, scraped with real curl around a real Redis outage.

A private redis-server takes the CONNECT/DISCONNECT records of real ftplib sessions; the
exposition (parsed with prometheus_client's parser) must count exactly the records Redis
holds (LLEN), then, with the redis-server stopped, show the connection down and every
record made meanwhile waiting in memory, then, with it started again, show them
delivered; a RedisBufferSize too small for the outage shows as drops by reason.
"""

import os

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.app.service import FTPRedisService
from ftpredis.config import load_config
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin, free_port
from tests.support.waiting import waitFor
from tests.test_metrics import curl, samples

CONF = """\
Port                {port}
DefaultAddress      127.0.0.1
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
%(extra)s
LogFormat           sessions "%%a %%E %%s %%S"
RedisLogOnCommand   CONNECT,DISCONNECT sessions
<IfModule mod_prometheus.c>
  PrometheusEngine    on
  PrometheusExporter  127.0.0.1:%(mport)d
</IfModule>
"""

KEY = "sessions"
#: records one session makes: its CONNECT and its DISCONNECT
PER_SESSION = 2


def session(port):
    ftp = e2e.ftp_connect(port)
    ftp.pwd()
    ftp.quit()


class _SinkSite(RedisServerMixin):
    """A service with the exporter and one sink on ``self.redis``."""

    extra = ""

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        self.mport = free_port()
        conf = e2e.write_site(self.base, CONF % {"mport": self.mport, "extra": self.extra},
                              redis_port=self.redis.port)
        config = load_config(conf)
        self.port = config.servers[0].port
        self.service = FTPRedisService(config, shutdown_timeout=2)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.url = "http://127.0.0.1:%d/metrics" % self.mport
        self.target = "127.0.0.1:%d" % self.redis.port

    @defer.inlineCallbacks
    def scrape(self):
        status, body = yield e2e.in_thread(curl, self.url)
        self.assertEqual(status, 200, body)
        return samples(body)

    def value(self, scrape, name, **labels):
        labels["target"] = self.target
        return scrape.get((name, tuple(sorted(labels.items()))))

    @defer.inlineCallbacks
    def sessions(self, n):
        for _ in range(n):
            yield e2e.in_thread(session, self.port)

    def sink(self):
        [sink] = self.service.sinks.sinks()
        return sink


class SinkMetricsTests(_SinkSite, unittest.TestCase):

    @defer.inlineCallbacks
    def test_outage_shows_as_waiting_then_delivered(self):
        yield self.sessions(3)
        client = self.redis.client()
        yield waitFor(lambda: client.llen(KEY) == 3 * PER_SESSION
                      and self.sink().buffered == 0, "the first 6 records in Redis")
        first = yield self.scrape()
        v = lambda name, **kw: self.value(first, name, **kw)   # noqa: E731
        self.assertEqual(v("ftpredis_records_accepted_total"), 3 * PER_SESSION)
        self.assertEqual(v("ftpredis_records_delivered_total"), client.llen(KEY))
        self.assertEqual(v("ftpredis_records_waiting"), 0)
        self.assertEqual(v("ftpredis_redis_connected"), 1)
        self.assertEqual(v("ftpredis_redis_batches_in_flight"), 0)
        self.assertEqual(v("ftpredis_redis_reconnects_total"), 0)
        self.assertEqual(v("ftpredis_redis_sentinel_failovers_total"), 0)
        self.assertEqual([k for k in first if k[0] == "ftpredis_records_dropped_total"], [])

        self.redis.stop()
        yield waitFor(lambda: not self.sink().connected, "the sink to see Redis gone")
        yield self.sessions(2)
        made = 2 * PER_SESSION
        yield waitFor(lambda: self.sink().pushed == 3 * PER_SESSION + made,
                      "the outage's records to be handed to the sink")
        down = yield self.scrape()
        v = lambda name, **kw: self.value(down, name, **kw)   # noqa: E731
        self.assertEqual(v("ftpredis_redis_connected"), 0)
        self.assertEqual(v("ftpredis_records_waiting"), made)
        self.assertEqual(v("ftpredis_records_accepted_total"), 3 * PER_SESSION + made)
        self.assertEqual(v("ftpredis_records_delivered_total"), 3 * PER_SESSION)

        self.redis.start(same_port=True)        # a fresh, empty redis-server
        client = self.redis.client()
        yield waitFor(lambda: self.sink().buffered == 0, "the waiting records to drain",
                      limit=30)
        back = yield self.scrape()
        v = lambda name, **kw: self.value(back, name, **kw)   # noqa: E731
        self.assertEqual(v("ftpredis_records_waiting"), 0)
        self.assertEqual(v("ftpredis_redis_connected"), 1)
        self.assertEqual(v("ftpredis_records_delivered_total"), 3 * PER_SESSION + made)
        self.assertEqual(client.llen(KEY), made)
        self.assertEqual(v("ftpredis_redis_reconnects_total"), 1)
        self.assertEqual([k for k in back if k[0] == "ftpredis_records_dropped_total"], [])


class DroppedTests(_SinkSite, unittest.TestCase):
    """RedisBufferSize 3: an outage of 2 sessions (4 records) drops the newest one."""

    extra = "RedisBufferSize     3"

    @defer.inlineCallbacks
    def test_buffer_full_drops_are_counted_by_reason(self):
        yield self.sessions(1)
        client = self.redis.client()
        yield waitFor(lambda: client.llen(KEY) == PER_SESSION and self.sink().buffered == 0,
                      "the first records in Redis")
        self.redis.stop()
        yield waitFor(lambda: not self.sink().connected, "the sink to see Redis gone")
        yield self.sessions(2)
        yield waitFor(lambda: self.sink().pushed == 3 * PER_SESSION,
                      "the outage's records to be handed to the sink")
        down = yield self.scrape()
        self.assertEqual(self.value(down, "ftpredis_records_waiting"), 3)
        self.assertEqual(self.value(down, "ftpredis_records_dropped_total",
                                    reason="buffer_full"), 1)
        self.redis.start(same_port=True)
        yield waitFor(lambda: self.sink().buffered == 0, "the waiting records to drain",
                      limit=30)
        back = yield self.scrape()
        self.assertEqual(self.value(back, "ftpredis_records_delivered_total"), PER_SESSION + 3)
        self.assertEqual(self.value(back, "ftpredis_records_accepted_total"),
                         3 * PER_SESSION)
        self.assertEqual(self.redis.client().llen(KEY), 3)


class SpoolMetricsTests(_SinkSite, unittest.TestCase):
    """RedisSpool on: records waiting in the spool (count, bytes) during an outage, the
    batch round-trip histogram, duplicates avoided."""

    extra = "RedisSpool          {base}/spool"

    @defer.inlineCallbacks
    def test_spool_and_round_trips(self):
        yield self.sessions(1)
        client = self.redis.client()
        yield waitFor(lambda: client.llen(KEY) == PER_SESSION and self.sink().buffered == 0,
                      "the first records in Redis")
        up = yield self.scrape()
        v = lambda name, **kw: self.value(up, name, **kw)   # noqa: E731
        self.assertEqual(v("ftpredis_spool_records_waiting"), 0)
        self.assertEqual(v("ftpredis_records_duplicates_avoided_total"), 0)
        batches = v("ftpredis_redis_batch_rtt_seconds_count")
        self.assertGreaterEqual(batches, 1)
        self.assertEqual(v("ftpredis_redis_batch_rtt_seconds_bucket", le="+Inf"), batches)
        self.assertGreater(v("ftpredis_redis_batch_rtt_seconds_sum"), 0)
        self.redis.stop()
        yield waitFor(lambda: not self.sink().connected, "the sink to see Redis gone")
        yield self.sessions(2)
        yield waitFor(lambda: self.sink().pushed == 3 * PER_SESSION, "the outage's records")
        down = yield self.scrape()
        self.assertEqual(self.value(down, "ftpredis_spool_records_waiting"), 2 * PER_SESSION)
        self.assertGreater(self.value(down, "ftpredis_spool_bytes"), 0)
        self.assertEqual(self.value(down, "ftpredis_spool_records_refused_total"), 0)
        self.redis.start(same_port=True)
        yield waitFor(lambda: self.sink().buffered == 0, "drained", limit=30)
        back = yield self.scrape()
        self.assertEqual(self.value(back, "ftpredis_spool_records_waiting"), 0)
        self.assertEqual(self.redis.client().llen(KEY), 2 * PER_SESSION)

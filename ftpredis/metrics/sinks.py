# -*- test-case-name: tests.test_metrics_sinks -*-
"""ftpredis's own metrics (prefix ``ftpredis_``): the Redis sinks' state, read at scrape time.

This module owns the ``ftpredis_`` families about records on their way to Redis
(README.rst, "Metrics (Prometheus)", lists them).  :class:`SinkMetrics` is a
prometheus_client collector over the service's SinkRegistry: ``collect()`` reads each
sink's plain counters and gauges (ftpredis.redis.sink, RedisSink's docstring) and keeps
nothing of its own but the delivered high-water mark below.  A scrape runs in a thread
of the reactor's pool (ftpredis.metrics.exporter); reading an int attribute or taking
``len``/``dict`` of a container runs no Python code, so it needs no lock and never
holds the reactor.
"""

from __future__ import annotations

from typing import Dict, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ftpredis.redis.sink import RTT_BUCKETS

PREFIX = "ftpredis_"
T = ("target",)


class SinkMetrics:
    """The sinks of ``registry`` (a SinkRegistry) as ``ftpredis_`` metric families,
    one sample per sink, labelled ``target`` with the sink's address."""

    def __init__(self, registry):
        self.registry = registry
        # RedisSentinel's replay lowers a sink's ``sent`` by what it sends again and
        # raises it back once re-acknowledged; a Prometheus counter must never go down
        # (a drop reads as a reset), so the highest value seen is what is exported.
        self._delivered: Dict[int, int] = {}

    def collect(self) -> Iterable:
        accepted = CounterMetricFamily(
            PREFIX + "records_accepted", "Records handed to the Redis sink", labels=T)
        delivered = CounterMetricFamily(
            PREFIX + "records_delivered", "Records Redis acknowledged (RPUSH replied)",
            labels=T)
        dropped = CounterMetricFamily(
            PREFIX + "records_dropped", "Records dropped without reaching Redis, by reason",
            labels=T + ("reason",))
        waiting = GaugeMetricFamily(
            PREFIX + "records_waiting",
            "Records held in memory for Redis right now (in flight included)", labels=T)
        connected = GaugeMetricFamily(
            PREFIX + "redis_connected", "1 when a connection to Redis is usable, else 0",
            labels=T)
        in_flight = GaugeMetricFamily(
            PREFIX + "redis_batches_in_flight",
            "Batches written to Redis whose reply has not come yet", labels=T)
        reconnects = CounterMetricFamily(
            PREFIX + "redis_reconnects", "Connections to Redis made again after one was lost",
            labels=T)
        failovers = CounterMetricFamily(
            PREFIX + "redis_sentinel_failovers",
            "Times the sink connected to another master than the last one (RedisSentinel)",
            labels=T)
        duplicates = CounterMetricFamily(
            PREFIX + "records_duplicates_avoided",
            "Records of a resent batch that Redis's ledger already had and did not apply "
            "again (a lost reply, a reconnect, a failover, a spool replay)", labels=T)
        spooled = GaugeMetricFamily(
            PREFIX + "spool_records_waiting",
            "Records in the RedisSpool files that Redis has not acknowledged yet", labels=T)
        spool_bytes = GaugeMetricFamily(
            PREFIX + "spool_bytes", "Bytes of the RedisSpool files on disk", labels=T)
        refused = CounterMetricFamily(
            PREFIX + "spool_records_refused",
            "Records the RedisSpool could not take (full, write error): held in memory only",
            labels=T)
        recovered = CounterMetricFamily(
            PREFIX + "spool_records_recovered",
            "Records an earlier process left in the RedisSpool, replayed at start", labels=T)
        rtt = HistogramMetricFamily(
            PREFIX + "redis_batch_rtt_seconds",
            "Round trip of one batch to Redis, from sending it to its reply", labels=T)
        for sink in self.registry.sinks():
            target = (sink.address,)
            accepted.add_metric(target, sink.pushed)
            high = max(self._delivered.get(id(sink), 0), sink.sent)
            self._delivered[id(sink)] = high
            delivered.add_metric(target, high)
            for reason, n in sorted(dict(sink.dropped_by_reason).items()):
                dropped.add_metric(target + (reason,), n)
            waiting.add_metric(target, sink.buffered)
            connected.add_metric(target, 1 if sink.connected else 0)
            in_flight.add_metric(target, sink.batches_in_flight)
            reconnects.add_metric(target, sink.reconnects)
            failovers.add_metric(target, sink.failovers)
            duplicates.add_metric(target, sink.duplicates_avoided)
            spool = sink.spool
            if spool is not None:
                spooled.add_metric(target, spool.records)
                spool_bytes.add_metric(target, spool.bytes)
                refused.add_metric(target, spool.refused)
                recovered.add_metric(target, sink.recovered)
            counts = list(sink.rtt_counts)
            buckets, total = [], 0
            for bound, n in zip(RTT_BUCKETS + (float("inf"),), counts):
                total += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
            rtt.add_metric(target, buckets, sink.rtt_sum)
        return [accepted, delivered, dropped, waiting, connected, in_flight, reconnects,
                failovers, duplicates, spooled, spool_bytes, refused, recovered, rtt]

# -*- test-case-name: tests.test_metrics -*-
"""The metric objects: mod_prometheus's families, their values, and how they are read.

This module owns *what* is exported: each family's name, type, help text, labels and
histogram buckets, all as ProFTPD mod_prometheus 0.2 declares them (README.rst,
"Metrics", says where ftpredis differs), and the plain numbers behind them.

Values are plain dicts (label values -> number) changed on the reactor thread by
:mod:`ftpredis.metrics.events`; there is no lock because a scrape (prometheus_client's
Twisted resource renders in a thread of the reactor's pool) only copies them, and
copying a dict whose keys are tuples of strings runs no Python code, so it cannot
interleave with a change.  :class:`ProftpdMetrics` is a prometheus_client collector:
``collect()`` turns those copies into metric families.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import Callable, Dict, Iterable, Optional, Tuple

from prometheus_client.core import (
    CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
)

PREFIX = "proftpd_"
#: The mod_prometheus version whose names, labels and buckets these follow.
MOD_PROMETHEUS_VERSION = "mod_prometheus/0.2"

# mod_prometheus's buckets (its create_session_metrics).
DURATION_BUCKETS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21600, 86400)
LOGIN_DELAY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BYTES_BUCKETS = (10240, 51200, 102400, 1048576, 10485760, 52428800, 104857600,
                 524288000, 1073741824, 107374182400)

Key = Tuple[str, ...]


class Counter:
    """One counter family (exported as ``<name>_total``)."""

    kind = "counter"

    def __init__(self, name: str, doc: str, labels: Tuple[str, ...]):
        self.name, self.doc, self.labels = PREFIX + name, doc, labels
        self.values: Dict[Key, float] = {}

    def inc(self, key: Key, amount: float = 1) -> None:
        values = self.values
        values[key] = values.get(key, 0) + amount

    def family(self):
        family = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in dict(self.values).items():
            family.add_metric(key, value)
        return family


class Gauge(Counter):
    """One gauge family; may go down."""

    kind = "gauge"

    def family(self):
        family = GaugeMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in dict(self.values).items():
            family.add_metric(key, value)
        return family


class Histogram:
    """One histogram family with fixed buckets (``<name>_bucket``, ``_sum``, ``_count``)."""

    kind = "histogram"

    def __init__(self, name: str, doc: str, labels: Tuple[str, ...], buckets):
        self.name, self.doc, self.labels = PREFIX + name, doc, labels
        self.buckets = tuple(float(b) for b in buckets)
        # key -> [count in each bucket (not cumulative) ..., count above the last, sum]
        self.values: Dict[Key, list] = {}

    def observe(self, key: Key, value: float) -> None:
        row = self.values.get(key)
        if row is None:
            row = self.values[key] = [0] * (len(self.buckets) + 1) + [0.0]
        row[bisect_left(self.buckets, value)] += 1
        row[-1] += value

    def family(self):
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for key, row in dict(self.values).items():
            row = list(row)
            total, buckets = 0, []
            for bound, n in zip(self.buckets + (float("inf"),), row[:-1]):
                total += n
                buckets.append(("+Inf" if bound == float("inf") else _bound(bound), total))
            family.add_metric(key, buckets, row[-1])
        return family


def _bound(value: float) -> str:
    return repr(value) if value != int(value) else "%d.0" % value


P = ("protocol",)


class ProftpdMetrics:
    """Every mod_prometheus family ftpredis feeds, as one prometheus_client collector.

    ``sample_transfers``, when given, is called at each scrape and returns
    ``{(family name, protocol): count}`` for the in-progress gauges the event flow cannot
    keep (an event is emitted when a command ends, not when it starts).
    """

    def __init__(self, version: str, clock: Callable[[], float] = time.time,
                 sample_transfers: Optional[Callable[[], dict]] = None):
        self.version = version
        self.startup_time = clock()
        self.sample_transfers = sample_transfers
        c, g, h = Counter, Gauge, Histogram
        self.connection = c("connection", "Number of connections", P)
        self.connection_count = g("connection_count", "Current count of connections", P)
        self.connection_duration = h("connection_duration_seconds",
                                     "Connection durations in seconds", P, DURATION_BUCKETS)
        self.login = c("login", "Number of successful logins", P)
        self.login_count = g("login_count", "Current count of logins", P)
        self.login_delay = h("login_delay_seconds", "Delay before login in seconds", P,
                             LOGIN_DELAY_BUCKETS)
        self.login_error = c("login_error", "Number of failed logins", P)
        self.auth = c("auth", "Number of successful authentications", ("method",) + P)
        self.auth_error = c("auth_error", "Number of failed authentications",
                            ("reason",) + P)
        self.directory_list = c("directory_list", "Number of successful directory listings",
                                P)
        self.directory_list_error = c("directory_list_error",
                                      "Number of failed directory listings", P)
        self.file_download = c("file_download", "Number of successful file downloads", P)
        self.file_download_error = c("file_download_error",
                                     "Number of failed file downloads", P)
        self.file_download_bytes = h("file_download_bytes",
                                     "Amount of data downloaded in bytes", P, BYTES_BUCKETS)
        self.file_upload = c("file_upload", "Number of successful file uploads", P)
        self.file_upload_error = c("file_upload_error", "Number of failed file uploads", P)
        self.file_upload_bytes = h("file_upload_bytes", "Amount of data uploaded in bytes",
                                   P, BYTES_BUCKETS)
        self.timeout = c("timeout", "Number of timeouts", ("reason",) + P)
        self.connection_refused = c("connection_refused", "Number of refused connections",
                                    ("reason",) + P)
        self.handshake_error = c("handshake_error", "Number of failed SFTP/TLS handshakes",
                                 ("connection",) + P)
        self.tls_protocol = c("tls_protocol", "Number of TLS sessions by protocol version",
                              ("version",) + P)
        self.sftp_protocol = c("sftp_protocol", "Number of SFTP sessions by protocol version",
                               ("version",) + P)
        self.families = (self.auth, self.auth_error, self.connection, self.connection_count,
                         self.connection_duration, self.login, self.login_count,
                         self.login_delay, self.login_error, self.directory_list,
                         self.directory_list_error, self.file_download,
                         self.file_download_error, self.file_download_bytes,
                         self.file_upload, self.file_upload_error, self.file_upload_bytes,
                         self.timeout, self.connection_refused, self.handshake_error,
                         self.tls_protocol, self.sftp_protocol)

    #: The in-progress gauges sampled at scrape time, by family name.
    SAMPLED = (("directory_list_count", "Current count of directory listings"),
               ("file_download_count", "Current count of file downloads"),
               ("file_upload_count", "Current count of file uploads"))

    def collect(self) -> Iterable:
        info = GaugeMetricFamily(PREFIX + "build_info", "ProFTPD build information",
                                 labels=("mod_prometheus_version", "proftpd_version"))
        info.add_metric((MOD_PROMETHEUS_VERSION, "ftpredis/%s" % self.version), 1)
        yield info
        yield GaugeMetricFamily(PREFIX + "startup_time",
                                "ProFTPD startup time, in unixtime seconds",
                                value=int(self.startup_time))
        for family in self.families:
            yield family.family()
        sampled = self.sample_transfers() if self.sample_transfers is not None else {}
        for name, doc in self.SAMPLED:
            family = GaugeMetricFamily(PREFIX + name, doc, labels=P)
            for (which, protocol), n in sorted(sampled.items()):
                if which == name:
                    family.add_metric((protocol,), n)
            yield family

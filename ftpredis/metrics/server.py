# -*- test-case-name: tests.test_metrics_server -*-
"""Metrics about the server process rather than its sessions.

This module owns four families and when they move:

- ``ftpredis_reloads_total{result="ok"|"refused"}``: SIGHUP reloads (the service calls
  :meth:`ServerMetrics.reloaded`; ftpredis.app.service);
- ``ftpredis_worker_processes`` / ``_configured`` and ``ftpredis_worker_restarts_total``:
  the processes serving FTP under ``ServerWorkers`` (ftpredis.metrics.workerlink);
- ``ftpredis_bans_added_total`` / ``ftpredis_bans_enforced_total{source,type}``: read at
  scrape time from the BanRegistry's plain counters (ftpredis.ban.bans);
- ``proftpd_log_message_total{level}`` (``PrometheusOptions EnableLogMessageMetrics``, as
  mod_prometheus): every message that reaches twistd's log, counted by a log observer.

Scrapes read plain ints and copies of dicts (ftpredis.metrics.registry says why that
needs no lock on the reactor's side); the log observer may run in any thread that logs,
so its counter alone takes a lock.
"""

from __future__ import annotations

import threading
from typing import Dict, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from twisted.logger import LogLevel

#: twisted.logger's levels -> mod_prometheus's ``level`` words (its prom_log_msg_ev).
#: ProFTPD's emerg, alert and notice have no Twisted level: they never appear.
LEVELS = {LogLevel.critical: "crit", LogLevel.error: "error", LogLevel.warn: "warn",
          LogLevel.info: "info", LogLevel.debug: "debug"}


class LogMessages:
    """A twisted.logger observer counting messages by level, and their family."""

    def __init__(self, keep=None):
        self._lock = threading.Lock()
        self._keep = keep
        self.counts: Dict[str, int] = {}

    def __call__(self, event) -> None:
        level = LEVELS.get(event.get("log_level"))
        if level is None or (self._keep is not None and not self._keep(event)):
            return
        with self._lock:
            self.counts[level] = self.counts.get(level, 0) + 1

    def collect(self) -> Iterable:
        family = CounterMetricFamily("proftpd_log_message", "Number of log_messages",
                                     labels=("level", "protocol"))
        with self._lock:
            counts = dict(self.counts)
        for level, n in sorted(counts.items()):
            family.add_metric((level, "ftp"), n)
        return [family]


class ServerMetrics:
    """The ``ftpredis_`` families of the process (see the module docstring)."""

    def __init__(self, bans=None, hub=None, planned: int = 1):
        self.bans = bans
        self.hub = hub
        self.planned = planned
        self.reloads: Dict[str, int] = {"ok": 0, "refused": 0}

    def reloaded(self, ok: bool) -> None:
        key = "ok" if ok else "refused"
        self.reloads[key] += 1

    def collect(self) -> Iterable:
        out = []
        reloads = CounterMetricFamily("ftpredis_reloads",
                                      "Configuration reloads (SIGHUP), by result",
                                      labels=("result",))
        for result, n in sorted(self.reloads.items()):
            reloads.add_metric((result,), n)
        out.append(reloads)
        hub = self.hub
        out.append(GaugeMetricFamily("ftpredis_worker_processes",
                                     "Processes serving FTP now (ServerWorkers: the parent "
                                     "and its workers)",
                                     value=hub.alive() if hub is not None else 1))
        out.append(GaugeMetricFamily("ftpredis_worker_processes_configured",
                                     "Processes ServerWorkers asks for", value=self.planned))
        out.append(CounterMetricFamily("ftpredis_worker_restarts",
                                       "Worker processes started again after one ended",
                                       value=hub.restarts if hub is not None else 0))
        out.extend(_ban_families(self.bans))
        return out


ST = ("source", "type")


def _ban_families(bans) -> Iterable:
    added = CounterMetricFamily(
        "ftpredis_bans_added",
        "Bans this process learned: source=local (added here, BanOnEvent), source=shared "
        "(read from the BanCache in Redis, added by another node)", labels=ST)
    enforced = CounterMetricFamily(
        "ftpredis_bans_enforced",
        "Sessions refused or ended by a ban, by where the ban was found", labels=ST)
    if bans is not None:
        counts_added, counts_enforced = bans.ban_counts()
        for (source, ban_type), n in sorted(counts_added.items()):
            added.add_metric((source, ban_type), n)
        for (source, ban_type), n in sorted(counts_enforced.items()):
            enforced.add_metric((source, ban_type), n)
    return [added, enforced]

# -*- test-case-name: tests.test_metrics_workers -*-
"""The whole server's metrics when ``ServerWorkers N`` runs N processes: one exposition.

This module owns how the families of several processes become one: a worker turns its
families into one line of JSON (:func:`to_json`, in a thread of its pool), the parent
adds them to its own (:class:`ServerCollector`, in the scrape's thread).  Samples of the
same name and labels are summed, whatever the family's type: counters and gauges add up
(``proftpd_connection_count`` is the server's open sessions, ``ftpredis_redis_connected``
the processes connected to that target), and a histogram's cumulative buckets, ``_sum``
and ``_count`` add up to the merged histogram.  The families that describe the server as
a whole (:data:`PARENT_ONLY`: build information, start time, reloads, worker processes)
are the parent's alone, and so are the bans learned from the shared BanCache
(:data:`PARENT_ONLY_SAMPLES`): every process reads the same cache, so summing would count
each such ban once per process.

A worker that ended leaves its counters and histograms behind (:meth:`ServerCollector.
retire`): the server's totals never go down when a worker is started again, which
Prometheus would read as a reset.  Its gauges go with it (its sessions went too).
"""

from __future__ import annotations

import json
from typing import Dict, Iterable, List, Optional, Tuple

from prometheus_client.metrics_core import Metric

#: Families only the parent reports (a worker's copy of them is ignored).
PARENT_ONLY = frozenset({
    "proftpd_build_info", "proftpd_startup_time", "ftpredis_reloads",
    "ftpredis_worker_processes", "ftpredis_worker_processes_configured",
    "ftpredis_worker_restarts",
})
#: Samples (name, label, value) only the parent reports.
PARENT_ONLY_SAMPLES = frozenset({("ftpredis_bans_added_total", "source", "shared")})
#: Types whose samples only grow; kept when their worker has ended.
_KEPT = frozenset({"counter", "histogram"})

SampleKey = Tuple[str, Tuple[Tuple[str, str], ...]]


def families(collectors) -> List[Metric]:
    found = []
    for collector in collectors:
        found.extend(collector.collect())
    return found


def to_json(collectors) -> bytes:
    """One worker's families as one line of JSON (no newline in it)."""
    rows = [[f.name, f.type, f.documentation,
             [[s.name, s.labels, s.value] for s in f.samples if not _parents(s)]]
            for f in families(collectors) if f.name not in PARENT_ONLY]
    return json.dumps(rows, separators=(",", ":")).encode("utf-8")


def _parents(sample) -> bool:
    return any(sample.name == name and sample.labels.get(label) == value
               for name, label, value in PARENT_ONLY_SAMPLES)


class _Family:
    __slots__ = ("name", "type", "doc", "values")

    def __init__(self, name, typ, doc):
        self.name, self.type, self.doc = name, typ, doc
        self.values: Dict[SampleKey, float] = {}

    def add(self, sample_name, labels, value):
        key = (sample_name, tuple(sorted(labels.items())))
        self.values[key] = self.values.get(key, 0) + value


class _Sum:
    """Families being added up, in the order they were first seen."""

    def __init__(self):
        self.families: Dict[str, _Family] = {}

    def add_rows(self, rows, only_kept=False):
        for name, typ, doc, samples in rows:
            if name in PARENT_ONLY or (only_kept and typ not in _KEPT):
                continue
            family = self.families.get(name)
            if family is None:
                family = self.families[name] = _Family(name, typ, doc)
            for sample_name, labels, value in samples:
                family.add(sample_name, labels, value)

    def metrics(self) -> List[Metric]:
        out = []
        for f in self.families.values():
            metric = Metric(f.name, f.doc, f.type)
            for (sample_name, labels), value in f.values.items():
                metric.add_sample(sample_name, dict(labels), value)
            out.append(metric)
        return out


def _rows(metrics: Iterable[Metric]):
    return [[f.name, f.type, f.documentation,
             [[s.name, s.labels, s.value] for s in f.samples]] for f in metrics]


class ServerCollector:
    """The exporter's one collector: the families of ``collectors`` (this process), plus,
    under ServerWorkers, the last answer of each worker (``answers()``: ``{worker
    index: JSON bytes}``) and what ended workers left behind."""

    def __init__(self, collectors, answers=None):
        self.collectors = list(collectors)
        self.answers = answers
        self._left: Optional[_Sum] = None   # counters of ended workers, summed

    def retire(self, answer: Optional[bytes]) -> None:
        """A worker ended; ``answer`` was its last one.  Runs on the reactor, replacing
        the attribute in one step, so a scrape in progress sees the old or new sum."""
        if not answer:
            return
        left = _Sum()
        if self._left is not None:
            left.add_rows(_rows(self._left.metrics()))
        left.add_rows(json.loads(answer), only_kept=True)
        self._left = left

    def collect(self):
        own = families(self.collectors)
        answers = dict(self.answers()) if self.answers is not None else {}
        if not answers and self._left is None:
            return own
        total = _Sum()
        parent = [f for f in own if f.name in PARENT_ONLY]
        total.add_rows(_rows(f for f in own if f.name not in PARENT_ONLY))
        for _, answer in sorted(answers.items()):
            if answer:
                total.add_rows(json.loads(answer))
        left = self._left
        if left is not None:
            total.add_rows(_rows(left.metrics()))
        return parent + total.metrics()

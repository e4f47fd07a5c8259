# -*- test-case-name: tests.test_metrics_workers -*-
"""How ``PrometheusEngine on`` is put together in one process.

This module owns the assembly: the collectors every process has (mod_prometheus's
families, the Redis sinks', the process's own, the log messages when asked for), the
event subscriber, and what serves them: the exporter on PrometheusExporter's address in
the parent (ftpredis.metrics.exporter), with a :class:`~ftpredis.metrics.workerlink.
WorkerHub` when ServerWorkers starts workers; in a worker, a :class:`~ftpredis.metrics.
workerlink.WorkerReporter` answering the parent over its pipes.  ftpredis.app.service
calls :func:`build` and knows only the result's ``subscriber``, ``server_metrics``,
``hub`` and ``log_file``.
"""

from __future__ import annotations

from ftpredis.metrics.events import MetricsSubscriber
from ftpredis.metrics.merge import ServerCollector
from ftpredis.metrics.registry import ProftpdMetrics
from ftpredis.metrics.server import LogMessages, ServerMetrics
from ftpredis.metrics.sinks import SinkMetrics


def build(main, reactor, version, in_progress, sinks, bans=None, planned=1,
          in_worker=False, worker_fds=None, log_file=None, log_filter=None):
    """The exporter service (parent) or the worker's reporter service for ``main`` (the
    main server's config).  ``planned``: the processes ServerWorkers asks for;
    ``log_filter(event)`` is false for log events twistd's log drops (not counted)."""
    metrics = ProftpdMetrics(version, sample_transfers=in_progress)
    server_metrics = ServerMetrics(bans, planned=planned)
    collectors = [metrics, SinkMetrics(sinks), server_metrics]
    log_messages = None
    if "EnableLogMessageMetrics" in getattr(main, "prometheus_options", ()):
        log_messages = LogMessages(log_filter)
        collectors.append(log_messages)
    subscriber = MetricsSubscriber(metrics)
    if in_worker:
        from ftpredis.metrics.workerlink import WorkerReporter
        svc = WorkerReporter(reactor, worker_fds, collectors, subscriber)
    else:
        from ftpredis.metrics.exporter import ExporterService
        collector = ServerCollector(collectors)
        hub = None
        if planned > 1:
            from ftpredis.metrics.workerlink import WorkerHub
            hub = WorkerHub(reactor, collector, planned)
            collector.answers = hub.answers
            server_metrics.hub = hub
        svc = ExporterService(reactor, main.prometheus_exporter, collector, log_file,
                              refresh=hub.refresh if hub is not None else None)
        svc.hub = hub
    svc.subscriber = subscriber
    svc.server_metrics = server_metrics
    svc.log_messages = log_messages
    return svc

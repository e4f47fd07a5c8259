# -*- test-case-name: tests.test_metrics -*-
"""The exporter: ``/metrics`` over HTTP, as a service of the ftpredis service tree.

This module owns the HTTP side of ``PrometheusEngine on``: prometheus_client's Twisted
resource (``prometheus_client.twisted.MetricsResource``) over a registry of ftpredis's
own (never the process-wide default one), on PrometheusExporter's address.  Only
``/metrics`` answers, to GET: other paths get 404, other methods 405.

A scrape costs the reactor no rendering: MetricsResource is a WSGI resource, so the
exposition text is built in a thread of the reactor's pool, from copies of the plain
numbers :mod:`ftpredis.metrics.events` keeps (:mod:`ftpredis.metrics.registry` says why
copying needs no lock).  Under ServerWorkers the workers' numbers are asked for first,
on the reactor without waiting in it (``refresh``, ftpredis.metrics.workerlink), and
merged in that thread.  Responses are written through the reactor into the socket's
buffer, so a scraper that reads slowly holds no thread and no FTP session
(tests/test_metrics_server.py).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from twisted.application import internet
from twisted.internet import endpoints
from twisted.logger import Logger
from twisted.logger import globalLogPublisher
from twisted.web import resource, server

_log = Logger()

#: What /metrics answers; prometheus_client 0.26's own app refuses HEAD too.
ALLOWED_METHODS = (b"GET",)


def make_registry(collector) -> CollectorRegistry:
    """A registry of its own holding ``collector`` (ftpredis.metrics.merge's
    ServerCollector)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


class _NotFound(resource.Resource):
    """The root and every path but /metrics: 404."""

    def __init__(self, metrics_page):
        resource.Resource.__init__(self)
        self._metrics_page = metrics_page

    def getChild(self, path, request):
        if path == b"metrics" and not request.postpath:
            return self._metrics_page
        return resource.NoResource()

    def render(self, request):
        return resource.NoResource().render(request)


class _MetricsPage(resource.Resource):
    """``/metrics``: GET goes to prometheus_client's resource, other methods get 405."""

    isLeaf = True

    def __init__(self, inner, refresh=None):
        resource.Resource.__init__(self)
        self._inner = inner
        self._refresh = refresh

    def render(self, request):
        if request.method not in ALLOWED_METHODS:
            # Set here rather than by raising UnsupportedMethod: twisted.web answers 501
            # to that for a method outside its own short list (PUT, DELETE...).
            request.setResponseCode(405)
            request.setHeader(b"allow", b", ".join(ALLOWED_METHODS))
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"405 Method Not Allowed: /metrics answers GET\n"
        if self._refresh is None:
            return self._inner.render(request)
        d = self._refresh()
        d.addBoth(lambda _: self._inner.render(request))
        return server.NOT_DONE_YET


class _QuietSite(server.Site):
    noisy = False

    def logPrefix(self):
        return "prometheus exporter"

    def log(self, request):
        # A scrape every few seconds would flood the server log; PrometheusLog says when
        # the exporter starts and stops.
        pass


def make_site(registry, refresh=None) -> server.Site:
    """``refresh()``, when given, is called on each GET and the page rendered once the
    Deferred it returns fires (the workers' answers are in)."""
    # Imported here: the module installs the default reactor if none is installed yet,
    # and ftpredis.app.reactor chooses the reactor first.
    from prometheus_client.twisted import MetricsResource
    return _QuietSite(_NotFound(_MetricsPage(MetricsResource(registry), refresh)))


def _address(ip, port):
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


class ExporterService(internet.StreamServerEndpointService):
    """Listens on ``(ip, port)`` with :func:`make_site`; binds in privilegedStartService
    (a port below 1024 is bound while still root) and raises a bind error naming
    PrometheusExporter instead of only logging it."""

    _raiseSynchronously = True

    #: Set by ftpredis.metrics.setup: the WorkerHub (ServerWorkers), the log-message
    #: observer (PrometheusOptions EnableLogMessageMetrics), the ServerMetrics.
    hub = None
    log_messages = None
    server_metrics = None

    def __init__(self, reactor, address, collector, log_file=None, refresh=None):
        ip, port = address
        if ":" in ip:
            ep = endpoints.TCP6ServerEndpoint(reactor, port, interface=ip)
        else:
            ep = endpoints.TCP4ServerEndpoint(reactor, port, interface=ip)
        self.address = address
        self.registry = make_registry(collector)
        self.log_file = log_file
        internet.StreamServerEndpointService.__init__(
            self, ep, make_site(self.registry, refresh))
        self.setName("prometheus exporter %s" % _address(ip, port))

    def privilegedStartService(self):
        if self._waitingForPort is not None:
            return
        try:
            internet.StreamServerEndpointService.privilegedStartService(self)
        except Exception as e:
            message = ("PrometheusExporter %s: cannot listen: %s"
                       % (_address(*self.address), e))
            self._note(message)
            raise RuntimeError(message) from e

    def startService(self):
        if self.log_messages is not None:
            globalLogPublisher.addObserver(self.log_messages)
        internet.StreamServerEndpointService.startService(self)
        self._note("exporter listening on %s" % (self.url(),))

    def stopService(self):
        if self.log_messages is not None:
            globalLogPublisher.removeObserver(self.log_messages)
        d = internet.StreamServerEndpointService.stopService(self)
        self._note("exporter on %s stopped" % (_address(*self.address),))
        return d

    def url(self) -> str:
        """The /metrics URL with the bound port (PrometheusExporter's, or the kernel's
        when a test bound port 0)."""
        ip, port = self.address
        if self._waitingForPort is not None and self._waitingForPort.called:
            listening = self._waitingForPort.result
            port = listening.getHost().port
        return "http://%s/metrics" % (_address(ip, port),)

    def _note(self, message):
        _log.info("{message}", message=message)
        if self.log_file is not None:
            self.log_file.write(message)

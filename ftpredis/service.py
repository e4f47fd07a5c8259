# -*- test-case-name: tests.test_end_to_end -*-
"""The service tree: one listening service per configured server, the Redis sinks, reload.

Owns how a parsed :class:`~ftpredis.config.model.Config` becomes running things::

    FTPRedisService (MultiService)
      sinks      SinkRegistry: one RedisSink per distinct Redis target, shared by servers
      server:... ServerService per server with Port != 0: one listener per address,
                 all sharing that server's factory, router and sink

Children stop in reverse order, so servers stop (closing sessions, which logs their
DISCONNECT records) before the sinks flush what is buffered.

SIGHUP re-reads the config file (as Buildbot does): a config with errors is refused and
the running one kept; otherwise servers are rebuilt, sessions already open finish on their
old settings.
"""

import os
import signal
import socket

from twisted.application import internet, service
from twisted.internet import defer, endpoints
from twisted.logger import Logger

from ftpredis.auth import make_portal
from ftpredis.protocol import FTPRedisFactory
from ftpredis.redislog import RedisLog
from ftpredis.router import Router
from ftpredis.sink import SinkRegistry

log = Logger()


def _has_rules(server):
    scopes = [server.logging]
    for anon in server.anonymous:
        scopes.append(anon.logging)
        scopes.extend(d.logging for d in anon.directories)
    scopes.extend(d.logging for d in server.directories)
    return any(rule.format_name for scope in scopes for rule in scope.rules)


def _discard(event):
    pass


def make_emitter(router, sink):
    """The protocol's ``emit``: route, format and queue; never waits on Redis."""
    records = router.records
    push = sink.push

    def emit(event):
        for key, value in records(event):
            push(key, value)

    return emit


def _endpoints(reactor, server):
    """One server endpoint per configured address (names resolved once, here)."""
    addresses = server.addresses or ("0.0.0.0",)
    result = []
    for address in addresses:
        infos = socket.getaddrinfo(address, server.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICSERV)
        family, _, _, _, sockaddr = infos[0]
        ip = sockaddr[0]
        if family == socket.AF_INET6:
            ep = endpoints.TCP6ServerEndpoint(reactor, server.port, interface=ip)
        else:
            ep = endpoints.TCP4ServerEndpoint(reactor, server.port, interface=ip)
        result.append((ip, ep))
    return result


class ServerService(service.MultiService):
    """One configured server (main or <VirtualHost>) and its listeners."""

    def __init__(self, server, sinks, reactor=None):
        service.MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        self.server = server
        self.router = None
        emit = _discard
        if server.redis_engine and _has_rules(server):
            if server.redis is None:
                log.warn("{server}: RedisEngine is on but no RedisServer/RedisSentinel is "
                         "configured; nothing will be logged", server=server.label)
            else:
                logs = ()
                if server.redis_log:
                    logs = (RedisLog(server.redis_log, server.allow_log_symlinks),)
                self.router = Router(server)
                emit = make_emitter(self.router, sinks.get(server.redis, logs))
        self.factory = FTPRedisFactory(server, make_portal(server), emit, reactor=reactor)
        for ip, ep in _endpoints(reactor, server):
            listener = internet.StreamServerEndpointService(ep, self.factory)
            listener._raiseSynchronously = True
            listener.setName("%s:%d" % (ip, server.port))
            listener.setServiceParent(self)

    keep_sessions = False   # set on reload: open sessions finish on their old settings

    @defer.inlineCallbacks
    def stopService(self):
        # Stop accepting first, then end the sessions so their DISCONNECT records are
        # queued before the sinks (stopped after us) flush.
        yield service.MultiService.stopService(self)
        closing = getattr(self.factory, "closeAllSessions", None)
        if closing is not None and not self.keep_sessions:
            yield closing()


class FTPRedisService(service.MultiService):
    def __init__(self, config, path=None, defines=(), reactor=None):
        service.MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self.path = path or config.path
        self.defines = tuple(defines)
        self.config = config
        self.sinks = SinkRegistry(reactor=reactor)
        self.sinks.setName("sinks")
        self.sinks.setServiceParent(self)
        self._previous_sighup = None
        self._reloading = None
        for warning in config.warnings:
            log.warn("{warning}", warning=warning)
        self._build(config)

    def _build(self, config):
        for server in config.servers:
            if server.port == 0:
                continue
            svc = ServerService(server, self.sinks, reactor=self._reactor)
            svc.setName("server %s" % (server.label,))
            svc.setServiceParent(self)

    def servers(self):
        return [s for s in self if isinstance(s, ServerService)]

    def startService(self):
        service.MultiService.startService(self)
        try:
            self._previous_sighup = signal.signal(
                signal.SIGHUP,
                lambda signum, frame: self._reactor.callFromThread(self.reload))
        except ValueError:
            # Not in the main thread (some test runners): reload stays available as a call.
            self._previous_sighup = None

    @defer.inlineCallbacks
    def stopService(self):
        if self._previous_sighup is not None:
            signal.signal(signal.SIGHUP, self._previous_sighup)
            self._previous_sighup = None
        # MultiService would stop every child at once; the sinks must flush only after
        # the servers have ended their sessions and queued the DISCONNECT records.
        service.Service.stopService(self)
        yield defer.gatherResults(
            [defer.maybeDeferred(s.stopService) for s in self.servers() if s.running],
            consumeErrors=True)
        if self.sinks.running:
            yield self.sinks.stopService()

    @defer.inlineCallbacks
    def reload(self):
        """Re-read the config; keep the running one if the new one has errors."""
        from ftpredis.config import ConfigErrors, load_config

        if self._reloading is not None:
            log.info("reload already in progress; ignoring this SIGHUP")
            return
        self._reloading = True
        try:
            try:
                config = load_config(self.path, self.defines)
            except ConfigErrors as e:
                for error in e.errors:
                    log.error("reload refused, keeping the running configuration: {error}",
                              error=str(error))
                return False
            old = self.servers()
            for svc in old:
                svc.keep_sessions = True
                yield svc.disownServiceParent()
            self.config = config
            self._build(config)
            log.info("configuration reloaded from {path}: {n} servers",
                     path=self.path, n=len(self.servers()))
            return True
        finally:
            self._reloading = None

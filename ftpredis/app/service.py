# -*- test-case-name: tests.test_service -*-
"""The service tree: listeners, one FTP server per configured server, the Redis sinks,
reload (SIGHUP) and graceful shutdown (SIGTERM).

Owns how a parsed :class:`~ftpredis.config.model.Config` becomes running things::

    FTPRedisService (MultiService, built by ``twistd ftpredis``)
      sinks               SinkRegistry: one RedisSink per distinct Redis target, shared
      listen <ip>:<port>  one StreamServerEndpointService per bound address
      server <label>      ServerService per server with Port != 0: its factory (so its
                          ServerName, auth, DefaultRoot...), its router and sink
      prometheus exporter PrometheusEngine on: /metrics (ftpredis.metrics), fed by a
                          subscriber on every server's event flow; in a ServerWorkers
                          worker, the reporter answering the parent's exporter

Listeners and servers are separate because ProFTPD's addressing needs it: a server whose
address is the wildcard (the main server without DefaultAddress) and a <VirtualHost> on
the same port cannot both bind on Linux, so ftpredis does what ProFTPD does with
``SocketBindTight off``: one wildcard socket per port, and each connection goes to the
server configured for the local address it arrived on (falling back to the wildcard
server).  Every connection is routed when it arrives, through the current routing table,
which is what makes reload cheap: a changed server only gets a new factory, a socket is
(re)bound only when an address:port appears, and closed when it disappears.

Reload (SIGHUP, as Buildbot does it): the file is re-read; a config with errors, or one
whose new addresses cannot be bound, is refused, logged, and the running one kept.
Otherwise servers whose :class:`ServerConfig` did not change keep their factory; changed
and new ones get a fresh one; sessions already open finish on their old settings; the
RedisLog files are reopened (log rotation).

Shutdown (SIGTERM): stop accepting, let every session finish the command in flight (a
transfer) up to ``shutdown_timeout`` seconds, then cut it short (421), so every session's
DISCONNECT record is queued; only then do the sinks flush what is buffered.
"""

import functools
import signal
import socket

from twisted.application import internet, service
from twisted.internet import defer, protocol as iprotocol
from twisted.logger import Logger

from ftpredis import __version__
from ftpredis.app import lifecycle
from ftpredis.app import reactor as _reactor
from ftpredis.app import workers as _workers
from ftpredis.app.instances import InstanceGate, per_process
from ftpredis.app.systemlog import SystemLog
from ftpredis.auth.portal import make_portal
from ftpredis.ban.bans import BanRegistry
from ftpredis.config.model import ConfigError, ConfigErrors
from ftpredis.ftp.factory import FTPRedisFactory
from ftpredis.proxy.wrapper import ProxyProtocolFactory
from ftpredis.redis.redislog import RedisLog
from ftpredis.records.flow import EventFlow
from ftpredis.records.router import Router
from ftpredis.redis.ledger import unused_log_targets
from ftpredis.redis.sink import SinkRegistry

log = Logger()

#: Seconds a session may keep its transfer going after SIGTERM (twistd ftpredis
#: --shutdown-timeout), and the grace after that for a client that does not read its 421.
SHUTDOWN_TIMEOUT = 10.0
ABORT_GRACE = 2.0

V4_ANY, V6_ANY = "0.0.0.0", "::"


def _has_rules(server):
    scopes = [server.logging]
    for anon in server.anonymous:
        scopes.append(anon.logging)
        scopes.extend(d.logging for d in anon.directories)
    scopes.extend(d.logging for d in server.directories)
    return any(rule.format_name for scope in scopes for rule in scope.rules)


def make_emitter(router, sink):
    """The protocol's ``emit``: route, format and queue at the sink's next pump; never
    waits on Redis."""
    return functools.partial(sink.later, router.emitter(sink.push))


def _plain(ip):
    """An IPv4-mapped IPv6 address (a v4 client on a dual-stack socket) as plain IPv4."""
    if ip.startswith("::ffff:") and "." in ip:
        return ip[7:]
    return ip


def resolve(address, port):
    """``(ip, family)`` for one configured address (resolved once, when the config is
    applied); raises OSError for a name that does not resolve."""
    infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_NUMERICSERV)
    family, _, _, _, sockaddr = infos[0]
    return sockaddr[0], family


def _where(server):
    return server.source if server.source is not None else None


class RoutingTable:
    """Which server answers a connection to local ``ip:port``, and which sockets to bind.

    Built from ``(ServerConfig, handle)`` pairs; raises :class:`ConfigErrors` for an
    address that does not resolve or two servers on the same resolved ``ip:port`` (the
    parser catches the textual duplicates; this catches ``localhost`` vs ``127.0.0.1``).
    """

    def __init__(self, servers):
        self.exact = {}       # (ip, port) -> handle
        owners = {}           # (ip, port) -> ServerConfig, for messages
        self.bindings = {}    # (ip, port) -> family, the sockets to listen on
        errors = []
        ports = {}            # port -> {family: set(ip)}
        for server, handle in servers:
            if server.port == 0:
                continue
            for address in server.addresses or (V4_ANY,):
                try:
                    ip, family = resolve(address, server.port)
                except OSError as e:
                    errors.append(ConfigError("%s: cannot resolve address '%s': %s"
                                              % (server.label, address, e.strerror or e),
                                              _where(server)))
                    continue
                key = (ip, server.port)
                if key in owners:
                    errors.append(ConfigError(
                        "%s: address %s (%s) port %d is already used by %s"
                        % (server.label, address, ip, server.port, owners[key].label),
                        _where(server)))
                    continue
                owners[key] = server
                self.exact[key] = handle
                ports.setdefault(server.port, {}).setdefault(family, set()).add(ip)
        if errors:
            raise ConfigErrors(errors)
        for port, families in ports.items():
            v4 = families.get(socket.AF_INET, set())
            v6 = families.get(socket.AF_INET6, set())
            if V6_ANY in v6:
                # A dual-stack wildcard socket also takes the IPv4 connections.
                self.bindings[(V6_ANY, port)] = socket.AF_INET6
                continue
            if V4_ANY in v4:
                self.bindings[(V4_ANY, port)] = socket.AF_INET
            else:
                for ip in v4:
                    self.bindings[(ip, port)] = socket.AF_INET
            for ip in v6:
                self.bindings[(ip, port)] = socket.AF_INET6

    def route(self, local_ip, port):
        ip = _plain(local_ip)
        found = self.exact.get((ip, port))
        if found is None:
            wildcard = V6_ANY if ":" in ip else V4_ANY
            found = self.exact.get((wildcard, port)) or self.exact.get((V6_ANY, port))
        return found


class _Route(iprotocol.Protocol):
    """Each connection's first protocol, for one call: picks the server for the local
    address the connection arrived on, then hands the transport to that server's
    protocol.  It keeps no state of a connection: one serves every connection of its
    port."""

    def __init__(self, owner, port):
        self.owner = owner
        self.port = port

    def makeConnection(self, transport):
        host = transport.getHost()
        server = self.owner.route(host.host, self.port)
        proto = None
        if server is not None:
            layer = server.proxy_layer(self.owner.route)
            if layer is not None:
                # ProxyProtocolEngine: the header first (ftpredis.proxy), then the
                # server's protocol, which sees the proxied addresses.
                proto = layer.buildProtocol(transport.getPeer())
                transport.protocol = proto
                proto.makeConnection(transport)
                return
            peer = transport.getPeer()
            proto = server.factory.buildProtocol(peer)
        if proto is None:
            transport.loseConnection()
            return
        proto.hostAddress = host        # a getsockname less in connectionMade
        proto.peerAddress = peer        # and an address object less
        # tcp.Server calls self.protocol for everything from here on.
        transport.protocol = proto
        proto.makeConnection(transport)


class _Dispatcher(iprotocol.ServerFactory):
    noisy = False

    def __init__(self, owner, port):
        self.owner = owner
        self.port = port
        self._route = _Route(owner, port)

    def logPrefix(self):
        return "ftpredis"

    def buildProtocol(self, addr):
        # None closes the connection at once, before any greeting (MaxInstances).
        if not self.owner.gate.admit():
            return None
        return self._route


class ServerService(service.Service):
    """One configured server (main or <VirtualHost>): its factory, router and sink.

    Stopping it does not touch its sessions: on a reload they finish on their old
    settings; at shutdown :meth:`drain` ends them.
    """

    def __init__(self, server, sinks, redis_logs=None, reactor=None, bans=None,
                 system_log=None, metrics=None):
        if reactor is None:
            from twisted.internet import reactor
        self.server = server
        self.router = None
        self.sink = None
        self.logs = ()
        # Everything that watches this server's events subscribes to one flow; the
        # factory only ever calls it.
        self.events = EventFlow()
        self.system_log, self._unsubscribe_system_log = None, None
        self.use_system_log(system_log)
        if server.redis_engine and _has_rules(server):
            if server.redis is None:
                log.warn("{server}: RedisEngine is on but no RedisServer/RedisSentinel is "
                         "configured; nothing will be logged", server=server.label)
            else:
                if server.redis_log:
                    key = (server.redis_log, server.allow_log_symlinks)
                    opened = redis_logs.get(key) if redis_logs is not None else None
                    if opened is None:
                        opened = RedisLog(server.redis_log, server.allow_log_symlinks)
                        if redis_logs is not None:
                            redis_logs[key] = opened
                    self.logs = (opened,)
                self.router = Router(server, ssh=bool(server.sftp and server.sftp.engine))
                for rule in unused_log_targets(server.redis, self.router.written_keys()):
                    log.warn("{server}: RedisLogTarget {key} ({where}): no RedisLogOnCommand"
                             "/RedisLogOnEvent of this server writes to that key as "
                             "written; it applies to nothing", server=server.label,
                             key=rule.key, where=rule.source)
                self.sink = sinks.get(server.redis, self.logs)
                self.events.subscribe(make_emitter(self.router, self.sink))
        if metrics is not None:                     # PrometheusEngine
            self.events.subscribe(metrics)
        policy = bans.policy_for(server) if bans is not None else None   # BanEngine
        if server.sftp is not None and server.sftp.engine:     # SFTPEngine on: SSH
            from ftpredis.sftp.server import SFTPFactory
            self.factory = SFTPFactory(server, make_portal(server), self.events,
                                       reactor=reactor, policy=policy)
        else:
            self.factory = FTPRedisFactory(server, make_portal(server), self.events,
                                           reactor=reactor, policy=policy)
        self.factory.system_log = self.system_log
        if metrics is not None:
            self.factory.count_refused = metrics.refused_before_session
        self._reactor = reactor

    def use_system_log(self, system_log) -> None:
        """Write the session lines to ``system_log`` from now on (a reload naming
        another SystemLog switches the servers it keeps, and their open sessions)."""
        if system_log is self.system_log:
            return
        if self._unsubscribe_system_log is not None:
            self._unsubscribe_system_log()
            self._unsubscribe_system_log = None
        self.system_log = system_log
        if getattr(self, "factory", None) is not None:
            self.factory.system_log = system_log
        if system_log is not None:
            self._unsubscribe_system_log = self.events.subscribe(system_log)

    _proxy = None

    def proxy_layer(self, route):
        """The PROXY protocol layer (ftpredis.proxy) in front of this server's factory,
        or None when its ProxyProtocolEngine is off; ``route(ip, port)`` finds the
        server of a proxied destination (UseProxiedServerAddress)."""
        if self._proxy is None and self.server.proxy_protocol_engine:
            def by_destination(address):
                chosen = route(address.host, address.port)
                return chosen.factory if chosen is not None else None
            self._proxy = ProxyProtocolFactory.for_server(
                self.server, self.factory, reactor=self._reactor, route=by_destination)
        return self._proxy

    def startService(self):
        service.Service.startService(self)
        self.factory.doStart()

    def connections(self) -> int:
        """Open connections: the sessions, and those still reading a PROXY header."""
        proxy = self._proxy
        return len(self.factory.instances) + (proxy.pending() if proxy is not None else 0)

    def sessions(self):
        return list(self.factory.instances)

    @defer.inlineCallbacks
    def drain(self, timeout=SHUTDOWN_TIMEOUT):
        """End every open session: each finishes the command in flight (a transfer), up
        to ``timeout`` seconds, then is cut short with 421; fires once every session's
        DISCONNECT event is emitted (or, for a client that does not even let the
        connection close, after a short grace)."""
        sessions = self.sessions()
        if not sessions:
            return
        stop = getattr(sessions[0], "stopSession", None)
        if stop is None:
            self.factory.closeAllSessions()
            return
        ends = [p.stopSession() for p in sessions]
        everything = defer.DeferredList(ends, consumeErrors=True)
        for step, seconds in (("cut", timeout), ("abort", ABORT_GRACE), (None, ABORT_GRACE)):
            done = yield _within(everything, seconds, self._reactor)
            if done:
                return
            left = [p for p, d in zip(sessions, ends) if not d.called]
            if step == "cut":
                log.info("{server}: {n} session(s) still busy after {t} s; cutting them "
                         "short", server=self.server.label, n=len(left), t=seconds)
                for p in left:
                    p.stopSession(now=True)
            elif step == "abort":
                for p in left:
                    if p.transport is not None:
                        p.transport.abortConnection()
        log.warn("{server}: {n} session(s) did not end", server=self.server.label,
                 n=len([d for d in ends if not d.called]))


def _within(d, seconds, reactor):
    """Fires True when ``d`` fires, or False after ``seconds`` (``d`` is left alone)."""
    result = defer.Deferred()
    timer = reactor.callLater(seconds, lambda: result.called or result.callback(False))

    def fired(value):
        if not result.called:
            timer.cancel()
            result.callback(True)
        return value

    d.addBoth(fired)
    return result


class _Listener(internet.StreamServerEndpointService):
    """Binds once (as root, in privilegedStartService, or up front during a reload) and
    raises a bind error to the caller instead of only logging it."""

    _raiseSynchronously = True

    def privilegedStartService(self):
        if self._waitingForPort is None:
            internet.StreamServerEndpointService.privilegedStartService(self)


def _listener(reactor, ip, port, family, dispatcher, workers=1):
    ep = _workers.adopted_endpoint(reactor, ip, port)     # a ServerWorkers worker
    if ep is None and workers > 1:
        ep = _workers.ReusePortEndpoint(reactor, ip, port, workers - 1)
    if ep is None:
        ep = _workers.ControlEndpoint(reactor, port, ip)
    svc = _Listener(ep, dispatcher)
    svc.setName("listen %s" % (_address(ip, port),))
    return svc


def _address(ip, port):
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


class FTPRedisService(service.MultiService):
    """Everything ``twistd ftpredis`` runs; see the module docstring."""

    def __init__(self, config, path=None, defines=(), reactor=None,
                 shutdown_timeout=SHUTDOWN_TIMEOUT):
        service.MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self.path = path or config.path
        self.defines = tuple(defines)
        self.shutdown_timeout = shutdown_timeout
        self.sinks = SinkRegistry(reactor=reactor)
        self.sinks.setName("sinks")
        self.sinks.setServiceParent(self)
        # mod_ban's local table and ban caches; kept across reloads
        self.bans = BanRegistry(reactor=reactor)
        self.bans.setName("bans")
        self.bans.setServiceParent(self)
        self.bans.configure(config)
        self._previous_sighup = None
        self._reloading = False
        self._redis_logs = {}         # (path, allow_symlinks) -> RedisLog, shared
        self._retired = []            # replaced servers whose sessions may still be open
        self._listeners = {}          # (ip, port) -> StreamServerEndpointService
        self._dispatchers = {}        # port -> _Dispatcher
        for warning in config.warnings:
            log.warn("{text}", text=warning)
        self.metrics = None
        self._prometheus = _prometheus_settings(config.servers[0])
        self.exporter = _exporter(config.servers[0], reactor, self.in_progress,
                                  self.sinks, self.bans, _workers.planned(config))
        if self.exporter is not None:
            self.exporter.setServiceParent(self)
            self.metrics = self.exporter.subscriber
        self.system_log = self._systemLog(config)
        servers = [ServerService(s, self.sinks, self._redis_logs, reactor=reactor,
                                 bans=self.bans, system_log=self.system_log,
                                 metrics=self.metrics)
                   for s in config.servers if s.port != 0]
        # Raises ConfigErrors (unresolvable or duplicate addresses): tap reports them.
        self.table = RoutingTable([(s.server, s) for s in servers])
        self.config = config
        self.gate = self._gate(config)
        for svc in servers:
            self._addServer(svc)
        self._counted = tuple(servers)
        # ServerWorkers N: each worker gets a socket of its own (SO_REUSEPORT), bound
        # here with the parent's, before privileges are dropped (ftpredis.app.workers).
        self._planned_workers = _workers.planned(config)
        for (ip, port), family in sorted(self.table.bindings.items()):
            self._listeners[(ip, port)] = self._newListener(ip, port, family)
            self._listeners[(ip, port)].setServiceParent(self)
        self._planned_workers = 1     # addresses added by a reload: the parent's only
        _reactor.configure(config, reactor)     # BusyPoll

    system_log = None

    def _systemLog(self, config):
        """The main server's SystemLog (ProFTPD: server config context only); the open
        one is kept when a reload names the same file."""
        main = config.servers[0] if config.servers else None
        path = getattr(main, "system_log", None)
        if path is None:
            return None
        allow = getattr(main, "allow_log_symlinks", False)
        current = self.system_log
        if current is not None and (current.path, current.allow_symlinks) == (path, allow):
            return current
        return SystemLog(path, allow)

    def _gate(self, config):
        main = config.servers[0] if config.servers else None
        configured = getattr(main, "max_instances", None)
        workers = getattr(main, "server_workers", 1) or 1
        return InstanceGate(per_process(configured, workers), configured,
                            self.connections, self._reactor.seconds,
                            self._systemLine if self.system_log is not None else None)

    def connections(self) -> int:
        """The connections open now, over every server (replaced ones included)."""
        # Every new connection asks (MaxInstances): the servers are listed at start and
        # at each reload, not found again here.
        return sum([svc.connections() for svc in self._counted])

    def _systemLine(self, message: str) -> None:
        """A SystemLog line of the daemon's (no session), as ProFTPD's name the main
        server's address."""
        system_log = self.system_log
        if system_log is not None:
            main = self.config.servers[0] if self.config.servers else None
            where = main.addresses[0] if main is not None and main.addresses else ""
            system_log.say(message, where)

    #: twistd's options when twistd runs us (set by ftpredis.app.tap): twistd's log gets
    #: the filter of ftpredis.app.logs when this service joins twistd's application
    twistd_options = None

    def setServiceParent(self, parent):
        if self.twistd_options is not None:
            from ftpredis.app import logs
            logs.install(parent, self.twistd_options)
        service.MultiService.setServiceParent(self, parent)

    # -- the tree ---------------------------------------------------------------------------
    def servers(self):
        return [s for s in self if isinstance(s, ServerService)]

    def listeners(self):
        return dict(self._listeners)

    def in_progress(self):
        """``{(gauge, protocol): sessions}``: the sessions now in a listing, download or
        upload, for the exporter's in-progress gauges.  Runs in the scrape's thread, so
        it reads only copies (``list()`` of a list or a dict runs no Python code)."""
        counts = {(name, "ftp"): 0 for name in set(_IN_PROGRESS.values())}
        for svc in list(self) + list(self._retired):
            if not isinstance(svc, ServerService):
                continue
            for p in list(svc.factory.instances):
                name = _IN_PROGRESS.get(getattr(p, "current_verb", None))
                if name is not None:
                    key = (name, getattr(p, "protocol_name", "ftp"))
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def route(self, local_ip, port):
        return self.table.route(local_ip, port)

    def _addServer(self, svc):
        svc.setName("server %s" % (svc.server.label,))
        svc.setServiceParent(self)

    def _newListener(self, ip, port, family):
        dispatcher = self._dispatchers.get(port)
        if dispatcher is None:
            dispatcher = self._dispatchers[port] = _Dispatcher(self, port)
        return _listener(self._reactor, ip, port, family, dispatcher,
                         getattr(self, "_planned_workers", 1))

    def addresses(self):
        """``[(ip, port)]`` actually listened on (the port is known after binding Port 0
        in tests)."""
        return sorted(self._listeners)

    # -- start and stop ---------------------------------------------------------------------
    def startService(self):
        # Before "listening on" is logged and before the workers start: an init script,
        # admin or test that sends SIGHUP once either shows would otherwise meet SIGHUP's
        # default action, which ends the whole server.  (The reload itself runs from the
        # reactor, after this start, and is passed on to the workers then.)
        try:
            self._previous_sighup = signal.signal(
                signal.SIGHUP,
                lambda signum, frame: self._reactor.callFromThread(self.reload))
        except ValueError:
            # Not in the main thread (some test runners): reload stays available as a call.
            self._previous_sighup = None
        if lifecycle.take_held_sighup():
            log.info("SIGHUP came while starting: reloading the configuration once running")
            self._reactor.callLater(0, self.reload)
        service.MultiService.startService(self)
        for (ip, port) in sorted(self._listeners):
            log.info("listening on {address}", address=_address(ip, port))
        if not _workers.IN_WORKER:
            self._systemLine("ftpredis %s standalone mode STARTUP" % (__version__,))
            for sink in self.sinks.sinks():
                sink.availability.probe()
        self._workers = _workers.start(self, self._reactor)    # ServerWorkers N
        if not _workers.IN_WORKER:
            lifecycle.notify("READY=1", "STATUS=listening on %d address(es)"
                             % (len(self._listeners),))

    @defer.inlineCallbacks
    def stopService(self):
        if self._previous_sighup is not None:
            signal.signal(signal.SIGHUP, self._previous_sighup)
            self._previous_sighup = None
        # MultiService would stop every child at once; the order matters: stop accepting,
        # let the sessions end (their DISCONNECT records are queued), then flush.
        service.Service.stopService(self)
        if not _workers.IN_WORKER:
            lifecycle.notify("STOPPING=1")
        yield defer.gatherResults(
            [defer.maybeDeferred(s.stopService) for s in self._listeners.values()
             if s.running], consumeErrors=True)
        servers = self.servers() + self._retired
        for key in sorted(self._listeners):
            log.info("stopped listening on {address}", address=_address(*key))
        open_sessions = sum(len(s.sessions()) for s in servers)
        if open_sessions:
            log.info("ending {n} session(s); transfers in flight get up to {t} s",
                     n=open_sessions, t=self.shutdown_timeout)
        yield defer.gatherResults(
            [s.drain(self.shutdown_timeout) for s in servers], consumeErrors=True)
        for s in self.servers():
            if s.running:
                s.stopService()
        for s in servers:
            s.factory.doStop()
        workers, self._workers = getattr(self, "_workers", None), None
        if workers is not None:
            yield workers.stop(self.shutdown_timeout + 2 * ABORT_GRACE + 5)
        if self.sinks.running:
            yield self.sinks.stopService()
        if self.bans.running:
            yield self.bans.stopService()
        if self.exporter is not None and self.exporter.running:
            yield self.exporter.stopService()
        if self.exporter is not None and self.exporter.log_file is not None:
            self.exporter.log_file.close()
        for redis_log in self._redis_logs.values():
            redis_log.close()
        if not _workers.IN_WORKER:
            self._systemLine("ftpredis %s standalone mode SHUTDOWN" % (__version__,))

    # -- reload -----------------------------------------------------------------------------
    @defer.inlineCallbacks
    def reload(self):
        """Re-read the config; keep the running one if the new one cannot be applied.

        Fires True when the new config is in use, False when it was refused.
        """
        if self._reloading:
            log.info("reload already in progress; ignoring this SIGHUP")
            return False
        if getattr(self, "_workers", None) is not None:
            self._workers.signal(signal.SIGHUP)
        self._reloading = True
        ok = False
        told = not _workers.IN_WORKER and lifecycle.notify(*lifecycle.reloading_message())
        try:
            ok = yield self._reload()
            return ok
        finally:
            self._reloading = False
            if told:
                lifecycle.notify("READY=1", "STATUS=configuration %s" % (
                    "reloaded" if ok else "refused, the running one kept (see the log)"))
            if self.exporter is not None:          # ftpredis_reloads_total{result}
                self.exporter.server_metrics.reloaded(bool(ok))

    @defer.inlineCallbacks
    def _reload(self):
        from ftpredis.config import load_config

        try:
            config = load_config(self.path, self.defines)
        except ConfigErrors as e:
            for error in e.errors:
                log.error("reload refused, keeping the running configuration: {error}",
                          error=str(error))
            return False

        # Servers whose ServerConfig is unchanged (frozen dataclasses compare by value:
        # any directive, auth file entry or line number that moved counts as a change)
        # keep their factory and its sessions; the others get new ones.
        current = self.servers()
        kept, new = [], []
        for server in config.servers:
            if server.port == 0:
                continue
            match = next((s for s in current if s.server == server and s not in kept), None)
            if match is not None:
                kept.append(match)
            else:
                new.append(server)
        removed = [s for s in current if s not in kept]
        redis_logs = dict(self._redis_logs)
        try:
            self.bans.configure(config)
            system_log = self._systemLog(config)
            fresh = [ServerService(s, self.sinks, redis_logs, reactor=self._reactor,
                                   bans=self.bans, system_log=system_log,
                                   metrics=self.metrics)
                     for s in new]
            table = RoutingTable([(s.server, s) for s in kept + fresh])
        except ConfigErrors as e:
            self._closeUnused(redis_logs)
            for error in e.errors:
                log.error("reload refused, keeping the running configuration: {error}",
                          error=str(error))
            return False
        except Exception:
            self._closeUnused(redis_logs)
            log.failure("reload refused, keeping the running configuration")
            return False

        # Bind what is new before changing anything, so a port that cannot be bound (in
        # use, or below 1024 after privileges were dropped) refuses the whole reload.
        # Sockets on a port that gains or loses a wildcard address are swapped, since
        # the wildcard and specific addresses cannot be bound together.
        wanted = table.bindings
        gone = [k for k in self._listeners if k not in wanted]
        added = [k for k in wanted if k not in self._listeners]
        added_ports = {port for _, port in added}
        swapped = [k for k in gone if k[1] in added_ports]
        for key in swapped:
            yield self._listeners[key].stopService()
        started = {}
        try:
            for ip, port in sorted(added):
                svc = self._newListener(ip, port, wanted[(ip, port)])
                svc.privilegedStartService()
                started[(ip, port)] = svc
        except Exception as e:
            for svc in started.values():
                yield svc.stopService()
            for key in swapped:
                again = self._newListener(key[0], key[1], self.table.bindings[key])
                yield self._listeners[key].disownServiceParent()
                self._listeners[key] = again
                try:
                    again.setServiceParent(self)
                except Exception as e2:
                    log.error("cannot listen on {address} again: {error}",
                              address=_address(*key), error=_bind_error(e2))
            self._closeUnused(redis_logs)
            log.error("reload refused, keeping the running configuration: {error}",
                      error=_bind_error(e))
            return False

        # Commit.
        self.config = config
        self.table = table
        previous_system_log, self.system_log = self.system_log, system_log
        for svc in kept + removed + self._retired:
            svc.use_system_log(system_log)
        if previous_system_log is not None and previous_system_log is not system_log:
            previous_system_log.close()
        elif system_log is not None:
            system_log.reopen()         # logrotate moved it, then sent SIGHUP
        self.gate = self._gate(config)
        self._redis_logs = redis_logs
        for key in gone:
            svc = self._listeners.pop(key)
            yield svc.disownServiceParent()     # stops accepting; open sessions stay
            log.info("stopped listening on {address}", address=_address(*key))
        for key, svc in started.items():
            self._listeners[key] = svc
            svc.setServiceParent(self)
            log.info("listening on {address}", address=_address(*key))
        for svc in removed:
            svc.disownServiceParent()
            self._retired.append(svc)
        for svc in fresh:
            self._addServer(svc)
        # Sessions of replaced servers that have ended need nothing any more.
        self._retired = [s for s in self._retired if s.sessions()]
        self._counted = tuple(self.servers()) + tuple(self._retired)

        # Each sink reports to the RedisLogs of the servers that use it now; every log
        # still in use is reopened (logrotate moved it), the others closed.
        in_use = {}
        for svc in self.servers():
            if svc.sink is not None:
                in_use.setdefault(id(svc.sink), (svc.sink, []))[1].extend(svc.logs)
        for sink, logs in in_use.values():
            sink.logs = list({id(l): l for l in logs}.values())
        live = {id(l) for svc in self.servers() for l in svc.logs}
        for key, redis_log in list(self._redis_logs.items()):
            if id(redis_log) in live:
                if all(redis_log is not fresh_log for s in fresh for fresh_log in s.logs):
                    redis_log.reopen()
            else:
                redis_log.close()
                del self._redis_logs[key]
        for warning in config.warnings:
            log.warn("{text}", text=warning)
        if _prometheus_settings(config.servers[0]) != self._prometheus:
            log.warn("the Prometheus* directives changed; they take effect at the next "
                     "restart (the exporter keeps its address and its counts)")
        _reactor.configure(config, self._reactor)
        log.info("configuration reloaded from {path}: {changes}", path=self.path,
                 changes=reload_summary(
                     [s.server for s in current], [s.server for s in self.servers()],
                     sorted(self._listeners), added, gone))
        return True

    def _closeUnused(self, redis_logs):
        """A refused reload: close the RedisLog files it opened."""
        for key, redis_log in redis_logs.items():
            if self._redis_logs.get(key) is not redis_log:
                redis_log.close()


def _names(items, limit=5):
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (", ..." if len(items) > limit else "")


def _tally(what, **groups):
    """``"servers 1 unchanged, 1 added (<VirtualHost 127.0.0.2>)"``: counts, with the
    names of what changed."""
    parts = []
    for label, names in groups.items():
        label = label.replace("_", " ")
        if names is None or isinstance(names, int):
            parts.append("%d %s" % (names or 0, label))
        elif names:
            parts.append("%d %s (%s)" % (len(names), label, _names(names)))
        else:
            parts.append("0 %s" % (label,))
    return "%s %s" % (what, ", ".join(parts))


def _server_name(server):
    if server.is_main:
        return "main server"
    return "<VirtualHost %s>" % (" ".join(server.addresses),)


def reload_summary(before, after, listening, added, gone):
    """What a reload changed, as one line: the listening sockets (``listening``, after;
    ``added`` and ``gone`` as ``(ip, port)``), the servers (``before`` and ``after``,
    ServerConfigs; one is the same server when its addresses are) and the
    users of their AuthUserFiles (by name; "changed" when an entry differs)."""
    def key(server):
        return (server.is_main, tuple(server.addresses), server.port)

    old = {key(s): s for s in before}
    new = {key(s): s for s in after}
    unchanged = [k for k in new if k in old and old[k] == new[k]]
    changed = [_server_name(new[k]) for k in new if k in old and old[k] != new[k]]
    servers_added = [_server_name(new[k]) for k in new if k not in old]
    servers_removed = [_server_name(old[k]) for k in old if k not in new]
    # a server that only moved to another Port reads as changed, not as added and removed
    moved = set(servers_added) & set(servers_removed)
    changed += sorted(moved)
    servers_added = [n for n in servers_added if n not in moved]
    servers_removed = [n for n in servers_removed if n not in moved]

    def users(servers):
        found = {}
        for server in servers:
            for user in server.auth_users:
                found.setdefault(user.name, set()).add(user)
        return found

    was, now = users(before), users(after)
    users_added = sorted(n for n in now if n not in was)
    users_removed = sorted(n for n in was if n not in now)
    users_changed = sorted(n for n in now if n in was and now[n] != was[n])
    listening = set(listening)
    kept = [k for k in listening if k not in set(added)]
    if not (added or gone or changed or servers_added or servers_removed or users_added
            or users_removed or users_changed):
        return ("nothing changed (%d listener%s, %d server%s, %d user%s)"
                % (len(listening), "" if len(listening) == 1 else "s",
                   len(new), "" if len(new) == 1 else "s",
                   len(now), "" if len(now) == 1 else "s"))
    return "; ".join([
        _tally("listeners", kept=len(kept),
               added=[_address(*k) for k in sorted(added)],
               removed=[_address(*k) for k in sorted(gone)]),
        _tally("servers", unchanged=len(unchanged), changed=changed, added=servers_added,
               removed=servers_removed),
        _tally("users", added=users_added, removed=users_removed, changed=users_changed),
    ])

def _prometheus_settings(main):
    return (main.prometheus_engine, main.prometheus_exporter, main.prometheus_log)


def _exporter(main, reactor, in_progress, sinks, bans, planned):
    """PrometheusEngine on with a PrometheusExporter: the exporter service, with
    ``subscriber`` (for every server's event flow) as an attribute; else None.  Its
    registry also reads ``sinks`` (the SinkRegistry) and ``bans`` for the ``ftpredis_``
    families.  In a ServerWorkers worker: the service answering the parent's exporter
    over the worker's pipes (the parent alone binds the exporter's address)."""
    if not (main.prometheus_engine and main.prometheus_exporter):
        return None
    from twisted.logger import PredicateResult

    from ftpredis.app.logs import chatter
    from ftpredis.metrics.setup import build
    in_worker = _workers.IN_WORKER
    log_file = (RedisLog(main.prometheus_log, main.allow_log_symlinks)
                if main.prometheus_log and not in_worker else None)
    return build(main, reactor, __version__, in_progress, sinks, bans, planned,
                 in_worker=in_worker, worker_fds=_workers.METRICS_FDS, log_file=log_file,
                 log_filter=lambda event: chatter(event) != PredicateResult.no)


#: Command word -> the in-progress gauge it counts in (mod_prometheus's PRE_CMD handlers).
_IN_PROGRESS = {"LIST": "directory_list_count", "NLST": "directory_list_count",
                "MLSD": "directory_list_count", "MLST": "directory_list_count",
                "RETR": "file_download_count", "STOR": "file_upload_count"}


def _bind_error(e):
    text = str(e)
    if "Permission denied" in text or "Errno 13" in text:
        text += " (a port below 1024 needs root: restart ftpredis to bind it)"
    return text

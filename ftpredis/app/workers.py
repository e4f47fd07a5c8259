# -*- test-case-name: tests.test_perf_features -*-
"""Worker processes: ``ServerWorkers N`` puts every core to work.

One reactor is one core.  With ``ServerWorkers N`` (main server context, default 1) the
ftpredis process binds its listening sockets, and with each one ``N - 1`` more on the same
address with ``SO_REUSEPORT`` (while it still has its privileges); once it has switched to
its ``User``/``Group`` it starts ``N - 1`` worker processes, each inheriting one socket of
its own (``reactor.adoptStreamPort``).  The kernel spreads new connections over the
sockets (by a hash of the client's address and port), so no process takes a burst of
them.  A worker started again after dying shares the parent's socket (its own was closed
with it, so no connection waits in it meanwhile).
Each process has its own Redis sink (its own connections, batches and buffer); a session
lives entirely in the process that accepted it, so its records keep their order.

What follows the parent:

* SIGTERM: the parent stops accepting, ends its sessions, then sends SIGTERM to the
  workers, which do the same (each flushes its own sink) and exit; the parent waits for
  them (``--shutdown-timeout`` plus a grace) before flushing its own sink.
* SIGHUP: forwarded to the workers; each re-reads the config.  New addresses or ports are
  bound by the parent only: restart to have workers serve them.
* A worker that dies is started again (at most once a second).
* The parent dying takes the workers with it (``PR_SET_PDEATHSIG``).
* PrometheusEngine: the parent alone serves the exporter; each worker gets two more
  pipes, on which the parent asks for its metrics at each scrape
  (ftpredis.metrics.workerlink), so /metrics reports the whole server.

This module also raises the process's open-files limit to its hard limit at start (many
idle sessions need many descriptors).
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import sys
from typing import Dict, List, Optional, Tuple

from twisted.internet import defer, endpoints, interfaces, protocol, tcp
from twisted.logger import Logger
from zope.interface import implementer

from ftpredis._compat.twisted_ports import LeanAcceptPort

log = Logger()

#: In a worker: (ip, port) -> (inherited file descriptor, family); see adopted_endpoint.
ADOPTED: Dict[Tuple[str, int], Tuple[int, int]] = {}
IN_WORKER = False
#: In a worker: the (read, write) descriptors of its metrics pipes, or None.
METRICS_FDS: Optional[Tuple[int, int]] = None


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; returns the new soft limit."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ValueError, OSError):
        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def adopted_endpoint(reactor, ip: str, port: int):
    """In a worker, the endpoint adopting the parent's socket for ``ip:port`` (or None)."""
    found = ADOPTED.pop((ip, port), None)
    if found is None:
        return None
    fd, family = found
    return _AdoptedEndpoint(reactor, fd, family)


class _AdoptedEndpoint(endpoints.AdoptedStreamServerEndpoint):
    def listen(self, factory):
        d = endpoints.AdoptedStreamServerEndpoint.listen(self, factory)

        def mark(port):
            # Set by the parent before it listened (ControlPort, ReusePortEndpoint)?
            port.control_options = has_control_options(getattr(port, "socket", None))
            return port
        return d.addCallback(mark)


def planned(config) -> int:
    """The number of processes ``ServerWorkers`` asks for (1 in a worker)."""
    if IN_WORKER or not config.servers:
        return 1
    return max(1, getattr(config.servers[0], "server_workers", 1))


#: In the parent: (ip, port) -> the sockets bound for its workers (see ReusePortEndpoint),
#: handed over (and closed here) as the workers start.
RESERVED: Dict[Tuple[str, int], List[socket.socket]] = {}


def set_control_options(s: socket.socket) -> None:
    """What every control connection needs: no Nagle delay on replies, and ABOR's
    Telnet Synch (urgent data) read in line.  Set on a listening socket before it
    listens, every connection it accepts has them already (Linux copies them), which
    saves two setsockopt calls per session."""
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)


def has_control_options(s) -> bool:
    try:
        return bool(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                    and s.getsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE))
    except (OSError, AttributeError):
        return False


class _ControlServer(tcp.Server):
    """An accepted control connection that knows its local address without asking the
    kernel when its port listens on one address (not a wildcard): every connection then
    has that very address (a ``getsockname`` less per session)."""

    def getHost(self):
        host = self.server.local_address
        if host is None:
            return tcp.Server.getHost(self)
        return host


class ControlPort(LeanAcceptPort, tcp.Port):
    """A listening port whose accepted connections inherit :func:`set_control_options`
    (``control_options`` tells the protocol it need not set them)."""

    control_options = True
    transport = _ControlServer
    #: The address every accepted connection has locally, when the port is bound to one
    #: address; None for a wildcard (each connection is asked).
    local_address = None

    def createInternetSocket(self):
        s = tcp.Port.createInternetSocket(self)
        set_control_options(s)
        return s

    def startListening(self):
        tcp.Port.startListening(self)
        host = self.getHost()
        if host.host not in ("0.0.0.0", "::", ""):
            self.local_address = host


@implementer(interfaces.IStreamServerEndpoint)
class ControlEndpoint:
    """TCP4ServerEndpoint/TCP6ServerEndpoint (the interface decides), with a ControlPort."""

    def __init__(self, reactor, port, interface, backlog=50):
        self.reactor, self.port, self.interface, self.backlog = reactor, port, interface, backlog

    def listen(self, factory):
        return defer.execute(self._listen, factory)

    def _listen(self, factory):
        p = ControlPort(self.port, factory, self.backlog, self.interface, self.reactor)
        p.startListening()
        return p


class _ReusePort(ControlPort):
    def createInternetSocket(self):
        s = ControlPort.createInternetSocket(self)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return s


@implementer(interfaces.IStreamServerEndpoint)
class ReusePortEndpoint:
    """The parent's listening socket plus one more per worker on the same address, all
    with ``SO_REUSEPORT``, so the kernel spreads new connections over the processes
    (a sleeping process's socket gets its share, unlike one shared socket, where the
    process that wakes first takes them).  Bound while the parent still has its
    privileges; the workers' sockets wait in :data:`RESERVED`."""

    def __init__(self, reactor, ip, port, extra, backlog=50):
        self.reactor, self.ip, self.port = reactor, ip, port
        self.extra, self.backlog = extra, backlog

    def listen(self, factory):
        return defer.execute(self._listen, factory)

    def _listen(self, factory):
        p = _ReusePort(self.port, factory, self.backlog, self.ip, self.reactor)
        p.startListening()
        host = p.getHost()
        socks = []
        try:
            for _ in range(self.extra):
                s = socket.socket(p.addressFamily, socket.SOCK_STREAM)
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                set_control_options(s)
                s.bind((host.host, host.port))
                s.listen(self.backlog)
                s.setblocking(False)
        except OSError as e:
            # Workers then share the parent's socket, as without SO_REUSEPORT.
            log.warn("ServerWorkers: no socket of their own for the workers on "
                     "{ip}:{port}: {error}", ip=self.ip, port=host.port, error=e)
            for s in socks:
                s.close()
            socks = []
        for s in RESERVED.pop((self.ip, self.port), ()):
            s.close()
        if socks:
            RESERVED[(self.ip, self.port)] = socks
        return p


def _listening_fd(listener) -> Optional[int]:
    d = getattr(listener, "_waitingForPort", None)
    port = getattr(d, "result", None)
    fileno = getattr(port, "fileno", None)
    if fileno is None:
        return None
    try:
        return fileno()
    except Exception:
        return None


class _WorkerProtocol(protocol.ProcessProtocol):
    metrics_fd = None       # the child's descriptor its metrics answers come up on

    def __init__(self, pool, index):
        self.pool = pool
        self.index = index
        self.ended = defer.Deferred()

    def childDataReceived(self, childFD, data):
        hub = self.pool.hub
        if childFD == self.metrics_fd and hub is not None:
            hub.received(self.index, data)

    def processEnded(self, reason):
        d, self.ended = self.ended, None
        self.pool.worker_ended(self, reason)
        if d is not None:
            d.callback(None)


class WorkerPool:
    """The parent's side: starts, restarts, signals and stops the worker processes."""

    def __init__(self, service, count: int, reactor):
        self.service = service
        self.count = count
        self.reactor = reactor
        self.procs: Dict[int, Tuple[_WorkerProtocol, object]] = {}
        self.stopping = False
        self._fds: List[Tuple[int, str, int, int]] = []
        self._own: Dict[Tuple[int, int], socket.socket] = {}   # (worker, i) -> its socket
        # PrometheusEngine's exporter side of the workers' metrics pipes, or None
        self.hub = getattr(getattr(service, "exporter", None), "hub", None)

    def start(self) -> bool:
        for (ip, port), listener in sorted(self.service.listeners().items()):
            fd = _listening_fd(listener)
            if fd is None:
                log.warn("ServerWorkers: cannot find the socket of {ip}:{port}; no workers",
                         ip=ip, port=port)
                return False
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            for index, s in enumerate(RESERVED.pop((ip, port), ()), 1):
                if index < self.count:
                    self._own[(index, len(self._fds))] = s
                else:
                    s.close()
            self._fds.append((fd, ip, port, family))
        for i in range(1, self.count):
            self._spawn(i)
        log.info("ServerWorkers: {n} worker process(es) started beside pid {pid}",
                 n=self.count - 1, pid=os.getpid())
        return True

    def _worker_fds(self, index: int) -> List[Tuple[int, str, int, int]]:
        """The sockets worker ``index`` listens on: its own on its first start, the
        parent's (shared) if it is started again (its own was closed here)."""
        fds = []
        for i, (fd, ip, port, family) in enumerate(self._fds):
            own = self._own.get((index, i))
            fds.append((own.fileno() if own is not None else fd, ip, port, family))
        return fds

    def _argv(self, fds=None) -> List[str]:
        svc = self.service
        argv = [sys.executable, "-c", "from ftpredis.app.worker_main import main; main()",
                "--config", os.path.abspath(svc.path),
                "--shutdown-timeout", str(svc.shutdown_timeout),
                "--parent", str(os.getpid())]
        for name in svc.defines:
            argv += ["-D", name]
        for fd, ip, port, family in (self._fds if fds is None else fds):
            argv += ["--fd", "%d,%s,%d,%d" % (fd, ip, port, family)]
        return argv

    def _spawn(self, index: int):
        env = dict(os.environ)
        env["FTPREDIS_WORKER_INDEX"] = str(index)      # its RedisSpool files (redis.spool)
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"]
                                    if env.get("PYTHONPATH") else "")
        child_fds = {0: 0, 1: 1, 2: 2}
        fds = self._worker_fds(index)
        for fd, _, _, _ in fds:
            child_fds[fd] = fd
        proto = _WorkerProtocol(self, index)
        argv = self._argv(fds)
        if self.hub is not None:
            # Two descriptor numbers the child does not use yet: it reads questions on
            # the first and answers on the second.
            free = [n for n in range(3, 3 + len(child_fds) + 2) if n not in child_fds][:2]
            child_fds[free[0]], child_fds[free[1]] = "w", "r"
            proto.metrics_fd = free[1]
            argv += ["--metrics-fds", "%d,%d" % (free[0], free[1])]
        # The worker starts with SIGHUP blocked (the mask survives fork, posix_spawn and
        # exec): a reload passed on before it has its handler stays pending until
        # worker_main unblocks it, instead of killing it (SIGHUP's default action),
        # which reset every connection waiting in its socket's accept queue.
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            transport = self.reactor.spawnProcess(proto, sys.executable, argv,
                                                  env=env, childFDs=child_fds)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
            # The worker has its copy: a socket only it holds is closed with it, so the
            # kernel stops routing connections to a worker that died.
            for i in range(len(self._fds)):
                own = self._own.pop((index, i), None)
                if own is not None:
                    own.close()
        self.procs[index] = (proto, transport)
        if self.hub is not None:
            ask = free[0]
            self.hub.attach(index, lambda data: transport.writeToChild(ask, data))

    def worker_ended(self, proto, reason):
        if self.procs.get(proto.index, (None,))[0] is proto:
            del self.procs[proto.index]
            if self.hub is not None:
                self.hub.ended(proto.index, stopping=self.stopping)
        if self.stopping:
            return
        log.warn("ServerWorkers: worker {i} ended ({reason}); starting it again",
                 i=proto.index, reason=reason.getErrorMessage())
        self.reactor.callLater(1.0, lambda: self.stopping or self._spawn(proto.index))

    def signal(self, signum):
        for _, transport in list(self.procs.values()):
            try:
                transport.signalProcess(signum)
            except Exception:
                pass

    @defer.inlineCallbacks
    def stop(self, timeout: float):
        """SIGTERM every worker; fires once all have exited (SIGKILL after ``timeout``)."""
        self.stopping = True
        waits = [p.ended for p, _ in self.procs.values() if p.ended is not None]
        self.signal(signal.SIGTERM)
        if not waits:
            return
        everything = defer.DeferredList(waits, consumeErrors=True)
        timer = self.reactor.callLater(timeout, self.signal, signal.SIGKILL)
        yield everything
        if timer.active():
            timer.cancel()


def _one_accept_per_turn(service) -> None:
    """Make each shared listening port accept one connection per wake-up.

    Twisted accepts up to ``numberAccepts`` connections per readiness and grows that
    number by 20 whenever it is reached, so the process that wakes first takes a whole
    burst (eight W4 sessions all went to the parent, the worker idled).  One at a time,
    and a short pause (:data:`ACCEPT_PAUSE`) after each, so that a sequence of
    connections is not all won by the process the kernel happens to wake first: every
    process sharing the socket gets its turn and a busy one takes fewer.
    """
    for listener in service.listeners().values():
        d = getattr(listener, "_waitingForPort", None)
        port = getattr(d, "result", None)
        read = getattr(type(port), "doRead", None)
        if port is None or read is None or not hasattr(port, "numberAccepts"):
            continue
        if _own_socket(port):
            continue        # the kernel spreads connections over SO_REUSEPORT sockets

        def doRead(port=port, read=read):
            port.numberAccepts = 1
            before = port.sessionno
            why = read(port)
            if port.sessionno != before and ACCEPT_PAUSE and port.connected:
                # Let another process take the next connection (the first process to
                # wake would otherwise take every one of a sequence of connections).
                port.stopReading()
                port.reactor.callLater(ACCEPT_PAUSE, _resume, port)
            return why
        port.doRead = doRead


def _own_socket(port) -> bool:
    try:
        return bool(port.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))
    except (OSError, AttributeError):
        return False


def _resume(port):
    if port.connected and not port.disconnecting:
        port.startReading()


#: Seconds a process sharing listening sockets waits after an accept before the next
#: (an idle reactor rounds it up to epoll's 1 ms; a busy one is back sooner).  Measured
#: with two processes: W4 2081 -> 2801 files/s (the eight sessions split evenly instead
#: of mostly into one process); 1 ms capped login churn at ~1000 sessions/s per process.
ACCEPT_PAUSE = 0.0002


def start(service, reactor) -> Optional[WorkerPool]:
    """Called by the service once it listens (and has dropped privileges)."""
    raise_fd_limit()
    if IN_WORKER:
        _one_accept_per_turn(service)
        return None
    count = getattr(service.config.servers[0], "server_workers", 1) if service.config.servers \
        else 1
    if count <= 1:
        return None
    pool = WorkerPool(service, count, reactor)
    if not pool.start():
        for socks in RESERVED.values():
            for s in socks:
                s.close()
        RESERVED.clear()
        return None
    _one_accept_per_turn(service)
    return pool


# --------------------------------------------------------------------------- the worker

# -*- test-case-name: tests.test_protocol -*-
"""The listening side of one server: :class:`FTPRedisFactory` builds the sessions, counts the
logged-in ones (MaxClients), and owns what they share (spare passive ports, user and group
name tables)."""

from __future__ import annotations

from typing import Callable

from twisted.protocols import ftp

from ftpredis.tls import ftps as _tls
from ftpredis.ftp import fastpath as _fastpath
from ftpredis.records.identity import host_address
from ftpredis.records.events import Event
from ftpredis.ftp.protocol import FTPRedisProtocol
from ftpredis.ftp.diskpool import pool_for


class FTPRedisFactory(ftp.FTPFactory):
    """Listens for one :class:`~ftpredis.config.model.ServerConfig`."""

    protocol = FTPRedisProtocol
    allowAnonymous = False
    # ftpredis.app.service logs "listening on" / "stopped listening on" with the address;
    # Twisted's "Starting factory <... object at 0x...>" would say it twice, unreadably.
    noisy = False
    # The server's uid -> user name, gid -> group name tables and its root user names,
    # worked out by the first login that needs them (ftpredis.ftp.login): the
    # configuration is immutable, so once per server rather than per login.
    owner_names = None
    root_names = None
    # The SystemLog (ftpredis.app.systemlog) or None, for the lines a connection refused
    # before it is a session writes (ftpredis.app.service sets it).
    system_log = None
    # Called with ProFTPD's disconnect details for such a connection (the metrics'
    # connection_refused, ftpredis.metrics.events), or None.
    count_refused = None

    def __init__(self, server, portal, emit: Callable[[Event], None], reactor=None,
                 policy=None):
        ftp.FTPFactory.__init__(self, portal)
        # The open sessions, in connection order: a dict rather than Twisted's list, so
        # that a session ending with 10,000 others open is not a list scan.
        self.instances = {}
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.disk = pool_for(reactor)       # every session's disk work, off the reactor
        self._listen_quiet = _fastpath.listen_quiet(reactor)   # PASV ports, not logged
        self.server = server
        self.emit = emit
        #: RedisSpool: each command's record is made (and on disk) before its reply is
        #: sent, not after (ftpredis.ftp.dispatch, _finish)
        self.record_before_reply = bool(server.redis is not None and server.redis_engine
                                        and server.redis.spool_dir)
        # An ISessionPolicy (mod_ban's BanManager) or None: called by the sessions.
        self.policy = policy
        if getattr(server, "unique_id_engine", False):
            # mod_unique_id resolves the host name at start-up: here too, not in a session.
            host_address()
        self.timeOut = server.timeout_idle or None
        if server.passive_ports:
            lo, hi = server.passive_ports
            self.passivePortRange = range(lo, hi + 1)
        # The sessions logged in now: MaxClients counts these only, as ProFTPD does
        # (ftpredis.ftp.login refuses the login beyond it).  Connections that have not
        # logged in are MaxConnectionsPerHost's and TimeoutLogin's business.
        self.logged_in = 0
        # ProFTPD's AllowStoreRestart (off by default) gates APPE and REST+STOR; the
        # config model has no field for it yet.
        self.allowStoreRestart = bool(getattr(server, "allow_store_restart", False))
        self.allowRetrieveRestart = server.allow_retrieve_restart
        # Seconds before a failed login is answered (ProFTPD's mod_delay does similar).
        self.loginFailureDelay = 0.25
        self.tls = _tls.ServerTLS.build(server, reactor)     # None unless TLSEngine on

    def buildProtocol(self, addr):
        # Not wrapped in a ProtocolWrapper as LimitTotalConnectionsFactory does, only to
        # count connections: that is two more calls on every read and write of the session.
        p = self.protocol()
        p.factory = self
        p.portal = self.portal
        p.timeOut = self.timeOut
        p.passivePortRange = self.passivePortRange
        p.listenFactory = self._listen_quiet
        return p

    #: How long a session keeps a passive port after its transfer (for its next PASV).
    SPARE_SECONDS = 2.0
    _sweep = None

    def keepSpare(self, pi) -> None:
        spares = self.__dict__.setdefault("_spares", {})
        spares[pi] = self.reactor.seconds()
        if self._sweep is None:
            self._sweep = self.reactor.callLater(self.SPARE_SECONDS, self._sweepSpares)

    def forgetSpare(self, pi) -> None:
        spares = self.__dict__.get("_spares", {})
        spares.pop(pi, None)
        # Not on every PASV (that would be a timer per file): when a session ends.
        if not spares and pi.disconnected:
            self._stopSweep()

    def _stopSweep(self) -> None:
        sweep, self._sweep = self._sweep, None
        if sweep is not None and sweep.active():
            sweep.cancel()

    def _sweepSpares(self) -> None:
        self._sweep = None
        spares = self.__dict__.get("_spares", {})
        cutoff = self.reactor.seconds() - self.SPARE_SECONDS
        for pi, kept in list(spares.items()):
            if kept <= cutoff:
                pi.drop_spare()
        if spares:
            self._sweep = self.reactor.callLater(self.SPARE_SECONDS, self._sweepSpares)

    def stopFactory(self):
        for pi in list(self.__dict__.get("_spares", {})):
            pi.drop_spare()
        self._stopSweep()
        ftp.FTPFactory.stopFactory(self)

    def closeAllSessions(self):
        """End every open session ("Server shutting down"), logging each DISCONNECT.

        Not done in stopFactory: the listening port also closes on a reload, and sessions
        open then finish on their old settings.
        """
        for p in list(self.instances):
            p.shutdown()

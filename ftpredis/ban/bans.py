# -*- test-case-name: tests.test_ban -*-
"""Bans, as ProFTPD's mod_ban does them, shared between nodes through Redis.

This module owns what happens once ``BanEngine on`` is configured:

* the **local table** (:class:`BanRegistry`, one per process, kept across reloads): ban
  entries (host, user, user@host, class) and the per-client event counters that
  ``BanOnEvent`` rules count;
* the **Redis cache** (:class:`BanCache`, one per Redis target, ``BanCache redis``): every
  ban a node adds is also stored in Redis under mod_ban's own key and JSON value, so
  other ftpredis nodes (and ProFTPD nodes with ``BanCacheOptions UseJSON``) sharing that
  Redis enforce it.  Each node keeps a **mirror** of the cached entries, updated at once
  by the pub/sub messages every ban and lift is announced with
  (:mod:`ftpredis.ban.notify`) and re-read every :attr:`BanCache.poll_interval` seconds
  (the fallback for a message missed); a ban check never talks to Redis, so a Redis
  outage or a slow Redis never delays a connection: the local table still applies, the
  last mirror too (until the entries expire), and the mirror is refreshed when Redis is
  back.  A cached entry this node added and that disappeared from Redis (``ftpredis-ban
  permit``) is lifted from the local table too;
* **shared counters** (``BanCache redis``): each ``BanOnEvent`` event is also counted in
  Redis (one atomic ``INCR``, the key expiring with the rule's window), so events of one
  client on any node add up to the rule's count; the node's own count still decides at
  once, and alone while Redis cannot be reached (said once in the log, and once when
  it is back);
* **enforcement** (:class:`BanManager`, one per server: the
  :class:`~ftpredis.ftp.interfaces.ISessionPolicy` its FTP factory is built with, seeing
  sessions only as :class:`~ftpredis.ftp.interfaces.IPolicySession`): host and class bans
  refuse a connection before the banner
  (``530 <BanMessage>``, or a silent close when no message is configured, as ProFTPD),
  user and user@host bans refuse ``USER`` with 530; the refused session's DISCONNECT
  event carries ``%E`` = ``Banned`` and the 530 reply, so ``RedisLogOn*`` can log it.

The cache format, as ProFTPD 1.3.8 writes it (seen running it with ``BanCache redis`` and
``BanCacheOptions UseJSON``)::

    key    mod_ban.{"ban_type_id":2,"ban_name":"10.0.0.7"}\\0
    value  {"version":2,"update_ts":T,"ip_addr":"10.0.0.1","port":21,"ban_type":"host ban",
            "ban_name":"10.0.0.7","ban_reason":"MaxLoginAttempts autoban at <ctime>",
            "ban_message":"","expires_ts":T2,"server_id":1}

The key keeps ProFTPD's trailing NUL byte (a key must match exactly for ProFTPD nodes to
find it); the value is written without it (ProFTPD reads it either way) so that it is
plain JSON for ``redis-cli`` and other tools.  ProFTPD sets the key's TTL to the absolute
expiry time (so it practically never expires); ftpredis sets the real remaining time.
"""

from __future__ import annotations

import json
import time
import weakref
from collections import deque
from typing import Callable, Dict, List, Optional, Tuple

from twisted.application import service
from twisted.internet import defer, task
from twisted.logger import Logger
from zope.interface import implementer

from ftpredis.ban import notify as _notify
from ftpredis.ftp.interfaces import ISessionPolicy
from ftpredis.ftp.replies import Reply
from ftpredis.redis.sink import RedisSink

_log = Logger(namespace="ftpredis.ban.bans")

BAN_TYPE_CLASS, BAN_TYPE_HOST, BAN_TYPE_USER, BAN_TYPE_USER_HOST = 1, 2, 3, 4
#: ``ban_type`` texts of the JSON value, and the words of ``ftpredis-ban``/BanLog.
TYPE_TEXT = {BAN_TYPE_CLASS: "class ban", BAN_TYPE_HOST: "host ban",
             BAN_TYPE_USER: "user ban", BAN_TYPE_USER_HOST: "user@host ban"}
TYPE_WORD = {BAN_TYPE_CLASS: "class", BAN_TYPE_HOST: "host", BAN_TYPE_USER: "user",
             BAN_TYPE_USER_HOST: "user@host"}
TYPE_BY_WORD = {v: k for k, v in TYPE_WORD.items()}

#: What each BanOnEvent event bans (mod_ban 1.3.8).
EVENT_BAN_TYPE = {
    "AnonRejectPasswords": BAN_TYPE_HOST, "BadProtocol": BAN_TYPE_HOST,
    "ClientConnectRate": BAN_TYPE_HOST, "EmptyPassword": BAN_TYPE_HOST,
    "LoginRate": BAN_TYPE_HOST, "MaxClientsPerClass": BAN_TYPE_CLASS,
    "MaxClientsPerHost": BAN_TYPE_HOST, "MaxClientsPerUser": BAN_TYPE_USER,
    "MaxCommandRate": BAN_TYPE_HOST, "MaxConnectionsPerHost": BAN_TYPE_HOST,
    "MaxHostsPerUser": BAN_TYPE_USER, "MaxLoginAttempts": BAN_TYPE_HOST,
    "MaxLoginAttemptsFromUser": BAN_TYPE_USER_HOST, "RootLogin": BAN_TYPE_HOST,
    "TimeoutIdle": BAN_TYPE_HOST, "TimeoutLogin": BAN_TYPE_HOST,
    "TimeoutNoTransfer": BAN_TYPE_HOST, "TLSHandshake": BAN_TYPE_HOST,
    "UnhandledCommand": BAN_TYPE_HOST,
}

#: Command words that mean the client speaks HTTP, not FTP (mod_ban's BadProtocol).
HTTP_VERBS = frozenset({"GET", "POST", "PUT", "HEAD", "DELETE", "CONNECT", "OPTIONS",
                        "TRACE", "PATCH"})

KEY_PREFIX = b"mod_ban."
#: BanOnEvent counters shared through the cache (ftpredis's own: mod_ban counts per
#: node); outside ``mod_ban.*``, which the poll scans.
COUNTER_PREFIX = b"ftpredis.ban.event."
# One atomic step: count the event, and start the rule's window with the first one.
_COUNT_SCRIPT = ("local n = redis.call('INCR', KEYS[1]) "
                 "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n")
CACHE_VERSION = 2
END_REASON = "Banned"           # ProFTPD's %E for PR_SESS_DISCONNECT_BANNED
DEFAULT_REPLY = "Login incorrect."


def _compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cache_key(ban_type: int, name: str) -> bytes:
    """mod_ban's Redis key for one ban, trailing NUL included."""
    return KEY_PREFIX + _compact({"ban_type_id": ban_type, "ban_name": name}) + b"\x00"


def counter_key(event: str, sid: int, name: str) -> bytes:
    """The Redis key of the shared BanOnEvent counter of ``event`` for ``name``."""
    return COUNTER_PREFIX + _compact({"event": event, "sid": sid, "name": name})


def parse_key(key) -> Optional[Tuple[int, str]]:
    """``(ban_type, name)`` of a cache key, or None for keys that are not mod_ban's."""
    if isinstance(key, str):
        key = key.encode("utf-8", "surrogateescape")
    if not key.startswith(KEY_PREFIX):
        return None
    try:
        obj = json.loads(key[len(KEY_PREFIX):].rstrip(b"\x00").decode("utf-8"))
        ban_type, name = int(obj["ban_type_id"]), obj["ban_name"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    if ban_type not in TYPE_TEXT or not isinstance(name, str):
        return None
    return ban_type, name


def ctime(ts: float) -> str:
    """C's ctime() text without its newline, as mod_ban writes it into ban_reason."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(ts))


class BanEntry:
    """One ban, local or cached.  ``expires`` is a Unix time in whole seconds, 0 = never
    (whole seconds, as in the cache, so that every node lifts it at the same moment)."""

    __slots__ = ("ban_type", "name", "sid", "expires", "reason", "message", "ip_addr",
                 "port", "update_ts", "cached_at")

    def __init__(self, ban_type, name, sid=1, expires=0, reason="", message="",
                 ip_addr="", port=0, update_ts=0):
        self.ban_type = ban_type
        self.name = name
        self.sid = sid
        self.expires = int(expires)
        self.reason = reason
        self.message = message or ""
        self.ip_addr = ip_addr
        self.port = port
        self.update_ts = int(update_ts)
        self.cached_at: Optional[float] = None   # when Redis acknowledged our SET

    def active(self, now: float) -> bool:
        return self.expires == 0 or now < self.expires

    def to_json(self) -> bytes:
        return _compact({"version": CACHE_VERSION, "update_ts": self.update_ts,
                         "ip_addr": self.ip_addr, "port": self.port,
                         "ban_type": TYPE_TEXT[self.ban_type], "ban_name": self.name,
                         "ban_reason": self.reason, "ban_message": self.message,
                         "expires_ts": self.expires, "server_id": self.sid})

    def as_dict(self) -> dict:
        return json.loads(self.to_json())

    @classmethod
    def from_cache(cls, key, value) -> Optional["BanEntry"]:
        """The entry of a cached key/value pair; None when it is not a usable mod_ban entry
        (ProFTPD's binary "tpl" values, written without UseJSON, are skipped too)."""
        parsed = parse_key(key)
        if parsed is None or value is None:
            return None
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        try:
            obj = json.loads(value.rstrip(b"\x00").decode("utf-8"))
            expires = obj.get("expires_ts", 0)
            if not isinstance(obj, dict) or not isinstance(expires, (int, float)):
                return None
        except (ValueError, UnicodeDecodeError, AttributeError):
            return None
        entry = cls(parsed[0], parsed[1], sid=int(obj.get("server_id") or 0),
                    expires=expires, reason=str(obj.get("ban_reason", "")),
                    message=str(obj.get("ban_message", "") or ""),
                    ip_addr=str(obj.get("ip_addr", "")), port=int(obj.get("port") or 0),
                    update_ts=int(obj.get("update_ts") or 0))
        return entry


# ---------------------------------------------------------------------------------------
# The Redis side

class NotConnected(Exception):
    pass


class BanCache(RedisSink):
    """The ``BanCache redis`` store for one Redis target, and this node's mirror of it.

    A :class:`~ftpredis.redis.sink.RedisSink` for its connection handling (connect timeout,
    AUTH/SELECT/TLS on every connection, back-off, RedisLog reporting) that never pushes
    records; it runs its own commands, each failing at once when no connection is up
    and bounded by the io timeout otherwise.
    """

    poll_interval = 0.5
    scan_count = 1000
    #: Subscribe to ban announcements (ftpredis.ban.notify); the tool does not.
    notifications = True

    def __init__(self, target, logs=(), reactor=None, clock: Callable[[], float] = time.time):
        RedisSink.__init__(self, target, logs, reactor=reactor)
        self.clock = clock
        self.mirror: Dict[Tuple[int, str], BanEntry] = {}
        self.polled_at: Optional[float] = None    # start time of the last good poll
        self.listeners: List[Callable[["BanCache"], None]] = []
        #: the entries the last poll found that the mirror did not have (the
        #: registry counts those another node added, for the metrics)
        self.appeared: List[BanEntry] = []
        self._poller: Optional[task.LoopingCall] = None
        self._polling = False
        self._waiting: List[defer.Deferred] = []
        # Called with (ban_type, name) when a lift is announced (BanRegistry drops its
        # local copy at once rather than at the next poll).
        self.permit_listeners: List[Callable[[int, str], None]] = []
        # Called with the cache when an announcement brings a ban the mirror lacked
        # (the metrics count it as shared once, not again at the next poll).
        self.arrival_listeners: List[Callable[["BanCache"], None]] = []
        # (ban_type, name) -> (when, entry or None for a lift): announcements a poll
        # started before them must not undo.
        self._announced: Dict[Tuple[int, str], Tuple[float, Optional[BanEntry]]] = {}
        self.subscriber = _notify.BanSubscriber(self) if self.notifications else None

    # -- service -----------------------------------------------------------------------
    def startService(self):
        RedisSink.startService(self)
        if self._factory is None:
            self._startConnecting()
        if self.poll_interval and self._poller is None:
            self._poller = task.LoopingCall(self.poll)
            self._poller.clock = self.reactor
            self._poller.start(self.poll_interval, now=True).addErrback(
                lambda f: _log.failure("ban cache poller stopped", f))
        if self.subscriber is not None and self.poll_interval:
            self.subscriber.start()

    def stopService(self):
        if self._poller is not None and self._poller.running:
            self._poller.stop()
        self._poller = None
        if self.subscriber is not None:
            self.subscriber.stop()
        for d in self._waiting:
            d.errback(NotConnected("stopped"))
        self._waiting = []
        return RedisSink.stopService(self)

    def connectionReady(self, conn):
        RedisSink.connectionReady(self, conn)
        if self._ready:
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(self)
            if self.running and not self._polling and self.poll_interval:
                self.poll()          # Redis is back: re-read the entries now

    def whenConnected(self, timeout: float) -> defer.Deferred:
        if self._ready:
            return defer.succeed(self)
        d = defer.Deferred()
        self._waiting.append(d)
        d.addTimeout(timeout, self.reactor)
        return d

    # -- commands ----------------------------------------------------------------------
    def command(self, *args) -> defer.Deferred:
        conns = [c for c in self._ready if c.connected and not c.abortedBySink]
        if not conns:
            return defer.fail(NotConnected("no connection to Redis %s" % (self.address,)))
        conn = conns[0]
        d = defer.maybeDeferred(conn.execute_command, *args)
        d.addTimeout(self.io_timeout, self.reactor)

        def failed(f):
            if f.check(defer.TimeoutError, defer.CancelledError):
                conn.abortedBySink = True
                transport = getattr(conn, "transport", None)
                if transport is not None:
                    transport.abortConnection()
            return f
        return d.addErrback(failed)

    def store(self, entry: BanEntry) -> defer.Deferred:
        """SET the entry with the TTL it has left, and announce it; fires with the entry
        once stored."""
        args = ["SET", cache_key(entry.ban_type, entry.name), entry.to_json()]
        if entry.expires:
            args += ["EX", str(max(1, int(entry.expires - self.clock() + 0.999)))]
        d = self.command(*args)
        # Sent now, behind the SET on the same connection (no round trip between them);
        # waited for below only so that ftpredis-ban does not close the connection
        # before Redis has it.
        announced = self._announce(_notify.message("ban", entry.ban_type, entry.name,
                                                   entry.as_dict()))
        d.addCallback(lambda reply: announced.addCallback(lambda _: reply))

        def stored(_):
            entry.cached_at = self.clock()
            self.mirror[(entry.ban_type, entry.name)] = entry
            return entry
        return d.addCallback(stored)

    def remove(self, ban_type: int, name: str) -> defer.Deferred:
        """DEL the entry and announce the lift; fires with how many keys were deleted."""
        self.mirror.pop((ban_type, name), None)
        d = self.command("DEL", cache_key(ban_type, name))
        announced = self._announce(_notify.message("permit", ban_type, name))
        return d.addCallback(lambda reply: announced.addCallback(lambda _: reply))

    # -- shared BanOnEvent counters ------------------------------------------------------
    _counting_local = False     # said once in the log: Redis unreachable, node-local counts

    def count(self, key: bytes, window: int) -> defer.Deferred:
        """Count one event in Redis; fires with the count within the window, or None when
        Redis cannot be reached (the node's own count then decides, said once)."""
        d = self.command("EVAL", _COUNT_SCRIPT, "1", key, str(max(1, int(window))))

        def counted(n):
            if self._counting_local:
                self._counting_local = False
                _log.info("BanOnEvent counters: Redis {address} reachable again; events "
                          "are counted across nodes", address=self.address)
            return int(n)

        def failed(f):
            if not self._counting_local:
                self._counting_local = True
                _log.warn("BanOnEvent counters: Redis {address} unreachable ({why}); "
                          "events are counted on this node only until it is back",
                          address=self.address, why=f.getErrorMessage())
            return None
        return d.addCallbacks(counted, failed)

    def forget_count(self, key: bytes) -> None:
        self.command("DEL", key).addErrback(lambda f: None)

    def _announce(self, data: bytes) -> defer.Deferred:
        """PUBLISH ``data``; fires with None whatever happens (a lost announcement is
        the poll's to make up for)."""
        return self.command("PUBLISH", _notify.CHANNEL, data).addErrback(lambda f: None)

    # -- announcements (ftpredis.ban.notify) --------------------------------------------
    def notified(self, op: str, ban_type: int, name: str, entry: Optional[dict]) -> None:
        """An announcement arrived: the mirror follows it now."""
        key = (ban_type, name)
        if op == "ban":
            found = BanEntry.from_cache(cache_key(ban_type, name), _compact(entry))
            if found is None:
                return
            new = key not in self.mirror
            self.mirror[key] = found
            self._announced[key] = (self.clock(), found)
            if new:
                # The next poll finds it in the mirror already: it appeared now.
                self.appeared = [found]
                for listener in list(self.arrival_listeners):
                    try:
                        listener(self)
                    except Exception:
                        _log.failure("ban cache arrival listener failed")
            return
        self.mirror.pop(key, None)
        self._announced[key] = (self.clock(), None)
        for listener in list(self.permit_listeners):
            try:
                listener(ban_type, name)
            except Exception:
                _log.failure("ban cache permit listener failed")

    def subscription(self, on: bool) -> None:
        """The announcements' subscription started (``on``) or ended."""
        if on and self.running and not self._polling and self.poll_interval:
            self.poll()       # catch up on what was announced while unsubscribed

    @defer.inlineCallbacks
    def read_all(self):
        """Every mod_ban entry in Redis, as ``{(type, name): BanEntry}``."""
        keys, cursor = [], "0"
        while True:
            reply = yield self.command("SCAN", cursor, "MATCH", "mod_ban.*",
                                       "COUNT", str(self.scan_count))
            cursor, batch = reply[0], reply[1]
            keys.extend(batch)
            if str(cursor) == "0":
                break
        found: Dict[Tuple[int, str], BanEntry] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            values = yield self.command("MGET", *chunk)
            for key, value in zip(chunk, values):
                entry = BanEntry.from_cache(key, value)
                if entry is not None:
                    found[(entry.ban_type, entry.name)] = entry
        return found

    def poll(self):
        """Refresh the mirror; a failure keeps the last one (and is not waited for)."""
        if self._polling or not self._ready:
            return None
        self._polling = True
        started = self.clock()
        d = self.read_all()

        def done(found):
            # Announcements that arrived since the poll started are newer than it.
            for key, (when, entry) in list(self._announced.items()):
                if when < started:
                    del self._announced[key]
                elif entry is None:
                    found.pop(key, None)
                else:
                    found[key] = entry
            self.appeared = [e for k, e in found.items() if k not in self.mirror]
            self.mirror = found
            self.polled_at = started
            for listener in list(self.listeners):
                try:
                    listener(self)
                except Exception:
                    _log.failure("ban cache listener failed")

        def finished(result):
            self._polling = False
            return result
        d.addCallbacks(done, lambda f: None)
        d.addBoth(finished)
        return None


# ---------------------------------------------------------------------------------------
# The process-wide table

class BanRegistry(service.MultiService):
    """The local ban table and event counters of this process, and the ban caches.

    Survives reloads: :meth:`configure` is called with each new configuration and
    :meth:`policy_for` gives each server's factory its :class:`BanManager`.
    """

    def __init__(self, reactor=None, clock: Callable[[], float] = time.time):
        service.MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self.clock = clock
        self.table: Dict[Tuple[int, str, int], BanEntry] = {}
        self.events: Dict[Tuple[str, int, str], list] = {}
        self.caches: Dict[object, BanCache] = {}
        self.logs: Dict[Tuple[str, bool], object] = {}
        self.managers: "weakref.WeakSet[BanManager]" = weakref.WeakSet()
        #: (source, ban type word) -> bans added here / sessions refused, for the metrics
        self.added: Dict[Tuple[str, str], int] = {}
        self.enforced: Dict[Tuple[str, str], int] = {}
        self._config = None
        self._sids: Dict[int, int] = {}

    def configure(self, config) -> None:
        self._config = config          # keeps the ServerConfig objects (and their ids) alive
        self._sids = {id(server): i + 1 for i, server in enumerate(config.servers)}

    def _ban_log(self, server):
        path = server.ban.log
        if not path:
            return None
        key = (path, server.allow_log_symlinks)
        if key not in self.logs:
            from ftpredis.redis.redislog import RedisLog
            self.logs[key] = RedisLog(path, server.allow_log_symlinks)
        return self.logs[key]

    def cache_for(self, server) -> Optional[BanCache]:
        if server.ban.cache != "redis" or server.redis is None:
            return None
        cache = self.caches.get(server.redis)
        if cache is None:
            log = self._ban_log(server)
            cache = BanCache(server.redis, (log,) if log is not None else (),
                             reactor=self._reactor, clock=self.clock)
            cache.listeners.append(self._reconcile)
            cache.listeners.append(self._learn)
            cache.arrival_listeners.append(self._learn)
            cache.permit_listeners.append(lambda t, n, c=cache: self._lifted(c, t, n))
            self.caches[server.redis] = cache
            cache.setServiceParent(self)
        return cache

    def policy_for(self, server) -> Optional["BanManager"]:
        """The session policy (``FTPRedisFactory(..., policy=)``) of ``server``: its
        :class:`BanManager` when BanEngine is on, else None."""
        if not server.ban.engine:
            return None
        sid = self._sids.get(id(server), 1)
        manager = BanManager(self, server, sid, self.cache_for(server), self._ban_log(server))
        self.managers.add(manager)
        return manager

    def _reconcile(self, cache: BanCache) -> None:
        """A ban this node stored that is gone from Redis was permitted elsewhere."""
        for key, entry in list(self.table.items()):
            if entry.cached_at is None or entry.cached_at > (cache.polled_at or 0):
                continue
            if (entry.ban_type, entry.name) not in cache.mirror:
                del self.table[key]
                for manager in list(self.managers):
                    if manager.cache is cache:
                        manager.write_log("removed '%s' from ban list" % (entry.name,))
                        break

    def count(self, table: dict, source: str, ban_type: int) -> None:
        key = (source, TYPE_WORD.get(ban_type, "?"))
        table[key] = table.get(key, 0) + 1

    def _learn(self, cache: BanCache) -> None:
        """Count the cached bans that appeared and that another node added: an entry
        carrying the address and port of one of our servers was added by this server
        (this process, or a ServerWorkers sibling)."""
        ours = {m.address_and_port() for m in list(self.managers) if m.cache is cache}
        for entry in cache.appeared:
            if (entry.ip_addr, entry.port) not in ours:
                self.count(self.added, "shared", entry.ban_type)

    def ban_counts(self):
        """``(added, enforced)``: ``{(source, type): n}``, source ``local`` (this
        process's table) or ``shared`` (the Redis cache's mirror)."""
        return dict(self.added), dict(self.enforced)

    def _lifted(self, cache: BanCache, ban_type: int, name: str) -> None:
        """A lift was announced: this node's cached copies of the ban go at once."""
        for key, entry in list(self.table.items()):
            if entry.cached_at is not None and key[:2] == (ban_type, name):
                del self.table[key]
                for manager in list(self.managers):
                    if manager.cache is cache:
                        manager.write_log("removed '%s' from ban list" % (name,))
                        break

    def permit(self, ban_type: int, name: str) -> int:
        """Lift local bans of ``name`` on every server; returns how many were removed."""
        keys = [k for k in self.table if k[0] == ban_type and k[1] == name]
        for k in keys:
            del self.table[k]
        return len(keys)


# ---------------------------------------------------------------------------------------
# One server's enforcement

@implementer(ISessionPolicy)
class BanManager:
    """The bans of one server: the session policy its factory calls."""

    def __init__(self, registry: BanRegistry, server, sid: int,
                 cache: Optional[BanCache], log):
        self.registry = registry
        self.server = server
        self.config = server.ban
        self.sid = sid
        self.cache = cache
        self.log = log
        self.rules = {}
        for rule in self.config.rules:
            self.rules.setdefault(rule.event, rule)     # the first rule for an event wins
        self._command_times: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        # This server's sessions (seen at on_connect): a new ban ends the banned
        # client's other sessions too.
        self._sessions: "weakref.WeakSet" = weakref.WeakSet()

    def write_log(self, message: str) -> None:
        _log.info("{message}", message=message)
        if self.log is not None:
            self.log.write(message)

    # -- lookups -----------------------------------------------------------------------
    def find(self, ban_type: int, name: Optional[str], proto=None) -> Optional[BanEntry]:
        """The active ban of ``name``, from the local table or the cache mirror."""
        return self._find(ban_type, name, proto)[0]

    def _enforce(self, ban_type: int, name: Optional[str], proto) -> Optional[BanEntry]:
        """:meth:`find`, counting the ban as enforced when there is one."""
        entry, source = self._find(ban_type, name, proto)
        if entry is not None:
            self.registry.count(self.registry.enforced, source, ban_type)
        return entry

    def _find(self, ban_type, name, proto):
        if name is None:
            return None, None
        now = self.registry.clock()
        table = self.registry.table
        if self.config.match_any_server:
            local = [e for k, e in list(table.items()) if k[0] == ban_type and k[1] == name]
        else:
            entry = table.get((ban_type, name, self.sid))
            local = [entry] if entry is not None else []
        for entry in local:
            if entry.active(now):
                return entry, "local"
            table.pop((entry.ban_type, entry.name, entry.sid), None)
            self.write_log("ban for %s '%s' has expired (%d seconds ago)"
                           % (TYPE_WORD[ban_type], name, int(now - entry.expires)))
        if self.cache is not None:
            entry = self.cache.mirror.get((ban_type, name))
            if entry is not None and entry.active(now):
                if self.config.match_server and not self._same_server(entry, proto):
                    return None, None
                return entry, "shared"
        return None, None

    def _server_address(self, proto=None) -> str:
        if self.server.addresses:
            return self.server.addresses[0]
        return getattr(proto, "local_host", None) or "0.0.0.0"

    def address_and_port(self) -> Tuple[str, int]:
        """What this server writes in its cache entries' ``ip_addr`` and ``port``
        (a wildcard server writes the address a session arrived on: not known here)."""
        return self._server_address(), self.server.port

    def _same_server(self, entry: BanEntry, proto) -> bool:
        return (entry.ip_addr == self._server_address(proto)
                and entry.port == self.server.port)

    @staticmethod
    def _class_of(proto) -> Optional[str]:
        return proto.connection_class

    def message_for(self, proto, user: Optional[str], entry=None, rule=None) -> Optional[str]:
        text = None
        if rule is not None and rule.message:
            text = rule.message
        elif entry is not None and entry.message:
            text = entry.message
        elif self.config.message:
            text = self.config.message
        if text is None:
            return None
        return (text.replace("%a", proto.peer_host)
                .replace("%c", self._class_of(proto) or "(none)")
                .replace("%u", user or "(none)"))

    # -- hooks ---------------------------------------------------------------------------
    def on_connect(self, proto) -> bool:
        """Before the banner: refuse a banned host or class (True = refused, closing)."""
        self._sessions.add(proto)
        host = proto.peer_host
        entry = self._enforce(BAN_TYPE_HOST, host, proto)
        if entry is not None:
            self.write_log("login from host '%s' denied due to host ban" % (host,))
            self._refuse(proto, self.message_for(proto, None, entry))
            return True
        klass = self._class_of(proto)
        entry = self._enforce(BAN_TYPE_CLASS, klass, proto) if klass else None
        if entry is not None:
            self.write_log("login from class '%s' denied due to class ban" % (klass,))
            self._refuse(proto, self.message_for(proto, None, entry))
            return True
        return self.on_event(proto, "ClientConnectRate")

    def check_user(self, proto, name: str) -> None:
        """At USER: raise the 530 reply when the user (or user@host) is banned."""
        for ban_type, banned in ((BAN_TYPE_USER, name),
                                 (BAN_TYPE_USER_HOST, "%s@%s" % (name, proto.peer_host))):
            entry = self._enforce(ban_type, banned, proto)
            if entry is not None:
                self.write_log("login from %s '%s' denied due to %s"
                               % (TYPE_WORD[ban_type], banned, TYPE_TEXT[ban_type]))
                raise Reply(530, self.message_for(proto, name, entry) or DEFAULT_REPLY)

    def on_command(self, proto, verb: str, known: bool) -> None:
        """Every command line: MaxCommandRate, UnhandledCommand and BadProtocol events."""
        rate = self.server.max_command_rate
        if rate is not None and "MaxCommandRate" in self.rules:
            count, seconds = rate
            times = self._command_times.get(proto)
            if times is None:
                times = self._command_times[proto] = deque()
            now = self.registry.clock()
            times.append(now)
            while times and times[0] <= now - seconds:
                times.popleft()
            if len(times) > count:
                times.clear()               # one event per burst
                if self.on_event(proto, "MaxCommandRate"):
                    return
        if not known:
            if verb in HTTP_VERBS and self.on_event(proto, "BadProtocol"):
                return
            self.on_event(proto, "UnhandledCommand")

    def on_event(self, proto, event: str, user: Optional[str] = None) -> bool:
        """Count ``event`` for this client; at the rule's threshold ban it and end the
        session.  True when the session is being ended."""
        rule = self.rules.get(event)
        if rule is None or proto.disconnected:
            return False
        ban_type = EVENT_BAN_TYPE[event]
        user = user or proto.original_user or proto.user
        host = proto.peer_host
        if ban_type == BAN_TYPE_HOST:
            name = host
        elif ban_type == BAN_TYPE_USER:
            name = user
        elif ban_type == BAN_TYPE_USER_HOST:
            name = "%s@%s" % (user, host) if user else None
        else:
            name = self._class_of(proto)
        if not name:
            return False
        now = self.registry.clock()
        events = self.registry.events
        key = (event, self.sid, name)
        counter = events.get(key)
        if counter is None or now - counter[1] > rule.window:
            if counter is None:
                self.write_log("added ban event for %s" % (event,))
            counter = events[key] = [0, now]
        counter[0] += 1
        if self.cache is not None:
            # BanCache redis: the count of every node decides too, a round trip later;
            # this node's own count still decides at once (and alone without Redis).
            self._count_shared(key, rule, ban_type, proto, user)
        if counter[0] < rule.count:
            return False
        self._autoban(key, rule, ban_type, proto, user, current=True)
        return True

    def _count_shared(self, key, rule, ban_type: int, proto, user) -> None:
        event, sid, name = key
        d = self.cache.count(counter_key(event, sid, name), rule.window)

        def counted(n):
            if n is None or n < rule.count:
                return
            if self.find(ban_type, name, proto) is not None:
                return          # banned already (by this node's count, or another node)
            self._autoban(key, rule, ban_type, proto, user)
        d.addCallback(counted)
        d.addErrback(lambda f: _log.failure("shared ban counter failed", f))

    def _autoban(self, key, rule, ban_type: int, proto, user, current=False) -> None:
        """The rule's threshold is reached: ban, end the session (``current``: the one
        whose event this is; else only when still open and not ending already) and the
        banned client's others; the counts start over."""
        event, _sid, name = key
        now = self.registry.clock()
        self.registry.events.pop(key, None)
        if self.cache is not None:
            self.cache.forget_count(counter_key(*key))
        entry = self.add_ban(ban_type, name, rule.expires,
                             "%s autoban at %s" % (event, ctime(now)), proto=proto)
        self.write_log("added %s-triggered autoban for %s '%s'"
                       % (event, TYPE_WORD[ban_type], name))
        if current or (not proto.disconnected and proto.end_reason is None):
            self.write_log("%s autoban threshold reached, ending session" % (event,))
            self._refuse(proto, self.message_for(proto, user, entry, rule))
            self.registry.count(self.registry.enforced, "local", ban_type)
        self._end_others(ban_type, name, proto)

    # -- adding bans -----------------------------------------------------------------
    def add_ban(self, ban_type: int, name: str, seconds: int, reason: str,
                proto=None) -> BanEntry:
        now = self.registry.clock()
        entry = BanEntry(ban_type, name, sid=self.sid,
                         expires=int(now) + seconds if seconds else 0, reason=reason,
                         ip_addr=self._server_address(proto), port=self.server.port,
                         update_ts=int(now))
        self.registry.table[(ban_type, name, self.sid)] = entry
        self.registry.count(self.registry.added, "local", ban_type)
        if self.cache is not None:
            d = self.cache.store(entry)
            d.addCallback(lambda e: self.write_log(
                "cache entry added for name %s, type %d, sid %d" % (name, ban_type, self.sid)))
            d.addErrback(lambda f: self.write_log(
                "unable to add cache entry for name %s, type %d: %s"
                % (name, ban_type, f.getErrorMessage())))
        return entry

    def _matches(self, proto, ban_type: int, name: str) -> bool:
        if ban_type == BAN_TYPE_HOST:
            return proto.peer_host == name
        user = proto.original_user
        if ban_type == BAN_TYPE_USER:
            return user == name
        if ban_type == BAN_TYPE_USER_HOST:
            return user is not None and "%s@%s" % (user, proto.peer_host) == name
        return self._class_of(proto) == name

    def _end_others(self, ban_type: int, name: str, current) -> None:
        """A new ban also ends the banned client's other sessions (as mod_ban does)."""
        ended = 0
        for manager in list(self.registry.managers):
            ended += manager.end_matching(ban_type, name, current)
        if ended:
            self.write_log("disconnected %d %s from %s '%s'"
                           % (ended, "client" if ended == 1 else "clients",
                              TYPE_WORD[ban_type], name))

    # -- ending sessions -------------------------------------------------------------
    def end_matching(self, ban_type: int, name: str, current=None) -> int:
        """End this server's open sessions (other than ``current``) that the new ban of
        ``name`` covers; returns how many were ended."""
        ended = 0
        for proto in list(self._sessions):
            if proto is current or proto.disconnected:
                continue
            if proto.end_reason is not None:
                continue        # already closing (a policy refusal): nothing to end
            if self._matches(proto, ban_type, name):
                self._refuse(proto, self.message_for(proto, proto.original_user))
                self.registry.count(self.registry.enforced, "local", ban_type)
                ended += 1
        return ended

    def _refuse(self, proto, message: Optional[str]) -> None:
        # ``530 <message>`` (none: a silent close, as ProFTPD); the DISCONNECT record
        # carries it and %E "Banned".
        proto.end_session(END_REASON, message)

# -*- test-case-name: tests.test_ban_notify -*-
"""Bans at once: the Redis pub/sub channel on which ban caches announce what they add
and lift, and :class:`BanSubscriber`, one node's subscription to it.

Without it a ban added on one node (or by ``ftpredis-ban``) reaches the others at their
next poll of the cache (:class:`ftpredis.ban.bans.BanCache`, every half second); with
it, within a network round trip.  The poll stays, as the fallback: a message missed
while the subscription was down (Redis restarted, a failover) is caught up by the poll
started when the subscription is back, and by every later one.

A message is JSON: ``{"op": "ban", "ban_type_id": 2, "ban_name": "10.0.0.7", "entry":
{...mod_ban's cached value...}}`` or ``{"op": "permit", "ban_type_id": 2, "ban_name":
"10.0.0.7"}``; it is published on the same connection right after the ``SET`` or
``DEL`` it announces, so a node that reads it can trust the cache already says so.
The subscription runs over the cache's own connection code
(:mod:`ftpredis.redis.connection`: AUTH, SELECT, TLS, Sentinel, back-off).
"""

from __future__ import annotations

import json
from typing import Optional, Tuple

import txredisapi
from twisted.logger import Logger

from ftpredis.redis.connection import _ReportingEndpoint, _SinkFactory, _SinkProtocol

_log = Logger(namespace="ftpredis.ban.bans")

#: The channel every ftpredis node sharing a Redis listens on.
CHANNEL = "ftpredis.ban"


def message(op: str, ban_type: int, name: str, entry: Optional[dict] = None) -> bytes:
    """The message announcing ``op`` ("ban" or "permit") of one cached ban."""
    body = {"op": op, "ban_type_id": ban_type, "ban_name": name}
    if entry is not None:
        body["entry"] = entry
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse(data) -> Optional[Tuple[str, int, str, Optional[dict]]]:
    """``(op, ban_type, name, entry)`` of a message; None when it is not one of ours."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    try:
        body = json.loads(data.decode("utf-8"))
        op, ban_type, name = body["op"], int(body["ban_type_id"]), body["ban_name"]
        entry = body.get("entry")
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None
    if op not in ("ban", "permit") or not isinstance(name, str):
        return None
    if op == "ban" and not isinstance(entry, dict):
        return None
    return op, ban_type, name, entry


class _SubscriberProtocol(_SinkProtocol, txredisapi.SubscriberProtocol):
    """The sink's connection handling (handshake, PING probe, reporting), in subscriber
    mode once subscribed."""

    def messageReceived(self, pattern, channel, data):
        self.factory.sink.received(data)


class _SubscriberFactory(_SinkFactory):
    protocol = _SubscriberProtocol


class BanSubscriber:
    """One node's subscription to :data:`CHANNEL`, for the ban cache ``cache``.

    Stands where :mod:`ftpredis.redis.connection` expects a sink: it lends the cache's
    settings and endpoint, and reports to the cache what arrives (``cache.notified``)
    and when the subscription starts and ends (``cache.subscription``)."""

    def __init__(self, cache):
        self.cache = cache
        self._factory = None
        self.subscribed = False
        self._failed_logged = False

    # What ftpredis.redis.connection reads of a sink: the cache's settings.
    @property
    def target(self):
        return self.cache.target

    @property
    def address(self):
        return self.cache.address

    @property
    def io_timeout(self):
        return self.cache.io_timeout

    @property
    def connect_timeout(self):
        return self.cache.connect_timeout

    @property
    def reactor(self):
        return self.cache.reactor

    @property
    def sentinel(self):
        return self.cache.sentinel

    def makeEndpoint(self):
        return self.cache.makeEndpoint()

    def checkRole(self, conn):
        return self.cache.checkRole(conn)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self._factory is not None:
            return
        self._factory = _SubscriberFactory(self, 1)
        self._factory.initialDelay = self.cache.retry_initial_delay
        self._factory.maxDelay = self.cache.retry_max_delay
        self._factory.startConnecting(_ReportingEndpoint(self))

    def stop(self):
        factory, self._factory = self._factory, None
        self._set(False)
        if factory is not None:
            return factory.disconnect()
        return None

    # -- what the connection reports -------------------------------------------------------
    def connectFailed(self, reason, prefix=""):
        # The cache's own connection logs Redis being unreachable; said once here.
        if not self._failed_logged and self._factory is not None:
            self._failed_logged = True
            _log.info("ban notifications: cannot subscribe to Redis {address} yet; bans "
                      "from other nodes arrive by polling", address=self.address)

    def connectionReady(self, conn):
        if self._factory is None or conn.factory is not self._factory:
            conn.transport.loseConnection()
            return
        d = conn.subscribe(CHANNEL)

        def subscribed(_):
            self._failed_logged = False
            self._set(True)

        def failed(f):
            _log.info("ban notifications: SUBSCRIBE failed: {why}", why=f.getErrorMessage())
            conn.transport.loseConnection()
        d.addCallbacks(subscribed, failed)

    def connectionGone(self, conn):
        self._set(False)

    def received(self, data) -> None:
        parsed = parse(data)
        if parsed is not None:
            self.cache.notified(*parsed)

    def _set(self, on: bool) -> None:
        if on != self.subscribed:
            self.subscribed = on
            self.cache.subscription(on)

# -*- test-case-name: tests.test_sentinel -*-
"""RedisSentinel's side of the Redis sink: role checks, the replay window, failovers.

:class:`SentinelWindow` is mixed into :class:`ftpredis.redis.sink.RedisSink` and owns what
the sink does differently under RedisSentinel: every connection is confirmed with
``ROLE`` before it is used; the batches the master acknowledged but no replica has
confirmed yet (the master's ``ROLE`` reply, pipelined after each batch, gives both
offsets) are kept in a window; when the sink comes up on a different master it sends
them again, ahead of everything newer.  Redis replication is asynchronous, so those are
exactly the writes a failover can lose.  A batch the new master already has is not
applied twice: every batch goes through the ledger script (:mod:`ftpredis.redis.ledger`),
which skips records it has seen.  With ``RedisSpool`` a batch leaves the spool only
when it leaves this window (a replica confirmed it, or the window gave it up), not at
the master's reply.
"""

from __future__ import annotations

from collections import deque
from typing import Dict, List

import txredisapi
from twisted.internet import defer

from ftpredis.redis.errors import describe_reason
from ftpredis.redis.sentinel import format_address, replication_offsets, role_of


class SentinelWindow:
    """The Sentinel methods of RedisSink (see the module docstring)."""

    # -- Sentinel: role checks, replay window, failover ------------------------------------
    def checkRole(self, conn):
        """Fires True when ``conn`` is to the master the sentinels named (ROLE says so)."""
        conn.roleChecked = True
        # INFO replication in the same round trip: the replication ids and offsets that
        # tell, after a failover, what the new master already had from the old one
        info = defer.maybeDeferred(conn.execute_command, "INFO", "replication")
        info.addCallbacks(lambda text: setattr(conn, "replInfo", _parse_info(text)),
                          lambda f: None)
        d = defer.maybeDeferred(conn.execute_command, "ROLE")
        d.addTimeout(self.io_timeout, self.reactor)
        where = format_address(conn.masterAddress)

        def checked(reply):
            role = role_of(reply)
            expected = self.sentinel.expected
            if role == "master" and (expected is None or expected == conn.masterAddress):
                offset, _acks = replication_offsets(reply)
                self._fillOffsets(conn.masterAddress, offset)
                return True
            if role != "master":
                why = "it is not a master (ROLE %s)" % (role,)
            else:
                why = "the sentinels now name %s" % (format_address(expected),)
            self.note("error connecting to Redis %s (%s): %s"
                       % (where, self.address, why), topic=("role", conn.masterAddress, why))
            self._drop_conn(conn)
            return False

        def failed(f):
            if f.check(txredisapi.ResponseError) and conn.connected:
                # an ACL user without +role: nothing to confirm with; a replica would
                # still refuse the writes (READONLY), which sends us back to the sentinels
                self.note("cannot confirm that Redis %s (%s) is the master: %s; using it"
                           % (where, self.address, describe_reason(f)),
                           topic=("role-refused", conn.masterAddress))
                return True
            self.connectFailed(f, "ROLE: ")
            self._drop_conn(conn)
            return False
        return d.addCallbacks(checked, failed)

    def _drop_conn(self, conn):
        conn.abortedBySink = True
        transport = getattr(conn, "transport", None)
        if transport is not None and conn.connected:
            transport.abortConnection()

    def _abandon(self, conn, switched=True):
        """Stop using ``conn`` now: its batch in flight goes back to the head of its key's
        queue at once (not when the abort is processed, one turn later, by which time a
        replay may have gone in front of it)."""
        conn.switchedAway = switched
        entry = self._inflight.pop(conn, None)
        if entry is not None:
            key, batch = entry[0], entry[1]
            self._busy_keys.discard(key)
            q = self._queues.get(key)
            if q is None:
                self._queues[key] = deque(batch)
            else:
                q.extendleft(reversed(batch))
        if conn in self._ready:
            self._ready.remove(conn)
        self._drop_conn(conn)

    def masterSwitched(self, addr, why):
        """A sentinel says the master is now ``addr``: leave every connection to another
        one (what they acknowledged is replayed when the new master is up)."""
        if self._factory is None or self._stopped:
            return
        stale = [c for c in self._factory.pool if getattr(c, "masterAddress", None) != addr]
        if not stale and any(getattr(c, "masterAddress", None) == addr
                             for c in self._factory.pool):
            return
        self._write("RedisSentinel: %s; switching to %s" % (why, format_address(addr)))
        for conn in stale:
            self._abandon(conn)
        # a pool slot waiting out its back-off (the old master refused us) tries now
        for slot in getattr(self._factory, "slots", ()):
            if slot.protocol is None and slot.service.running:
                service = slot.service
                service.stopService().addCallback(
                    lambda _, service=service: None if self._stopped or service.running
                    else service.startService())

    def _roleReply(self, reply, conn):
        role = role_of(reply)
        if role != "master":
            if role is not None and conn.connected:
                self.note("Redis %s (%s) is no longer a master (ROLE %s); reconnecting"
                           % (format_address(conn.masterAddress), self.address, role),
                           topic=("demoted", conn.masterAddress))
                self._abandon(conn)
            return
        offset, acks = replication_offsets(reply)
        if offset is None:
            return
        for entry in self._window:
            if entry[4] is conn and entry[0] is None:
                # acknowledged on this connection before this ROLE ran
                entry[0] = offset
                entry[4] = None
        if acks:
            self._prune(conn.masterAddress, min(acks))

    def _fillOffsets(self, master, offset):
        # entries whose ROLE reply was lost with their connection: a later offset of the
        # same master is an upper bound, so they can still be pruned
        if offset is None:
            return
        for entry in self._window:
            if entry[0] is None and entry[3] == master:
                entry[0] = offset
                entry[4] = None

    def _prune(self, master, acked):
        if not self._window:
            return
        keep = deque()
        for e in self._window:
            if e[3] == master and e[0] is not None and e[0] <= acked:
                self._settled(e[2])
            else:
                keep.append(e)
        if len(keep) != len(self._window):
            self._window = keep
            self._window_count = sum(len(e[2]) for e in keep)

    def _trimWindow(self):
        limit = max(self.target.buffer_size, 1)
        lost = 0
        while self._window_count > limit and self._window:
            e = self._window.popleft()
            self._window_count -= len(e[2])
            lost += len(e[2])
            self._settled(e[2])
        if lost:
            self.note("RedisSentinel: no replica confirmed the last %d records; the oldest "
                       "%d are no longer kept for a resend after a failover"
                       % (limit, lost), topic="window")

    def _replay(self, master, info):
        """Queue again, ahead of newer records, what another master acknowledged and no
        replica confirmed (a failover may have lost it).

        A promoted replica remembers the old master's replication id and up to which
        offset it has its data (``master_replid2``, ``second_repl_offset``, PSYNC2):
        batches acknowledged by that master below that offset are there already and are
        not sent again."""
        if not self._window:
            return
        try:
            had_id = info.get("master_replid2")
            had_upto = int(info.get("second_repl_offset", "-1"))
        except ValueError:
            had_id, had_upto = None, -1
        keep = deque()
        by_key: Dict[bytes, List[bytes]] = {}
        present = 0
        for e in self._window:
            if e[3] == master:
                keep.append(e)
            elif (had_id and e[5] == had_id and e[0] is not None and e[0] < had_upto):
                present += len(e[2])
                self._settled(e[2])
            else:
                by_key.setdefault(e[1], []).extend(e[2])
        self._window = keep
        self._window_count = sum(len(e[2]) for e in keep)
        if not by_key:
            return
        n = 0
        for key, values in by_key.items():
            q = self._queues.get(key)
            if q is None:
                self._queues[key] = deque(values)
            else:
                q.extendleft(reversed(values))
            n += len(values)
        self.sent -= n
        self.buffered += n
        self.replayed += n
        self._write("RedisSentinel: sending again %d records the previous master "
                    "acknowledged and the new one may lack (%d it has already)"
                    % (n, present))


def _parse_info(text) -> Dict[str, str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = {}
    for line in str(text).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out

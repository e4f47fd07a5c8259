# -*- test-case-name: tests.test_delivery -*-
"""Exactly once into Redis: the ledger script and the commands that carry a batch.

This module owns how one batch of records for one key becomes one atomic Redis command:
``EVALSHA`` (``EVAL`` when Redis does not know the script yet) of :data:`SCRIPT`, which
appends the records that key has not seen from this producer and records how far it
got, in one step.

* Every record has a sequence number, increasing over everything a *producer* pushes
  (a sink in one process; with ``RedisSpool`` the producer is the spool file, so the
  numbers and the producer id survive a crash of ftpredis and its replay).
* The ledger is one hash per producer, ``ftpredis:ledger:<producer>``: field = the Redis
  key written, value = the highest sequence number applied to it.  Records of one key
  are sent in order (ftpredis.redis.sink), so "applied" is "at or below that number".
  The script skips those and appends the rest, then raises the mark: a batch resent
  after its reply was lost (a Redis restart, a reconnect, a Sentinel failover, a replay
  of the spool) is applied once.  Redis runs a script atomically and replicates and
  persists its effects as one transaction, so a replica or an AOF has the records and
  the mark together or neither.
* The ledger is bounded: one field per key the producer wrote, and the hash expires
  :data:`LEDGER_TTL` seconds after the producer's last write (a producer that is gone
  leaves nothing behind for long).

Targets (``RedisLogTarget KEY list|stream|channel [maxlen N] [expire S]``,
:class:`ftpredis.config.model.LogTarget`): ``list`` RPUSHes (LTRIM to the newest N with
maxlen, EXPIRE refreshed with expire); ``stream`` XADDs one entry per record
(``MAXLEN ~ N``), its fields the record's JSON keys in order and its values the JSON
text of each value (strings without their quotes); ``channel`` PUBLISHes each record.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import List, Optional, Sequence, Tuple

#: seconds the ledger of a producer lives after its last write
LEDGER_TTL = 7 * 24 * 3600
LEDGER_PREFIX = b"ftpredis:ledger:"

LIST, STREAM, CHANNEL = "list", "stream", "channel"
_MODE_CODE = {LIST: b"l", STREAM: b"s", CHANNEL: b"c"}

# KEYS[1] ledger hash, KEYS[2] the key written.
# ARGV: mode (l|s|c), maxlen (0 = none), expire seconds (0 = none), ledger ttl, then per
# record its sequence number and, for l|c, its value; for s, the number of fields and
# the field/value pairs.  Returns {records applied, records skipped as already applied}.
SCRIPT = b"""
local markarg = redis.call('HGET', KEYS[1], KEYS[2]) or '0'
local mark = tonumber(markarg)
-- written again before anything else: a user who may not write the ledger fails here,
-- with nothing applied (Redis does not undo a script's earlier writes)
redis.call('HSET', KEYS[1], KEYS[2], markarg)
local mode, maxlen, expire = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local i, n, applied, skipped, last, lastarg = 5, #ARGV, 0, 0, mark, nil
local values = {}
while i <= n do
  local i0 = i
  local seq = tonumber(ARGV[i])
  local fresh = seq > last
  if mode == 's' then
    local nf = tonumber(ARGV[i + 1])
    if fresh then
      local cmd = {'XADD', KEYS[2]}
      if maxlen > 0 then
        cmd[3] = 'MAXLEN'; cmd[4] = '~'; cmd[5] = maxlen
      end
      cmd[#cmd + 1] = '*'
      for j = i + 2, i + 1 + 2 * nf do cmd[#cmd + 1] = ARGV[j] end
      redis.call(unpack(cmd))
    end
    i = i + 2 + 2 * nf
  else
    if fresh then
      if mode == 'c' then
        redis.call('PUBLISH', KEYS[2], ARGV[i + 1])
      else
        values[#values + 1] = ARGV[i + 1]
      end
    end
    i = i + 2
  end
  if fresh then
    applied = applied + 1
    last, lastarg = seq, tostring(ARGV[i0])
  else
    skipped = skipped + 1
  end
end
if #values > 0 then
  redis.call('RPUSH', KEYS[2], unpack(values))
  if maxlen > 0 then redis.call('LTRIM', KEYS[2], -maxlen, -1) end
end
if applied > 0 then
  if expire > 0 and mode ~= 'c' then redis.call('EXPIRE', KEYS[2], expire) end
  redis.call('HSET', KEYS[1], KEYS[2], lastarg)
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {applied, skipped}
"""
SCRIPT_SHA = hashlib.sha1(SCRIPT).hexdigest().encode("ascii")


def new_producer() -> str:
    """A producer id unique across processes, workers, nodes and restarts."""
    return os.urandom(12).hex()


def ledger_key(producer: str) -> bytes:
    return LEDGER_PREFIX + producer.encode("ascii")


class _Object(list):
    """A JSON object as its (name, value) pairs, in order."""


def _plain(v):
    if isinstance(v, _Object):
        return {name: _plain(x) for name, x in v}   # dicts keep their order
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def stream_fields(value: bytes) -> List[bytes]:
    """A record's JSON object as XADD's field/value list: the keys in order, each value
    as its JSON text, strings without their quotes.  Something that is not a JSON object
    (never made by ftpredis) goes in whole as the field ``record``."""
    try:
        obj = json.loads(value, object_pairs_hook=_Object)
    except ValueError:
        return [b"record", value]
    if not isinstance(obj, _Object) or not obj:
        return [b"record", value]
    out: List[bytes] = []
    for name, v in obj:
        out.append(name.encode("utf-8", "surrogatepass"))
        if isinstance(v, str):
            out.append(v.encode("utf-8", "surrogatepass"))
        else:
            out.append(json.dumps(_plain(v), ensure_ascii=False, separators=(",", ":"))
                       .encode("utf-8", "surrogatepass"))
    return out


def script_args(producer: str, key: bytes, mode: Optional[object],
                batch: Sequence[Tuple[int, bytes]]) -> List[bytes]:
    """Everything after the script (or its sha) in the EVAL/EVALSHA of ``batch``:
    ``[(seq, json), ...]`` for ``key``; ``mode`` a LogTarget or None (a plain list)."""
    kind = getattr(mode, "kind", LIST)
    maxlen = getattr(mode, "maxlen", 0) or 0
    expire = getattr(mode, "expire", 0) or 0
    args: List[bytes] = [b"2", ledger_key(producer), key, _MODE_CODE[kind],
                         b"%d" % maxlen, b"%d" % expire, b"%d" % LEDGER_TTL]
    if kind == STREAM:
        for seq, value in batch:
            fields = stream_fields(value)
            args.append(b"%d" % seq)
            args.append(b"%d" % (len(fields) // 2))
            args.extend(fields)
    else:
        for seq, value in batch:
            args.append(b"%d" % seq)
            args.append(value)
    return args


def script_command(name: bytes, script: bytes, producer: str, key: bytes,
                   mode: Optional[object], batch: Sequence[Tuple[int, bytes]]) -> bytes:
    """The whole ``name`` (EVALSHA or EVAL) command of ``batch`` in Redis's protocol,
    ``script`` its sha or text: the bytes a client library would write for
    ``[name, script] + script_args(...)``, made in one pass over the batch (a batch is
    ~1000 records every 100 ms; building the argument list first and then encoding each
    argument was most of what the sink spent per record)."""
    if getattr(mode, "kind", LIST) == STREAM:
        args = [name, script] + script_args(producer, key, mode, batch)
        return b"".join([b"*%d\r\n" % len(args)]
                        + [b"$%d\r\n%b\r\n" % (len(a), a) for a in args])
    head = [name, script] + script_args(producer, key, mode, ())
    parts = [b"*%d\r\n" % (len(head) + 2 * len(batch))]
    parts.extend([b"$%d\r\n%b\r\n" % (len(a), a) for a in head])
    # the digits of the sequence numbers, known without formatting each one twice
    low = limit = 0
    digits = 1
    for seq, value in batch:
        if not low <= seq < limit:
            digits = len(b"%d" % seq)
            # (never below 1 in practice; anything else is formatted each time)
            low, limit = (10 ** (digits - 1), 10 ** digits) if seq > 0 else (1, 0)
        parts.append(b"$%d\r\n%d\r\n$%d\r\n%b\r\n" % (digits, seq, len(value), value))
    return b"".join(parts)


def plain_commands(key: bytes, mode: Optional[object],
                   batch: Sequence[Tuple[int, bytes]]) -> List[List[bytes]]:
    """The same batch as plain commands, for a Redis user who may not run the script
    (at least once: a resent batch may be applied twice)."""
    kind = getattr(mode, "kind", LIST)
    maxlen = getattr(mode, "maxlen", 0) or 0
    expire = getattr(mode, "expire", 0) or 0
    if kind == CHANNEL:
        return [[b"PUBLISH", key, value] for _seq, value in batch]
    if kind == STREAM:
        trim = [b"MAXLEN", b"~", b"%d" % maxlen] if maxlen else []
        out = [[b"XADD", key] + trim + [b"*"] + stream_fields(value) for _seq, value in batch]
    else:
        out = [[b"RPUSH", key] + [value for _seq, value in batch]]
        if maxlen:
            out.append([b"LTRIM", key, b"%d" % -maxlen, b"-1"])
    if expire:
        out.append([b"EXPIRE", key, b"%d" % expire])
    return out


def unused_log_targets(target, written_keys) -> list:
    """The RedisLogTarget rules of ``target`` (a RedisTarget) whose key no rule writes
    (``written_keys``: the keys as written in RedisLogOnCommand/RedisLogOnEvent)."""
    return [rule for rule in getattr(target, "log_targets", ()) if rule.key not in written_keys]


class UnexpectedReply(Exception):
    """The peer answered the ledger script with something the script never returns: it
    did not run it (not Redis, or a proxy in the way), so the batch is not delivered."""

    def __str__(self):
        text = repr(self.args[0])
        if len(text) > 80:
            text = text[:77] + "..."
        return ("the ledger script's reply was %s, not its two counts (is the server "
                "at RedisServer a Redis?)" % (text,))


def parse_reply(reply, records: int) -> Tuple[int, int]:
    """``(applied, skipped)`` from the script's reply to a batch of ``records``; raises
    :class:`UnexpectedReply` unless it is two counts that add up to the batch."""
    try:
        if isinstance(reply, (list, tuple)) and len(reply) == 2:
            applied, skipped = reply
            if (type(applied) is int and type(skipped) is int and applied >= 0
                    and skipped >= 0 and applied + skipped == records):
                return applied, skipped
    except Exception:
        pass
    raise UnexpectedReply(reply)

# -*- test-case-name: tests.test_delivery -*-
"""Directive argument parsing for how records are delivered to Redis (ftpredis's own).

This module owns the arguments of ``RedisLogTarget KEY list|stream|channel [maxlen N]
[expire SECONDS]`` (:class:`~ftpredis.config.model.LogTarget`), ``RedisSpool DIR
[SIZE]`` (SIZE in bytes, or with a K, M or G suffix) and ``RedisSpoolSync
always|everysec|no`` (Redis's ``appendfsync`` words).  What they do at run time:
:mod:`ftpredis.redis.ledger` and :mod:`ftpredis.redis.spool`.
"""

from __future__ import annotations

import re

from ftpredis.config.args_core import DirectiveError, _int
from ftpredis.config.model import LogTarget

_KINDS = ("list", "stream", "channel")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}


def p_log_target(args, ctx) -> LogTarget:
    key = args[0]
    if not key:
        raise DirectiveError("empty key")
    rest = list(args[1:])
    kind = "list"
    if rest and rest[0].lower() in _KINDS:
        kind = rest.pop(0).lower()
    elif rest and rest[0].lower() not in ("maxlen", "expire"):
        raise DirectiveError("unknown target type '%s': expected list, stream or channel"
                             % rest[0])
    maxlen = expire = 0
    while rest:
        word = rest.pop(0).lower()
        if word not in ("maxlen", "expire"):
            raise DirectiveError("unknown option '%s': expected maxlen N or expire SECONDS"
                                 % word)
        if not rest:
            raise DirectiveError("%s needs a number" % word)
        if word == "maxlen":
            maxlen = _int(rest.pop(0), "maxlen", 1)
        else:
            expire = _int(rest.pop(0), "expire seconds", 1)
    if kind == "channel" and (maxlen or expire):
        raise DirectiveError("a channel keeps nothing: maxlen and expire apply to list and "
                             "stream targets only")
    return LogTarget(key=key, kind=kind, maxlen=maxlen, expire=expire, source=ctx.source)


def p_spool(args, ctx):
    if len(args) > 2:
        raise DirectiveError("wrong number of parameters")
    if not args[0]:
        raise DirectiveError("empty path")
    path = ctx.path(args[0])
    size = None
    if len(args) == 2:
        m = re.fullmatch(r"([0-9]+)([KMG]?)B?", args[1].upper())
        if not m:
            raise DirectiveError("bad size '%s': expected bytes, or a number with K, M or G"
                                 % args[1])
        size = int(m.group(1)) * _UNITS[m.group(2)]
        if size < 1024 * 1024:
            raise DirectiveError("bad size '%s': must be at least 1M" % args[1])
    return (path, size)


def p_spool_sync(args, ctx) -> str:
    word = args[0].lower()
    if word not in ("always", "everysec", "no"):
        raise DirectiveError("bad policy '%s': expected always, everysec or no" % args[0])
    return word

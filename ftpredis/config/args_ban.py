# -*- test-case-name: tests.test_config -*-
"""Directive argument parsing for mod_ban (enforced by :mod:`ftpredis.ban.bans`).

This module owns the arguments of BanOnEvent (event names as mod_ban 1.3.8 spells them,
``count/hh:mm:ss`` frequencies), BanCache, BanCacheOptions, BanOptions, BanTable and
MaxCommandRate.
"""

from __future__ import annotations

import os
import re

from ftpredis.config.args_core import DirectiveError, _int, p_path


# -- mod_ban (ftpredis.ban.bans) --------------------------------------------------------

#: BanOnEvent event names, as mod_ban 1.3.8 spells them (matched case-insensitively).
BAN_EVENTS = tuple("""AnonRejectPasswords BadProtocol ClientConnectRate EmptyPassword LoginRate
    MaxClientsPerClass MaxClientsPerHost MaxClientsPerUser MaxCommandRate
    MaxConnectionsPerHost MaxHostsPerUser MaxLoginAttempts MaxLoginAttemptsFromUser
    RootLogin TimeoutIdle TimeoutLogin TimeoutNoTransfer TLSHandshake
    UnhandledCommand""".split())
_BAN_EVENTS = {name.lower(): name for name in BAN_EVENTS}


def _hhmmss(text: str, what: str) -> int:
    # mod_ban reads these with sscanf("%2u:%2u:%2u"); anything else is refused here
    # instead of being half-read.
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})", text)
    if m is None:
        raise DirectiveError("badly formatted %s '%s': expected hh:mm:ss" % (what, text))
    h, mi, sec = (int(g) for g in m.groups())
    return h * 3600 + mi * 60 + sec


def p_ban_on_event(args, ctx):
    from ftpredis.config.model import BanRule
    event = _BAN_EVENTS.get(args[0].lower())
    if event is None:
        raise DirectiveError("unknown ban event '%s' (known: %s)"
                             % (args[0], ", ".join(BAN_EVENTS)))
    count_text, slash, window_text = args[1].partition("/")
    if not slash:
        raise DirectiveError("badly formatted frequency '%s': expected count/hh:mm:ss"
                             % args[1])
    count = _int(count_text, "occurrence count", 1)
    window = _hhmmss(window_text, "event window")
    if window == 0:
        raise DirectiveError("event window '%s' must be longer than zero" % window_text)
    expires = _hhmmss(args[2], "ban duration")
    if expires == 0:
        raise DirectiveError("ban duration '%s' must be longer than zero" % args[2])
    message = args[3] if len(args) > 3 and args[3] else None
    return BanRule(event, count, window, expires, message, source=ctx.source)


def p_ban_cache(args, ctx):
    driver = args[0].lower()
    if driver == "redis":
        return "redis"
    if driver == "memcache":
        # ProFTPD only logs an unusable driver at runtime; bans that silently stay on one
        # node are worse than a refused config.
        raise DirectiveError("driver 'memcache' is not supported by ftpredis (use redis)")
    raise DirectiveError("unsupported driver '%s' (expected redis)" % args[0])


def _option_words(args, known):
    found = set()
    for word in args:
        name = known.get(word.lower())
        if name is None:
            raise DirectiveError("unknown option '%s' (expected %s)"
                                 % (word, " or ".join(sorted(known.values()))))
        found.add(name)
    return frozenset(found)


def p_ban_cache_options(args, ctx):
    return _option_words(args, {"usejson": "UseJSON", "matchserver": "MatchServer"})


def p_ban_options(args, ctx):
    return _option_words(args, {"matchanyserver": "MatchAnyServer"})


def p_ban_table(args, ctx):
    path = p_path(args, ctx)
    parent = os.path.dirname(path) or "/"
    if not os.path.isdir(parent):
        raise DirectiveError("unable to use '%s': directory '%s' does not exist"
                             % (path, parent))
    return path


def p_max_command_rate(args, ctx):
    count = _int(args[0], "command count", 1)
    seconds = _int(args[1], "interval", 1) if len(args) > 1 else 1
    return (count, seconds)

# -*- test-case-name: tests.test_config -*-
"""Directive argument parsing for mod_redis: where records go and which are written.

This module owns the arguments of RedisServer and RedisSentinel (addresses, credentials,
the ``ssl*:`` options), RedisTimeouts and RedisOptions, and of the logging rules
(RedisLogOnCommand / RedisLogOnEvent and their class words, RedisLogFormatExtra's JSON).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ftpredis.config.args_core import DirectiveError, _boolean
from ftpredis.config.model import FormatExtra, LogRule
from ftpredis.records.events import KNOWN_COMMANDS


#: RedisLogOnEvent class words: case-sensitive, upper case only (doc/records.rst, "Command
#: classes").  AUTH is missing on purpose: it is matched first as the FTP AUTH *command*,
#: as 1.3.8 does.
EVENT_CLASSES = frozenset("ALL CONNECT DIRS DISCONNECT INFO MISC READ SEC SFTP SSH WRITE".split())
#: Class words RedisLogOnCommand keeps: the documented ALL / CONNECT,DISCONNECT
#: (doc/decisions.rst, "RedisLogOnCommand ALL", "RedisLogOnCommand CONNECT,DISCONNECT").
COMMAND_CLASSES = frozenset({"ALL", "CONNECT", "DISCONNECT"})


# -- Redis ------------------------------------------------------------------------

@dataclass(frozen=True)
class TLSOptions:
    ssl: Optional[bool] = None
    ssl_ca: Optional[str] = None
    ssl_cert: Optional[str] = None
    ssl_key: Optional[str] = None


@dataclass(frozen=True)
class RedisServerValue:
    host: Optional[str]
    port: int
    unix_path: Optional[str]
    username: Optional[str]
    password: Optional[str]
    db: Optional[int]
    tls: TLSOptions


@dataclass(frozen=True)
class RedisSentinelValue:
    sentinels: Tuple[Tuple[str, int], ...]
    master_name: Optional[str]
    tls: TLSOptions


_TLS_WORDS = {"ssl-ca:": ("ssl_ca", "SSL CA"),
              "ssl-cert:": ("ssl_cert", "SSL certificate"),
              "ssl-key:": ("ssl_key", "SSL certificate key")}


def _tls_option(word: str, ctx, found: dict) -> bool:
    """Take an ``ssl*:`` option into ``found``; False when ``word`` is not one."""
    low = word.lower()
    if low.startswith("ssl:"):
        value = word[4:]
        try:
            found["ssl"] = _boolean(value)
        except DirectiveError:
            raise DirectiveError("bad ssl value '%s': expected Boolean parameter" % value)
        return True
    for prefix, (key, what) in _TLS_WORDS.items():
        if low.startswith(prefix):
            path = word[len(prefix):]
            if not path:
                raise DirectiveError("%s: empty path" % what)
            path = ctx.path(path)
            try:
                os.stat(path)
            except OSError as e:
                # ProFTPD only logs this and goes on without the file; a TLS setup that
                # silently lacks its CA or key is worse than refusing to start.
                raise DirectiveError("%s '%s': %s" % (what, path, e.strerror))
            found[key] = path
            return True
    return False


def _check_tls(found: dict, unix: bool, ctx) -> TLSOptions:
    tls = TLSOptions(**found)
    if tls.ssl_cert and not tls.ssl_key:
        raise DirectiveError("ssl-cert requires ssl-key")
    if tls.ssl_key and not tls.ssl_cert:
        raise DirectiveError("ssl-key requires ssl-cert")
    if tls.ssl and unix:
        raise DirectiveError("ssl cannot be used with a Unix socket")
    if not tls.ssl and (tls.ssl_ca or tls.ssl_cert or tls.ssl_key):
        ctx.warn("ssl-ca/ssl-cert/ssl-key are not used because ssl is not on")
    return tls


def parse_redis_address(text: str, default_port: int) -> Tuple[Optional[str], int, Optional[str]]:
    """``(host, port, unix_path)`` of ``host[:port]``, ``[v6]``, ``[v6]:port`` or ``/path``.

    ProFTPD takes ``atoi`` of whatever follows the last colon, so ``::1`` became host
    ``::`` port 1; ftpredis refuses what it cannot read exactly.
    """
    if text.startswith("/"):
        return None, default_port, text
    port_text = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise DirectiveError("bad address '%s': missing ']'" % text)
        host, rest = text[1:end], text[end + 1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise DirectiveError("bad address '%s': '%s' is not an IPv6 address" % (text, host))
        if rest.startswith(":"):
            port_text = rest[1:]
        elif rest:
            raise DirectiveError("bad address '%s'" % text)
    elif text.count(":") > 1:
        raise DirectiveError("bad address '%s': write an IPv6 address in brackets, "
                             "as [%s] or [%s]:%d" % (text, text, text, default_port))
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
    else:
        host = text
    if not host:
        raise DirectiveError("bad address '%s': no host" % text)
    port = default_port
    if port_text is not None:
        if not re.fullmatch(r"[0-9]+", port_text) or not 0 < int(port_text) <= 65535:
            raise DirectiveError("bad port '%s' in '%s'" % (port_text, text))
        port = int(port_text)
    return host, port, None


def p_redis_server(args, ctx):
    host, port, unix = parse_redis_address(args[0], 6379)
    found: dict = {}
    positional = []
    for word in args[1:]:
        if not _tls_option(word, ctx, found):
            positional.append(word)
    # doc/decisions.rst, "RedisServer words": one word = password (as documented),
    # two = user + password, three = user + password + db index; "" = not given.
    if len(positional) > 3:
        raise DirectiveError("too many parameters: expected server [[user] password] "
                             "[db-index] and ssl options, got '%s'" % "' '".join(positional))
    if len(positional) == 1:
        positional.insert(0, "")
    username, password, db_text = (positional + ["", "", ""])[:3]
    db = None
    if db_text:
        if not re.fullmatch(r"[0-9]+", db_text):
            raise DirectiveError("bad db-index '%s': expected an integer >= 0" % db_text)
        db = int(db_text)
    tls = _check_tls(found, unix is not None, ctx)
    return RedisServerValue(host, port, unix, username or None, password or None, db, tls)


def p_redis_sentinel(args, ctx):
    found: dict = {}
    sentinels = []
    master = None
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.lower() == "master":
            # doc/decisions.rst, "RedisSentinel order": "master NAME" may stand anywhere.
            if i >= len(words) or not words[i]:
                raise DirectiveError("'master' must be followed by the master's name")
            master = words[i]
            i += 1
            continue
        if _tls_option(word, ctx, found):
            continue
        host, port, unix = parse_redis_address(word, 26379)
        if unix is not None:
            raise DirectiveError("sentinel '%s': a sentinel needs a host, not a Unix socket"
                                 % word)
        sentinels.append((host, port))
    if not sentinels:
        raise DirectiveError("no sentinel address given")
    return RedisSentinelValue(tuple(sentinels), master, _check_tls(found, False, ctx))


def p_redis_timeouts(args, ctx):
    connect, io = args[0], args[1]
    if not re.fullmatch(r"[0-9]+", connect):
        raise DirectiveError("badly formatted connect timeout value: %s" % connect)
    if not re.fullmatch(r"[0-9]+", io):
        raise DirectiveError("badly formatted IO timeout value: %s" % io)
    return (int(connect), int(io))


def p_redis_options(args, ctx):
    if not args:
        raise DirectiveError("wrong number of parameters")
    for word in args:
        if word != "NoReconnect":
            raise DirectiveError(": unknown RedisOption '%s'" % word)
    return True


def _split_list(text: str) -> List[str]:
    sep = "|" if "|" in text else ","
    return [item for item in text.split(sep) if item]


def _parse_log_on(directive: str, args, ctx) -> LogRule:
    if len(args) == 1 and args[0].lower() == "none":
        return LogRule(directive, none=True, source=ctx.source)
    if len(args) not in (2, 3):
        raise DirectiveError("wrong number of parameters")
    commands, classes = set(), set()
    for item in _split_list(args[0]):
        upper = item.upper()
        if upper in KNOWN_COMMANDS:
            commands.add(upper)
        elif directive == "RedisLogOnCommand" and upper in COMMAND_CLASSES:
            classes.add(upper)
        elif directive == "RedisLogOnEvent" and item in EVENT_CLASSES:
            classes.add(item)
        elif directive == "RedisLogOnEvent" and upper in EVENT_CLASSES:
            ctx.warn("'%s' ignored: event classes are written in upper case (%s)"
                     % (item, upper))
        else:
            ctx.warn("unknown %s '%s' ignored"
                     % ("command" if directive == "RedisLogOnCommand" else "event", item))
    if not args[1]:
        raise DirectiveError("missing format name")
    key = args[2] if len(args) == 3 else None
    return LogRule(directive, frozenset(commands), frozenset(classes), args[1], key,
                   source=ctx.source)


def p_log_on_command(args, ctx):
    return _parse_log_on("RedisLogOnCommand", args, ctx)


def p_log_on_event(args, ctx):
    return _parse_log_on("RedisLogOnEvent", args, ctx)


class _Members(list):
    """A JSON object as parsed, members in order, duplicates still there."""


def _reject_constant(name):
    raise ValueError("not JSON: %s" % name)


def p_format_extra(args, ctx):
    name, text = args[0], args[1]
    if len(args) > 2:
        ctx.warn("extra parameters ignored")
    try:
        value = json.loads(text, object_pairs_hook=_Members, parse_constant=_reject_constant)
    except ValueError:
        value = None
    if not isinstance(value, _Members):
        raise DirectiveError("error parsing '%s' as JSON object: invalid JSON" % text)
    members = []
    seen = set()
    for key, member in value:
        if key in seen:
            continue
        seen.add(key)
        if isinstance(member, list):
            continue    # arrays and objects are dropped, as ProFTPD drops them
        members.append((key, member))
    return FormatExtra(name, tuple(members), source=ctx.source)

# -*- test-case-name: tests.test_proxy_config -*-
"""Directive argument parsing for mod_proxy_protocol (run by :mod:`ftpredis.proxy`).

This module owns the arguments of ProxyProtocolVersion, ProxyProtocolTimeout (a
duration as ProFTPD's ``pr_str_get_duration`` reads it) and ProxyProtocolOptions.
"""

from __future__ import annotations

import re

from ftpredis.config.args_core import DirectiveError

#: ProxyProtocolVersion's values, as mod_proxy_protocol spells them (matched
#: case-insensitively) -> the header version ftpredis.proxy.header reads.
PROXY_VERSIONS = {"haproxyv1": 1, "haproxyv2": 2}

#: ProxyProtocolOptions' words.
PROXY_OPTIONS = ("UseProxiedServerAddress",)

_UNITS = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
          "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}


def duration(text: str, what: str) -> int:
    """Seconds of ``text``: ``hh:mm:ss``, or a number with an optional unit (``3``,
    ``3sec``, ``2min``, ``1h``), as ProFTPD's ``pr_str_get_duration`` accepts."""
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})", text)
    if m is not None:
        h, mi, s = (int(g) for g in m.groups())
        return h * 3600 + mi * 60 + s
    m = re.fullmatch(r"([0-9]+)\s*([A-Za-z]*)", text)
    if m is None or m.group(2).lower() not in _UNITS:
        raise DirectiveError("error parsing %s '%s': expected seconds, a number with "
                             "sec/min/hour, or hh:mm:ss" % (what, text))
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def p_proxy_protocol_version(args, ctx):
    version = PROXY_VERSIONS.get(args[0].lower())
    if version is None:
        raise DirectiveError("unknown/unsupported protocol version '%s' (expected "
                             "haproxyV1 or haproxyV2)" % args[0])
    return version


def p_proxy_protocol_timeout(args, ctx):
    return duration(args[0], "timeout value")


def p_proxy_protocol_options(args, ctx):
    known = {name.lower(): name for name in PROXY_OPTIONS}
    found = set()
    for word in args:
        name = known.get(word.lower())
        if name is None:
            raise DirectiveError("unknown ProxyProtocolOption '%s' (expected %s)"
                                 % (word, " or ".join(PROXY_OPTIONS)))
        found.add(name)
    return frozenset(found)

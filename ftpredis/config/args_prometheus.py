# -*- test-case-name: tests.test_metrics -*-
"""Directive argument parsing for ProFTPD mod_prometheus (served by :mod:`ftpredis.metrics`).

This module owns the arguments of PrometheusExporter (``address[:port]``, IPv6 in
brackets, default port 9273), PrometheusLog (a path or ``none``), PrometheusOptions
(``EnableLogMessageMetrics``) and PrometheusTables (accepted: ftpredis keeps its
metrics in the process, so the directory is not used).
"""

from __future__ import annotations

import ipaddress
import socket

from ftpredis.config.args_core import DirectiveError, _int, p_path

#: mod_prometheus's PROMETHEUS_DEFAULT_EXPORTER_PORT.
DEFAULT_EXPORTER_PORT = 9273


def split_exporter_address(text: str):
    """``(host, port)`` of ``address[:port]``; ``[v6]`` or ``[v6]:port`` for IPv6 (a bare
    IPv6 address, which has colons of its own, is taken whole, with the default port)."""
    port_text = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host:
            raise DirectiveError("badly formatted address '%s': expected [IPv6]:port" % text)
        if rest:
            if not rest.startswith(":"):
                raise DirectiveError("badly formatted address '%s': expected [IPv6]:port"
                                     % text)
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host = text
    if not host:
        raise DirectiveError("missing address in '%s'" % text)
    port = DEFAULT_EXPORTER_PORT
    if port_text is not None:
        try:
            port = _int(port_text, "port", 1, 65535)
        except DirectiveError:
            raise DirectiveError("port must be between 1-65535 (in '%s')" % text)
    return host, port


def p_prometheus_exporter(args, ctx):
    if len(args) > 1:
        # Newer mod_prometheus takes a user name and password for HTTP basic auth.
        raise DirectiveError("a user name and password (HTTP basic auth) are not "
                             "supported by ftpredis; keep the exporter on an internal "
                             "address")
    host, port = split_exporter_address(args[0])
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        # mod_prometheus resolves a name when the config is read; so does ftpredis.
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_NUMERICSERV)
        except OSError as e:
            raise DirectiveError("unable to resolve '%s': %s" % (host, e.strerror or e))
        ip = infos[0][4][0]
    return (ip, port)


def p_prometheus_log(args, ctx):
    if args[0].lower() == "none":
        return None
    return p_path(args, ctx)


def p_prometheus_tables(args, ctx):
    path = args[0]
    if not path.startswith("/"):
        raise DirectiveError("must be a full path: '%s'" % path)
    ctx.warn("accepted, not used: ftpredis keeps its metrics in the process (they start "
             "from zero when it starts), so nothing is stored in '%s'" % path)
    return p_path(args, ctx)


#: mod_prometheus's PrometheusOptions words (its set_prometheusoptions).
PROMETHEUS_OPTIONS = ("EnableLogMessageMetrics",)


def p_prometheus_options(args, ctx):
    found = set()
    for arg in args:
        for known in PROMETHEUS_OPTIONS:
            if arg.lower() == known.lower():
                found.add(known)
                break
        else:
            raise DirectiveError("unknown PrometheusOption '%s'" % arg)
    return frozenset(found)

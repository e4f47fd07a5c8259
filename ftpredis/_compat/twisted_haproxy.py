# -*- test-case-name: tests.test_compat_haproxy -*-
"""Twisted's PROXY protocol header parsers (``twisted.protocols.haproxy``).

Twisted's public API for the PROXY protocol is an endpoint wrapper
(``proxyEndpoint``) that has no header timeout, drops a connection whose first read
is shorter than a header's signature, accepts either version whatever the server
expects, and keeps no TLVs.  :mod:`ftpredis.proxy` therefore frames the header itself
(size limits, the configured version, the timeout) and hands each complete header to
Twisted's parsers, which live in private modules: ``V1Parser.parse`` (one line, without
its CRLF) and ``V2Parser.parse`` (the whole binary header), both raising
``InvalidProxyHeader`` and returning an object with ``source`` and ``destination``
addresses (None for UNKNOWN and LOCAL).  ``tests/test_compat_haproxy.py`` parses real
headers through this module, so a change of either parser fails there.
"""

from __future__ import annotations

from twisted.protocols.haproxy import _exceptions
from twisted.protocols.haproxy._v1parser import V1Parser
from twisted.protocols.haproxy._v2parser import V2Parser

TESTED_WITH = {"Twisted": ("24.7.0", "26.10.0")}

PRIVATE_NAMES = (
    ("twisted.protocols.haproxy._v1parser", "V1Parser.parse"),
    ("twisted.protocols.haproxy._v2parser", "V2Parser.parse"),
    ("twisted.protocols.haproxy._v2parser", "V2Parser.PREFIX"),
    ("twisted.protocols.haproxy._exceptions", "InvalidProxyHeader"),
)

#: What both parsers raise for a header they cannot read.
InvalidProxyHeader = _exceptions.InvalidProxyHeader

#: The twelve bytes every version 2 header starts with.
V2_SIGNATURE = V2Parser.PREFIX


def parse_v1(line: bytes):
    """Twisted's reading of a version 1 header ``line`` (without CRLF)."""
    return V1Parser.parse(line)


def parse_v2(header: bytes):
    """Twisted's reading of a whole version 2 ``header`` (addresses and TLVs)."""
    return V2Parser.parse(header)

# -*- test-case-name: tests.test_sink -*-
"""How a Redis connection or command failure reads in RedisLog: one short text per cause.

A leaf module, shared by the sink and the Sentinel client.
"""

from __future__ import annotations

import os

import txredisapi
from twisted.internet import defer, error as ierror
from twisted.python.failure import Failure


def describe_reason(reason) -> str:
    """A short, human text for a Failure/exception, as an admin reads it in RedisLog."""
    value = reason.value if isinstance(reason, Failure) else reason
    if isinstance(value, ierror.TimeoutError):
        return "Connection timed out"
    if isinstance(value, ierror.ConnectError):
        os_error = getattr(value, "osError", None)
        if isinstance(os_error, int):
            return os.strerror(os_error)
        if isinstance(value, ierror.ConnectionRefusedError):
            return "Connection refused"
        text = value.args[0] if value.args and value.args[0] else ""
        return str(text) or str(value)
    if isinstance(value, ierror.ConnectionDone):
        return "Connection closed by Redis"
    if isinstance(value, ierror.ConnectionLost):
        return "Connection lost"
    if isinstance(value, OSError) and value.strerror:
        if value.filename:
            return "%s: '%s'" % (value.strerror, value.filename)
        return value.strerror
    if isinstance(value, (defer.TimeoutError, defer.CancelledError, txredisapi.TimeoutError)):
        return "timed out"
    module = type(value).__module__ or ""
    if module.startswith(("OpenSSL", "service_identity")):
        return "TLS error: %s" % (value,)
    text = str(value)
    if text.startswith("Redis error: "):
        text = text[len("Redis error: "):]
    return text or value.__class__.__name__

"""Waiting on conditions, and small helpers shared by test modules.

Tests wait for what they expect to become true (``waitFor``), never for a fixed time.
"""

import socket

from twisted.internet import defer, reactor, task

WAIT_LIMIT = 20.0


@defer.inlineCallbacks
def waitFor(predicate, what="condition", limit=WAIT_LIMIT):
    """Poll ``predicate`` (a callable) every 10 ms until true; fail after ``limit`` s."""
    start = reactor.seconds()
    while not predicate():
        if reactor.seconds() - start > limit:
            raise AssertionError("gave up waiting for %s" % (what,))
        yield task.deferLater(reactor, 0.01, lambda: None)


def dedupe(values):
    """``values`` without repeats, first occurrences in order."""
    seen = set()
    out = []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def recv_all(sock, timeout=5.0):
    """Everything the server sends until it closes (or ``timeout`` of silence)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data.decode(), True
            data += chunk
    except socket.timeout:
        return data.decode(), False

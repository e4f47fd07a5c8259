# -*- test-case-name: tests.test_perf_features -*-
"""The reactor ftpredis runs on: Twisted's epoll reactor with a leaner dispatch.

Twisted's ``EPollReactor.doPoll`` hands every ready descriptor to ``log.callWithLogger``,
which builds a logging context (two dictionaries and four nested calls) so that legacy
``twisted.python.log`` messages carry the connection's prefix.  ftpredis logs through
``twisted.logger`` with its own namespaces and puts the session in its messages, and that
context cost 4-5 us of the ~16 us a bare Twisted echo spends per message on the
benchmark machine (W5).  This reactor dispatches straight to ``_doReadOrWrite``; errors
are still caught, logged and the descriptor disconnected there, as before.

:func:`install` is called by ``twistd ftpredis`` before anything imports the reactor; a
reactor chosen with ``twistd --reactor`` (or any other already installed) is kept.
"""

from __future__ import annotations

import errno
import sys

try:
    from twisted.internet.epollreactor import EPollReactor
except ImportError:             # not Linux
    EPollReactor = None


if EPollReactor is not None:
    class FTPRedisReactor(EPollReactor):
        """``EPollReactor`` without the per-event logging context."""

        def doPoll(self, timeout):
            if timeout is None:
                timeout = -1
            try:
                ready = self._poller.poll(timeout, len(self._selectables))
            except OSError as err:
                if err.errno == errno.EINTR:
                    return
                raise
            selectables = self._selectables
            dispatch = self._doReadOrWrite
            for fd, event in ready:
                selectable = selectables.get(fd)
                if selectable is not None:
                    dispatch(selectable, fd, event)

        doIteration = doPoll
else:                           # pragma: no cover
    FTPRedisReactor = None


def install() -> bool:
    """Install :class:`FTPRedisReactor` unless a reactor is installed already (or epoll
    is missing); True when it was installed."""
    if FTPRedisReactor is None or "twisted.internet.reactor" in sys.modules:
        return False
    from twisted.internet.main import installReactor
    installReactor(FTPRedisReactor())
    return True

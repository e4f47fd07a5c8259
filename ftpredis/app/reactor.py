# -*- test-case-name: tests.test_reactor -*-
"""The reactor ftpredis runs on: Twisted's epoll reactor, leaner, with adaptive busy-poll.

Two changes to ``EPollReactor.doPoll``, both measured on the 2-vCPU benchmark VM:

* No logging context per event.  Twisted hands every ready descriptor to
  ``log.callWithLogger``, which builds a context (two dictionaries, four nested calls)
  so that legacy ``twisted.python.log`` messages carry the connection's prefix.
  ftpredis logs through ``twisted.logger`` with its own namespaces; the context cost
  4-5 us of the ~16 us a bare Twisted echo spends per message.  Errors are still caught,
  logged and the descriptor disconnected by ``_doReadOrWrite``, as before.

* Busy-poll before sleeping (``BusyPoll``, microseconds, main server context; default
  :data:`DEFAULT_BUSY_POLL_US`).  After a turn that handled events, the reactor asks
  epoll again without blocking for up to the window before it blocks.  An idle CPU of
  a virtual machine halts, and waking it again for the next packet cost 15-20 us on the
  benchmark VM (its guest halt-polling is off): a NOOP round trip took 68 us with the
  server busy enough never to halt and 84 us once it did less work and halted between
  commands.  With the window, 52 us, and p99 from 200 to 110 us.  The window adapts as
  KVM's halt-polling does: it halves each time polling found nothing (a client across a
  real network answers in milliseconds: the window soon shrinks to nothing and costs
  nothing), and opens again, doubling from a quarter, when a blocking wait returned
  within the maximum window (polling would have caught that event).  An idle server
  does not poll at all: only a turn with events starts a window.

:func:`install` is called by ``twistd ftpredis`` before anything imports the reactor; a
reactor chosen with ``twistd --reactor`` (or any other already installed) is kept, and
``BusyPoll`` then does nothing.
"""

from __future__ import annotations

import sys

from ftpredis.config.model import DEFAULT_BUSY_POLL_US

# The reactor class overrides EPollReactor's doPoll and reads its private state: it
# lives in ftpredis._compat.twisted_reactor.
from ftpredis._compat.twisted_reactor import FTPRedisReactor  # noqa: E402


def call_after_turn(reactor, fn) -> None:
    """``fn()`` after this turn's events: :meth:`FTPRedisReactor.call_after_turn`, or the
    next turn's timed calls on another reactor (``callLater(0)``)."""
    after = getattr(reactor, "call_after_turn", None)
    if after is not None:
        after(fn)
    else:
        reactor.callLater(0, fn)


def install() -> bool:
    """Install :class:`FTPRedisReactor` unless a reactor is installed already (or epoll
    is missing); True when it was installed."""
    if FTPRedisReactor is None or "twisted.internet.reactor" in sys.modules:
        return False
    from twisted.internet.main import installReactor
    installReactor(FTPRedisReactor())
    return True


def configure(config, reactor=None) -> None:
    """Apply the main server's ``BusyPoll`` to the running reactor (if it is ours)."""
    if reactor is None:
        from twisted.internet import reactor
    if FTPRedisReactor is None or not isinstance(reactor, FTPRedisReactor):
        return
    us = DEFAULT_BUSY_POLL_US
    if config.servers:
        us = getattr(config.servers[0], "busy_poll", DEFAULT_BUSY_POLL_US)
    reactor.set_busy_poll(us)

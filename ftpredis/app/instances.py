# -*- test-case-name: tests.test_instances -*-
"""``MaxInstances``: the most connections the server holds at once, logged in or not.

This module owns the gate every new connection passes before it gets a protocol (and so
before its greeting).  ProFTPD forks a process per connection and counts those processes:
beyond ``MaxInstances`` it closes the new connection without a word and its SystemLog
says ``MaxInstances (N) reached, new connection denied``.  ftpredis counts the open
sessions of every server (replaced ones included, until their sessions end), and does
the same.  This is what stops a flood of idle connections, now that ``MaxClients``
counts logged-in sessions only, as ProFTPD's does.

With ``ServerWorkers W`` each process admits ``N / W`` connections, rounded up: the
processes share no memory, and the kernel spreads connections evenly over them.

twistd's log gets one line when the limit is first reached and one when a connection is
admitted again (how many were refused meanwhile), not a line per refused connection: a
flood must not flood the log.  SystemLog gets ProFTPD's line for each, as ProFTPD's does.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

from twisted.logger import Logger

log = Logger()


def per_process(limit: Optional[int], workers: int) -> Optional[int]:
    """The share of ``MaxInstances`` one of ``workers`` processes admits."""
    if limit is None:
        return None
    return max(1, math.ceil(limit / max(1, workers)))


class InstanceGate:
    """Admits a new connection while fewer than ``limit`` are open.

    ``count`` returns the connections open now; ``system_log`` (a callable taking the
    message) is SystemLog's ``say`` for lines without a session, or None.
    """

    def __init__(self, limit: Optional[int], configured: Optional[int],
                 count: Callable[[], int], clock: Callable[[], float],
                 system_log: Optional[Callable[[str], None]] = None):
        self.limit = limit
        self.configured = configured
        self._count = count
        self._clock = clock
        self._system_log = system_log
        self.refused = 0                 # over the process's life (metrics, tests)
        self._refused_since = 0          # since the limit was last reached
        self._full_since: Optional[float] = None

    def admit(self) -> bool:
        if self.limit is None:
            return True
        if self._count() < self.limit:
            if self._full_since is not None:
                log.info("MaxInstances: admitting connections again; {n} refused in the "
                         "last {s:.1f} s", n=self._refused_since,
                         s=self._clock() - self._full_since)
                self._full_since = None
                self._refused_since = 0
            return True
        self.refused += 1
        self._refused_since += 1
        message = "MaxInstances (%d) reached, new connection denied" % (self.configured,)
        if self._full_since is None:
            self._full_since = self._clock()
            share = ("" if self.limit == self.configured else
                     " (this process's share: %d)" % (self.limit,))
            log.warn("{text}{share}; further refusals are counted, not logged, until "
                     "a connection is admitted again", text=message, share=share)
        if self._system_log is not None:
            self._system_log(message)
        return False

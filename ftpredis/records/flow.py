# -*- test-case-name: tests.test_router -*-
"""The event flow: where each FTP event goes once the protocol has taken it.

The protocol's logging mixin hands every :class:`~ftpredis.records.events.Event` to one
:class:`EventFlow` (the factory's ``emit``).  Whatever watches events (the router feeding
the Redis sink, later metrics) subscribes here; nothing patches the factory or the protocol
to see them.  A subscriber that raises is logged and does not stop the others.
"""

from __future__ import annotations

from typing import Callable, List

from twisted.logger import Logger

_log = Logger()

Subscriber = Callable[[object], None]


class EventFlow:
    """Fan-out of events to subscribers, called in subscription order."""

    def __init__(self) -> None:
        self._subscribers: List[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns the call that removes it again."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def __call__(self, event) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                _log.failure("event subscriber {s!r} failed on {kind} {verb}", s=subscriber,
                             kind=getattr(event, "kind", None), verb=getattr(event, "verb", None))

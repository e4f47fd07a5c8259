# -*- test-case-name: tests.test_logs -*-
"""What reaches twistd's log: ftpredis's own lines, not Twisted's chatter about them.

Owns the filter put in front of twistd's log observer (and a worker's).  It drops, by
their format (the texts are Twisted's, see the predicates below):

* ``ClientService``'s "Scheduling retry N to connect <... object at 0x...>", one per
  failed attempt to reach Redis: the sink says once that Redis is lost and once that it
  is back (:mod:`ftpredis.redis.outage`);
* ``Starting factory <...>`` / ``Stopping factory <...>`` of any factory (ours set
  ``noisy = False``; txredisapi's pool and endpoint wrappers may not);
* a listening port's "ftpredis starting on 2121" and "(TCP Port 2121 Closed)": the
  service says "listening on 127.0.0.1:2121" and "stopped listening on ...";
* twisted.conch's debug and info lines about every SSH session and channel (namespaces
  ``twisted.conch`` and ``ftpredis.sftp``): SFTPLog says what happened.

Everything else passes untouched.
"""

from __future__ import annotations

import re

from twisted.logger import (FilteringLogObserver, ILogObserver, LogLevel, PredicateResult)

_DROPPED_FORMATS = (
    "Scheduling retry ",            # twisted.application._client_service
    "Starting factory ",            # twisted.internet.protocol.Factory.doStart
    "Stopping factory ",            # ... doStop
)
# twisted.internet.tcp.Port.startListening / _logConnectionLostMsg (legacy log.msg)
# twisted.conch's per-session chatter, under its classes' and our subclasses' names.
_SSH_NAMESPACES = ("twisted.conch.", "ftpredis.sftp.")
_PORT_TEXT = re.compile(r"^(?:\S+ starting on \d+|\(TCP Port \d+ Closed\))$")


def chatter(event) -> PredicateResult:
    """``no`` for the Twisted lines this module drops, ``maybe`` for the rest."""
    fmt = event.get("log_format")
    if fmt is not None and fmt.startswith(_DROPPED_FORMATS):
        return PredicateResult.no
    if str(event.get("log_namespace", "")).startswith(_SSH_NAMESPACES) and (
            event.get("log_level") in (LogLevel.debug, LogLevel.info)):
        return PredicateResult.no
    text = event.get("log_text")
    if text is None:
        message = event.get("message")
        if message and len(message) == 1 and isinstance(message[0], str):
            text = message[0]
    if text is not None and _PORT_TEXT.match(text):
        return PredicateResult.no
    return PredicateResult.maybe


def filtered(observer):
    """``observer`` behind the filter."""
    return FilteringLogObserver(observer, [chatter])


def install(application, twistd_options) -> bool:
    """Make ``application`` (twistd's, being built from our plugin) log through the
    filter to wherever twistd would log.  ``twistd --logger`` names an observer of the
    user's own: it is left alone.  True when installed."""
    if twistd_options is None or twistd_options.get("logger"):
        return False
    if not hasattr(application, "setComponent"):
        return False            # not twistd's Application (a test's parent service)
    observer = application.getComponent(ILogObserver, None)
    if observer is None:
        from ftpredis._compat.twistd_log import twistd_observer
        observer = twistd_observer(twistd_options)
    if not ILogObserver.providedBy(observer):
        from twisted.logger import LegacyLogObserverWrapper
        observer = LegacyLogObserverWrapper(observer)
    application.setComponent(ILogObserver, filtered(observer))
    return True

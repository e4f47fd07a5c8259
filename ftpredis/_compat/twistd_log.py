# -*- test-case-name: tests.test_logs -*-
"""The log observer twistd would make from its own options (``--logfile``, ``--syslog``,
``--nodaemon``), so that ftpredis can put a filter in front of it.

Twisted (26.10) lets an application replace twistd's observer (an ``ILogObserver``
component), not wrap it; building the replacement ourselves would copy its choice of
file, stdout or syslog and its SIGUSR1 log rotation.  So this calls the private
``twisted.scripts._twistd_unix.UnixAppLogger._getLogObserver``; the names are listed in
``PRIVATE_NAMES`` and checked by :func:`ftpredis._compat.verify`.
"""

from __future__ import annotations

from ftpredis._compat import resolve

TESTED_WITH = {"Twisted": ("26.10.0", "26.10.0")}

PRIVATE_NAMES = (
    ("twisted.scripts._twistd_unix", "UnixAppLogger._getLogObserver"),
)


def twistd_observer(options):
    """The observer ``twistd`` would log to with ``options`` (its parsed ServerOptions)."""
    logger_class = resolve("twisted.scripts._twistd_unix", "UnixAppLogger")
    return logger_class(options)._getLogObserver()

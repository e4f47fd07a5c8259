# -*- test-case-name: tests.test_compat_conch -*-
"""The handles twisted.conch's SFTP server holds (``FileTransferServer``).

``ftpredis.sftp.server.SFTPServerProtocol`` answers a request naming a handle the
session does not hold itself ("Invalid handle", as mod_sftp does): conch's own answer
for READ and WRITE calls methods it does not have (``_ebRead``, ``_ebWrite``) and the
client is never answered.  Which handles are open is only in two undocumented instance
attributes, ``openFiles`` and ``openDirs`` (handle bytes -> file object, and -> [directory
object, iterator]); :func:`verify_live` checks them on a live server,
``tests/test_compat_conch.py`` calls it.
"""

from __future__ import annotations

from ftpredis._compat import CompatError

#: Run with 24.7.0 and 26.10.0; both attributes are set in FileTransferServer.__init__ there
#: (tests/test_compat_conch.py checks them on whatever Twisted runs the suite).
TESTED_WITH = {"Twisted": ("24.7.0", "26.10.0")}

#: Instance attributes only: checked by verify_live.
PRIVATE_NAMES = ()


def open_files(server) -> dict:
    """Handle -> open file object of a ``FileTransferServer``."""
    return server.openFiles


def open_directories(server) -> dict:
    """Handle -> [directory object, iterator] of a ``FileTransferServer``."""
    return server.openDirs


def verify_live(server) -> None:
    """Raise :class:`CompatError` unless ``server`` keeps its handles where this shim
    reads them."""
    for name in ("openFiles", "openDirs"):
        if not isinstance(getattr(server, name, None), dict):
            raise CompatError("twisted.conch.ssh.filetransfer.FileTransferServer.%s is "
                              "gone or not a dict: see ftpredis/_compat/conch_sftp.py"
                              % name)

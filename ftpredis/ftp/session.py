# -*- test-case-name: tests.test_ftpcommands -*-
"""What the client has set up in its session, as one object (``FTPRedisProtocol.client_state``).

The commands of :mod:`ftpredis.ftp.login`, :mod:`~ftpredis.ftp.info`,
:mod:`~ftpredis.ftp.files`, :mod:`~ftpredis.ftp.listings` and
:mod:`~ftpredis.ftp.transfers` read and set it; the session's working directory is the
file system's (:class:`~ftpredis.ftp.filesystem.JailedFS`), the connection's own state
(input buffer, command queue, timers, data connection) the protocol's.
"""

from __future__ import annotations

from typing import Optional

from ftpredis.ftp.common import MLST_FACTS


class SessionState:
    """One session's settings and pending requests.  The starting values are class
    attributes: a new session costs one small object, not an assignment per field."""

    # -- login ----------------------------------------------------------------------------
    user: Optional[str] = None  # USER's name, until its PASS
    login_failures = 0
    limited = False             # set at login when the server has <Limit>s or is anonymous
    anon_config = None          # the <Anonymous> section logged in to, if any

    # -- transfer parameters --------------------------------------------------------------
    binary = False              # TYPE: ProFTPD starts in ASCII (RFC 959 default)
    rest = 0                    # REST offset, until the next transfer takes it
    #: ``(start, length)`` after a RANG, until the next RETR/STOR/APPE/STOU takes it.
    rang: Optional[tuple] = None
    epsv_all = False            # EPSV ALL: PASV, PORT, EPRT refused from then on
    mlst_facts = MLST_FACTS     # OPTS MLST: the facts MLST/MLSD show
    aborting = False            # ABOR arrived while a transfer ran

    # -- renaming -------------------------------------------------------------------------
    rnfr = None                 # (virtual, real) after a successful RNFR, until RNTO

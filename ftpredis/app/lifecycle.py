# -*- test-case-name: tests.test_lifecycle -*-
"""What the process hears and says around its start and stop, outside FTP and Redis.

* A SIGHUP that comes while twistd is still reading the config, building the service,
  binding and starting it: SIGHUP's default action would end the whole server (an init
  script or ``systemctl reload`` right after a start).  From the moment the options are
  parsed it is held instead (:func:`hold_sighup`); the service takes it over when it
  starts (:func:`take_held_sighup`) and reloads once then, since the file may have
  changed after it was read.
* systemd's readiness protocol (``sd_notify``, for ``Type=notify`` units): ``READY=1``
  once every listener is up and SIGHUP reloads, ``RELOADING=1`` ... ``READY=1`` around a
  reload, ``STOPPING=1`` at shutdown.  systemd holds a ``systemctl reload`` until
  ``READY=1``, which closes the window before :func:`hold_sighup` too.  Without
  ``$NOTIFY_SOCKET`` (not under systemd) nothing is sent.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Optional

from twisted.logger import Logger

log = Logger()

# None: not holding; False: holding, nothing came yet; True: a SIGHUP came.
_held: Optional[bool] = None


def _remember(signum, frame) -> None:
    global _held
    _held = True


def hold_sighup() -> None:
    """From now until :func:`take_held_sighup`, a SIGHUP is remembered instead of ending
    the process.  Only the main thread may set a handler; elsewhere nothing changes."""
    global _held
    try:
        signal.signal(signal.SIGHUP, _remember)
    except ValueError:
        return
    _held = False


def take_held_sighup() -> bool:
    """Whether a SIGHUP came since :func:`hold_sighup` (False when nothing was held);
    forgets it.  The caller has installed its own handler first, so none is lost."""
    global _held
    came, _held = _held is True, None
    return came


_warned = False


def notify(*lines: str) -> bool:
    """Send ``lines`` as one message to the service manager (``$NOTIFY_SOCKET``); True when
    sent.  Never raises: a manager that cannot be told is logged once, and the server
    runs on (systemd then says why the unit did not become ready)."""
    global _warned
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]        # Linux abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall("\n".join(lines).encode("utf-8", "replace"))
        return True
    except OSError as e:
        if not _warned:
            _warned = True
            log.warn("NOTIFY_SOCKET {address}: cannot tell the service manager {what} ({e})",
                     address=os.environ.get("NOTIFY_SOCKET"), what=lines[0], e=e)
        return False


def reloading_message() -> tuple:
    """``RELOADING=1`` with the monotonic time systemd's ``Type=notify-reload`` asks for."""
    return ("RELOADING=1",
            "MONOTONIC_USEC=%d" % (time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))

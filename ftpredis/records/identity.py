# -*- test-case-name: tests.test_identity -*-
"""Identities: of a record (``%{record-id}``), of a record within its session
(``%{session-seq}``) and of a session as ProFTPD's mod_unique_id names it (``UNIQUE_ID``).

This module owns how the three are made (doc/records.rst, "Record identity" and
"mod_unique_id"):

- :func:`record_id`: a UUIDv7 (RFC 9562) text, 36 characters, whose order as text is the
  order of its millisecond clock; unique across processes, nodes and restarts by 62
  random bits drawn once per process (again in a forked child), and within a process by
  a counter, so the ids one process makes are strictly increasing.
- :func:`session_counter`: the counter a session's records take their ``session_seq``
  from (``ftpredis.records.router`` takes a number per record).
- :func:`unique_id`: mod_unique_id 0.2's 24-character base64 UNIQUE_ID, byte for byte
  its layout, with the one change a process serving many sessions needs (its counter
  field made unique within the process).

Nothing here blocks except :func:`host_address` (the host name resolved once, as
mod_unique_id does at start-up); the factory calls it before the first session.
"""

from __future__ import annotations

import base64
import itertools
import os
import socket
import struct
import time
from typing import Dict, Optional

__all__ = ["record_id", "session_counter", "unique_id", "host_address", "RecordIds"]


class RecordIds:
    """A process's record ids: UUIDv7 text, strictly increasing within the process.

    Layout (RFC 9562, section 5.7, with "method 1", a dedicated counter, of section 6.2):
    48 bits of Unix milliseconds, the version 7, a 12-bit counter that starts at 0 in each
    millisecond, the variant bits 10, and 62 bits of ``os.urandom`` fixed for the process.
    A clock that steps back, or more than 4096 ids in one millisecond, borrows the next
    millisecond instead of repeating or reordering an id.
    """

    __slots__ = ("ms", "seq", "tail", "head", "clock")

    def __init__(self, clock=time.time_ns) -> None:
        self.clock = clock          # nanoseconds since the epoch
        self.reseed()

    def reseed(self) -> None:
        """New random bits (a new process); the clock and counter start again."""
        node = int.from_bytes(os.urandom(8), "big") >> 2        # 62 bits
        self.tail = "-%04x-%012x" % (0x8000 | (node >> 48), node & 0xFFFFFFFFFFFF)
        self.ms = -1
        self.seq = 0
        self.head = ""

    def __call__(self) -> str:
        ms = self.clock() // 1000000
        if ms > self.ms:
            self.ms = ms
            self.seq = 0
            # The text up to the counter changes once a millisecond, not once an id.
            self.head = head = "%08x-%04x-7" % (ms >> 16, ms & 0xFFFF)
            return head + "000" + self.tail
        seq = self.seq + 1
        if seq > 0xFFF:
            ms = self.ms = self.ms + 1
            self.head = "%08x-%04x-7" % (ms >> 16, ms & 0xFFFF)
            seq = 0
        self.seq = seq
        return self.head + _HEX3[seq] + self.tail


_HEX3 = tuple("%03x" % i for i in range(0x1000))


#: The process's generator; :func:`record_id` is its call.
_IDS = RecordIds()
record_id = _IDS.__call__

# A forked worker must not repeat its parent's ids: it draws its own random bits.
os.register_at_fork(after_in_child=_IDS.reseed)


def record_id_time(rid: str) -> float:
    """The Unix time (seconds, millisecond resolution) a record id was made at."""
    return int(rid[:8] + rid[9:13], 16) / 1000.0


def session_counter() -> "itertools.count":
    """A new session's ``session_seq`` source: 1, 2, 3, ..."""
    return itertools.count(1)


# -- mod_unique_id ---------------------------------------------------------------------------

_HOST: Optional[bytes] = None


def host_address() -> bytes:
    """The first 4 bytes of this host's address: its name (``gethostname``) resolved, as
    mod_unique_id's postparse handler does; 0.0.0.0 when it does not resolve (ProFTPD
    would refuse to start)."""
    global _HOST
    if _HOST is None:
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None, 0, socket.SOCK_STREAM)
            family, _t, _p, _c, addr = infos[0]
            _HOST = _packed4(addr[0], family)
        except (OSError, IndexError, UnicodeError):
            _HOST = b"\0\0\0\0"
    return _HOST


def _packed4(ip: str, family: Optional[int] = None) -> bytes:
    """An address's first 4 bytes (mod_unique_id copies ``sizeof(unsigned int)`` bytes of
    the in_addr or in6_addr)."""
    if family is None:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        return socket.inet_pton(family, ip.split("%", 1)[0])[:4]
    except (OSError, ValueError):
        return b"\0\0\0\0"


class _UniqueIds:
    """mod_unique_id's UNIQUE_ID for the sessions of one process.

    mod_unique_id packs, in network order, the session start's seconds (4 bytes), the
    host's address (4), the client's (4), the pid (4) and ``(microseconds / 10)`` cut to
    16 bits (2): 18 bytes, base64 with ``+`` and ``/``, 24 characters.  Its uniqueness
    rests on one session per process; here one process serves many, so when two sessions
    of the same client start in the same second with the same counter the later one takes
    the next free counter value (the other fields are unchanged).
    """

    __slots__ = ("sec", "used", "clients")

    def __init__(self) -> None:
        self.sec = -1
        self.used: set = set()          # (client, counter) taken in second ``sec``
        self.clients: Dict[str, bytes] = {}

    def __call__(self, client_ip: str, now: float, pid: int) -> str:
        usec_total = int(now * 1000000)
        sec = usec_total // 1000000
        counter = (usec_total % 1000000 // 10) & 0xFFFF
        if sec != self.sec:
            self.sec = sec
            self.used = set()
            if len(self.clients) > 4096:
                self.clients = {}
        client = self.clients.get(client_ip)
        if client is None:
            client = self.clients[client_ip] = _packed4(client_ip)
        used = self.used
        if (client, counter) in used and len(used) < 0x10000:
            while (client, counter) in used:
                counter = (counter + 1) & 0xFFFF
        used.add((client, counter))
        return base64.b64encode(_LAYOUT.pack(sec & 0xFFFFFFFF, host_address(), client,
                                             pid & 0xFFFFFFFF, counter)).decode("ascii")


_LAYOUT = struct.Struct("!I4s4sIH")
_UNIQUE = _UniqueIds()
unique_id = _UNIQUE.__call__


def decode_unique_id(text: str) -> dict:
    """A UNIQUE_ID's fields (for tests and for people reading logs)."""
    sec, host, client, pid, counter = struct.unpack("!I4s4sIH", base64.b64decode(text))
    return {"time": sec, "host": socket.inet_ntoa(host), "client": socket.inet_ntoa(client),
            "pid": pid, "counter": counter}

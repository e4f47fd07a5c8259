# -*- test-case-name: tests.test_perf_features -*-
"""Fast password checks for logins: the C crypt(3) without the GIL, and a cache of recent
successful verifications.

Owns two things :mod:`ftpredis.auth.portal` uses on every ``PASS``:

* :func:`crypt` calls libxcrypt's ``crypt_rn`` through :mod:`ctypes`.  libpass dropped
  its ``os_crypt`` backend, so passlib hashes sha512-crypt in pure Python (about 7 ms per
  check, holding the GIL, so the reactor thread stalls while a pool thread hashes).
  ctypes releases the GIL for the duration of a foreign call: the C hash takes about
  2 ms and runs on another core while the reactor keeps serving.

* :class:`VerifyCache` remembers recent *successful* checks so that a client logging in
  over and over (mirroring tools, monitoring probes, the W3 login-churn benchmark) pays
  the crypt once.  Entries are keyed by ``(hash, BLAKE2b-256(key, password))``, keyed
  BLAKE2b with a random key made per process and never written anywhere.

  Trade-off, documented in README.rst: the cache holds, for a bounded number of recently
  successful logins and a bounded time, a keyed digest of the password in memory.
  Someone who can read the server's memory (and so also the key) can test password
  guesses against it at hash speed instead of crypt speed.  Such an attacker can already
  read passwords off live sessions, so this is the same exposure ProFTPD's own session
  processes have.  A wrong password is never cached (it always pays the full crypt, so
  guessing over the network is no cheaper); a changed hash in AuthUserFile (after a
  reload) misses the cache because the hash is part of the key.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from typing import Optional

# Schemes libxcrypt implements that we hand to it (bcrypt goes to the bcrypt package,
# which releases the GIL on its own).
_PREFIXES = ("$6$", "$5$", "$1$")

_blake2b = hashlib.blake2b

# libxcrypt's struct crypt_data is 32768 bytes; crypt_rn takes the size explicitly.
_DATA_SIZE = 32768

_lib = None
_local = threading.local()


def _load():
    global _lib
    if _lib is not None:
        return _lib or None
    name = ctypes.util.find_library("crypt")
    try:
        lib = ctypes.CDLL(name or "libcrypt.so.1", use_errno=True)
        fn = lib.crypt_rn
    except (OSError, AttributeError):
        _lib = False
        return None
    fn.restype = ctypes.c_char_p
    fn.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)
    _lib = fn
    return fn


def available() -> bool:
    return _load() is not None


def handles(hashed: str) -> bool:
    """Whether :func:`crypt` can check ``hashed`` (sha512/sha256/md5-crypt)."""
    return hashed.startswith(_PREFIXES) and available()


def crypt(secret: bytes, setting: str) -> Optional[str]:
    """crypt(3) of ``secret`` with ``setting``, or None when libcrypt refuses it
    (malformed setting, NUL in the secret).  Blocking, GIL released."""
    fn = _load()
    if fn is None or b"\x00" in secret:
        return None
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = ctypes.create_string_buffer(_DATA_SIZE)
    try:
        out = fn(secret, setting.encode("ascii"), buf, _DATA_SIZE)
    except UnicodeEncodeError:
        return None
    if not out or out.startswith(b"*"):
        return None
    return out.decode("ascii", "replace")


def verify(secret: bytes, hashed: str) -> Optional[bool]:
    """True/False for a hash :func:`handles`; None when libcrypt could not decide."""
    out = crypt(secret, hashed)
    if out is None:
        return None
    return hmac.compare_digest(out, hashed)


class VerifyCache:
    """Recent successful ``(password, hash)`` checks; see the module docstring.

    Bounded in size (least recently used out first) and in age.  Thread-safe enough for
    its use: lookups and stores happen on the reactor thread.
    """

    def __init__(self, size: int = 4096, ttl: float = 900.0, clock=time.monotonic):
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._key = os.urandom(32)
        self._entries: "OrderedDict[tuple, float]" = OrderedDict()

    def _id(self, secret: bytes, hashed: str) -> tuple:
        # Keyed BLAKE2b is a MAC by design (RFC 7693, section 2.1), a third of the cost
        # of HMAC-SHA256 for a password-sized message.
        return (hashed, _blake2b(secret, key=self._key, digest_size=32).digest())

    def check(self, secret: bytes, hashed: str) -> bool:
        """True when this exact password was verified against this hash recently."""
        if self.size <= 0:
            return False
        k = self._id(secret, hashed)
        t = self._entries.get(k)
        if t is None:
            return False
        if self._clock() - t > self.ttl:
            del self._entries[k]
            return False
        self._entries.move_to_end(k)
        return True

    def remember(self, secret: bytes, hashed: str) -> None:
        if self.size <= 0:
            return
        k = self._id(secret, hashed)
        self._entries[k] = self._clock()
        self._entries.move_to_end(k)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

# -*- test-case-name: tests.test_compat_tcp -*-
"""txredisapi's private command encoder, replaced for batches that are all bytes.

txredisapi (1.6) encodes every argument of a command with four calls (about 1 us each):
one 185-record ``RPUSH`` took about 200 us of the reactor, which showed as a spike in the
NOOP p99.  The sink's batches are all bytes, so :class:`FastEncoding` overrides
``RedisProtocol._build_command`` (private: txredisapi has no public hook for it) with one
formatting per argument and hands anything else to txredisapi's own encoder.  If
txredisapi renames the method, the override would silently stop being called (slower,
still correct); :func:`ftpredis._compat.verify` makes that an error instead.
"""

from __future__ import annotations

import txredisapi

TESTED_WITH = {"txredisapi": ("1.6.0", "1.6.0")}

PRIVATE_NAMES = (
    ("txredisapi", "RedisProtocol._build_command"),
)


class Encoded:
    """A command already in Redis's protocol (``execute_command(Encoded(data))``), sent
    as it is: a batch of ~1000 records is made in one pass by
    :func:`ftpredis.redis.ledger.script_command` instead of being passed as ~2000
    arguments (copied as a tuple by each call on the way) and encoded one by one."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


class FastEncoding:
    """Mixed into a ``txredisapi.RedisProtocol`` subclass, before it."""

    def _build_command(self, *args, **kwargs):
        if len(args) == 1 and type(args[0]) is Encoded:
            return args[0].data
        for a in args:
            if not isinstance(a, bytes):
                return txredisapi.RedisProtocol._build_command(self, *args, **kwargs)
        out = [b"*%d\r\n" % len(args)]
        out.extend([b"$%d\r\n%b\r\n" % (len(a), a) for a in args])
        return b"".join(out)

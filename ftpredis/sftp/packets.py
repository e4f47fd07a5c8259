# -*- test-case-name: tests.test_sftp_packets -*-
"""SFTP v3 requests checked before twisted.conch sees them.

twisted.conch's ``FileTransferServer`` parses a request as it handles it: a request cut
short (``struct.error``), with bytes left over (``AssertionError``), of a type it does not
know, or naming a handle it does not hold (``_ebRead``/``_ebWrite`` do not exist) was
left unanswered, with a traceback in the log, and the client waited until TimeoutIdle.
:func:`parse` reads a request's fields as draft-ietf-secsh-filexfer-02 lays them out and
says what is wrong with it, so that ``ftpredis.sftp.server.SFTPServerProtocol`` answers
every request, as ProFTPD's mod_sftp and OpenSSH's sftp-server do.
"""

from __future__ import annotations

import struct

from ftpredis.sftp import extensions

INIT, EXTENDED = 1, 200

#: Each request's fields after its id: s a string, p a path (a string without NUL),
#: h a handle, u an uint32, q an uint64, a ATTRS, * whatever is left.
FIELDS = {
    3: "pua",       # OPEN: filename, pflags, attrs
    4: "h",         # CLOSE
    5: "hqu",       # READ: handle, offset, length
    6: "hqs",       # WRITE: handle, offset, data
    7: "p",         # LSTAT
    8: "h",         # FSTAT
    9: "pa",        # SETSTAT
    10: "ha",       # FSETSTAT
    11: "p",        # OPENDIR
    12: "h",        # READDIR
    13: "p",        # REMOVE
    14: "pa",       # MKDIR
    15: "p",        # RMDIR
    16: "p",        # REALPATH
    17: "p",        # STAT
    18: "pp",       # RENAME
    19: "p",        # READLINK
    20: "pp",       # SYMLINK
    EXTENDED: "s*",  # (an offered extension's: ftpredis.sftp.extensions.FIELDS)
}

#: The requests naming a handle, and which handles they take: an open file's, an open
#: directory's, or either (an extension's handle, fstatvfs's, takes either).
FILE, DIRECTORY, EITHER = "file", "directory", "either"
HANDLE_KINDS = {4: EITHER, 5: FILE, 6: FILE, 8: FILE, 10: FILE, 12: DIRECTORY}

#: The request names as twisted.conch (and the log) call them.
NAMES = {3: "OPEN", 4: "CLOSE", 5: "READ", 6: "WRITE", 7: "LSTAT", 8: "FSTAT",
         9: "SETSTAT", 10: "FSETSTAT", 11: "OPENDIR", 12: "READDIR", 13: "REMOVE",
         14: "MKDIR", 15: "RMDIR", 16: "REALPATH", 17: "STAT", 18: "RENAME",
         19: "READLINK", 20: "SYMLINK", EXTENDED: "EXTENDED"}

_u32 = struct.Struct(">I")
_ATTR_SIZE, _ATTR_UIDGID, _ATTR_PERMISSIONS, _ATTR_ACMODTIME = 1, 2, 4, 8
_ATTR_EXTENDED = 0x80000000


class Malformed(ValueError):
    """The request is not what its type says it is: the text says why."""


class _Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def take(self, n: int, what: str) -> bytes:
        if len(self.data) - self.pos < n:
            raise Malformed("%s: %d bytes wanted, %d left" % (
                what, n, len(self.data) - self.pos))
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self, what="uint32") -> int:
        return _u32.unpack(self.take(4, what))[0]

    def string(self, what="string") -> bytes:
        return self.take(self.u32(what + " length"), what)

    def skip_string(self, what="string") -> tuple:
        """Where the next string starts and ends, without copying it (a WRITE's data)."""
        n = self.u32(what + " length")
        if len(self.data) - self.pos < n:
            raise Malformed("%s: %d bytes wanted, %d left" % (
                what, n, len(self.data) - self.pos))
        self.pos += n
        return self.pos - n, self.pos

    def attrs(self) -> None:
        flags = self.u32("attribute flags")
        if flags & _ATTR_SIZE:
            self.take(8, "size")
        if flags & _ATTR_UIDGID:
            self.take(8, "uid and gid")
        if flags & _ATTR_PERMISSIONS:
            self.take(4, "permissions")
        if flags & _ATTR_ACMODTIME:
            self.take(8, "atime and mtime")
        if flags & _ATTR_EXTENDED:
            for _ in range(self.u32("extended attribute count")):
                self.string("extended attribute type")
                self.string("extended attribute data")


def parse(kind: int, data: bytes):
    """The handle a request names (or None) and the length of ``data`` (the request
    id on) that twisted.conch is to be given: bytes beyond the request's fields are
    left out (OpenSSH's sftp-server and mod_sftp ignore them).  Raises
    :class:`Malformed` for a request cut short or with NUL in a path."""
    r = _Reader(data, 4)
    handle = None
    fields = FIELDS[kind]
    if kind == EXTENDED:
        # An offered extension's fields are checked as a request's; another's are not
        # read (it is answered unsupported).
        fields = extensions.FIELDS.get(r.string("extension name"), "*")
    for field in fields:
        if field == "s":
            r.skip_string()
        elif field == "p":
            start, end = r.skip_string("path")
            if data.find(b"\0", start, end) >= 0:
                # A C string ends at NUL: OpenSSH's sftp-server refuses such a name
                # as a malformed message; the file system would refuse it (ValueError).
                raise Malformed("path with a NUL byte")
        elif field == "h":
            handle = r.string("handle")
        elif field == "u":
            r.take(4, "uint32")
        elif field == "q":
            r.take(8, "uint64")
        elif field == "a":
            r.attrs()
        else:
            r.pos = len(data)
    return handle, r.pos


def parse_init(data: bytes) -> int:
    """INIT (version, then extension pairs): the length of ``data`` to hand on, or
    :class:`Malformed`."""
    r = _Reader(data)
    r.u32("version")
    while r.pos < len(data):
        r.string("extension name")
        r.string("extension data")
    return r.pos

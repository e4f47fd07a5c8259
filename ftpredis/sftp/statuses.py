# -*- test-case-name: tests.test_sftp_statuses -*-
"""The SFTP STATUS answers, worded as ProFTPD 1.3.8's mod_sftp words them for an SFTP v3
client (contrib/mod_sftp/fxp.c: ``fxp_strerror``, ``fxp_errno2status``,
``fxp_status_write``).

This module owns every status code and text this server sends: the text of each code
(:data:`TEXT`), the status a failed system call's errno is answered with
(:func:`status`), and the packet itself (:func:`packet`: the language tag mod_sftp
sends, "en-US", and "OK" for every success, where twisted.conch says "file closed",
"write succeeded", ... and no language).  ``ftpredis.sftp.subsystem`` and
``ftpredis.sftp.extensions`` raise :func:`status`'s errors; ``ftpredis.sftp.server``
sends every STATUS through :func:`packet`.
"""

from __future__ import annotations

import errno
import os
import struct

from twisted.conch.ssh import filetransfer

OK, EOF, NO_SUCH_FILE, PERMISSION_DENIED, FAILURE, BAD_MESSAGE = 0, 1, 2, 3, 4, 5
OP_UNSUPPORTED = 8
#: Codes of later drafts that mod_sftp sends v3 clients too.
INVALID_HANDLE, FILE_ALREADY_EXISTS = 9, 11

#: fxp_strerror: each code's text (the later drafts' codes that a v3 answer borrows
#: the text of, as mod_sftp does).
TEXT = {OK: "OK", EOF: "End of file", NO_SUCH_FILE: "No such file",
        PERMISSION_DENIED: "Permission denied", FAILURE: "Failure",
        BAD_MESSAGE: "Bad message", OP_UNSUPPORTED: "Unsupported operation",
        INVALID_HANDLE: "Invalid handle", FILE_ALREADY_EXISTS: "File already exists"}

_INVALID_PARAMETER = (OP_UNSUPPORTED, "Invalid parameter")

#: fxp_errno2status for a v3 client: errnos that later drafts have a code for get 4
#: (or 8) with that code's text.  Any other errno is 4 "Failure".
_ERRNO = {
    0: (OK, "OK"),
    errno.EBADF: (NO_SUCH_FILE, "No such file"), errno.ENOENT: (NO_SUCH_FILE, "No such file"),
    errno.ENXIO: (NO_SUCH_FILE, "No such file"), errno.ENODATA: (NO_SUCH_FILE, "No such file"),
    errno.EACCES: (PERMISSION_DENIED, "Permission denied"),
    errno.EPERM: (PERMISSION_DENIED, "Permission denied"),
    errno.EIO: (FAILURE, os.strerror(errno.EIO)), errno.EXDEV: (FAILURE, os.strerror(errno.EXDEV)),
    errno.ENOSYS: (OP_UNSUPPORTED, "Unsupported operation"),
    errno.ENOTSUP: (OP_UNSUPPORTED, "Unsupported operation"),
    errno.EFAULT: _INVALID_PARAMETER, errno.EINVAL: _INVALID_PARAMETER,
    errno.E2BIG: _INVALID_PARAMETER, errno.ERANGE: _INVALID_PARAMETER,
    errno.EEXIST: (FAILURE, "File already exists"), errno.EDQUOT: (FAILURE, "Quota exceeded"),
    errno.EFBIG: (FAILURE, "Out of disk space"), errno.ENOSPC: (FAILURE, "Out of disk space"),
    errno.EISDIR: (FAILURE, "File is a directory"), errno.ENOTDIR: (FAILURE, "Not a directory"),
    errno.ELOOP: (FAILURE, "Link loop"), errno.ENAMETOOLONG: (FAILURE, "Invalid filename"),
    errno.ENOTEMPTY: (FAILURE, "Directory is not empty"),
}


def of_errno(err: int) -> tuple:
    """(code, text) answering a request that failed with ``err``."""
    return _ERRNO.get(err, (FAILURE, TEXT[FAILURE]))


def status(err: int) -> filetransfer.SFTPError:
    """The error answering a request that failed with ``err``."""
    return filetransfer.SFTPError(*of_errno(err))


def of_code(code: int) -> filetransfer.SFTPError:
    """The error answering with ``code`` and its own text."""
    return filetransfer.SFTPError(code, TEXT[code])


#: The language tag of every status (fxp_status_write: "XXX localization").
LANGUAGE = b"en-US"

_HEAD = struct.Struct(">4sI")


def packet(rid: bytes, code: int, text: bytes) -> bytes:
    """A STATUS answer's data after its type: a success says "OK" whatever the caller
    said (twisted.conch has its own text per request)."""
    if code == OK:
        text = b"OK"
    return _HEAD.pack(rid, code) + struct.pack(">I", len(text)) + text + struct.pack(
        ">I", len(LANGUAGE)) + LANGUAGE


def reworded(data: bytes) -> bytes:
    """A STATUS answer (data after its type) as :func:`packet` words it; one too short
    to hold a code and text is left as it is."""
    try:
        rid, code = _HEAD.unpack_from(data)
        n = struct.unpack_from(">I", data, 8)[0]
    except struct.error:
        return data
    return packet(rid, code, data[12:12 + n])

# -*- test-case-name: tests.test_sftp_extensions -*-
"""OpenSSH's SFTP extensions that this server offers, as ProFTPD 1.3.8's mod_sftp serves
them (contrib/mod_sftp/fxp.c).

This module owns what the VERSION answer offers (:data:`OFFERED`), the fields of each
offered request (:data:`FIELDS`, read by :mod:`ftpredis.sftp.packets`) and the requests
themselves: ``posix-rename@openssh.com`` (a rename that replaces the destination,
logged as RNFR and RNTO), ``statvfs@openssh.com`` and ``fstatvfs@openssh.com`` (the file
system's statvfs(3) of a path or of an open handle's file, not logged).  Paths are the
client's, inside the session's jail as for every other request.  mod_sftp also offers
``versions``, ``fsync@openssh.com``, ``hardlink@openssh.com`` and ``home-directory``:
not yet here (README.rst).
"""

from __future__ import annotations

import errno
import os
import struct
import time

from twisted.conch.ssh.common import getNS

from ftpredis.ftp.filesystem import FSError
from ftpredis.sftp import records as rec
from ftpredis.sftp.statuses import status

POSIX_RENAME = b"posix-rename@openssh.com"
STATVFS = b"statvfs@openssh.com"
FSTATVFS = b"fstatvfs@openssh.com"

#: What VERSION names, with mod_sftp's version numbers and in its order.
OFFERED = {POSIX_RENAME: b"1", STATVFS: b"2", FSTATVFS: b"2"}

#: The fields of each request after its name, as ftpredis.sftp.packets reads them
#: (p a path, h a handle).
FIELDS = {POSIX_RENAME: "pp", STATVFS: "p", FSTATVFS: "h"}

#: statvfs's ST_RDONLY and ST_NOSUID as OpenSSH's PROTOCOL numbers them: the only
#: flags it defines (mod_sftp sends no others either).
_FLAGS = ((os.ST_RDONLY, 1), (os.ST_NOSUID, 2))
_STATVFS = struct.Struct(">11Q")


def _statvfs_reply(st) -> bytes:
    flags = 0
    for have, bit in _FLAGS:
        if st.f_flag & have:
            flags |= bit
    fsid = getattr(st, "f_fsid", 0) & 0xFFFFFFFFFFFFFFFF
    return _STATVFS.pack(st.f_bsize, st.f_frsize, st.f_blocks, st.f_bfree, st.f_bavail,
                         st.f_files, st.f_ffree, st.f_favail, fsid, flags, st.f_namemax)


def _failed(f):
    f.trap(FSError)
    raise status(f.value.errno)


def statvfs(files, data: bytes):
    """``statvfs@openssh.com``: the file system holding a path.  No <Limit> applies and
    nothing is logged, as in mod_sftp; a path outside the jail is not found, as in
    ProFTPD's chroot."""
    shown = getNS(data)[0].decode("utf-8", "surrogateescape")

    def look():
        if not shown:
            raise FSError(errno.ENOENT, shown)     # statvfs("") fails so
        try:
            _, real = files.jail.resolve(shown)
        except FSError as e:
            # A symbolic link out of the jail: in ProFTPD's chroot its target is
            # looked for inside, where it is not.
            raise FSError(errno.ENOENT, shown) if e.errno == errno.EACCES else e
        return _statvfs_reply(files.jail.call(shown, os.statvfs, real))
    return files.run(look).addErrback(_failed)


def fstatvfs(files, data: bytes):
    """``fstatvfs@openssh.com``: the file system of an open file's or directory's
    handle (one the session holds: ftpredis.sftp.server checked it).  As mod_sftp, the
    path it was opened by is asked (a file renamed since is not found)."""
    held = files.held(getNS(data)[0])
    return files.run(os.statvfs, held.real).addCallback(_statvfs_reply).addErrback(
        _os_failed)


def _os_failed(f):
    f.trap(OSError)
    raise status(f.value.errno)


class _Refused(Exception):
    """<Limit> refused the rename, or it would rename a path onto itself: (errno,
    source vpath, real, destination vpath, real)."""


class _Failed(Exception):
    """The rename itself failed: (errno, source vpath, real, destination vpath, real)."""


def posix_rename(files, data: bytes):
    """``posix-rename@openssh.com``: rename, replacing the destination if it exists
    (whatever AllowOverwrite says, as mod_sftp 1.3.8 does); RNFR and RNTO's <Limit>
    apply.  Recorded as mod_sftp's fxp_handle_ext_posix_rename logs it: RNFR 350 and
    RNTO 250, or both 550."""
    raw_src, rest = getNS(data)
    src = raw_src.decode("utf-8", "surrogateescape")
    dst = getNS(rest)[0].decode("utf-8", "surrogateescape")
    jail, r = files.jail, files.rec
    start = time.time()

    def rename():
        try:
            svpath, sreal = jail.resolve(src)
            dvpath, dreal = jail.resolve(dst)
        except FSError as e:
            # Out of the jail (a symbolic link) or hidden: as <Limit> or a missing file.
            svpath, dvpath = jail.virtual(src), jail.virtual(dst)
            paths = (svpath, jail.real_of(svpath), dvpath, jail.real_of(dvpath))
            if e.errno == errno.EACCES:
                raise _Refused(errno.EACCES, *paths) from None
            raise _Failed(e.errno, *paths) from None
        paths = (svpath, sreal, dvpath, dreal)
        if not (files.allowed("RNFR", sreal) and files.allowed("RNTO", dreal)):
            # SFTPLog names the paths as mod_sftp's process sees them: in the jail.
            files.conn.factory.note("RENAME of '%s' to '%s' blocked by <Limit> "
                                    "configuration" % (svpath, dvpath))
            raise _Refused(errno.EACCES, *paths)
        if svpath == dvpath:
            files.conn.factory.note("RENAME of '%s' to same path '%s', rejecting"
                                    % (svpath, dvpath))
            raise _Refused(errno.EEXIST, *paths)
        try:
            if jail.root in (sreal, dreal):
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            os.rename(sreal, dreal)
        except OSError as e:
            files.conn.factory.note("error renaming '%s' to '%s': %s"
                                    % (svpath, dvpath, e.strerror))
            raise _Failed(e.errno, *paths) from None
        return paths

    def ok(paths):
        svpath, sreal, dvpath, dreal = paths
        r.command("RNFR", src, 350, rec.RNFR_OK, start=start, bytes_sent=0,
                  transfer_millis=0, **r.path_fields(svpath, sreal))
        r.command("RNTO", dst, 250, rec.RNTO_OK, start=start, bytes_sent=0,
                  transfer_millis=0, rename_from=svpath, **r.path_fields(dvpath, dreal))

    def refused(f):
        if f.check(_Refused):
            err, svpath, sreal, dvpath, dreal = f.value.args
            # Both say the destination when it is the source (mod_sftp's texts).
            text = os.strerror(err)
            r.command("RNTO", dst, 550, "%s: %s" % (dst, text), start=start,
                      rename_from=svpath, **r.path_fields(dvpath, dreal))
            r.command("RNFR", src, 550, "%s: %s" % (dst if err == errno.EEXIST else src,
                                                   text), start=start, config_path=sreal)
            raise status(err)
        f.trap(_Failed)
        err, svpath, sreal, dvpath, dreal = f.value.args
        # mod_sftp puts the command's name where the path would be.
        text = os.strerror(err)
        r.command("RNFR", src, 550, "RNFR: " + text, start=start, bytes_sent=0,
                  transfer_millis=0, **r.path_fields(svpath, sreal))
        r.command("RNTO", dst, 550, "RNTO: " + text, start=start, bytes_sent=0,
                  transfer_millis=0, rename_from=svpath, **r.path_fields(dvpath, dreal))
        raise status(err)
    return files.run(rename).addCallbacks(ok, refused)


#: Each offered request's handler: (the subsystem's SFTPFiles, the request's data after
#: its name) -> a Deferred firing with an EXTENDED_REPLY's data, or None for "OK".
HANDLERS = {POSIX_RENAME: posix_rename, STATVFS: statvfs, FSTATVFS: fstatvfs}

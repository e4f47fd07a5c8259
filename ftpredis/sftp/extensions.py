# -*- test-case-name: tests.test_sftp_extensions -*-
"""OpenSSH's SFTP extensions that this server offers, as ProFTPD 1.3.8's mod_sftp serves
them (contrib/mod_sftp/fxp.c).

This module owns what the VERSION answer offers (:data:`OFFERED`, in mod_sftp's order),
the fields of each offered request (:data:`FIELDS`, read by
:mod:`ftpredis.sftp.packets`) and the requests themselves: ``fsync@openssh.com``
(fsync(2) of an open file's handle, not logged), ``posix-rename@openssh.com`` (a rename
that replaces the destination, logged as RNFR and RNTO), ``statvfs@openssh.com`` and
``fstatvfs@openssh.com`` (the file system's statvfs(3) of a path or of an open handle's
file, not logged), ``hardlink@openssh.com`` (link(2), not logged; stricter than
mod_sftp about <Limit> and symbolic links) and ``home-directory`` (the session's home
as it sees it, not logged).  Paths are the client's, inside the session's jail as for
every other request.  mod_sftp also offers ``versions``: not yet here (README.rst).
"""

from __future__ import annotations

import errno
import os
import stat as statmod
import struct
import time

from twisted.conch.ssh.common import getNS
from twisted.conch.ssh.filetransfer import FXP_NAME as NAME
from twisted.conch.ssh.filetransfer import SFTPError

from ftpredis.ftp.filesystem import FSError
from ftpredis.sftp import records as rec
from ftpredis.sftp.statuses import INVALID_HANDLE, TEXT, status

FSYNC = b"fsync@openssh.com"
POSIX_RENAME = b"posix-rename@openssh.com"
STATVFS = b"statvfs@openssh.com"
FSTATVFS = b"fstatvfs@openssh.com"
HARDLINK = b"hardlink@openssh.com"
HOME_DIRECTORY = b"home-directory"

#: What VERSION names, with mod_sftp's version numbers and in its order
#: (fxp_version_add_openssh_exts).
OFFERED = {FSYNC: b"1", POSIX_RENAME: b"1", STATVFS: b"2", FSTATVFS: b"2", HARDLINK: b"1",
           HOME_DIRECTORY: b"1"}

#: The fields of each request after its name, as ftpredis.sftp.packets reads them
#: (p a path, h a handle, s a string).
FIELDS = {FSYNC: "h", POSIX_RENAME: "pp", STATVFS: "p", FSTATVFS: "h", HARDLINK: "pp",
          HOME_DIRECTORY: "s"}

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
            svpath, sreal = jail.resolve(src, follow=False)
            dvpath, dreal = jail.resolve(dst, follow=False)
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


def fsync(files, data: bytes):
    """``fsync@openssh.com`` (OpenSSH's ``put -f``): fsync(2) of an open file's handle,
    after the writes that came before it, in the disk pool.  A directory's handle is 9
    "Invalid handle", as in mod_sftp; nothing is logged (mod_sftp dispatches FSYNC,
    which mod_redis did not record)."""
    held = files.held(getNS(data)[0])
    sync = getattr(held, "sync", None)
    if sync is None:
        raise SFTPError(INVALID_HANDLE, TEXT[INVALID_HANDLE])

    def failed(f):
        f.trap(OSError)
        files.conn.factory.note("error calling fsync(2) on '%s': %s"
                                % (held.vpath, f.value.strerror))
        raise status(f.value.errno)
    return sync().addErrback(failed)


class _Denied(Exception):
    """A hard link refused before link(2): the errno to answer."""


def hardlink(files, data: bytes):
    """``hardlink@openssh.com`` (OpenSSH's ``ln``): link(2), both paths in the jail as
    for posix-rename (one out of it, through a symbolic link, is not found, as in
    ProFTPD's chroot).  <Limit HARDLINK> and <Limit DIRS> on the source, <Limit
    HARDLINK> and <Limit WRITE> on the destination, as mod_sftp asks them; and, unlike
    mod_sftp, <Limit READ> and <Limit WRITE> on the source (a second name elsewhere
    would let a file be read or overwritten where they forbid it), and no link of a
    symbolic link (Linux's link(2) would make a new symbolic link, which clients may
    not make: README.rst).  Nothing is logged, as by mod_sftp (HARDLINK is dispatched,
    mod_redis did not record it)."""
    raw_src, rest = getNS(data)
    src = raw_src.decode("utf-8", "surrogateescape")
    dst = getNS(rest)[0].decode("utf-8", "surrogateescape")
    jail, note = files.jail, files.conn.factory.note

    def link():
        try:
            svpath, sreal = jail.resolve(src, follow=False)
            dvpath, dreal = jail.resolve(dst, follow=False)
        except FSError as e:
            raise _Denied(errno.ENOENT if e.errno == errno.EACCES else e.errno) from None
        if not (files.allowed("HARDLINK", sreal, group="DIRS")
                and files.allowed("HARDLINK", dreal, group="WRITE")
                and files.allowed("RETR", sreal) and files.allowed("STOR", sreal)):
            # SFTPLog names the paths as mod_sftp's process sees them: in the jail.
            note("HARDLINK of '%s' to '%s' blocked by <Limit> configuration"
                 % (svpath, dvpath))
            raise _Denied(errno.EACCES)
        if svpath == dvpath:
            note("HARDLINK of '%s' to same path '%s', rejecting" % (svpath, dvpath))
            raise _Denied(errno.EEXIST)
        try:
            # The file itself, held while it is linked: the last component is not
            # followed, and what is linked is what was checked, not a symbolic link
            # renamed into its place meanwhile.
            fd = os.open(sreal, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                if statmod.S_ISLNK(os.fstat(fd).st_mode):
                    note("HARDLINK of '%s' refused: a symbolic link" % (svpath,))
                    raise _Denied(errno.EACCES)
                # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/<fd> links the open file
                # (link(2), what os.link calls without a dir_fd, would link the
                # /proc entry itself).
                proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.link(str(fd), dreal, src_dir_fd=proc, follow_symlinks=True)
                finally:
                    os.close(proc)
            finally:
                os.close(fd)
        except OSError as e:
            note("error hardlinking '%s' to '%s': %s" % (svpath, dvpath, e.strerror))
            raise _Denied(e.errno) from None

    def failed(f):
        f.trap(_Denied)
        raise status(f.value.args[0])
    return files.run(link).addErrback(failed)


_ATTRS = struct.Struct(">IQIIIII")
#: SFTP v3's ATTRS flags: size, uid and gid, permissions, access and modification times.
_ALL_ATTRS = 0x1 | 0x2 | 0x4 | 0x8


def _ns(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def home_directory(files, data: bytes):
    """``home-directory``: a NAME of one entry, the account's home as the session sees
    it (``/`` when jailed to it), with its long name and attributes as READDIR's.  The
    name asked is the session's account (or empty, meaning it); another account's home
    is not told (2 "No such file", what mod_sftp answered in a chroot, where it looks
    for the home's real path inside).  mod_sftp 1.3.8 answers 2 for the session's own
    home too under ``DefaultRoot ~``: it stats the home's real path inside the chroot
    before it would show ``/`` (README.rst).  Nothing is logged (HOMEDIR is dispatched,
    mod_redis did not record it)."""
    name = getNS(data)[0].decode("utf-8", "surrogateescape") or files.user
    avatar = files.rec.avatar
    jail = files.jail

    def look():
        if name != files.user:
            raise FSError(errno.ENOENT, name)
        home = os.path.realpath(avatar.home)
        root = jail.root
        if home == root:
            vpath = "/"
        elif root == "/":
            vpath = home
        elif home.startswith(root + "/"):
            vpath = home[len(root):]
        else:
            raise FSError(errno.ENOENT, name)
        _, real = jail.resolve(vpath)
        st = jail.call(vpath, os.stat, real)
        line = jail.format_long(vpath, st, time.time(), sftp=True)
        shown = vpath.encode("utf-8", "surrogateescape")
        return (NAME, struct.pack(">I", 1) + _ns(shown)
                + _ns(line.encode("utf-8", "surrogateescape"))
                + _ATTRS.pack(_ALL_ATTRS, st.st_size, st.st_uid, st.st_gid, st.st_mode,
                              int(st.st_atime) & 0xFFFFFFFF, int(st.st_mtime) & 0xFFFFFFFF))

    def failed(f):
        f.trap(FSError)
        why = ("unable to determine home for '%s'" % name if name != files.user
               else "unable to stat '%s'" % avatar.home)
        files.conn.factory.note("home-directory request failed: %s: %s"
                                % (why, os.strerror(f.value.errno)))
        raise status(f.value.errno)
    return files.run(look).addErrback(failed)


#: Each offered request's handler: (the subsystem's SFTPFiles, the request's data after
#: its name) -> a Deferred firing with an EXTENDED_REPLY's data, (packet type, data)
#: for another answer, or None for "OK".
HANDLERS = {FSYNC: fsync, POSIX_RENAME: posix_rename, STATVFS: statvfs, FSTATVFS: fstatvfs,
            HARDLINK: hardlink, HOME_DIRECTORY: home_directory}

# -*- test-case-name: tests.test_sftp -*-
"""The SFTP subsystem: SFTP requests on the session's jailed file system.

This module owns :class:`SFTPFiles` (twisted.conch's ``ISFTPServer``) and its file and
directory handles: each request is checked against ``<Limit>`` under the FTP command
mod_sftp maps it to (OPEN for reading is RETR, for writing STOR, with APPEND APPE,
OPENDIR is MLSD, MKDIR MKD, RMDIR RMD, REMOVE DELE, RENAME RNFR+RNTO, SETSTAT's
permissions SITE_CHMOD), run in the disk pool (never on the reactor thread), and
recorded through :class:`ftpredis.sftp.records.SSHRecorder` as doc/sftp-records.rst
describes.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat as statmod
import time

from twisted.conch.interfaces import ISFTPFile, ISFTPServer
from twisted.conch.ssh import filetransfer
from twisted.internet import defer
from twisted.python import failure
from zope.interface import implementer

from ftpredis.config import dirmatch
from ftpredis.ftp import limits, nowait
from ftpredis.ftp.filesystem import FSError
from ftpredis.sftp import extensions, statuses
from ftpredis.sftp import records as rec


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _attrs(st) -> dict:
    return {"size": st.st_size, "uid": st.st_uid, "gid": st.st_gid,
            "permissions": st.st_mode, "atime": int(st.st_atime), "mtime": int(st.st_mtime)}


def _oserror(e: FSError) -> filetransfer.SFTPError:
    return statuses.status(e.errno)


#: The largest offset a READ or WRITE may name: off_t is signed.
MAX_OFFSET = 2 ** 63 - 1

#: The most a READ answers (SFTP allows a short read): mod_sftp's bound.  A client asking
#: for 4 GiB made the server allocate it.
MAX_READ = 512 * 1024 - 1024


def _io_failed(f):
    """A READ's or WRITE's OSError as the status it is answered with (a handle not
    open for it is EBADF, a file beyond the file system's largest EFBIG); twisted.conch
    would log a traceback for it as for a bug of the server's."""
    f.trap(OSError)
    raise statuses.status(f.value.errno)


#: The NAME entry's attributes as this server sends them: flags, size, uid+gid,
#: permissions, atime+mtime (the sizes %b counts for a listing).
_ATTR_BYTES = 4 + 8 + 8 + 4 + 8


def _apply_attrs(jail, real: str, attrs: dict, display: str, fd=None) -> None:
    """SETSTAT/FSETSTAT: size, permissions and times (blocking)."""
    if "size" in attrs:
        if attrs["size"] > MAX_OFFSET:
            # off_t is signed: ProFTPD's truncate() of such a size fails EINVAL; Python's
            # refused to convert it and conch logged a traceback
            raise FSError(errno.EINVAL, display)
        jail.call(display, os.truncate, fd if fd is not None else real, attrs["size"])
    if "permissions" in attrs:
        # As FTP's SITE CHMOD: no setuid/setgid bits on files the server's account owns.
        mode = attrs["permissions"] & 0o1777
        jail.call(display, os.chmod, fd if fd is not None else real, mode)
    if "atime" in attrs and "mtime" in attrs:
        jail.call(display, os.utime, fd if fd is not None else real,
                  (attrs["atime"], attrs["mtime"]))


#: Files one SFTP session may hold open.  All sessions share the process's descriptors
#: (ProFTPD's each have their own process): without a bound one client that pipelined
#: 21,000 OPENs took all 20,000 and every new FTP and SFTP connection was refused.
#: OpenSSH's sftp and lftp hold a few at a time.
MAX_OPEN_FILES = 1024


@implementer(ISFTPServer)
class SFTPFiles:
    """One SFTP subsystem's requests.  ``conn`` is the SSH session
    (:class:`ftpredis.sftp.server.SSHSession`): its server config, recorder, file system,
    account and disk pool."""

    def __init__(self, conn, held=None):
        self.conn = conn
        # handle -> the open _File or _Directory (twisted.conch keeps the handles).
        self.held = held
        self.server = conn.server
        self.rec = conn.recorder
        self.fs = conn.recorder.fs
        self.jail = self.fs.jail
        a = conn.recorder.avatar
        self.user = a.name
        self.groups = (a.group,) if a.group else ()
        self.handles = set()
        self._opening = 0

    def umask(self, real: str) -> int:
        """The Umask for a file or directory made at ``real``: a <Directory>'s, else the
        server's, by the matcher FTP's STOR and MKD use."""
        return dirmatch.dir_setting(self.server.directories, real, "umask", self.jail.umask)

    def allowed(self, verb: str, real: str, group=None) -> bool:
        return limits.allowed(self.server, None, verb, real, self.user, self.groups,
                              addr=self.conn.peer_host, group=group)

    def run(self, fn, *args):
        return self.fs.run(fn, *args)

    # -- ISFTPServer ----------------------------------------------------------------------
    def gotVersion(self, otherVersion, extData):
        # twisted.conch's server answers every client with version 3.
        self.rec.sftp_negotiated(3)
        return dict(extensions.OFFERED)

    def realPath(self, path):
        return self.realPathEntry(path).addCallback(lambda entry: entry[0])

    def realPathEntry(self, path):
        """REALPATH as mod_sftp 1.3.8 answers a v3 client: ``(name, long name)`` of the
        path with its symbolic links resolved as in a chroot (an absolute link from the
        jail's top, ``..`` stopping there), the long name the entry's ``ls -l`` line;
        a path that names nothing (a dangling link, a link out of the jail) is 2 "No
        such file" (fxp_handle_realpath resolves it with dir_realpath, then stats it).
        Not logged, as mod_redis did not."""
        shown = _text(path) or "."
        jail = self.jail

        def look():
            vpath = jail.virtual(shown)
            try:
                st, target = jail.follow_inside(jail.real_of(vpath))
            except OSError as e:
                raise FSError(e.errno or errno.ENOENT, shown) from None
            target = jail.virtual_dir(target)
            jail.resolve(target, shown)         # HideFiles, as for any path
            name = target.encode("utf-8", "surrogateescape")
            line = jail.format_long(target, st, time.time(), sftp=True)
            return name, line.encode("utf-8", "surrogateescape")
        return self.run(look).addErrback(_as_oserror)

    def getAttrs(self, path, followLinks):
        shown = _text(path)
        start = time.time()

        def look():
            vpath, real = self.jail.resolve(shown, follow=followLinks)
            if followLinks and not (self.allowed("STAT", real)
                                    and self.allowed("RETR", real)):
                # ProFTPD 1.3.8 refuses STAT under <Limit READ> DenyAll
                # (doc/sftp-records.rst).
                raise FSError(errno.EACCES, shown)
            st = self.jail.call(shown, os.stat if followLinks else os.lstat, real)
            return _attrs(st)
        d = self.run(look)
        if not followLinks:
            return d.addErrback(lambda f: f.trap(FSError) and _raise(_oserror(f.value)))

        def ok(attrs):
            self.rec.command("STAT", shown, start=start)
            return attrs

        def bad(f):
            f.trap(FSError)
            code, text = statuses.of_errno(f.value.errno)
            self.rec.command("STAT", shown, code, text, start=start)
            raise _oserror(f.value)
        return d.addCallbacks(ok, bad)

    #: What each SETSTAT attribute changes, as the FTP command <Limit> judges it by: a
    #: new size rewrites the content (STOR), new times are MFMT's, a mode SITE CHMOD's.
    #: All three are in <Limit WRITE>.
    _ATTR_VERBS = (("size", "STOR"), ("permissions", "SITE_CHMOD"), ("atime", "MFMT"),
                   ("mtime", "MFMT"))

    def check_attrs(self, attrs: dict, real: str, shown: str) -> None:
        """Refuse (EACCES) a SETSTAT/FSETSTAT that <Limit> forbids for ``real``
        (blocking: run in the disk pool)."""
        for name, verb in self._ATTR_VERBS:
            if name in attrs and not self.allowed(verb, real):
                raise FSError(errno.EACCES, shown)

    def setAttrs(self, path, attrs):
        shown = _text(path)

        def change():
            vpath, real = self.jail.resolve(shown)
            self.check_attrs(attrs, real, shown)
            _apply_attrs(self.jail, real, attrs, shown)
        return self.run(change).addErrback(_as_oserror)

    def openFile(self, filename, flags, attrs):
        shown = _text(filename)
        if flags & filetransfer.FXF_APPEND:
            verb = "APPE"
        elif flags & filetransfer.FXF_WRITE:
            verb = "STOR"
        else:
            verb = "RETR"
        start = time.time()
        server = self.server
        # Counted when asked, not when opened: a client pipelines its OPENs.
        too_many = len(self.handles) + self._opening >= MAX_OPEN_FILES
        self._opening += 1

        def open_():
            if too_many:
                raise FSError(errno.EMFILE, shown)
            vpath, real = self.jail.resolve(shown)
            if not self.allowed(verb, real):
                raise _Denied(vpath, real)
            try:
                st = os.stat(real)
                existed = True
            except OSError:
                existed = False
                # A symbolic link to nothing: mod_xfer's RETR finds no file mode and
                # mod_sftp answers its error as EACCES (observed).
                if verb == "RETR" and os.path.islink(real):
                    raise FSError(errno.EACCES, shown)
            if existed and not (statmod.S_ISREG(st.st_mode) or statmod.S_ISFIFO(st.st_mode)):
                # mod_xfer refuses a directory EISDIR ("Not a regular file"), which
                # mod_sftp answers as EACCES (fxp_handle_open's PRE_CMD fallback).
                raise FSError(errno.EACCES, shown)
            if verb == "RETR":
                vpath, real, fd, st = self.jail.open_read(shown)
                if not statmod.S_ISREG(st.st_mode):
                    os.close(fd)
                    raise FSError(errno.EACCES, shown)
                return vpath, real, fd, st.st_size, True
            if verb == "APPE" and existed and not server.allow_store_restart:
                raise _Denied(vpath, real)
            if existed and verb == "STOR" and not dirmatch.dir_setting(
                    server.directories, real, "allow_overwrite", server.allow_overwrite):
                # mod_xfer's "Overwrite permission denied" (EACCES), whatever the
                # open's flags; mod_sftp logs it with strerror's text.
                raise FSError(errno.EACCES, shown)
            mode = os.O_WRONLY
            if flags & filetransfer.FXF_READ:
                mode = os.O_RDWR
            if flags & filetransfer.FXF_CREAT:
                mode |= os.O_CREAT
            if flags & filetransfer.FXF_TRUNC:
                mode |= os.O_TRUNC
            if flags & filetransfer.FXF_EXCL:
                mode |= os.O_EXCL
            if verb == "APPE":
                mode |= os.O_APPEND
            umode = attrs.get("permissions", 0o666) & 0o777 & ~self.umask(real)
            try:
                fd = self.jail.call(shown, os.open, real, mode | os.O_CLOEXEC, umode)
            except FSError as e:
                # mod_sftp notes an existing file as modified before it opens it.
                e.existed = existed
                raise
            return vpath, real, fd, os.fstat(fd).st_size, existed

        def opened(result):
            vpath, real, fd, size, existed = result
            h = _File(self, verb, shown, vpath, real, fd, start, size, existed)
            self.handles.add(h)
            self.rec.current_transfer = h
            return h

        def failed(f):
            if f.check(_Denied):
                vpath, real = f.value.args
                # mod_sftp refuses the open with EPERM (doc/sftp-records.rst).
                self.rec.command(verb, shown, 451, "%s: %s" % (shown,
                                                              os.strerror(errno.EPERM)),
                                 start=start, file=real, basename=rec.path_tail(vpath),
                                 transfer_status="failed")
                raise statuses.status(errno.EPERM)
            f.trap(FSError)
            e = f.value
            if verb == "RETR" and e.errno == errno.ENOENT:
                # mod_sftp refuses it before RETR is dispatched: nothing is logged.
                raise _oserror(e)
            # mod_sftp answers a failed open 451 "<path>: <strerror>"
            # (contrib/mod_sftp/fxp.c, fxp_handle_open).
            vpath = self.jail.virtual(shown)
            self.rec.command(verb, shown, 451, "%s: %s" % (shown, e.message), start=start,
                             file=self.jail.real_of(vpath), basename=rec.path_tail(vpath),
                             transfer_status="failed",
                             file_modified=getattr(e, "existed", False))
            raise _oserror(e)

        def done(result):
            self._opening -= 1
            return result
        return self.run(open_).addBoth(done).addCallbacks(opened, failed)

    def removeFile(self, filename):
        shown = _text(filename)
        start = time.time()

        def remove():
            vpath, real = self.jail.resolve(shown, follow=False)
            try:
                # A refused or failed DELE's %b is the size of what it named, as
                # mod_sftp logs it.
                size = os.lstat(real).st_size
            except OSError:
                size = 0
            try:
                if not self.allowed("DELE", real):
                    raise _Denied(vpath, real)
                return vpath, real, self.jail.unlink(shown)
            except (_Denied, FSError) as e:
                e.size = size
                raise

        def ok(result):
            vpath, real, size = result
            self.rec.command("DELE", shown, 250, rec.DELE_OK, start=start, bytes_sent=size,
                             **self.rec.path_fields(vpath, real))

        def bad(f):
            return self._refused(f, "DELE", shown, start, errno.EPERM)
        return self.run(remove).addCallbacks(ok, bad)

    def _refused(self, f, verb, shown, start, denied_errno, **extra):
        """Record a failed request as mod_sftp does (550 "path: reason"), then fail it."""
        if f.check(_Denied):
            vpath, real = f.value.args
            err = denied_errno
        else:
            f.trap(FSError)
            err = f.value.errno
            vpath = self.jail.virtual(shown)
            real = self.jail.real_of(vpath)
        fields = self.rec.path_fields(vpath, real, directory=verb in ("MKD", "RMD"))
        if verb == "DELE":
            fields["bytes_sent"] = getattr(f.value, "size", 0)
        fields.update(extra)
        self.rec.command(verb, shown, 550, "%s: %s" % (shown, os.strerror(err)),
                         start=start, **fields)
        raise statuses.status(err)

    def renameFile(self, oldpath, newpath):
        src, dst = _text(oldpath), _text(newpath)
        start = time.time()

        def rename():
            svpath, sreal = self.jail.resolve(src, follow=False)
            if not self.allowed("RNFR", sreal):
                raise _Denied(svpath, sreal)
            dvpath, dreal = self.jail.resolve(dst, follow=False)
            paths = (svpath, sreal, dvpath, dreal)
            if not self.allowed("RNTO", dreal):
                raise _RenameDenied(*paths)
            if svpath == dvpath:
                raise _RenameExists(errno.EEXIST, *paths)
            if os.path.lexists(dreal):
                # SFTP v3 RENAME never replaces (draft-ietf-secsh-filexfer-02 6.5).
                raise _RenameExists(0, *paths)
            try:
                self.jail.rename(sreal, dst)
            except FSError as e:
                raise _RenameFailed(e.errno, *paths) from None
            return paths

        def ok(result):
            svpath, sreal, dvpath, dreal = result
            self.rec.command("RNFR", src, 350, rec.RNFR_OK, start=start, bytes_sent=0,
                             transfer_millis=0, **self.rec.path_fields(svpath, sreal))
            self.rec.command("RNTO", dst, 250, rec.RNTO_OK, start=start, bytes_sent=0,
                             transfer_millis=0, rename_from=svpath,
                             **self.rec.path_fields(dvpath, dreal))

        def bad(f):
            if f.check(_RenameDenied):
                # Refused at the destination: mod_sftp logs RNFR's refusal, then RNTO's,
                # both naming the source (fxp_handle_rename; observed).
                svpath, sreal, dvpath, dreal = f.value.args
                text = "%s: %s" % (src, os.strerror(errno.EACCES))
                self.rec.command("RNFR", src, 550, text, start=start, config_path=sreal)
                self.rec.command("RNTO", dst, 550, text, start=start, rename_from=svpath,
                                 **self.rec.path_fields(dvpath, dreal))
                raise statuses.status(errno.EACCES)
            if f.check(_RenameExists):
                # An existing destination: mod_sftp answers it with a code of later
                # drafts and logs both commands with errno 0's text (fxp_handle_rename;
                # observed); onto itself, EEXIST.
                err, svpath, sreal, dvpath, dreal = f.value.args
                text = os.strerror(err)
                self.rec.command("RNFR", src, 550, "%s: %s" % (src, text), start=start,
                                 config_path=sreal)
                self.rec.command("RNTO", dst, 550, "%s: %s" % (dst, text), start=start,
                                 rename_from=svpath, **self.rec.path_fields(dvpath, dreal))
                if err:
                    raise statuses.status(err)
                raise statuses.of_code(statuses.FILE_ALREADY_EXISTS)
            if f.check(_RenameFailed):
                # The rename itself failed (a missing source too): both commands with
                # their name where the path would be, as for posix-rename.
                err, svpath, sreal, dvpath, dreal = f.value.args
                text = os.strerror(err)
                self.rec.command("RNFR", src, 550, "RNFR: " + text, start=start,
                                 bytes_sent=0, transfer_millis=0,
                                 **self.rec.path_fields(svpath, sreal))
                self.rec.command("RNTO", dst, 550, "RNTO: " + text, start=start,
                                 bytes_sent=0, transfer_millis=0, rename_from=svpath,
                                 **self.rec.path_fields(dvpath, dreal))
                raise statuses.status(err)
            return self._refused(f, "RNFR", src, start, errno.EACCES)
        return self.run(rename).addCallbacks(ok, bad)

    def makeDirectory(self, path, attrs):
        shown = _text(path)
        start = time.time()

        def make():
            vpath, real = self.jail.resolve(shown, follow=False)
            if not self.allowed("MKD", real):
                raise _Denied(vpath, real)
            self.jail.mkdir(shown, umask_for=self.umask)
            if "permissions" in attrs:
                self.jail.call(shown, os.chmod, real,
                               attrs["permissions"] & 0o777 & ~self.umask(real))
            return vpath, real

        def ok(result):
            vpath, real = result
            self.rec.command("MKD", shown, start=start,
                             **self.rec.path_fields(vpath, real, directory=True))
        return self.run(make).addCallbacks(
            ok, lambda f: self._refused(f, "MKD", shown, start, errno.EACCES))

    def removeDirectory(self, path):
        shown = _text(path)
        start = time.time()

        def remove():
            vpath, real = self.jail.resolve(shown, follow=False)
            if not self.allowed("RMD", real):
                raise _Denied(vpath, real)
            self.jail.rmdir(shown)
            return vpath, real

        def ok(result):
            vpath, real = result
            self.rec.command("RMD", shown, start=start,
                             **self.rec.path_fields(vpath, real, directory=True))
        def bad(f):
            if f.check(FSError):
                # ProFTPD 1.3.8 logs a failed RMDIR as it logs a successful one (no
                # response) and only answers the client with the error.
                vpath = self.jail.virtual(shown)
                self.rec.command("RMD", shown, start=start, **self.rec.path_fields(
                    vpath, self.jail.real_of(vpath), directory=True))
                raise _oserror(f.value)
            return self._refused(f, "RMD", shown, start, errno.EACCES)
        return self.run(remove).addCallbacks(ok, bad)

    def openDirectory(self, path):
        shown = _text(path)
        start = time.time()

        def read():
            vpath, real = self.jail.resolve(shown)
            if not self.allowed("MLSD", real):
                raise FSError(errno.EACCES, shown)
            try:
                st = self.jail.call(shown, os.stat, real)
                if not statmod.S_ISDIR(st.st_mode):
                    raise FSError(errno.ENOTDIR, shown)
            except FSError as e:
                raise _ListingFailed(e.errno, vpath, real) from None
            entries = [(".", st)]
            try:
                entries.append(("..", os.stat(os.path.dirname(real) if vpath != "/"
                                              else real)))
            except OSError:
                pass
            entries.extend(self.jail.call(shown, self.jail.list_entries, real, True))
            now = time.time()
            out = []
            for name, est in entries:
                if est is None:
                    continue
                line = self.jail.format_long(name, est, now, sftp=True)
                out.append((name.encode("utf-8", "surrogateescape"),
                            line.encode("utf-8", "surrogateescape"), _attrs(est)))
            return vpath, real, out

        def failed(f):
            if f.check(_ListingFailed):
                # mod_sftp logs MLSD as it fails to open the directory: 451 "<path>:
                # <strerror>", %{transfer-status} still "success" (fxp_handle_opendir).
                err, vpath, real = f.value.args
                fields = self.rec.path_fields(vpath, real, directory=True)
                fields.pop("transfer_path")
                self.rec.command("MLSD", shown.rstrip("/") or shown, 451, "%s: %s" % (
                    shown.rstrip("/") or shown, os.strerror(err)), start=start,
                    transfer_status="success", **fields)
                raise statuses.status(err)
            return _as_oserror(f)
        return self.run(read).addCallbacks(
            lambda r: _Directory(self, shown, r[0], r[1], r[2], start), failed)

    def readLink(self, path):
        shown = _text(path)

        def read():
            vpath, real = self.jail.resolve(shown, follow=False)
            target = self.jail.call(shown, os.readlink, real)
            target = _shown_target(self.jail.root, shown, target)
            return target.encode("utf-8", "surrogateescape")
        return self.run(read).addErrback(_as_oserror)

    def makeLink(self, linkPath, targetPath):
        # Symbolic links made by a client could point anywhere the server's account can
        # read; refused (doc/sftp-records.rst, "Not yet").
        return defer.fail(statuses.status(errno.EPERM))

    def extendedRequest(self, extendedName, extendedData):
        """An offered extension's answer (ftpredis.sftp.extensions): a Deferred firing
        with an EXTENDED_REPLY's data, or None for a status OK."""
        handler = extensions.HANDLERS.get(extendedName)
        if handler is not None:
            return handler(self, extendedData)
        # One VERSION did not name, as mod_sftp words its refusal.
        self.conn.factory.note("client requested '%s' extension, rejecting"
                               % _text(extendedName))
        raise filetransfer.SFTPError(filetransfer.FX_OP_UNSUPPORTED, "Unsupported operation")

    def closeAll(self):
        """The subsystem ended: handles left open are closed (and recorded)."""
        for h in list(self.handles):
            h.close(aborted=True)


def _shown_target(root: str, shown: str, target: str) -> str:
    """A symbolic link's target as mod_sftp's READLINK shows it (dir_readlink with
    PR_DIR_READLINK_FL_HANDLE_REL_PATH): in a jail, a relative target is joined to the
    directory of the link's path as the client wrote it and made absolute, an absolute
    one inside the jail loses the jail's prefix; without a jail, a relative target is
    joined to that directory unless the link is at the top."""
    if root == "/":
        head = shown.rpartition("/")[0]
        if target.startswith("/") or not head:
            return target
        return posixpath.normpath(head + "/" + target)
    if not target.startswith("/"):
        joined = posixpath.join("/", posixpath.dirname(shown), target)
        return "/" + posixpath.normpath(joined).lstrip("/")
    prefix = root.rstrip("/")
    if target.startswith(prefix + "/"):
        return target[len(prefix):]
    return target


class _Denied(Exception):
    """A <Limit> (or AllowStoreRestart) refused the request: (vpath, real)."""


class _RenameDenied(Exception):
    """<Limit RNTO> refused a rename: (source vpath, real, destination vpath, real)."""


class _ListingFailed(Exception):
    """OPENDIR's directory could not be opened: (errno, vpath, real)."""


class _RenameExists(Exception):
    """A rename's destination exists (errno 0), or is its source (EEXIST): (errno,
    source vpath, real, destination vpath, real)."""


class _RenameFailed(Exception):
    """rename(2) failed: (errno, source vpath, real, destination vpath, real)."""


def _pwrite_all(fd, data, offset):
    """Blocking: write all of ``data`` at ``offset`` (a disk job)."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _pwrite_batch(fd, writes):
    """Blocking: each (offset, data) of ``writes`` in turn (a disk job); for each,
    None or the exception it failed with."""
    errors = []
    for offset, data in writes:
        try:
            _pwrite_all(fd, data, offset)
            errors.append(None)
        except Exception:
            errors.append(failure.Failure())
    return errors


def _raise(e):
    raise e


def _as_oserror(f):
    f.trap(FSError)
    raise _oserror(f.value)


@implementer(ISFTPFile)
class _File:
    """An open file; its RETR/STOR/APPE record is written when it is closed."""

    def __init__(self, owner, verb, shown, vpath, real, fd, start, size, existed=False):
        self.owner = owner
        # %{file-modified} of an upload: whether the file existed when it was opened
        # (mod_sftp's fh_existed), whatever the open's flags
        self.existed = existed
        self.verb = verb
        self.shown = shown
        self.vpath = vpath
        self.real = real
        self.fd = fd
        self.start = start
        self.size = size
        self.count = 0
        self.closed = False
        self.writing = False    # a disk job of writes is running
        self.queued = []        # (offset, data, answer): the writes for the next one
        self.idle = []          # Deferreds fired once every write so far is answered

    def exit_fields(self) -> dict:
        """What the session's EXIT record says of this transfer, open when it ended."""
        fields = self.owner.rec.path_fields(self.vpath, self.real)
        fields.pop("config_path")
        fields.update(bytes_sent=self.count,
                      transfer_millis=int((time.time() - self.start) * 1000))
        return fields

    def readChunk(self, offset, length):
        def got(data):
            if not data:
                # mod_sftp's text for SSH2_FX_EOF (twisted.conch's is "read failed").
                raise EOFError(statuses.TEXT[statuses.EOF])
            self.count += len(data)
            return data
        if offset > MAX_OFFSET:
            raise statuses.status(errno.EINVAL)
        length = min(length, MAX_READ)
        # From the page cache when the kernel promises not to wait (a thread hop per
        # 32 KiB request costs more than the copy), else in the disk pool.
        data = nowait.pread_now(self.fd, length, offset)
        if data is not None:
            return got(data)
        return self.owner.run(os.pread, self.fd, length, offset).addCallbacks(
            got, _io_failed)

    def writeChunk(self, offset, data):
        if offset > MAX_OFFSET:
            raise statuses.status(errno.EINVAL)
        # Writes are acknowledged in the order they came: OpenSSH's client truncates an
        # upload to the end of the writes acknowledged in order ("server reordered
        # ACKs").  The page cache's answer when the kernel gives one without waiting;
        # else the writes that come while a disk job runs wait for it and go together
        # as the next one (a thread hop per 32 KiB write costs more than the write),
        # answered in order when it is done.
        if not self.writing and not self.queued:
            n = nowait.pwrite_now(self.fd, data, offset)
            if n:
                # %b counts what was written: a write that failed (a handle opened
                # for reading) counts nothing, as in mod_sftp.
                self.count += n
            if n is not None and n == len(data):
                return None
            if n:
                data, offset = data[n:], offset + n
        answer = defer.Deferred()
        self.queued.append((offset, data, answer))
        if not self.writing:
            self._write_queued()
        return answer.addErrback(_io_failed)

    def _write_queued(self):
        batch, self.queued = self.queued, []
        self.writing = True

        def done(errors):
            self.writing = False
            for (_, data, answer), err in zip(batch, errors):
                if err is None:
                    self.count += len(data)
                    answer.callback(None)
                else:
                    answer.errback(err)
            self._next()
        self.owner.run(_pwrite_batch, self.fd, [(o, d) for o, d, _ in batch]).addCallback(
            done)

    def _next(self):
        """A disk job ended: the writes that came meanwhile, else tell who waits."""
        if self.queued:
            self._write_queued()
        elif not self.writing:
            idle, self.idle = self.idle, []
            for d in idle:
                d.callback(None)

    def sync(self):
        """fsync@openssh.com: fsync(2) once the writes so far are done, in the disk
        pool.  It counts as a write job: writes that come meanwhile wait for it, and so
        does CLOSE (which must not close the descriptor under it)."""
        def start(_):
            if self.fd is None:
                return None     # a CLOSE came first and has the writes on disk
            self.writing = True
            return self.owner.run(os.fsync, self.fd).addBoth(finished)

        def finished(result):
            self.writing = False
            self._next()
            return result
        return self._written().addCallback(start)

    def _written(self):
        """A Deferred that fires once every write so far is answered."""
        if not self.writing and not self.queued:
            return defer.succeed(None)
        d = defer.Deferred()
        self.idle.append(d)
        return d

    def getAttrs(self):
        return self.owner.run(os.fstat, self.fd).addCallback(_attrs)

    def setAttrs(self, attrs):
        def change():
            # A handle opened for reading passed RETR's <Limit> only.
            self.owner.check_attrs(attrs, self.real, self.shown)
            _apply_attrs(self.owner.jail, self.real, attrs, self.shown, self.fd)
        return self.owner.run(change).addErrback(_as_oserror)

    def close(self, aborted=False):
        if self.closed:
            return defer.succeed(None)
        self.closed = True
        self.owner.handles.discard(self)
        # The descriptor stays until the writes queued before CLOSE are done: a client
        # may close without waiting for their answers (lftp does).
        fd = self.fd
        protocol = self.owner.rec.protocol      # the subsystem's, while it is ending

        def finish():
            try:
                return os.fstat(fd).st_size
            finally:
                os.close(fd)

        def close_after_writes(_=None):
            if self.writing or self.queued:
                # An fsync@openssh.com took the turn first.
                return self._written().addCallback(close_after_writes)
            self.fd = None
            return self.owner.run(finish)

        def record(size):
            now = time.time()
            r = self.owner.rec
            fields = r.path_fields(self.vpath, self.real)
            fields.pop("config_path")
            if r.current_transfer is self:
                r.current_transfer = None
            if aborted:
                # The session ended with the handle open: ProFTPD 1.3.8 logs the
                # transfer after EXIT, failed, "<path>: Connection reset by peer", and
                # not modified (fxp_handle_abort sets no file-modified note; measured).
                r.command(self.verb, self.shown, 451, "%s: %s" % (
                    self.shown, os.strerror(errno.ECONNRESET)), start=self.start,
                    bytes_sent=self.count, transfer_millis=int((now - self.start) * 1000),
                    transfer_status="failed", file_modified=False,
                    config_path=self.real, protocol=protocol, **fields)
                return
            r.command(self.verb, self.shown, 226, rec.TRANSFER_COMPLETE, start=self.start,
                      bytes_sent=self.count, file_size=size,
                      transfer_millis=int((now - self.start) * 1000),
                      transfer_status="success",
                      file_modified=self.existed and self.verb != "RETR", config_path=self.real, **fields)
        return self._written().addCallback(close_after_writes).addCallback(record)


class _Directory:
    """An open directory listing; its MLSD record is written when it is closed."""

    def __init__(self, owner, shown, vpath, real, entries, start):
        self.owner = owner
        self.shown = shown
        self.vpath = vpath
        self.real = real
        self.entries = entries
        self.start = start
        self.sent = 0
        self.count = 0

    def __iter__(self):
        return self

    @property
    def exhausted(self) -> bool:
        """Every entry was sent: the next READDIR is answered end of file."""
        return not self.entries

    def __next__(self):
        if not self.entries:
            raise StopIteration
        name, longname, attrs = entry = self.entries.pop(0)
        self.count += 1
        self.sent += 8 + len(name) + len(longname) + _ATTR_BYTES
        return entry

    def close(self):
        now = time.time()
        r = self.owner.rec
        real = self.owner.jail.chroot_join(self.vpath) if self.vpath == "/" else self.real
        if self.vpath == "/" and not real.endswith("/"):
            real += "/"
        fields = r.path_fields(self.vpath, real, directory=True)
        fields.pop("transfer_path")
        if self.vpath == "/":
            fields["dir_name"] = "/"
        # mod_sftp logs the directory as it resolved it, without a trailing "/".
        shown = self.shown.rstrip("/") or self.shown
        # %b: the NAME answers' payloads, each with its type, id and count (9 bytes);
        # twisted.conch answers a READDIR with up to 250 names.
        answers = -(-self.count // 250)
        r.command("MLSD", shown, start=self.start, bytes_sent=self.sent + 9 * answers,
                  transfer_millis=int((now - self.start) * 1000), transfer_status="success",
                  **fields)

# -*- test-case-name: tests.test_filesystem -*-
"""The jailed file system one FTP session sees.

This module owns the mapping between the paths a client sends (virtual paths, absolute
or relative to the virtual working directory) and real paths under the session's root
(ProFTPD's ``DefaultRoot`` jail).  Every path that reaches the disk goes through
:meth:`JailedFS.resolve`, which refuses anything whose real path leaves the root, be it
through ``..`` (clamped, as a chroot would) or a symbolic link.  Errors are raised as
:class:`FSError` carrying ProFTPD's wording (``"<path>: No such file or directory"``).

Paths are ``str`` decoded with ``surrogateescape``: bytes that are not UTF-8 survive the
round trip to the disk unchanged (the file system encoding here is UTF-8).

:class:`JailedFS` blocks: it calls the operating system directly.  The protocol holds a
:class:`SessionFS`, the one interface to the disk: its path arithmetic (``virtual``,
``real_of``, ``chroot_join``, ``cwd``) needs no system call and answers at once; every
method that may touch the disk returns a Deferred and runs the JailedFS method in the
process's :class:`~ftpredis.ftp.diskpool.DiskPool`.  Code that needs several disk calls
in one go (a listing, STOR's open) hands a function to :meth:`SessionFS.run` and uses
``SessionFS.jail`` inside it, in the worker thread only.
"""

from __future__ import annotations

import errno
import fnmatch
import grp
import os
import posixpath
import pwd
import re
import stat as statmod
import time
from typing import Callable, List, Mapping, Optional, Tuple

from twisted.internet import defer

from ftpredis.ftp import nowait
from ftpredis.ftp.diskpool import DiskPool


class FSError(Exception):
    """A refused or failed file system operation, with the text the client sees."""

    def __init__(self, err: int, display: str, message: Optional[str] = None):
        self.errno = err
        self.display = display
        self.message = message if message is not None else os.strerror(err)
        Exception.__init__(self, "%s: %s" % (display, self.message))

    @property
    def text(self) -> str:
        return "%s: %s" % (self.display, self.message)


def safe_link(target: str, vdir: str) -> bool:
    """mod_ls's is_safe_symlink(): False for a link to ".", "..", "./", "../", or to a
    path that starts with "." and ends with "/" or "." and, joined to the directory
    ``vdir`` (virtual) and cleaned, is a prefix of it (the directory or one above)."""
    if target in (".", "..", "./", "../"):
        return False
    if len(target) >= 2 and target[0] == "." and target[-1] in "/.":
        return not vdir.startswith(posixpath.normpath(posixpath.join(vdir, target)))
    return True


def _within(real: str, root: str) -> bool:
    if root == "/":
        return True
    return real == root or real.startswith(root + "/")


class JailedFS:
    """One session's view of the disk: ``root`` is the real directory shown as ``/``.

    ``hide``, when set, maps a real directory to the HideFiles regex in force there:
    matching entries are left out of listings and answered as not existing.
    """

    hide: Optional[Callable[[str], Optional[str]]] = None

    #: ShowSymlinks (on by default): CWD through a link goes where it leads; off, the
    #: session stays on the path as named (and listings show what links lead to:
    #: ftpredis.ftp.listings).
    show_symlinks = True
    #: With ShowSymlinks off, where the session really is when a link took it there (a
    #: virtual path; PWD's %f names it, as ProFTPD's getcwd() does); else None.
    physical_cwd: Optional[str] = None

    #: An O_PATH descriptor of the root when it is on a local file system (see
    #: :meth:`open_read_now`); like ProFTPD's chroot, it stays on the directory that
    #: was the root at login.  Shared with the other sessions jailed in that directory
    #: (:func:`~ftpredis.ftp.nowait.release_root`): it is only ever openat2's dirfd.
    root_fd: Optional[int] = None

    def __init__(self, root: str, cwd: str = "/", umask: int = 0o022,
                 user_names: Optional[Mapping[int, str]] = None,
                 group_names: Optional[Mapping[int, str]] = None,
                 use_system_names: bool = True, root_is_real: bool = False):
        # root_is_real: the caller resolved it already (an Avatar's root is a real path).
        self.root = root if root_is_real else os.path.realpath(root)
        self.umask = umask
        self.cwd = "/"
        # Read only: shared with the other sessions of the server, not copied per login.
        self._users = user_names if user_names is not None else {}
        self._groups = group_names if group_names is not None else {}
        self._system_names = use_system_names
        if cwd in ("/", ""):
            return      # the top either way (a failed chdir leaves it there): no stat needed
        try:
            self.chdir(cwd, logical=True)
        except FSError:
            self.cwd = "/"

    def open_root(self, fd: Optional[int] = None) -> None:
        """Blocking: take the root's descriptor for :meth:`open_read_now`, if its file
        system is local and the kernel can open without waiting.  ``fd``: such a
        descriptor of the root from :func:`~ftpredis.ftp.nowait.cached_root`, taken by
        the caller already (the jail releases it now)."""
        if self.root_fd is None:
            self.root_fd = fd if fd is not None else nowait.local_root(self.root)
        elif fd is not None:
            nowait.release_root(fd)

    def close(self) -> None:
        fd, self.root_fd = self.root_fd, None
        if fd is not None:
            nowait.release_root(fd)

    # -- paths ------------------------------------------------------------------------
    #: The home as a virtual path, when a client path starting with ``~/`` starts there
    #: (FTP sessions, as ProFTPD 1.3.8 reads them: ``/`` under ``DefaultRoot ~``); None
    #: when ``~`` is an ordinary character.
    home: Optional[str] = None

    def virtual(self, path: Optional[str]) -> str:
        """The normalised absolute virtual path (``..`` stops at ``/``)."""
        if not path:
            return self.cwd
        if path[:2] == "~/" and self.home is not None:
            path = self.home + path[1:]
        elif not path.startswith("/"):
            path = posixpath.join(self.cwd, path)
        parts: List[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(part)
        return "/" + "/".join(parts)

    def real_of(self, vpath: str) -> str:
        """The real path that a virtual absolute path names (no symlink check)."""
        if vpath == "/":
            return self.root
        if self.root == "/":
            return vpath
        return self.root + vpath

    def chroot_join(self, vpath: str) -> str:
        """ProFTPD's "chroot path + virtual path" form (``<root>/`` for the root)."""
        if self.root == "/":
            return vpath
        return self.root + vpath

    def resolve(self, path: Optional[str], display: Optional[str] = None,
                follow: bool = True) -> Tuple[str, str]:
        """``(virtual, real)`` for a client path: ``real`` names what ProFTPD's chroot
        names, the last component followed when it is a symbolic link unless ``follow``
        is false (for the calls that act on a link itself: lstat, unlink, rmdir, rename,
        readlink).  FSError(ENOENT) when it names nothing in the jail.

        The usual ``real`` is ``root + virtual``.  Only a path through a symbolic link
        that the host resolves elsewhere than the chroot would (an absolute link, one
        out of the jail, ``..`` above the top) gets the path the chroot resolves it to
        (:meth:`_chrooted`): a link out of the jail names what is under the jail's top,
        usually nothing (1.3.8: ``No such file or directory``), never the host's file.
        """
        display = path if display is None else display
        vpath = self.virtual(path)
        real = self.real_of(vpath)
        if not self._inside(vpath, real, last=follow, same=True):
            real = self._chrooted(vpath, follow, display or vpath)
        if self._hides(vpath, real):
            raise FSError(errno.ENOENT, display or vpath)
        return vpath, real

    def _chrooted(self, vpath: str, follow: bool, display: str) -> str:
        """The real path ``vpath`` names as in ProFTPD's chroot: its directories (and,
        with ``follow``, a link at the end) resolved by the kernel inside the jail
        (:meth:`follow_inside`), the rest as named.  No link is left on it, so the host
        resolves it the same way.  FSError(ENOENT) when a directory on the way, or the
        link followed at the end, names nothing in the jail."""
        if vpath == "/":
            return self.root
        parent, name = posixpath.split(vpath)
        try:
            _, where = self.follow_inside(self.real_of(parent))
        except OSError:
            raise FSError(errno.ENOENT, display) from None
        real = (where if where != "/" else "") + "/" + name
        if follow:
            try:
                is_link = statmod.S_ISLNK(os.lstat(real).st_mode)
            except OSError:
                return real         # nothing there yet: a name to make
            if is_link:
                try:
                    _, real = self.follow_inside(real)
                except OSError:
                    e = FSError(errno.ENOENT, display)
                    # RETR and STOR answer "Not a regular file" for it (ProFTPD 1.3.8
                    # stats the link, measured).
                    e.dangling_link = True
                    raise e from None
        return real

    #: Opening for RETR: no symlink followed at the last component (checked apart), no
    #: wait on a FIFO or device (refused as not a regular file after the fstat).
    _READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

    def open_read(self, path: Optional[str], display: Optional[str] = None):
        """``(virtual, real, fd, stat)`` of a client path opened for reading, with the
        jail check of :meth:`resolve`: the directories are checked before the open, the
        last component by the open itself (O_NOFOLLOW), so a plain file costs an open
        and an fstat instead of an lstat, a stat, an open and an fstat."""
        display = path if display is None else display
        vpath = self.virtual(path)
        real = self.real_of(vpath)
        if not self._inside(vpath, real, last=False, same=True):
            real = self._chrooted(vpath, False, display or vpath)
        if self._hides(vpath, real):
            raise FSError(errno.ENOENT, display or vpath)
        try:
            fd = os.open(real, self._READ_FLAGS)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise FSError(e.errno or errno.EIO, display) from None
            # The last component is a symbolic link: followed as the chroot would.
            if not self._inside(vpath, real, same=True):
                real = self._chrooted(vpath, True, display or vpath)
            fd = self.call(display, os.open, real, self._READ_FLAGS & ~os.O_NOFOLLOW)
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise FSError(e.errno or errno.EIO, display) from None
        # What ProFTPD's RETR logs (%f, %F) is the file's own path, links resolved.
        try:
            opened = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            opened = real
        if opened != self.real_of(vpath) and _within(opened, self.root):
            real = opened
            vpath = self.virtual_dir(opened)
        return vpath, real, fd, st

    def open_read_now(self, path: Optional[str]):
        """:meth:`open_read`'s answer when the kernel can give it without waiting (a
        local file system, the lookup in its cache, no symbolic link, no mount point
        crossed), else None: the caller then runs :meth:`open_read` in the disk pool,
        which answers the same for any path this one takes, and every other path."""
        root_fd = self.root_fd
        if root_fd is None:
            return None
        vpath = self.virtual(path)
        real = self.real_of(vpath)
        if self._hides(vpath, real):
            return None
        fd = nowait.open_beneath(root_fd, vpath[1:] or ".", self._READ_FLAGS)
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            return None
        return vpath, real, fd, st

    def _inside(self, vpath: str, real: str, last: bool = True, same: bool = False) -> bool:
        """``_within(realpath(real), root)``, cheaply when no link is involved; with
        ``same``, true only when the host resolves ``real`` as the chroot would
        (:meth:`_chrooted`): an absolute link to the home's host path stays inside the
        host's jail, but names something else (usually nothing) in a chroot.

        ``real`` is ``root + vpath``, ``vpath`` normalised (no ``.``, ``..``, ``//``) and
        ``root`` already a real path: unless the root or a component below it is a
        symbolic link, the real path is ``real`` itself, which is inside.  That costs one
        ``lstat`` per component below the root instead of Python's ``realpath`` (an
        ``lstat`` and string work for every component from ``/``, ~5 per RETR).
        """
        root = self.root
        if root == "/":
            return True
        path = root
        parts = vpath[1:].split("/") if vpath != "/" else ()
        i = -1
        while True:
            try:
                if statmod.S_ISLNK(os.lstat(path).st_mode):
                    if not same:
                        return _within(os.path.realpath(real), root)
                    return self._same_in_chroot(vpath, real, last)
            except OSError:
                pass      # missing or unreadable: realpath keeps it as written too
            i += 1
            if i >= len(parts) - (not last):
                return True
            path = path + "/" + parts[i]

    def resolved_virtual(self, vpath: str) -> str:
        """``vpath`` as ProFTPD's ``dir_realpath`` gives it in its chroot (the paths its
        CWD, its transfers' ``%f``/``%F`` and the ``%F`` of MKD, RMD, DELE and RNTO
        show; measured): the links on the way followed, and one at the end when what it
        names is there; ``vpath`` itself when nothing on the way is a link, or when it
        cannot be resolved."""
        try:
            real = self._chrooted(vpath, True, vpath)
        except FSError:
            return vpath
        if real == self.real_of(vpath):
            return vpath
        return self.virtual_dir(real)

    def _same_in_chroot(self, vpath: str, real: str, last: bool) -> bool:
        if last:
            host = os.path.realpath(real)
        else:
            head, name = posixpath.split(real)
            host = posixpath.join(os.path.realpath(head), name)
        if not _within(host, self.root):
            return False
        try:
            return self._chrooted(vpath, last, vpath) == host
        except FSError as e:
            if not getattr(e, "dangling_link", False):
                return False
        # A link at the end that names nothing: the same in both when it is relative
        # (realpath kept its target inside) and the directories above agree.
        try:
            entry = self._chrooted(vpath, False, vpath)
            return (not os.readlink(entry).startswith("/")
                    and posixpath.dirname(entry) == os.path.realpath(posixpath.dirname(real)))
        except (FSError, OSError):
            return False

    def stat_inside(self, real: str) -> os.stat_result:
        """``stat()`` of what ``real`` (a path in the jail, a symbolic link maybe) names,
        resolved as in ProFTPD's chroot (LIST -L, -F, NLST): an absolute link starts at
        the jail's top, ``..`` stops there, so nothing outside ever shows (its type,
        owner or size).  FileNotFoundError when it names nothing there."""
        return self.follow_inside(real)[0]

    def follow_inside(self, real: str) -> Tuple[os.stat_result, str]:
        """:meth:`stat_inside`'s stat and the real path it names (in the jail).  The
        kernel resolves it as a chroot would (openat2's RESOLVE_IN_ROOT); where it
        cannot, a link whose real path leaves the jail names nothing."""
        if self.root == "/":
            return os.stat(real), os.path.realpath(real)
        if nowait.SUPPORTED:
            rel = real[len(self.root):].lstrip("/") or "."
            root_fd = self.root_fd
            own = root_fd is None
            if own:
                root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fd = nowait.open_beneath(root_fd, rel, os.O_PATH | os.O_CLOEXEC,
                                         nowait.RESOLVE_IN_ROOT)
            finally:
                if own:
                    os.close(root_fd)
            if fd is None:
                raise FileNotFoundError(errno.ENOENT, "names nothing in the jail", real)
            try:
                st = os.fstat(fd)
                target = os.readlink("/proc/self/fd/%d" % fd)
            finally:
                os.close(fd)
            if not _within(target, self.root):      # a bind mount's view, say
                raise FileNotFoundError(errno.ENOENT, "leads out of the jail", real)
            return st, target
        target = os.path.realpath(real)
        if not _within(target, self.root):
            raise FileNotFoundError(errno.ENOENT, "leads out of the jail", real)
        return os.stat(target), target

    def virtual_dir(self, real: str) -> str:
        """The virtual path of ``real``, a path in the jail with no link on the way (a
        directory, or what :meth:`follow_inside` resolved)."""
        if real == self.root or self.root == "/":
            return real if self.root == "/" else "/"
        return real[len(self.root):] or "/"

    def _hides(self, vpath: str, real: str) -> bool:
        """HideFiles hides this path (the root itself never)."""
        return (self.hide is not None and vpath != "/"
                and self._hidden(os.path.dirname(real), posixpath.basename(vpath)))

    def _hidden(self, real_dir: str, name: str) -> bool:
        pattern = self.hide(real_dir) if self.hide is not None else None
        return pattern is not None and re.search(pattern, name) is not None

    @staticmethod
    def has_glob(path: Optional[str]) -> bool:
        return bool(path) and any(c in path for c in "*?[")

    def glob(self, path: str, keep_hidden: bool = False) -> List[Tuple[str, Optional[str]]]:
        """``(shown name, real path)`` of the entries a pattern's last component matches
        (ProFTPD's NLST/LIST globbing; wildcards in directory components too);
        ``keep_hidden``: the entries HideFiles hides stay, with the real path None (mod_ls's
        LIST counts glob(3)'s matches against ``maxfiles`` before it looks whether they are
        hidden)."""
        head, sep, pattern = path.rpartition("/")
        if self.has_glob(head):
            return self._glob_dirs(path)
        where = head if head else ("/" if sep else ".")
        _, real_dir = self.resolve(where, where)
        out: List[Tuple[str, Optional[str]]] = []
        show_dots = pattern.startswith(".")
        try:
            entries = self.list_entries(real_dir, show_hidden=show_dots,
                                        keep_hidden=keep_hidden)
        except OSError as e:
            # a directory part that is missing or no directory: the pattern matches nothing
            raise FSError(e.errno or errno.EIO, path) from None
        for name, st in entries:
            if fnmatch.fnmatchcase(name, pattern):
                shown = (head + "/" + name) if sep else name
                hidden = st is None and keep_hidden and self._hidden(real_dir, name)
                out.append((shown, None if hidden else os.path.join(real_dir, name)))
        if not out:
            raise FSError(errno.ENOENT, path)
        return out

    def _glob_dirs(self, path: str) -> List[Tuple[str, str]]:
        """:meth:`glob` with wildcards in directory components too, as glob(3) expands
        them for mod_ls (``*/*.txt``); every match is checked against the jail."""
        parts = path.split("/")
        found = [("/" if path.startswith("/") else "", None)]
        for i, part in enumerate(parts):
            if part == "" and i < len(parts) - 1:
                continue
            nxt = []
            for shown, _ in found:
                where = shown or "."
                if self.has_glob(part):
                    try:
                        _, real_dir = self.resolve(where, where)
                        entries = self.list_entries(real_dir, part.startswith("."))
                    except (FSError, OSError):
                        continue
                    names = [n for n, _ in entries if fnmatch.fnmatchcase(n, part)]
                else:
                    names = [part]
                for n in names:
                    cand = shown + ("/" if shown and not shown.endswith("/") else "") + n
                    try:
                        _, real = self.resolve(cand, cand)
                    except FSError:
                        continue
                    if os.path.lexists(real) and (i == len(parts) - 1 or os.path.isdir(real)):
                        nxt.append((cand, real))
            found = nxt
        if not found:
            raise FSError(errno.ENOENT, path)
        return found

    # -- operations ---------------------------------------------------------------------
    def call(self, display: str, fn: Callable, *args):
        try:
            return fn(*args)
        except OSError as e:
            raise FSError(e.errno or errno.EIO, display) from None

    def stat(self, path: Optional[str], display: Optional[str] = None):
        display = path if display is None else display
        _, real = self.resolve(path, display)
        return self.call(display, os.stat, real)

    def lstat(self, path: Optional[str], display: Optional[str] = None):
        """``(virtual, real, lstat)`` of a client path."""
        display = path if display is None else display
        vpath, real = self.resolve(path, display, follow=False)
        return vpath, real, self.call(display, os.lstat, real)

    def utime(self, path: str, mtime: float, atime: Optional[float] = None) -> None:
        """Set a file's modification time (and its access time, else kept as it is)."""
        _, real = self.resolve(path)
        if atime is None:
            atime = self.call(path, os.stat, real).st_atime
        self.call(path, os.utime, real, (atime, mtime))

    def chdir(self, path: Optional[str], display: Optional[str] = None,
              logical: bool = False) -> str:
        """CWD: the new current directory; ``logical``: kept as named whatever
        ShowSymlinks says (the login's starting directory)."""
        display = path if display is None else display
        vpath, real = self.resolve(path, display)
        st = self.call(display, os.stat, real)
        if not statmod.S_ISDIR(st.st_mode):
            if not self.show_symlinks and os.path.islink(self.real_of(vpath)):
                # ShowSymlinks off: mod_core looks for the path as named (measured)
                raise FSError(errno.ENOENT, display)
            raise FSError(errno.ENOTDIR, display)
        if not os.access(real, os.X_OK):
            raise FSError(errno.EACCES, display)
        physical = None
        if not logical:
            resolved = self.resolved_virtual(vpath)
            if self.show_symlinks:
                # ShowSymlinks on (ProFTPD's default): the session is now where a link led.
                vpath = resolved
            elif resolved != vpath:
                physical = resolved
        self.cwd, self.physical_cwd = vpath, physical
        return vpath

    def mkdir(self, path: str, umask_for=None) -> Tuple[str, str]:
        vpath, real = self.resolve(path, follow=False)
        umask = self.umask if umask_for is None else umask_for(real)
        self.call(path, os.mkdir, real, 0o777 & ~umask)
        return vpath, real

    def rmdir(self, path: str) -> Tuple[str, str]:
        vpath, real = self.resolve(path, follow=False)
        if real == self.root:
            raise FSError(errno.EBUSY, path)
        st = self.call(path, os.lstat, real)
        if not statmod.S_ISDIR(st.st_mode):
            raise FSError(errno.ENOTDIR, path)
        self.call(path, os.rmdir, real)
        return vpath, real

    def unlink(self, path: str) -> int:
        """Remove a file; returns its size (ProFTPD logs it as %b).

        A symbolic link is removed itself, never what it names.  One that the chroot
        resolves elsewhere than the host (out of the jail, absolute) counts size 0, as
        ProFTPD 1.3.8 logs it (measured); any other, its own lstat size, as before."""
        vpath, real = self.resolve(path, follow=False)
        st = self.call(path, os.lstat, real)
        if statmod.S_ISDIR(st.st_mode):
            e = FSError(errno.EISDIR, path)
            e.size = st.st_size     # ProFTPD 1.3.8 logs it as %b all the same (measured)
            raise e
        size = st.st_size
        if statmod.S_ISLNK(st.st_mode) and not self._inside(vpath, real, same=True):
            size = 0
        self.call(path, os.unlink, real)
        return size

    def rename(self, src_real: str, dst: str) -> Tuple[str, str]:
        vpath, real = self.resolve(dst, follow=False)
        if real == self.root:
            raise FSError(errno.EBUSY, dst)
        self.call(dst, os.rename, src_real, real)
        return vpath, real

    def chmod(self, path: str, mode: int) -> Tuple[str, str]:
        # Files belong to the server's own account (one process serves every user, often
        # started as root): a setuid/setgid bit set by an FTP user would run as that
        # account.  ProFTPD's sessions run as the user, where the bits are harmless.
        vpath, real = self.resolve(path)
        self.call(path, os.chmod, real, mode & ~(statmod.S_ISUID | statmod.S_ISGID))
        return vpath, real

    # -- listings (blocking: the protocol runs them in a thread) ------------------------
    def _name(self, names: Mapping[int, str], system_lookup, ident: int) -> str:
        """A listing's owner or group: virtual names first, then the system's, else the id."""
        name = names.get(ident)
        if name is None and self._system_names:
            try:
                name = system_lookup(ident)[0]
            except KeyError:
                pass
        return name if name is not None else str(ident)

    def owner_name(self, uid: int) -> str:
        return self._name(self._users, pwd.getpwuid, uid)

    def group_name(self, gid: int) -> str:
        return self._name(self._groups, grp.getgrgid, gid)

    def list_entries(self, real: str, show_hidden: bool = False,
                     keep_hidden: bool = False,
                     unsorted: bool = False) -> List[Tuple[str, Optional[os.stat_result]]]:
        """``(name, lstat)`` for a directory's entries, or ``[(real basename, stat)]`` for a
        file; ``keep_hidden``: the entries HideFiles hides stay, as ``(name, None)`` (mod_ls's
        LIST counts them against ``maxfiles`` before it looks whether they are hidden);
        ``unsorted``: in readdir(3) order (mod_ls's -U), else by name."""
        st = os.stat(real)
        if not statmod.S_ISDIR(st.st_mode):
            return [(os.path.basename(real), st)]
        out = []
        pattern = self.hide(real) if self.hide is not None else None
        with os.scandir(real) as it:
            for entry in it:
                if entry.name.startswith(".") and not show_hidden:
                    continue
                if pattern is not None and re.search(pattern, entry.name):
                    if keep_hidden:
                        out.append((entry.name, None))
                    continue
                try:
                    est = entry.stat(follow_symlinks=False)
                except OSError:
                    est = None
                out.append((entry.name, est))
        if not unsorted:
            out.sort(key=lambda e: e[0])
        return out

    def format_long(self, name: str, st: Optional[os.stat_result], now: Optional[float] = None,
                    link_target: Optional[str] = None, numeric: bool = False,
                    size: Optional[str] = None, when: Optional[float] = None,
                    sftp: bool = False) -> str:
        """One ``ls -l`` line as ProFTPD prints it; ``numeric`` (-n): ids, not names;
        ``size``: the size column as written (-h), ``when``: the time shown (-c, -u)
        instead of the modification time; ``sftp``: as mod_sftp writes an SFTP long name,
        whose mode string ends with a space (contrib/mod_sftp/fxp.c, fxp_strmode): one
        character more than a LIST line."""
        if st is None:
            return name
        now = time.time() if now is None else now
        mode = statmod.filemode(st.st_mode)
        when = st.st_mtime if when is None else when
        mtime = time.localtime(when)
        # ProFTPD 1.3.8: "Jan  1  2020" (day space-padded), size right-aligned in 8.
        month = time.strftime("%b", mtime)
        if abs(now - when) > 180 * 86400:
            date = "%s %2d  %d" % (month, mtime.tm_mday, mtime.tm_year)
        else:
            date = "%s %2d %s" % (month, mtime.tm_mday, time.strftime("%H:%M", mtime))
        owner, group = ((st.st_uid, st.st_gid) if numeric
                        else (self.owner_name(st.st_uid), self.group_name(st.st_gid)))
        line = "%s %3d %-8s %-8s %8s %s %s" % (
            mode + " " if sftp else mode, st.st_nlink, owner, group,
            st.st_size if size is None else size, date, name)
        if link_target is not None:
            line += " -> " + link_target
        return line

    def with_dots(self, real: str, entries: list) -> list:
        """``entries`` of the directory ``real`` with ``.`` and ``..`` among them, in name
        order, as mod_ls lists them for -a; ``..`` of the chroot is the chroot."""
        if not os.path.isdir(real):
            return entries
        parent = os.path.dirname(real) if real != self.root else real
        return sorted(entries + [(".", os.lstat(real)), ("..", os.lstat(parent))],
                      key=lambda e: e[0])

    def listing(self, real: str, long: bool, show_hidden: bool = False,
                prefix: str = "", dots: bool = False) -> List[str]:
        """Lines of a LIST (``long``) or NLST answer; raises OSError.  ``dots`` (``-a``)
        adds ``.`` and ``..`` as mod_ls does; ``..`` of the chroot is the chroot."""
        entries = self.list_entries(real, show_hidden)
        if dots:
            entries = self.with_dots(real, entries)
        lines = []
        now = time.time()
        vdir = None
        for name, st in entries:
            if st is not None and statmod.S_ISLNK(st.st_mode):
                full = os.path.join(real, name)
                if not long:
                    # nlstdir() leaves out a name its stat() cannot follow (dangling,
                    # or out of the chroot)
                    try:
                        self.stat_inside(full)
                    except OSError:
                        continue
                    lines.append(prefix + name)
                    continue
                try:
                    target = os.readlink(full)
                except OSError:
                    target = None
                if vdir is None:
                    vdir = self.virtual_dir(real)
                if target is not None and not safe_link(target, vdir):
                    continue        # listfile() drops a link to "." or ".." (Bug#3719)
                lines.append(self.format_long(name, st, now, target))
            elif long:
                lines.append(self.format_long(name, st, now))
            else:
                lines.append(prefix + name)
        return lines


class SessionFS:
    """One session's file system as the protocol sees it: :class:`JailedFS` off the reactor.

    The disk methods return Deferreds firing in the reactor thread with what the
    JailedFS method of the same name returns, or failing with its FSError.  A session
    runs one command at a time, so its jobs never overlap: ``cwd`` seen by a job is the
    one every earlier command left.
    """

    def __init__(self, jail: JailedFS, pool: DiskPool):
        self.jail = jail
        self.pool = pool

    def close(self) -> None:
        """At the session's end (no job of its own is left)."""
        self.jail.close()

    def run(self, fn: Callable, *args) -> defer.Deferred:
        """``fn(*args)`` in the pool: several disk calls as one job."""
        return self.pool.run(fn, *args)

    # -- no system call ---------------------------------------------------------------------
    @property
    def root(self) -> str:
        return self.jail.root

    @property
    def cwd(self) -> str:
        return self.jail.cwd

    @property
    def hide(self):
        return self.jail.hide

    @hide.setter
    def hide(self, value) -> None:
        self.jail.hide = value

    def virtual(self, path: Optional[str]) -> str:
        return self.jail.virtual(path)

    def real_of(self, vpath: str) -> str:
        return self.jail.real_of(vpath)

    def chroot_join(self, vpath: str) -> str:
        return self.jail.chroot_join(vpath)

    has_glob = staticmethod(JailedFS.has_glob)

    # -- in the pool -------------------------------------------------------------------------
    def resolve(self, path, display=None) -> defer.Deferred:
        return self.pool.run(self.jail.resolve, path, display)

    def stat(self, path, display=None) -> defer.Deferred:
        return self.pool.run(self.jail.stat, path, display)

    def lstat(self, path, display=None) -> defer.Deferred:
        return self.pool.run(self.jail.lstat, path, display)

    def utime(self, path, mtime, atime=None) -> defer.Deferred:
        return self.pool.run(self.jail.utime, path, mtime, atime)

    def chdir(self, path, display=None) -> defer.Deferred:
        return self.pool.run(self.jail.chdir, path, display)

    def mkdir(self, path, umask_for=None) -> defer.Deferred:
        return self.pool.run(self.jail.mkdir, path, umask_for)

    def rmdir(self, path) -> defer.Deferred:
        return self.pool.run(self.jail.rmdir, path)

    def unlink(self, path) -> defer.Deferred:
        return self.pool.run(self.jail.unlink, path)

    def rename(self, src_real, dst) -> defer.Deferred:
        return self.pool.run(self.jail.rename, src_real, dst)

    def chmod(self, path, mode) -> defer.Deferred:
        return self.pool.run(self.jail.chmod, path, mode)

    def open_read_now(self, path):
        """No system call that may wait: :meth:`JailedFS.open_read_now`."""
        return self.jail.open_read_now(path)

    def open_read(self, path, display=None) -> defer.Deferred:
        return self.pool.run(self.jail.open_read, path, display)

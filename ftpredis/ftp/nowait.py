# -*- test-case-name: tests.test_nowait -*-
"""Opens the kernel answers without waiting, for the one disk call hot enough to skip the pool.

This module owns :func:`open_beneath`: Linux's ``openat2`` (5.12 and later) with
``RESOLVE_CACHED``, which fails with EAGAIN instead of waiting whenever the path lookup
cannot be done from the kernel's dentry cache, together with ``RESOLVE_NO_XDEV`` (no
mount point crossed: a network mount below the jail always takes the slow way),
``RESOLVE_NO_SYMLINKS`` (a symbolic link anywhere takes the slow way, where the jail
checks where it leads) and ``RESOLVE_BENEATH`` (nothing above the directory).  Opened
this way on a local file system (:func:`is_local`), a file's open and fstat cannot wait
on a disk or a network.  Anything else returns None and the caller goes to the disk
pool, so the answer is always the same, only its cost differs.

:func:`pread_now` and :func:`pwrite_now` are the same promise for the reads and writes
of SFTP's 32 KiB requests (``RWF_NOWAIT``: the page cache's answer or none).

A thread hop costs a RETR of a small file more than the rest of its work put together
(the reactor and the worker each wake the other's halted CPU); the hop is kept for
everything this cannot promise.

It also owns the jails' root descriptors (:func:`cached_root`, :func:`local_root`,
:func:`release_root`): one O_PATH descriptor per directory, shared by every session
jailed in it, so that an idle logged-in session holds its control socket only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import threading
from typing import Optional, Tuple

#: ``openat2``'s number, the same on every Linux architecture (the unified syscall table).
_SYS_OPENAT2 = 437

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
RESOLVE_CACHED = 0x20
_RESOLVE = RESOLVE_CACHED | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH
#: A login's paths: any path, links and mounts allowed, as long as it is all cached.
_RESOLVE_LOOKUP = RESOLVE_CACHED

#: File systems whose metadata lives on this machine.  A network or FUSE file system
#: (nfs, cifs, ceph, fuse.sshfs, 9p, virtiofs...) is never on the fast path.
LOCAL_TYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs",
                         "overlay", "f2fs", "zfs", "jfs", "reiserfs", "bcachefs"})


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def _libc(name: str, restype, argtypes):
    """libc's ``name`` with its C signature, or None where this libc has none."""
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_syscall = _libc("syscall", ctypes.c_long, [ctypes.c_long, ctypes.c_int, ctypes.c_char_p,
                                                 ctypes.c_void_p, ctypes.c_size_t])
_hows: dict = {}


def open_beneath(dirfd: int, relpath: str, flags: int, resolve: int = _RESOLVE) -> Optional[int]:
    """An fd for ``relpath`` under ``dirfd`` opened with ``flags``, or None when the kernel
    could not do it at once from its caches (or refused it for any other reason)."""
    how = _hows.get((flags, resolve))
    if how is None:
        h = _OpenHow(flags, 0, resolve)
        how = _hows[flags, resolve] = (h, ctypes.byref(h), ctypes.sizeof(h))
    fd = _syscall(_SYS_OPENAT2, dirfd, os.fsencode(relpath), how[1], how[2])
    return fd if fd >= 0 else None


_statx = _libc("statx", ctypes.c_int, [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.c_uint, ctypes.c_void_p])
_AT_EMPTY_PATH = 0x1000
_AT_STATX_DONT_SYNC = 0x4000        # what the kernel has cached: never asks a server
_STATX_TYPE = 0x1
_STATX_INO = 0x100
_STATX_MNT_ID = 0x1000
_STATX_MASK_INO = struct.Struct("=I28xQ")        # stx_mask, stx_ino at 32
_STATX_DEV_MNT = struct.Struct("=IIQ")          # stx_dev_major, _minor, stx_mnt_id
_STATX_DEV_AT = 136
_AT_FDCWD = AT_FDCWD = -100       # relative paths from the working directory (any path)


def cached_local(path: str) -> bool:
    """``path`` resolves from the kernel's cache (no disk read, no server asked), to a
    local file system seen before: the blocking calls of a login on it (stat, lstat,
    realpath, access) cannot wait.  False whenever that is not certain."""
    if not SUPPORTED or _statx is None:
        return False
    fd = open_beneath(_AT_FDCWD, path, os.O_PATH | os.O_CLOEXEC, _RESOLVE_LOOKUP)
    if fd is None:
        return False
    try:
        return _local_key(fd) is not None
    finally:
        os.close(fd)


_StatxBuf = ctypes.c_char * 256     # struct statx, with room to spare


def _local_key(fd: int, learn: bool = False) -> Optional[Tuple[int, int, int]]:
    """``(device, inode, mount id)`` of the open ``fd`` when it is on a local file system
    seen before (statx from the cache), else None; ``learn`` (blocking): or a device
    not seen before.  The mount id tells a bind mount of a directory from the directory
    itself: the mounts below them may differ."""
    buf = _StatxBuf()
    if _statx(fd, b"", _AT_EMPTY_PATH | _AT_STATX_DONT_SYNC,
              _STATX_TYPE | _STATX_INO | _STATX_MNT_ID, buf) != 0:
        return None
    major, minor, mnt = _STATX_DEV_MNT.unpack_from(buf, _STATX_DEV_AT)
    dev = os.makedev(major, minor)
    if (_dev_type(dev) if learn else _types.get(dev)) not in LOCAL_TYPES:
        return None
    mask, ino = _STATX_MASK_INO.unpack_from(buf)
    return dev, ino, (mnt if mask & _STATX_MNT_ID else -1)


_DIR_FLAGS = getattr(os, "O_PATH", 0) | os.O_DIRECTORY | os.O_CLOEXEC
_RESOLVE_PLAIN_DIR = RESOLVE_CACHED | RESOLVE_NO_SYMLINKS


def cached_root(path: str) -> Optional[int]:
    """A jail root's descriptor (see :func:`release_root`) for the directory ``path``
    (absolute, normalised) when it resolves from the kernel's cache through no symbolic
    link, to a local file system seen before; else None.  One open says at once what
    :func:`cached_local`, a realpath that changes nothing and :func:`local_root` would
    (a login's home that is its jail: three opens and a stat less).  Never blocks."""
    if not SUPPORTED or _statx is None or not path.startswith("/") or path.startswith("//"):
        return None
    fd = open_beneath(_AT_FDCWD, path, _DIR_FLAGS, _RESOLVE_PLAIN_DIR)
    if fd is None:
        return None
    key = _local_key(fd)
    if key is None:
        os.close(fd)
        return None
    return _share(fd, path, key)


# -- the jails' root descriptors ---------------------------------------------------------
# One descriptor per (path, device, inode, mount) however many sessions are jailed
# there: ten thousand idle sessions of one home hold ten thousand sockets and one
# directory, not twenty thousand descriptors (a limit of 20,000 stopped them at ~9,995).
# Sharing is safe because the descriptor is O_PATH: it has no offset or state to move
# (no getdents, no read), and it is only ever a dirfd for openat2.  The path is looked
# up at every login, so a home renamed or replaced gives the next login the new
# directory (a new key) while the sessions already in the old one keep it, as after
# ProFTPD's chroot.  The login and the jail may run in disk pool threads, hence the
# lock.
_roots: dict = {}           # key -> [fd, sessions]
_root_keys: dict = {}       # fd -> key
_roots_lock = threading.Lock()


def _share(fd: int, path: str, key: tuple) -> int:
    """The shared descriptor of ``fd``'s directory, one more session counted; ``fd``
    itself when it is the first, else ``fd`` is closed."""
    key = (path,) + key
    with _roots_lock:
        entry = _roots.get(key)
        if entry is None:
            _roots[key] = [fd, 1]
            _root_keys[fd] = key
            return fd
        entry[1] += 1
        shared = entry[0]
    os.close(fd)
    return shared


def release_root(fd: int) -> None:
    """A session leaves the jail root ``fd`` (from :func:`cached_root` or
    :func:`local_root`): closed when it was the last one there."""
    with _roots_lock:
        key = _root_keys.get(fd)
        if key is not None:
            entry = _roots[key]
            entry[1] -= 1
            if entry[1]:
                return
            del _roots[key], _root_keys[fd]
    os.close(fd)


def root_sessions(fd: int) -> int:
    """How many sessions hold the jail root ``fd`` (0: not one of them)."""
    with _roots_lock:
        key = _root_keys.get(fd)
        return _roots[key][1] if key is not None else 0


def _probe() -> bool:
    """openat2 with RESOLVE_CACHED works here (Linux >= 5.12, not filtered by seccomp)."""
    if _syscall is None or not hasattr(os, "O_PATH"):
        return False
    try:
        root = os.open("/", os.O_PATH | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fd = open_beneath(root, ".", os.O_PATH | os.O_DIRECTORY)
        if fd is None:
            err = ctypes.get_errno()
            return err not in (errno.ENOSYS, errno.EINVAL, errno.E2BIG, errno.EPERM)
        os.close(fd)
        return True
    finally:
        os.close(root)


SUPPORTED = _probe()


#: st_dev -> file system type, read from /proc/self/mountinfo when a device is new (a
#: login would otherwise pay ~60 us to parse it).  A mount made over a path gives its
#: files a new st_dev, so it is never mistaken for what was there before.
_types: dict = {}


def mount_type(path: str) -> Optional[str]:
    """Blocking: the file system type of the mount ``path`` is on."""
    try:
        dev = os.stat(path).st_dev
    except OSError:
        return None
    return _dev_type(dev)


def _dev_type(dev: int) -> Optional[str]:
    """Blocking on a new device (reads /proc/self/mountinfo): its file system type."""
    try:
        return _types[dev]
    except KeyError:
        pass
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    found = None
    want = "%d:%d" % (os.major(dev), os.minor(dev))
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == want and " - " in line:
            found = line.split(" - ", 1)[1].split()[0]      # the last mount wins
    if len(_types) < 1024:
        _types[dev] = found
    return found


def is_local(path: str) -> bool:
    """Blocking: ``path`` is on a local file system the fast path may use."""
    return SUPPORTED and mount_type(path) in LOCAL_TYPES


def local_root(path: str) -> Optional[int]:
    """Blocking: a jail root's descriptor (see :func:`release_root`) for the directory
    ``path`` when it is on a local file system the fast path may use (:func:`is_local`),
    else None.  One walk of the path (open, then statx of the descriptor)."""
    if not SUPPORTED or _statx is None:
        return None
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    key = _local_key(fd, learn=True)
    if key is None:
        os.close(fd)
        return None
    return _share(fd, path, key)


_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", None)


def pread_now(fd: int, length: int, offset: int) -> Optional[bytes]:
    """``os.pread`` when the kernel can answer from its page cache without waiting
    (``preadv2`` with ``RWF_NOWAIT``), else None: the caller reads in the disk pool.
    A short answer is what was cached (SFTP allows short reads); ``b""`` is the end of
    the file."""
    if _RWF_NOWAIT is None:
        return None
    buf = bytearray(length)
    try:
        n = os.preadv(fd, [buf], offset, _RWF_NOWAIT)
    except OSError:         # EAGAIN (not cached), EOPNOTSUPP (file system), ...
        return None
    return bytes(buf) if n == length else bytes(buf[:n])


def pwrite_now(fd: int, data: bytes, offset: int) -> Optional[int]:
    """``os.pwrite`` of all of ``data`` when the kernel can take it without waiting
    (``pwritev2`` with ``RWF_NOWAIT``: into the page cache, no writeback throttling),
    else None; a partial write returns how much was written and the caller writes the
    rest in the disk pool."""
    if _RWF_NOWAIT is None:
        return None
    try:
        return os.pwritev(fd, [data], offset, _RWF_NOWAIT)
    except OSError:
        return None

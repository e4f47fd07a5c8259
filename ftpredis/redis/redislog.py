# -*- test-case-name: tests.test_redislog -*-
"""The RedisLog file: where the Redis sink says what went wrong (ProFTPD's ``RedisLog``).

This module owns the checks ProFTPD's ``pr_log_openfile`` makes before it uses a log file
(:func:`check_redis_log_path`), the file itself (:class:`RedisLog`: append-only, mode
0640, close-on-exec, ``O_NOFOLLOW`` unless ``AllowLogSymlinks on``) and its line format::

    2024-05-01 12:34:56,789 ftpredis/0.1.0[4242]: lost connection to Redis 10.0.0.5:6379: ...

A RedisLog problem is never fatal (as in ProFTPD): a refused or unopenable file turns
:meth:`RedisLog.write` into a no-op and is reported once to the Twisted log.  A
``RedisLog none`` is simply no RedisLog object at all (``None``).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from typing import Optional

from twisted.logger import Logger
from ftpredis import __version__

_log = Logger(namespace="ftpredis.redis.redislog")


def check_redis_log_path(path: str, allow_symlinks: bool = False) -> Optional[str]:
    """Why ``path`` cannot be used as a RedisLog, or ``None`` if it can.

    The checks and their order are ProFTPD's (doc/config-syntax.rst, "RedisLog file
    checks"): an absolute path; an existing parent directory (symlinks in parent
    components are followed); a parent that is not world-writable; no symlink as the
    final component unless ``allow_symlinks``; not a directory.  The file itself need not
    exist yet.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        return "path must be absolute"
    parent = os.path.dirname(path.rstrip("/")) or "/"
    try:
        st = os.stat(parent)
    except OSError as e:
        return os.strerror(e.errno or errno.ENOENT)
    if not stat.S_ISDIR(st.st_mode):
        return os.strerror(errno.ENOTDIR)
    if st.st_mode & stat.S_IWOTH:
        return "parent directory is world-writable"
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        return os.strerror(e.errno)
    if stat.S_ISLNK(lst.st_mode):
        if not allow_symlinks:
            return "cannot log to a symlink"
        try:
            lst = os.stat(path)
        except FileNotFoundError:
            return None          # a dangling symlink is created through, like open() does
        except OSError as e:
            return os.strerror(e.errno)
    if stat.S_ISDIR(lst.st_mode):
        return os.strerror(errno.EISDIR)
    return None


def format_time(now: float) -> str:
    t = time.localtime(now)
    return "%s,%03d" % (time.strftime("%Y-%m-%d %H:%M:%S", t), int((now % 1) * 1000))


class RedisLog:
    """An open RedisLog file.

    The constructor never raises: when the path is refused or cannot be opened,
    ``error`` holds the reason, it is reported once to the Twisted log, and
    :meth:`write` discards messages (ProFTPD: "the session continues and RedisLog
    messages are simply discarded").  ``reopen()`` is for log rotation.
    """

    def __init__(self, path: str, allow_symlinks: bool = False, clock=time.time):
        self.path = path
        self.allow_symlinks = allow_symlinks
        self.error: Optional[str] = None
        self._clock = clock
        self._fd: Optional[int] = None
        self._write_failed = False
        self._open()

    def __repr__(self):
        return "<RedisLog %r%s>" % (self.path, " (%s)" % self.error if self.error else "")

    def _open(self) -> None:
        reason = check_redis_log_path(self.path, self.allow_symlinks)
        if reason is not None:
            self.error = reason
            _log.warn("unable to use RedisLog '{path}': {reason}", path=self.path, reason=reason)
            return
        flags = os.O_APPEND | os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC
        if not self.allow_symlinks:
            flags |= os.O_NOFOLLOW
        try:
            fd = os.open(self.path, flags, 0o640)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.EMLINK) and not self.allow_symlinks:
                # the file became a symlink between the check and the open
                self.error = "cannot log to a symlink"
                _log.warn("unable to use RedisLog '{path}': {reason}", path=self.path,
                          reason=self.error)
            else:
                self.error = os.strerror(e.errno) if e.errno else str(e)
                _log.warn("unable to open RedisLog '{path}': {reason}", path=self.path,
                          reason=self.error)
            return
        self._fd = fd
        self.error = None
        self._write_failed = False

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def fileno(self) -> Optional[int]:
        return self._fd

    def format_line(self, message: str) -> bytes:
        # one message = one line: a reason text with a newline must not forge a second entry
        message = str(message).replace("\r", "\\r").replace("\n", "\\n")
        line = "%s ftpredis/%s[%d]: %s\n" % (format_time(self._clock()), __version__,
                                            os.getpid(), message)
        return line.encode("utf-8", "backslashreplace")

    def write(self, message: str) -> None:
        """Append one line; never raises (a failure is reported once to the Twisted log)."""
        fd = self._fd
        if fd is None:
            return
        try:
            os.write(fd, self.format_line(message))
        except Exception as e:
            if not self._write_failed:
                self._write_failed = True
                _log.failure("cannot write to RedisLog '{path}': {error}", path=self.path,
                             error=e)

    def reopen(self) -> None:
        """Close and open the path again (after logrotate moved the file away)."""
        self.close()
        self._open()

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

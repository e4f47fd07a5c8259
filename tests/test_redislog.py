# -*- test-case-name: tests.test_redislog -*-
"""Tests for ftpredis.redis.redislog: ProFTPD's RedisLog checks, the file's flags and line format."""

import fcntl
import os
import re
import stat
import time

from twisted.trial import unittest

import ftpredis
from ftpredis.redis.redislog import RedisLog, check_redis_log_path

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ftpredis/([^\[]+)\[(\d+)\]: (.*)\n$")


class CheckTests(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "redis.log")

    def test_fine(self):
        self.assertIsNone(check_redis_log_path(self.path, False))
        open(self.path, "w").close()
        self.assertIsNone(check_redis_log_path(self.path, False))

    def test_relative(self):
        self.assertEqual(check_redis_log_path("redis.log", False), "path must be absolute")

    def test_parentMissing(self):
        self.assertEqual(check_redis_log_path(os.path.join(self.dir, "no", "x.log"), False),
                         "No such file or directory")

    def test_parentNotDirectory(self):
        open(self.path, "w").close()
        self.assertEqual(check_redis_log_path(os.path.join(self.path, "x.log"), False),
                         "Not a directory")

    def test_worldWritableParent(self):
        os.chmod(self.dir, 0o777)
        self.assertEqual(check_redis_log_path(self.path, False),
                         "parent directory is world-writable")
        os.chmod(self.dir, 0o1777)    # sticky does not help: ProFTPD refuses /tmp too
        self.assertEqual(check_redis_log_path(self.path, True),
                         "parent directory is world-writable")

    def test_symlinkRefused(self):
        target = os.path.join(self.dir, "real.log")
        open(target, "w").close()
        os.symlink(target, self.path)
        self.assertEqual(check_redis_log_path(self.path, False), "cannot log to a symlink")
        self.assertIsNone(check_redis_log_path(self.path, True))

    def test_symlinkInParentFollowed(self):
        real = os.path.join(self.dir, "real")
        os.mkdir(real)
        link = os.path.join(self.dir, "link")
        os.symlink(real, link)
        self.assertIsNone(check_redis_log_path(os.path.join(link, "redis.log"), False))

    def test_directory(self):
        os.mkdir(self.path)
        self.assertEqual(check_redis_log_path(self.path, False), "Is a directory")

    def test_symlinkToDirectoryAllowed(self):
        d = os.path.join(self.dir, "d")
        os.mkdir(d)
        os.symlink(d, self.path)
        self.assertEqual(check_redis_log_path(self.path, True), "Is a directory")


class RedisLogTests(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "redis.log")

    def open(self, *args, **kw):
        log = RedisLog(*args, **kw)
        self.addCleanup(log.close)
        return log

    def read(self):
        with open(self.path, "rb") as f:
            return f.read().decode("utf-8")

    def test_lineFormat(self):
        log = self.open(self.path, clock=lambda: 1700000000.25)
        log.write("error connecting to Redis 127.0.0.1:6379: Connection refused")
        text = self.read()
        m = LINE.match(text)
        self.assertIsNotNone(m, text)
        self.assertEqual(m.group(1), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1700000000)))
        self.assertEqual(m.group(2), "250")
        self.assertEqual(m.group(3), ftpredis.__version__)
        self.assertEqual(int(m.group(4)), os.getpid())
        self.assertEqual(m.group(5), "error connecting to Redis 127.0.0.1:6379: Connection refused")

    def test_appends(self):
        with open(self.path, "w") as f:
            f.write("old\n")
        log = self.open(self.path)
        log.write("one")
        log.write("two")
        lines = self.read().splitlines()
        self.assertEqual(lines[0], "old")
        self.assertTrue(lines[1].endswith(": one"))
        self.assertTrue(lines[2].endswith(": two"))

    def test_newlineInMessage(self):
        log = self.open(self.path)
        log.write("a\nb\r")
        text = self.read()
        self.assertEqual(text.count("\n"), 1)
        self.assertTrue(text.endswith(": a\\nb\\r\n"))

    def test_modeAndCloexec(self):
        old = os.umask(0o022)
        try:
            log = self.open(self.path)
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o640)
        self.assertTrue(fcntl.fcntl(log.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
        flags = fcntl.fcntl(log.fileno(), fcntl.F_GETFL)
        self.assertTrue(flags & os.O_APPEND)

    def test_refusedIsSilent(self):
        os.chmod(self.dir, 0o777)
        log = self.open(self.path)
        self.assertEqual(log.error, "parent directory is world-writable")
        self.assertFalse(log.is_open)
        log.write("nothing")
        self.assertFalse(os.path.exists(self.path))

    def test_symlinkRefusedAndAllowed(self):
        target = os.path.join(self.dir, "real.log")
        os.symlink(target, self.path)
        log = self.open(self.path)
        self.assertEqual(log.error, "cannot log to a symlink")
        log = self.open(self.path, allow_symlinks=True)
        self.assertIsNone(log.error)
        log.write("through the link")
        with open(target) as f:
            self.assertIn("through the link", f.read())

    def test_directory(self):
        os.mkdir(self.path)
        log = self.open(self.path)
        self.assertEqual(log.error, "Is a directory")
        log.write("x")

    def test_writeNeverRaises(self):
        log = self.open(self.path)
        os.close(log.fileno())        # the fd is gone under our feet
        log.write("one")
        log.write("two")
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        log._fd = None                # already closed above

    def test_reopen(self):
        log = self.open(self.path)
        log.write("before")
        os.rename(self.path, self.path + ".1")
        log.write("rotated")
        log.reopen()
        log.write("after")
        with open(self.path + ".1") as f:
            old = f.read()
        self.assertIn("before", old)
        self.assertIn("rotated", old)
        self.assertNotIn("before", self.read())
        self.assertIn("after", self.read())

# -*- test-case-name: tests.test_nowait -*-
"""The reactor's no-wait open: taken only where the kernel promises not to wait, and
then giving exactly what the disk pool's open gives."""

from __future__ import annotations

import os
import platform
import threading

from twisted.trial import unittest

from ftpredis.ftp import nowait
from ftpredis.ftp.filesystem import FSError, JailedFS


def _kernel() -> tuple:
    try:
        return tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
    except ValueError:
        return (0, 0)


class OpenBeneathTests(unittest.TestCase):

    def setUp(self):
        base = os.path.abspath(self.mktemp())
        self.root = os.path.join(base, "root")
        os.makedirs(os.path.join(self.root, "d"))
        os.makedirs(os.path.join(base, "out"))
        with open(os.path.join(self.root, "d", "f"), "wb") as f:
            f.write(b"data")
        with open(os.path.join(base, "out", "secret"), "wb") as f:
            f.write(b"secret")
        os.symlink("d/f", os.path.join(self.root, "inlink"))
        os.symlink(os.path.join(base, "out"), os.path.join(self.root, "esc"))
        self.jail = JailedFS(self.root)
        self.jail.open_root()
        self.addCleanup(self.jail.close)

    def test_supported_here(self):
        """On Linux 5.12 and later (every machine the suite runs on) the fast path is
        there and the test directory's file system counts as local."""
        if _kernel() < (5, 12):
            raise unittest.SkipTest("openat2 RESOLVE_CACHED needs Linux 5.12")
        self.assertTrue(nowait.SUPPORTED)
        self.assertIn(nowait.mount_type(self.root), nowait.LOCAL_TYPES)
        self.assertIsNotNone(self.jail.root_fd)

    def test_same_answer_as_the_pool(self):
        if self.jail.root_fd is None:
            raise unittest.SkipTest("no fast path on this machine")
        os.stat(os.path.join(self.root, "d", "f"))          # in the dentry cache
        vpath, real, fd, st = self.jail.open_read_now("d/../d/f")
        self.addCleanup(os.close, fd)
        self.assertEqual((vpath, real, os.read(fd, 10), st.st_size),
                         ("/d/f", os.path.join(os.path.realpath(self.root), "d", "f"),
                          b"data", 4))
        self.jail.chdir("d")
        _, _, fd2, _ = self.jail.open_read_now("f")
        os.close(fd2)

    def test_links_escapes_and_misses_take_the_slow_way(self):
        """A symbolic link anywhere, a path out of the jail, a missing file: None here,
        and the pool's open gives the answer (an escape finds nothing: in ProFTPD's
        chroot the target is looked for inside the jail)."""
        for path in ("inlink", "esc/secret", "../../out/secret", "nope", "d/nope"):
            self.assertIsNone(self.jail.open_read_now(path), path)
        _, _, fd, _ = self.jail.open_read("inlink")
        os.close(fd)
        with self.assertRaises(FSError) as c:
            self.jail.open_read("esc/secret")
        self.assertIn("No such file or directory", c.exception.text)

    def test_hidden_takes_the_slow_way(self):
        self.jail.hide = lambda real_dir: r"^f$"
        self.assertIsNone(self.jail.open_read_now("d/f"))
        with self.assertRaises(FSError):
            self.jail.open_read("d/f")

    def test_root_kept_like_a_chroot(self):
        """The root is the directory of the login, as after ProFTPD's chroot: renamed
        away, its files are still the session's; closed, no fast path is left."""
        if self.jail.root_fd is None:
            raise unittest.SkipTest("no fast path on this machine")
        os.rename(self.root, self.root + ".old")
        opened = self.jail.open_read_now("d/f")
        self.assertIsNotNone(opened)
        os.close(opened[2])
        self.jail.close()
        self.assertIsNone(self.jail.root_fd)
        self.assertIsNone(self.jail.open_read_now("d/f"))

    def test_network_types_are_not_local(self):
        for kind in ("nfs", "nfs4", "cifs", "fuse.sshfs", "ceph", "9p", "virtiofs"):
            self.assertNotIn(kind, nowait.LOCAL_TYPES)


class CachedLocalTests(unittest.TestCase):
    """The login's question: is every step of this path in the kernel's cache, on a
    local file system already seen?"""

    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(self.base, "home"))
        os.symlink(os.path.join(self.base, "home"), os.path.join(self.base, "link"))

    def test_cached_after_the_first_look(self):
        if not nowait.SUPPORTED:
            raise unittest.SkipTest("no fast path on this machine")
        home = os.path.join(self.base, "home")
        self.assertIn(nowait.mount_type(home), nowait.LOCAL_TYPES)    # the pool's look
        self.assertTrue(nowait.cached_local(home))
        link = os.path.join(self.base, "link")
        # The link's own look too (a session's first, slow way): the link's target text
        # is cached by reading it, not by creating the link, and a busy machine can
        # have dropped it since setUp made it.
        os.stat(link)
        self.assertTrue(nowait.cached_local(link))

    def test_missing_and_foreign_are_not(self):
        self.assertFalse(nowait.cached_local(os.path.join(self.base, "nope")))
        self.assertFalse(nowait.cached_local("/proc/self"))     # procfs: not a disk


    def test_home_and_jail_in_one_open(self):
        """The login's one open: a directory reached through no link, whose descriptor
        is the directory itself (the jail's root); a link or a file takes the general
        way."""
        if not nowait.SUPPORTED:
            raise unittest.SkipTest("no fast path on this machine")
        home = os.path.join(self.base, "home")
        self.assertIn(nowait.mount_type(home), nowait.LOCAL_TYPES)    # the pool's look
        fd = nowait.cached_root(home)
        self.assertIsNotNone(fd)
        try:
            self.assertEqual(os.path.samestat(os.fstat(fd), os.stat(home)), True)
        finally:
            nowait.release_root(fd)
        with open(os.path.join(home, "file"), "wb"):
            pass
        for path in ("link", "link/", "home/file", "nope"):
            self.assertIsNone(nowait.cached_root(os.path.join(self.base, path)), path)
        self.assertIsNone(nowait.cached_root("home"))         # relative
        self.assertIsNone(nowait.cached_root("/proc/self"))   # procfs, and a link


def _descriptors_of(path: str) -> int:
    """How many of this process's descriptors are open on the directory ``path``."""
    n = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + name) == path:
                n += 1
        except OSError:
            pass        # the listing's own descriptor, closed already
    return n


class SharedRootTests(unittest.TestCase):
    """The jails' root descriptors: one per directory, however many sessions use it."""

    def setUp(self):
        if not nowait.SUPPORTED:
            raise unittest.SkipTest("no fast path on this machine")
        self.home = os.path.join(os.path.abspath(self.mktemp()), "home")
        os.makedirs(self.home)
        self.assertIn(nowait.mount_type(self.home), nowait.LOCAL_TYPES)

    def test_one_descriptor_closed_with_its_last_session(self):
        fds = [nowait.cached_root(self.home) for _ in range(3)]
        fds.append(nowait.local_root(self.home))      # the disk pool's way: the same one
        self.assertEqual(len(set(fds)), 1, fds)
        self.assertEqual(nowait.root_sessions(fds[0]), 4)
        self.assertEqual(_descriptors_of(self.home), 1)
        for fd in fds[1:]:
            nowait.release_root(fd)
        self.assertEqual(_descriptors_of(self.home), 1)
        nowait.release_root(fds[0])
        self.assertEqual(_descriptors_of(self.home), 0)
        self.assertEqual(nowait.root_sessions(fds[0]), 0)

    def test_replaced_home_is_a_new_root(self):
        """A home renamed away and made again: the next login gets the new directory,
        the sessions in the old one keep theirs (as after ProFTPD's chroot)."""
        old = nowait.cached_root(self.home)
        self.addCleanup(nowait.release_root, old)
        os.rename(self.home, self.home + ".old")
        os.mkdir(self.home)
        os.stat(self.home)
        new = nowait.cached_root(self.home)
        self.assertIsNotNone(new)
        self.addCleanup(nowait.release_root, new)
        self.assertNotEqual(new, old)
        self.assertTrue(os.path.samestat(os.fstat(new), os.stat(self.home)))
        self.assertTrue(os.path.samestat(os.fstat(old), os.stat(self.home + ".old")))
        again = nowait.local_root(self.home)
        self.addCleanup(nowait.release_root, again)
        self.assertEqual(again, new)

    def test_threads_take_and_leave_at_once(self):
        """Logins in the disk pool's threads and session ends on the reactor at the same
        time: every take is given back, the descriptor is open while anyone holds it."""
        held = nowait.local_root(self.home)
        errors = []

        def churn():
            try:
                for _ in range(300):
                    fd = nowait.local_root(self.home)
                    if fd != held:
                        errors.append(fd)
                    os.fstat(fd)
                    nowait.release_root(fd)
            except BaseException as e:
                errors.append(e)
        threads = [threading.Thread(target=churn) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(nowait.root_sessions(held), 1)
        nowait.release_root(held)
        self.assertEqual(_descriptors_of(self.home), 0)

    def test_jails_share_and_release(self):
        """Two jails of one directory: one descriptor, still open for the second after
        the first closes; each sees the files through it."""
        with open(os.path.join(self.home, "f"), "wb") as f:
            f.write(b"x")
        jails = [JailedFS(self.home) for _ in range(2)]
        for jail in jails:
            jail.open_root()
            self.addCleanup(jail.close)
        self.assertEqual(jails[0].root_fd, jails[1].root_fd)
        jails[0].close()
        self.assertIsNone(jails[0].root_fd)
        opened = jails[1].open_read_now("f")
        self.assertIsNotNone(opened)
        os.close(opened[2])
        self.assertEqual(_descriptors_of(self.home), 1)
        jails[1].close()
        self.assertEqual(_descriptors_of(self.home), 0)


class QuickLoginPathsTests(unittest.TestCase):
    """The directories a verified login looks at, asked about before it runs inline."""

    def test_paths(self):
        from ftpredis.auth.portal import AuthFileRealm, QuickLogin
        from ftpredis.config.model import AuthUser, ServerConfig
        user = AuthUser("bob", "x", 1001, 100, "", "/srv/ftp/./bob/", "/bin/sh")
        base = dict(is_main=True, source=None, addresses=("127.0.0.1",), port=21,
                    server_name="t", auth_users=(user,))
        jailed = QuickLogin(AuthFileRealm(ServerConfig(default_root="~", **base)), user)
        self.assertEqual(jailed.paths, ("/srv/ftp/bob",))
        other = QuickLogin(AuthFileRealm(ServerConfig(default_root="/srv/jail", **base)), user)
        self.assertEqual(other.paths, ("/srv/ftp/bob", "/srv/jail"))


class ReadWriteNowTests(unittest.TestCase):
    """pread_now/pwrite_now: the page cache's answer, or None (the disk pool's turn)."""

    def test_cached_read_and_write(self):
        path = os.path.join(self.mktemp())
        with open(path, "wb") as f:
            f.write(b"0123456789")
        fd = os.open(path, os.O_RDWR)
        self.addCleanup(os.close, fd)
        got = nowait.pread_now(fd, 4, 3)
        # Just written, so cached: answered at once (None only without RWF_NOWAIT).
        self.assertEqual(got, b"3456")
        self.assertEqual(nowait.pread_now(fd, 100, 8), b"89")
        self.assertEqual(nowait.pread_now(fd, 4, 10), b"")
        n = nowait.pwrite_now(fd, b"ab", 10)
        if n is not None:       # a file system without buffered RWF_NOWAIT writes says None
            self.assertEqual(n, 2)
            self.assertEqual(os.pread(fd, 20, 0), b"0123456789ab")

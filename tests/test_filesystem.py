# -*- test-case-name: tests.test_filesystem -*-
"""The session jail: path resolution, escapes, error texts."""

from __future__ import annotations

import os
import stat

from twisted.trial import unittest

from ftpredis.ftp.filesystem import FSError, JailedFS


class JailTests(unittest.TestCase):

    def setUp(self):
        base = os.path.abspath(self.mktemp())
        self.root = os.path.join(base, "root")
        os.makedirs(os.path.join(self.root, "d"))
        os.makedirs(os.path.join(base, "out"))
        os.symlink(os.path.join(base, "out"), os.path.join(self.root, "esc"))
        os.symlink("d", os.path.join(self.root, "inside"))
        self.fs = JailedFS(self.root)

    def test_virtual(self):
        fs = self.fs
        self.assertEqual(fs.virtual("../../x/./y/"), "/x/y")
        fs.chdir("d")
        self.assertEqual(fs.virtual("a"), "/d/a")
        self.assertEqual(fs.virtual(".."), "/")
        self.assertEqual(fs.virtual(None), "/d")

    def test_symlink_escape(self):
        with self.assertRaises(FSError) as c:
            self.fs.resolve("esc/x")
        # as in ProFTPD's chroot: the link's target is looked for inside the jail
        self.assertEqual(c.exception.text, "esc/x: No such file or directory")
        self.assertRaises(FSError, self.fs.chdir, "esc")
        self.assertEqual(self.fs.resolve("inside")[1], os.path.realpath(self.root) + "/inside")

    def test_unlink_outside_link(self):
        """The link "esc" (to ../out) is removed, as ProFTPD 1.3.8 does in its chroot;
        what is behind it is not reachable: "esc/f" stays refused and untouched."""
        out = os.path.join(os.path.dirname(self.root), "out")
        with open(os.path.join(out, "f"), "w") as f:
            f.write("x")
        with self.assertRaises(FSError) as c:
            self.fs.unlink("esc/f")
        self.assertEqual(c.exception.text, "esc/f: No such file or directory")
        self.assertTrue(os.path.exists(os.path.join(out, "f")))
        self.assertEqual(self.fs.unlink("esc"), 0)
        self.assertFalse(os.path.lexists(os.path.join(self.root, "esc")))
        self.assertTrue(os.path.isdir(out))

    def test_open_read(self):
        """RETR's open: links are followed as in ProFTPD's chroot, and the file's own
        path is what RETR logs; a FIFO is opened without waiting for a writer (the caller
        refuses it as not a regular file)."""
        with open(os.path.join(self.root, "d", "f"), "wb") as f:
            f.write(b"data")
        with open(os.path.join(self.root, "..", "out", "secret"), "wb") as f:
            f.write(b"secret")
        os.symlink("d/f", os.path.join(self.root, "flink"))
        os.symlink(os.path.join(self.root, "..", "out", "secret"),
                   os.path.join(self.root, "slink"))
        os.mkfifo(os.path.join(self.root, "fifo"))
        fs = self.fs
        vpath, real, fd, st = fs.open_read("flink")
        self.addCleanup(os.close, fd)
        self.assertEqual((vpath, os.read(fd, 10), st.st_size), ("/d/f", b"data", 4))
        for name in ("slink", "esc/x", "inside/../esc/x"):
            with self.assertRaises(FSError) as c:
                fs.open_read(name)
            self.assertIn("No such file or directory", c.exception.text)
        with self.assertRaises(FSError) as c:
            fs.open_read("nope")
        self.assertEqual(c.exception.text, "nope: No such file or directory")
        for name in ("fifo", "d", "inside"):
            _, _, fd, st = fs.open_read(name)
            os.close(fd)
            self.assertFalse(stat.S_ISREG(st.st_mode), name)

    def test_errors(self):
        with self.assertRaises(FSError) as c:
            self.fs.unlink("nope")
        self.assertEqual(c.exception.text, "nope: No such file or directory")
        with self.assertRaises(FSError) as c:
            self.fs.unlink("d")
        self.assertEqual(c.exception.text, "d: Is a directory")
        with self.assertRaises(FSError) as c:
            self.fs.rmdir("/")
        self.assertEqual(c.exception.text, "/: Device or resource busy")

    def test_mkdir_umask_and_listing(self):
        fs = JailedFS(self.root, umask=0o027)
        fs.mkdir("new")
        self.assertEqual(os.stat(os.path.join(self.root, "new")).st_mode & 0o777, 0o750)
        # NLST leaves out "esc", a link out of the jail: in a chroot it names nothing
        self.assertEqual(fs.listing(fs.root, long=False), ["d", "inside", "new"])
        long = fs.listing(fs.root, long=True)
        self.assertTrue(long[0].startswith("drwx"))
        self.assertIn(" -> ", long[1])

    def test_chroot_join(self):
        self.assertEqual(self.fs.chroot_join("/"), os.path.realpath(self.root) + "/")
        self.assertEqual(JailedFS("/").chroot_join("/x"), "/x")


class NoSetuidTests(unittest.TestCase):
    def test_chmod_drops_setuid_and_setgid(self):
        import os
        from ftpredis.ftp.filesystem import JailedFS
        root = os.path.abspath(self.mktemp())
        os.makedirs(root)
        with open(os.path.join(root, "tool"), "w") as f:
            f.write("#!/bin/sh\n")
        JailedFS(root).chmod("tool", 0o6755)
        self.assertEqual(os.stat(os.path.join(root, "tool")).st_mode & 0o7777, 0o755)

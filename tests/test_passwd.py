# -*- test-case-name: tests.test_passwd -*-
"""Tests for :mod:`ftpredis.auth.passwd`, the ``ftpredis-passwd`` admin tool."""

from __future__ import annotations

import io
import os
import sys

from twisted.trial import unittest

from ftpredis.auth import passwd
from ftpredis.auth.portal import read_auth_user_file, verify_password


class PasswdToolTests(unittest.TestCase):

    def setUp(self):
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "ftpd.passwd")
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.patch(sys, "stdout", self.stdout)
        self.patch(sys, "stderr", self.stderr)
        self.prompts = []
        self.answers = []

        def fake_getpass(prompt="Password: "):
            self.prompts.append(prompt)
            return self.answers.pop(0)
        self.patch(passwd.getpass, "getpass", fake_getpass)

    def run_tool(self, *argv, stdin=None):
        self.patch(sys, "stdin", io.StringIO(stdin if stdin is not None else ""))
        return passwd.main(["--file", self.path] + list(argv))

    def users(self):
        return {u.name: u for u in read_auth_user_file(self.path)}

    def text(self):
        with open(self.path) as f:
            return f.read()

    def test_createWithStdin(self):
        rc = self.run_tool("--passwd", "--name=bob", "--uid=1001", "--home=/home/bob",
                           "--stdin", stdin="hunter2\n")
        self.assertEqual(rc, 0)
        self.assertEqual(os.stat(self.path).st_mode & 0o7777, 0o600)
        bob = self.users()["bob"]
        self.assertEqual((bob.uid, bob.gid, bob.gecos, bob.home, bob.shell),
                         (1001, 1001, "", "/home/bob", "/bin/false"))
        self.assertTrue(bob.hash.startswith("$6$"))
        self.assertTrue(verify_password("hunter2", bob.hash))
        self.assertNotIn("hunter2", self.text())
        self.assertNotIn("hunter2", self.stdout.getvalue())
        self.assertIn("user 'bob' created", self.stdout.getvalue())
        self.assertEqual(self.prompts, [])

    def test_stdinKeepsSpacesStripsLineEnd(self):
        self.run_tool("--name=bob", "--uid=1", "--home=/h", "--stdin", stdin=" a b \r\n")
        self.assertTrue(verify_password(" a b ", self.users()["bob"].hash))

    def test_createWithGetpass(self):
        self.answers = ["s3cret", "s3cret"]
        rc = self.run_tool("--name", "bob", "--uid", "1001", "--gid", "100",
                           "--home", "/srv/bob", "--shell", "/bin/sh", "--gecos", "Bob B")
        self.assertEqual(rc, 0)
        self.assertEqual(self.prompts, ["Password: ", "Re-type password: "])
        bob = self.users()["bob"]
        self.assertEqual((bob.uid, bob.gid, bob.gecos, bob.home, bob.shell),
                         (1001, 100, "Bob B", "/srv/bob", "/bin/sh"))
        self.assertTrue(verify_password("s3cret", bob.hash))

    def test_getpassMismatch(self):
        self.answers = ["one", "two"]
        rc = self.run_tool("--name", "bob", "--uid", "1", "--home", "/h")
        self.assertEqual(rc, 1)
        self.assertIn("passwords do not match", self.stderr.getvalue())
        self.assertFalse(os.path.exists(self.path))

    def test_emptyPassword(self):
        rc = self.run_tool("--name", "bob", "--uid", "1", "--home", "/h", "--stdin",
                           stdin="\n")
        self.assertEqual(rc, 1)
        self.assertIn("empty password refused", self.stderr.getvalue())

    def test_roundTrip(self):
        with open(self.path, "w") as f:
            f.write("# managed by hand\n\nann:*:1000:1000:Ann:/home/ann:/bin/sh\n"
                    "zed:!:1003:1003::/home/zed:/bin/sh")
        os.chmod(self.path, 0o644)
        self.assertEqual(self.run_tool("--name=bob", "--uid=1001", "--home=/home/bob",
                                       "--stdin", stdin="pw1\n"), 0)
        self.assertEqual(os.stat(self.path).st_mode & 0o7777, 0o600)
        lines = self.text().split("\n")
        self.assertEqual(lines[:3], ["# managed by hand", "",
                                     "ann:*:1000:1000:Ann:/home/ann:/bin/sh"])
        self.assertEqual(lines[3], "zed:!:1003:1003::/home/zed:/bin/sh")
        self.assertTrue(lines[4].startswith("bob:$6$"))

        # Update: only what is given changes; the line stays where it was.
        self.assertEqual(self.run_tool("--name=bob", "--shell=/bin/bash", "--stdin",
                                       stdin="pw2\n"), 0)
        self.assertIn("user 'bob' updated", self.stdout.getvalue())
        bob = self.users()["bob"]
        self.assertEqual((bob.uid, bob.gid, bob.home, bob.shell),
                         (1001, 1001, "/home/bob", "/bin/bash"))
        self.assertTrue(verify_password("pw2", bob.hash))
        self.assertFalse(verify_password("pw1", bob.hash))
        self.assertEqual(self.text().split("\n")[4].split(":")[0], "bob")

        self.assertEqual(self.run_tool("--name=bob", "--change-password", "--uid=5",
                                       "--stdin", stdin="pw3\n"), 0)
        bob = self.users()["bob"]
        self.assertEqual(bob.uid, 1001)
        self.assertTrue(verify_password("pw3", bob.hash))

        self.assertEqual(self.run_tool("--name=bob", "--delete"), 0)
        self.assertIn("user 'bob' deleted", self.stdout.getvalue())
        self.assertEqual(self.text(), "# managed by hand\n\n"
                         "ann:*:1000:1000:Ann:/home/ann:/bin/sh\n"
                         "zed:!:1003:1003::/home/zed:/bin/sh\n")
        self.assertEqual(sorted(self.users()), ["ann", "zed"])
        self.assertEqual(os.listdir(self.dir), ["ftpd.passwd"])   # no temp file left

    def test_deleteUserAlias(self):
        self.run_tool("--name=bob", "--uid=1", "--home=/h", "--stdin", stdin="x\n")
        self.assertEqual(self.run_tool("--name=bob", "--delete-user"), 0)
        self.assertEqual(self.users(), {})

    def test_deleteUnknown(self):
        self.run_tool("--name=bob", "--uid=1", "--home=/h", "--stdin", stdin="x\n")
        before = self.text()
        self.assertEqual(self.run_tool("--name=eve", "--delete"), 1)
        self.assertIn("no user 'eve' in '%s'" % (self.path,), self.stderr.getvalue())
        self.assertEqual(self.text(), before)

    def test_changePasswordUnknown(self):
        self.assertEqual(self.run_tool("--name=eve", "--change-password", "--stdin",
                                       stdin="x\n"), 1)
        self.assertIn("no user 'eve'", self.stderr.getvalue())

    def test_newUserNeedsUid(self):
        self.assertEqual(self.run_tool("--name=bob", "--home=/h", "--stdin", stdin="x\n"), 1)
        self.assertIn("a new user needs --uid", self.stderr.getvalue())

    def test_newUserNeedsHome(self):
        self.assertEqual(self.run_tool("--name=bob", "--uid=1", "--stdin", stdin="x\n"), 1)
        self.assertIn("a new user needs --home", self.stderr.getvalue())

    def test_relativeHome(self):
        self.assertEqual(self.run_tool("--name=bob", "--uid=1", "--home=h", "--stdin",
                                       stdin="x\n"), 1)
        self.assertIn("--home must be an absolute path", self.stderr.getvalue())

    def test_colonInField(self):
        for args in (["--name=b:ob"], ["--name=bob", "--gecos=a:b"],
                     ["--name=bob", "--shell=/bin/sh\n"]):
            self.assertEqual(self.run_tool(*args, "--uid=1", "--home=/h", "--stdin",
                                           stdin="x\n"), 1)
            self.assertIn("must not contain ':'", self.stderr.getvalue())
        self.assertFalse(os.path.exists(self.path))

    def test_badUid(self):
        self.assertEqual(self.run_tool("--name=bob", "--uid=-1", "--home=/h"), 1)
        self.assertIn("--uid must be a number", self.stderr.getvalue())

    def test_missingName(self):
        self.assertEqual(self.run_tool("--uid=1"), 1)
        self.assertIn("--name", self.stderr.getvalue())

    def test_missingFile(self):
        self.assertEqual(passwd.main(["--name=bob"]), 1)
        self.assertIn("--file", self.stderr.getvalue())

    def test_help(self):
        self.assertEqual(passwd.main(["--help"]), 0)
        self.assertIn("--stdin", self.stdout.getvalue())

    def test_fileIsDirectory(self):
        self.assertEqual(passwd.main(["--file", self.dir, "--name=bob", "--delete"]), 1)
        self.assertIn("is a directory", self.stderr.getvalue())

    def test_directoryMissing(self):
        self.path = os.path.join(self.dir, "nope", "ftpd.passwd")
        self.assertEqual(self.run_tool("--name=bob", "--uid=1", "--home=/h", "--stdin",
                                       stdin="x\n"), 1)
        self.assertIn("unable to write in", self.stderr.getvalue())

    def test_malformedExistingEntry(self):
        with open(self.path, "w") as f:
            f.write("bob:x:1\n")
        self.assertEqual(self.run_tool("--name=bob", "--stdin", stdin="x\n"), 1)
        self.assertIn("entry for 'bob'", self.stderr.getvalue())
        self.assertEqual(self.run_tool("--name=bob", "--delete"), 0)

    def test_keyboardInterrupt(self):
        def interrupted(prompt=""):
            raise KeyboardInterrupt()
        self.patch(passwd.getpass, "getpass", interrupted)
        self.assertEqual(self.run_tool("--name=bob", "--uid=1", "--home=/h"), 1)
        self.assertIn("aborted", self.stderr.getvalue())

    def test_crlfFileKeepsEndings(self):
        with open(self.path, "w", newline="") as f:
            f.write("ann:*:1:1::/h:/bin/sh\r\nbob:*:2:2::/h:/bin/sh\r\n")
        self.assertEqual(self.run_tool("--name=bob", "--stdin", stdin="x\n"), 0)
        with open(self.path, newline="") as f:
            text = f.read()
        self.assertTrue(text.startswith("ann:*:1:1::/h:/bin/sh\r\nbob:$6$"))
        self.assertTrue(text.endswith(":2:2::/h:/bin/sh\r\n"))


class ModeKeptTests(unittest.TestCase):
    def test_group_read_kept_others_never(self):
        import os
        from ftpredis.auth import passwd
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write("")
        os.chmod(path, 0o640)
        passwd._write_atomically(path, ["a:x:1:1::/h:/bin/false\n"])
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o640)

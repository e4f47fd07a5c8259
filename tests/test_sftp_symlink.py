# -*- test-case-name: tests.test_sftp_symlink -*-
"""SFTP SYMLINK as ProFTPD 1.3.8's mod_sftp makes it (OpenSSH's argument order, the
target stored as given), and the jail holding for links that point out of it, through
SFTP and FTP alike."""

import ftplib
import os

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.test_sftp import _SFTPSite


class SFTPSymlinkTests(_SFTPSite, unittest.TestCase):

    # The FTP server is jailed too, so the same links can be tried over FTP.
    TOP = "DefaultRoot ~"

    @defer.inlineCallbacks
    def test_links_out_of_the_jail_stay_jailed(self):
        """OpenSSH's ``ln -s`` makes links with their targets as given; links to
        ``/etc/...``-style absolute paths and to ``../..`` outside the home can be
        neither read nor written through, by SFTP or FTP."""
        secret = os.path.join(self.base, "secret.txt")
        with open(secret, "wb") as f:
            f.write(b"secret")
        outside_new = os.path.join(self.base, "new.txt")
        with open(os.path.join(self.local, "up.txt"), "wb") as f:
            f.write(b"u" * 10)
        p = yield self.sftp("ln -s %s abs\nln -s ../../secret.txt rel\n"
                            "ln -s %s wabs\nln -s ../../new.txt wrel\n"
                            "ln -s a.txt inside\n" % (secret, outside_new))
        self.assertEqual(os.readlink(os.path.join(self.home, "abs")), secret, p.stdout)
        self.assertEqual(os.readlink(os.path.join(self.home, "rel")), "../../secret.txt")
        self.assertEqual(os.readlink(os.path.join(self.home, "inside")), "a.txt")
        # A link inside the jail works.
        p = yield self.sftp("get inside got.txt\n")
        with open(os.path.join(self.local, "got.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)
        for name in ("abs", "rel"):
            p = yield self.sftp("get %s out.txt\n" % name, check=False)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertFalse(os.path.exists(os.path.join(self.local, "out.txt")))
        for name in ("wabs", "wrel", "abs", "rel"):
            p = yield self.sftp("put up.txt %s\n" % name, check=False)
            self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertFalse(os.path.exists(outside_new))
        with open(secret, "rb") as f:
            self.assertEqual(f.read(), b"secret")

        def ftp():
            c = ftplib.FTP()
            c.connect("127.0.0.1", self.ftp_port, timeout=30)
            c.login(e2e.USER, "ftppass")
            got = []
            for name in ("abs", "rel"):
                with self.assertRaises(ftplib.error_perm):
                    c.retrbinary("RETR " + name, got.append)
            for name in ("wabs", "wrel", "abs", "rel"):
                with self.assertRaises(ftplib.error_perm):
                    c.storbinary("STOR " + name, open(os.path.join(self.local, "up.txt"), "rb"))
            c.quit()
            return got
        got = yield e2e.in_thread(ftp)
        self.assertEqual(got, [])
        self.assertFalse(os.path.exists(outside_new))
        with open(secret, "rb") as f:
            self.assertEqual(f.read(), b"secret")

# -*- test-case-name: tests.test_auth -*-
"""Tests for :mod:`ftpredis.auth.portal`: AuthUserFile/AuthGroupFile parsing and permission
checks, crypt(3) verification, and logins through the twisted.cred portal."""

from __future__ import annotations

import builtins
import os
import subprocess

import bcrypt
from passlib.hash import bcrypt as passlib_bcrypt
from passlib.hash import md5_crypt, sha256_crypt, sha512_crypt
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer
from twisted.trial import unittest
from zope.interface.verify import verifyObject

from ftpredis.auth import portal as auth
from ftpredis.auth.portal import (Avatar, IFTPRedisAvatar, LoginRefused, make_portal,
                           read_auth_group_file, read_auth_group_members, read_auth_user_file,
                           verify_password)
from ftpredis.config.model import AuthUser, ConfigError, ServerConfig, Source

SHA512 = sha512_crypt.using(rounds=5000)


class _TempDir:
    def makeDir(self, mode=0o755):
        path = os.path.abspath(self.mktemp())
        os.makedirs(path)
        os.chmod(path, mode)
        return path

    def writeFile(self, directory, text, mode=0o600, name="ftpd.passwd"):
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path


class ReadAuthUserFileTests(_TempDir, unittest.TestCase):

    def read(self, text, mode=0o600, **kw):
        path = self.writeFile(self.makeDir(), text, mode)
        return path, read_auth_user_file(path, **kw)

    def error(self, text, mode=0o600, dirmode=0o755, **kw):
        path = self.writeFile(self.makeDir(dirmode), text, mode)
        e = self.assertRaises(ConfigError, read_auth_user_file, path, **kw)
        return path, e

    def test_parses(self):
        _, users = self.read(
            "# comment\n"
            "\n"
            "bob:$6$salt$hash:1001:100:Bob Smith:/home/bob:/bin/false\n"
            "   # indented comment\n"
            "eve:*:1002:1002::/srv/eve:\r\n")
        self.assertEqual(users, (
            AuthUser("bob", "$6$salt$hash", 1001, 100, "Bob Smith", "/home/bob", "/bin/false"),
            AuthUser("eve", "*", 1002, 1002, "", "/srv/eve", "")))

    def test_empty(self):
        self.assertEqual(self.read("")[1], ())

    def test_noFinalNewline(self):
        _, users = self.read("bob:x:1:1::/h:/bin/sh")
        self.assertEqual([u.name for u in users], ["bob"])

    def test_sourceKept(self):
        src = Source("/etc/proftpd.conf", 12)
        path, e = self.error("bob:x:1\n", source=src)
        self.assertIs(e.source, src)
        self.assertIn("line 12 of '/etc/proftpd.conf'", str(e))

    def test_fieldCount(self):
        path, e = self.error("# c\n\nbob:x:1:1:/home/bob\n")
        self.assertEqual(
            e.message,
            "AuthUserFile: malformed entry on line 3 of '%s': expected 7 fields "
            "separated by ':', got 5" % (path,))

    def test_tooManyFields(self):
        path, e = self.error("bob:x:1:1::/home/bob:/bin/sh:extra\n")
        self.assertIn("got 8", e.message)

    def test_lineNumbersIgnoreOddLineBreaks(self):
        # A form feed / U+2028 is not a line break for an editor or for ProFTPD.
        path, e = self.error("a:x:1:1:\x0c:/h:/s\nb:x:1:1:\u2028:/h:/s\nc:x\n")
        self.assertIn("line 3 of", e.message)

    def test_badUid(self):
        path, e = self.error("bob:x:abc:1::/home/bob:/bin/sh\n")
        self.assertEqual(
            e.message,
            "AuthUserFile: bad uid 'abc' on line 1 of '%s': expected a number from 0 to "
            "4294967294" % (path,))

    def test_negativeGid(self):
        path, e = self.error("bob:x:1:-1::/home/bob:/bin/sh\n")
        self.assertIn("bad gid '-1' on line 1", e.message)

    def test_hugeUid(self):
        path, e = self.error("bob:x:4294967295:1::/home/bob:/bin/sh\n")
        self.assertIn("bad uid '4294967295'", e.message)

    def test_nonAsciiDigits(self):
        path, e = self.error("bob:x:\u0661:1::/home/bob:/bin/sh\n")
        self.assertIn("bad uid", e.message)

    def test_emptyUid(self):
        path, e = self.error("bob:x::1::/home/bob:/bin/sh\n")
        self.assertIn("bad uid '' on line 1", e.message)

    def test_relativeHome(self):
        path, e = self.error("bob:x:1:1::home/bob:/bin/sh\n")
        self.assertEqual(
            e.message,
            "AuthUserFile: home directory 'home/bob' of user 'bob' on line 1 of '%s' is "
            "not an absolute path" % (path,))

    def test_emptyName(self):
        path, e = self.error(":x:1:1::/home/bob:/bin/sh\n")
        self.assertIn("bad user name '' on line 1", e.message)

    def test_duplicate(self):
        path, e = self.error("bob:x:1:1::/h:/s\nann:x:2:2::/h:/s\nbob:y:3:3::/h:/s\n")
        self.assertEqual(
            e.message,
            "AuthUserFile: duplicate user 'bob' on line 3 of '%s' (first on line 1)" % (path,))

    def test_invalidUtf8(self):
        directory = self.makeDir()
        path = os.path.join(directory, "p")
        with open(path, "wb") as f:
            f.write(b"bob:x:1:1::/h:/s\nb\xffb:x:1:1::/h:/s\n")
        os.chmod(path, 0o600)
        e = self.assertRaises(ConfigError, read_auth_user_file, path)
        self.assertEqual(e.message,
                         "AuthUserFile: invalid UTF-8 on line 2 of '%s'" % (path,))

    # -- permissions (ProFTPD 1.3.8 mod_auth_file semantics)

    def test_worldReadable(self):
        path, e = self.error("bob:x:1:1::/h:/s\n", mode=0o644)
        self.assertEqual(
            e.message,
            "AuthUserFile: unable to use '%s': file is readable by others (mode 0644); "
            "chmod 600 it, or set 'AuthFileOptions InsecurePerms'" % (path,))

    def test_worldWritable(self):
        path, e = self.error("bob:x:1:1::/h:/s\n", mode=0o602)
        self.assertEqual(
            e.message,
            "AuthUserFile: unable to use '%s': file is writable by others (mode 0602); "
            "chmod 600 it, or set 'AuthFileOptions InsecurePerms'" % (path,))

    def test_groupAccessAllowed(self):
        # ProFTPD only looks at the "other" bits.
        self.assertEqual(len(self.read("bob:x:1:1::/h:/s\n", mode=0o660)[1]), 1)

    def test_worldWritableDirectory(self):
        path, e = self.error("bob:x:1:1::/h:/s\n", dirmode=0o777)
        self.assertEqual(
            e.message,
            "AuthUserFile: unable to use '%s': its directory '%s' is writable by others "
            "(mode 0777); chmod o-w it, or set 'AuthFileOptions InsecurePerms'"
            % (path, os.path.dirname(path)))

    def test_stickyWorldWritableDirectory(self):
        # ProFTPD refuses /tmp-style (1777) directories too.
        path, e = self.error("bob:x:1:1::/h:/s\n", dirmode=0o1777)
        self.assertIn("is writable by others (mode 1777)", e.message)

    def test_symlinkTargetInWorldWritableDirectory(self):
        unsafe = self.makeDir(0o777)
        target = self.writeFile(unsafe, "bob:x:1:1::/h:/s\n")
        link = os.path.join(self.makeDir(), "link")
        os.symlink(target, link)
        e = self.assertRaises(ConfigError, read_auth_user_file, link)
        self.assertIn("its directory '%s' is writable by others" % (unsafe,), e.message)

    def test_symlinkInWorldWritableDirectory(self):
        target = self.writeFile(self.makeDir(), "bob:x:1:1::/h:/s\n")
        unsafe = self.makeDir(0o777)
        link = os.path.join(unsafe, "link")
        os.symlink(target, link)
        e = self.assertRaises(ConfigError, read_auth_user_file, link)
        self.assertIn("its directory '%s' is writable by others" % (unsafe,), e.message)

    def test_symlinkFollowed(self):
        target = self.writeFile(self.makeDir(), "bob:x:1:1::/h:/s\n")
        link = os.path.join(self.makeDir(), "link")
        os.symlink(target, link)
        self.assertEqual(len(read_auth_user_file(link)), 1)

    def test_insecurePerms(self):
        path = self.writeFile(self.makeDir(0o777), "bob:x:1:1::/h:/s\n", mode=0o666)
        self.assertEqual(len(read_auth_user_file(path, insecure_perms=True)), 1)

    def test_missing(self):
        path = os.path.join(self.makeDir(), "nope")
        e = self.assertRaises(ConfigError, read_auth_user_file, path)
        self.assertEqual(e.message, "AuthUserFile: unable to read '%s': No such file or "
                                    "directory" % (path,))

    def test_missingEvenWithInsecurePerms(self):
        path = os.path.join(self.makeDir(), "nope")
        self.assertRaises(ConfigError, read_auth_user_file, path, insecure_perms=True)

    def test_directory(self):
        path = self.makeDir()
        e = self.assertRaises(ConfigError, read_auth_user_file, path)
        self.assertEqual(e.message, "AuthUserFile: unable to read '%s': Is a directory"
                         % (path,))

    def test_fifo(self):
        path = os.path.join(self.makeDir(), "fifo")
        os.mkfifo(path, 0o600)
        e = self.assertRaises(ConfigError, read_auth_user_file, path)
        self.assertEqual(e.message, "AuthUserFile: unable to use '%s': not a regular file"
                         % (path,))

    def test_relativePath(self):
        e = self.assertRaises(ConfigError, read_auth_user_file, "etc/ftpd.passwd")
        self.assertEqual(e.message, "AuthUserFile: unable to use relative path "
                                    "'etc/ftpd.passwd'")

    def test_unreadable(self):
        """A read error is reported with its strerror."""
        path = self.writeFile(self.makeDir(), "bob:x:1:1::/h:/s\n")
        real_open = open

        def failing_open(p, *a, **kw):
            if p == path:
                raise PermissionError(13, "Permission denied", p)
            return real_open(p, *a, **kw)

        # Running as root, chmod 000 would not stop us: fake the refusal instead.
        self.patch(builtins, "open", failing_open)
        e = self.assertRaises(ConfigError, read_auth_user_file, path)
        self.assertEqual(e.message, "AuthUserFile: unable to read '%s': Permission denied"
                         % (path,))


class ReadAuthGroupFileTests(_TempDir, unittest.TestCase):

    def test_parses(self):
        path = self.writeFile(self.makeDir(),
                              "# groups\nftp:x:100:bob,eve\n\nstaff:x:50:\nalias:x:100:\n",
                              name="ftpd.group")
        self.assertEqual(read_auth_group_file(path), {100: "ftp", 50: "staff"})

    def test_members(self):
        """Who each group names as a member, for the session's groups; a name is taken
        as written (mod_auth_file: " eve" is not eve)."""
        path = self.writeFile(self.makeDir(),
                              "ftp:x:100:bob,eve\nstaff:x:50:eve, bob,,bob\nx:x:7:bob\n",
                              name="ftpd.group")
        self.assertEqual(read_auth_group_members(path),
                         {"bob": (100, 50, 7), "eve": (100, 50), " bob": (50,)})

    def test_worldReadableAllowed(self):
        # Like /etc/group: no secret inside, ProFTPD accepts 0644.
        path = self.writeFile(self.makeDir(), "ftp:x:100:\n", mode=0o644)
        self.assertEqual(read_auth_group_file(path), {100: "ftp"})

    def test_worldWritable(self):
        path = self.writeFile(self.makeDir(), "ftp:x:100:\n", mode=0o646)
        e = self.assertRaises(ConfigError, read_auth_group_file, path)
        self.assertEqual(
            e.message,
            "AuthGroupFile: unable to use '%s': file is writable by others (mode 0646); "
            "chmod 644 it, or set 'AuthFileOptions InsecurePerms'" % (path,))
        self.assertEqual(read_auth_group_file(path, insecure_perms=True), {100: "ftp"})

    def test_worldWritableDirectory(self):
        path = self.writeFile(self.makeDir(0o777), "ftp:x:100:\n")
        e = self.assertRaises(ConfigError, read_auth_group_file, path)
        self.assertIn("AuthGroupFile: unable to use '%s': its directory" % (path,), e.message)

    def test_missing(self):
        path = os.path.join(self.makeDir(), "nope")
        e = self.assertRaises(ConfigError, read_auth_group_file, path, Source("c", 3))
        self.assertEqual(str(e), "AuthGroupFile: unable to read '%s': No such file or "
                                 "directory on line 3 of 'c'" % (path,))

    def test_fieldCount(self):
        path = self.writeFile(self.makeDir(), "ftp:x:100:\nbad:x:1\n")
        e = self.assertRaises(ConfigError, read_auth_group_file, path)
        self.assertEqual(
            e.message,
            "AuthGroupFile: malformed entry on line 2 of '%s': expected 4 fields "
            "separated by ':', got 3" % (path,))

    def test_badGid(self):
        path = self.writeFile(self.makeDir(), "ftp:x:x1:\n")
        e = self.assertRaises(ConfigError, read_auth_group_file, path)
        self.assertIn("AuthGroupFile: bad gid 'x1' on line 1 of", e.message)

    def test_duplicateName(self):
        path = self.writeFile(self.makeDir(), "ftp:x:1:\nftp:x:2:\n")
        e = self.assertRaises(ConfigError, read_auth_group_file, path)
        self.assertEqual(e.message, "AuthGroupFile: duplicate group 'ftp' on line 2 of "
                                    "'%s' (first on line 1)" % (path,))

    def test_emptyName(self):
        path = self.writeFile(self.makeDir(), ":x:1:\n")
        e = self.assertRaises(ConfigError, read_auth_group_file, path)
        self.assertIn("bad group name ''", e.message)


class VerifyPasswordTests(unittest.TestCase):

    def check(self, hashed):
        self.assertTrue(verify_password("s3cret pässword", hashed))
        self.assertFalse(verify_password("s3cret passwörd", hashed))
        self.assertFalse(verify_password("", hashed))

    def test_sha512(self):
        self.check(SHA512.hash("s3cret pässword"))

    def test_sha512Rounds(self):
        self.check(sha512_crypt.using(rounds=1000).hash("s3cret pässword"))

    def test_sha256(self):
        self.check(sha256_crypt.using(rounds=1000).hash("s3cret pässword"))

    def test_md5(self):
        self.check(md5_crypt.hash("s3cret pässword"))

    def test_bcrypt2b(self):
        self.check(passlib_bcrypt.using(rounds=4).hash("s3cret pässword"))

    def test_bcrypt2a(self):
        self.check(passlib_bcrypt.using(rounds=4, ident="2a").hash("s3cret pässword"))

    def test_bcrypt2y(self):
        h = bcrypt.hashpw("s3cret pässword".encode(), bcrypt.gensalt(4)).decode()
        self.check("$2y$" + h[4:])

    def test_bcryptLongPassword(self):
        # crypt(3) looks at the first 72 bytes only; the bcrypt package would raise.
        h = passlib_bcrypt.using(rounds=4).hash("a" * 72)
        self.assertTrue(verify_password("a" * 100, h))

    def test_opensslSha512(self):
        out = subprocess.run(["openssl", "passwd", "-6", "-salt", "Zx9.abcd", "s3cret"],
                             check=True, capture_output=True, text=True).stdout.strip()
        self.assertTrue(out.startswith("$6$Zx9.abcd$"))
        self.assertTrue(verify_password("s3cret", out))
        self.assertFalse(verify_password("s3cre", out))

    def test_opensslMd5(self):
        out = subprocess.run(["openssl", "passwd", "-1", "-salt", "abcd", "s3cret"],
                             check=True, capture_output=True, text=True).stdout.strip()
        self.assertTrue(verify_password("s3cret", out))

    def test_bytesPassword(self):
        self.assertTrue(verify_password(b"pw", SHA512.hash("pw")))

    def test_neverMatches(self):
        for hashed in ("", "*", "!", "!" + SHA512.hash("pw"), "*LK*", "x",
                       "$y$j9T$abc$def", "$6$abc", "$6$abc$" + "!" * 86, "pw"):
            self.assertFalse(verify_password("pw", hashed), hashed)
            self.assertFalse(verify_password("", hashed), hashed)

    def test_hugePassword(self):
        self.assertFalse(verify_password("x" * 100000, SHA512.hash("pw")))

    def test_hashPassword(self):
        h = auth.hash_password("pw")
        self.assertTrue(h.startswith("$6$"))
        self.assertNotIn("rounds=", h)
        self.assertTrue(verify_password("pw", h))


BOB_PW = "Bob-Secret-Pw7"


class PortalTests(_TempDir, unittest.TestCase):

    def setUp(self):
        self.base = self.makeDir()
        self.home = os.path.join(self.base, "home", "bob")
        os.makedirs(self.home)
        self.bob = AuthUser("bob", SHA512.hash(BOB_PW), 1001, 100, "Bob", self.home,
                            "/bin/sh")

    def server(self, users=None, **kw):
        kw.setdefault("valid_shells", ("/bin/sh", "/bin/bash"))
        return ServerConfig(is_main=True, source=None, addresses=(),
                            auth_users=tuple(users if users is not None else [self.bob]),
                            **kw)

    def login(self, server, name="bob", password=None):
        password = BOB_PW if password is None else password
        portal = make_portal(server)
        return portal.login(UsernamePassword(name, password), None, IFTPRedisAvatar)

    def refused(self, server, reason, name="bob", password=None):
        # A password distinctive enough that a temporary path cannot contain it by chance
        # (with "pw", a mktemp name like ".../iyoa6pwt/..." once failed the check below).
        password = BOB_PW if password is None else password
        d = self.assertFailure(self.login(server, name, password), UnauthorizedLogin)

        def check(e):
            self.assertIsInstance(e, LoginRefused)
            self.assertEqual(e.reason, reason)
            self.assertNotIn(password, str(e))
            self.assertNotIn(password, repr(e))
            return e
        return d.addCallback(check)

    @defer.inlineCallbacks
    def test_login_now_only_after_a_verified_password(self):
        """login_now answers without a Deferred only for a password verified recently,
        with a function (run in the disk pool) making what login() gives; a wrong
        password, an unknown user, a refusal by policy and CreateHome all leave the
        decision to login()."""
        from ftpredis.auth.portal import _verified_cache
        _verified_cache.clear()
        server = self.server(auth_groups={100: "ftp"})
        portal = make_portal(server)
        good = UsernamePassword("bob", BOB_PW)
        self.assertIsNone(portal.login_now(good))
        slow = yield portal.login(good, None, IFTPRedisAvatar)
        fast = portal.login_now(good)()
        self.assertEqual(fast[:2], slow[:2])
        self.assertIsNone(portal.login_now(UsernamePassword("bob", BOB_PW + "x")))
        self.assertIsNone(portal.login_now(UsernamePassword("nobody", BOB_PW)))
        # the cache is shared by every server of the process: another server's policy
        # still refuses, through login()
        strict = make_portal(self.server(valid_shells=("/bin/false",),
                                         require_valid_shell=True))
        self.assertIsNone(strict.login_now(good))
        yield self.refused(self.server(valid_shells=("/bin/false",),
                                       require_valid_shell=True),
                           LoginRefused.INVALID_SHELL)
        self.assertIsNone(make_portal(self.server(create_home=True)).login_now(good))

    def test_success(self):
        def check(result):
            iface, avatar, logout = result
            self.assertIs(iface, IFTPRedisAvatar)
            self.assertTrue(verifyObject(IFTPRedisAvatar, avatar))
            self.assertEqual(avatar, Avatar(name="bob", uid=1001, gid=100, group="ftp",
                                            home=os.path.realpath(self.home), root="/",
                                            cwd=os.path.realpath(self.home)))
            self.assertFalse(avatar.anonymous)
            self.assertIsNone(avatar.anon_password)
            self.assertIsNone(logout())
        return self.login(self.server(auth_groups={100: "ftp"})).addCallback(check)

    def test_noGroupName(self):
        return self.login(self.server()).addCallback(
            lambda r: self.assertIsNone(r[1].group))

    def test_bytesCredentials(self):
        return self.login(self.server(), b"bob", BOB_PW.encode()).addCallback(
            lambda r: self.assertEqual(r[1].name, "bob"))

    def test_badPassword(self):
        return self.refused(self.server(), LoginRefused.BAD_PASSWORD, password="nope-pw")

    def test_unknownUser(self):
        return self.refused(self.server(), LoginRefused.UNKNOWN_USER, name="mallory")

    def test_unknownUserNoUsers(self):
        return self.refused(self.server(users=[]), LoginRefused.UNKNOWN_USER)

    def test_lockedAccount(self):
        locked = AuthUser("bob", "!" + self.bob.hash, 1001, 100, "", self.home, "/bin/sh")
        return self.refused(self.server(users=[locked]), LoginRefused.BAD_PASSWORD)

    def test_emptyHash(self):
        empty = AuthUser("bob", "", 1001, 100, "", self.home, "/bin/sh")
        d1 = self.refused(self.server(users=[empty]), LoginRefused.BAD_PASSWORD,
                          password="any-pw")
        d2 = self.assertFailure(self.login(self.server(users=[empty]), password=""),
                                LoginRefused)
        return d1.addCallback(lambda _: d2)

    def test_messagesLookAlikeToClient(self):
        """Every refusal is an UnauthorizedLogin, which the FTP protocol answers with
        the one "530 Login incorrect"; only the reason differs."""
        d1 = self.refused(self.server(), LoginRefused.UNKNOWN_USER, name="x")
        d2 = self.refused(self.server(), LoginRefused.BAD_PASSWORD, password="x-pw")
        return d1.addCallback(lambda _: d2)

    def test_dummyHashCopiesUsersCost(self):
        users = [AuthUser("u%d" % i, passlib_bcrypt.using(rounds=5).hash("p"), 1000 + i,
                          1, "", "/h", "/bin/sh") for i in range(2)]
        users.append(self.bob)
        dummy = auth._dummy_hash(users)
        self.assertTrue(dummy.startswith("$2b$05$"), dummy)
        self.assertTrue(auth._dummy_hash([]).startswith("$6$"))
        self.assertNotIn("rounds=", auth._dummy_hash([]))
        rounded = AuthUser("r", sha512_crypt.using(rounds=7000).hash("p"), 1, 1, "", "/h", "")
        self.assertTrue(auth._dummy_hash([rounded]).startswith("$6$rounds=7000$"))
        y = "$2y$" + bcrypt.hashpw(b"p", bcrypt.gensalt(4)).decode()[4:]
        self.assertTrue(auth._dummy_hash(
            [AuthUser("y", y, 1, 1, "", "/h", "")]).startswith("$2b$04$"))

    def test_verificationOffReactorThread(self):
        import threading
        seen = []
        real = auth.verify_password

        def spy(password, hashed):
            seen.append(threading.current_thread() is threading.main_thread())
            return real(password, hashed)
        self.patch(auth, "verify_password", spy)
        return self.login(self.server()).addCallback(
            lambda _: self.assertEqual(seen, [False]))

    def test_rootLogin(self):
        root = AuthUser("bob", self.bob.hash, 0, 0, "", self.home, "/bin/sh")
        return self.refused(self.server(users=[root]), LoginRefused.ROOT_LOGIN)

    # -- RequireValidShell

    def test_invalidShell(self):
        return self.refused(self.server(valid_shells=("/bin/bash",)),
                            LoginRefused.INVALID_SHELL)

    def test_invalidShellBadPasswordSaysBadPassword(self):
        return self.refused(self.server(valid_shells=()), LoginRefused.BAD_PASSWORD,
                            password="wrong-pw")

    def test_requireValidShellOff(self):
        return self.login(self.server(valid_shells=(), require_valid_shell=False)
                          ).addCallback(lambda r: self.assertEqual(r[1].name, "bob"))

    # -- DefaultRoot

    def test_defaultRootHome(self):
        def check(r):
            self.assertEqual(r[1].root, os.path.realpath(self.home))
            self.assertEqual(r[1].cwd, "/")
        return self.login(self.server(default_root="~")).addCallback(check)

    def test_defaultRootAbsoluteContainingHome(self):
        def check(r):
            self.assertEqual(r[1].root, os.path.realpath(self.base))
            self.assertEqual(r[1].cwd, "/home/bob")
        return self.login(self.server(default_root=self.base)).addCallback(check)

    def test_defaultRootAbsoluteElsewhere(self):
        jail = self.makeDir()

        def check(r):
            self.assertEqual(r[1].root, os.path.realpath(jail))
            self.assertEqual(r[1].cwd, "/")
            self.assertEqual(r[1].home, os.path.realpath(self.home))
        return self.login(self.server(default_root=jail)).addCallback(check)

    def test_defaultRootTildeSubdirectory(self):
        os.mkdir(os.path.join(self.home, "ftp"))

        def check(r):
            self.assertEqual(r[1].root, os.path.realpath(os.path.join(self.home, "ftp")))
            self.assertEqual(r[1].cwd, "/")
        return self.login(self.server(default_root="~/ftp")).addCallback(check)

    def test_defaultRootUserName(self):
        os.mkdir(os.path.join(self.base, "jails"))
        os.mkdir(os.path.join(self.base, "jails", "bob"))

        def check(r):
            self.assertEqual(r[1].root, os.path.realpath(
                os.path.join(self.base, "jails", "bob")))
        return self.login(self.server(default_root=os.path.join(self.base, "jails", "%u"))
                          ).addCallback(check)

    def test_defaultRootResolvesSymlinks(self):
        link = os.path.join(self.base, "link")
        os.symlink(self.home, link)
        linked = AuthUser("bob", self.bob.hash, 1001, 100, "", link, "/bin/sh")

        def check(r):
            self.assertEqual(r[1].root, os.path.realpath(self.home))
            self.assertEqual(r[1].home, os.path.realpath(self.home))
        return self.login(self.server(users=[linked], default_root="~")).addCallback(check)

    def test_defaultRootMissing(self):
        return self.refused(self.server(default_root=os.path.join(self.base, "nope")),
                            LoginRefused.NO_ROOT)

    def test_homeMissingJailedElsewhere(self):
        """As ProFTPD: with an absolute DefaultRoot, a missing home starts at the top."""
        gone = AuthUser("bob", self.bob.hash, 1001, 100, "", self.home + "-gone", "/bin/sh")
        return self.login(self.server(users=[gone], default_root=self.base)).addCallback(
            lambda r: self.assertEqual((r[1].root, r[1].cwd),
                                       (os.path.realpath(self.base), "/")))

    # -- home directory / CreateHome

    def test_homeMissing(self):
        gone = AuthUser("bob", self.bob.hash, 1001, 100, "", self.home + "-gone", "/bin/sh")
        return self.refused(self.server(users=[gone]), LoginRefused.NO_HOME)

    def test_homeMissingJailedToHome(self):
        gone = AuthUser("bob", self.bob.hash, 1001, 100, "", self.home + "-gone", "/bin/sh")
        return self.refused(self.server(users=[gone], default_root="~"),
                            LoginRefused.NO_HOME)

    def test_createHome(self):
        new = os.path.join(self.base, "new", "parent", "bob")
        user = AuthUser("bob", self.bob.hash, 1001, 100, "", new, "/bin/sh")

        def check(r):
            self.assertEqual(r[1].root, new)
            self.assertEqual(r[1].cwd, "/")
            st = os.stat(new)
            self.assertEqual(st.st_mode & 0o7777, 0o700)
            if os.geteuid() == 0:
                self.assertEqual((st.st_uid, st.st_gid), (1001, 100))
            self.assertEqual(os.stat(os.path.dirname(new)).st_mode & 0o777, 0o711)
        return self.login(self.server(users=[user], default_root="~", create_home=True)
                          ).addCallback(check)

    def test_createHomeMode(self):
        """``CreateHome on 711``: the home gets the configured mode, not 0700."""
        new = os.path.join(self.base, "modes", "carol")
        user = AuthUser("carol", self.bob.hash, 1001, 100, "", new, "/bin/sh")

        def check(r):
            self.assertEqual(os.stat(new).st_mode & 0o7777, 0o711)
        return self.login(self.server(users=[user], default_root="~", create_home=True,
                                      create_home_mode=0o711), name="carol").addCallback(check)

    def test_createHomeFails(self):
        blocker = os.path.join(self.base, "file")
        open(blocker, "w").close()
        user = AuthUser("bob", self.bob.hash, 1001, 100, "", blocker + "/bob", "/bin/sh")
        return self.refused(self.server(users=[user], create_home=True),
                            LoginRefused.NO_HOME)

    def test_createHomeNotBeforePassword(self):
        new = os.path.join(self.base, "never")
        user = AuthUser("bob", self.bob.hash, 1001, 100, "", new, "/bin/sh")
        d = self.refused(self.server(users=[user], create_home=True),
                         LoginRefused.BAD_PASSWORD, password="bad-pw")
        return d.addCallback(lambda _: self.assertFalse(os.path.exists(new)))

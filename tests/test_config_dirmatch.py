# -*- test-case-name: tests.test_config_dirmatch -*-
"""ftpredis.config.dirmatch: the one <Directory> matcher, alone and through a real server.

The expected behaviour is what ProFTPD 1.3.8 did (doc/directory-matching.md).
"""

from __future__ import annotations

import dataclasses
import ftplib
import io
import os

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config import dirmatch
from ftpredis.config.model import DirectoryConfig, LimitConfig, LogRule, LogScope
from ftpredis.records.router import Router
from tests.support.ftphelpers import FTPServerMixin

M = dirmatch.pattern_matches


class PatternTests(unittest.TestCase):

    def test_plain_is_the_directory_and_its_subtree(self):
        self.assertTrue(M("/srv/x", "/srv/x"))
        self.assertTrue(M("/srv/x", "/srv/x/"))
        self.assertTrue(M("/srv/x", "/srv/x/a/b"))
        self.assertFalse(M("/srv/x", "/srv/xy"))
        self.assertFalse(M("/srv/x", "/srv"))
        self.assertTrue(M("/srv/x/", "/srv/x"))

    def test_slash_star_is_below_only(self):
        self.assertFalse(M("/srv/x/*", "/srv/x"))
        self.assertFalse(M("/srv/x/*", "/srv/x/"))
        self.assertTrue(M("/srv/x/*", "/srv/x/f"))
        self.assertTrue(M("/srv/x/*", "/srv/x/a/b"))
        self.assertFalse(M("/srv/x/*", "/srv/xy/f"))

    def test_root(self):
        for pattern in ("/", "/*"):
            self.assertTrue(M(pattern, "/"))
            self.assertTrue(M(pattern, "/a/b"))

    def test_globs(self):
        self.assertTrue(M("/h/g*", "/h/gnew"))
        self.assertTrue(M("/h/g*", "/h/gx/in"))
        self.assertFalse(M("/h/g*", "/h/other"))
        self.assertTrue(M("/h/q/*/r", "/h/q/a/r"))
        self.assertTrue(M("/h/q/*/r", "/h/q/a/r/in/deeper"))
        self.assertFalse(M("/h/q/*/r", "/h/q/a/other"))
        self.assertTrue(M("/h/d?", "/h/d1/x"))
        self.assertTrue(M("/h/[ab]", "/h/b"))
        self.assertFalse(M("/h/[ab]", "/h/c"))

    def test_tilde(self):
        self.assertFalse(M("~/t", "/home/al/t"))
        self.assertTrue(M("~/t", "/home/al/t/in", home="/home/al"))
        self.assertTrue(M("~", "/home/al", home="/home/al/"))
        self.assertFalse(M("~/t/*", "/home/al/t", home="/home/al"))
        self.assertTrue(M("~bob/up", "/b/up/f", homes={"bob": "/b"}))
        self.assertTrue(M("~bob/up", "/b/up/f", homes=lambda name: "/b"))
        self.assertFalse(M("~bob/up", "/b/up/f", homes={}))

    def test_most_specific_first(self):
        dirs = [DirectoryConfig("/a", umask=0o1), DirectoryConfig("/a/b/*", umask=0o2),
                DirectoryConfig("/a/b", umask=0o3), DirectoryConfig("/", umask=0o4)]
        self.assertEqual([d.path for d in dirmatch.applicable(dirs, "/a/b/c")],
                         ["/a/b/*", "/a/b", "/a", "/"])
        self.assertEqual([d.path for d in dirmatch.applicable(dirs, "/a/b")],
                         ["/a/b", "/a", "/"])
        self.assertEqual(dirmatch.most_specific(dirs, "/z").path, "/")
        self.assertIsNone(dirmatch.most_specific(dirs[:3], "/z"))
        self.assertEqual(dirmatch.applicable(dirs, None), [])

    def test_dir_setting_skips_sections_that_do_not_set_it(self):
        dirs = [DirectoryConfig("/a", umask=0o077, allow_overwrite=False),
                DirectoryConfig("/a/b/*", umask=0o027)]
        self.assertEqual(dirmatch.dir_setting(dirs, "/a/b/f", "umask", 0o022), 0o027)
        self.assertEqual(dirmatch.dir_setting(dirs, "/a/b/f", "allow_overwrite", True),
                         False)
        self.assertEqual(dirmatch.dir_setting(dirs, "/a/b", "umask", 0o022), 0o077)
        self.assertEqual(dirmatch.dir_setting(dirs, "/c", "umask", 0o022), 0o022)


class _Site(FTPServerMixin):

    def setUp(self):
        FTPServerMixin.setUp(self)
        self.factory.loginFailureDelay = 0.01
        home = self.real = os.path.realpath(self.home)
        for d in ("x", "x/sub"):
            os.makedirs(os.path.join(home, d))
        self.write("x/old.txt", b"a")
        self.write("y", b"file y")
        deny = lambda *cmds: LimitConfig(frozenset(cmds), (("DenyAll", ()),))
        rule = LogRule("RedisLogOnCommand", frozenset({"CWD", "PWD", "MKD"}),
                       format_name="d", key_template="dirx")
        self.factory.server = self.server = dataclasses.replace(
            self.server, umask=0o022, allow_overwrite=True, formats={"d": "%m"},
            directories=(
                DirectoryConfig(home + "/x/*", umask=0o077, allow_overwrite=False,
                                limits=(deny("RMD"),), logging=LogScope((rule,))),
                DirectoryConfig(home + "/y/*", allow_overwrite=False),
                DirectoryConfig(home + "/w/*", limits=(deny("MKD"),)),
                DirectoryConfig(home + "/z/*", umask=0o077),
                DirectoryConfig(home + "/x/sub/*", hide_files=r"^hidden"),
            ))

    def run_cmds(self, cmds):
        def run():
            f = self.client()
            out = []
            for c in cmds:
                try:
                    if c.startswith("STOR "):
                        out.append(f.storbinary(c, io.BytesIO(b"new")))
                    else:
                        out.append(f.sendcmd(c))
                except ftplib.Error as e:
                    out.append(str(e))
            f.quit()
            return out
        return self.inThread(run)


class RealServerTests(_Site, unittest.TestCase):
    """<Directory /dir/*> over FTP: it covers what is below /dir, never /dir itself."""

    @defer.inlineCallbacks
    def test_limit_below_only(self):
        out = yield self.run_cmds(["MKD w", "MKD w/inner", "MKD x/gone", "RMD x/gone"])
        self.assertTrue(out[0].startswith("257"), out)
        self.assertEqual(out[1], "550 w/inner: Permission denied")
        self.assertTrue(out[2].startswith("257"), out)
        self.assertTrue(out[3].startswith("550"), out)
        self.assertTrue(os.path.isdir(self.path("x", "gone")))

    @defer.inlineCallbacks
    def test_hide_files_below_only(self):
        self.write("x/sub/hidden.txt", b"h")
        os.makedirs(self.path("x", "sub", "deeper"))
        self.write("x/sub/deeper/hidden2.txt", b"h")
        out = yield self.run_cmds(["SIZE x/sub/hidden.txt", "TYPE I",
                                   "SIZE x/sub/deeper/hidden2.txt"])
        self.assertTrue(out[0].startswith("550"), out)
        self.assertTrue(out[2].startswith("550"), out)

    @defer.inlineCallbacks
    def test_logging_scope_below_only(self):
        out = yield self.run_cmds(["CWD x", "PWD", "CWD sub", "PWD"])
        self.assertTrue(all(o.startswith("2") for o in out), out)
        yield self.waitFor(lambda: sum(1 for e in self.events
                                       if getattr(e, "verb", None) == "PWD") >= 2)
        router = Router(self.server)
        keys = []
        for e in self.events:
            if getattr(e, "verb", None) in ("CWD", "PWD"):
                keys.append((e.verb, [k.decode() for k, v in router.records(e)]))
        self.assertEqual(keys, [("CWD", []), ("PWD", []), ("CWD", ["dirx"]),
                                ("PWD", ["dirx"])])


class RealServerSettingTests(_Site, unittest.TestCase):
    """Umask and AllowOverwrite in a real session come from the same matcher: a
    <Directory /dir/*> covers what is below /dir, never /dir itself."""

    @defer.inlineCallbacks
    def test_umask_below_only(self):
        out = yield self.run_cmds(["MKD z", "MKD z/inner"])
        mode = lambda *p: os.stat(self.path(*p)).st_mode & 0o777
        self.assertEqual((mode("z"), mode("z", "inner")), (0o755, 0o700), out)

    @defer.inlineCallbacks
    def test_overwrite_below_only(self):
        out = yield self.run_cmds(["TYPE I", "STOR y", "STOR x/old.txt"])
        self.assertTrue(out[1].startswith("226"), out)
        self.assertEqual(out[2], "550 x/old.txt: Overwrite permission denied")

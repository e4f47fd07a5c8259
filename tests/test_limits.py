# -*- test-case-name: tests.test_limits -*-
"""ftpredis.ftp.limits picks <Directory> sections through ftpredis.config.dirmatch."""

from __future__ import annotations

from twisted.trial import unittest

from ftpredis.config.model import DirectoryConfig, LimitConfig, ServerConfig
from ftpredis.ftp import limits


def _deny(*cmds):
    return LimitConfig(frozenset(cmds), (("DenyAll", ()),))


def _allow(*cmds):
    return LimitConfig(frozenset(cmds), (("AllowAll", ()),))


class DirectoryLimitTests(unittest.TestCase):

    def setUp(self):
        self.server = ServerConfig(is_main=True, source=None, addresses=(), directories=(
            DirectoryConfig("/srv/x/*", limits=(_deny("MKD"),), hide_files=r"^a"),
            DirectoryConfig("/srv/x/open", limits=(_allow("MKD"),)),
            DirectoryConfig("/srv/g*", limits=(_deny("DELE"),)),
        ))

    def allowed(self, verb, real):
        return limits.allowed(self.server, None, verb, real, "alice")

    def test_slash_star_is_below_only(self):
        self.assertTrue(self.allowed("MKD", "/srv/x"))
        self.assertFalse(self.allowed("MKD", "/srv/x/new"))

    def test_most_specific_decides(self):
        self.assertTrue(self.allowed("MKD", "/srv/x/open/new"))
        self.assertFalse(self.allowed("MKD", "/srv/x/closed/new"))

    def test_glob(self):
        self.assertFalse(self.allowed("DELE", "/srv/gone/f"))
        self.assertTrue(self.allowed("DELE", "/srv/other/f"))

    def test_hide_pattern(self):
        self.assertEqual(limits.hide_pattern(self.server, None, "/srv/x/open"), r"^a")
        self.assertIsNone(limits.hide_pattern(self.server, None, "/srv/x"))

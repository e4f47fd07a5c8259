# -*- test-case-name: tests.test_compat -*-
"""ftpredis._compat: every private name a shim relies on resolves on the installed
versions, every shim says which versions it was tested with, and setup.cfg bounds each
dependency at the newest of those."""

import configparser
import os
import re
import types

from twisted.trial import unittest

import ftpredis._compat as compat

SETUP_CFG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "setup.cfg")


def _bounds():
    cp = configparser.ConfigParser()
    cp.read(SETUP_CFG)
    found = {}
    for line in cp["options"]["install_requires"].splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)", line)
        if not m or not m.group(1):
            continue
        spec = m.group(3)
        low = re.search(r">=\s*([0-9][0-9.]*)", spec)
        high = re.search(r"<=\s*([0-9][0-9.]*)|<\s*([0-9][0-9.]*)", spec)
        found[m.group(1).lower()] = (low and low.group(1),
                                     high and (high.group(1) or "<" + high.group(2)))
    return found


def _v(text):
    return tuple(int(p) for p in text.split("."))


class CompatTests(unittest.TestCase):

    def test_everyPrivateNameResolves(self):
        """verify() resolves every declared private name (a rename fails here)."""
        checked = compat.verify()
        self.assertIn("txredisapi.RedisProtocol._build_command", checked)
        self.assertIn("OpenSSL._util.lib.SSL_session_reused", checked)

    def test_testedVersionsMatchSetupCfg(self):
        """Each shim's newest tested version is setup.cfg's upper bound, and its lowest
        is within setup.cfg's lower bound."""
        bounds = _bounds()
        shims = list(compat.shims())
        self.assertGreaterEqual(len(shims), 4)
        for shim in shims:
            self.assertTrue(getattr(shim, "TESTED_WITH", None), shim.__name__)
            for dep, (low, high) in shim.TESTED_WITH.items():
                lo, hi = bounds[dep.lower()]
                self.assertIsNotNone(hi, "%s has no upper bound in setup.cfg" % dep)
                if hi.startswith("<"):
                    self.assertLess(_v(high), _v(hi[1:]), (shim.__name__, dep))
                else:
                    self.assertEqual(_v(high), _v(hi), (shim.__name__, dep))
                self.assertGreaterEqual(_v(low), _v(lo), (shim.__name__, dep))

    def test_goneNameIsLoud(self):
        """A private name that no longer exists makes verify() raise CompatError
        naming it."""
        fake = types.ModuleType("ftpredis._compat.fake")
        fake.PRIVATE_NAMES = (("twisted.internet.tcp", "Connection._noSuchName"),)
        self.patch(compat, "shims", lambda: iter([fake]))
        e = self.assertRaises(compat.CompatError, compat.verify)
        self.assertIn("twisted.internet.tcp.Connection._noSuchName", str(e))

# -*- test-case-name: tests.test_tls_settings -*-
"""ftpredis.tls.settings: the mod_tls directive values, a leaf both the config and the
FTPS runtime import."""

from __future__ import annotations

import os
import subprocess
import sys

from twisted.trial import unittest

from ftpredis.tls import settings


class LeafTests(unittest.TestCase):

    def test_imports_neither_config_nor_ftp(self):
        code = ("import sys, ftpredis.tls.settings; print(sorted(m for m in sys.modules "
                "if m.startswith(('ftpredis.config', 'ftpredis.ftp', 'ftpredis.tls.ftps'))))")
        root = os.path.dirname(os.path.dirname(os.path.abspath(settings.__file__)))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=os.path.dirname(root)).stdout
        self.assertEqual(out.strip(), "[]")

    def test_directive_names_are_directives(self):
        from ftpredis.config.directives import BY_NAME
        for name in settings.TLS_DIRECTIVE_NAMES:
            self.assertIn(name.lower(), BY_NAME)


class ParseTests(unittest.TestCase):

    def test_protocols(self):
        self.assertEqual(settings.parse_protocols(["ALL", "-TLSv1", "-TLSv1.1"]),
                         (frozenset({"TLSv1.2", "TLSv1.3"}), ()))
        protocols, warnings = settings.parse_protocols(["TLSv1.1", "TLSv1.3"])
        self.assertEqual(protocols, frozenset({"TLSv1.1", "TLSv1.2", "TLSv1.3"}))
        self.assertEqual(len(warnings), 2)
        self.assertRaises(ValueError, settings.parse_protocols, ["SSLv3"])
        self.assertRaises(ValueError, settings.parse_protocols, ["ALL", "-ALL"])

    def test_required(self):
        self.assertEqual(settings.parse_required("auth+data"), (False, True, True))
        self.assertRaises(ValueError, settings.parse_required, "sometimes")

    def test_cipher_list(self):
        settings.check_cipher_list("HIGH")
        self.assertRaises(ValueError, settings.check_cipher_list, "NOTACIPHER")

    def test_no_directive_no_config(self):
        self.assertIsNone(settings.build_tls_config(lambda name: None, None, None))

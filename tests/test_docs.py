"""The shipped directive reference is the one the directive table generates."""

import os

from twisted.trial import unittest

from ftpredis.config.directives import reference_page
from tests.support.e2e import REPO


class DirectiveReferenceTests(unittest.TestCase):
    def test_reference_is_current(self):
        with open(os.path.join(REPO, "doc", "directives.rst"), encoding="utf-8") as f:
            shipped = f.read()
        self.assertEqual(shipped, reference_page(),
                         "doc/directives.rst is stale: run "
                         "python3 -m ftpredis.config > doc/directives.rst")


class ReadmeTests(unittest.TestCase):
    def test_readme_is_valid_rst(self):
        """README.rst is the package's long description: it must render without errors."""
        from docutils.core import publish_doctree

        with open(os.path.join(REPO, "README.rst"), encoding="utf-8") as f:
            publish_doctree(f.read(), settings_overrides={"report_level": 2, "halt_level": 2})

# -*- test-case-name: tests.test_docs -*-
"""``python3 -m ftpredis.config``: print the directive reference (doc/directives.rst)."""

import sys

from ftpredis.config.directives import reference_page

sys.stdout.write(reference_page())

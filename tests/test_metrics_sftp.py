# -*- test-case-name: tests.test_metrics_sftp -*-
"""The exporter and SFTP sessions: OpenSSH's sftp against an SFTPEngine <VirtualHost>,
and mod_prometheus's families moving under the protocol labels ProFTPD gives them
(``ssh2`` around the login, ``sftp`` in the subsystem) and ``proftpd_sftp_protocol_total``
counting the version the subsystem settled."""

from __future__ import annotations

import os

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.test_metrics import curl, samples, value
from tests.test_sftp import _SFTPSite


class SFTPMetricsTests(_SFTPSite, unittest.TestCase):

    @property
    def TOP(self):
        if not hasattr(self, "mport"):
            self.mport = e2e.free_port()
        return "PrometheusEngine on\nPrometheusExporter 127.0.0.1:%d\n" % (self.mport,)

    def scrape(self):
        # A loaded machine has been seen to leave one curl unanswered (status 0) while
        # twistd starts: a few tries before it counts as a failure.
        for _ in range(5):
            status, body = curl("http://127.0.0.1:%d/metrics" % (self.mport,))
            if status == 200:
                return samples(body)
        self.fail("the exporter never answered: %r" % (status,))

    @defer.inlineCallbacks
    def test_sftp_session(self):
        with open(os.path.join(self.local, "up.txt"), "wb") as f:
            f.write(b"u" * 123)
        before = yield e2e.in_thread(self.scrape)
        yield self.sftp("ls\nget a.txt\nput up.txt\n")

        def done():
            now = self.scrape()
            return value(now, "proftpd_connection_count", protocol="ssh2") == 0 and \
                value(now, "proftpd_connection_count", protocol="sftp") == 0 and now
        after = yield e2e.wait_for(done, timeout=30)
        self.assertTrue(after, "the SFTP session never ended in the metrics")

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)
        self.assertEqual(moved("proftpd_sftp_protocol_total", version="3", protocol="sftp"),
                         1)
        self.assertEqual(moved("proftpd_directory_list_total", protocol="sftp"), 1)
        self.assertEqual(moved("proftpd_file_download_total", protocol="sftp"), 1)
        self.assertEqual(moved("proftpd_file_upload_total", protocol="sftp"), 1)
        self.assertEqual(moved("proftpd_file_upload_bytes_sum", protocol="sftp"), 123)
        self.assertEqual(moved("proftpd_login_total", protocol="ssh2"), 1)
        self.assertEqual(moved("proftpd_connection_total", protocol="ssh2"), 1)
        self.assertEqual(moved("proftpd_auth_total", method="password", protocol="ssh2"), 1)

    @defer.inlineCallbacks
    def test_key_login(self):
        """A publickey login counts as mod_prometheus's auth{method="publickey"}."""
        before = yield e2e.in_thread(self.scrape)
        yield self.sftp("pwd\n", key="id_ed")

        def done():
            now = self.scrape()
            return value(now, "proftpd_auth_total", method="publickey",
                         protocol="ssh2") > value(before, "proftpd_auth_total",
                                                  method="publickey", protocol="ssh2") and now
        after = yield e2e.wait_for(done, timeout=30)
        self.assertTrue(after, "no publickey auth counted")
        self.assertEqual(value(after, "proftpd_auth_total", method="password",
                               protocol="ssh2"),
                         value(before, "proftpd_auth_total", method="password",
                               protocol="ssh2"))

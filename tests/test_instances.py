# -*- test-case-name: tests.test_instances -*-
"""MaxInstances: a flood of connections that never log in is stopped at the door, as
ProFTPD 1.3.8 stops it (tests/support/ftpsite.py runs the real ProFTPD beside)."""

from __future__ import annotations

import ftplib
import os
import socket

from twisted.internet import defer
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial import unittest

from ftpredis.app.service import FTPRedisService
from ftpredis.config import load_config
from tests.support import e2e
from tests.support.waiting import waitFor

CONF = """\
ServerName "test"
Port {port}
DefaultAddress 127.0.0.1
AuthUserFile {base}/ftpd.passwd
AuthGroupFile {base}/ftpd.group
DefaultRoot ~
RequireValidShell off
SystemLog {base}/system.log
MaxInstances 2
"""


def greeting(port):
    """The first bytes the server sends a new connection (b"" when it closes at once)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        return s, s.recv(200)
    except OSError:
        return s, b""


class MaxInstancesTests(unittest.TestCase):

    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        self.conf = e2e.write_site(self.base, CONF, port=self.port)
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.logged = []
        observer = lambda event: self.logged.append(formatEvent(event))
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def system_log(self):
        with open(os.path.join(self.base, "system.log"), encoding="utf-8") as f:
            return f.read()

    @defer.inlineCallbacks
    def test_idle_connections_beyond_the_limit_are_closed_unanswered(self):
        """Two idle connections that never log in are greeted; the third and fourth are
        closed without a greeting; SystemLog has ProFTPD's line for each, twistd's log
        one line; once one closes, the next connection is greeted again."""
        a, greet_a = yield e2e.in_thread(greeting, self.port)
        b, greet_b = yield e2e.in_thread(greeting, self.port)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.assertTrue(greet_a.startswith(b"220 "), greet_a)
        self.assertTrue(greet_b.startswith(b"220 "), greet_b)
        for _ in range(2):
            c, refused = yield e2e.in_thread(greeting, self.port)
            c.close()
            self.assertEqual(refused, b"")
        self.assertEqual(self.system_log().count(
            "127.0.0.1: MaxInstances (2) reached, new connection denied\n"), 2)
        self.assertEqual(sum("MaxInstances (2) reached" in m for m in self.logged), 1, self.logged)
        a.close()
        yield waitFor(lambda: self.service.connections() == 1, "the first connection gone")
        d, greet_d = yield e2e.in_thread(greeting, self.port)
        self.addCleanup(d.close)
        self.assertTrue(greet_d.startswith(b"220 "), greet_d)
        self.assertTrue(any("admitting connections again; 2 refused" in m
                            for m in self.logged), self.logged)

    def test_check_names_the_setting(self):
        """A bad value names the file, line and directive."""
        path = os.path.join(self.base, "bad.conf")
        with open(path, "w") as f:
            f.write('Port 0\nMaxInstances many\n')
        with self.assertRaises(Exception) as caught:
            load_config(path)
        text = str(caught.exception)
        self.assertIn("bad.conf", text)
        self.assertIn("line 2", text)
        self.assertIn("MaxInstances", text)


class MaxClientsMessageTests(unittest.TestCase):
    """``MaxClients N "message"``: the refused login gets the admin's text (%m = N)."""

    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        conf = CONF.replace("MaxInstances 2\n", 'MaxClients 1 "Server full (%m max)"\n')
        self.service = FTPRedisService(load_config(
            e2e.write_site(self.base, conf, port=self.port)))
        self.service.startService()
        self.addCleanup(self.service.stopService)

    @defer.inlineCallbacks
    def test_message(self):
        def run():
            first = ftplib.FTP()
            first.connect("127.0.0.1", self.port, timeout=10)
            first.login(e2e.USER, e2e.PASSWORD)
            second = ftplib.FTP()
            second.connect("127.0.0.1", self.port, timeout=10)
            try:
                second.login(e2e.USER, e2e.PASSWORD)
            except ftplib.error_perm as e:
                return str(e)
            finally:
                second.close()
                first.quit()
        refused = yield e2e.in_thread(run)
        self.assertEqual(refused, "530 Server full (1 max)")
